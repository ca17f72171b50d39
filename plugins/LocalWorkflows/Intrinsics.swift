import COpenSSL
import GatehouseJSON

/// An intrinsic function call in a payload template (`"x.$": "States.Format('{}', $.a)"`),
/// parsed and checked for arity at registration, evaluated per state.
struct IntrinsicCall: Equatable, Sendable {
    let function: IntrinsicFunction
    let arguments: [Argument]

    indirect enum Argument: Equatable, Sendable {
        /// A quoted string as written between the quotes, escapes kept: States.Format reads
        /// `\{` and `\}` differently from `{}`.
        case string(raw: String)
        /// A number, `true`, `false` or `null`.
        case value(JSONValue)
        case path(JSONPath)
        case call(IntrinsicCall)
    }

    /// The failure every argument or evaluation fault becomes.
    static func failure(_ cause: String) -> StateFailure {
        StateFailure(error: "States.IntrinsicFailure", cause: cause)
    }

    func evaluate(input: JSONValue, context: JSONValue) throws(StateFailure) -> JSONValue {
        var values: [JSONValue] = []
        for a in arguments { values.append(try Self.value(of: a, input: input, context: context)) }
        // States.Format's template keeps its escapes when written as a literal; one read from
        // the input is taken as it is.
        var template: String?
        if case .string(let raw)? = arguments.first { template = raw } else { template = values.first?.stringValue }
        return try function.apply(values, rawTemplate: template)
    }

    static func value(of argument: Argument, input: JSONValue, context: JSONValue) throws(StateFailure) -> JSONValue {
        switch argument {
        case .string(let raw): return .string(unescaped(raw))
        case .value(let v): return v
        case .call(let c): return try c.evaluate(input: input, context: context)
        case .path(let p):
            guard let v = p.evaluate(p.isContext ? context : input) else {
                throw failure("The JSONPath '\(p.text)' could not be found in the input.")
            }
            return v
        }
    }

    /// A string literal's text: `\x` is `x`.
    static func unescaped(_ raw: String) -> String {
        var out = ""
        var escaping = false
        for c in raw.unicodeScalars {
            if escaping { out.unicodeScalars.append(c); escaping = false } else if c == "\\" { escaping = true } else { out.unicodeScalars.append(c) }
        }
        return out
    }
}

/// The intrinsic functions of the Amazon States Language (JSONPath query language).
enum IntrinsicFunction: String, Sendable {
    case format = "States.Format"
    case stringToJson = "States.StringToJson"
    case jsonToString = "States.JsonToString"
    case array = "States.Array"
    case arrayPartition = "States.ArrayPartition"
    case arrayContains = "States.ArrayContains"
    case arrayRange = "States.ArrayRange"
    case arrayGetItem = "States.ArrayGetItem"
    case arrayLength = "States.ArrayLength"
    case arrayUnique = "States.ArrayUnique"
    case base64Encode = "States.Base64Encode"
    case base64Decode = "States.Base64Decode"
    case hash = "States.Hash"
    case jsonMerge = "States.JsonMerge"
    case mathRandom = "States.MathRandom"
    case mathAdd = "States.MathAdd"
    case stringSplit = "States.StringSplit"
    case uuid = "States.UUID"

    /// Step Functions' documented limits: 1,000 items from ArrayRange; 10,000 characters into
    /// Base64Encode, Base64Decode and Hash.
    static let maxRangeItems = 1000
    static let maxTextCharacters = 10_000

    /// The argument counts each function takes.
    var arity: ClosedRange<Int> {
        switch self {
        case .format: return 1...Int.max
        case .array: return 0...Int.max
        case .uuid: return 0...0
        case .stringToJson, .jsonToString, .arrayLength, .arrayUnique, .base64Encode, .base64Decode: return 1...1
        case .arrayPartition, .arrayContains, .arrayGetItem, .hash, .mathAdd, .stringSplit: return 2...2
        case .mathRandom: return 2...3
        case .arrayRange, .jsonMerge: return 3...3
        }
    }

    func apply(_ a: [JSONValue], rawTemplate: String?) throws(StateFailure) -> JSONValue {
        func fail(_ why: String) -> StateFailure { IntrinsicCall.failure("\(rawValue): \(why)") }
        func string(_ i: Int, _ what: String) throws(StateFailure) -> String {
            guard case .string(let s) = a[i] else { throw fail("the \(what) must be a string, not \(a[i].typeName)") }
            return s
        }
        func array(_ i: Int) throws(StateFailure) -> [JSONValue] {
            guard case .array(let items) = a[i] else { throw fail("the first argument must be an array, not \(a[i].typeName)") }
            return items
        }
        func integer(_ i: Int, _ what: String) throws(StateFailure) -> Int64 {
            guard let n = a[i].exactInteger else { throw fail("the \(what) must be an integer, not \(a[i].jsonText)") }
            return n
        }
        switch self {
        case .format:
            guard let raw = rawTemplate else { throw fail("the template must be a string literal") }
            return .string(try Self.format(raw, Array(a.dropFirst()), fail))
        case .stringToJson:
            let text = try string(0, "argument")
            do { return try JSONValue.parse(text) } catch { throw fail("the argument is not JSON: \(error)") }
        case .jsonToString:
            return .string(a[0].jsonText)
        case .array:
            return .array(a)
        case .arrayPartition:
            let items = try array(0)
            let size = try integer(1, "chunk size")
            guard size > 0 else { throw fail("the chunk size must be greater than 0") }
            var out: [JSONValue] = []
            var i = 0
            while i < items.count {
                let end = min(items.count, i + Int(size))
                out.append(.array(Array(items[i..<end])))
                i = end
            }
            return .array(out)
        case .arrayContains:
            return .bool(try array(0).contains(a[1]))
        case .arrayRange:
            let start = try integer(0, "start"), end = try integer(1, "end"), step = try integer(2, "step")
            guard step != 0 else { throw fail("the step must not be 0") }
            var out: [JSONValue] = []
            var v = start
            while step > 0 ? v <= end : v >= end {
                guard out.count < Self.maxRangeItems else { throw fail("the range has more than \(Self.maxRangeItems) items") }
                out.append(.int(v))
                let (next, overflow) = v.addingReportingOverflow(step)
                if overflow { break }
                v = next
            }
            return .array(out)
        case .arrayGetItem:
            let items = try array(0)
            let index = try integer(1, "index")
            guard index >= 0, index < items.count else { throw fail("the index \(index) is out of bounds for an array of \(items.count)") }
            return items[Int(index)]
        case .arrayLength:
            return .int(Int64(try array(0).count))
        case .arrayUnique:
            var out: [JSONValue] = []
            for v in try array(0) where !out.contains(v) { out.append(v) }
            return .array(out)
        case .base64Encode:
            let s = try string(0, "argument")
            guard s.count <= Self.maxTextCharacters else { throw fail("the input is over \(Self.maxTextCharacters) characters") }
            return .string(Base64Text.encode(Array(s.utf8)))
        case .base64Decode:
            let s = try string(0, "argument")
            guard s.count <= Self.maxTextCharacters else { throw fail("the input is over \(Self.maxTextCharacters) characters") }
            guard let bytes = Base64Text.decode(s) else { throw fail("the argument is not Base64") }
            return .string(String(decoding: bytes, as: UTF8.self))
        case .hash:
            let data: String
            if case .string(let s) = a[0] { data = s } else { data = a[0].jsonText }
            guard data.count <= Self.maxTextCharacters else { throw fail("the input is over \(Self.maxTextCharacters) characters") }
            let algorithm = try string(1, "algorithm")
            guard let digest = Self.digest(Array(data.utf8), algorithm) else {
                throw fail("the algorithm must be one of MD5, SHA-1, SHA-256, SHA-384, SHA-512, not '\(algorithm)'")
            }
            return .string(digest)
        case .jsonMerge:
            guard case .object(let left) = a[0], case .object(let right) = a[1] else { throw fail("the first two arguments must be objects") }
            guard a[2] == .bool(false) else { throw fail("only a shallow merge (false) is supported") }
            var merged = left
            for (k, v) in right.members { merged[k] = v }
            return .object(merged)
        case .mathRandom:
            let start = try integer(0, "start"), end = try integer(1, "end")
            guard start < end else { throw fail("the start must be less than the end") }
            let span = UInt64(bitPattern: end &- start)
            let offset: UInt64
            if a.count == 3 {
                var rng = SeededGenerator(seed: UInt64(bitPattern: try integer(2, "seed")))
                offset = UInt64.random(in: 0..<span, using: &rng)
            } else {
                offset = UInt64.random(in: 0..<span)
            }
            return .int(start &+ Int64(bitPattern: offset))
        case .mathAdd:
            let x = try integer(0, "first number"), y = try integer(1, "second number")
            let (sum, overflow) = x.addingReportingOverflow(y)
            guard !overflow else { throw fail("the sum overflows") }
            return .int(sum)
        case .stringSplit:
            let s = try string(0, "string"), delimiters = Set(try string(1, "delimiter").unicodeScalars)
            // Runs of delimiters separate tokens; empty tokens are not returned.
            var out: [JSONValue] = []
            var token = ""
            for c in s.unicodeScalars {
                if delimiters.contains(c) {
                    if !token.isEmpty { out.append(.string(token)); token = "" }
                } else {
                    token.unicodeScalars.append(c)
                }
            }
            if !token.isEmpty { out.append(.string(token)) }
            return .array(out)
        case .uuid:
            return .string(WorkflowEngine.randomUUID())
        }
    }

    /// States.Format: each `{}` takes the next argument (a string as is, a number, boolean or
    /// null as JSON writes it); `\{`, `\}`, `\'` and `\\` are the characters themselves.
    static func format(_ raw: String, _ args: [JSONValue], _ fail: (String) -> StateFailure) throws(StateFailure) -> String {
        var out = ""
        var next = 0
        let s = Array(raw.unicodeScalars)
        var i = 0
        while i < s.count {
            if s[i] == "\\", i + 1 < s.count {
                out.unicodeScalars.append(s[i + 1])
                i += 2
            } else if s[i] == "{", i + 1 < s.count, s[i + 1] == "}" {
                guard next < args.count else { throw fail("the template has more {} than there are arguments") }
                switch args[next] {
                case .string(let v): out += v
                case .int, .double, .bool, .null: out += args[next].jsonText
                case .array, .object: throw fail("argument \(next + 1) is \(args[next].typeName); only strings, numbers, booleans and null can be formatted")
                }
                next += 1
                i += 2
            } else {
                out.unicodeScalars.append(s[i])
                i += 1
            }
        }
        guard next == args.count else { throw fail("the template has fewer {} than there are arguments") }
        return out
    }

    /// Lowercase hex of the digest, through OpenSSL's EVP interface.
    static func digest(_ data: [UInt8], _ algorithm: String) -> String? {
        let md: OpaquePointer?
        switch algorithm {
        case "MD5": md = EVP_md5()
        case "SHA-1": md = EVP_sha1()
        case "SHA-256": md = EVP_sha256()
        case "SHA-384": md = EVP_sha384()
        case "SHA-512": md = EVP_sha512()
        default: return nil
        }
        var out = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        let ok = data.withUnsafeBytes { d in
            out.withUnsafeMutableBufferPointer { o in
                EVP_Digest(d.baseAddress, d.count, o.baseAddress, &length, md, nil)
            }
        }
        guard ok == 1 else { return nil }
        let hex = Array("0123456789abcdef".unicodeScalars)
        var text = ""
        for b in out.prefix(Int(length)) {
            text.unicodeScalars.append(hex[Int(b >> 4)])
            text.unicodeScalars.append(hex[Int(b & 0x0F)])
        }
        return text
    }
}

/// SplitMix64: MathRandom with a seed gives the same number for the same seed.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Parses `States.Name(arg, …)` as a payload template value holds it.
struct IntrinsicParser {
    let s: [Unicode.Scalar]
    var i = 0

    init(_ text: String) { s = Array(text.unicodeScalars) }

    /// The call, or a reason it is not one.
    static func parse(_ text: String) -> Result<IntrinsicCall, ParseError> {
        var p = IntrinsicParser(text)
        do throws(ParseError) {
            let call = try p.call(depth: 0)
            p.skipSpaces()
            guard p.i == p.s.count else { throw ParseError("unexpected text after the call at character \(p.i + 1)") }
            return .success(call)
        } catch {
            return .failure(error)
        }
    }

    struct ParseError: Error {
        let reason: String
        init(_ reason: String) { self.reason = reason }
    }

    mutating func skipSpaces() {
        while i < s.count, s[i] == " " || s[i] == "\t" || s[i] == "\n" || s[i] == "\r" { i += 1 }
    }

    mutating func call(depth: Int) throws(ParseError) -> IntrinsicCall {
        guard depth < 16 else { throw ParseError("intrinsic functions are nested too deeply") }
        skipSpaces()
        let start = i
        while i < s.count, s[i] != "(" { i += 1 }
        let name = String(String.UnicodeScalarView(s[start..<i])).trimmingSpaces
        guard i < s.count else { throw ParseError("missing '(' after \(name)") }
        guard let function = IntrinsicFunction(rawValue: name) else { throw ParseError("'\(name)' is not an intrinsic function") }
        i += 1
        var arguments: [IntrinsicCall.Argument] = []
        skipSpaces()
        if i < s.count, s[i] == ")" {
            i += 1
        } else {
            while true {
                arguments.append(try argument(depth: depth))
                skipSpaces()
                guard i < s.count else { throw ParseError("missing ')' in \(name)") }
                if s[i] == ")" { i += 1; break }
                guard s[i] == "," else { throw ParseError("expected ',' or ')' at character \(i + 1)") }
                i += 1
            }
        }
        guard function.arity.contains(arguments.count) else {
            let expected = function.arity.upperBound == Int.max ? "at least \(function.arity.lowerBound)"
                : function.arity.count == 1 ? "\(function.arity.lowerBound)" : "\(function.arity.lowerBound) to \(function.arity.upperBound)"
            throw ParseError("\(name) takes \(expected) argument(s), not \(arguments.count)")
        }
        return IntrinsicCall(function: function, arguments: arguments)
    }

    mutating func argument(depth: Int) throws(ParseError) -> IntrinsicCall.Argument {
        skipSpaces()
        guard i < s.count else { throw ParseError("missing argument") }
        let c = s[i]
        if c == "'" {
            i += 1
            var raw = String.UnicodeScalarView()
            while i < s.count, s[i] != "'" {
                if s[i] == "\\", i + 1 < s.count {
                    raw.append(s[i])
                    raw.append(s[i + 1])
                    i += 2
                } else {
                    raw.append(s[i])
                    i += 1
                }
            }
            guard i < s.count else { throw ParseError("unterminated string") }
            i += 1
            return .string(raw: String(raw))
        }
        // Anything else runs to the next top-level ',' or ')' (a path's brackets may hold them).
        let start = i
        var brackets = 0, parens = 0
        var quoted = false
        while i < s.count {
            let d = s[i]
            if quoted {
                if d == "'" { quoted = false }
            } else if d == "'" { quoted = true } else if d == "[" { brackets += 1 } else if d == "]" { brackets -= 1 } else if d == "(" { parens += 1 } else if d == ")" {
                if parens == 0 && brackets == 0 { break }
                parens -= 1
            } else if d == "," && brackets == 0 && parens == 0 { break }
            i += 1
        }
        let text = String(String.UnicodeScalarView(s[start..<i])).trimmingSpaces
        if text.hasPrefix("States.") {
            var inner = IntrinsicParser(text)
            let nested = try inner.call(depth: depth + 1)
            inner.skipSpaces()
            guard inner.i == inner.s.count else { throw ParseError("unexpected text after \(text)") }
            return .call(nested)
        }
        if text.hasPrefix("$") {
            guard let path = JSONPath(text) else { throw ParseError("'\(text)' is not a supported JSONPath") }
            return .path(path)
        }
        switch text {
        case "true": return .value(.bool(true))
        case "false": return .value(.bool(false))
        case "null": return .value(.null)
        default:
            if let v = try? JSONValue.parse(text), v.doubleValue != nil { return .value(v) }
            throw ParseError("'\(text)' is not a valid argument")
        }
    }
}

extension String {
    /// Without leading and trailing spaces and tabs.
    var trimmingSpaces: String {
        var u = Substring(self)
        while let f = u.first, f == " " || f == "\t" { u.removeFirst() }
        while let l = u.last, l == " " || l == "\t" { u.removeLast() }
        return String(u)
    }
}
