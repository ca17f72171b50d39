// Byte scans for the parsers' hottest loops, eight bytes at a time.
//
// Each 8-byte word is tested with the "has a zero byte" bit trick: (w - 0x01…01) & ~w & 0x80…80
// marks the bytes of `w` that are zero. A mark can also appear above a true zero byte (a
// borrow), never below one, so the lowest mark — read little-endian with trailingZeroBitCount —
// is exactly the first match. The same trick with 0x20…20 marks bytes below 0x20.

enum ByteScan {
    private static let ones: UInt64 = 0x0101_0101_0101_0101
    private static let highs: UInt64 = 0x8080_8080_8080_8080

    /// Marks the bytes of `w` equal to zero (the lowest mark is exact).
    @inline(__always)
    private static func zeroBytes(_ w: UInt64) -> UInt64 {
        (w &- ones) & ~w & highs
    }

    @inline(__always)
    private static func word(_ p: UnsafePointer<UInt8>, _ i: Int) -> UInt64 {
        UInt64(littleEndian: UnsafeRawPointer(p + i).loadUnaligned(as: UInt64.self))
    }

    /// The index of the first CR or LF in `p[from..<to]`, or `to`.
    @inline(__always)
    static func firstCRorLF(_ p: UnsafePointer<UInt8>, from: Int, to: Int) -> Int {
        var i = from
        while i + 8 <= to {
            let w = word(p, i)
            let marks = zeroBytes(w ^ (0x0D &* ones)) | zeroBytes(w ^ (0x0A &* ones))
            if marks != 0 { return i + marks.trailingZeroBitCount >> 3 }
            i += 8
        }
        while i < to && p[i] != 0x0D && p[i] != 0x0A { i += 1 }
        return i
    }

    /// Whether every byte of `p[from..<to]` may appear in a header field's value: VCHAR,
    /// obs-text, SP or HTAB (RFC 9110 field-content; no other control character, no DEL).
    @inline(__always)
    static func isFieldValue(_ p: UnsafePointer<UInt8>, from: Int, to: Int) -> Bool {
        var i = from
        while i + 8 <= to {
            let w = word(p, i)
            // Any word holding a byte below 0x20 or a DEL gets a mark (a borrow can add false
            // ones, never hide the lowest true one).
            let suspicious = ((w &- (0x20 &* ones)) & ~w & highs) | zeroBytes(w ^ (0x7F &* ones))
            if suspicious != 0 {
                // A tab is allowed, and a mark may be false: decide byte by byte.
                for k in i..<(i + 8) where !isFieldValueByte(p[k]) { return false }
            }
            i += 8
        }
        while i < to {
            if !isFieldValueByte(p[i]) { return false }
            i += 1
        }
        return true
    }

    @inline(__always)
    static func isFieldValueByte(_ b: UInt8) -> Bool {
        b >= 0x20 && b != 0x7F || b == 0x09
    }
}
