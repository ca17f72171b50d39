import CLibUV

/// A libuv timer. The handle's memory and the Swift object's retain are released in the close
/// callback, so a timer may be closed from inside its own callback.
public final class LoopTimer: LoopClosable {
    private let handle: UnsafeMutablePointer<uv_timer_t>
    private var callback: (() -> Void)?
    private var closed = false

    public init(loop: EventLoop) {
        handle = .allocate(capacity: 1)
        uv_timer_init(loop.raw, handle)
        // The handle owns one retain of self until the close callback.
        handle.pointee.data = Unmanaged.passRetained(self).toOpaque()
    }

    /// Fires `callback` once after `millis`, replacing any earlier schedule.
    public func schedule(after millis: UInt64, repeat interval: UInt64 = 0, _ callback: @escaping () -> Void) {
        guard !closed else { return }
        self.callback = callback
        uv_timer_start(handle, { h in
            guard let h, let data = h.pointee.data else { return }
            let timer = Unmanaged<LoopTimer>.fromOpaque(data).takeUnretainedValue()
            timer.callback?()
        }, millis, interval)
    }

    /// Sets the callback once, for timers re-armed per request with `start(after:)` (no
    /// closure is made per arming).
    public func setHandler(_ callback: @escaping () -> Void) {
        guard !closed else { return }
        self.callback = callback
    }

    /// Fires the handler set by `setHandler` once after `millis`, replacing any earlier arming.
    public func start(after millis: UInt64) {
        guard !closed else { return }
        uv_timer_start(handle, { h in
            guard let h, let data = h.pointee.data else { return }
            let timer = Unmanaged<LoopTimer>.fromOpaque(data).takeUnretainedValue()
            timer.callback?()
        }, millis, 0)
    }

    /// Stops the timer; the handler stays for the next `start`.
    public func stop() {
        guard !closed else { return }
        uv_timer_stop(handle)
    }

    public func cancel() {
        guard !closed else { return }
        uv_timer_stop(handle)
        callback = nil
    }

    /// Prevents this timer alone from keeping the loop running.
    public func unref() {
        uv_unref(UnsafeMutableRawPointer(handle).assumingMemoryBound(to: uv_handle_t.self))
    }

    public func close() {
        guard !closed else { return }
        closed = true
        callback = nil
        uv_timer_stop(handle)
        uv_close(UnsafeMutableRawPointer(handle).assumingMemoryBound(to: uv_handle_t.self)) { h in
            guard let h else { return }
            Unmanaged<LoopTimer>.fromOpaque(h.pointee.data).release()
            UnsafeMutableRawPointer(h).assumingMemoryBound(to: uv_timer_t.self).deallocate()
        }
    }
}

/// Runs a callback when the process receives a signal.
public final class LoopSignal: LoopClosable {
    private let handle: UnsafeMutablePointer<uv_signal_t>
    private var callback: (() -> Void)?
    private var closed = false

    public init(loop: EventLoop, signal: Int32, _ callback: @escaping () -> Void) {
        handle = .allocate(capacity: 1)
        self.callback = callback
        uv_signal_init(loop.raw, handle)
        handle.pointee.data = Unmanaged.passRetained(self).toOpaque()
        uv_signal_start(handle, { h, _ in
            guard let h, let data = h.pointee.data else { return }
            Unmanaged<LoopSignal>.fromOpaque(data).takeUnretainedValue().callback?()
        }, signal)
        // A signal watcher alone must not keep the loop alive.
        uv_unref(UnsafeMutableRawPointer(handle).assumingMemoryBound(to: uv_handle_t.self))
    }

    public func close() {
        guard !closed else { return }
        closed = true
        callback = nil
        uv_close(UnsafeMutableRawPointer(handle).assumingMemoryBound(to: uv_handle_t.self)) { h in
            guard let h else { return }
            Unmanaged<LoopSignal>.fromOpaque(h.pointee.data).release()
            UnsafeMutableRawPointer(h).assumingMemoryBound(to: uv_signal_t.self).deallocate()
        }
    }
}
