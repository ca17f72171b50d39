import GatehouseLoop
import GatehouseTLS

/// The handler a server's connections use now. Swapped on reload: each request goes to the
/// handler current when it arrives, and finishes on it.
public final class HandlerSlot {
    public var current: HTTPRequestHandler
    public init(_ h: HTTPRequestHandler) { current = h }
}

/// An HTTP/1.1 listener: accepts connections on a loop and gives each to an
/// `HTTPServerConnection` that feeds the slot's handler. Tracks its open connections so that
/// a drain can close idle ones at once and let busy ones finish.
public final class HTTPServer {
    private var listener: TCPServer?
    public let slot: HandlerSlot
    private var connections: [ObjectIdentifier: HTTPServerConnection] = [:]
    private var draining = false
    private var onDrained: (() -> Void)?
    private let boundPort: Int

    public init(loop: EventLoop, host: String, port: Int, limits: HTTPLimits = HTTPLimits(),
                handler: HTTPRequestHandler) throws(LoopError) {
        slot = HandlerSlot(handler)
        let clock = HTTPDateClock()
        var accept: ((TCPStream) -> Void)?
        let l = try TCPServer(loop: loop, host: host, port: port) { accept?($0) }
        listener = l
        boundPort = l.boundPort
        accept = { [unowned self] stream in self.accepted(stream, limits: limits, clock: clock) }
    }

    /// Listens on an already bound SO_REUSEPORT socket (`port` is what it was bound to); with
    /// `tls`, every connection is TLS-terminated with that context. Several servers may share
    /// one slot (an HTTP and an HTTPS listener serving the same gateway).
    public init(loop: EventLoop, fd: Int32, port: Int, limits: HTTPLimits = HTTPLimits(),
                slot: HandlerSlot, tls: TLSContext? = nil) throws(LoopError) {
        self.slot = slot
        let clock = HTTPDateClock()
        var accept: ((TCPStream) -> Void)?
        listener = try TCPServer(loop: loop, fd: fd) { accept?($0) }
        boundPort = port
        accept = { [unowned self] stream in self.accepted(stream, limits: limits, clock: clock, tls: tls) }
    }

    private func accepted(_ stream: TCPStream, limits: HTTPLimits, clock: HTTPDateClock, tls: TLSContext? = nil) {
        guard !draining else { stream.close(); return }
        var session: TLSSession?
        if let tls {
            guard let s = try? TLSSession(context: tls) else { stream.close(); return }
            session = s
        }
        let c = HTTPServerConnection(stream: stream, slot: slot, limits: limits, clock: clock, tls: session)
        c.onClosed = { [weak self] c in self?.closed(c) }
        connections[ObjectIdentifier(c)] = c
    }

    private func closed(_ c: HTTPServerConnection) {
        connections[ObjectIdentifier(c)] = nil
        if draining && connections.isEmpty { finishDrain() }
    }

    /// The bound port (the real one when 0 was asked for).
    public var port: Int { boundPort }

    /// Connections open now.
    public var openConnections: Int { connections.count }

    /// Stops accepting; open connections finish on their own.
    public func close() {
        listener?.close()
        listener = nil
    }

    /// Stops accepting, closes idle connections now, and lets each busy one finish the
    /// requests it has read (their responses say `Connection: close`); `then` runs once the
    /// last connection has closed.
    public func drain(then: @escaping () -> Void) {
        close()
        draining = true
        onDrained = then
        for c in Array(connections.values) { c.drain() }
        if connections.isEmpty { finishDrain() }
    }

    /// Closes every connection now (after a drain's deadline).
    public func closeAllConnections() {
        for c in Array(connections.values) { c.abort() }
    }

    private func finishDrain() {
        let f = onDrained
        onDrained = nil
        f?()
    }
}
