/// A string pattern with IAM's two wildcards: `*` (any run of characters, including none) and
/// `?` (exactly one character). IAM has no escape for either; a literal `*` or `?` can only be
/// written through the policy variables `${*}` and `${?}`, and a policy variable's value is
/// always literal. So the pattern is kept as units: UTF-8 bytes (0...255) for literal text,
/// `PatternUnit.star` and `PatternUnit.one` for the wildcards.
///
/// Wildcards deliberately cross `/` — in IAM `Resource` matching `…:abc/*` covers every stage,
/// method and path — so this is not a path glob. ARN-aware matching splits into fields first;
/// see `ARNPattern`.
struct WildcardPattern: Sendable, Equatable {
    /// The pattern as written (already lowercased when matching is case-insensitive).
    let text: String
    let units: [Int16]
    let hasWildcard: Bool

    init(_ text: String) {
        var u: [Int16] = []
        u.reserveCapacity(text.utf8.count)
        for b in text.utf8 {
            u.append(b == 0x2A ? PatternUnit.star : b == 0x3F ? PatternUnit.one : Int16(b))
        }
        self.init(units: u, text: text)
    }

    init(units: [Int16], text: String) {
        self.text = text
        self.units = units
        self.hasWildcard = units.contains { $0 < 0 }
    }

    /// True for the bare `*`, which matches everything and needs no work.
    var isMatchAll: Bool { units.count == 1 && units[0] == PatternUnit.star }

    func matches(_ candidate: String) -> Bool {
        if isMatchAll { return true }
        var c = candidate
        return c.withUTF8 { matches(bytes: $0) }
    }

    func matches(bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        units.withUnsafeBufferPointer { matchUnits($0, bytes) }
    }
}

enum PatternUnit {
    static let star: Int16 = -1
    static let one: Int16 = -2
}

/// The length of the UTF-8 sequence that starts with `b` (1 for a stray continuation byte).
@inline(__always)
func utf8Length(_ b: UInt8) -> Int {
    b < 0xC0 ? 1 : b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4
}

/// Matches `text` (UTF-8) against `pattern` units, where `*` spans any run of characters and
/// `?` exactly one character (one whole UTF-8 sequence, not one byte).
///
/// Greedy scan remembering only the most recent `*`: when a later literal fails, the last star
/// absorbs one more character and matching resumes. One remembered star suffices because an
/// earlier star could only absorb text the later one can absorb too, so this runs in
/// O(pattern × text) worst case with no recursion — safe on hostile input. Star extension moves
/// by whole characters, so `?` never lands inside a multi-byte character.
func matchUnits(_ pattern: UnsafeBufferPointer<Int16>, _ text: UnsafeBufferPointer<UInt8>) -> Bool {
    let pn = pattern.count, tn = text.count
    var p = 0, t = 0
    var starAt = -1      // index in pattern of the last `*` seen
    var starText = 0     // text index that star currently extends to
    while t < tn {
        if p < pn {
            let u = pattern[p]
            if u == PatternUnit.star {
                starAt = p
                starText = t
                p += 1
                continue
            }
            if u == PatternUnit.one {
                p += 1
                t = min(tn, t + utf8Length(text[t]))
                continue
            }
            if u == Int16(text[t]) {
                p += 1
                t += 1
                continue
            }
        }
        if starAt >= 0 {
            starText = min(tn, starText + utf8Length(text[starText]))
            t = starText
            p = starAt + 1
        } else {
            return false
        }
    }
    while p < pn, pattern[p] == PatternUnit.star { p += 1 }
    return p == pn
}

/// An ARN pattern, matched as IAM matches `Resource` and the `Arn…` operators: field by field
/// (`arn:partition:service:region:account:resource`, the resource keeping any further colons),
/// each field with `*` / `?` wildcards and case-sensitively, so a wildcard stays inside its
/// field — except that a pattern with fewer than six fields whose last field ends in `*` lets
/// that `*` run on over the remaining fields (`arn:aws:execute-api:*` covers every API), as the
/// IAM documentation describes for a `*` that ends a segment. A bare `*` matches anything; a
/// pattern that is not an ARN at all is matched against the whole string.
struct ARNPattern: Sendable, Equatable {
    let whole: WildcardPattern
    /// Unit ranges of the pattern's fields; nil when the pattern is not ARN-shaped.
    let fields: [Range<Int>]?

    init(_ pattern: WildcardPattern) {
        whole = pattern
        fields = ARNPattern.split(pattern.units)
    }

    var text: String { whole.text }

    static func split(_ units: [Int16]) -> [Range<Int>]? {
        guard units.count >= 4, units[0] == 0x61, units[1] == 0x72, units[2] == 0x6E, units[3] == 0x3A else { return nil }
        var out: [Range<Int>] = []
        var start = 0
        for (i, u) in units.enumerated() where u == 0x3A && out.count < 5 {
            out.append(start..<i)
            start = i + 1
        }
        out.append(start..<units.count)
        return out
    }

    func matches(_ candidate: String) -> Bool {
        if whole.isMatchAll { return true }
        var c = candidate
        return c.withUTF8 { matches(bytes: $0) }
    }

    func matches(bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        whole.units.withUnsafeBufferPointer { p in ARNPattern.match(p, fields, bytes) }
    }

    /// `allowShort`: a pattern of fewer than six fields ending in `*` runs on (the `Resource`
    /// rule); the `Arn…` operators compare all six fields and so require six.
    static func match(_ p: UnsafeBufferPointer<Int16>, _ fields: [Range<Int>]?, _ t: UnsafeBufferPointer<UInt8>,
                      allowShort: Bool = true) -> Bool {
        match(p, fields, t, cuts: ARNCuts(t), allowShort: allowShort)
    }

    /// The same with the candidate's field boundaries already found.
    static func match(_ p: UnsafeBufferPointer<Int16>, _ fields: [Range<Int>]?, _ t: UnsafeBufferPointer<UInt8>,
                      cuts: ARNCuts, allowShort: Bool = true, knownFields: Int = 0) -> Bool {
        if p.count == 1 && p[0] == PatternUnit.star { return true }
        guard let fields else { return matchUnits(p, t) }
        guard cuts.valid, allowShort || fields.count == 6 else { return false }
        // `knownFields`: leading fields the caller already compared (a literal prefix).
        for k in knownFields..<fields.count {
            let pr = fields[k]
            var tr = cuts.field(k, count: t.count)
            if k == fields.count - 1 && fields.count < 6 {
                // A short pattern: its last field must end in `*`, which then runs to the end.
                guard pr.count > 0, p[pr.upperBound - 1] == PatternUnit.star else { return false }
                tr = tr.lowerBound..<t.count
            }
            if !matchUnits(UnsafeBufferPointer(rebasing: p[pr]), UnsafeBufferPointer(rebasing: t[tr])) { return false }
        }
        return true
    }
}

/// Where a candidate ARN's first five colons are; `valid` when there are five.
struct ARNCuts {
    var c0 = -1, c1 = -1, c2 = -1, c3 = -1, c4 = -1
    var valid: Bool { c4 >= 0 }

    init(_ t: UnsafeBufferPointer<UInt8>) {
        var found = 0
        var i = 0
        while i < t.count && found < 5 {
            if t[i] == 0x3A {
                switch found {
                case 0: c0 = i
                case 1: c1 = i
                case 2: c2 = i
                case 3: c3 = i
                default: c4 = i
                }
                found += 1
            }
            i += 1
        }
    }

    @inline(__always)
    func field(_ k: Int, count: Int) -> Range<Int> {
        switch k {
        case 0: return 0..<c0
        case 1: return (c0 + 1)..<c1
        case 2: return (c1 + 1)..<c2
        case 3: return (c2 + 1)..<c3
        case 4: return (c3 + 1)..<c4
        default: return (c4 + 1)..<count
        }
    }
}

extension ResourcePolicy {
    /// ARN matching as IAM's `ArnLike` / `ArnEquals` operators do it: six fields each, matched
    /// field by field; see `ARNPattern`. Either string not being a six-field ARN is no match,
    /// except the lone `*`, which matches any ARN.
    public static func arnMatches(pattern: String, arn: String) -> Bool {
        let p = WildcardPattern(pattern)
        var a = arn
        return a.withUTF8 { b in
            p.units.withUnsafeBufferPointer { ARNPattern.match($0, ARNPattern.split(p.units), b, allowShort: false) }
        }
    }

    /// ARN matching as IAM's `Resource` element does it: like `arnMatches`, but a pattern of
    /// fewer than six fields ending in `*` covers the rest (`arn:aws:states:*`).
    public static func resourceMatches(pattern: String, arn: String) -> Bool {
        ARNPattern(WildcardPattern(pattern)).matches(arn)
    }
}
