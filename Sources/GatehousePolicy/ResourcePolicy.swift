import GatehouseJSON

/// A validated IAM policy document — a resource policy attached to an API Gateway REST API,
/// or an identity policy attached to a caller in the credentials file — ready to evaluate.
///
/// The whole policy language: `Version` (2012-10-17, where `${…}` policy variables work, and
/// 2008-10-17, where they are plain text), `Id`, `Statement` (object or array) with `Sid`,
/// `Effect`, `Principal`/`NotPrincipal` (`"*"`, `AWS`, `Service`, `Federated`),
/// `Action`/`NotAction`, `Resource`/`NotResource` and `Condition` with every IAM operator.
/// Anything else is refused at parse time with a `PolicyError` rather than ignored, because an
/// ignored element can only ever make a policy grant more than its author wrote.
public struct ResourcePolicy: Sendable {
    /// The document's `Version`, if it had one.
    public private(set) var version: String?
    public let kind: PolicyKind
    var statements: [PolicyStatement]
    /// The global keys any statement reads, so the gateway computes only those.
    public private(set) var referencedKeys = KeySet()
    /// Every condition key named (as written), for `validate`'s unknown-key warnings.
    var namedKeys: [(path: String, key: KeyRef)] = []

    /// Parses and validates a policy document; throws `PolicyError` naming the element and fault.
    public init(document: JSONValue, kind: PolicyKind = .resource) throws(PolicyError) {
        self.kind = kind
        guard case .object(let obj) = document else {
            throw PolicyError(path: "policy", reason: "a policy document must be a JSON object, got \(document.typeName)")
        }
        for key in obj.keys where !["Version", "Id", "Statement"].contains(key) {
            throw PolicyError(path: key, reason: "unknown policy element; expected Version, Id or Statement")
        }
        if let raw = obj["Version"] {
            guard case .string(let v) = raw, v == "2012-10-17" || v == "2008-10-17" else {
                let shown = raw.stringValue.map { "\"\($0)\"" } ?? raw.typeName
                throw PolicyError(path: "Version", reason: "must be \"2012-10-17\" or \"2008-10-17\", got \(shown)")
            }
            version = v
        }
        // Policy variables exist only in 2012-10-17; without a Version IAM reads 2008-10-17.
        let variables = version == "2012-10-17"
        if let raw = obj["Id"], raw.stringValue == nil {
            throw PolicyError(path: "Id", reason: "must be a string, got \(raw.typeName)")
        }
        guard let raw = obj["Statement"] else {
            throw PolicyError(path: "Statement", reason: "is required")
        }
        var paths: [String] = []
        switch raw {
        case .object:
            statements = [try PolicyStatement.parse(raw, path: "Statement", kind: kind, variables: variables)]
            paths = ["Statement"]
        case .array(let items):
            statements = []
            for (i, item) in items.enumerated() {
                statements.append(try PolicyStatement.parse(item, path: "Statement[\(i)]", kind: kind, variables: variables))
                paths.append("Statement[\(i)]")
            }
        default:
            throw PolicyError(path: "Statement", reason: "must be an object or an array of objects, got \(raw.typeName)")
        }
        for (i, st) in statements.enumerated() {
            for ref in st.referencedKeys {
                if case .global(let g) = ref { referencedKeys.insert(g) }
                namedKeys.append((paths[i], ref))
            }
        }
    }

    /// Parses a policy from its JSON text; malformed JSON is reported as a `PolicyError` at `policy`.
    public init(json: String, kind: PolicyKind = .resource) throws(PolicyError) {
        let document: JSONValue
        do {
            document = try JSONValue.parse(json)
        } catch {
            throw PolicyError(path: "policy", reason: "invalid JSON: \(error)")
        }
        try self.init(document: document, kind: kind)
    }

    /// The statements' `Sid`s in order (nil where a statement has none), for diagnostics.
    public var statementIDs: [String?] { statements.map(\.sid) }

    /// Whether any statement of this policy reads `key`.
    public func references(_ key: GlobalKey) -> Bool { referencedKeys.contains(key) }

    /// Evaluates this one policy the way IAM does: any applicable `Deny` gives `explicitDeny`
    /// (deny always wins, whatever the statement order); otherwise any applicable `Allow`
    /// gives `allow`; otherwise `implicitDeny`.
    public func evaluate(_ request: PolicyRequest) -> PolicyDecision {
        var resource = request.resource
        return resource.withUTF8 { bytes in
            let input = EvaluationInput(request, resource: bytes)
            return statements.withUnsafeBufferPointer { sts in
                var allowed = false
                for i in 0..<sts.count {
                    // Borrowed, not retained: the policy keeps its statements alive.
                    let applies = Unmanaged.passUnretained(sts[i])._withUnsafeGuaranteedRef { $0.applies(input) }
                    if applies {
                        if sts[i].effect == .deny { return .explicitDeny }
                        allowed = true
                    }
                }
                return allowed ? .allow : .implicitDeny
            }
        }
    }

    /// One statement that took part in a decision.
    public struct StatementHit: Sendable, Equatable {
        public var index: Int
        public var sid: String?
        public var effect: String
    }

    /// The decision and the statements that made it: every applicable Deny for an explicit
    /// deny, every applicable Allow for an allow, none for an implicit deny.
    public func explain(_ request: PolicyRequest) -> (decision: PolicyDecision, statements: [StatementHit]) {
        var allows: [StatementHit] = [], denies: [StatementHit] = []
        var resource = request.resource
        resource.withUTF8 { bytes in
            let input = EvaluationInput(request, resource: bytes)
            for (i, st) in statements.enumerated() where st.applies(input) {
                let hit = StatementHit(index: i, sid: st.sid, effect: st.effect.rawValue)
                if st.effect == .deny { denies.append(hit) } else { allows.append(hit) }
            }
        }
        if !denies.isEmpty { return (.explicitDeny, denies) }
        if !allows.isEmpty { return (.allow, allows) }
        return (.implicitDeny, [])
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
        let variables = version == "2012-10-17"
        var copy = self
        copy.statements = statements.map { st in
            st.with(resources: st.resources.map { pattern in
                let source = pattern.text.source
                guard source.hasPrefix(marker + "/"),
                      let text = try? PolicyText(String(prefix) + String(source.dropFirst(marker.count)),
                                                 wildcards: true, variables: variables) else { return pattern }
                return ResourcePattern(text)
            })
        }
        return copy
    }
}

extension PolicyRequest {
    /// IAM action names are case-insensitive; the common spelling needs no new string.
    static func lowercasedAction(_ action: String) -> String {
        if action == "execute-api:Invoke" { return "execute-api:invoke" }
        return action.lowercased()
    }
}
