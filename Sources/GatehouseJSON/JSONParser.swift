/// A malformed JSON text: what was wrong and the byte offset where it was seen.
public struct JSONParseError: Error, Sendable, Equatable, CustomStringConvertible {
    public var reason: String
    public var offset: Int
    public var description: String { "\(reason) at offset \(offset)" }
}

extension JSONValue {
    /// Parses one JSON text (RFC 8259) from bytes. Nesting deeper than `maxDepth` is refused
    /// rather than recursed into, so hostile input cannot exhaust the stack.
    public static func parse(_ bytes: [UInt8], maxDepth: Int = 512) throws(JSONParseError) -> JSONValue {
        try bytes.withUnsafeBufferPointer { buf throws(JSONParseError) in
            var p = JSONByteParser(buf, maxDepth: maxDepth)
            p.skipSpace()
            let v = try p.value(depth: 0)
            p.skipSpace()
            if p.i != buf.count { throw p.fail("unexpected trailing data") }
            return v
        }
    }

    /// Parses a JSON text given as a string.
    public static func parse(_ text: String) throws(JSONParseError) -> JSONValue {
        try parse(Array(text.utf8))
    }
}

struct JSONByteParser {
    let b: UnsafeBufferPointer<UInt8>
    var i = 0
    let maxDepth: Int

    init(_ b: UnsafeBufferPointer<UInt8>, maxDepth: Int) {
        self.b = b
        self.maxDepth = maxDepth
    }

    func fail(_ reason: String) -> JSONParseError { JSONParseError(reason: reason, offset: i) }

    mutating func skipSpace() {
        while i < b.count, b[i] == 0x20 || b[i] == 0x0A || b[i] == 0x0D || b[i] == 0x09 { i += 1 }
    }

    mutating func expect(_ word: StaticString, _ v: JSONValue) throws(JSONParseError) -> JSONValue {
        let n = word.utf8CodeUnitCount
        guard i + n <= b.count else { throw fail("unexpected end of input") }
        let w = word.utf8Start
        for k in 0..<n where b[i + k] != w[k] { throw fail("invalid literal") }
        i += n
        return v
    }

    mutating func value(depth: Int) throws(JSONParseError) -> JSONValue {
        guard depth < maxDepth else { throw fail("nesting too deep") }
        guard i < b.count else { throw fail("unexpected end of input") }
        switch b[i] {
        case UInt8(ascii: "{"):
            i += 1
            var obj = JSONObject()
            skipSpace()
            if i < b.count, b[i] == UInt8(ascii: "}") { i += 1; return .object(obj) }
            while true {
                skipSpace()
                guard i < b.count, b[i] == UInt8(ascii: "\"") else { throw fail("expected a string key") }
                let key = try string()
                skipSpace()
                guard i < b.count, b[i] == UInt8(ascii: ":") else { throw fail("expected ':'") }
                i += 1
                skipSpace()
                obj[key] = try value(depth: depth + 1)
                skipSpace()
                guard i < b.count else { throw fail("unexpected end of input") }
                if b[i] == UInt8(ascii: ",") { i += 1; continue }
                if b[i] == UInt8(ascii: "}") { i += 1; return .object(obj) }
                throw fail("expected ',' or '}'")
            }
        case UInt8(ascii: "["):
            i += 1
            var arr: [JSONValue] = []
            skipSpace()
            if i < b.count, b[i] == UInt8(ascii: "]") { i += 1; return .array(arr) }
            while true {
                skipSpace()
                arr.append(try value(depth: depth + 1))
                skipSpace()
                guard i < b.count else { throw fail("unexpected end of input") }
                if b[i] == UInt8(ascii: ",") { i += 1; continue }
                if b[i] == UInt8(ascii: "]") { i += 1; return .array(arr) }
                throw fail("expected ',' or ']'")
            }
        case UInt8(ascii: "\""):
            return .string(try string())
        case UInt8(ascii: "t"): return try expect("true", .bool(true))
        case UInt8(ascii: "f"): return try expect("false", .bool(false))
        case UInt8(ascii: "n"): return try expect("null", .null)
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return try number()
        default:
            throw fail("unexpected character")
        }
    }

    mutating func digits() -> Int {
        let start = i
        while i < b.count, b[i] >= 0x30, b[i] <= 0x39 { i += 1 }
        return i - start
    }

    mutating func number() throws(JSONParseError) -> JSONValue {
        let start = i
        if b[i] == UInt8(ascii: "-") { i += 1 }
        guard i < b.count else { throw fail("invalid number") }
        if b[i] == UInt8(ascii: "0") {
            i += 1
        } else if digits() == 0 {
            throw fail("invalid number")
        }
        var isInteger = true
        if i < b.count, b[i] == UInt8(ascii: ".") {
            i += 1
            isInteger = false
            if digits() == 0 { throw fail("invalid number") }
        }
        if i < b.count, b[i] == UInt8(ascii: "e") || b[i] == UInt8(ascii: "E") {
            i += 1
            isInteger = false
            if i < b.count, b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-") { i += 1 }
            if digits() == 0 { throw fail("invalid number") }
        }
        let text = String(decoding: UnsafeBufferPointer(rebasing: b[start..<i]), as: UTF8.self)
        if isInteger, let n = Int64(text) { return .int(n) }
        guard let d = Double(text) else { throw fail("invalid number") }
        return .double(d)
    }

    mutating func string() throws(JSONParseError) -> String {
        try JSONStringLiteral.decode(b, at: &i)
    }
}

/// JSON string literals, decoded: shared by every JSON reader in the project.
public enum JSONStringLiteral {
    /// Decodes the string literal whose opening quote is at `i`, leaving `i` after the closing
    /// quote. A lone surrogate escape becomes U+FFFD (and an escape after it stays its own
    /// character); control bytes, unknown escapes and a missing closing quote are refused.
    public static func decode(_ b: UnsafeBufferPointer<UInt8>, at i: inout Int) throws(JSONParseError) -> String {
        i += 1  // opening quote
        let start = i
        // Fast path: no escapes.
        while i < b.count {
            let c = b[i]
            if c == UInt8(ascii: "\"") {
                let s = String(decoding: UnsafeBufferPointer(rebasing: b[start..<i]), as: UTF8.self)
                i += 1
                return s
            }
            if c == UInt8(ascii: "\\") { break }
            if c < 0x20 { throw JSONParseError(reason: "control character in string", offset: i) }
            i += 1
        }
        // Escapes: decoded straight into the string's storage. An escape is never shorter than
        // what it stands for, so the source's length up to the closing quote bounds the text.
        var end = i
        while end < b.count, b[end] != UInt8(ascii: "\"") { end += b[end] == UInt8(ascii: "\\") ? 2 : 1 }
        var failure: JSONParseError?
        var k = i
        let text = decoded(capacity: min(end, b.count) - start) { out in
            var n = k - start
            for j in 0..<n { out[j] = b[start + j] }
            func put(_ scalar: UInt32) {
                for unit in UTF8.encode(Unicode.Scalar(scalar) ?? "\u{FFFD}")! {
                    out[n] = unit
                    n += 1
                }
            }
            while k < b.count {
                let c = b[k]
                if c == UInt8(ascii: "\"") {
                    k += 1
                    return n
                }
                if c < 0x20 {
                    failure = JSONParseError(reason: "control character in string", offset: k)
                    return 0
                }
                if c != UInt8(ascii: "\\") {
                    out[n] = c
                    n += 1
                    k += 1
                    continue
                }
                k += 1
                guard k < b.count else { break }
                let e = b[k]
                k += 1
                let plain: UInt8
                switch e {
                case UInt8(ascii: "\""): plain = 0x22
                case UInt8(ascii: "\\"): plain = 0x5C
                case UInt8(ascii: "/"): plain = 0x2F
                case UInt8(ascii: "b"): plain = 0x08
                case UInt8(ascii: "f"): plain = 0x0C
                case UInt8(ascii: "n"): plain = 0x0A
                case UInt8(ascii: "r"): plain = 0x0D
                case UInt8(ascii: "t"): plain = 0x09
                case UInt8(ascii: "u"):
                    guard var scalar = hex4(b, k) else {
                        failure = JSONParseError(reason: "invalid \\u escape", offset: k)
                        return 0
                    }
                    k += 4
                    if scalar >= 0xD800, scalar < 0xDC00,
                       k + 1 < b.count, b[k] == UInt8(ascii: "\\"), b[k + 1] == UInt8(ascii: "u") {
                        guard let low = hex4(b, k + 2) else {
                            failure = JSONParseError(reason: "invalid \\u escape", offset: k + 2)
                            return 0
                        }
                        k += 6
                        if low >= 0xDC00, low < 0xE000 {
                            scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                        } else {
                            put(0xFFFD)
                            scalar = low
                        }
                    }
                    put(scalar)
                    continue
                default:
                    failure = JSONParseError(reason: "invalid escape", offset: k)
                    return 0
                }
                out[n] = plain
                n += 1
            }
            failure = JSONParseError(reason: "unterminated string", offset: k)
            return 0
        }
        i = k
        if let failure { throw failure }
        return text
    }

    /// The string `fill` writes into a scratch buffer of `capacity` bytes (on the stack when
    /// small), returning how many it wrote. Cheaper than String(unsafeUninitializedCapacity:)
    /// for the short strings JSON is made of; invalid UTF-8 is repaired the same way.
    @inline(__always)
    static func decoded(capacity: Int, _ fill: (UnsafeMutableBufferPointer<UInt8>) -> Int) -> String {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: max(capacity, 1)) { out in
            let n = fill(out)
            return String(decoding: UnsafeBufferPointer(rebasing: out[..<n]), as: UTF8.self)
        }
    }

    /// Four hex digits at `at`, or nil.
    static func hex4(_ b: UnsafeBufferPointer<UInt8>, _ at: Int) -> UInt32? {
        guard at + 4 <= b.count else { return nil }
        var v: UInt32 = 0
        for j in at..<(at + 4) {
            let c = b[j]
            let d: UInt32
            switch c {
            case 0x30...0x39: d = UInt32(c - 0x30)
            case 0x41...0x46: d = UInt32(c - 0x41 + 10)
            case 0x61...0x66: d = UInt32(c - 0x61 + 10)
            default: return nil
            }
            v = v << 4 | d
        }
        return v
    }
}
