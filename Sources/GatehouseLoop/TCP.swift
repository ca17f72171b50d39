import CLibUV
#if canImport(Glibc)
import Glibc
#endif

/// Receives what happens on a `TCPStream`. Called on the loop thread.
public protocol TCPStreamDelegate: AnyObject {
    /// Bytes arrived; they are valid only during the call.
    func stream(_ stream: TCPStream, didRead bytes: UnsafeRawBufferPointer)
    /// The peer closed its side or the connection failed; the stream should be closed.
    func streamDidEnd(_ stream: TCPStream)
    /// The handle is closed and freed; no further callbacks.
    func streamDidClose(_ stream: TCPStream)
    /// Every queued write reached the socket (after `notifyWhenWritesDrain`).
    func streamDidDrainWrites(_ stream: TCPStream)
}

extension TCPStreamDelegate {
    public func streamDidDrainWrites(_ stream: TCPStream) {}
}

@inline(__always)
func asHandle<T>(_ p: UnsafeMutablePointer<T>) -> UnsafeMutablePointer<uv_handle_t> {
    UnsafeMutableRawPointer(p).assumingMemoryBound(to: uv_handle_t.self)
}

@inline(__always)
func asStream<T>(_ p: UnsafeMutablePointer<T>) -> UnsafeMutablePointer<uv_stream_t> {
    UnsafeMutableRawPointer(p).assumingMemoryBound(to: uv_stream_t.self)
}

/// A TCP connection (accepted or dialled). The handle keeps one retain of this object from
/// creation to its close callback, which also frees the handle and drops the delegate.
public final class TCPStream: LoopClosable {
    let handle: UnsafeMutablePointer<uv_tcp_t>
    public let loop: EventLoop
    /// Strong until close: the delegate (a connection state) lives as long as its socket.
    private var delegate: TCPStreamDelegate?
    public private(set) var isClosing = false
    private var reading = false
    private var drainWanted = false
    private var shuttingDown = false

    init(loop: EventLoop) {
        self.loop = loop
        handle = .allocate(capacity: 1)
        uv_tcp_init(loop.raw, handle)
        handle.pointee.data = Unmanaged.passRetained(self).toOpaque()
    }

    public func setDelegate(_ d: TCPStreamDelegate) {
        delegate = d
    }

    /// Bytes queued in libuv and not yet written to the socket.
    public var pendingWriteBytes: Int {
        Int(uv_stream_get_write_queue_size(asStream(handle)))
    }

    /// The peer's address as `ip` (no port), or "" when unknown.
    public var peerAddress: String {
        var storage = sockaddr_storage()
        var len = Int32(MemoryLayout<sockaddr_storage>.size)
        let rc = withUnsafeMutablePointer(to: &storage) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { uv_tcp_getpeername(handle, $0, &len) }
        }
        guard rc == 0 else { return "" }
        var name = [CChar](repeating: 0, count: 64)
        let family = storage.ss_family
        withUnsafePointer(to: storage) { p in
            if family == sa_family_t(AF_INET6) {
                p.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { _ = uv_ip6_name($0, &name, 64) }
            } else {
                p.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { _ = uv_ip4_name($0, &name, 64) }
            }
        }
        return String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    public func startReading() {
        guard !isClosing, !reading else { return }
        reading = true
        uv_read_start(asStream(handle), { h, _, buf in
            // The loop's shared buffer: the delegate copies what it keeps during didRead.
            guard let h, let buf else { return }
            let loop = Unmanaged<EventLoop>.fromOpaque(h.pointee.loop.pointee.data).takeUnretainedValue()
            buf.pointee = uv_buf_init(loop.readBuffer, UInt32(loop.readBufferSize))
        }, { s, nread, buf in
            guard let s, let data = s.pointee.data else { return }
            // The handle holds its retain of the stream until the close callback, which runs
            // in a later loop phase than this one: no retain is needed for the call.
            Unmanaged<TCPStream>.fromOpaque(data)._withUnsafeGuaranteedRef { stream in
                if nread > 0, let base = buf?.pointee.base {
                    stream.delegate?.stream(stream, didRead: UnsafeRawBufferPointer(start: base, count: Int(nread)))
                } else if nread < 0 {
                    stream.stopReading()
                    stream.delegate?.streamDidEnd(stream)
                }
            }
        })
    }

    public func stopReading() {
        guard reading, !isClosing else { return }
        reading = false
        uv_read_stop(asStream(handle))
    }

    /// Writes `bytes`: straight to the socket when nothing is queued (the common case, with
    /// no request, copy or callback), and whatever the socket does not take is copied and
    /// queued, so the caller may reuse its buffer.
    ///
    /// (Going through `uv_write` for every response also costs an `epoll_ctl` per write in
    /// the libuv of Debian 12, which re-registers the watcher when the write queue drains.)
    public func write(_ bytes: [UInt8]) {
        // Nothing is written once a shutdown is asked for (`uv_write` refuses it too).
        guard !isClosing, !shuttingDown, !bytes.isEmpty else { return }
        var written = 0
        if uv_stream_get_write_queue_size(asStream(handle)) == 0 {
            // `send` rather than libuv's `write`: a socket's `write` goes through the VFS layer
            // (file position lock, access checks, fsnotify) on its way to TCP, `send` does not
            // (kernel perf: a few percent of a proxied request's system time).
            var fd: uv_os_fd_t = -1
            if uv_fileno(UnsafeMutableRawPointer(handle).assumingMemoryBound(to: uv_handle_t.self), &fd) == 0 {
                let n = bytes.withUnsafeBytes { raw in send(fd, raw.baseAddress, raw.count, Int32(MSG_NOSIGNAL | MSG_DONTWAIT)) }
                if n == bytes.count { return }
                if n > 0 { written = n }
            }
        }
        let count = bytes.count - written
        let req = UnsafeMutablePointer<uv_write_t>.allocate(capacity: 1)
        let copy = UnsafeMutablePointer<CChar>.allocate(capacity: count)
        bytes.withUnsafeBytes { src in
            UnsafeMutableRawPointer(copy).copyMemory(from: src.baseAddress! + written, byteCount: count)
        }
        // The request carries its buffer; both are freed in the write callback.
        req.pointee.data = UnsafeMutableRawPointer(copy)
        var buf = uv_buf_init(copy, UInt32(count))
        let rc = uv_write(req, asStream(handle), &buf, 1) { req, _ in
            guard let req else { return }
            req.pointee.data.assumingMemoryBound(to: CChar.self).deallocate()
            let h = req.pointee.handle
            req.deallocate()
            guard let h, let data = h.pointee.data, uv_stream_get_write_queue_size(h) == 0 else { return }
            let stream = Unmanaged<TCPStream>.fromOpaque(data).takeUnretainedValue()
            if stream.drainWanted && !stream.isClosing {
                stream.drainWanted = false
                stream.delegate?.streamDidDrainWrites(stream)
            }
        }
        if rc < 0 {
            copy.deallocate()
            req.deallocate()
        }
    }

    /// Asks for one `streamDidDrainWrites` once the write queue is empty.
    public func notifyWhenWritesDrain() {
        if pendingWriteBytes == 0 { drainWanted = false; return }
        drainWanted = true
    }

    /// Closes after every queued write has reached the socket. Asking twice changes nothing
    /// (a second `uv_shutdown` would fail and close at once, dropping queued writes).
    public func closeAfterWrites() {
        guard !isClosing, !shuttingDown else { return }
        shuttingDown = true
        stopReading()
        let req = UnsafeMutablePointer<uv_shutdown_t>.allocate(capacity: 1)
        let rc = uv_shutdown(req, asStream(handle)) { req, _ in
            guard let req else { return }
            let s = req.pointee.handle!
            req.deallocate()
            Unmanaged<TCPStream>.fromOpaque(s.pointee.data).takeUnretainedValue().close()
        }
        if rc < 0 {
            req.deallocate()
            close()
        }
    }

    public func close() {
        guard !isClosing else { return }
        isClosing = true
        uv_close(asHandle(handle)) { h in
            guard let h else { return }
            let stream = Unmanaged<TCPStream>.fromOpaque(h.pointee.data).takeRetainedValue()
            let d = stream.delegate
            stream.delegate = nil
            d?.streamDidClose(stream)
            UnsafeMutableRawPointer(h).assumingMemoryBound(to: uv_tcp_t.self).deallocate()
        }
    }
}

/// Parses "host:port" / "[v6]:port" into a socket address for binding or connecting.
public func makeSocketAddress(host: String, port: Int) throws(LoopError) -> sockaddr_storage {
    var storage = sockaddr_storage()
    let rc: Int32
    if host.contains(":") {
        rc = withUnsafeMutablePointer(to: &storage) { p in
            p.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { uv_ip6_addr(host, Int32(port), $0) }
        }
    } else {
        rc = withUnsafeMutablePointer(to: &storage) { p in
            p.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { uv_ip4_addr(host, Int32(port), $0) }
        }
    }
    try check("address \(host):\(port)", rc)
    return storage
}

/// A listening TCP socket. Each accepted connection is handed to `onAccept`.
public final class TCPServer: LoopClosable {
    private let handle: UnsafeMutablePointer<uv_tcp_t>
    private let loop: EventLoop
    private var onAccept: ((TCPStream) -> Void)?
    private var closed = false

    private init(loop: EventLoop, onAccept: @escaping (TCPStream) -> Void) {
        self.loop = loop
        self.onAccept = onAccept
        handle = .allocate(capacity: 1)
        uv_tcp_init(loop.raw, handle)
        handle.pointee.data = Unmanaged.passRetained(self).toOpaque()
    }

    public convenience init(loop: EventLoop, host: String, port: Int, backlog: Int32 = 1024,
                            onAccept: @escaping (TCPStream) -> Void) throws(LoopError) {
        self.init(loop: loop, onAccept: onAccept)
        do {
            var addr = try makeSocketAddress(host: host, port: port)
            let rc = withUnsafePointer(to: &addr) { p in
                p.withMemoryRebound(to: sockaddr.self, capacity: 1) { uv_tcp_bind(handle, $0, 0) }
            }
            try check("bind \(host):\(port)", rc)
            try listen(backlog, "\(host):\(port)")
        } catch {
            close()
            throw error
        }
    }

    /// Listens on a socket already bound (one of several SO_REUSEPORT sockets); the server
    /// owns `fd` from here on.
    public convenience init(loop: EventLoop, fd: Int32, backlog: Int32 = 1024,
                            onAccept: @escaping (TCPStream) -> Void) throws(LoopError) {
        self.init(loop: loop, onAccept: onAccept)
        do {
            try check("uv_tcp_open", uv_tcp_open(handle, uv_os_sock_t(fd)))
            try listen(backlog, "fd \(fd)")
        } catch {
            close()
            throw error
        }
    }

    private func listen(_ backlog: Int32, _ what: String) throws(LoopError) {
        try check("listen \(what)", uv_listen(asStream(handle), backlog) { server, status in
            guard let server, status >= 0 else { return }
            let me = Unmanaged<TCPServer>.fromOpaque(server.pointee.data).takeUnretainedValue()
            me.acceptOne()
        })
    }

    /// The port actually bound (useful with port 0).
    public var boundPort: Int {
        var storage = sockaddr_storage()
        var len = Int32(MemoryLayout<sockaddr_storage>.size)
        _ = withUnsafeMutablePointer(to: &storage) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { uv_tcp_getsockname(handle, $0, &len) }
        }
        let family = storage.ss_family
        return withUnsafePointer(to: storage) { p in
            if family == sa_family_t(AF_INET6) {
                return p.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { Int(UInt16(bigEndian: $0.pointee.sin6_port)) }
            }
            return p.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { Int(UInt16(bigEndian: $0.pointee.sin_port)) }
        }
    }

    private func acceptOne() {
        let stream = TCPStream(loop: loop)
        if uv_accept(asStream(handle), asStream(stream.handle)) == 0 {
            uv_tcp_nodelay(stream.handle, 1)
            onAccept?(stream)
        } else {
            stream.close()
        }
    }

    public func close() {
        guard !closed else { return }
        closed = true
        onAccept = nil
        uv_close(asHandle(handle)) { h in
            guard let h else { return }
            Unmanaged<TCPServer>.fromOpaque(h.pointee.data).release()
            UnsafeMutableRawPointer(h).assumingMemoryBound(to: uv_tcp_t.self).deallocate()
        }
    }
}

/// Dials a TCP connection: resolves `host` through libuv's thread pool, then connects to the
/// first address. Calls `completion` once, on the loop thread.
public enum TCPConnector {
    final class Attempt {
        let loop: EventLoop
        let port: Int
        let completion: (Result<TCPStream, LoopError>) -> Void
        var stream: TCPStream?
        init(loop: EventLoop, port: Int, completion: @escaping (Result<TCPStream, LoopError>) -> Void) {
            self.loop = loop
            self.port = port
            self.completion = completion
        }
    }

    public static func connect(loop: EventLoop, host: String, port: Int,
                               completion: @escaping (Result<TCPStream, LoopError>) -> Void) {
        let attempt = Attempt(loop: loop, port: port, completion: completion)
        // An IP literal needs no resolver round trip through the thread pool.
        if var literal = try? makeSocketAddress(host: host, port: port) {
            withUnsafeMutablePointer(to: &literal) { p in
                p.withMemoryRebound(to: sockaddr.self, capacity: 1) { dial(attempt, $0) }
            }
            return
        }
        let req = UnsafeMutablePointer<uv_getaddrinfo_t>.allocate(capacity: 1)
        req.pointee.data = Unmanaged.passRetained(attempt).toOpaque()
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        let rc = uv_getaddrinfo(loop.raw, req, { req, status, res in
            guard let req else { return }
            let attempt = Unmanaged<Attempt>.fromOpaque(req.pointee.data).takeRetainedValue()
            req.deallocate()
            defer { if let res { uv_freeaddrinfo(res) } }
            guard status == 0, let res, let addr = res.pointee.ai_addr else {
                attempt.completion(.failure(LoopError("getaddrinfo", status == 0 ? -2 : status)))
                return
            }
            if res.pointee.ai_family == AF_INET6 {
                addr.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { $0.pointee.sin6_port = UInt16(attempt.port).bigEndian }
            } else {
                addr.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee.sin_port = UInt16(attempt.port).bigEndian }
            }
            TCPConnector.dial(attempt, addr)
        }, host, nil, &hints)
        if rc < 0 {
            Unmanaged<Attempt>.fromOpaque(req.pointee.data).release()
            req.deallocate()
            completion(.failure(LoopError("getaddrinfo \(host)", rc)))
        }
    }

    static func dial(_ attempt: Attempt, _ addr: UnsafeMutablePointer<sockaddr>) {
        let stream = TCPStream(loop: attempt.loop)
        attempt.stream = stream
        let req = UnsafeMutablePointer<uv_connect_t>.allocate(capacity: 1)
        req.pointee.data = Unmanaged.passRetained(attempt).toOpaque()
        let rc = uv_tcp_connect(req, stream.handle, addr) { req, status in
            guard let req else { return }
            let attempt = Unmanaged<Attempt>.fromOpaque(req.pointee.data).takeRetainedValue()
            req.deallocate()
            guard let stream = attempt.stream else { return }
            if status < 0 {
                stream.close()
                attempt.completion(.failure(LoopError("connect", status)))
            } else {
                uv_tcp_nodelay(stream.handle, 1)
                attempt.completion(.success(stream))
            }
        }
        if rc < 0 {
            Unmanaged<Attempt>.fromOpaque(req.pointee.data).release()
            req.deallocate()
            stream.close()
            attempt.completion(.failure(LoopError("connect", rc)))
        }
    }
}
