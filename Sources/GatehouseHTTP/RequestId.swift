#if canImport(Glibc)
import Glibc
#endif

/// Request ids in the UUID v4 shape AWS uses for `x-amzn-RequestId`.
public enum RequestId {
    /// Wall-clock milliseconds since the epoch (`$context.requestTimeEpoch`).
    public static func epochMillis() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec / 1_000_000)
    }

    public static func make() -> String {
        var g = SystemRandomNumberGenerator()
        return format(hi: g.next(), lo: g.next())
    }

    /// The UUID v4 text of 128 random bits.
    public static func format(hi h: UInt64, lo l: UInt64) -> String {
        let hi = h & ~(0xF << 12) | (0x4 << 12)          // version 4
        let lo = l & ~(0x3 << 62) | (0x2 << 62)          // variant 10
        // 8-4-4-4-12 hex digits, two per byte, most significant first: dashes before bytes
        // 4, 6 and 8 (the first of `lo`) and 10.
        let digits: StaticString = "0123456789abcdef"
        let d = digits.utf8Start
        return String(unsafeUninitializedCapacity: 36) { out in
            var o = 0
            for k in 0..<16 {
                if k == 4 || k == 6 || k == 8 || k == 10 { out[o] = 0x2D; o += 1 }
                let b = UInt8(truncatingIfNeeded: (k < 8 ? hi : lo) >> UInt64(56 - 8 * (k & 7)))
                out[o] = d[Int(b >> 4)]
                out[o + 1] = d[Int(b & 0xF)]
                o += 2
            }
            return o
        }
    }
}

/// Request ids for one loop thread without a system call each: a wyrand generator seeded from
/// the system's random source. Ids need to be unique, not secret.
public struct RequestIdGenerator {
    private var state: UInt64

    public init() {
        var g = SystemRandomNumberGenerator()
        state = g.next()
    }

    private mutating func next() -> UInt64 {
        state &+= 0xA076_1D64_78BD_642F
        let m = state.multipliedFullWidth(by: state ^ 0xE703_7ED1_A0B4_28DB)
        return m.high ^ m.low
    }

    public mutating func make() -> String {
        RequestId.format(hi: next(), lo: next())
    }
}
