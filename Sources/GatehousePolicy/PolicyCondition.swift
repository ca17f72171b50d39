import GatehouseJSON

/// How a `Numeric…` or `Date…` operator compares the request value with the policy value.
enum Comparison: Sendable {
    case equals, lessThan, lessThanEquals, greaterThan, greaterThanEquals

    func holds(_ request: Double, _ policy: Double) -> Bool {
        switch self {
        case .equals: return request == policy
        case .lessThan: return request < policy
        case .lessThanEquals: return request <= policy
        case .greaterThan: return request > policy
        case .greaterThanEquals: return request >= policy
        }
    }
}

/// The condition operators, each in its positive form; negation (`StringNotEquals`,
/// `NotIpAddress`, …), `…IfExists` and the `ForAnyValue:` / `ForAllValues:` set qualifiers
/// are carried separately on `ConditionClause`.
enum ConditionOperator: Sendable, Equatable {
    case stringEquals, stringEqualsIgnoreCase, stringLike
    case numeric(Comparison)
    case date(Comparison)
    case bool, binaryEquals, ipAddress
    case arnEquals, arnLike
    case null

    /// Every operator name IAM defines, with its positive form and whether it is negated.
    static let names: [(String, ConditionOperator, Bool)] = [
        ("StringEquals", .stringEquals, false), ("StringNotEquals", .stringEquals, true),
        ("StringEqualsIgnoreCase", .stringEqualsIgnoreCase, false), ("StringNotEqualsIgnoreCase", .stringEqualsIgnoreCase, true),
        ("StringLike", .stringLike, false), ("StringNotLike", .stringLike, true),
        ("NumericEquals", .numeric(.equals), false), ("NumericNotEquals", .numeric(.equals), true),
        ("NumericLessThan", .numeric(.lessThan), false), ("NumericLessThanEquals", .numeric(.lessThanEquals), false),
        ("NumericGreaterThan", .numeric(.greaterThan), false), ("NumericGreaterThanEquals", .numeric(.greaterThanEquals), false),
        ("DateEquals", .date(.equals), false), ("DateNotEquals", .date(.equals), true),
        ("DateLessThan", .date(.lessThan), false), ("DateLessThanEquals", .date(.lessThanEquals), false),
        ("DateGreaterThan", .date(.greaterThan), false), ("DateGreaterThanEquals", .date(.greaterThanEquals), false),
        ("Bool", .bool, false), ("BinaryEquals", .binaryEquals, false),
        ("IpAddress", .ipAddress, false), ("NotIpAddress", .ipAddress, true),
        ("ArnEquals", .arnEquals, false), ("ArnNotEquals", .arnEquals, true),
        ("ArnLike", .arnLike, false), ("ArnNotLike", .arnLike, true),
        ("Null", .null, false),
    ]

    static let byLowercasedName: [String: (ConditionOperator, Bool)] = {
        var m: [String: (ConditionOperator, Bool)] = [:]
        for (n, op, neg) in names { m[n.lowercased()] = (op, neg) }
        return m
    }()
}

/// The values of one condition key, parsed for the operator that tests them.
enum ConditionValues: Sendable {
    /// String, Arn operators: patterns or literals, possibly with policy variables.
    case texts([PolicyText])
    case numbers([Double])
    case dates([Double])
    case bools([Bool])
    case binary([[UInt8]])
    case networks([IPNetwork])
    /// Null: true = "the key must be absent".
    case null([Bool])
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

/// One `operator: { key: values }` pair from a Condition block (a class for the reason
/// `PolicyStatement` is one).
final class ConditionClause: Sendable {
    let op: ConditionOperator
    /// The "not" operators. IAM evaluates them as the negation of their positive twin: a key
    /// absent from the request makes them match, and several policy values combine as NOR
    /// ("the request value is none of these") rather than OR.
    let negated: Bool
    let ifExists: Bool
    let qualifier: SetQualifier
    let key: KeyRef
    let values: ConditionValues
    /// The operator and the key as written, for messages.
    let operatorName: String
    let keyName: String
    /// For text values without policy variables: the patterns, and for Arn operators their
    /// fields, worked out once at load.
    let constants: [[Int16]]?
    let constantFields: [[Range<Int>]?]

    init(op: ConditionOperator, negated: Bool, ifExists: Bool, qualifier: SetQualifier, key: KeyRef,
         values: ConditionValues, operatorName: String, keyName: String) {
        self.op = op
        self.negated = negated
        self.ifExists = ifExists
        self.qualifier = qualifier
        self.key = key
        self.values = values
        self.operatorName = operatorName
        self.keyName = keyName
        var constants: [[Int16]]?
        var constantFields: [[Range<Int>]?] = []
        if case .texts(let ts) = values {
            let cs = ts.compactMap(\.constant)
            if cs.count == ts.count {
                constants = cs
                constantFields = cs.map { ARNPattern.split($0) }
            }
        }
        self.constants = constants
        self.constantFields = constantFields
    }

    /// Evaluates this clause against the request context. nil when a policy variable in one
    /// of the values cannot be resolved: IAM then treats the whole statement as not matching.
    func matches(_ context: PolicyContext) -> Bool? {
        let requestValues = context[key]
        if case .null(let wantsAbsent) = values {
            // Null tests presence only: "true" means "the key is absent", "false" "present".
            // Several values are OR like any other operator.
            let present = requestValues != nil
            return wantsAbsent.contains { $0 != present }
        }
        guard let rvs = requestValues else {
            // AWS: an absent key makes a positive operator false and a negated one true;
            // …IfExists turns any operator true when the key is absent.
            if ifExists { return true }
            switch qualifier {
            case .none: return negated
            case .forAnyValue: return false
            case .forAllValues: return true
            }
        }
        // Resolve policy variables once per evaluation.
        var resolved: [[Int16]] = []
        var fields: [[Range<Int>]?] = []
        if case .texts(let texts) = values {
            if let c = constants {
                resolved = c
                fields = constantFields
            } else {
                resolved.reserveCapacity(texts.count)
                for t in texts {
                    guard let u = t.resolve(context) else { return nil }
                    resolved.append(u)
                    fields.append(ARNPattern.split(u))
                }
            }
        }
        // Does one request value hit any policy value under the positive operator?
        func hit(_ rv: String) -> Bool {
            switch values {
            case .texts:
                return ConditionClause.textHit(op, rv, resolved, fields)
            case .numbers(let ns):
                guard let x = parsePolicyNumber(rv), case .numeric(let c) = op else { return false }
                return ns.contains { c.holds(x, $0) }
            case .dates(let ds):
                guard let x = parsePolicyDate(rv), case .date(let c) = op else { return false }
                return ds.contains { c.holds(x, $0) }
            case .bools(let bs):
                let lower = rv.lowercased()
                guard lower == "true" || lower == "false" else { return false }
                return bs.contains((lower == "true"))
            case .binary(let bins):
                guard let x = decodeBase64(rv) else { return false }
                return bins.contains(x)
            case .networks(let nets):
                return nets.contains { $0.contains(address: rv) }
            case .null:
                return false
            }
        }
        switch qualifier {
        case .none:
            let anyHit = rvs.contains(where: hit)
            return negated ? !anyHit : anyHit
        case .forAnyValue:
            return rvs.contains { hit($0) != negated }
        case .forAllValues:
            return rvs.allSatisfy { hit($0) != negated }
        }
    }

    static func textHit(_ op: ConditionOperator, _ rv: String, _ patterns: [[Int16]], _ fields: [[Range<Int>]?]) -> Bool {
        switch op {
        case .stringEquals:
            return patterns.contains { p in unitsEqual(p, rv) }
        case .stringEqualsIgnoreCase:
            let lower = rv.lowercased()
            return patterns.contains { p in unitsEqual(p, lower) }
        case .stringLike:
            var c = rv
            return c.withUTF8 { bytes in patterns.contains { p in p.withUnsafeBufferPointer { matchUnits($0, bytes) } } }
        case .arnEquals, .arnLike:
            var c = rv
            return c.withUTF8 { bytes in
                patterns.indices.contains { k in
                    // An Arn operator compares ARNs: a value that is not one matches nothing.
                    (fields[k] != nil || patterns[k] == [PatternUnit.star]) && patterns[k].withUnsafeBufferPointer { ARNPattern.match($0, fields[k], bytes, allowShort: false) }
                }
            }
        default:
            return false
        }
    }

    /// Literal comparison of resolved units with a string (the units of an Equals operator are
    /// never wildcards).
    static func unitsEqual(_ p: [Int16], _ s: String) -> Bool {
        var c = s
        return c.withUTF8 { b in
            guard b.count == p.count else { return false }
            for i in 0..<b.count where Int16(b[i]) != p[i] { return false }
            return true
        }
    }

    /// The keys this clause reads: its own and those of any policy variables in its values.
    var referencedKeys: [KeyRef] {
        var out = [key]
        if case .texts(let ts) = values { for t in ts { out += t.referencedKeys } }
        return out
    }

    /// Parses a whole `Condition` element: an object of operators, each an object of keys,
    /// each a value or array of values. All resulting clauses must hold (AND).
    static func parseBlock(_ json: JSONValue, path: String, variables: Bool) throws(PolicyError) -> [ConditionClause] {
        guard case .object(let ops) = json else {
            throw PolicyError(path: path, reason: "must be an object of condition operators, got \(json.typeName)")
        }
        var clauses: [ConditionClause] = []
        for (opName, body) in ops.members {
            let opPath = "\(path).\(opName)"
            let (op, negated, ifExists, qualifier) = try parseOperator(opName, path: opPath)
            guard case .object(let keys) = body else {
                throw PolicyError(path: opPath, reason: "must be an object of condition keys, got \(body.typeName)")
            }
            if keys.isEmpty { throw PolicyError(path: opPath, reason: "must name at least one condition key") }
            for (key, raw) in keys.members {
                let keyPath = "\(opPath).\(key)"
                if key.isEmpty { throw PolicyError(path: keyPath, reason: "condition key must not be empty") }
                let texts = try conditionValues(raw, path: keyPath)
                let values = try parseValues(op, texts, path: keyPath, variables: variables)
                clauses.append(ConditionClause(op: op, negated: negated, ifExists: ifExists, qualifier: qualifier,
                                               key: KeyRef(key), values: values, operatorName: opName, keyName: key))
            }
        }
        return clauses
    }

    static func parseValues(_ op: ConditionOperator, _ texts: [String], path: String, variables: Bool)
        throws(PolicyError) -> ConditionValues {
        func each<T>(_ what: String, _ parse: (String) -> T?) throws(PolicyError) -> [T] {
            var out: [T] = []
            for t in texts {
                guard let v = parse(t) else { throw PolicyError(path: path, reason: "\(what), got \"\(t)\"") }
                out.append(v)
            }
            return out
        }
        switch op {
        case .stringEquals, .stringEqualsIgnoreCase, .stringLike, .arnEquals, .arnLike:
            let wildcards = op == .stringLike || op == .arnLike || op == .arnEquals
            var out: [PolicyText] = []
            for t in texts {
                let value = op == .stringEqualsIgnoreCase ? t.lowercased() : t
                do {
                    out.append(try PolicyText(value, wildcards: wildcards, variables: variables))
                } catch {
                    throw PolicyError(path: path, reason: error.message)
                }
            }
            return .texts(out)
        case .numeric:
            return .numbers(try each("Numeric operators need numbers", parsePolicyNumber))
        case .date:
            return .dates(try each("Date operators need an ISO 8601 date or epoch seconds", parsePolicyDate))
        case .bool:
            return .bools(try each("Bool values must be true or false") { t in
                let l = t.lowercased(); return l == "true" ? true : l == "false" ? false : nil
            })
        case .null:
            return .null(try each("Null values must be true or false") { t in
                let l = t.lowercased(); return l == "true" ? true : l == "false" ? false : nil
            })
        case .binaryEquals:
            return .binary(try each("BinaryEquals values must be base64", decodeBase64))
        case .ipAddress:
            return .networks(try each("IpAddress values must be IPv4 or IPv6 addresses or CIDR blocks") { IPNetwork(cidr: $0) })
        }
    }

    /// Splits `ForAllValues:StringLikeIfExists` into its qualifier, operator, negation and
    /// IfExists flag.
    static func parseOperator(_ name: String, path: String) throws(PolicyError)
        -> (ConditionOperator, Bool, Bool, SetQualifier) {
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
        guard let (op, negated) = ConditionOperator.byLowercasedName[base.lowercased()] else {
            throw PolicyError(path: path, reason: "unknown condition operator \"\(name)\"; expected one of "
                + ConditionOperator.names.map(\.0).joined(separator: ", ") + " (each optionally with IfExists)")
        }
        if op == .null && (ifExists || qualifier != .none) {
            // Null already is a presence test; AWS does not define NullIfExists or a qualified Null.
            throw PolicyError(path: path, reason: "Null cannot take IfExists or a set qualifier")
        }
        return (op, negated, ifExists, qualifier)
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
