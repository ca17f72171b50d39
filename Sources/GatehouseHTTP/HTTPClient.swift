
/// A response received from an upstream.
public struct HTTPClientResponse: Sendable {
    public var status: Int
    public var headers: HTTPHeaders
    public var body: [UInt8]
}

/// Why an upstream exchange failed. Each maps to one gateway response in Core.
public enum HTTPClientError: Error, Sendable, Equatable {
    case connectFailed(String)
    case timedOut
    case connectionReset
    case malformedResponse
    case responseTooLarge
}

/// An outgoing request: where it goes and what it carries.
public struct HTTPClientRequest: Sendable {
    public var host: String
    public var port: Int
    public var method: String
    public var target: String
    public var headers: HTTPHeaders
    public var body: [UInt8]
    public var timeoutMillis: UInt64
    /// TLS to the upstream, verified against `host`.
    public var isTLS: Bool

    public init(host: String, port: Int, method: String, target: String, headers: HTTPHeaders,
                body: [UInt8], timeoutMillis: UInt64 = 29_000, isTLS: Bool = false) {
        self.isTLS = isTLS
        self.host = host
        self.port = port
        self.method = method
        self.target = target
        self.headers = headers
        self.body = body
        self.timeoutMillis = timeoutMillis
    }
}
