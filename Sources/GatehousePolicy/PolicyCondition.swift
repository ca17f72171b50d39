import GatehouseJSON

/// The condition operators this module understands, each in its positive form; negation,
/// `...IfExists` and the `ForAnyValue:` / `ForAllValues:` set qualifiers are carried separately
/// on `ConditionClause`.
enum ConditionOperator: String, Sendable, CaseIterable {
    case stringEquals = "StringEquals"
    case stringNotEquals = "StringNotEquals"
    case stringEqualsIgnoreCase = "StringEqualsIgnoreCase"
    case stringNotEqualsIgnoreCase = "StringNotEqualsIgnoreCase"
    case stringLike = "StringLike"
    case stringNotLike = "StringNotLike"
    case arnEquals = "ArnEquals"
    case arnNotEquals = "ArnNotEquals"
    case arnLike = "ArnLike"
    case arnNotLike = "ArnNotLike"
    case bool = "Bool"
    case null = "Null"

    /// The "not" operators. IAM evaluates them as the negation of their positive twin: a key
    /// absent from the request makes them match, and several policy values combine as NOR
    /// ("the request value is none of these") rather than OR.
    var isNegated: Bool {
        switch self {
        case .stringNotEquals, .stringNotEqualsIgnoreCase, .stringNotLike, .arnNotEquals, .arnNotLike: return true
        default: return false
        }
    }

    /// Whether one request value satisfies one policy value under the positive form of the
    /// operator. Policy values for IgnoreCase and Bool were lowercased at parse time.
    func test(request: String, policy: WildcardPattern) -> Bool {
        switch self {
        case .stringEquals, .stringNotEquals:
            return request == policy.text
        case .stringEqualsIgnoreCase, .stringNotEqualsIgnoreCase:
            return request.lowercased() == policy.text
        case .stringLike, .stringNotLike:
            return policy.matches(request)
        case .arnEquals, .arnNotEquals, .arnLike, .arnNotLike:
            // AWS documents ArnEquals and ArnLike identically: field-wise, case-sensitive,
            // wildcards allowed in every field.
            return ResourcePolicy.arnMatches(pattern: policy.text, arn: request)
        case .bool:
            return request.lowercased() == policy.text
        case .null:
            return false  // Null looks only at presence; see ConditionClause.matches.
        }
    }

    /// Looks an operator name up ignoring case, so `stringequals` is read as `StringEquals`.
    static func named(_ name: String) -> ConditionOperator? {
        let lower = name.lowercased()
        return allCases.first { $0.rawValue.lowercased() == lower }
    }
}

/// `ForAnyValue:` / `ForAllValues:` — how a multi-valued request key is compared.
enum SetQualifier: Sendable {
    /// No qualifier: the request key is matched as if single-valued (any of its values will do
    /// for a positive operator; none may match for a negated one).
    case none
    /// At least one request value must satisfy the operator. An absent key does not match.
    case forAnyValue
    /// Every request value must satisfy the operator. An absent key matches (vacuously), as AWS
    /// documents — the classic ForAllValues pitfall.
    case forAllValues
}

/// One `operator: { key: values }` pair from a Condition block.
struct ConditionClause: Sendable {
    var op: ConditionOperator
    var ifExists: Bool
    var qualifier: SetQualifier
    /// Lowercased, because condition key names are case-insensitive in IAM.
    var key: String
    var values: [WildcardPattern]

    /// Evaluates this clause against the request's values for `key` (nil or empty = absent).
    func matches(_ requestValues: [String]?) -> Bool {
        let present = !(requestValues ?? []).isEmpty
        if op == .null {
            // Null tests presence only: "true" means "the key is absent", "false" "present".
            // Several values are OR like any other operator.
            return values.contains { ($0.text == "true") != present }
        }
        guard let rvs = requestValues, present else {
            // AWS: an absent key makes a positive operator false and a negated one true;
            // ...IfExists turns any operator true when the key is absent.
            if ifExists { return true }
            switch qualifier {
            case .none: return op.isNegated
            case .forAnyValue: return false
            case .forAllValues: return true
            }
        }
        // For one request value: does it satisfy the operator against the policy's list?
        // Positive: OR over policy values. Negated: NOR over policy values.
        let satisfies: (String) -> Bool = { rv in
            let hit = values.contains { op.test(request: rv, policy: $0) }
            return op.isNegated ? !hit : hit
        }
        switch qualifier {
        case .none:
            let anyHit = rvs.contains { rv in values.contains { op.test(request: rv, policy: $0) } }
            return op.isNegated ? !anyHit : anyHit
        case .forAnyValue:
            return rvs.contains(where: satisfies)
        case .forAllValues:
            return rvs.allSatisfy(satisfies)
        }
    }

    /// Parses a whole `Condition` element: an object of operators, each an object of keys,
    /// each a value or array of values. All resulting clauses must hold (AND).
    static func parseBlock(_ json: JSONValue, path: String) throws(PolicyError) -> [ConditionClause] {
        guard case .object(let ops) = json else {
            throw PolicyError(path: path, reason: "must be an object of condition operators, got \(json.typeName)")
        }
        var clauses: [ConditionClause] = []
        for (opName, body) in ops.members {
            let opPath = "\(path).\(opName)"
            let (op, ifExists, qualifier) = try parseOperator(opName, path: opPath)
            guard case .object(let keys) = body else {
                throw PolicyError(path: opPath, reason: "must be an object of condition keys, got \(body.typeName)")
            }
            for (key, raw) in keys.members {
                let keyPath = "\(opPath).\(key)"
                if key.isEmpty { throw PolicyError(path: keyPath, reason: "condition key must not be empty") }
                var values = try conditionValues(raw, path: keyPath)
                switch op {
                case .null, .bool:
                    values = values.map { $0.lowercased() }
                    if let bad = values.first(where: { $0 != "true" && $0 != "false" }) {
                        throw PolicyError(path: keyPath, reason: "\(op.rawValue) values must be true or false, got \"\(bad)\"")
                    }
                case .stringEqualsIgnoreCase, .stringNotEqualsIgnoreCase:
                    values = values.map { $0.lowercased() }
                default:
                    break
                }
                clauses.append(ConditionClause(op: op, ifExists: ifExists, qualifier: qualifier,
                                               key: key.lowercased(), values: values.map(WildcardPattern.init)))
            }
        }
        return clauses
    }

    /// Splits `ForAllValues:StringLikeIfExists` into its qualifier, operator and IfExists flag.
    static func parseOperator(_ name: String, path: String) throws(PolicyError)
        -> (ConditionOperator, Bool, SetQualifier) {
        var base = Substring(name)
        var qualifier = SetQualifier.none
        if let colon = base.firstIndex(of: ":") {
            switch base[..<colon].lowercased() {
            case "foranyvalue": qualifier = .forAnyValue
            case "forallvalues": qualifier = .forAllValues
            default:
                throw PolicyError(path: path, reason: "unknown set qualifier \"\(base[..<colon])\"; expected ForAnyValue or ForAllValues")
            }
            base = base[base.index(after: colon)...]
        }
        var ifExists = false
        if base.lowercased().hasSuffix("ifexists") {
            ifExists = true
            base = base.dropLast("IfExists".count)
        }
        guard let op = ConditionOperator.named(String(base)) else {
            let known = ConditionOperator.allCases.map(\.rawValue).joined(separator: ", ")
            throw PolicyError(path: path, reason: "unsupported condition operator \"\(name)\"; supported: \(known) (each optionally with IfExists)")
        }
        if op == .null && (ifExists || qualifier != .none) {
            // Null already is a presence test; AWS does not define NullIfExists or a qualified Null.
            throw PolicyError(path: path, reason: "Null cannot take IfExists or a set qualifier")
        }
        return (op, ifExists, qualifier)
    }

    /// A condition value: a scalar (string, boolean or number, compared as its text) or a
    /// non-empty array of scalars.
    static func conditionValues(_ json: JSONValue, path: String) throws(PolicyError) -> [String] {
        if case .array(let items) = json {
            if items.isEmpty { throw PolicyError(path: path, reason: "must list at least one value") }
            var out: [String] = []
            for (i, item) in items.enumerated() {
                out.append(try scalarText(item, path: "\(path)[\(i)]"))
            }
            return out
        }
        return [try scalarText(json, path: path)]
    }

    private static func scalarText(_ json: JSONValue, path: String) throws(PolicyError) -> String {
        switch json {
        case .string(let s): return s
        case .bool(let b): return b ? "true" : "false"
        case .int(let i): return String(i)
        case .double(let d):
            // Print whole numbers without ".0" so `1.0` compares like the request's "1".
            if d.rounded() == d, abs(d) < 9.0e15 { return String(Int64(d)) }
            return String(d)
        default:
            throw PolicyError(path: path, reason: "condition value must be a string, boolean or number, got \(json.typeName)")
        }
    }
}
