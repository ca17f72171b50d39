import GatehouseCore
import GatehouseHTTP
import GatehouseLoop
import GatehouseModel
import GatehouseSigV4
#if canImport(Glibc)
import Glibc
#endif

/// Where Step Functions calls go: a server speaking the AWS JSON 1.0 protocol over HTTP
/// (AWS, Step Functions Local, LocalStack, moto), or an engine in this process.
public enum StatesEndpoint {
    case remote(HTTPURL)
    case inProcess(InProcessAWSService)

    /// Parses `http://host:port[/path]`. TLS upstreams are not supported yet.
    public static func parse(_ url: String) throws(ConfigError) -> StatesEndpoint {
        guard let u = HTTPURL(url) else {
            throw ConfigError(file: "--states-endpoint", path: "", reason: "not an http(s)://HOST[:PORT][/PATH] URL: \(url)")
        }
        return .remote(u)
    }
}

/// The `aws` integration for `arn:aws:apigateway:{region}:states:action/{Action}`: the mapped
/// request body is sent as AWS JSON 1.0 (`X-Amz-Target: AWSStepFunctions.{Action}`),
/// SigV4-signed for service `states` with the keys of the integration's `credentials` role.
public final class StepFunctionsPlugin: IntegrationPlugin {
    public let name = "states"
    let endpoint: StatesEndpoint
    let keys: CredentialChain
    /// The loop's upstream pool (keep-alive, TLS); one of its own when none is given.
    private var pool: HTTPClientPool?

    public init(endpoint: StatesEndpoint, keys: CredentialChain, pool: HTTPClientPool? = nil) {
        self.endpoint = endpoint
        self.keys = keys
        self.pool = pool
    }

    public func accepts(_ integration: Integration) -> Bool {
        integration.type == .aws && integration.serviceAction?.service == "states"
    }

    public func invoke(_ call: IntegrationCall, loop: EventLoop,
                       done: @escaping (Result<IntegrationOutcome, IntegrationFailure>) -> Void) {
        guard let action = call.integration.serviceAction else { return done(.failure(.failed("no action"))) }
        let target = "AWSStepFunctions.\(action.action)"
        switch endpoint {
        case .inProcess(let service):
            service.handle(target: target, body: call.body, loop: loop) { status, body in
                var h = HTTPHeaders()
                h.add("Content-Type", "application/x-amz-json-1.0")
                done(.success(IntegrationOutcome(status: status, headers: h, body: body)))
            }
        case .remote(let url):
            guard let creds = keys.credentials(forRole: call.integration.credentials) else {
                return done(.failure(.failed("no keys for role \(call.integration.credentials ?? "(none)"): add it to `roles:` in the credentials file or set AWS credentials")))
            }
            var headers: [(String, String)] = [
                ("Host", url.hostHeader),
                ("Content-Type", "application/x-amz-json-1.0"),
                ("X-Amz-Target", target),
            ]
            if let trace = call.headers["X-Amzn-Trace-Id"] { headers.append(("X-Amzn-Trace-Id", trace)) }
            var req = SigV4Request(method: "POST", path: url.path, query: url.query, headers: headers.map { SigV4Header(name: $0.0, value: $0.1) }, body: call.body)
            let signer = SigV4Signer(credentials: creds, region: action.region, service: "states")
            signer.sign(&req, date: Int64(time(nil)))
            let out = HTTPClientRequest(
                host: url.host, port: url.port, method: "POST", target: url.target,
                headers: HTTPHeaders(req.headers.map { ($0.name, $0.value) }), body: call.body,
                timeoutMillis: UInt64(call.integration.timeoutMillis), isTLS: url.isTLS)
            if pool == nil { pool = HTTPClientPool(loop: loop) }
            pool!.send(out) { done($0.asIntegrationResult { .failed("states endpoint \(url.hostHeader): \($0)") }) }
        }
    }
}
