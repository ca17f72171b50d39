import GatehouseJSON

/// The JSONPath subset the embedded engine evaluates: `$`, dotted names (`$.a.b`), bracketed
/// names (`$['a b']`), array indices (`$.items[0]`, `[-1]` from the end), and the wildcards
/// `[*]` and `.*`, plus the context object's `$$.` paths. Without a wildcard a path is one of
/// ASL's *reference paths* and names at most one node; with one it is *indefinite* and selects
/// a list of every match (as Jayway, the service's JSONPath, returns it), which ResultPath and
/// the other reference-path fields refuse.
struct JSONPath: Equatable, Sendable {
    enum Segment: Equatable, Sendable {
        case key(String)
        case index(Int)
        /// `[*]` or `.*`: every element of an array, every member value of an object.
        case wildcard
    }

    /// Whether the path names at most one node (no wildcard): a reference path.
    var isDefinite: Bool { !segments.contains(.wildcard) }

    /// The path as written in the definition, for error messages.
    let text: String
    /// `$$.…`: a path into the context object rather than the state's input.
    let isContext: Bool
    let segments: [Segment]

    static let root = JSONPath(text: "$", isContext: false, segments: [])

    private init(text: String, isContext: Bool, segments: [Segment]) {
        self.text = text
        self.isContext = isContext
        self.segments = segments
    }

    /// Parses `text`; nil when it is not a path of the supported form.
    init?(_ text: String) {
        var rest = Substring(text)
        guard rest.first == "$" else { return nil }
        rest = rest.dropFirst()
        var context = false
        if rest.first == "$" {
            context = true
            rest = rest.dropFirst()
        }
        var segments: [Segment] = []
        while let c = rest.first {
            if c == "." {
                rest = rest.dropFirst()
                if rest.first == "*" {
                    segments.append(.wildcard)
                    rest = rest.dropFirst()
                    continue
                }
                let name = rest.prefix { !".[]*'\"() \t\n".contains($0) }
                guard !name.isEmpty else { return nil }
                segments.append(.key(String(name)))
                rest = rest.dropFirst(name.count)
            } else if c == "[" {
                rest = rest.dropFirst()
                if rest.first == "'" {
                    rest = rest.dropFirst()
                    guard let close = rest.firstIndex(of: "'") else { return nil }
                    segments.append(.key(String(rest[..<close])))
                    rest = rest[rest.index(after: close)...]
                } else if rest.first == "*" {
                    segments.append(.wildcard)
                    rest = rest.dropFirst()
                } else {
                    let negative = rest.first == "-"
                    if negative { rest = rest.dropFirst() }
                    let digits = rest.prefix { $0.isASCII && $0.isNumber }
                    guard let n = Int(digits) else { return nil }
                    segments.append(.index(negative ? -n : n))
                    rest = rest.dropFirst(digits.count)
                }
                guard rest.first == "]" else { return nil }
                rest = rest.dropFirst()
            } else {
                return nil
            }
        }
        self.init(text: text, isContext: context, segments: segments)
    }

    /// The path in the bracketed form Step Functions prints in runtime errors: `$['a'][0]`.
    var bracketed: String {
        var out = isContext ? "$$" : "$"
        for s in segments {
            switch s {
            case .key(let k): out += "['\(k)']"
            case .index(let i): out += "[\(i)]"
            case .wildcard: out += "[*]"
            }
        }
        return out
    }

    /// What this path selects in `value`: the node a reference path names (nil when there is
    /// none), or for an indefinite path the list of every match (empty when none).
    func evaluate(_ value: JSONValue) -> JSONValue? {
        guard isDefinite else { return Self.matches(value, segments[...], afterWildcard: false).map(JSONValue.array) }
        var node = value
        for s in segments {
            guard let next = Self.step(s, node) else { return nil }
            node = next
        }
        return node
    }

    private static func step(_ s: Segment, _ node: JSONValue) -> JSONValue? {
        switch (s, node) {
        case (.key(let k), .object(let o)):
            return o[k]
        case (.index(let i), .array(let a)):
            let at = i < 0 ? a.count + i : i
            return at >= 0 && at < a.count ? a[at] : nil
        default:
            return nil
        }
    }

    /// Every match of `rest` under `node`. Before the first wildcard a missing key or index is
    /// a failure (nil), as Jayway reports it; after one, it only means no match there.
    private static func matches(_ node: JSONValue, _ rest: ArraySlice<Segment>, afterWildcard: Bool) -> [JSONValue]? {
        guard let first = rest.first else { return [node] }
        switch (first, node) {
        case (.wildcard, .array(let a)):
            return a.flatMap { matches($0, rest.dropFirst(), afterWildcard: true) ?? [] }
        case (.wildcard, .object(let o)):
            return o.members.flatMap { matches($0.value, rest.dropFirst(), afterWildcard: true) ?? [] }
        case (.wildcard, _):
            return []
        default:
            guard let next = step(first, node) else { return afterWildcard ? [] : nil }
            return matches(next, rest.dropFirst(), afterWildcard: afterWildcard)
        }
    }

    /// `root` with `value` placed where this path points, creating missing objects on the way
    /// (ResultPath semantics). Nil when the path runs into a value it cannot descend into.
    func assigning(_ value: JSONValue, into root: JSONValue) -> JSONValue? {
        Self.assign(value, into: root, segments[...])
    }

    private static func assign(_ value: JSONValue, into node: JSONValue?, _ rest: ArraySlice<Segment>) -> JSONValue? {
        guard let first = rest.first else { return value }
        switch (first, node) {
        case (.key(let k), .object(var o)?):
            guard let child = assign(value, into: o[k], rest.dropFirst()) else { return nil }
            o[k] = child
            return .object(o)
        case (.key(let k), nil):
            guard let child = assign(value, into: nil, rest.dropFirst()) else { return nil }
            return .object(JSONObject([(k, child)]))
        case (.index(let i), .array(var a)?) where i >= 0 && i < a.count:
            guard let child = assign(value, into: a[i], rest.dropFirst()) else { return nil }
            a[i] = child
            return .array(a)
        default:
            return nil
        }
    }
}

/// Why a state could not complete: the error name and cause an execution fails with.
struct StateFailure: Error, Equatable {
    var error: String
    var cause: String
}

/// A compiled ASL payload template (the `Parameters` field): static JSON in which members whose
/// names end in `.$` take their value from a path into the state's input or the context object.
indirect enum PayloadTemplate: Equatable, Sendable {
    case literal(JSONValue)
    case object([Member])
    case array([PayloadTemplate])
    /// `field` is the member name as written, `.$` included, for error messages.
    case path(JSONPath, field: String)
    case intrinsic(IntrinsicCall)

    struct Member: Equatable, Sendable {
        var name: String
        var value: PayloadTemplate
    }

    /// Compiles `value`; `location` is its JSON pointer in the definition, for errors.
    static func compile(_ value: JSONValue, at location: String) throws(WorkflowDefinitionError) -> PayloadTemplate {
        switch value {
        case .object(let o):
            var members: [Member] = []
            for (key, child) in o.members {
                let here = location + "/" + key
                guard key.hasSuffix(".$") else {
                    members.append(Member(name: key, value: try compile(child, at: here)))
                    continue
                }
                guard case .string(let expression) = child else {
                    throw WorkflowDefinitionError("SCHEMA_VALIDATION_FAILED: The value for the field '\(key)' must be a STRING that contains a JSONPath at \(here)")
                }
                if expression.hasPrefix("States.") {
                    switch IntrinsicParser.parse(expression) {
                    case .success(let call):
                        members.append(Member(name: String(key.dropLast(2)), value: .intrinsic(call)))
                        continue
                    case .failure(let reason):
                        throw WorkflowDefinitionError("SCHEMA_VALIDATION_FAILED: The value for the field '\(key)' must be a valid JSONPath or a valid intrinsic function call (\(reason.reason)) at \(here)")
                    }
                }
                guard let path = JSONPath(expression) else {
                    throw WorkflowDefinitionError(JSONPath.unsupported(key, at: here))
                }
                members.append(Member(name: String(key.dropLast(2)), value: .path(path, field: key)))
            }
            return .object(members)
        case .array(let items):
            var compiled: [PayloadTemplate] = []
            for (i, item) in items.enumerated() {
                compiled.append(try compile(item, at: location + "/\(i)"))
            }
            return .array(compiled)
        default:
            return .literal(value)
        }
    }

    /// The template filled in from `input` and the context object.
    func evaluate(input: JSONValue, context: JSONValue) throws(StateFailure) -> JSONValue {
        switch self {
        case .literal(let v):
            return v
        case .array(let items):
            var out: [JSONValue] = []
            for item in items { out.append(try item.evaluate(input: input, context: context)) }
            return .array(out)
        case .object(let members):
            var out = JSONObject()
            for m in members { out[m.name] = try m.value.evaluate(input: input, context: context) }
            return .object(out)
        case .intrinsic(let call):
            return try call.evaluate(input: input, context: context)
        case .path(let path, let field):
            let source = path.isContext ? context : input
            guard let v = path.evaluate(source) else {
                throw StateFailure(
                    error: "States.Runtime",
                    cause: "The JSONPath '\(path.text)' specified for the field '\(field)' could not be found in the input '\(source.jsonText)'")
            }
            return v
        }
    }
}

extension JSONPath {
    /// The definition error for a wildcard where ASL wants a Reference Path.
    static func notReference(_ field: String, at location: String) -> String {
        "SCHEMA_VALIDATION_FAILED: The value for the field '\(field)' must be a reference path (one node, no wildcard) at \(location)"
    }

    /// The definition error for a path outside the supported subset.
    static func unsupported(_ field: String, at location: String) -> String {
        "SCHEMA_VALIDATION_FAILED: The value for the field '\(field)' must be a valid JSONPath; the embedded engine supports $, $.a.b, $['a'], $.a[0], $.a[-1], $.a[*] and $.a.* at \(location)"
    }
}

extension JSONValue {
    /// The value as an integer, when it is one: an int, or a double with no fraction (below
    /// 2^53, where doubles are still exact).
    var exactInteger: Int64? {
        switch self {
        case .int(let n): return n
        case .double(let d) where d == d.rounded() && abs(d) < 9.0e15: return Int64(d)
        default: return nil
        }
    }
}
