import CLibUV

/// Failure of a libuv call: the operation and libuv's error name and text.
public struct LoopError: Error, Sendable, CustomStringConvertible {
    public var operation: String
    public var code: Int32
    public init(_ operation: String, _ code: Int32) {
        self.operation = operation
        self.code = code
    }
    public var description: String {
        "\(operation): \(String(cString: uv_err_name(code))) (\(String(cString: uv_strerror(code))))"
    }
}

@inline(__always)
func check(_ operation: String, _ rc: Int32) throws(LoopError) {
    if rc < 0 { throw LoopError(operation, rc) }
}

/// One libuv loop. Owned by one thread; every handle made on it is used from that thread only.
public final class EventLoop {
    /// Owned by this object; closed and freed in `deinit` after all handles are gone.
    public let raw: UnsafeMutablePointer<uv_loop_t>
    /// One read buffer per loop: libuv reads into it and the reader copies out what it keeps,
    /// so an idle connection holds no buffer.
    let readBuffer: UnsafeMutablePointer<CChar>
    let readBufferSize = 65536

    public init() throws(LoopError) {
        raw = .allocate(capacity: 1)
        readBuffer = .allocate(capacity: readBufferSize)
        try check("uv_loop_init", uv_loop_init(raw))
        raw.pointee.data = Unmanaged.passUnretained(self).toOpaque()
    }

    deinit {
        uv_loop_close(raw)
        raw.deallocate()
        readBuffer.deallocate()
    }

    /// Runs until no handles are active or `stop()` is called.
    public func run() {
        uv_run(raw, UV_RUN_DEFAULT)
    }

    /// Runs one round of the loop without blocking; used by tests.
    public func runOnce() {
        uv_run(raw, UV_RUN_NOWAIT)
    }

    public func stop() {
        uv_stop(raw)
    }

    /// Milliseconds of libuv's cached clock.
    public var nowMillis: UInt64 { uv_now(raw) }

    /// Closes every handle still open (after `stop()`), then runs the loop so their close
    /// callbacks free them.
    public func closeAll() {
        uv_walk(raw, { handle, _ in
            guard let handle, uv_is_closing(handle) == 0 else { return }
            LoopHandleCloser.close(handle)
        }, nil)
        uv_run(raw, UV_RUN_DEFAULT)
    }
}

/// Handles register how they close themselves so `closeAll` can reach them through `uv_walk`.
enum LoopHandleCloser {
    static func close(_ handle: UnsafeMutablePointer<uv_handle_t>) {
        guard let data = handle.pointee.data else {
            uv_close(handle, nil)
            return
        }
        let owner = Unmanaged<AnyObject>.fromOpaque(data).takeUnretainedValue()
        if let closable = owner as? LoopClosable {
            closable.close()
        } else {
            uv_close(handle, nil)
        }
    }
}

/// A Swift object owning one libuv handle.
public protocol LoopClosable: AnyObject {
    func close()
}
