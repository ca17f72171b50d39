import GatehouseCore
import GatehouseHTTP
import GatehouseJSON
import GatehouseLoop
import GatehouseModel
import GatehousePolicy
import GatehouseSigV4
import LocalWorkflows
#if canImport(Glibc)
import Glibc
#endif

/// Runs the embedded engine on the main loop: advances executions when they are due (a
/// StartExecution, the end of a Wait or of a retry's delay, a task's timeout) and makes the
/// calls of their Task states. Workers and the states listener `kick` it after each call.
final class EngineDriver: @unchecked Sendable {
    let engine: SharedEngine
    let loop: EventLoop
    let invoker: TaskInvoker
    let nested: NestedExecutions
    /// `let`: workers may kick while the main thread closes it (posting after close is a no-op).
    private let mailbox: LoopMailbox<Void>
    /// Waits asked for from other threads: an execution, and what to do once it has closed.
    private let watchRequests: LoopMailbox<WatchRequest>

    struct WatchRequest: Sendable {
        let executionArn: String
        let reply: @Sendable (JSONValue) -> Void
    }
    private let timer: LoopTimer
    private var faultsReported = 0

    init(engine: SharedEngine, loop: EventLoop, invoker: TaskInvoker) {
        self.engine = engine
        self.loop = loop
        self.invoker = invoker
        nested = NestedExecutions(engine: engine)
        timer = LoopTimer(loop: loop)
        timer.unref()
        let box = WeakDriver()
        mailbox = LoopMailbox(loop: loop) { _ in box.driver?.tick() }
        watchRequests = LoopMailbox(loop: loop) { w in
            box.driver?.nested.whenClosed(w.executionArn) { d in w.reply(d) }
            box.driver?.tick()
        }
        box.driver = self
        // Executions restored from a store go on without waiting for a first call.
        mailbox.post(())
    }

    private final class WeakDriver: @unchecked Sendable {
        weak var driver: EngineDriver?
    }

    /// Asks for a turn on the main loop (from any thread).
    func kick() {
        mailbox.post(())
    }

    /// Calls `reply` (on the main loop) with DescribeExecution's answer once `executionArn` has
    /// closed; from any thread.
    func watch(_ executionArn: String, reply: @escaping @Sendable (JSONValue) -> Void) {
        watchRequests.post(WatchRequest(executionArn: executionArn, reply: reply))
    }

    func close() {
        // Calls still in flight (workers drain after the main loop) commit for themselves.
        engine.close()
        mailbox.close()
        watchRequests.close()
        timer.close()
    }

    /// Runs what is due, makes the Task calls that are waiting, and sleeps until the next due time.
    private func tick() {
        let now = EmbeddedStates.now()
        // The calls since the last turn are committed (and answered) first, so an execution runs
        // only once its start is on disk: a start a lost commit undoes has done nothing yet.
        var committed = engine.commit()
        let (advanced, requests) = engine.advance(now: now)
        var next = advanced
        for r in requests {
            // Handed out again after a restart, a callback call the service had already taken
            // is not made twice: the task goes on waiting for its token.
            if r.isCallback && r.submitted != nil { continue }
            let report: (TaskResult) -> Void = { [weak self] result in
                guard let self else { return }
                // A callback call the service took: TaskSubmitted, and the task waits for
                // SendTaskSuccess or SendTaskFailure with its token.
                if r.isCallback, case .success(let answer) = result {
                    self.engine.submitted(r, output: answer, now: EmbeddedStates.now())
                } else {
                    self.engine.completeTask(r, result, now: EmbeddedStates.now())
                }
                self.kick()
            }
            if let mode = NestedExecutions.mode(of: r.callResource) {
                nested.start(r, mode: mode, now: now, done: report)
                kick()   // the child runs on the next pass
            } else {
                invoker.invoke(r, done: report)
            }
        }
        // A `.sync` parent goes on once its child has closed in this pass; only then may the
        // oldest closed executions be forgotten.
        if nested.poll(now: now) { kick() }
        engine.pruneClosed()
        // One commit for this turn's writes (and calls meanwhile); the calls waiting are answered.
        committed = engine.commit() && committed
        // What a lost commit wrote is written again, in a second (not at once: a broken disk
        // must not spin the loop).
        if !committed { next = min(next ?? now + 1, now + 1) }
        let faults = engine.storeFaults
        if faults > faultsReported {
            stderrLine("warning: states store: \(faults - faultsReported) write(s) failed; a restart may repeat the steps since the last good write")
            faultsReported = faults
        }
        guard let next else { return }
        // Due already (a pass left executions over): through the mailbox, which libuv serves after
        // polling for I/O - a 0 ms timer re-armed from its own callback would run again in the
        // same timer phase and starve the loop's listeners and signals.
        if next <= now { return kick() }
        // At most a day at a time (a far wake time must not overflow the timer's milliseconds).
        let millis = UInt64(max(1, min(86_400_000, ((next - now) * 1000).rounded(.up))))
        timer.schedule(after: millis) { [weak self] in self?.tick() }
    }
}

/// Makes a Task state's call: `arn:aws:states:::apigateway:invoke` as an HTTP request to the
/// Gatehouse serving that API.
final class TaskInvoker {
    let pool: HTTPClientPool
    /// Keys to sign with (callers with a `states.amazonaws.com` principal, roles' keys).
    var credentials: CredentialStore
    /// Where `{apiId}.execute-api.{region}.amazonaws.com` is served: this Gatehouse's listener
    /// unless the conf maps the host elsewhere.
    let local: (host: String, port: Int)
    let endpointMap: [String: String]

    init(pool: HTTPClientPool, credentials: CredentialStore, local: (host: String, port: Int), endpointMap: [String: String]) {
        self.pool = pool
        self.credentials = credentials
        self.local = local
        self.endpointMap = endpointMap
    }

    func invoke(_ r: TaskRequest, done: @escaping (TaskResult) -> Void) {
        switch r.callResource {
        case "arn:aws:states:::apigateway:invoke":
            do throws(ApiGatewayCall.Refusal) {
                let call = try ApiGatewayCall(r.parameters)
                send(call, r, done: done)
            } catch {
                done(.failure(error: error.error, cause: error.cause))
            }
        case "arn:aws:states:::http:invoke":
            do throws(ApiGatewayCall.Refusal) {
                try httpInvoke(r.parameters, done: done)
            } catch {
                done(.failure(error: error.error, cause: error.cause))
            }
        default:
            done(.failure(error: "States.Runtime", cause: "The embedded engine cannot call \(r.resource) yet."))
        }
    }

    /// `arn:aws:states:::http:invoke`: a request to any HTTP(S) endpoint. `Authentication`'s
    /// EventBridge connection is not looked up (there is none here): what the connection would
    /// add, give as Headers.
    private func httpInvoke(_ p: JSONValue, done: @escaping (TaskResult) -> Void) throws(ApiGatewayCall.Refusal) {
        func refuse(_ why: String) -> ApiGatewayCall.Refusal { .init(error: "States.Runtime", cause: "http:invoke: \(why)") }
        guard case .string(let endpoint)? = p["ApiEndpoint"], let url = HTTPURL(endpoint) else {
            throw refuse("ApiEndpoint is required and must be an http(s):// URL")
        }
        guard case .string(let method)? = p["Method"], ApiGatewayCall.methods.contains(method) else {
            throw refuse("Method is required and must be one of GET, POST, PUT, DELETE, PATCH, HEAD, OPTIONS")
        }
        var headers: [(String, String)] = [("Host", url.hostHeader)]
        for (name, values) in try ApiGatewayCall.headers(p, refuse) { for value in values { headers.append((name, value)) } }
        let query = try ApiGatewayCall.query(p, refuse)
        var body: [UInt8] = []
        let urlEncoded = p["Transform"]?["RequestBodyEncoding"] == .string("URL_ENCODED")
        switch p["RequestBody"] {
        case nil, .null?: break
        case .string(let text)?: body = Array(text.utf8)
        case .object(let o)? where urlEncoded:
            body = Array(o.members.map { m in
                QueryString.encoded(m.key, keepSlash: false) + "=" + QueryString.encoded(m.value.stringValue ?? m.value.jsonText, keepSlash: false)
            }.joined(separator: "&").utf8)
            headers.append(("Content-Type", "application/x-www-form-urlencoded"))
        case let v?:
            body = v.serialized()
            headers.append(("Content-Type", "application/json"))
        }
        var target = url.target
        if !query.isEmpty { target += (target.contains("?") ? "&" : "?") + query }
        let out = HTTPClientRequest(host: url.host, port: url.port, method: method, target: target,
                                    headers: HTTPHeaders(headers), body: body, isTLS: url.isTLS)
        pool.send(out) { result in
            switch result {
            case .failure(let e):
                done(.failure(error: "States.Http.Socket", cause: "\(endpoint): \(e)"))
            case .success(let r):
                // A status outside 2xx is States.Http.StatusCode.<code>, the answer as cause.
                let output = ApiGatewayCall.output(r)
                guard (200..<300).contains(r.status) else {
                    return done(.failure(error: "States.Http.StatusCode.\(r.status)", cause: output.jsonText))
                }
                done(.success(output))
            }
        }
    }

    private func send(_ call: ApiGatewayCall, _ r: TaskRequest, done: @escaping (TaskResult) -> Void) {
        var headers: [(String, String)] = [("Host", call.endpoint)]
        for (name, values) in call.headers { for v in values { headers.append((name, v)) } }
        if call.body != nil { headers.append(("Content-Type", "application/json")) }
        var req = SigV4Request(method: call.method, path: call.path, query: call.query,
                               headers: headers.map { SigV4Header(name: $0.0, value: $0.1) }, body: call.body ?? [])
        switch call.authType {
        case "NO_AUTH":
            break
        case "RESOURCE_POLICY":
            // As states.amazonaws.com, asserting the state machine in a signed X-Amz-Source-Arn.
            guard let key = credentials.callers.values.sorted(by: { $0.accessKeyId < $1.accessKeyId }).first(where: { c in
                if case .service("states.amazonaws.com") = c.principal {
                    return c.mayAssertSourceArn.contains { ResourcePolicy.resourceMatches(pattern: $0, arn: r.stateMachineArn) }
                }
                return false
            }) else {
                return done(.failure(error: "States.Runtime",
                                     cause: "No credentials of principal states.amazonaws.com may assert \(r.stateMachineArn) (credentials file, mayAssertSourceArn)."))
            }
            req.headers.append(SigV4Header(name: "X-Amz-Source-Arn", value: r.stateMachineArn))
            sign(&req, SigV4Credentials(accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey, sessionToken: key.sessionToken), call.region)
        default:  // IAM_ROLE: the state machine's role's keys
            guard let role = r.roleArn, let keys = credentials.roles[role] else {
                return done(.failure(error: "States.Runtime", cause: "No keys for the state machine's role \(r.roleArn ?? "(none)") in the credentials file (roles)."))
            }
            sign(&req, SigV4Credentials(accessKeyId: keys.accessKeyId, secretAccessKey: keys.secretAccessKey, sessionToken: keys.sessionToken), call.region)
        }
        let target: (host: String, port: Int, tls: Bool)
        if let mapped = endpointMap[call.endpoint], let u = HTTPURL(mapped) {
            target = (u.host, u.port, u.isTLS)
        } else if call.endpoint.hasSuffix(".amazonaws.com") {
            target = (local.host, local.port, false)
        } else {
            return done(.failure(error: "States.Runtime", cause: "No endpoint is known for \(call.endpoint) (conf apiEndpoints)."))
        }
        let out = HTTPClientRequest(host: target.host, port: target.port, method: req.method,
                                    target: call.path + (call.query.isEmpty ? "" : "?" + call.query),
                                    headers: HTTPHeaders(req.headers.map { ($0.name, $0.value) }), body: req.body, isTLS: target.tls)
        pool.send(out) { result in
            switch result {
            case .failure(let e):
                done(.failure(error: "States.TaskFailed", cause: "\(call.endpoint): \(e)"))
            case .success(let response):
                done(ApiGatewayCall.outcome(response))
            }
        }
    }

    private func sign(_ req: inout SigV4Request, _ keys: SigV4Credentials, _ region: String) {
        SigV4Signer(credentials: keys, region: region, service: "execute-api").sign(&req, date: Int64(time(nil)))
    }
}

/// The parameters of `apigateway:invoke`, checked, and the task output made from the answer.
struct ApiGatewayCall {
    struct Refusal: Error {
        let error: String
        let cause: String
    }

    static let methods: Set<String> = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"]
    static let authTypes: Set<String> = ["NO_AUTH", "IAM_ROLE", "RESOURCE_POLICY"]

    let endpoint: String
    let region: String
    let method: String
    let path: String
    let query: String
    let headers: [(String, [String])]
    let body: [UInt8]?
    let authType: String

    init(_ p: JSONValue) throws(Refusal) {
        func refuse(_ why: String) -> Refusal { Refusal(error: "States.Runtime", cause: "apigateway:invoke: \(why)") }
        guard case .string(let endpoint)? = p["ApiEndpoint"], !endpoint.isEmpty else { throw refuse("ApiEndpoint is required and must be a string") }
        guard case .string(let method)? = p["Method"], Self.methods.contains(method) else {
            throw refuse("Method is required and must be one of GET, POST, PUT, DELETE, PATCH, HEAD, OPTIONS")
        }
        var path = ""
        switch p["Stage"] {
        case nil, .null?: break
        case .string(let s)?: path += "/" + s
        default: throw refuse("Stage must be a string")
        }
        switch p["Path"] {
        case nil, .null?: break
        case .string(let s)?: path += s.hasPrefix("/") ? s : "/" + s
        default: throw refuse("Path must be a string")
        }
        if path.isEmpty { path = "/" }
        let auth = p["AuthType"]?.stringValue ?? "NO_AUTH"
        guard Self.authTypes.contains(auth) else { throw refuse("AuthType must be NO_AUTH, IAM_ROLE or RESOURCE_POLICY") }
        let headers = try Self.headers(p, refuse)
        let query = try Self.query(p, refuse)
        let allowNulls = p["AllowNullValues"] == .bool(true)
        var body: [UInt8]?
        switch p["RequestBody"] {
        case nil: break
        // A string body is sent as a JSON string, quotes and all (AWS-recorded Content-Lengths).
        case let v?: body = (allowNulls ? v : Self.withoutNulls(v)).serialized()
        }
        // The region: the third label of `{apiId}.execute-api.{region}.amazonaws.com`.
        let labels = endpoint.split(separator: ".")
        self.region = labels.count >= 4 && labels[1] == "execute-api" ? String(labels[2]) : "us-east-1"
        self.endpoint = endpoint
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.body = body
        self.authType = auth
    }

    /// `Headers`: names to a string or an array of strings, none of AWS's forbidden ones.
    static func headers(_ p: JSONValue, _ refuse: (String) -> Refusal) throws(Refusal) -> [(String, [String])] {
        var out: [(String, [String])] = []
        switch p["Headers"] {
        case nil, .null?:
            break
        case .object(let o)?:
            for (name, v) in o.members {
                guard let values = strings(v) else { throw refuse("Headers.\(name) must be a string or an array of strings") }
                guard !ForbiddenHeaders.isForbidden(name) else { throw refuse("the header \(name) cannot be set") }
                out.append((name, values))
            }
        default:
            throw refuse("Headers must be an object of arrays of strings")
        }
        return out
    }

    /// `QueryParameters` as an encoded query string (`a=1&b=x%20y`).
    static func query(_ p: JSONValue, _ refuse: (String) -> Refusal) throws(Refusal) -> String {
        var pairs: [String] = []
        if case .object(let o)? = p["QueryParameters"] {
            for (name, v) in o.members {
                guard let values = strings(v) else { throw refuse("QueryParameters.\(name) must be a string or an array of strings") }
                for value in values { pairs.append(QueryString.encoded(name, keepSlash: false) + "=" + QueryString.encoded(value, keepSlash: false)) }
            }
        }
        return pairs.joined(separator: "&")
    }

    static func strings(_ v: JSONValue) -> [String]? {
        switch v {
        case .string(let s): return [s]
        case .array(let items):
            var out: [String] = []
            for i in items {
                guard case .string(let s) = i else { return nil }
                out.append(s)
            }
            return out
        default: return nil
        }
    }

    /// RequestBody without null members, unless AllowNullValues is true.
    static func withoutNulls(_ v: JSONValue) -> JSONValue {
        switch v {
        case .object(let o):
            var out = JSONObject()
            for (k, x) in o.members where x != .null { out[k] = withoutNulls(x) }
            return .object(out)
        case .array(let items):
            return .array(items.map(withoutNulls))
        default:
            return v
        }
    }

    /// `{ResponseBody, Headers, StatusCode, StatusText}` for a 2xx answer; any other status is
    /// the error `ApiGateway.<status>` with the response body as its cause (as AWS reports it).
    static func outcome(_ r: HTTPClientResponse) -> TaskResult {
        guard (200..<300).contains(r.status) else { return .failure(error: "ApiGateway.\(r.status)", cause: String(decoding: r.body, as: UTF8.self)) }
        return .success(output(r))
    }

    /// An HTTP answer as a Task's output: `{ResponseBody (JSON if it parses), Headers (arrays of
    /// values), StatusCode, StatusText}`; `apigateway:invoke` and `http:invoke` share it.
    static func output(_ r: HTTPClientResponse) -> JSONValue {
        var headers = JSONObject()
        for (name, value) in r.headers.fields {
            if case .array(var values)? = headers[name] {
                values.append(.string(value))
                headers[name] = .array(values)
            } else {
                headers[name] = .array([.string(value)])
            }
        }
        let body: JSONValue = (try? JSONValue.parse(r.body)) ?? .string(String(decoding: r.body, as: UTF8.self))
        return .object(JSONObject([
            ("ResponseBody", r.body.isEmpty ? .object(JSONObject()) : body),
            ("Headers", .object(headers)),
            ("StatusCode", .int(Int64(r.status))),
            ("StatusText", .string(HTTPResponse.reason(r.status))),
        ]))
    }
}

/// Request headers Step Functions does not let a Task set on an API Gateway call (the list in
/// the developer guide's "Create API Gateway REST APIs with Step Functions").
enum ForbiddenHeaders {
    static let names: Set<String> = [
        "authorization", "connection", "content-md5", "expect", "host", "max-forwards", "proxy-authenticate",
        "server", "te", "transfer-encoding", "trailer", "upgrade", "via", "www-authenticate",
    ]
    static let prefixes = ["x-forwarded", "x-amz", "x-amzn"]

    static func isForbidden(_ name: String) -> Bool {
        let n = name.lowercased()
        return names.contains(n) || prefixes.contains { n.hasPrefix($0) }
    }
}

/// `arn:aws:states:::states:startExecution[.sync[:2]]`: starts the child execution in the
/// embedded engine (the account its ARN names). Without `.sync` the task ends once the child has
/// started; with it, when the child closes, the driver reporting it after each of its passes.
final class NestedExecutions {
    enum Mode { case start, sync, sync2 }

    let engine: SharedEngine
    private var watches: [(child: String, mode: Mode, done: (TaskResult) -> Void)] = []

    init(engine: SharedEngine) {
        self.engine = engine
    }

    static func mode(of resource: String) -> Mode? {
        switch resource {
        case "arn:aws:states:::states:startExecution": return .start
        case "arn:aws:states:::states:startExecution.sync": return .sync
        case "arn:aws:states:::states:startExecution.sync:2": return .sync2
        default: return nil
        }
    }

    func start(_ r: TaskRequest, mode: Mode, now: Double, done: @escaping (TaskResult) -> Void) {
        // Made again after a restart, a .sync call waits on the child it had started.
        if mode != .start, let child = r.submitted?["ExecutionArn"]?.stringValue {
            watches.append((child, mode, done))
            return
        }
        guard case .string(let machine)? = r.parameters["StateMachineArn"] else {
            return done(.failure(error: "States.Runtime", cause: "states:startExecution: StateMachineArn is required and must be a string"))
        }
        var members: [(String, JSONValue)] = [("stateMachineArn", .string(machine))]
        switch r.parameters["Input"] {
        case nil, .null?: break                     // the child gets {} (as AWS records it)
        case .string(let text)?: members.append(("input", .string(text)))
        case let v?: members.append(("input", .string(v.jsonText)))
        }
        if case .string(let name)? = r.parameters["Name"] { members.append(("name", .string(name))) }
        let (status, body) = engine.handle(target: "AWSStepFunctions.StartExecution",
                                           body: JSONValue.object(JSONObject(members)).serialized(), now: now)
        guard status == 200, let started = try? JSONValue.parse(body), let arn = started["executionArn"]?.stringValue else {
            return done(Self.serviceError(body))
        }
        // StartExecution's response as the integration reports it, with the SDK's metadata.
        let requestId = RequestId.make()
        let headers: [(String, String)] = [("Content-Type", "application/x-amz-json-1.0"), ("x-amzn-RequestId", requestId)]
        let response = JSONValue.object(JSONObject([
            ("ExecutionArn", .string(arn)),
            ("SdkHttpMetadata", .object(JSONObject([
                ("AllHttpHeaders", .object(JSONObject(headers.map { ($0.0, .array([.string($0.1)])) }))),
                ("HttpHeaders", .object(JSONObject(headers.map { ($0.0, .string($0.1)) }))),
                ("HttpStatusCode", .int(200)),
            ]))),
            ("SdkResponseMetadata", .object(JSONObject([("RequestId", .string(requestId))]))),
            ("StartDate", Self.date(started["startDate"])),
        ]))
        if mode == .start { return done(.success(response)) }
        // .sync: TaskSubmitted with that response, then the task waits for the child.
        engine.submitted(r, output: response, now: now)
        watches.append((arn, mode, done))
    }

    /// Calls `done` with DescribeExecution's answer once `executionArn` has closed (on this
    /// loop: the driver's).
    func whenClosed(_ executionArn: String, done: @escaping (JSONValue) -> Void) {
        observers.append((executionArn, done))
    }

    private var observers: [(execution: String, done: (JSONValue) -> Void)] = []

    /// DescribeExecution's answer for `arn`: the description, or the service's refusal.
    private func describe(_ arn: String, now: Double) -> Result<JSONValue, ServiceRefusal> {
        let (status, body) = engine.handle(target: "AWSStepFunctions.DescribeExecution",
                                           body: JSONValue.object(JSONObject([("executionArn", .string(arn))])).serialized(), now: now)
        guard status == 200, let d = try? JSONValue.parse(body) else { return .failure(ServiceRefusal(body: body)) }
        return .success(d)
    }

    struct ServiceRefusal: Error {
        let body: [UInt8]
    }

    /// Completes the waits whose child has closed; true if any did.
    func poll(now: Double) -> Bool {
        var closedObservers: [Int] = []
        for (i, o) in observers.enumerated() {
            let d: JSONValue
            switch describe(o.execution, now: now) {
            case .success(let found):
                guard found["status"]?.stringValue != "RUNNING" else { continue }
                d = found
            case .failure:
                // Forgotten before its end was read (or undone): the waiter is told, not left hanging.
                d = .object(JSONObject([("executionArn", .string(o.execution)), ("status", .string("FAILED")),
                                        ("error", .string("States.Runtime")),
                                        ("cause", .string("The execution was no longer there when its end was read."))]))
            }
            closedObservers.append(i)
            o.done(d)
        }
        for i in closedObservers.reversed() { observers.remove(at: i) }
        guard !watches.isEmpty else { return !closedObservers.isEmpty }
        var finished: [Int] = []
        for (i, w) in watches.enumerated() {
            let d: JSONValue
            switch describe(w.child, now: now) {
            case .success(let found): d = found
            case .failure(let refusal):
                finished.append(i)
                w.done(Self.serviceError(refusal.body))
                continue
            }
            guard let state = d["status"]?.stringValue, state != "RUNNING" else { continue }
            finished.append(i)
            let output = Self.syncOutput(d, parsed: w.mode == .sync2)
            if state == "SUCCEEDED" {
                w.done(.success(output))
            } else {
                // The child's failure surfaces as the parent task's error, with the child's
                // description as its cause.
                let error = state == "FAILED" ? "States.TaskFailed" : (state == "TIMED_OUT" ? "States.Timeout" : "States.TaskFailed")
                w.done(.failure(error: error, cause: output.jsonText))
            }
        }
        for i in finished.reversed() { watches.remove(at: i) }
        return !finished.isEmpty || !closedObservers.isEmpty
    }

    /// DescribeExecution in the integration's PascalCase shape; `.sync:2` parses Input and Output.
    static func syncOutput(_ d: JSONValue, parsed: Bool) -> JSONValue {
        func text(_ key: String) -> JSONValue {
            guard let s = d[key]?.stringValue else { return .null }
            return parsed ? ((try? JSONValue.parse(s)) ?? .string(s)) : .string(s)
        }
        var o = JSONObject([("ExecutionArn", d["executionArn"] ?? .null)])
        o["Input"] = text("input")
        o["InputDetails"] = .object(JSONObject([("Included", .bool(true))]))
        o["Name"] = d["name"] ?? .null
        if d["output"] != nil {
            o["Output"] = text("output")
            o["OutputDetails"] = .object(JSONObject([("Included", .bool(true))]))
        }
        if let e = d["error"] { o["Error"] = e }
        if let c = d["cause"] { o["Cause"] = c }
        o["StartDate"] = date(d["startDate"])
        o["StateMachineArn"] = d["stateMachineArn"] ?? .null
        o["Status"] = d["status"] ?? .null
        if let stop = d["stopDate"] { o["StopDate"] = date(stop) }
        return .object(o)
    }

    /// Epoch seconds (as the API writes them) → epoch milliseconds, as integrations report dates.
    static func date(_ v: JSONValue?) -> JSONValue {
        guard let seconds = v?.doubleValue else { return .null }
        return .int(Int64((seconds * 1000).rounded()))
    }

    /// A refused StartExecution as the integration names it: `StepFunctions.<Code>Exception`.
    static func serviceError(_ body: [UInt8]) -> TaskResult {
        let e = try? JSONValue.parse(body)
        let type = e?["__type"]?.stringValue ?? "InternalFailure"
        let code = String(type.split(separator: "#").last ?? Substring(type))
        let name = code.hasSuffix("Exception") ? code : code + "Exception"
        return .failure(error: "StepFunctions.\(name)", cause: e?["message"]?.stringValue ?? String(decoding: body, as: UTF8.self))
    }
}
