/// JSON read straight into template values, as json-smart reads it for Jayway: objects keep
/// their order, whole numbers are Integer/Long (BigInteger, kept as digits, beyond 64 bits),
/// numbers with a fraction or exponent are Double.
struct VTLJSONParser {
    let b: [UInt8]
    var i = 0
    var depth = 0
    /// The last object's keys: sibling objects (an array of records) usually share them, and
    /// then share one array.
    var lastKeys: [String] = []
    /// Scratch stacks: a container's members collect here and are copied out once, at their
    /// final size, instead of growing an array per container.
    var valueStack: [VTLValue] = []
    var keyStack: [String] = []

    struct Failure: Error {}

    static func parse(_ text: String) -> VTLValue? {
        var p = VTLJSONParser(b: Array(text.utf8))
        guard let v = try? p.value() else { return nil }
        p.space()
        return p.i == p.b.count ? v : nil
    }

    @inline(__always)
    mutating func space() {
        while i < b.count && (b[i] == 0x20 || b[i] == 0x09 || b[i] == 0x0A || b[i] == 0x0D) { i += 1 }
    }

    mutating func value() throws(Failure) -> VTLValue {
        space()
        guard i < b.count else { throw Failure() }
        switch b[i] {
        case 0x7B:
            depth += 1
            defer { depth -= 1 }
            if depth > 512 { throw Failure() }
            i += 1
            space()
            if i < b.count && b[i] == 0x7D { i += 1; return .map(VTLMap()) }
            let base = valueStack.count
            let keyBase = keyStack.count
            while true {
                space()
                guard i < b.count, b[i] == 0x22 else { throw Failure() }
                let k = try string()
                space()
                guard i < b.count, b[i] == 0x3A else { throw Failure() }
                i += 1
                keyStack.append(k)
                let v = try value()
                valueStack.append(v)
                space()
                guard i < b.count else { throw Failure() }
                if b[i] == 0x2C { i += 1; continue }
                if b[i] == 0x7D {
                    i += 1
                    let keys: [String]
                    if keyStack[keyBase...].elementsEqual(lastKeys) {
                        keys = lastKeys
                    } else {
                        keys = Array(keyStack[keyBase...])
                        lastKeys = keys
                    }
                    let vals = Array(valueStack[base...])
                    keyStack.removeSubrange(keyBase...)
                    valueStack.removeSubrange(base...)
                    return .map(VTLMap(keys: keys, values: vals))
                }
                throw Failure()
            }
        case 0x5B:
            depth += 1
            defer { depth -= 1 }
            if depth > 512 { throw Failure() }
            i += 1
            space()
            if i < b.count && b[i] == 0x5D { i += 1; return .list(VTLList([], jsonArray: true)) }
            let base = valueStack.count
            while true {
                let v = try value()
                valueStack.append(v)
                space()
                guard i < b.count else { throw Failure() }
                if b[i] == 0x2C { i += 1; continue }
                if b[i] == 0x5D {
                    i += 1
                    let items = Array(valueStack[base...])
                    valueStack.removeSubrange(base...)
                    return .list(VTLList(items, jsonArray: true))
                }
                throw Failure()
            }
        case 0x22:
            return .string(try string())
        case 0x74:
            try literal("true")
            return .bool(true)
        case 0x66:
            try literal("false")
            return .bool(false)
        case 0x6E:
            try literal("null")
            return .null
        default:
            return try number()
        }
    }

    mutating func literal(_ w: String) throws(Failure) {
        let u = Array(w.utf8)
        guard i + u.count <= b.count, Array(b[i..<(i + u.count)]) == u else { throw Failure() }
        i += u.count
    }

    mutating func number() throws(Failure) -> VTLValue {
        let start = i
        if i < b.count && b[i] == 0x2D { i += 1 }
        let intStart = i
        while i < b.count && isDigit(b[i]) { i += 1 }
        guard i > intStart else { throw Failure() }
        var isFloat = false
        if i < b.count && b[i] == 0x2E {
            isFloat = true
            i += 1
            let f = i
            while i < b.count && isDigit(b[i]) { i += 1 }
            guard i > f else { throw Failure() }
        }
        if i < b.count && (b[i] == 0x65 || b[i] == 0x45) {
            isFloat = true
            i += 1
            if i < b.count && (b[i] == 0x2B || b[i] == 0x2D) { i += 1 }
            let e = i
            while i < b.count && isDigit(b[i]) { i += 1 }
            guard i > e else { throw Failure() }
        }
        if !isFloat && i - start <= 18 {
            // Whole numbers that fit: read from the bytes, no String.
            var n = 0
            var k = start
            let negative = b[k] == 0x2D
            if negative { k += 1 }
            while k < i { n = n * 10 + Int(b[k] - 0x30); k += 1 }
            return .int(negative ? -n : n)
        }
        if isFloat, let d = fastDecimal(start, i) { return .double(d) }
        let text = String(decoding: b[start..<i], as: UTF8.self)
        if isFloat { return .double(Double(text) ?? 0) }
        if let n = Int(text) { return .int(n) }
        return .bigInt(text)
    }

    /// `-123.45` (no exponent, at most 15 significant digits) without strtod: the digits as an
    /// exact integer divided by an exact power of ten is correctly rounded (Clinger's fast path).
    func fastDecimal(_ start: Int, _ end: Int) -> Double? {
        var k = start
        let negative = b[k] == 0x2D
        if negative { k += 1 }
        var mantissa: UInt64 = 0
        var digits = 0
        var scale = 0
        var seenDot = false
        while k < end {
            let c = b[k]
            if c == 0x2E { seenDot = true; k += 1; continue }
            guard c >= 0x30 && c <= 0x39 else { return nil }
            mantissa = mantissa * 10 + UInt64(c - 0x30)
            if mantissa > 0 { digits += 1 }
            if seenDot { scale += 1 }
            k += 1
        }
        guard digits <= 15, scale <= 22 else { return nil }
        let v = Double(mantissa) / VTLJSONParser.powersOfTen[scale]
        return negative ? -v : v
    }

    static let powersOfTen: [Double] = (0...22).map { e in
        var p = 1.0
        for _ in 0..<e { p *= 10 }
        return p
    }

    mutating func string() throws(Failure) -> String {
        i += 1
        // Fast path: no escape before the closing quote.
        var k = i
        while k < b.count && b[k] != 0x22 && b[k] != 0x5C && b[k] >= 0x20 { k += 1 }
        if k < b.count && b[k] == 0x22 {
            let s = b.withUnsafeBufferPointer { String(decoding: UnsafeBufferPointer(rebasing: $0[i..<k]), as: UTF8.self) }
            i = k + 1
            return s
        }
        var out: [UInt8] = []
        while true {
            guard i < b.count else { throw Failure() }
            let c = b[i]
            if c == 0x22 { i += 1; break }
            if c == 0x5C {
                guard i + 1 < b.count else { throw Failure() }
                let e = b[i + 1]
                i += 2
                switch e {
                case 0x22: out.append(0x22)
                case 0x5C: out.append(0x5C)
                case 0x2F: out.append(0x2F)
                case 0x62: out.append(0x08)
                case 0x66: out.append(0x0C)
                case 0x6E: out.append(0x0A)
                case 0x72: out.append(0x0D)
                case 0x74: out.append(0x09)
                case 0x75:
                    var cp = try hex4()
                    if cp >= 0xD800 && cp < 0xDC00, i + 1 < b.count, b[i] == 0x5C, b[i + 1] == 0x75 {
                        i += 2
                        let lo = try hex4()
                        if lo >= 0xDC00 && lo < 0xE000 {
                            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00)
                        } else {
                            out.append(contentsOf: utf8(0xFFFD))
                            cp = lo
                        }
                    }
                    out.append(contentsOf: utf8(cp))
                default: throw Failure()
                }
                continue
            }
            if c < 0x20 { throw Failure() }
            out.append(c)
            i += 1
        }
        return String(decoding: out, as: UTF8.self)
    }

    mutating func hex4() throws(Failure) -> UInt32 {
        guard i + 4 <= b.count else { throw Failure() }
        var v: UInt32 = 0
        for k in i..<(i + 4) {
            guard let h = hexValue(b[k]) else { throw Failure() }
            v = v << 4 | UInt32(h)
        }
        i += 4
        return v
    }

    func utf8(_ cp: UInt32) -> [UInt8] {
        guard let s = Unicode.Scalar(cp) else { return [0xEF, 0xBF, 0xBD] }
        return Array(String(Character(s)).utf8)
    }
}

/// The body parse on its own (for the benchmark's breakdown).
public func parseBodyForBench(_ text: String) -> VTLValue {
    VTLJSONParser.parse(text) ?? .null
}
