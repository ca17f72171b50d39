#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import GatehouseObserve
import Testing

@Suite struct LogWriterTests {
    @Test func linesArriveInOrder() {
        let p = makePipe()
        let drain = PipeDrain(p.read)
        let writer = LogWriter(fd: p.write)
        let expected = (0..<20_000).map { "line \($0) \(String(repeating: "x", count: $0 % 97))" }
        for (i, l) in expected.enumerated() {
            // Mix lines with and without their own newline: exactly one ends up on the wire.
            writer.write(Array(l.utf8) + (i % 2 == 0 ? [UInt8(ascii: "\n")] : []))
        }
        writer.flushAndStop()
        close(p.write)
        #expect(drain.finish() == expected)
        #expect(writer.droppedLines == 0)
        close(p.read)
    }

    /// Four producers at once: every line arrives whole, each thread's lines in its own order.
    @Test func concurrentWritersDoNotInterleave() {
        let p = makePipe()
        let drain = PipeDrain(p.read)
        let writer = LogWriter(fd: p.write)
        let perThread = 10_000
        let threads = (0..<4).map { t in
            TestThread {
                let pad = String(repeating: String(UnicodeScalar(UInt8(ascii: "a") + UInt8(t))), count: 150)
                for i in 0..<perThread { writer.write(Array("t\(t) \(i) \(pad)".utf8)) }
            }
        }
        threads.forEach { $0.join() }
        writer.flushAndStop()
        close(p.write)
        let lines = drain.finish()
        close(p.read)

        #expect(lines.count == 4 * perThread)
        var next = [0, 0, 0, 0]
        var malformed = 0
        for l in lines {
            let parts = l.split(separator: " ")
            guard parts.count == 3, parts[0].hasPrefix("t"), let t = Int(parts[0].dropFirst()), (0..<4).contains(t),
                  let i = Int(parts[1]), i == next[t],
                  parts[2] == String(repeating: String(UnicodeScalar(UInt8(ascii: "a") + UInt8(t))), count: 150)
            else { malformed += 1; continue }
            next[t] += 1
        }
        #expect(malformed == 0)
        #expect(next == [perThread, perThread, perThread, perThread])
    }

    /// Nobody reads the pipe: the writer thread blocks in write(2) once the pipe is full, yet
    /// `write` keeps returning at once and the overflow is counted, not waited for.
    @Test func stalledReaderDropsInsteadOfBlocking() {
        let p = makePipe()
        let writer = LogWriter(fd: p.write, maxQueuedBytes: 64 << 10)
        let total = 50_000
        let line = [UInt8](repeating: UInt8(ascii: "z"), count: 99)
        let clock = ContinuousClock()
        let elapsed = clock.measure {
            for _ in 0..<total { writer.write(line) }
        }
        #expect(elapsed < .seconds(2), "write() took \(elapsed) with a stalled reader")
        let dropped = writer.droppedLines
        // 5 MB offered against a 64 KiB budget plus a 64 KiB pipe: most must be dropped.
        #expect(dropped > total / 2)

        let drain = PipeDrain(p.read)
        writer.flushAndStop()
        close(p.write)
        let received = drain.finish()
        close(p.read)
        #expect(received.count == total - dropped)
        #expect(received.allSatisfy { $0.utf8.count == 99 })
        #expect(writer.droppedLines == dropped)
    }

    /// The reader has gone: write(2) fails with EPIPE. The process must survive (SIGPIPE is
    /// blocked on the writer thread) and the lost lines are counted.
    @Test func closedReaderCountsLostLines() {
        let p = makePipe()
        close(p.read)
        let writer = LogWriter(fd: p.write)
        for i in 0..<3 { writer.write(Array("gone \(i)".utf8)) }
        writer.flushAndStop()
        #expect(writer.droppedLines == 3)
        writer.write(Array("after stop".utf8))
        #expect(writer.droppedLines == 4)
        writer.flushAndStop()
        close(p.write)
    }
}
