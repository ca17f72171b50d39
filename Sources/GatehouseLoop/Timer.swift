import CLibUV

/// A libuv timer. The handle's memory and the Swift object's retain are released in the close
/// callback, so a timer may be closed from inside its own callback.
///
/// `start(after:)` and `stop()` are lazy, for timeouts re-armed on every request: they record a
/// deadline and touch libuv only when the new deadline is earlier than the one it is armed
/// for. When libuv fires early (the deadline moved later, or was cleared) the timer re-arms for
/// what is left, or does nothing. A keep-alive connection then costs no timer-heap work per
/// request (uv_timer_start/stop were 4 % of a proxied request's user time, perf).
public final class LoopTimer: LoopClosable {
    private let handle: UnsafeMutablePointer<uv_timer_t>
    private var callback: (() -> Void)?
    private var closed = false
    /// When the handler set by `setHandler` is due (loop time, ms); nil: not due.
    private var deadline: UInt64?
    /// The loop time libuv is armed to fire at for the lazy handler; nil: not armed.
    private var armedAt: UInt64?

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
        deadline = nil
        armedAt = nil
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

    private var now: UInt64 { uv_now(handle.pointee.loop) }

    /// Fires the handler set by `setHandler` once after `millis`, replacing any earlier arming.
    public func start(after millis: UInt64) {
        guard !closed else { return }
        let due = now &+ millis
        deadline = due
        if let armedAt, armedAt <= due { return }  // fires first, then re-arms for the rest
        arm(at: due, after: millis)
    }

    private func arm(at due: UInt64, after millis: UInt64) {
        armedAt = due
        uv_timer_start(handle, { h in
            guard let h, let data = h.pointee.data else { return }
            Unmanaged<LoopTimer>.fromOpaque(data).takeUnretainedValue().lazyFired()
        }, millis, 0)
    }

    private func lazyFired() {
        armedAt = nil
        guard let due = deadline else { return }
        let t = now
        if t < due { return arm(at: due, after: due - t) }
        deadline = nil
        callback?()
    }

    /// Stops the timer; the handler stays for the next `start`.
    public func stop() {
        guard !closed else { return }
        // An armed libuv timer is left to fire and find nothing due: cheaper than taking it
        // out of the heap when the next `start` follows within the period.
        deadline = nil
    }

    public func cancel() {
        guard !closed else { return }
        uv_timer_stop(handle)
        deadline = nil
        armedAt = nil
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
        deadline = nil
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
