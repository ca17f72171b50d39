/// JSONPath as Jayway JsonPath 2.0 reads it (what API Gateway's `$input.path`/`json` use):
/// `$.a.b`, `$['a']`, `$.a[0]`, `$.a[-1]`, `$.a[0,2]`, `$.a[1:3]`, `$.a[*]`, `$..a`, and
/// filters `[?(@.x > 1 && @.y == 'z')]`. A path without `$` is read as `$.path`. A definite
/// path (no wildcard, deep scan, slice, filter or index list) yields one value, or "not found";
/// any other yields a JSON array of every match.


struct JSONPath: @unchecked Sendable {
    indirect enum Segment {
        case keys([String])
        case indexes([Int])
        case slice(Int?, Int?)
        case wildcard
        case deep(Segment?)
        case filter(FilterExpr)
    }

    indirect enum FilterExpr {
        case exists(JSONPath)
        case compare(Operand, String, Operand)
        case and(FilterExpr, FilterExpr)
        case or(FilterExpr, FilterExpr)
        case not(FilterExpr)
    }

    enum Operand {
        case path(JSONPath)   // relative to @
        case literal(VTLValue)
        case regex(String, Bool)
    }

    let segments: [Segment]
    let definite: Bool
    /// The path as written (set for a filter's operands).
    var source = ""

    struct Failure: Error {
        var message: String
        /// Not an error: the path found nothing.
        var missing = false
    }

    private static let cache = Locked<[String: JSONPath]>([:])

    /// Compiled once per path text: templates name the same few paths on every request.
    static func cached(_ text: String) throws(Failure) -> JSONPath {
        if let hit = cache.withLock({ $0[text] }) { return hit }
        let p = try compile(text)
        cache.withLock { c in
            if c.count > 4096 { c.removeAll() }
            c[text] = p
        }
        return p
    }

    static func compile(_ text: String, depth: Int = 0) throws(Failure) -> JSONPath {
        var s = Substring(text.trimmingSpaces)
        if s.isEmpty { throw Failure(message: "Path must not be empty") }
        if s.first == "@" {
            s = s.dropFirst()
        } else if s.first == "$" {
            s = s.dropFirst()
        } else if s.first != "[" {
            s = "." + s
        }
        var p = PathParser(chars: Array(s.unicodeScalars), i: 0, depth: depth)
        let segs = try p.segments()
        let definite = segs.allSatisfy {
            switch $0 {
            case .keys: return true
            case .indexes(let n): return n.count == 1
            default: return false
            }
        }
        return JSONPath(segments: segs, definite: definite)
    }

    /// The value at the path: nil when a definite path finds nothing. Throws as Jayway does
    /// for an index or slice on something that is not an array, or a filter on a primitive.
    func read(_ root: VTLValue) throws(Failure) -> VTLValue? {
        do {
            return try walk(root)
        } catch {
            if error.missing { return nil }
            throw error
        }
    }

    private func walk(_ root: VTLValue) throws(Failure) -> VTLValue? {
        var current: [VTLValue] = [root]
        var spread = false   // past a wildcard, slice, filter or deep scan
        for seg in segments {
            var next: [VTLValue] = []
            for v in current {
                if case .keys = seg {
                    // A property of something that is not an object: Jayway gives up on the
                    // whole path unless a multi-match step before it absorbs the miss.
                    guard case .map = v else {
                        if spread { continue }
                        return nil
                    }
                }
                try apply(seg, to: v, into: &next)
            }
            current = next
            if definite && current.isEmpty { return nil }
            switch seg {
            case .keys, .indexes: break
            default: spread = true
            }
        }
        if definite { return current.first }
        return .list(VTLList(current, jsonArray: true))
    }

    func apply(_ seg: Segment, to v: VTLValue, into out: inout [VTLValue]) throws(Failure) {
        switch seg {
        case .indexes, .slice:
            if case .list = v { break }
            // An index into a JSON null: Jayway finds nothing for the whole path.
            if case .null = v { throw Failure(message: "", missing: true) }
            throw Failure(message: "Filter: [\(describe(seg))] can only be applied to arrays. Current context is: \(v.javaString)")
        case .filter:
            switch v {
            case .list, .map: break
            default: throw Failure(message: "Filter: [?] can not be applied to primitives. Current context is: \(v.javaString)")
            }
        default: break
        }
        switch seg {
        case .keys(let keys):
            guard case .map(let m) = v else { return }
            if keys.count == 1 {
                if let x = m.get(keys[0]) { out.append(x) }
            } else {
                let picked = VTLMap()
                for k in keys { if let x = m.get(k) { picked.put(k, x) } }
                out.append(.map(picked))
            }
        case .indexes(let ns):
            guard case .list(let l) = v else { return }
            for n in ns where n >= 0 && n < l.items.count {
                // Jayway 2.0 finds nothing at a negative index.
                out.append(l.items[n])
            }
        case .slice(let a, let z):
            guard case .list(let l) = v else { return }
            let c = l.items.count
            var from = a ?? 0, to = z ?? c
            if from < 0 { from = max(0, c + from) }
            if to < 0 { to = max(0, c + to) }
            from = min(from, c)
            to = min(to, c)
            if from < to { out.append(contentsOf: l.items[from..<to]) }
        case .wildcard:
            switch v {
            case .map(let m): out.append(contentsOf: m.entries.map(\.1))
            case .list(let l): out.append(contentsOf: l.items)
            default: break
            }
        case .deep(let inner):
            try deepScan(v, inner, into: &out)
        case .filter(let f):
            switch v {
            case .list(let l):
                for item in l.items where try holds(f, item) { out.append(item) }
            case .map: if try holds(f, v) { out.append(v) }
            default: break
            }
        }
    }

    func describe(_ seg: Segment) -> String {
        switch seg {
        case .indexes(let ns): return ns.map(String.init).joined(separator: ",")
        case .slice(let a, let z): return (a.map(String.init) ?? "") + ":" + (z.map(String.init) ?? "")
        default: return "?"
        }
    }

    func deepScan(_ v: VTLValue, _ inner: Segment?, into out: inout [VTLValue]) throws(Failure) {
        if let inner {
            switch (inner, v) {
            case (.indexes, .list), (.slice, .list), (.filter, .list), (.filter, .map), (.keys, _), (.wildcard, _):
                try apply(inner, to: v, into: &out)
            default:
                break   // a deep scan only applies array steps where there are arrays
            }
        }
        switch v {
        case .map(let m):
            for (_, x) in m.entries {
                if inner == nil { out.append(x) }
                try deepScan(x, inner, into: &out)
            }
        case .list(let l):
            for x in l.items {
                if inner == nil { out.append(x) }
                try deepScan(x, inner, into: &out)
            }
        default: break
        }
    }

    /// Whether `item` passes the filter, as Jayway 2.0 decides: see `compare`.
    func holds(_ f: FilterExpr, _ item: VTLValue) throws(Failure) -> Bool {
        switch f {
        case .exists(let p):
            let found: VTLValue?
            do { found = try p.read(item) } catch { return false }
            guard let v = found else { return false }
            return p.definite || !isEmptyList(v)
        case .and(let a, let b):
            guard try holds(a, item) else { return false }
            return try holds(b, item)
        case .or(let a, let b):
            if try holds(a, item) { return true }
            return try holds(b, item)
        case .not(let a): return try !holds(a, item)
        case .compare(let l, let op, let r):
            if op == "=~" {
                // The regex on either side, matched against the whole text of the other.
                let (operand, regex): (Operand, Operand) = { if case .regex = l { return (r, l) }; return (l, r) }()
                guard case .regex(let pattern, let ci) = regex else {
                    throw Failure(message: "ClassCastException: =~ needs a /regex/")
                }
                guard let v = value(operand, item), !v.isNull,
                      let re = try? JavaRegex(ci ? "(?i)" + pattern : pattern) else { return false }
                return re.matchesWhole(JSONPath.javaText(v))
            }
            // A path that finds nothing fails every comparison, != included.
            guard let x = value(l, item), let y = value(r, item) else { return false }
            // Jayway compares the right operand with the left (the same path on both sides is
            // one object: equal).
            let c: Int
            if case .path(let lp) = l, case .path(let rp) = r, lp.source == rp.source {
                c = 0
            } else {
                guard let k = try JSONPath.compare(y, x) else { return false }   // incomparable
                c = k
            }
            switch op {
            case "==": return c == 0
            case "!=": return c != 0
            case "<", "<=", ">", ">=":
                // An ordering with one JSON null is false.
                if x.isNull != y.isNull { return false }
                switch op {
                case "<": return c > 0
                case "<=": return c >= 0
                case ">": return c < 0
                default: return c <= 0
                }
            default: return false
            }
        }
    }

    /// Jayway 2.0's comparison of a filter's right operand `p` with its left `q` (filter
    /// literals are text: `1`, `true` and `null` are the strings "1", "true", "null"): the
    /// string "null" counts as null; two strings compare as Java strings; two numbers as exact
    /// decimals; a string against a number is read as a decimal (not one: Java's
    /// NumberFormatException, which fails the whole read); a string against a boolean is true
    /// when it says "true" in any case; booleans order false < true. Anything else is
    /// incomparable (nil), which fails every comparison.
    static func compare(_ p: VTLValue, _ q: VTLValue) throws(Failure) -> Int? {
        func nullish(_ v: VTLValue) -> Bool {
            if case .null = v { return true }
            if case .string(let s) = v { return s == "null" }
            return false
        }
        let pn = nullish(p), qn = nullish(q)
        if pn && !qn { return -1 }
        if qn && !pn { return 1 }
        if pn && qn { return 0 }
        switch (p, q) {
        case (.string(let a), .string(let b)):
            // Jayway unescapes \' in the right operand before comparing.
            var a2 = a
            if a.contains("'") {
                var out: [UInt8] = []
                let u = Array(a.utf8)
                var k = 0
                while k < u.count {
                    if u[k] == 0x5C && k + 1 < u.count && u[k + 1] == 0x27 { out.append(0x27); k += 2; continue }
                    out.append(u[k])
                    k += 1
                }
                a2 = String(decoding: out, as: UTF8.self)
            }
            return javaCompare(a2, b)
        case (.string(let a), _) where q.isNumber:
            guard let x = ExactDecimal(a) else { throw Failure(message: "NumberFormatException: \(a) is not a number") }
            guard let y = ExactDecimal(q.javaString) else { throw Failure(message: "NumberFormatException: \(q.javaString)") }
            return x.compare(y)
        case (_, _) where p.isNumber && q.isNumber:
            guard let x = ExactDecimal(p.javaString), let y = ExactDecimal(q.javaString) else {
                throw Failure(message: "NumberFormatException: \(p.javaString), \(q.javaString)")
            }
            return x.compare(y)
        case (.string(let a), .bool(let b)):
            let e = a.lowercased() == "true"
            return e == b ? 0 : (e ? 1 : -1)
        case (.bool(let a), .bool(let b)):
            return a == b ? 0 : (a ? 1 : -1)
        default:
            return nil
        }
    }


    /// What a regex filter matches against: a value's text (objects and arrays as JSON).
    static func javaText(_ v: VTLValue) -> String {
        switch v {
        case .map, .list: return jsonText(v)
        default: return v.javaString
        }
    }

    /// Java's String.compareTo: UTF-16 code units in order; the sign of the result.
    static func javaCompare(_ a: String, _ b: String) -> Int {
        var i = a.utf16.makeIterator(), j = b.utf16.makeIterator()
        while true {
            switch (i.next(), j.next()) {
            case (nil, nil): return 0
            case (nil, _): return -1
            case (_, nil): return 1
            case (let x?, let y?): if x != y { return x < y ? -1 : 1 }
            }
        }
    }

    func isEmptyList(_ v: VTLValue) -> Bool {
        if case .list(let l) = v { return l.items.isEmpty }
        return false
    }

    func value(_ o: Operand, _ item: VTLValue) -> VTLValue? {
        switch o {
        case .literal(let v): return v
        case .path(let p):
            do { return try p.read(item) } catch { return nil }
        case .regex: return nil
        }
    }

}

private struct PathParser {
    let chars: [Unicode.Scalar]
    var i: Int
    /// Filter nesting; a path can come from a request, so it is bounded.
    var depth = 0

    mutating func segments() throws(JSONPath.Failure) -> [JSONPath.Segment] {
        var out: [JSONPath.Segment] = []
        while i < chars.count {
            let c = chars[i]
            if c == "." {
                if i + 1 < chars.count && chars[i + 1] == "." {
                    i += 2
                    if i < chars.count && chars[i] == "[" {
                        out.append(.deep(try bracket()))
                    } else if i < chars.count && chars[i] == "*" {
                        i += 1
                        out.append(.deep(nil))
                    } else {
                        out.append(.deep(.keys([try name()])))
                    }
                    continue
                }
                i += 1
                if i < chars.count && chars[i] == "*" {
                    i += 1
                    out.append(.wildcard)
                } else {
                    out.append(.keys([try name()]))
                }
                continue
            }
            if c == "[" {
                out.append(try bracket())
                continue
            }
            throw JSONPath.Failure(message: "Could not parse path at \(i)")
        }
        return out
    }

    mutating func name() throws(JSONPath.Failure) -> String {
        let start = i
        while i < chars.count && chars[i] != "." && chars[i] != "[" { i += 1 }
        guard i > start else { throw JSONPath.Failure(message: "Path must not end with a '.'") }
        var s = ""
        s.unicodeScalars.append(contentsOf: chars[start..<i])
        return s
    }

    mutating func bracket() throws(JSONPath.Failure) -> JSONPath.Segment {
        i += 1  // [
        skip()
        guard i < chars.count else { throw JSONPath.Failure(message: "unterminated [") }
        if chars[i] == "*" {
            i += 1
            skip()
            try expect("]")
            return .wildcard
        }
        if chars[i] == "?" {
            i += 1
            skip()
            try expect("(")
            let f = try filterOr()
            skip()
            try expect(")")
            skip()
            try expect("]")
            return .filter(f)
        }
        if chars[i] == "\"" {
            // Jayway 2.0 reads only single-quoted names in brackets.
            throw JSONPath.Failure(message: "Could not analyze path component")
        }
        if chars[i] == "'" {
            var keys: [String] = []
            while true {
                skip()
                keys.append(try quoted())
                skip()
                if i < chars.count && chars[i] == "," { i += 1; continue }
                break
            }
            try expect("]")
            return .keys(keys)
        }
        // Numbers: index list or slice.
        let start = i
        while i < chars.count && chars[i] != "]" { i += 1 }
        guard i < chars.count else { throw JSONPath.Failure(message: "unterminated [") }
        var body = ""
        body.unicodeScalars.append(contentsOf: chars[start..<i])
        i += 1
        body = body.replacingSpaces
        if body.contains(":") {
            let parts = body.split(separator: ":", omittingEmptySubsequences: false)
            guard parts.count == 2 else { throw JSONPath.Failure(message: "bad slice [\(body)]") }
            let a = parts[0].isEmpty ? nil : Int(parts[0])
            let z = parts[1].isEmpty ? nil : Int(parts[1])
            if (!parts[0].isEmpty && a == nil) || (!parts[1].isEmpty && z == nil) {
                throw JSONPath.Failure(message: "bad slice [\(body)]")
            }
            return .slice(a, z)
        }
        var ns: [Int] = []
        for p in body.split(separator: ",") {
            guard let n = Int(p) else { throw JSONPath.Failure(message: "bad index [\(body)]") }
            ns.append(n)
        }
        guard !ns.isEmpty else { throw JSONPath.Failure(message: "empty []") }
        return .indexes(ns)
    }

    mutating func skip() {
        while i < chars.count && chars[i] == " " { i += 1 }
    }

    mutating func expect(_ c: Unicode.Scalar) throws(JSONPath.Failure) {
        guard i < chars.count, chars[i] == c else { throw JSONPath.Failure(message: "expected \(c) in path") }
        i += 1
    }

    mutating func quoted() throws(JSONPath.Failure) -> String {
        guard i < chars.count else { throw JSONPath.Failure(message: "expected a quoted name") }
        let q = chars[i]
        i += 1
        var s = ""
        while i < chars.count && chars[i] != q {
            if chars[i] == "\\" && i + 1 < chars.count { i += 1 }
            s.unicodeScalars.append(chars[i])
            i += 1
        }
        try expect(q)
        return s
    }

    mutating func filterOr() throws(JSONPath.Failure) -> JSONPath.FilterExpr {
        var l = try filterAnd()
        while true {
            skip()
            if i + 1 < chars.count && chars[i] == "|" && chars[i + 1] == "|" {
                i += 2
                l = .or(l, try filterAnd())
            } else { return l }
        }
    }

    mutating func filterAnd() throws(JSONPath.Failure) -> JSONPath.FilterExpr {
        var l = try filterAtom()
        while true {
            skip()
            if i + 1 < chars.count && chars[i] == "&" && chars[i + 1] == "&" {
                i += 2
                l = .and(l, try filterAtom())
            } else { return l }
        }
    }

    mutating func filterAtom() throws(JSONPath.Failure) -> JSONPath.FilterExpr {
        depth += 1
        defer { depth -= 1 }
        if depth > 100 { throw JSONPath.Failure(message: "the filter nests too deeply") }
        skip()
        guard i < chars.count else { throw JSONPath.Failure(message: "incomplete filter") }
        if chars[i] == "!" {
            i += 1
            return .not(try filterAtom())
        }
        if chars[i] == "(" {
            i += 1
            let f = try filterOr()
            skip()
            try expect(")")
            return f
        }
        let left = try operand()
        skip()
        var op = ""
        while i < chars.count, "=!<>~".unicodeScalars.contains(chars[i]) {
            op.unicodeScalars.append(chars[i])
            i += 1
        }
        if op.isEmpty {
            guard case .path(let p) = left else { throw JSONPath.Failure(message: "a filter needs a comparison") }
            return .exists(p)
        }
        let right = try operand()
        return .compare(left, op, right)
    }

    mutating func operand() throws(JSONPath.Failure) -> JSONPath.Operand {
        skip()
        guard i < chars.count else { throw JSONPath.Failure(message: "incomplete filter") }
        let c = chars[i]
        if c == "@" || c == "$" {
            let start = i
            i += 1
            while i < chars.count, !" =!<>~&|)".unicodeScalars.contains(chars[i]) {
                if chars[i] == "[" {
                    while i < chars.count && chars[i] != "]" { i += 1 }
                }
                i += 1
            }
            var text = ""
            text.unicodeScalars.append(contentsOf: chars[start..<min(i, chars.count)])
            var path = try JSONPath.compile(text, depth: depth)
            path.source = text
            return .path(path)
        }
        if c == "'" { return .literal(.string(try quoted())) }
        if c == "\"" {
            // Jayway 2.0 keeps the double quotes as part of the value, so it never equals.
            let inner = try quoted()
            return .literal(.string("\"" + inner + "\""))
        }
        if c == "/" {
            i += 1
            var pattern = ""
            while i < chars.count && chars[i] != "/" {
                if chars[i] == "\\" && i + 1 < chars.count { pattern.unicodeScalars.append(chars[i]); i += 1 }
                pattern.unicodeScalars.append(chars[i])
                i += 1
            }
            try expect("/")
            var ci = false
            while i < chars.count, ("a"..."z").contains(chars[i]) {
                if chars[i] == "i" { ci = true }
                i += 1
            }
            return .regex(pattern, ci)
        }
        let start = i
        while i < chars.count, !" =!<>~&|)".unicodeScalars.contains(chars[i]) { i += 1 }
        var word = ""
        word.unicodeScalars.append(contentsOf: chars[start..<i])
        // Jayway 2.0 has no number, boolean or null literals: any other word is its text.
        if word.isEmpty { throw JSONPath.Failure(message: "incomplete filter") }
        return .literal(.string(word))
    }
}

extension String {
    var trimmingSpaces: String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" || f == "\n" || f == "\r" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" || l == "\n" || l == "\r" { s = s.dropLast() }
        return String(s)
    }

    var replacingSpaces: String { String(filter { $0 != " " }) }
}

/// A decimal number read exactly, as Java's BigDecimal reads text: an optional sign, digits with
/// an optional point (`1.`, `.5`), an optional exponent. Compared by value (scale aside).
struct ExactDecimal {
    var negative: Bool
    /// Significant digits, no leading or trailing zeros (empty for zero).
    var digits: [UInt8]
    /// The value is 0.d1d2… × 10^exponent.
    var exponent: Int

    init?(_ text: String) {
        let b = Array(text.utf8)
        var i = 0
        negative = false
        if i < b.count && (b[i] == 0x2B || b[i] == 0x2D) { negative = b[i] == 0x2D; i += 1 }
        var all: [UInt8] = []
        var pointAt: Int?
        var sawDigit = false
        while i < b.count {
            let c = b[i]
            if c >= 0x30 && c <= 0x39 { all.append(c - 0x30); sawDigit = true }
            else if c == 0x2E && pointAt == nil { pointAt = all.count }
            else { break }
            i += 1
        }
        guard sawDigit else { return nil }
        var exp = 0
        if i < b.count && (b[i] == 0x65 || b[i] == 0x45) {
            i += 1
            var expNegative = false
            if i < b.count && (b[i] == 0x2B || b[i] == 0x2D) { expNegative = b[i] == 0x2D; i += 1 }
            let start = i
            while i < b.count && b[i] >= 0x30 && b[i] <= 0x39 && i - start < 9 { exp = exp * 10 + Int(b[i] - 0x30); i += 1 }
            guard i > start else { return nil }
            if expNegative { exp = -exp }
        }
        guard i == b.count else { return nil }
        let intCount = pointAt ?? all.count
        var lead = 0
        while lead < all.count && all[lead] == 0 { lead += 1 }
        var trail = all.count
        while trail > lead && all[trail - 1] == 0 { trail -= 1 }
        digits = Array(all[lead..<trail])
        exponent = intCount - lead + exp
        if digits.isEmpty { negative = false; exponent = 0 }
    }

    /// The sign of self - other.
    func compare(_ o: ExactDecimal) -> Int {
        if digits.isEmpty && o.digits.isEmpty { return 0 }
        if digits.isEmpty { return o.negative ? 1 : -1 }
        if o.digits.isEmpty { return negative ? -1 : 1 }
        if negative != o.negative { return negative ? -1 : 1 }
        var magnitude: Int
        if exponent != o.exponent {
            magnitude = exponent < o.exponent ? -1 : 1
        } else {
            magnitude = 0
            for k in 0..<max(digits.count, o.digits.count) {
                let a = k < digits.count ? digits[k] : 0, z = k < o.digits.count ? o.digits[k] : 0
                if a != z { magnitude = a < z ? -1 : 1; break }
            }
        }
        return negative ? -magnitude : magnitude
    }
}
