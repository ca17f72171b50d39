import GatehouseJSON
import GatehouseCalendar

/// A policy string that may hold policy variables (`${aws:username}`, `${aws:x, 'default'}`,
/// and the literal escapes `${*}`, `${?}`, `${$}`), parsed once at load.
///
/// Variables are read only in `Version: 2012-10-17` documents; in 2008-10-17 (the default when
/// `Version` is missing) `${…}` is ordinary text, as IAM treats it.
struct PolicyText: Sendable, Equatable {
    enum Part: Sendable, Equatable {
        /// Literal text as pattern units (`*` / `?` wildcards already marked when the text is a
        /// pattern; a substituted value or an escape is always literal).
        case units([Int16])
        /// A condition key's single value; the fallback when the key is absent or multi-valued.
        case variable(KeyRef, fallback: [Int16]?)
    }

    let source: String
    let parts: [Part]

    /// The static pattern when there is no variable.
    var constant: [Int16]? {
        if parts.isEmpty { return [] }
        if parts.count == 1, case .units(let u) = parts[0] { return u }
        return nil
    }

    var referencedKeys: [KeyRef] {
        parts.compactMap { if case .variable(let k, _) = $0 { return k } else { return nil } }
    }

    /// Parses `text`. `wildcards`: `*` and `?` outside variables are pattern wildcards.
    /// `variables`: `${…}` is a policy variable (2012-10-17 documents).
    init(_ text: String, wildcards: Bool, variables: Bool) throws(PolicyValueError) {
        source = text
        let b = Array(text.utf8)
        var parts: [Part] = []
        var lit: [Int16] = []
        func literal(_ byte: UInt8) -> Int16 {
            if wildcards && byte == 0x2A { return PatternUnit.star }
            if wildcards && byte == 0x3F { return PatternUnit.one }
            return Int16(byte)
        }
        var i = 0
        while i < b.count {
            guard variables, b[i] == 0x24, i + 1 < b.count, b[i + 1] == 0x7B else {
                lit.append(literal(b[i]))
                i += 1
                continue
            }
            // ${ key [, 'default'] }
            var j = i + 2
            func skipSpaces() { while j < b.count && b[j] == 0x20 { j += 1 } }
            skipSpaces()
            let keyStart = j
            while j < b.count && b[j] != 0x7D && b[j] != 0x2C && b[j] != 0x20 { j += 1 }
            let key = String(decoding: b[keyStart..<j], as: UTF8.self)
            skipSpaces()
            var fallback: [Int16]?
            if j < b.count && b[j] == 0x2C {
                j += 1
                skipSpaces()
                guard j < b.count, b[j] == 0x27 else {
                    throw PolicyValueError("a policy variable's default must be in single quotes: \(text)")
                }
                j += 1
                var d: [Int16] = []
                var closed = false
                while j < b.count {
                    if b[j] == 0x27 {
                        if j + 1 < b.count && b[j + 1] == 0x27 { d.append(0x27); j += 2; continue }
                        closed = true
                        j += 1
                        break
                    }
                    d.append(Int16(b[j]))
                    j += 1
                }
                guard closed else { throw PolicyValueError("unterminated default in policy variable: \(text)") }
                fallback = d
                skipSpaces()
            }
            guard j < b.count, b[j] == 0x7D else { throw PolicyValueError("unterminated policy variable in \(text)") }
            guard !key.isEmpty else { throw PolicyValueError("empty policy variable in \(text)") }
            j += 1
            switch key {
            case "*", "?", "$":
                lit.append(Int16(key.utf8.first!))
            default:
                if !lit.isEmpty { parts.append(.units(lit)); lit = [] }
                parts.append(.variable(KeyRef(key), fallback: fallback))
            }
            i = j
        }
        if !lit.isEmpty || parts.isEmpty { parts.append(.units(lit)) }
        self.parts = parts
    }

    /// The text with variables replaced from `context`; nil when a variable has no single
    /// value and no default (IAM then treats the element as not matching).
    func resolve(_ context: PolicyContext) -> [Int16]? {
        if let c = constant { return c }
        var out: [Int16] = []
        for part in parts {
            switch part {
            case .units(let u): out.append(contentsOf: u)
            case .variable(let key, let fallback):
                if let v = context[key], v.count == 1 {
                    for byte in v[0].utf8 { out.append(Int16(byte)) }
                } else if let f = fallback {
                    out.append(contentsOf: f)
                } else {
                    return nil
                }
            }
        }
        return out
    }
}

struct PolicyValueError: Error {
    var message: String
    init(_ m: String) { message = m }
}

/// Numbers as the `Numeric…` operators read them: an optional sign, digits, an optional
/// fraction and exponent. Nothing else (no `0x`, `inf`, `nan`, spaces).
func parsePolicyNumber(_ s: String) -> Double? {
    let b = Array(s.utf8)
    var i = 0
    if i < b.count && (b[i] == 0x2D || b[i] == 0x2B) { i += 1 }
    let digitsStart = i
    while i < b.count && b[i] >= 0x30 && b[i] <= 0x39 { i += 1 }
    var digits = i - digitsStart
    if i < b.count && b[i] == 0x2E {
        i += 1
        let f = i
        while i < b.count && b[i] >= 0x30 && b[i] <= 0x39 { i += 1 }
        digits += i - f
    }
    guard digits > 0 else { return nil }
    if i < b.count && (b[i] == 0x65 || b[i] == 0x45) {
        i += 1
        if i < b.count && (b[i] == 0x2D || b[i] == 0x2B) { i += 1 }
        let e = i
        while i < b.count && b[i] >= 0x30 && b[i] <= 0x39 { i += 1 }
        guard i > e else { return nil }
    }
    guard i == b.count else { return nil }
    return Double(s)
}

/// A time for the `Date…` operators, as epoch seconds: W3C ISO 8601 (`2026-11-25`,
/// `2026-11-25T12:00Z`, `2026-11-25T12:00:00.5+01:00`, no zone = UTC) or epoch seconds.
func parsePolicyDate(_ s: String) -> Double? {
    let b = Array(s.utf8)
    func isDigit(_ i: Int) -> Bool { i < b.count && b[i] >= 0x30 && b[i] <= 0x39 }
    if !b.isEmpty && !(b.count >= 10 && b[4] == 0x2D) {
        return parsePolicyNumber(s)   // epoch seconds
    }
    func num(_ from: Int, _ n: Int) -> Int64? {
        var v: Int64 = 0
        for i in from..<(from + n) { guard isDigit(i) else { return nil }; v = v * 10 + Int64(b[i] - 0x30) }
        return v
    }
    guard b.count >= 10, let y = num(0, 4), b[4] == 0x2D, let mo = num(5, 2), b[7] == 0x2D, let d = num(8, 2),
          (1...12).contains(mo), (1...31).contains(d) else { return nil }
    var seconds = Double(CivilDate.days(year: y, month: mo, day: d) * 86_400)
    var i = 10
    if i == b.count { return seconds }
    guard b[i] == 0x54 || b[i] == 0x74 else { return nil }
    i += 1
    guard let h = num(i, 2), i + 2 < b.count, b[i + 2] == 0x3A, let mi = num(i + 3, 2), h < 24, mi < 60 else { return nil }
    seconds += Double(h * 3600 + mi * 60)
    i += 5
    if i < b.count && b[i] == 0x3A {
        guard let sec = num(i + 1, 2), sec < 61 else { return nil }
        seconds += Double(sec)
        i += 3
        if i < b.count && b[i] == 0x2E {
            i += 1
            var scale = 0.1
            let start = i
            while isDigit(i) { seconds += Double(b[i] - 0x30) * scale; scale /= 10; i += 1 }
            guard i > start else { return nil }
        }
    }
    if i == b.count { return seconds }
    if b[i] == 0x5A || b[i] == 0x7A { return i + 1 == b.count ? seconds : nil }
    guard b[i] == 0x2B || b[i] == 0x2D, let oh = num(i + 1, 2) else { return nil }
    var j = i + 3
    if j < b.count && b[j] == 0x3A { j += 1 }
    guard let om = num(j, 2), j + 2 == b.count, oh < 24, om < 60 else { return nil }
    let offset = Double(oh * 3600 + om * 60)
    return b[i] == 0x2B ? seconds - offset : seconds + offset
}

/// An IPv4 or IPv6 network (an address is a /32 or /128).
struct IPNetwork: Sendable, Equatable {
    var v6: Bool
    var hi: UInt64
    var lo: UInt64
    var prefix: Int

    init?(cidr s: String) {
        let pieces = s.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard let addr = IPNetwork.address(String(pieces[0])) else { return nil }
        (v6, hi, lo) = addr
        let maxPrefix = v6 ? 128 : 32
        if pieces.count == 2 {
            guard !pieces[1].isEmpty, pieces[1].utf8.count <= 3, pieces[1].utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
                  let p = Int(pieces[1]), p <= maxPrefix else { return nil }
            prefix = p
        } else {
            prefix = maxPrefix
        }
    }

    /// Parses an address: dotted-quad IPv4, or IPv6 (with `::`, an IPv4 tail, no zone). An
    /// IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) is read as the IPv4 address.
    static func address(_ s: String) -> (Bool, UInt64, UInt64)? {
        if let v4 = ipv4(Substring(s)) { return (false, 0, UInt64(v4)) }
        guard s.contains(":") else { return nil }
        var groups: [UInt16] = []
        var tail: [UInt16] = []
        var sawGap = false
        let text = Substring(s)
        if text.hasPrefix(":") && !text.hasPrefix("::") { return nil }
        if text.hasSuffix(":") && !text.hasSuffix("::") { return nil }
        let halves = text.components(separatedByGap: "::")
        guard halves.count <= 2 else { return nil }
        sawGap = halves.count == 2
        func parseHalf(_ h: Substring, allowV4: Bool) -> [UInt16]? {
            if h.isEmpty { return [] }
            var out: [UInt16] = []
            let items = h.split(separator: ":", omittingEmptySubsequences: false)
            for (k, item) in items.enumerated() {
                if allowV4 && k == items.count - 1, item.contains("."), let v4 = ipv4(item) {
                    out.append(UInt16(v4 >> 16)); out.append(UInt16(v4 & 0xFFFF))
                    continue
                }
                guard (1...4).contains(item.utf8.count), let v = UInt16(item, radix: 16) else { return nil }
                out.append(v)
            }
            return out
        }
        if sawGap {
            guard let a = parseHalf(halves[0], allowV4: false), let b = parseHalf(halves[1], allowV4: true),
                  a.count + b.count <= 7 else { return nil }
            groups = a
            tail = b
            groups += Array(repeating: 0, count: 8 - a.count - b.count) + tail
        } else {
            guard let a = parseHalf(halves[0], allowV4: true), a.count == 8 else { return nil }
            groups = a
        }
        var hi: UInt64 = 0, lo: UInt64 = 0
        for k in 0..<4 { hi = hi << 16 | UInt64(groups[k]) }
        for k in 4..<8 { lo = lo << 16 | UInt64(groups[k]) }
        if hi == 0 && lo >> 32 == 0xFFFF { return (false, 0, lo & 0xFFFF_FFFF) }
        return (true, hi, lo)
    }

    static func ipv4(_ s: Substring) -> UInt32? {
        let parts = s.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var v: UInt32 = 0
        for p in parts {
            guard (1...3).contains(p.utf8.count), p.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
                  let n = UInt32(p), n <= 255 else { return nil }
            if p.utf8.count > 1 && p.utf8.first == 0x30 { return nil }   // no octal-looking forms
            v = v << 8 | n
        }
        return v
    }

    /// Whether the address `s` lies in this network (same family only).
    func contains(address s: String) -> Bool {
        guard let (isV6, h, l) = IPNetwork.address(s), isV6 == v6 else { return false }
        if !v6 {
            if prefix == 0 { return true }
            let mask: UInt64 = (0xFFFF_FFFF << UInt64(32 - prefix)) & 0xFFFF_FFFF
            return (l & mask) == (lo & mask)
        }
        func masked(_ value: UInt64, _ bits: Int) -> UInt64 {
            if bits <= 0 { return 0 }
            if bits >= 64 { return value }
            return value & (~UInt64(0) << UInt64(64 - bits))
        }
        return masked(h, prefix) == masked(hi, prefix) && masked(l, prefix - 64) == masked(lo, prefix - 64)
    }
}

extension Substring {
    /// Splits at every occurrence of `gap` (used for IPv6's `::`).
    func components(separatedByGap gap: String) -> [Substring] {
        var out: [Substring] = []
        var rest = self[...]
        while let r = rest.range(ofGap: gap) {
            out.append(rest[..<r.lowerBound])
            rest = rest[r.upperBound...]
        }
        out.append(rest)
        return out
    }

    func range(ofGap gap: String) -> Range<Index>? {
        let g = Array(gap.utf8)
        var i = startIndex
        while i < endIndex {
            if self[i...].utf8.starts(with: g) {
                return i..<self.utf8.index(i, offsetBy: g.count)
            }
            i = index(after: i)
        }
        return nil
    }
}

/// Base64 for `BinaryEquals`; nil when the text is not base64.
func decodeBase64(_ s: String) -> [UInt8]? { Base64Text.decode(s) }

/// A set of IPv4/IPv6 networks, e.g. the proxies trusted to name the client in
/// `X-Forwarded-For`.
public struct AddressSet: Sendable {
    let networks: [IPNetwork]

    /// nil naming the first entry that is not an address or CIDR block.
    public static func parse(_ cidrs: [String]) -> Result<AddressSet, AddressSetError> {
        var out: [IPNetwork] = []
        for c in cidrs {
            guard let n = IPNetwork(cidr: c) else { return .failure(AddressSetError(entry: c)) }
            out.append(n)
        }
        return .success(AddressSet(networks: out))
    }

    public init() { networks = [] }
    init(networks: [IPNetwork]) { self.networks = networks }

    public var isEmpty: Bool { networks.isEmpty }

    public func contains(_ address: String) -> Bool {
        networks.contains { $0.contains(address: address) }
    }

    /// The client address for `aws:SourceIp`: the peer, unless the peer is a trusted proxy;
    /// then the right-most `X-Forwarded-For` entry that is not itself a trusted proxy (entries
    /// to its left were written by the client and prove nothing).
    public func clientAddress(peer: String, forwardedFor: String?) -> String {
        guard !networks.isEmpty, contains(peer), let xff = forwardedFor else { return peer }
        var chosen = peer
        for item in xff.split(separator: ",").reversed() {
            var a = item.drop { $0 == " " || $0 == "\t" }
            while let last = a.last, last == " " || last == "\t" { a = a.dropLast() }
            guard IPNetwork.address(String(a)) != nil else { return chosen }
            chosen = String(a)
            if !contains(chosen) { return chosen }
        }
        return chosen
    }
}

public struct AddressSetError: Error, Sendable {
    public var entry: String
}
