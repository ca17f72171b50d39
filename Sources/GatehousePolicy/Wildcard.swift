/// A string pattern with IAM's two wildcards: `*` (any run of characters, including none) and
/// `?` (exactly one character). IAM has no escape for either, so neither do we.
///
/// Wildcards deliberately cross `/` and `:` — in IAM `Resource` matching,
/// `arn:aws:execute-api:us-east-1:*:abc/*` covers every stage, method and path — so this is
/// not a path glob. ARN-aware matching (`ArnLike`) splits into fields first; see `arnMatches`.
struct WildcardPattern: Sendable, Equatable {
    /// The pattern as written (already lowercased when matching is case-insensitive).
    let text: String
    private let scalars: [Unicode.Scalar]
    /// The pattern's UTF-8 when it is all ASCII: then an ASCII candidate is matched byte-wise,
    /// with no scalar array made per match.
    private let asciiBytes: [UInt8]?
    private let hasWildcard: Bool

    init(_ text: String) {
        self.text = text
        self.scalars = Array(text.unicodeScalars)
        let bytes = Array(text.utf8)
        self.asciiBytes = bytes.allSatisfy { $0 < 0x80 } ? bytes : nil
        self.hasWildcard = bytes.contains(0x2A) || bytes.contains(0x3F)
    }

    /// True for the bare `*`, which matches everything and needs no work.
    var isMatchAll: Bool { text == "*" }

    func matches(_ candidate: String) -> Bool {
        if !hasWildcard { return text == candidate }
        if isMatchAll { return true }
        if let p = asciiBytes {
            var c = candidate
            if let result = c.withUTF8({ u -> Bool? in
                u.allSatisfy({ $0 < 0x80 }) ? p.withUnsafeBufferPointer { wildcardMatch($0, u) } : nil
            }) {
                return result
            }
        }
        return wildcardMatch(scalars, Array(candidate.unicodeScalars))
    }

    func matches(_ candidate: Substring) -> Bool {
        if !hasWildcard { return text == candidate }
        if isMatchAll { return true }
        return wildcardMatch(scalars, Array(candidate.unicodeScalars))
    }
}

/// Matches `text` against `pattern` where `*` spans any run and `?` one scalar.
///
/// Greedy scan remembering only the most recent `*`: when a later literal fails, the last star
/// absorbs one more character and matching resumes. One remembered star suffices because an
/// earlier star could only absorb text the later one can absorb too, so this runs in
/// O(pattern × text) worst case with no recursion — safe on hostile input.
func wildcardMatch(_ pattern: [Unicode.Scalar], _ text: [Unicode.Scalar]) -> Bool {
    wildcardMatch(pattern, text, star: "*", one: "?")
}

/// The same on ASCII bytes.
func wildcardMatch(_ pattern: UnsafeBufferPointer<UInt8>, _ text: UnsafeBufferPointer<UInt8>) -> Bool {
    wildcardMatch(pattern, text, star: 0x2A, one: 0x3F)
}

func wildcardMatch<P: RandomAccessCollection, T: RandomAccessCollection>(_ pattern: P, _ text: T, star: P.Element, one: P.Element) -> Bool
where P.Element: Equatable, T.Element == P.Element, P.Index == Int, T.Index == Int {
    var p = 0, t = 0
    var starAt = -1      // index in pattern of the last `*` seen
    var starText = 0     // text index that star currently extends to
    while t < text.count {
        if p < pattern.count, pattern[p] == star {
            starAt = p
            starText = t
            p += 1
        } else if p < pattern.count, pattern[p] == one || pattern[p] == text[t] {
            p += 1
            t += 1
        } else if starAt >= 0 {
            starText += 1
            t = starText
            p = starAt + 1
        } else {
            return false
        }
    }
    while p < pattern.count, pattern[p] == star { p += 1 }
    return p == pattern.count
}

extension ResourcePolicy {
    /// ARN matching as IAM's `ArnLike` / `ArnEquals` operators do it: both strings are split
    /// into the six colon-separated ARN fields (`arn:partition:service:region:account:resource`,
    /// the resource keeping any further colons) and each pattern field is matched, case-sensitively,
    /// against the same field with `*` / `?` wildcards. A wildcard therefore never spans a field
    /// boundary except inside the resource field.
    ///
    /// Either string not being a six-field ARN is no match: IAM compares fields, and a value
    /// with the wrong shape has no fields to compare.
    public static func arnMatches(pattern: String, arn: String) -> Bool {
        guard let p = ARNParts(pattern), let a = ARNParts(arn) else { return false }
        for i in 0..<6 where !WildcardPattern(String(p.fields[i])).matches(a.fields[i]) {
            return false
        }
        return true
    }
}
