#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A real OS thread running a Swift closure, so blocking test code (pipe reads, hammering a
/// lock) never sits on the Swift concurrency pool.
final class TestThread: @unchecked Sendable {
    private var id: pthread_t?
    private let body: @Sendable () -> Void

    init(_ body: @escaping @Sendable () -> Void) {
        self.body = body
        let ctx = Unmanaged.passRetained(self).toOpaque()
        #if canImport(Darwin)
        var tid: pthread_t?
        let rc = pthread_create(&tid, nil, { raw in
            Unmanaged<TestThread>.fromOpaque(raw).takeRetainedValue().body(); return nil
        }, ctx)
        id = tid!
        #else
        var tid = pthread_t()
        let rc = pthread_create(&tid, nil, { raw in
            Unmanaged<TestThread>.fromOpaque(raw!).takeRetainedValue().body(); return nil
        }, ctx)
        id = tid
        #endif
        precondition(rc == 0)
    }

    func join() { pthread_join(id!, nil) }
}

/// Both ends of a pipe.
func makePipe() -> (read: Int32, write: Int32) {
    var fds: [Int32] = [0, 0]
    precondition(pipe(&fds) == 0)
    return (fds[0], fds[1])
}

/// Collects everything from `fd` until EOF on its own thread.
final class PipeDrain: @unchecked Sendable {
    private(set) var bytes: [UInt8] = []
    private var thread: TestThread?

    init(_ fd: Int32) {
        thread = TestThread { [self] in
            var chunk = [UInt8](repeating: 0, count: 65536)
            while true {
                let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                if n > 0 { bytes.append(contentsOf: chunk[0..<n]); continue }
                if n < 0 && errno == EINTR { continue }
                break
            }
        }
    }

    /// Waits for EOF; `bytes` is safe to read afterwards (pthread_join orders memory).
    func finish() -> [String] {
        thread?.join()
        thread = nil
        return bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
            .dropLast().map { String(decoding: $0, as: UTF8.self) }
    }
}

/// Runs `body` as a shell command; returns its exit status.
@discardableResult
func shell(_ command: String) -> Int32 {
    let status = system(command)
    return (status >> 8) & 0xff
}

func writeFile(_ path: String, _ text: String) {
    guard let f = fopen(path, "w") else { preconditionFailure("fopen \(path)") }
    _ = text.utf8CString.withUnsafeBufferPointer { fputs($0.baseAddress!, f) }
    fclose(f)
}
