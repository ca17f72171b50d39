import GatehouseLoop

/// An HTTP/1.1 listener: accepts connections on a loop and gives each to an
/// `HTTPServerConnection` that feeds `handler`.
public final class HTTPServer {
    private let listener: TCPServer

    public init(loop: EventLoop, host: String, port: Int, limits: HTTPLimits = HTTPLimits(),
                handler: HTTPRequestHandler) throws(LoopError) {
        let clock = HTTPDateClock()
        listener = try TCPServer(loop: loop, host: host, port: port) { stream in
            // The connection keeps itself alive through its stream until the socket closes.
            _ = HTTPServerConnection(stream: stream, handler: handler, limits: limits, clock: clock)
        }
    }

    /// The bound port (the real one when 0 was asked for).
    public var port: Int { listener.boundPort }

    /// Stops accepting; open connections finish on their own.
    public func close() { listener.close() }
}
