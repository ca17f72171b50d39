import GatehouseHTTP
import GatehouseJSON
import GatehouseLoop
import GatehouseMapping
import GatehouseModel
import GatehouseObserve
import GatehousePolicy
#if canImport(Glibc)
import Glibc
#endif

/// The request pipeline of DESIGN.md's phases over one immutable configuration snapshot:
/// route, authenticate, authorize, map the request, integrate, map the response, respond, log.
public final class Gateway: HTTPRequestHandler {
    public let model: GatewayModel
    let router: Router
    let authorizer: Authorizer
    let plugins: [IntegrationPlugin]
    let loop: EventLoop
    let observers: GatewayObservers
    /// Each stage's access log format, by "apiId/stage"; the default where a stage sets none.
    let stageFormats: [String: AccessLogFormat]
    private var ids = RequestIdGenerator()

    let usagePlans: UsagePlans
    let limiter: UsageLimiter
    /// Parsed mapping templates (this gateway lives on one loop).
    let templates = TemplateCache()

    public init(model: GatewayModel, credentials: CredentialStore, plugins: [IntegrationPlugin],
                loop: EventLoop, observers: GatewayObservers = GatewayObservers(),
                usage: UsageConfig = UsageConfig(), limiter: UsageLimiter = UsageLimiter(),
                trustedProxies: AddressSet = AddressSet()) {
        self.usagePlans = UsagePlans(usage, apis: model.apis)
        self.limiter = limiter
        self.model = model
        self.router = Router(apis: model.apis)
        self.authorizer = Authorizer(credentials: credentials, regions: model.apis.map(\.region),
                                     trustedProxies: trustedProxies)
        self.plugins = plugins
        self.loop = loop
        self.observers = observers
        var formats: [String: AccessLogFormat] = [:]
        for api in model.apis {
            for stage in api.stages {
                if let f = stage.accessLogFormat { formats["\(api.id)/\(stage.name)"] = AccessLogFormat(f) }
            }
        }
        stageFormats = formats
    }

    /// The plugin that serves `integration`, if any.
    public func plugin(for integration: Integration) -> IntegrationPlugin? {
        plugins.first { $0.accepts(integration) }
    }

    public func handle(_ request: HTTPRequest, responder: HTTPResponder) {
        let requestId = ids.make()
        // One object per request carries what the answer and the log need (rather than
        // closures and boxed variables).
        let x = Exchange(gateway: self, responder: responder, requestId: requestId, started: loop.nowMillis)
        x.httpMethod = request.method
        x.requestTimeEpochMillis = RequestId.epochMillis()
        // (An assignment through `record?` evaluates nothing when there is no log.)
        x.record?.requestId = requestId
        x.record?.requestTimeEpochMillis = x.requestTimeEpochMillis
        x.record?.httpMethod = request.method
        x.record?.path = request.path
        x.record?.protocolName = "HTTP/1.1"
        x.record?.sourceIp = request.remoteAddress
        x.record?.userAgent = request.headers["User-Agent"]
        func fail(_ e: GatewayError, _ note: String = "") { x.fail(e, note) }

        guard let match = router.route(method: request.method, path: request.path, host: request.headers["Host"]) else {
            return fail(.missingAuthenticationToken, "no route")
        }
        x.matched = (match.apiRef, match.stageRef, match.resourceRef)
        x.record?.apiId = match.api.id
        x.record?.stage = match.stage.name
        x.record?.resourcePath = match.resource.path
        x.record?.accountId = match.api.accountId
        x.record?.domainName = request.headers["Host"]
        // Phase 4: authentication.
        var caller = AuthenticatedCaller.anonymous
        if match.method.authorization == .awsIAM {
            switch authorizer.authenticate(request, region: match.api.region, now: Int64(time(nil))) {
            case .failure(let e): return fail(e, "authentication")
            case .success(let c):
                caller = c
                x.record?.caller = c.displayName
                x.record?.userArn = c.displayName
                x.record?.user = c.credential?.accessKeyId
            }
        }
        // Phase 5: authorization. The method ARN names the resource path as requested.
        if match.api.policy != nil || match.method.authorization == .awsIAM {
            var methodArn = match.stageArnPrefix
            methodArn += request.method
            if !match.path.utf8.starts(with: "/".utf8) { methodArn += "/" }
            methodArn += match.path
            if let denial = authorizer.authorize(caller: caller, api: match.api, authorization: match.method.authorization,
                                                 resourceArn: methodArn, request: request) {
                return fail(denial, "policy")
            }
        }
        // Phase 6: throttles, API keys, usage plans.
        if !limiter.account.take(now: UsageLimiter.monotonicSeconds()) {
            return fail(.tooManyRequests, "account throttle")
        }
        if let t = match.stage.throttle(resourcePath: match.resource.path, httpMethod: match.method.httpMethod),
           !limiter.bucket("stage/\(match.api.id)/\(match.stage.name)/\(match.resource.path)/\(match.method.httpMethod)", t,
                           now: UsageLimiter.monotonicSeconds()).take(now: UsageLimiter.monotonicSeconds()) {
            return fail(.tooManyRequests, "stage throttle")
        }
        if match.method.apiKeyRequired {
            let key = request.headers["x-api-key"]
            if let denial = usagePlans.check(apiKey: key, apiId: match.api.id, stage: match.stage.name, limiter: limiter) {
                return fail(denial, "api key")
            }
            x.apiKey = key
            x.record?.apiKey = key
        }
        // Phases 8–10.
        guard let integration = match.method.integration else {
            return fail(.internalServerError, "method has no integration")
        }
        // What mappings see; built when the first one runs and then reused (a local function
        // used without escaping, so a proxied request allocates nothing for it).
        var built: RequestScope?
        func scope() -> RequestScope {
            if let built { return built }
            let s = RequestScope(request: request, match: match, requestId: requestId,
                                 requestTimeEpochMillis: x.requestTimeEpochMillis,
                                 callerArn: caller.displayName == "anonymous" ? nil : caller.displayName,
                                 callerAccount: caller.context[.principalAccount]?.first,
                                 accessKey: caller.credential?.accessKeyId, apiKey: x.apiKey)
            built = s
            return s
        }
        let body: [UInt8]
        var overrides: VTLMap?
        switch RequestMapping.integrationBody(request, integration: integration, binaryMediaTypes: match.api.binaryMediaTypes,
                                              scope: scope(), cache: templates, overrides: &overrides) {
        case .failure(let e): return fail(e, "request mapping")
        case .success(let b): body = b
        }
        if integration.responses.contains(where: { r in
            !r.headerMappings.isEmpty || r.responseTemplates.values.contains { !LiteralTemplate.isLiteral($0) }
        }) {
            x.requestScope = scope()
        }
        guard let plugin = plugin(for: integration) else {
            return fail(.internalServerError, "no plugin for integration type \(integration.type.rawValue) \(integration.uri)")
        }
        var call = IntegrationCall(integration: integration, request: request, route: match, body: body, requestId: requestId)
        if !integration.parameterMappings.isEmpty {
            call.parameters = ParameterMapping.integrationParameters(integration.parameterMappings, match: match, scope: scope)
        }
        if case .map(let ro)? = overrides?.get("requestOverride") {
            // $context.requestOverride from the request template: it wins over requestParameters.
            RequestOverride.apply(ro, to: &call.parameters)
        }
        x.integration = integration
        if integration.responses.contains(where: { $0.responseTemplates.count > 1 }) { x.accept = request.headers["Accept"] }
        x.integrationStarted = loop.nowMillis
        plugin.invoke(call, loop: loop) { [x] result in x.integrationDone(result) }
    }

    public func connectionRejected(status: Int, reason: String, remoteAddress: String) {
        observers.connectionRejected(status: status, reason: reason, remoteAddress: remoteAddress)
    }
}

/// One request on its way through the pipeline: what answering and logging it need.
final class Exchange {
    let gateway: Gateway
    let responder: HTTPResponder
    let requestId: String
    let started: UInt64
    /// The access log line's values; nil when no line is written (its two dozen fields cost a
    /// retain and a release each).
    var record: AccessLogRecord?
    /// What the metrics and the request scope need, kept whether or not there is a log.
    var httpMethod = ""
    var requestTimeEpochMillis: Int64 = 0
    var apiKey: String?
    var matched: (api: Frozen<RestApiSpec>, stage: Frozen<StageSpec>, resource: Frozen<ResourceSpec>)?
    var integration: Integration?
    var integrationStarted: UInt64 = 0
    /// What a response template sees, when the integration has one that needs the engine.
    var requestScope: RequestScope?
    /// The client's Accept header, for choosing a response template.
    var accept: String?

    init(gateway: Gateway, responder: HTTPResponder, requestId: String, started: UInt64) {
        self.gateway = gateway
        self.responder = responder
        self.requestId = requestId
        self.started = started
        if gateway.observers.writer != nil { record = AccessLogRecord() }
    }

    func finish(_ response: HTTPResponse, _ note: String = "", error: GatewayError? = nil) {
        let latency = gateway.loop.nowMillis &- started
        // Moved out rather than copied (a copy of the record is a retain per field): the
        // exchange is over.
        var line: AccessLogRecord?
        swap(&line, &record)
        if line != nil {
            line!.status = response.status
            line!.responseLength = response.body.count
            line!.responseLatencyMillis = Int64(latency)
            if let error {
                line!.errorMessage = error.message
                line!.errorResponseType = error.responseType
            }
            if !note.isEmpty { line!.extra["gatehouse.note"] = note }
        }
        gateway.observers.requestFinished(line, formats: gateway.stageFormats, api: matched?.api.value.id ?? "",
                                          stage: matched?.stage.value.name ?? "", resource: matched?.resource.value.path ?? "",
                                          method: httpMethod, status: response.status, latencyMillis: latency)
        responder.respond(response)
    }

    func fail(_ e: GatewayError, _ note: String = "") {
        finish(e.response(requestId: requestId), note, error: e)
    }

    func integrationDone(_ result: Result<IntegrationOutcome, IntegrationFailure>) {
        record?.integrationLatencyMillis = Int64(gateway.loop.nowMillis &- integrationStarted)
        switch result {
        case .failure(.timedOut):
            fail(.integrationTimeout, "integration timed out")
        case .failure(.failed(let why)):
            fail(.internalServerError, "integration failed: \(why)")
        case .failure(.unreachable(let why)):
            fail(.badGateway, "upstream: \(why)")
        case .success(let outcome):
            record?.integrationStatus = outcome.status
            guard let integration else { return fail(.internalServerError) }
            switch ResponseMapping.methodResponse(outcome, integration: integration, requestId: requestId,
                                                  scope: requestScope, cache: gateway.templates, accept: accept) {
            case .success(let r): finish(r)
            case .failure(let e): fail(e, "response mapping: no integration response for status \(outcome.status)")
            }
        }
    }
}

/// Where finished requests are reported: the access log (through a non-blocking writer) and
/// the metrics. Shared by every worker.
public final class GatewayObservers: Sendable {
    public let writer: LogWriter?
    public let defaultFormat: AccessLogFormat
    public let metrics: MetricsRegistry?

    /// The default line is AWS's CLF example format.
    public static let clfFormat = #"$context.identity.sourceIp $context.identity.caller $context.identity.user [$context.requestTime]"$context.httpMethod $context.resourcePath $context.protocol" $context.status $context.responseLength $context.requestId"#

    public init(writer: LogWriter? = nil, defaultFormat: String? = nil, metrics: MetricsRegistry? = nil) {
        self.writer = writer
        self.defaultFormat = AccessLogFormat(defaultFormat ?? GatewayObservers.clfFormat)
        self.metrics = metrics
    }

    /// `record` is nil when there is no access log.
    func requestFinished(_ record: AccessLogRecord?, formats: [String: AccessLogFormat], api: String, stage: String,
                         resource: String, method: String, status: Int, latencyMillis: UInt64) {
        if let writer, let record {
            let format = formats.isEmpty ? nil : formats["\(api)/\(stage)"]
            writer.write((format ?? defaultFormat).render(record))
        }
        metrics?.observe(api: api, stage: stage, resource: resource, method: method, status: status,
                         latencyMillis: Double(latencyMillis))
    }

    func connectionRejected(status: Int, reason: String, remoteAddress: String) {
        writer?.write(Array("event=rejected status=\(status) reason=\"\(reason)\" ip=\(remoteAddress)".utf8))
        metrics?.connectionRejected(reason: String(status))
    }
}
