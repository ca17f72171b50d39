import GatehouseHTTP
import GatehouseLoop
import GatehouseModel

/// What an integration backend is asked to do for one request (after request mapping). It
/// refers to the request and its route rather than copying their fields: a call is made per
/// request, and every copied string was a retain and a release (perf).
public struct IntegrationCall: Sendable {
    public let integration: Integration
    let request: HTTPRequest
    let route: RouteMatch
    /// The integration request body.
    public var body: [UInt8]
    public let requestId: String
    /// What `requestParameters` mapped for the integration request.
    public var parameters = IntegrationParameters()

    init(integration: Integration, request: HTTPRequest, route: RouteMatch, body: [UInt8], requestId: String) {
        self.integration = integration
        self.request = request
        self.route = route
        self.body = body
        self.requestId = requestId
    }

    public var apiId: String { route.api.id }
    public var stage: String { route.stage.name }
    public var region: String { route.api.region }
    public var httpMethod: String { request.method }
    public var resourcePath: String { route.resource.path }
    /// One path parameter of the method request (no table made).
    public func pathParameter(_ name: String) -> String? { route.pathParameterList[name] }
    public var query: String { request.query }
    public var headers: HTTPHeaders { request.headers }
    /// The stage's variables, for `${stageVariables.x}` in URIs.
    public var stageVariables: [String: String] { route.stage.variables }
    /// The client's address, for `X-Forwarded-For`.
    public var sourceIp: String { request.remoteAddress }
    /// The client came over TLS (`X-Forwarded-Proto`).
    public var clientTLS: Bool { request.isTLS }
}

/// The backend's answer, before integration-response mapping.
public struct IntegrationOutcome: Sendable {
    public var status: Int
    public var headers: HTTPHeaders
    /// An upstream's header lines as they came (`Name: value\r\n`), when the answer is an
    /// HTTP upstream's; `headers` is then empty and a proxy integration passes these on.
    public var rawHeaders: [UInt8]?
    public var body: [UInt8]

    public init(status: Int, headers: HTTPHeaders = HTTPHeaders(), body: [UInt8]) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    public init(status: Int, rawHeaders: [UInt8], body: [UInt8]) {
        self.status = status
        self.headers = HTTPHeaders()
        self.rawHeaders = rawHeaders
        self.body = body
    }
}

extension Result where Success == HTTPClientResponse, Failure == HTTPClientError {
    /// An upstream exchange's result as an integration's: the answer as it came, a timeout
    /// (504), or `failure(error)` for any other fault.
    public func asIntegrationResult(_ failure: (HTTPClientError) -> IntegrationFailure) -> Result<IntegrationOutcome, IntegrationFailure> {
        switch self {
        case .success(let r): return .success(IntegrationOutcome(status: r.status, rawHeaders: r.rawHeaders, body: r.body))
        case .failure(.timedOut): return .failure(.timedOut)
        case .failure(let e): return .failure(failure(e))
        }
    }
}

/// Why a backend produced no answer. Each maps to one gateway response.
public enum IntegrationFailure: Error, Sendable, Equatable {
    /// INTEGRATION_TIMEOUT → 504.
    case timedOut
    /// INTEGRATION_FAILURE → 500; the reason goes to the log, never to the client.
    case failed(String)
    /// The upstream refused, reset or garbled the exchange → 502.
    case unreachable(String)
}

/// An integration backend (a folder under `plugins/`). Runs on the event loop, never blocks,
/// and calls `done` exactly once.
public protocol IntegrationPlugin: AnyObject {
    /// The plugin's name in logs and the start-up route table.
    var name: String { get }
    /// Whether this plugin serves `integration`.
    func accepts(_ integration: Integration) -> Bool
    func invoke(_ call: IntegrationCall, loop: EventLoop,
                done: @escaping (Result<IntegrationOutcome, IntegrationFailure>) -> Void)
}

/// An AWS JSON 1.0 service answered in-process (the embedded workflow engine).
public protocol InProcessAWSService: AnyObject {
    func handle(target: String, body: [UInt8], loop: EventLoop, done: @escaping (Int, [UInt8]) -> Void)
}
