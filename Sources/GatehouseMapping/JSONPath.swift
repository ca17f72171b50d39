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
            case .list(let l): out.append(contentsOf: l.items.filter { holds(f, $0) })
            case .map: if holds(f, v) { out.append(v) }
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

    func holds(_ f: FilterExpr, _ item: VTLValue) -> Bool {
        switch f {
        case .exists(let p):
            let found: VTLValue?
            do { found = try p.read(item) } catch { return false }
            guard let v = found else { return false }
            return p.definite || !isEmptyList(v)
        case .and(let a, let b): return holds(a, item) && holds(b, item)
        case .or(let a, let b): return holds(a, item) || holds(b, item)
        case .not(let a): return !holds(a, item)
        case .compare(let l, let op, let r):
            guard let x = value(l, item) else { return false }
            if case .regex(let pattern, let ci) = r {
                guard case .string(let s) = x, let re = try? JavaRegex(ci ? "(?i)" + pattern : pattern) else { return false }
                return re.matchesWhole(s)
            }
            guard let y = value(r, item) else { return false }
            switch op {
            case "==": return filterEquals(x, y)
            case "!=": return !filterEquals(x, y)
            case "<", "<=", ">", ">=":
                if let a = x.numberAsDouble, let b = y.numberAsDouble, x.isNumber, y.isNumber {
                    switch op {
                    case "<": return a < b
                    case "<=": return a <= b
                    case ">": return a > b
                    default: return a >= b
                    }
                }
                if case .string(let a) = x, case .string(let b) = y {
                    switch op {
                    case "<": return a < b
                    case "<=": return a <= b
                    case ">": return a > b
                    default: return a >= b
                    }
                }
                return false
            default: return false
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

    func filterEquals(_ a: VTLValue, _ b: VTLValue) -> Bool {
        if a.isNumber && b.isNumber { return a.numberAsDouble == b.numberAsDouble }
        switch (a, b) {
        case (.string(let x), .string(let y)): return x == y
        case (.bool(let x), .bool(let y)): return x == y
        case (.null, .null): return true
        default: return false
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
        return .compare(left, op == "=~" ? "=~" : op, right)
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
            return .path(try JSONPath.compile(text, depth: depth))
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
        switch word {
        case "true": return .literal(.bool(true))
        case "false": return .literal(.bool(false))
        case "null": return .literal(.null)
        default:
            if let n = Int(word) { return .literal(.int(n)) }
            if let d = Double(word) { return .literal(.double(d)) }
            throw JSONPath.Failure(message: "bad filter value \(word)")
        }
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
