/// The Java methods templates call on strings, lists, maps and numbers, with Java's results
/// (UTF-16 indices, Java regex replacement syntax, `split`'s trailing-empty rule).
extension VTLRenderer {
    /// `$x.name(args)`. A method that does not exist gives null (rendered as nothing); one that
    /// exists and returns null gives "" (API Gateway's engine), so `#if` sees the difference.
    func invoke(_ v: VTLValue, _ name: String, _ args: [VTLValue]) throws(VTLFlow) -> VTLValue {
        let result: VTLValue?
        do {
            switch v {
            case .string(let s): result = try stringMethod(s, name, args)
            case .list(let l): result = try listMethod(l, name, args)
            case .map(let m): result = mapMethod(m, name, args)
            case .int, .double, .bigInt, .bigDecimal: result = numberMethod(v, name, args)
            case .bool(let b): result = boolMethod(b, name, args)
            case .object(let o): result = try o.call(name, args, self)
            case .null: result = nil
            }
        } catch let e as VTLFlow {
            throw e
        } catch let e as VTLRenderError {
            throw VTLFlow.fail(e)
        } catch {
            throw VTLFlow.fail(VTLRenderError("\(name): \(error)"))
        }
        guard let result else { return .null }
        return result.isNull ? .string("") : result
    }

    func generic(_ v: VTLValue, _ name: String, _ args: [VTLValue]) -> VTLValue? {
        switch (name, args.count) {
        case ("toString", 0): return .string(v.javaString)
        case ("equals", 1): return .bool(VTLRenderer.javaEquals(v, args[0]) && v.javaClass == args[0].javaClass)
        case ("hashCode", 0): return .int(Int(truncatingIfNeeded: javaHash(v.javaString)))
        case ("getClass", 0): return .string("class " + v.javaClass)
        default: return nil
        }
    }

    // MARK: String

    /// String methods whose arguments are Strings (built once, not at every call).
    static let stringArgMethods: Set<String> = ["indexOf", "lastIndexOf", "contains", "startsWith", "endsWith", "concat",
                                                "compareTo", "replace", "replaceAll", "replaceFirst", "matches", "split",
                                                "equalsIgnoreCase"]

    func stringMethod(_ s: String, _ name: String, _ args: [VTLValue]) throws -> VTLValue? {
        // A null where Java expects a String argument is a NullPointerException.
        if args.contains(where: \.isNull), VTLRenderer.stringArgMethods.contains(name) {
            // Only when Java would pick a method: every other argument of a fitting type.
            let fits = args.allSatisfy { a in
                switch a {
                case .null, .string: return true
                case .int: return name == "indexOf" || name == "lastIndexOf" || name == "split"
                default: return false
                }
            }
            if fits && name == "replaceAll" && args.count == 2,
               case .string(let pattern) = args[0], args[1].isNull {
                // Java's Matcher.replaceAll reads the replacement only once the pattern has matched
                // (replaceFirst checks it first).
                if try JavaRegex(pattern).matches(in: s).isEmpty { return .string(s) }
            }
            if fits { throw VTLRenderError("NullPointerException in String.\(name)") }
            return nil
        }
        let u = Array(s.utf16)
        func str(_ k: Int) -> String? {
            guard k < args.count else { return nil }
            switch args[k] {
            case .string(let x): return x
            default: return nil
            }
        }
        func int(_ k: Int) -> Int? {
            guard k < args.count, case .int(let n) = args[k] else { return nil }
            return n
        }
        func sub(_ a: Int, _ b: Int) throws -> String {
            guard a >= 0, b <= u.count, a <= b else {
                throw VTLRenderError("String index out of range: \(a < 0 ? a : b > u.count ? b : b - a)")
            }
            return String(decoding: u[a..<b], as: UTF16.self)
        }
        switch (name, args.count) {
        case ("length", 0): return .int(u.count)
        case ("isEmpty", 0): return .bool(u.isEmpty)
        case ("toUpperCase", 0): return .string(s.uppercased())
        case ("toLowerCase", 0): return .string(s.lowercased())
        case ("trim", 0):
            var a = 0, z = u.count
            while a < z && u[a] <= 0x20 { a += 1 }
            while z > a && u[z - 1] <= 0x20 { z -= 1 }
            return .string(try sub(a, z))
        case ("toString", 0), ("intern", 0): return .string(s)
        case ("substring", 1):
            guard let a = int(0) else { return nil }
            return .string(try sub(a, u.count))
        case ("substring", 2):
            guard let a = int(0), let z = int(1) else { return nil }
            return .string(try sub(a, z))
        case ("charAt", 1):
            guard let k = int(0) else { return nil }
            guard k >= 0 && k < u.count else { throw VTLRenderError("String index out of range: \(k)") }
            return .string(String(decoding: [u[k]], as: UTF16.self))
        case ("indexOf", 1), ("indexOf", 2):
            // indexOf(String) or indexOf(int ch), as Java overloads it.
            let needle: [UInt16]
            if let t = str(0) { needle = Array(t.utf16) } else if let ch = int(0) {
                guard ch >= 0 && ch <= 0xFFFF else { return .int(-1) }
                needle = [UInt16(ch)]
            } else { return nil }
            let from = args.count == 2 ? (int(1) ?? 0) : 0
            return .int(indexOf(u, needle, from: from))
        case ("lastIndexOf", 1):
            let needle: [UInt16]
            if let t = str(0) { needle = Array(t.utf16) } else if let ch = int(0) {
                guard ch >= 0 && ch <= 0xFFFF else { return .int(-1) }
                needle = [UInt16(ch)]
            } else { return nil }
            return .int(lastIndexOf(u, needle))
        case ("contains", 1):
            guard let needle = str(0) else { return nil }
            return .bool(indexOf(u, Array(needle.utf16), from: 0) >= 0)
        case ("startsWith", 1):
            guard let p = str(0) else { return nil }
            return .bool(u.starts(with: p.utf16))
        case ("endsWith", 1):
            guard let p = str(0) else { return nil }
            return .bool(u.count >= p.utf16.count && Array(u.suffix(p.utf16.count)) == Array(p.utf16))
        case ("equals", 1):
            if case .string(let x) = args[0] { return .bool(x == s) }
            return .bool(false)
        case ("equalsIgnoreCase", 1):
            guard let x = str(0) else { return .bool(false) }
            return .bool(x.lowercased() == s.lowercased())
        case ("concat", 1):
            guard let x = str(0) else { return nil }
            return .string(s + x)
        case ("compareTo", 1):
            guard let x = str(0) else { return nil }
            let a = u, b = Array(x.utf16)
            for k in 0..<min(a.count, b.count) where a[k] != b[k] { return .int(Int(a[k]) - Int(b[k])) }
            return .int(a.count - b.count)
        case ("replace", 2):
            guard let a = str(0), let b = str(1) else { return nil }
            if a.isEmpty {
                // Java inserts the replacement between every character.
                var out = b
                for ch in s { out += String(ch) + b }
                return .string(out)
            }
            return .string(replaceLiteral(s, a, b))
        case ("replaceAll", 2), ("replaceFirst", 2):
            guard let pattern = str(0), let repl = str(1) else { return nil }
            return .string(try JavaRegex(pattern).replace(in: s, with: repl, all: name == "replaceAll"))
        case ("matches", 1):
            guard let pattern = str(0) else { return nil }
            return .bool(try JavaRegex(pattern).matchesWhole(s))
        case ("split", 1), ("split", 2):
            guard let pattern = str(0) else { return nil }
            let limit = args.count == 2 ? (int(1) ?? 0) : 0
            let parts = try JavaRegex(pattern).split(s, limit: limit)
            let array = VTLList(parts.map { .string($0) }, jsonArray: false)
            array.javaArray = true
            return .list(array)
        case ("hashCode", 0): return .int(Int(javaHash(s)))
        default: return generic(.string(s), name, args)
        }
    }

    func indexOf(_ h: [UInt16], _ n: [UInt16], from: Int) -> Int {
        let start = max(0, from)
        if n.isEmpty { return min(start, h.count) }
        guard h.count >= n.count, start <= h.count - n.count else { return -1 }
        for k in start...(h.count - n.count) where h[k] == n[0] && Array(h[k..<(k + n.count)]) == n { return k }
        return -1
    }

    func lastIndexOf(_ h: [UInt16], _ n: [UInt16]) -> Int {
        if n.isEmpty { return h.count }
        guard h.count >= n.count else { return -1 }
        for k in stride(from: h.count - n.count, through: 0, by: -1) where Array(h[k..<(k + n.count)]) == n { return k }
        return -1
    }

    func replaceLiteral(_ s: String, _ a: String, _ b: String) -> String {
        let h = Array(s.utf16), n = Array(a.utf16)
        var out: [UInt16] = []
        var k = 0
        while k < h.count {
            if k + n.count <= h.count && Array(h[k..<(k + n.count)]) == n {
                out.append(contentsOf: b.utf16)
                k += n.count
            } else {
                out.append(h[k])
                k += 1
            }
        }
        return String(decoding: out, as: UTF16.self)
    }

    // MARK: List

    func listMethod(_ l: VTLList, _ name: String, _ args: [VTLValue]) throws -> VTLValue? {
        func int(_ k: Int) -> Int? {
            guard k < args.count, case .int(let n) = args[k] else { return nil }
            return n
        }
        func checkIndex(_ n: Int, _ count: Int) throws {
            guard n >= 0 && n < count else { throw VTLRenderError("Index: \(n), Size: \(count)") }
        }
        switch (name, args.count) {
        case ("size", 0): return .int(l.items.count)
        case ("isEmpty", 0): return .bool(l.items.isEmpty)
        case ("get", 1):
            guard let n = int(0) else { return nil }
            try checkIndex(n, l.items.count)
            return l.items[n]
        case ("contains", 1): return .bool(l.items.contains { VTLRenderer.javaEquals($0, args[0]) })
        case ("indexOf", 1): return .int(l.items.firstIndex { VTLRenderer.javaEquals($0, args[0]) } ?? -1)
        case ("lastIndexOf", 1): return .int(l.items.lastIndex { VTLRenderer.javaEquals($0, args[0]) } ?? -1)
        case ("add", 1):
            l.items.append(args[0])
            return .bool(true)
        case ("add", 2):
            guard let n = int(0) else { return nil }
            guard n >= 0 && n <= l.items.count else { throw VTLRenderError("Index: \(n), Size: \(l.items.count)") }
            l.items.insert(args[1], at: n)
            return .null
        case ("set", 2):
            guard let n = int(0) else { return nil }
            try checkIndex(n, l.items.count)
            let old = l.items[n]
            l.items[n] = args[1]
            return old
        case ("remove", 1):
            if let n = int(0) {
                try checkIndex(n, l.items.count)
                return l.items.remove(at: n)
            }
            if let k = l.items.firstIndex(where: { VTLRenderer.javaEquals($0, args[0]) }) {
                l.items.remove(at: k)
                return .bool(true)
            }
            return .bool(false)
        case ("clear", 0):
            l.items.removeAll()
            return .null
        case ("addAll", 1):
            guard case .list(let other) = args[0] else { return nil }
            l.items.append(contentsOf: other.items)
            return .bool(!other.items.isEmpty)
        case ("subList", 2):
            guard let a = int(0), let z = int(1) else { return nil }
            guard a >= 0, z <= l.items.count, a <= z else { throw VTLRenderError("subList(\(a), \(z)) out of range") }
            return .list(VTLList(Array(l.items[a..<z]), jsonArray: false))
        default: return generic(.list(l), name, args)
        }
    }

    // MARK: Map

    func mapMethod(_ m: VTLMap, _ name: String, _ args: [VTLValue]) -> VTLValue? {
        switch (name, args.count) {
        case ("get", 1): return m.get(args[0].javaString) ?? .null
        case ("put", 2): return m.put(args[0].javaString, args[1])
        case ("containsKey", 1): return .bool(m.get(args[0].javaString) != nil)
        case ("containsValue", 1): return .bool(m.entries.contains { VTLRenderer.javaEquals($0.1, args[0]) })
        case ("remove", 1): return m.remove(args[0].javaString)
        case ("size", 0): return .int(m.count)
        case ("isEmpty", 0): return .bool(m.count == 0)
        case ("clear", 0):
            m.clear()
            return .null
        case ("keySet", 0): return .list(VTLList(m.keys.map { .string($0) }, jsonArray: false))
        case ("values", 0): return .list(VTLList(m.entries.map(\.1), jsonArray: false))
        case ("entrySet", 0): return .list(VTLList(m.entries.map { .object(MapEntry(key: $0.0, value: $0.1)) }, jsonArray: false))
        // Java 8's default methods of Map.
        case ("getOrDefault", 2): return m.get(args[0].javaString) ?? args[1]
        case ("putIfAbsent", 2):
            let k = args[0].javaString
            if let old = m.get(k), !old.isNull { return old }
            return m.put(k, args[1])
        case ("replace", 2):
            let k = args[0].javaString
            return m.get(k) != nil ? m.put(k, args[1]) : .null
        case ("replace", 3):
            let k = args[0].javaString
            guard let old = m.get(k), VTLRenderer.javaEquals(old, args[1]) else { return .bool(false) }
            m.put(k, args[2])
            return .bool(true)
        case ("remove", 2):
            let k = args[0].javaString
            guard let old = m.get(k), VTLRenderer.javaEquals(old, args[1]) else { return .bool(false) }
            m.remove(k)
            return .bool(true)
        case ("putAll", 1):
            guard case .map(let other) = args[0] else { return nil }
            for (k, v) in other.entries { m.put(k, v) }
            return .null
        default: return generic(.map(m), name, args)
        }
    }

    // MARK: Numbers and booleans

    func numberMethod(_ v: VTLValue, _ name: String, _ args: [VTLValue]) -> VTLValue? {
        switch (name, args.count) {
        case ("intValue", 0), ("longValue", 0):
            if case .int = v { return v }
            return v.numberAsDouble.map { .int(Int(exactly: $0.rounded(.towardZero)) ?? 0) }
        case ("doubleValue", 0), ("floatValue", 0): return v.numberAsDouble.map { .double($0) }
        case ("isNaN", 0): return v.numberAsDouble.map { .bool($0.isNaN) }
        case ("compareTo", 1):
            guard let x = v.numberAsDouble, let y = args[0].numberAsDouble else { return nil }
            return .int(x < y ? -1 : x > y ? 1 : 0)
        default: return generic(v, name, args)
        }
    }

    func boolMethod(_ b: Bool, _ name: String, _ args: [VTLValue]) -> VTLValue? {
        if name == "booleanValue" && args.isEmpty { return .bool(b) }
        return generic(.bool(b), name, args)
    }
}

/// A `Map.Entry` from `entrySet()`.
final class MapEntry: VTLObject {
    let key: String
    let value: VTLValue
    init(key: String, value: VTLValue) {
        self.key = key
        self.value = value
    }
    func property(_ name: String, _ r: VTLRenderer) -> VTLValue? {
        switch name {
        case "key": return .string(key)
        case "value": return value
        default: return nil
        }
    }
    func call(_ name: String, _ args: [VTLValue], _ r: VTLRenderer) throws -> VTLValue? {
        switch name {
        case "getKey": return .string(key)
        case "getValue": return value
        case "toString": return .string(javaString(r))
        default: return nil
        }
    }
    func javaString(_ r: VTLRenderer?) -> String { "\(key)=\(value.javaString)" }
    var javaClass: String { "Entry" }
}

/// Java's `String.hashCode`.
func javaHash(_ s: String) -> Int32 {
    var h: Int32 = 0
    for u in s.utf16 { h = h &* 31 &+ Int32(u) }
    return h
}
