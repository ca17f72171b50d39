#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// Writes log lines to a file descriptor from a background thread, so event-loop threads never
/// wait on a slow disk, a full pipe or a stalled log shipper.
///
/// `write` copies the line into one shared byte buffer under a `Mutex` and returns; it never
/// makes a system call except to wake an idle writer thread. The writer thread swaps that buffer
/// for an empty one and writes the batch with write(2), retrying partial writes and EINTR and
/// waiting in poll(2) if the descriptor is non-blocking. It is the only thread touching the fd,
/// so lines are never interleaved, and they leave in the order `write` accepted them.
///
/// Back-pressure is a byte budget, not blocking: when the bytes accepted but not yet written
/// (queued plus the batch being written) would exceed `maxQueuedBytes`, the new line is dropped
/// and counted in `droppedLines`. Dropping the newest line keeps what is queued intact and in
/// order and costs nothing; blocking a loop thread would stall every connection on it, which is
/// worse than a gap in the access log. Lines that fail to write (EPIPE, EBADF, ...) are dropped
/// and counted too.
///
/// SIGPIPE is blocked on the writer thread, so a reader that goes away yields EPIPE there
/// rather than killing the process.
public final class LogWriter: Sendable {
    private let core: Core

    /// Starts the writer thread. `fd` stays owned by the caller and is not closed.
    public init(fd: Int32, maxQueuedBytes: Int = 8 << 20) {
        core = Core(fd: fd, maxQueuedBytes: maxQueuedBytes)
        core.start()
    }

    deinit { core.stop() }

    /// Queues `line`, adding a newline if it doesn't end with one. Never blocks on the fd.
    /// After `flushAndStop`, lines are dropped and counted.
    public func write(_ line: [UInt8]) {
        core.enqueue(line)
    }

    /// Lines refused because the queue was over budget, the writer was stopped, or write(2) failed.
    public var droppedLines: Int {
        core.dropped.load(ordering: .relaxed)
    }

    /// Writes everything queued so far, then ends the writer thread and waits for it.
    /// For shutdown; a second call does nothing.
    public func flushAndStop() {
        core.stop()
    }
}

extension LogWriter {
    /// The state shared by producers and the writer thread. The thread keeps `Core` alive,
    /// not the `LogWriter`, so dropping the last `LogWriter` reference can stop the thread.
    fileprivate final class Core: Sendable {
        struct State {
            var buffer: [UInt8] = []
            /// Bytes in `buffer` plus bytes of the batch the writer is writing.
            var pending = 0
            var stopping = false
            var thread: ThreadHandle?
        }

        let fd: Int32
        let maxQueuedBytes: Int
        let state = Mutex(State())
        let dropped = Atomic<Int>(0)
        let wakeup = Wakeup()

        init(fd: Int32, maxQueuedBytes: Int) {
            self.fd = fd
            self.maxQueuedBytes = maxQueuedBytes
        }

        func start() {
            let handle = ThreadHandle.spawn(Unmanaged.passRetained(self).toOpaque()) { raw in
                let core = Unmanaged<Core>.fromOpaque(raw).takeRetainedValue()
                core.run()
            }
            state.withLock { $0.thread = handle }
        }

        func enqueue(_ line: [UInt8]) {
            let newline = line.last != UInt8(ascii: "\n")
            let size = line.count + (newline ? 1 : 0)
            let wake: Bool? = state.withLock { s in
                if s.stopping || s.pending + size > maxQueuedBytes { return nil }
                let wasEmpty = s.buffer.isEmpty
                s.buffer.append(contentsOf: line)
                if newline { s.buffer.append(UInt8(ascii: "\n")) }
                s.pending += size
                return wasEmpty
            }
            switch wake {
            case nil: dropped.add(1, ordering: .relaxed)
            case true?: wakeup.signal()
            case false?: break
            }
        }

        func stop() {
            let thread: ThreadHandle? = state.withLock { s in
                s.stopping = true
                defer { s.thread = nil }
                return s.thread
            }
            guard let thread else { return }
            wakeup.signal()
            thread.join()
        }

        private func run() {
            blockSIGPIPE()
            var batch: [UInt8] = []
            while true {
                wakeup.wait()
                while true {
                    let stopping = state.withLock { s in
                        swap(&s.buffer, &batch)
                        return s.stopping
                    }
                    if batch.isEmpty {
                        if stopping { return }
                        break
                    }
                    writeAll(batch)
                    let written = batch.count
                    state.withLock { $0.pending -= written }
                    batch.removeAll(keepingCapacity: true)
                }
            }
        }

        private func writeAll(_ bytes: [UInt8]) {
            bytes.withUnsafeBytes { buf in
                var offset = 0
                while offset < buf.count {
                    let n = systemWrite(fd, buf.baseAddress! + offset, buf.count - offset)
                    if n > 0 { offset += n; continue }
                    let err = n < 0 ? errno : EIO
                    if err == EINTR { continue }
                    if err == EAGAIN || err == EWOULDBLOCK {
                        var p = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
                        _ = poll(&p, 1, -1)
                        continue
                    }
                    // Unwritable: count the complete lines abandoned (a torn line counts as one).
                    let lost = buf[offset...].reduce(0) { $0 + ($1 == UInt8(ascii: "\n") ? 1 : 0) }
                    dropped.add(lost, ordering: .relaxed)
                    return
                }
            }
        }

        private func blockSIGPIPE() {
            var set = sigset_t()
            sigemptyset(&set)
            sigaddset(&set, SIGPIPE)
            pthread_sigmask(SIG_BLOCK, &set, nil)
        }
    }
}

private func systemWrite(_ fd: Int32, _ p: UnsafeRawPointer, _ n: Int) -> Int {
    #if canImport(Darwin)
    return Darwin.write(fd, p, n)
    #elseif canImport(Musl)
    return Musl.write(fd, p, n)
    #else
    return Glibc.write(fd, p, n)
    #endif
}

/// An auto-reset event: `signal` sets a flag and wakes the waiter, `wait` sleeps until the flag
/// is set and clears it. A condition variable needs a pthread mutex, which `Synchronization.Mutex`
/// doesn't expose, so this small primitive owns its own; the flag makes a signal sent while
/// nobody waits stick, so no wake-up is lost.
///
/// `@unchecked Sendable`: the pthread objects live at stable heap addresses for the object's
/// lifetime and are only touched through pthread calls, which are thread-safe by contract.
private final class Wakeup: @unchecked Sendable {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let cond = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private var flag = false

    init() {
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(cond, nil)
    }

    deinit {
        pthread_cond_destroy(cond)
        pthread_mutex_destroy(mutex)
        cond.deallocate()
        mutex.deallocate()
    }

    func signal() {
        pthread_mutex_lock(mutex)
        flag = true
        pthread_cond_signal(cond)
        pthread_mutex_unlock(mutex)
    }

    func wait() {
        pthread_mutex_lock(mutex)
        while !flag { pthread_cond_wait(cond, mutex) }
        flag = false
        pthread_mutex_unlock(mutex)
    }
}

/// A joinable pthread running a C-convention body with one context pointer.
///
/// `@unchecked Sendable`: `pthread_t` is an opaque id that any thread may pass to `pthread_join`.
struct ThreadHandle: @unchecked Sendable {
    private let id: pthread_t

    #if canImport(Darwin)
    typealias Body = @convention(c) (UnsafeMutableRawPointer) -> UnsafeMutableRawPointer?
    #else
    typealias Body = @convention(c) (UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer?
    #endif

    /// Runs `body(context)` on a new thread; traps if the thread can't be created (at startup,
    /// where there is nothing sensible to fall back to).
    static func spawn(_ context: UnsafeMutableRawPointer, _ body: @escaping @convention(c) (UnsafeMutableRawPointer) -> Void) -> ThreadHandle {
        // The C entry point can't capture `body`, so pass both through one heap cell.
        let cell = UnsafeMutablePointer<(UnsafeMutableRawPointer, @convention(c) (UnsafeMutableRawPointer) -> Void)>.allocate(capacity: 1)
        cell.initialize(to: (context, body))
        let entry: Body = { raw in
            #if canImport(Darwin)
            let cell = raw.assumingMemoryBound(to: (UnsafeMutableRawPointer, @convention(c) (UnsafeMutableRawPointer) -> Void).self)
            #else
            let cell = raw!.assumingMemoryBound(to: (UnsafeMutableRawPointer, @convention(c) (UnsafeMutableRawPointer) -> Void).self)
            #endif
            let (context, body) = cell.move()
            cell.deallocate()
            body(context)
            return nil
        }
        #if canImport(Darwin)
        var id: pthread_t?
        let rc = pthread_create(&id, nil, entry, cell)
        precondition(rc == 0 && id != nil, "pthread_create failed: \(rc)")
        return ThreadHandle(id: id!)
        #else
        var id = pthread_t()
        let rc = pthread_create(&id, nil, entry, cell)
        precondition(rc == 0, "pthread_create failed: \(rc)")
        return ThreadHandle(id: id)
        #endif
    }

    func join() {
        pthread_join(id, nil)
    }
}
