import GatehouseJSON

/// A validated IAM resource policy, as attached to an API Gateway REST API, ready to evaluate.
///
/// Supported: `Version`, `Id`, `Statement` (object or array) with `Sid`, `Effect`,
/// `Principal`/`NotPrincipal` (`"*"`, `AWS`, `Service`), `Action`/`NotAction`,
/// `Resource`/`NotResource` and `Condition` with the String*, Arn*, Bool and Null operators
/// (plus `IfExists` and `ForAnyValue:`/`ForAllValues:`). Anything else is refused at parse
/// time with a `PolicyError` rather than ignored, because an ignored element can only ever
/// make a policy grant more than its author wrote.
public struct ResourcePolicy: Sendable {
    /// The document's `Version`, if it had one.
    public private(set) var version: String?
    var statements: [PolicyStatement]

    /// Parses and validates a policy document; throws `PolicyError` naming the element and fault.
    public init(document: JSONValue) throws(PolicyError) {
        guard case .object(let obj) = document else {
            throw PolicyError(path: "policy", reason: "a policy document must be a JSON object, got \(document.typeName)")
        }
        for key in obj.keys where !["Version", "Id", "Statement"].contains(key) {
            throw PolicyError(path: key, reason: "unknown policy element; expected Version, Id or Statement")
        }
        if let raw = obj["Version"] {
            // Both published grammar versions evaluate the same for the elements supported here;
            // 2012-10-17 only adds policy variables, which this module does not expand.
            guard case .string(let v) = raw, v == "2012-10-17" || v == "2008-10-17" else {
                let shown = raw.stringValue.map { "\"\($0)\"" } ?? raw.typeName
                throw PolicyError(path: "Version", reason: "must be \"2012-10-17\" or \"2008-10-17\", got \(shown)")
            }
            version = v
        }
        if let raw = obj["Id"], raw.stringValue == nil {
            throw PolicyError(path: "Id", reason: "must be a string, got \(raw.typeName)")
        }
        guard let raw = obj["Statement"] else {
            throw PolicyError(path: "Statement", reason: "is required")
        }
        switch raw {
        case .object:
            statements = [try PolicyStatement.parse(raw, path: "Statement")]
        case .array(let items):
            statements = []
            for (i, item) in items.enumerated() {
                statements.append(try PolicyStatement.parse(item, path: "Statement[\(i)]"))
            }
        default:
            throw PolicyError(path: "Statement", reason: "must be an object or an array of objects, got \(raw.typeName)")
        }
    }

    /// Parses a policy from its JSON text; malformed JSON is reported as a `PolicyError` at `policy`.
    public init(json: String) throws(PolicyError) {
        let document: JSONValue
        do {
            document = try JSONValue.parse(json)
        } catch {
            throw PolicyError(path: "policy", reason: "invalid JSON: \(error)")
        }
        try self.init(document: document)
    }

    /// The statements' `Sid`s in order (nil where a statement has none), for diagnostics.
    public var statementIDs: [String?] { statements.map(\.sid) }

    /// Evaluates this one policy the way IAM does: any applicable `Deny` gives `explicitDeny`
    /// (deny always wins, whatever the statement order); otherwise any applicable `Allow`
    /// gives `allow`; otherwise `implicitDeny`.
    public func evaluate(_ request: PolicyRequest) -> PolicyDecision {
        let action = request.action.lowercased()
        let context = Self.lowercasedKeys(request.context)
        var allowed = false
        for statement in statements where statement.applies(to: request, lowercasedAction: action, context: context) {
            if statement.effect == .deny { return .explicitDeny }
            allowed = true
        }
        return allowed ? .allow : .implicitDeny
    }

    /// Rewrites API Gateway's `execute-api:/stage/METHOD/path` shorthand in `Resource` and
    /// `NotResource` into full ARNs under `apiArnPrefix`
    /// (`arn:aws:execute-api:us-east-1:222222222222:abc123`), as API Gateway does when a
    /// resource policy is saved; `execute-api:/*` thus becomes every stage, method and path of
    /// this API. Other resources are left alone. Until expanded, a shorthand resource matches no
    /// real request ARN.
    public func expandingExecuteApiShorthand(apiArnPrefix: String) -> ResourcePolicy {
        var prefix = Substring(apiArnPrefix)
        while prefix.hasSuffix("/") { prefix = prefix.dropLast() }
        let marker = "execute-api:"
        var copy = self
        for i in copy.statements.indices {
            copy.statements[i].resources = copy.statements[i].resources.map { pattern in
                guard pattern.text.hasPrefix(marker + "/") else { return pattern }
                return WildcardPattern(String(prefix) + String(pattern.text.dropFirst(marker.count)))
            }
        }
        return copy
    }

    /// IAM condition key names are case-insensitive; fold the request's keys once per
    /// evaluation, merging values should two spellings of one key both appear.
    static func lowercasedKeys(_ context: [String: [String]]) -> [String: [String]] {
        // Usually the caller already folded them: then there is nothing to copy.
        if !context.keys.contains(where: { $0.utf8.contains { $0 >= 0x41 && $0 <= 0x5A } }) { return context }
        var out: [String: [String]] = [:]
        out.reserveCapacity(context.count)
        for (key, values) in context {
            out[key.lowercased(), default: []].append(contentsOf: values)
        }
        return out
    }
}
