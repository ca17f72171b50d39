/// Java `Pattern` semantics for `replaceAll`, `replaceFirst`, `matches` and `split`, on
/// Swift's regex engine (whose syntax covers the Java constructs templates use). A pattern is
/// compiled for each call that uses it (no cache yet).
struct JavaRegex {
    let regex: Regex<AnyRegexOutput>?
    /// A pattern without metacharacters, matched as plain text (Java's split fast path).
    let literal: String?

    init(_ pattern: String) throws {
        if let lit = JavaRegex.literalText(pattern) {
            literal = lit
            regex = nil
            return
        }
        literal = nil
        do {
            regex = try Regex(pattern)
        } catch {
            throw VTLRenderError("PatternSyntaxException: \(pattern)")
        }
    }

    /// The text a pattern stands for when it has no regex metacharacter (or escapes one).
    static func literalText(_ p: String) -> String? {
        let meta = Set(".$|()[]{}^?*+\\".unicodeScalars)
        if p.unicodeScalars.count == 1, let c = p.unicodeScalars.first, !meta.contains(c) { return p }
        if p.unicodeScalars.count == 2, p.hasPrefix("\\"), let c = p.unicodeScalars.last,
           meta.contains(c) || !(("a"..."z").contains(c) || ("A"..."Z").contains(c) || ("0"..."9").contains(c)) {
            return String(c)
        }
        if !p.isEmpty && !p.unicodeScalars.contains(where: { meta.contains($0) }) { return p }
        return nil
    }

    /// Match ranges over `s`, left to right, non-overlapping.
    func matches(in s: String) -> [(Range<String.Index>, Regex<AnyRegexOutput>.Match?)] {
        if let literal {
            var out: [(Range<String.Index>, Regex<AnyRegexOutput>.Match?)] = []
            let needle = Array(literal.utf8)
            let hay = Array(s.utf8)
            guard !needle.isEmpty, hay.count >= needle.count else { return out }
            var k = 0
            while k + needle.count <= hay.count {
                if hay[k] == needle[0] && Array(hay[k..<(k + needle.count)]) == needle {
                    let lo = s.utf8.index(s.utf8.startIndex, offsetBy: k)
                    let hi = s.utf8.index(lo, offsetBy: needle.count)
                    out.append((lo..<hi, nil))
                    k += needle.count
                } else {
                    k += 1
                }
            }
            return out
        }
        guard let regex else { return [] }
        return s.matches(of: regex).map { ($0.range, $0) }
    }

    func matchesWhole(_ s: String) -> Bool {
        if let literal { return s == literal }
        guard let regex else { return false }
        return (try? regex.wholeMatch(in: s)) != nil
    }

    /// Java's `replaceAll` / `replaceFirst`: `$n` inserts group n, `\x` a literal x.
    func replace(in s: String, with replacement: String, all: Bool) throws -> String {
        var out = ""
        var last = s.startIndex
        for (range, match) in matches(in: s) {
            out += s[last..<range.lowerBound]
            out += try expand(replacement, match, whole: String(s[range]))
            last = range.upperBound
            if !all { break }
        }
        out += s[last...]
        return out
    }

    func expand(_ r: String, _ match: Regex<AnyRegexOutput>.Match?, whole: String) throws -> String {
        var out = ""
        var it = Array(r.unicodeScalars)[...]
        while let c = it.popFirst() {
            if c == "\\" {
                guard let n = it.popFirst() else { throw VTLRenderError("character to be escaped is missing") }
                out.unicodeScalars.append(n)
            } else if c == "$" {
                var digits = ""
                while let d = it.first, ("0"..."9").contains(d) {
                    digits.unicodeScalars.append(d)
                    it = it.dropFirst()
                }
                guard let n = Int(digits) else { throw VTLRenderError("Illegal group reference") }
                if n == 0 { out += whole; continue }
                guard let match, n < match.output.count else { throw VTLRenderError("No group \(n)") }
                if let sub = match.output[n].substring { out += sub }
            } else {
                out.unicodeScalars.append(c)
            }
        }
        return out
    }

    /// Java's `split`: trailing empty strings dropped (limit 0), a leading empty string kept
    /// unless the first match is empty at position 0.
    func split(_ s: String, limit: Int) -> [String] {
        var parts: [String] = []
        var last = s.startIndex
        for (range, _) in matches(in: s) {
            if limit > 0 && parts.count == limit - 1 { break }
            if range.isEmpty && range.lowerBound == s.startIndex { continue }
            if range.isEmpty && range.lowerBound == s.endIndex { break }
            parts.append(String(s[last..<range.lowerBound]))
            last = range.upperBound
        }
        parts.append(String(s[last...]))
        if limit == 0 {
            while let l = parts.last, l.isEmpty, parts.count > 0 { parts.removeLast() }
            if parts.isEmpty && s.isEmpty { return [""] }
        }
        return parts
    }
}
