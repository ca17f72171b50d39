extension JSONValue {
    /// Compact serialization (no spaces), the form AWS services answer with.
    public func serialized() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(64)
        write(into: &out)
        return out
    }

    /// Compact serialization as a string.
    public var jsonText: String { String(decoding: serialized(), as: UTF8.self) }

    public func write(into out: inout [UInt8]) {
        switch self {
        case .null: out.append(contentsOf: "null".utf8)
        case .bool(let v): out.append(contentsOf: (v ? "true" : "false").utf8)
        case .int(let n): appendDecimal(Int(n), to: &out)
        case .double(let d):
            if d.isFinite, d == d.rounded(), abs(d) < 1e15 {
                out.append(contentsOf: String(Int64(d)).utf8)
                out.append(contentsOf: ".0".utf8)
            } else if d.isFinite {
                out.append(contentsOf: "\(d)".utf8)
            } else {
                out.append(contentsOf: "null".utf8)
            }
        case .string(let s): JSONValue.writeString(s, into: &out)
        case .array(let a):
            out.append(UInt8(ascii: "["))
            for (k, v) in a.enumerated() {
                if k > 0 { out.append(UInt8(ascii: ",")) }
                v.write(into: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let o):
            out.append(UInt8(ascii: "{"))
            var first = true
            for (k, v) in o.members {
                if !first { out.append(UInt8(ascii: ",")) }
                first = false
                JSONValue.writeString(k, into: &out)
                out.append(UInt8(ascii: ":"))
                v.write(into: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    /// Writes `s` as a JSON string literal with the mandatory escapes.
    public static func writeString(_ s: String, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        var s = s
        s.withUTF8 { bytes in
            // Two passes: the escaped length, then the bytes written in place.
            var length = 0
            for c in bytes { length += c >= 0x20 ? (c == 0x22 || c == 0x5C ? 2 : 1) : JSONValue.controlEscapeLength(c) }
            let base = out.count
            out.append(contentsOf: repeatElement(0, count: length))
            out.withUnsafeMutableBufferPointer { dst in
                var j = base
                for c in bytes {
                    if c >= 0x20 && c != 0x22 && c != 0x5C {
                        dst[j] = c
                        j += 1
                        continue
                    }
                    dst[j] = 0x5C
                    switch c {
                    case 0x22: dst[j + 1] = 0x22
                    case 0x5C: dst[j + 1] = 0x5C
                    case 0x0A: dst[j + 1] = UInt8(ascii: "n")
                    case 0x0D: dst[j + 1] = UInt8(ascii: "r")
                    case 0x09: dst[j + 1] = UInt8(ascii: "t")
                    case 0x08: dst[j + 1] = UInt8(ascii: "b")
                    case 0x0C: dst[j + 1] = UInt8(ascii: "f")
                    default:
                        let hex = c & 15
                        dst[j + 1] = UInt8(ascii: "u")
                        dst[j + 2] = 0x30
                        dst[j + 3] = 0x30
                        dst[j + 4] = 0x30 + (c >> 4)
                        dst[j + 5] = hex < 10 ? 0x30 + hex : 0x57 + hex
                        j += 6
                        continue
                    }
                    j += 2
                }
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    /// How long the escape of a control byte is: `\n` and its kind, or `\u00XX`.
    @inline(__always)
    static func controlEscapeLength(_ c: UInt8) -> Int {
        switch c {
        case 0x0A, 0x0D, 0x09, 0x08, 0x0C: return 2
        default: return 6
        }
    }

    /// `s` as a JSON string literal.
    public static func quoted(_ s: String) -> String {
        var out: [UInt8] = []
        writeString(s, into: &out)
        return String(decoding: out, as: UTF8.self)
    }
}

/// Appends the decimal digits of `n` (a minus sign first when negative), without a String.
public func appendDecimal(_ n: Int, to out: inout [UInt8]) {
    if n == 0 { out.append(0x30); return }
    if n < 0 { out.append(0x2D) }
    var v = n.magnitude
    var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                 UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
        (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
    var count = 0
    withUnsafeMutableBytes(of: &digits) { d in
        while v > 0 {
            d[count] = UInt8(v % 10) + 0x30
            v /= 10
            count += 1
        }
        for k in stride(from: count - 1, through: 0, by: -1) { out.append(d[k]) }
    }
}
