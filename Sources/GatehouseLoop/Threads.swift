import CLibUV
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Wakes a loop from another thread: `send()` may be called from any thread, and the loop
/// runs `callback` on its own thread (several sends may coalesce into one call).
public final class LoopAsync: LoopClosable, @unchecked Sendable {
    private let handle: UnsafeMutablePointer<uv_async_t>
    private var callback: (() -> Void)?
    /// Held across the check and the send, so no thread sends on a handle being closed.
    private let closed = Mutex<Bool>(false)

    public init(loop: EventLoop, _ callback: @escaping () -> Void) {
        handle = .allocate(capacity: 1)
        self.callback = callback
        uv_async_init(loop.raw, handle) { h in
            guard let h, let data = h.pointee.data else { return }
            Unmanaged<LoopAsync>.fromOpaque(data).takeUnretainedValue().callback?()
        }
        handle.pointee.data = Unmanaged.passRetained(self).toOpaque()
    }

    /// Thread-safe.
    public func send() {
        closed.withLock { isClosed in
            if !isClosed { uv_async_send(handle) }
        }
    }

    /// Does not keep the loop alive on its own.
    public func unref() {
        uv_unref(UnsafeMutableRawPointer(handle).assumingMemoryBound(to: uv_handle_t.self))
    }

    /// Loop thread only.
    public func close() {
        let wasClosed = closed.withLock { c in
            let was = c
            c = true
            return was
        }
        guard !wasClosed else { return }
        callback = nil
        uv_close(UnsafeMutableRawPointer(handle).assumingMemoryBound(to: uv_handle_t.self)) { h in
            guard let h else { return }
            Unmanaged<LoopAsync>.fromOpaque(h.pointee.data).release()
            UnsafeMutableRawPointer(h).assumingMemoryBound(to: uv_async_t.self).deallocate()
        }
    }
}

/// A mailbox of messages for a loop thread: any thread posts, the loop drains.
public final class LoopMailbox<Message: Sendable>: @unchecked Sendable {
    private let queue = Mutex<[Message]>([])
    private var async: LoopAsync?

    /// Loop thread: `receive` runs on it for every message posted.
    public init(loop: EventLoop, receive: @escaping (Message) -> Void) {
        async = nil
        async = LoopAsync(loop: loop) { [unowned self] in
            let batch = self.queue.withLock { q in
                let b = q
                q.removeAll()
                return b
            }
            for m in batch { receive(m) }
        }
        async?.unref()
    }

    /// Any thread.
    public func post(_ m: Message) {
        queue.withLock { $0.append(m) }
        async?.send()
    }

    /// Loop thread.
    public func close() { async?.close() }
}

/// A listening socket bound with SO_REUSEPORT, made before the worker loops exist so that
/// every worker can listen on the same port (the kernel spreads connections among them) and
/// a bind error is reported once, at start.
public struct ReusePortSocket: Sendable {
    public let fd: Int32
    public let port: Int

    public static func bind(host: String, port: Int) throws(LoopError) -> ReusePortSocket {
        var addr = try makeSocketAddress(host: host, port: port)
        let family = Int32(addr.ss_family)
        let fd = socket(family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw LoopError("socket", -errno) }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, socklen_t(MemoryLayout<Int32>.size))
        let len = family == AF_INET6 ? MemoryLayout<sockaddr_in6>.size : MemoryLayout<sockaddr_in>.size
        let rc = withUnsafePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.bind(fd, $0, socklen_t(len)) }
        }
        if rc != 0 {
            let e = errno
            Glibc.close(fd)
            throw LoopError("bind \(host):\(port)", -e)
        }
        var bound = sockaddr_storage()
        var blen = socklen_t(MemoryLayout<sockaddr_storage>.size)
        _ = withUnsafeMutablePointer(to: &bound) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &blen) }
        }
        let boundPort = withUnsafePointer(to: bound) { p in
            family == AF_INET6
                ? p.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { Int(UInt16(bigEndian: $0.pointee.sin6_port)) }
                : p.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { Int(UInt16(bigEndian: $0.pointee.sin_port)) }
        }
        return ReusePortSocket(fd: fd, port: boundPort)
    }
}

extension ReusePortSocket {
    /// `count` sockets on one address: the first binds `port` (0 picks one), the rest the
    /// port it got.
    public static func bindGroup(host: String, port: Int, count: Int) throws(LoopError) -> [ReusePortSocket] {
        let first = try bind(host: host, port: port)
        var all = [first]
        for _ in 1..<max(count, 1) { all.append(try bind(host: host, port: first.port)) }
        return all
    }
}

/// A thread running `body` (typically: make a loop, run it). `join` waits for it.
public final class WorkerThread: @unchecked Sendable {
    private var thread = pthread_t()
    private let body: @Sendable () -> Void

    public init(_ body: @escaping @Sendable () -> Void) {
        self.body = body
        let box = Unmanaged.passRetained(self).toOpaque()
        pthread_create(&thread, nil, { arg in
            let me = Unmanaged<WorkerThread>.fromOpaque(arg!).takeRetainedValue()
            me.body()
            return nil
        }, box)
    }

    public func join() {
        pthread_join(thread, nil)
    }
}
