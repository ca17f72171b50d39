import GatehouseJSON

/// A value as a Velocity template sees it, modelled on the Java objects API Gateway's engine
/// works with: `String`, `Integer`/`Long`, `Double`, `Boolean`, `ArrayList` and json-smart's
/// `JSONArray` (which prints as JSON), `LinkedHashMap` (which prints Java-style `{k=v}`), and
/// a few host objects (`$input`, `$util`, `$foreach`, …).
public enum VTLValue {
    case null
    case string(String)
    case int(Int)
    /// An integer too large for 64 bits, kept as its digits (json-smart's BigInteger).
    case bigInt(String)
    /// A decimal json-smart keeps exact (written in more than 18 characters), as
    /// BigDecimal.toString prints it. Arithmetic and comparison read it as a double.
    case bigDecimal(String)
    case double(Double)
    case bool(Bool)
    case list(VTLList)
    case map(VTLMap)
    case object(VTLObject)

    public var isNull: Bool {
        if case .null = self { return true }
        return false
    }

    /// Java's `String.valueOf(x)`: what rendering the value writes.
    public var javaString: String { javaString(depth: 0) }

    /// Nesting is bounded: a map a template put inside itself would otherwise recurse until
    /// the stack ran out (Java answers StackOverflowError; here the innermost prints as `…`).
    func javaString(depth: Int) -> String {
        if depth > 256 { return "…" }
        switch self {
        case .null: return "null"
        case .string(let s): return s
        case .int(let n): return String(n)
        case .bigInt(let d), .bigDecimal(let d): return d
        case .double(let d): return javaDouble(d)
        case .bool(let b): return b ? "true" : "false"
        case .list(let l): return l.javaString(depth: depth + 1)
        case .map(let m): return m.javaString(depth: depth + 1)
        case .object(let o): return o.javaString
        }
    }

    /// Velocity's truth: null and false are false, anything else true.
    var truthy: Bool {
        switch self {
        case .null: return false
        case .bool(let b): return b
        default: return true
        }
    }

    var isNumber: Bool {
        switch self {
        case .int, .double, .bigInt, .bigDecimal: return true
        default: return false
        }
    }

    var numberAsDouble: Double? {
        switch self {
        case .int(let n): return Double(n)
        case .double(let d): return d
        case .bigInt(let s), .bigDecimal(let s): return Double(s)
        default: return nil
        }
    }

    /// A Java class name, for the cases where Velocity compares classes.
    var javaClass: String {
        switch self {
        case .null: return "null"
        case .string: return "String"
        case .int: return "Integer"
        case .bigInt: return "BigInteger"
        case .bigDecimal: return "BigDecimal"
        case .double: return "Double"
        case .bool: return "Boolean"
        case .list(let l): return l.jsonArray ? "JSONArray" : "ArrayList"
        case .map: return "LinkedHashMap"
        case .object(let o): return o.javaClass
        }
    }

    /// Converts parsed JSON the way json-smart builds it for Jayway: objects become ordered
    /// maps, arrays JSON arrays, whole numbers Integer/Long (BigInteger beyond), others Double.
    public init(json: JSONValue) {
        switch json {
        case .null: self = .null
        case .bool(let b): self = .bool(b)
        case .int(let n): self = .int(Int(n))
        case .double(let d): self = .double(d)
        case .string(let s): self = .string(s)
        case .array(let a): self = .list(VTLList(a.map(VTLValue.init(json:)), jsonArray: true))
        case .object(let o):
            let m = VTLMap()
            for (k, v) in o.members { m.put(k, VTLValue(json: v)) }
            self = .map(m)
        }
    }
}

/// A host object: `$input`, `$util`, `$foreach`, a map entry, a `#define` block.
public protocol VTLObject: AnyObject {
    /// nil when the object has no such property.
    func property(_ name: String, _ r: VTLRenderer) -> VTLValue?
    /// nil when the object has no such method.
    func call(_ name: String, _ args: [VTLValue], _ r: VTLRenderer) throws -> VTLValue?
    func javaString(_ r: VTLRenderer?) -> String
    var javaClass: String { get }
}

extension VTLObject {
    var javaString: String { javaString(nil) }
}

/// `ArrayList` (prints `[a, b]`) or json-smart `JSONArray` (prints compact JSON).
public final class VTLList {
    public var items: [VTLValue]
    public let jsonArray: Bool
    /// A Java array (`String.split`'s result): Velocity lists it, but printing it gives Java's
    /// `[Ljava.lang.String;@<identity hash>`.
    var javaArray = false

    public init(_ items: [VTLValue], jsonArray: Bool = false) {
        self.items = items
        self.jsonArray = jsonArray
    }

    func javaString(depth: Int) -> String {
        if jsonArray { return jsonText(.list(self)) }
        if javaArray {
            // The hash is Java's identity hash, different each run; any value stands for it.
            let h = UInt32(truncatingIfNeeded: ObjectIdentifier(self).hashValue) & 0x7FFF_FFFF
            return "[Ljava.lang.String;@" + String(h, radix: 16)
        }
        return "[" + items.map { $0.javaString(depth: depth) }.joined(separator: ", ") + "]"
    }
}

/// `LinkedHashMap`: insertion-ordered, prints `{k=v, …}`. Small maps (JSON objects usually
/// are) are searched linearly, which beats hashing every key; a dictionary index is built
/// once a map grows past a dozen keys.
public final class VTLMap {
    public private(set) var keys: [String] = []
    private var vals: [VTLValue] = []
    private var index: [String: Int]?

    public init() {}

    /// A map whose keys are known to be distinct (shared with a sibling JSON object).
    init(distinctKeys keys: [String], values: [VTLValue]) {
        self.keys = keys
        self.vals = values
        if keys.count > 12 { rebuildIndex() }
    }

    /// A map from parallel key and value arrays (a JSON object as parsed); a repeated key
    /// keeps its first position and last value, as a LinkedHashMap does.
    convenience init(keys: [String], values: [VTLValue]) {
        var unique = true
        if keys.count <= 12 {
            outer: for i in keys.indices {
                for j in 0..<i where keys[j] == keys[i] { unique = false; break outer }
            }
        } else {
            unique = Set(keys).count == keys.count
        }
        if unique {
            self.init(distinctKeys: keys, values: values)
        } else {
            self.init()
            for (k, v) in zip(keys, values) { put(k, v) }
        }
    }

    /// A dictionary from key to position, once a map is past a dozen keys.
    private func rebuildIndex() {
        var d: [String: Int] = [:]
        for (i, k) in keys.enumerated() { d[k] = i }
        index = d
    }

    public var count: Int { keys.count }

    private func slot(_ key: String) -> Int? {
        if let index { return index[key] }
        // Equal short strings have equal bits (a small string holds its UTF-8 bytes inline),
        // so a bitwise pass finds the usual key without String's general comparison; the
        // general pass then settles misses and long keys.
        let bits = unsafeBitCast(key, to: (UInt64, UInt64).self)
        for i in keys.indices where unsafeBitCast(keys[i], to: (UInt64, UInt64).self) == bits { return i }
        for i in keys.indices where keys[i] == key { return i }
        return nil
    }

    public func get(_ key: String) -> VTLValue? {
        guard let i = slot(key) else { return nil }
        return vals[i]
    }

    /// Returns the previous value (Java's `put`).
    @discardableResult
    public func put(_ key: String, _ value: VTLValue) -> VTLValue {
        if let i = slot(key) {
            let old = vals[i]
            vals[i] = value
            return old
        }
        keys.append(key)
        vals.append(value)
        if index != nil {
            index![key] = keys.count - 1
        } else if keys.count > 12 {
            rebuildIndex()
        }
        return .null
    }

    @discardableResult
    public func remove(_ key: String) -> VTLValue {
        guard let i = slot(key) else { return .null }
        let old = vals.remove(at: i)
        keys.remove(at: i)
        if index != nil { rebuildIndex() }
        return old
    }

    public func clear() {
        keys = []
        vals = []
        index = nil
    }

    public var entries: [(String, VTLValue)] { Array(zip(keys, vals)) }

    func javaString(depth: Int) -> String {
        var out = "{"
        for i in keys.indices {
            if i > 0 { out += ", " }
            out += keys[i]
            out += "="
            out += vals[i].javaString(depth: depth)
        }
        return out + "}"
    }
}

// MARK: - Java number printing

/// Java's `Double.toString`: plain decimal for 1e-3 ≤ |d| < 1e7 (always with a fraction
/// digit), otherwise `d.dddE±n`; the shortest digits that read back as the same double.
/// Appends `javaDouble(d)`'s bytes. A value written with at most four decimals and under 10^7
/// (prices, quantities) is written from its scaled integer, without building the shortest
/// digits through a String: when `m / 10^k` converts back to exactly `d` for the smallest
/// such k, those digits are the shortest that round-trip (the spacing of doubles below 10^7
/// is far finer than 10^-4, so no other k-decimal string does), which is what Java prints.
func appendJavaDouble(_ d: Double, to out: inout [UInt8]) {
    let magnitude = abs(d)
    if magnitude >= 1e-3 && magnitude < 1e7 {
        var scale = 1.0
        for k in 0...4 {
            // Nearest integer by truncation (the product is below 10^11): no call to round().
            let m = UInt64(magnitude * scale + 0.5)
            if Double(m) / scale == magnitude {
                if d < 0 { out.append(0x2D) }
                appendScaled(m, decimals: k, to: &out)
                return
            }
            scale *= 10
        }
    }
    out.append(contentsOf: javaDouble(d).utf8)
}

/// `m / 10^decimals` in plain digits with at least one decimal ("0.05", "12.0").
@inline(__always)
private func appendScaled(_ m: UInt64, decimals: Int, to out: inout [UInt8]) {
    var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)   // 24 bytes: room for 20 digits
    var v = m
    var n = 0
    withUnsafeMutableBytes(of: &digits) { d in
        repeat {
            d[n] = UInt8(v % 10) + 0x30
            v /= 10
            n += 1
        } while v > 0 || n <= decimals   // at least one digit before the point
        var k = n - 1
        while k >= decimals {
            out.append(d[k])
            k -= 1
        }
        out.append(0x2E)
        if decimals == 0 {
            out.append(0x30)
        } else {
            while k >= 0 {
                out.append(d[k])
                k -= 1
            }
        }
    }
}

func javaDouble(_ d: Double) -> String {
    if d.isNaN { return "NaN" }
    if d.isInfinite { return d < 0 ? "-Infinity" : "Infinity" }
    if d == 0 { return d.sign == .minus ? "-0.0" : "0.0" }
    if abs(d) >= 1e-3 && abs(d) < 1e7 {
        // Here Swift's shortest form is Java's: plain digits with at least one decimal.
        return d.description
    }
    let (digits, exponent) = shortestDigits(abs(d))   // value = 0.d1d2d3… × 10^exponent
    let sign = d < 0 ? "-" : ""
    let first = digits.prefix(1)
    var rest = String(digits.dropFirst())
    if rest.isEmpty { rest = "0" }
    return sign + first + "." + rest + "E" + String(exponent - 1)
}

/// The shortest round-tripping decimal digits of a positive finite double and the exponent
/// `e` with value = 0.digits × 10^e, taken from Swift's (shortest) description.
func shortestDigits(_ d: Double) -> (String, Int) {
    let text = d.description   // e.g. "1.5", "1e-05", "1.2345e+20", "123.0"
    var mantissa = Substring(text)
    var exp10 = 0
    if let e = text.firstIndex(where: { $0 == "e" || $0 == "E" }) {
        mantissa = text[..<e]
        exp10 = Int(text[text.index(after: e)...]) ?? 0
    }
    var intDigits = mantissa
    var fracDigits: Substring = ""
    if let dot = mantissa.firstIndex(of: ".") {
        intDigits = mantissa[..<dot]
        fracDigits = mantissa[mantissa.index(after: dot)...]
    }
    var all = String(intDigits) + String(fracDigits)
    var pointPos = intDigits.count + exp10
    // Strip leading zeros (moving the point) and trailing zeros.
    while all.hasPrefix("0") && all.count > 1 {
        all.removeFirst()
        pointPos -= 1
    }
    while all.hasSuffix("0") && all.count > 1 { all.removeLast() }
    return (all, pointPos)
}

// MARK: - JSON text as json-smart writes it (LT_COMPRESS)

/// Compact JSON as json-smart's `JSONValue.toJSONString(x, LT_COMPRESS)` writes it: strings
/// always quoted, `/` left alone, control characters and U+007F–U+009F, U+2000–U+20FF as
/// `\uXXXX`; numbers as Java prints them.
public func jsonText(_ v: VTLValue) -> String {
    var out: [UInt8] = []
    writeJSON(v, into: &out)
    return String(decoding: out, as: UTF8.self)
}

func writeJSON(_ v: VTLValue, into out: inout [UInt8], depth: Int = 0) {
    if depth > 256 {   // a self-containing value: bounded, as javaString is
        out.append(contentsOf: "null".utf8)
        return
    }
    switch v {
    case .null: out.append(contentsOf: "null".utf8)
    case .bool(let b): if b { out.append(contentsOf: "true".utf8) } else { out.append(contentsOf: "false".utf8) }
    case .int(let n): appendDecimal(n, to: &out)
    case .bigInt(let s), .bigDecimal(let s): out.append(contentsOf: s.utf8)
    case .double(let d):
        if d.isFinite { appendJavaDouble(d, to: &out) } else { out.append(contentsOf: "null".utf8) }
    case .string(let s): writeJSONString(s, into: &out)
    case .list(let l):
        out.append(0x5B)
        for (i, item) in l.items.enumerated() {
            if i > 0 { out.append(0x2C) }
            writeJSON(item, into: &out, depth: depth + 1)
        }
        out.append(0x5D)
    case .map(let m):
        out.append(0x7B)
        for (i, (k, item)) in m.entries.enumerated() {
            if i > 0 { out.append(0x2C) }
            writeJSONString(k, into: &out)
            out.append(0x3A)
            writeJSON(item, into: &out, depth: depth + 1)
        }
        out.append(0x7D)
    case .object(let o):
        writeJSONString(o.javaString, into: &out)
    }
}

/// `\b \t \n \f \r` for the control characters that have a short escape; false for others.
@inline(__always)
func appendShortEscape(_ c: UInt32, into out: inout [UInt8]) -> Bool {
    let letter: UInt8
    switch c {
    case 0x08: letter = 0x62
    case 0x09: letter = 0x74
    case 0x0A: letter = 0x6E
    case 0x0C: letter = 0x66
    case 0x0D: letter = 0x72
    default: return false
    }
    out.append(0x5C)
    out.append(letter)
    return true
}

func writeJSONString(_ s: String, into out: inout [UInt8]) {
    out.append(0x22)
    for u in s.unicodeScalars {
        let v = u.value
        switch v {
        case 0x22: out.append(0x5C); out.append(0x22)
        case 0x5C: out.append(0x5C); out.append(0x5C)
        default:
            if appendShortEscape(v, into: &out) { continue }
            if v < 0x20 || (v >= 0x7F && v <= 0x9F) || (v >= 0x2000 && v <= 0x20FF) {
                out.append(0x5C)
                out.append(0x75)
                out.append(contentsOf: hex4(v).utf8)
            } else if v < 0x80 {
                out.append(UInt8(v))
            } else if v < 0x800 {
                out.append(0xC0 | UInt8(v >> 6))
                out.append(0x80 | UInt8(v & 0x3F))
            } else if v < 0x10000 {
                out.append(0xE0 | UInt8(v >> 12))
                out.append(0x80 | UInt8((v >> 6) & 0x3F))
                out.append(0x80 | UInt8(v & 0x3F))
            } else {
                out.append(0xF0 | UInt8(v >> 18))
                out.append(0x80 | UInt8((v >> 12) & 0x3F))
                out.append(0x80 | UInt8((v >> 6) & 0x3F))
                out.append(0x80 | UInt8(v & 0x3F))
            }
        }
    }
    out.append(0x22)
}

func hex4(_ v: UInt32) -> String {
    let h = String(v, radix: 16, uppercase: true)
    return String(repeating: "0", count: max(0, 4 - h.count)) + h
}

/// Java's BigDecimal.toString of a decimal's text (`1.23456789012345678e5` is
/// `123456.789012345678`): the digits with the scale the text gives them, in plain notation
/// unless the scale is negative or the number is below 10^-6, then as `d.dddE±n`.
func bigDecimalText(_ text: String) -> String {
    var negative = false
    var digits: [UInt8] = []
    var fraction = 0
    var exponent = 0
    var seenPoint = false
    var u = Substring(text).utf8[...]
    if let f = u.first, f == 0x2D || f == 0x2B { negative = f == 0x2D; u = u.dropFirst() }
    while let c = u.first, (c >= 0x30 && c <= 0x39) || c == 0x2E {
        if c == 0x2E { seenPoint = true } else { digits.append(c); if seenPoint { fraction += 1 } }
        u = u.dropFirst()
    }
    if let e = u.first, e == 0x65 || e == 0x45 {
        exponent = Int(String(decoding: u.dropFirst(), as: UTF8.self)) ?? 0
    }
    while digits.count > 1 && digits.first == 0x30 { digits.removeFirst() }
    if digits.isEmpty { digits = [0x30] }
    let scale = fraction - exponent
    let coefficient = String(decoding: digits, as: UTF8.self)
    let sign = negative && !(digits.count == 1 && digits[0] == 0x30) ? "-" : ""
    if scale == 0 { return sign + coefficient }
    let adjusted = -scale + (digits.count - 1)
    if scale > 0 && adjusted >= -6 {
        if digits.count > scale {
            let cut = digits.count - scale
            return sign + String(decoding: digits[..<cut], as: UTF8.self) + "." + String(decoding: digits[cut...], as: UTF8.self)
        }
        return sign + "0." + String(repeating: "0", count: scale - digits.count) + coefficient
    }
    let mantissa = digits.count > 1
        ? String(decoding: digits[..<1], as: UTF8.self) + "." + String(decoding: digits[1...], as: UTF8.self)
        : coefficient
    return sign + mantissa + "E" + (adjusted >= 0 ? "+" : "") + String(adjusted)
}
