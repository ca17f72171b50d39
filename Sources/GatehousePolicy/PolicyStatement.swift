import GatehouseJSON
#if canImport(Glibc)
import Glibc
#endif

/// One entry of a `Principal` / `NotPrincipal` element.
enum PrincipalPattern: Sendable, Equatable {
    /// `"*"` or `{"AWS": "*"}`: everyone, including anonymous callers and services.
    case anyone
    /// `"123456789012"` or `arn:aws:iam::123456789012:root`: IAM treats both as "the account",
    /// which covers every IAM identity in it (the account's own policies then decide further).
    case account(String)
    /// A user, assumed-role session or federated-user ARN, matched exactly.
    case arn(String)
    /// A role ARN: the role's sessions (`arn:aws:sts::ACCOUNT:assumed-role/NAME/…`) are that
    /// role, whatever path the role ARN carries, and so is the role ARN itself.
    case role(arn: String, account: String, name: String)
    /// `{"Service": "states.amazonaws.com"}`: that service acting as itself.
    case service(String)
    /// `{"Federated": "cognito-identity.amazonaws.com"}` or a SAML/OIDC provider ARN.
    case federated(String)

    /// `callerAccount`: the account of an `aws` principal, worked out once per evaluation.
    /// Switches on `self` alone and reads the principal's payload by reference, so a match
    /// copies no strings.
    func matches(_ principal: PolicyPrincipal, callerAccount: Substring?) -> Bool {
        switch self {
        case .anyone:
            return true
        case .account(let id):
            guard case .aws = principal, let a = callerAccount else { return false }
            return a == id
        case .arn(let want):
            if case .aws(let arn) = principal { return want == arn }
            return false
        case .role(let roleArn, let account, let name):
            guard case .aws(let arn) = principal else { return false }
            if arn == roleArn { return true }
            guard let parts = ARNParts(arn), parts.service == "sts", parts.account == account,
                  parts.resource.hasPrefix("assumed-role/") else { return false }
            let rest = parts.resource.dropFirst("assumed-role/".count)
            return rest.split(separator: "/", maxSplits: 1).first.map { $0 == name } ?? false
        case .service(let want):
            if case .service(let name) = principal { return want == name }
            return false
        case .federated(let want):
            if case .federated(let provider) = principal { return want == provider }
            return false
        }
    }
}

/// What one evaluation reads, worked out once per request rather than once per statement:
/// the caller's account, whether the action is `execute-api:Invoke`, and the resource ARN's
/// bytes and field boundaries.
struct EvaluationInput {
    let request: PolicyRequest
    let callerAccount: Substring?
    let action: String
    let isInvoke: Bool
    let resource: UnsafeBufferPointer<UInt8>
    let cuts: ARNCuts

    init(_ request: PolicyRequest, resource: UnsafeBufferPointer<UInt8>) {
        self.request = request
        if case .aws(let arn) = request.principal {
            callerAccount = EvaluationInput.accountField(arn)
        } else {
            callerAccount = nil
        }
        action = PolicyRequest.lowercasedAction(request.action)
        isInvoke = action == "execute-api:invoke"
        self.resource = resource
        cuts = ARNCuts(resource)
    }

    /// The fifth field of an ARN (`arn:aws:iam::ACCOUNT:…`), found without splitting.
    static func accountField(_ arn: String) -> Substring? {
        guard arn.utf8.starts(with: "arn:".utf8) else { return nil }
        var colons = 0
        var start = arn.utf8.startIndex
        for i in arn.utf8.indices where arn.utf8[i] == 0x3A {
            colons += 1
            if colons == 4 { start = arn.utf8.index(after: i) }
            if colons == 5 { return i > start ? arn[start..<i] : nil }
        }
        return nil
    }
}

/// A parsed statement. The `not...` flags record which of each element pair was written,
/// because `NotX` inverts only that element's match, not the statement's effect.
///
/// A final class of constants: evaluation reaches statements, resources and conditions by
/// reference, where a struct element read through a buffer would be copied (retaining every
/// string and array inside it) per statement per request.
final class PolicyStatement: Sendable {
    enum Effect: String, Sendable { case allow = "Allow", deny = "Deny" }

    let sid: String?
    let effect: Effect
    /// nil in an identity policy, which applies to the principal it is attached to.
    let principals: [PrincipalPattern]?
    let notPrincipal: Bool
    /// Lowercased patterns: IAM action names are case-insensitive.
    let actions: [WildcardPattern]
    let notAction: Bool
    /// Whether `actions` covers `execute-api:Invoke`, the action of every API call.
    let coversInvoke: Bool
    let resources: [ResourcePattern]
    let notResource: Bool
    let conditions: [ConditionClause]

    init(sid: String?, effect: Effect, principals: [PrincipalPattern]?, notPrincipal: Bool, actions: [WildcardPattern],
         notAction: Bool, resources: [ResourcePattern], notResource: Bool, conditions: [ConditionClause]) {
        self.sid = sid
        self.effect = effect
        self.principals = principals
        self.notPrincipal = notPrincipal
        self.actions = actions
        self.notAction = notAction
        self.coversInvoke = actions.contains { $0.matches("execute-api:invoke") }
        self.resources = resources
        self.notResource = notResource
        self.conditions = conditions
    }

    /// The same statement with other resources.
    func with(resources: [ResourcePattern]) -> PolicyStatement {
        PolicyStatement(sid: sid, effect: effect, principals: principals, notPrincipal: notPrincipal, actions: actions,
                        notAction: notAction, resources: resources, notResource: notResource, conditions: conditions)
    }

    /// True when every element of the statement applies to the request. A policy variable that
    /// cannot be resolved makes the statement not apply, whatever its effect.
    @inline(__always)
    func applies(_ input: EvaluationInput) -> Bool {
        // Elements are reached through buffer pointers: iterating or subscripting the arrays
        // would copy each element (retaining its strings and arrays) per statement per request.
        if let principals {
            let hit = principals.withUnsafeBufferPointer { ps in
                ps.contains { $0.matches(input.request.principal, callerAccount: input.callerAccount) }
            }
            guard hit != notPrincipal else { return false }
        }
        let actionHit: Bool
        if input.isInvoke {
            actionHit = coversInvoke
        } else {
            actionHit = actions.withUnsafeBufferPointer { a in a.contains { $0.matches(input.action) } }
        }
        guard actionHit != notAction else { return false }
        let resourceHit: Bool? = resources.withUnsafeBufferPointer { rs in
            for i in 0..<rs.count {
                let hit = Unmanaged.passUnretained(rs[i])._withUnsafeGuaranteedRef { $0.matches(input) }
                guard let hit else { return nil }
                if hit { return true }
            }
            return false
        }
        guard let resourceHit, resourceHit != notResource else { return false }
        return conditions.withUnsafeBufferPointer { cs in
            for i in 0..<cs.count {
                let hit = Unmanaged.passUnretained(cs[i])._withUnsafeGuaranteedRef { $0.matches(input.request.context) }
                guard let hit, hit else { return false }
            }
            return true
        }
    }

    /// The global keys the statement reads (conditions and policy variables).
    var referencedKeys: [KeyRef] {
        conditions.flatMap(\.referencedKeys) + resources.flatMap { $0.text.referencedKeys }
    }

    static let knownElements: Set<String> = [
        "Sid", "Effect", "Principal", "NotPrincipal", "Action", "NotAction", "Resource", "NotResource", "Condition",
    ]

    static func parse(_ json: JSONValue, path: String, kind: PolicyKind, variables: Bool) throws(PolicyError) -> PolicyStatement {
        guard case .object(let obj) = json else {
            throw PolicyError(path: path, reason: "a statement must be an object, got \(json.typeName)")
        }
        // Element names are case-sensitive in IAM, and a misspelt "Conditon" silently dropped
        // would widen access, so anything unrecognised is refused.
        for key in obj.keys where !knownElements.contains(key) {
            throw PolicyError(path: "\(path).\(key)", reason: "unknown statement element; expected one of Sid, Effect, Principal, NotPrincipal, Action, NotAction, Resource, NotResource, Condition")
        }

        var sid: String?
        if let raw = obj["Sid"] {
            guard case .string(let s) = raw else {
                throw PolicyError(path: "\(path).Sid", reason: "must be a string, got \(raw.typeName)")
            }
            sid = s
        }

        guard let rawEffect = obj["Effect"] else { throw PolicyError(path: "\(path).Effect", reason: "is required") }
        guard case .string(let effectName) = rawEffect, let effect = Effect(rawValue: effectName) else {
            let shown = rawEffect.stringValue.map { "\"\($0)\"" } ?? rawEffect.typeName
            throw PolicyError(path: "\(path).Effect", reason: "must be \"Allow\" or \"Deny\", got \(shown)")
        }

        var principals: [PrincipalPattern]?
        var notPrincipal = false
        switch kind {
        case .resource:
            // A resource policy must say whom it is about; a statement without a principal would
            // otherwise be read as "everyone" and an Allow would open the API to anonymous callers.
            let (principalKey, not) = try choose("Principal", "NotPrincipal", in: obj, path: path)
            principals = try parsePrincipal(obj[principalKey]!, path: "\(path).\(principalKey)")
            notPrincipal = not
        case .identity:
            // IAM refuses a principal in an identity policy: it applies to whom it is attached to.
            for key in ["Principal", "NotPrincipal"] where obj[key] != nil {
                throw PolicyError(path: "\(path).\(key)", reason: "an identity policy must not name a principal; it applies to the principal it is attached to")
            }
        }

        let (actionKey, notAction) = try choose("Action", "NotAction", in: obj, path: path)
        var actions: [WildcardPattern] = []
        for (i, a) in try stringList(obj[actionKey]!, path: "\(path).\(actionKey)").enumerated() {
            // An action is "service:name" (wildcards allowed), or "*" for every action.
            guard a == "*" || (a.contains(":") && !a.hasPrefix(":")) else {
                throw PolicyError(path: "\(path).\(actionKey)\(indexSuffix(obj[actionKey]!, i))",
                                  reason: "action must be \"*\" or \"service:action\", got \"\(a)\"")
            }
            actions.append(WildcardPattern(a.lowercased()))
        }

        let (resourceKey, notResource) = try choose("Resource", "NotResource", in: obj, path: path)
        var resources: [ResourcePattern] = []
        for (i, r) in try stringList(obj[resourceKey]!, path: "\(path).\(resourceKey)").enumerated() {
            let at = "\(path).\(resourceKey)\(indexSuffix(obj[resourceKey]!, i))"
            // "*", a full ARN, or API Gateway's "execute-api:/stage/METHOD/path" shorthand,
            // which ResourcePolicy.expandingExecuteApiShorthand turns into an ARN.
            guard r == "*" || r.hasPrefix("arn:") || r.hasPrefix("execute-api:/") else {
                throw PolicyError(path: at, reason: "resource must be \"*\", an ARN or \"execute-api:/...\", got \"\(r)\"")
            }
            if r.hasPrefix("arn:") && r.split(separator: ":", omittingEmptySubsequences: false).count < 6
                && !r.hasSuffix("*") {
                throw PolicyError(path: at, reason: "an ARN has six colon-separated fields (arn:partition:service:region:account:resource), got \"\(r)\"")
            }
            do {
                resources.append(ResourcePattern(try PolicyText(r, wildcards: true, variables: variables)))
            } catch {
                throw PolicyError(path: at, reason: error.message)
            }
        }

        var conditions: [ConditionClause] = []
        if let raw = obj["Condition"] {
            conditions = try ConditionClause.parseBlock(raw, path: "\(path).Condition", variables: variables)
        }

        return PolicyStatement(sid: sid, effect: effect, principals: principals, notPrincipal: notPrincipal,
                               actions: actions, notAction: notAction, resources: resources,
                               notResource: notResource, conditions: conditions)
    }

    /// Requires exactly one of `X` / `NotX`; returns the key present and whether it is `NotX`.
    private static func choose(_ positive: String, _ negative: String, in obj: JSONObject, path: String)
        throws(PolicyError) -> (String, Bool) {
        switch (obj[positive] != nil, obj[negative] != nil) {
        case (true, false): return (positive, false)
        case (false, true): return (negative, true)
        case (true, true):
            throw PolicyError(path: path, reason: "has both \(positive) and \(negative); exactly one is allowed")
        case (false, false):
            throw PolicyError(path: path, reason: "needs \(positive) or \(negative)")
        }
    }

    private static func indexSuffix(_ json: JSONValue, _ i: Int) -> String {
        if case .array = json { return "[\(i)]" }
        return ""
    }

    /// A string or a non-empty array of strings — the shape of Action, Resource and principal lists.
    static func stringList(_ json: JSONValue, path: String) throws(PolicyError) -> [String] {
        switch json {
        case .string(let s):
            if s.isEmpty { throw PolicyError(path: path, reason: "must not be empty") }
            return [s]
        case .array(let items):
            if items.isEmpty { throw PolicyError(path: path, reason: "must list at least one value") }
            var out: [String] = []
            for (i, item) in items.enumerated() {
                guard case .string(let s) = item, !s.isEmpty else {
                    throw PolicyError(path: "\(path)[\(i)]", reason: "must be a non-empty string, got \(item.typeName)")
                }
                out.append(s)
            }
            return out
        default:
            throw PolicyError(path: path, reason: "must be a string or an array of strings, got \(json.typeName)")
        }
    }

    static func parsePrincipal(_ json: JSONValue, path: String) throws(PolicyError) -> [PrincipalPattern] {
        if case .string(let s) = json {
            guard s == "*" else {
                throw PolicyError(path: path, reason: "a string principal must be \"*\"; use {\"AWS\": ...} or {\"Service\": ...} for anything else")
            }
            return [.anyone]
        }
        guard case .object(let obj) = json else {
            throw PolicyError(path: path, reason: "must be \"*\" or an object, got \(json.typeName)")
        }
        if obj.isEmpty { throw PolicyError(path: path, reason: "must name at least one principal") }
        var out: [PrincipalPattern] = []
        for (type, value) in obj.members {
            let typePath = "\(path).\(type)"
            let names = try stringList(value, path: typePath)
            for (i, name) in names.enumerated() {
                let itemPath = typePath + indexSuffix(value, i)
                switch type {
                case "AWS": out.append(try awsPrincipal(name, path: itemPath))
                case "Service":
                    // IAM does not allow wildcards in principals except the lone "*" form.
                    guard !name.contains("*"), !name.contains("?") else {
                        throw PolicyError(path: itemPath, reason: "service principals cannot contain wildcards")
                    }
                    out.append(.service(name))
                case "Federated":
                    guard !name.contains("*"), !name.contains("?") else {
                        throw PolicyError(path: itemPath, reason: "federated principals cannot contain wildcards")
                    }
                    out.append(.federated(name))
                case "CanonicalUser":
                    // An S3 notion; no API Gateway caller has one, and a Deny naming one would
                    // silently mean nothing.
                    throw PolicyError(path: typePath, reason: "CanonicalUser principals are not supported by API Gateway")
                default:
                    throw PolicyError(path: typePath, reason: "unknown principal type; expected AWS, Service or Federated")
                }
            }
        }
        return out
    }

    private static func awsPrincipal(_ name: String, path: String) throws(PolicyError) -> PrincipalPattern {
        if name == "*" { return .anyone }
        if isAccountID(name) { return .account(name) }
        // IAM refuses partial wildcards in principals ("arn:aws:iam::1234:user/*"): only "*"
        // alone means "everyone"; patterns belong in a condition on aws:PrincipalArn.
        if name.contains("*") || name.contains("?") {
            throw PolicyError(path: path, reason: "wildcards are only allowed as a lone \"*\"; got \"\(name)\"")
        }
        guard let parts = ARNParts(name), parts.service == "iam" || parts.service == "sts",
              isAccountID(String(parts.account)), !parts.resource.isEmpty else {
            throw PolicyError(path: path, reason: "must be \"*\", a 12-digit account id or an IAM/STS ARN, got \"\(name)\"")
        }
        if parts.service == "iam" && parts.resource == "root" { return .account(String(parts.account)) }
        if parts.service == "iam" && parts.resource.hasPrefix("role/") {
            let roleName = parts.resource.split(separator: "/").last.map(String.init) ?? ""
            return .role(arn: name, account: String(parts.account), name: roleName)
        }
        return .arn(name)
    }

    static func isAccountID(_ s: String) -> Bool {
        s.utf8.count == 12 && s.utf8.allSatisfy { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }
    }
}

/// Whether a document is a resource policy (attached to the API; names principals) or an
/// identity policy (attached to a principal; must not).
public enum PolicyKind: String, Sendable {
    case resource
    case identity
}

/// One `Resource` / `NotResource` entry (a class for the reason `PolicyStatement` is one).
final class ResourcePattern: Sendable {
    let text: PolicyText
    /// The pattern when it has no policy variable.
    let constant: ARNPattern?
    /// The constant pattern's literal start (before its first wildcard): a candidate that does
    /// not begin with it cannot match, which settles most non-matching statements in one memcmp.
    let literalPrefix: [UInt8]
    /// How many of the pattern's leading ARN fields lie wholly inside `literalPrefix` (each
    /// followed by its colon there): once the prefix matched, those fields need no more work.
    let literalFields: Int

    init(_ text: PolicyText) {
        self.text = text
        constant = text.constant.map { ARNPattern(WildcardPattern(units: $0, text: text.source)) }
        literalPrefix = (text.constant ?? []).prefix { $0 >= 0 }.map { UInt8($0) }
        var n = 0
        if let fields = constant?.fields {
            for f in fields.dropLast() where f.upperBound < literalPrefix.count { n += 1 }
        }
        literalFields = literalPrefix.isEmpty ? 0 : n
    }

    /// nil when a policy variable has no value.
    @inline(__always)
    func matches(_ input: EvaluationInput) -> Bool? {
        let t = input.resource
        if let c = constant {
            if !literalPrefix.isEmpty {
                guard t.count >= literalPrefix.count,
                      literalPrefix.withUnsafeBufferPointer({ memcmp($0.baseAddress!, t.baseAddress!, $0.count) == 0 })
                else { return false }
            }
            return c.whole.units.withUnsafeBufferPointer {
                ARNPattern.match($0, c.fields, t, cuts: input.cuts, knownFields: literalFields)
            }
        }
        guard let u = text.resolve(input.request.context) else { return nil }
        return u.withUnsafeBufferPointer { ARNPattern.match($0, ARNPattern.split(u), t, cuts: input.cuts) }
    }
}
