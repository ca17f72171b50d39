/// Warnings about a policy that parses but will not do what its author probably meant:
/// condition keys API Gateway never sets (so the condition always sees them absent), operators
/// that cannot apply to a key's values, and statements that can never match an API Gateway
/// request. `gatehouse validate` prints them before serving.
extension ResourcePolicy {
    /// The global keys the gateway fills in for an `execute-api:Invoke` request.
    public static let keysGatehouseSets: Set<GlobalKey> = [
        .sourceIp, .sourceArn, .sourceAccount, .principalArn, .principalAccount, .principalType,
        .principalServiceName, .principalIsAWSService, .userid, .username, .currentTime, .epochTime,
        .secureTransport, .userAgent, .referer,
    ]

    /// Key families with a free suffix that the gateway sets (`aws:PrincipalTag/team`).
    static let prefixedKeysGatehouseSets = ["aws:principaltag/"]

    /// Keys that exist in IAM but that Gatehouse never sets (no VPC endpoints, MFA or session
    /// tokens issued here) — a condition on them sees the key absent.
    static let prefixedKnownKeys = ["aws:requesttag/", "aws:resourcetag/", "execute-api:"]

    /// `apiArnPrefix` (`arn:aws:execute-api:us-east-1:222222222222:abc123`) lets a resource
    /// policy's statements be checked against the API they are attached to.
    public func warnings(apiArnPrefix: String? = nil) -> [String] {
        var out: [String] = []
        if kind == .resource && !statements.contains(where: { $0.effect == .allow }) {
            out.append("the policy has no Allow statement: it allows no call (for NONE and cross-account callers)")
        }
        for (i, st) in statements.enumerated() {
            let at = statements.count == 1 ? "Statement" : "Statement[\(i)]"
            // Keys.
            for clause in st.conditions {
                let name = clause.keyName
                switch clause.key {
                case .global(let g):
                    if !ResourcePolicy.keysGatehouseSets.contains(g) {
                        out.append("\(at).Condition.\(clause.operatorName).\(name): Gatehouse never sets \(g.name) on an API Gateway request; the condition always sees it absent")
                    }
                    if let problem = ResourcePolicy.operatorMismatch(clause.op, g) {
                        out.append("\(at).Condition.\(clause.operatorName).\(name): \(problem)")
                    }
                case .other(let lower):
                    if ResourcePolicy.prefixedKeysGatehouseSets.contains(where: { lower.hasPrefix($0) }) { break }
                    if ResourcePolicy.prefixedKnownKeys.contains(where: { lower.hasPrefix($0) }) {
                        out.append("\(at).Condition.\(clause.operatorName).\(name): Gatehouse never sets this key on an execute-api:Invoke request; the condition always sees it absent")
                    } else {
                        out.append("\(at).Condition.\(clause.operatorName).\(name): unknown condition key; the condition always sees it absent")
                    }
                }
            }
            // Action: can it ever be execute-api:Invoke?
            let actionHit = st.actions.contains { $0.matches("execute-api:invoke") }
            if actionHit == st.notAction {
                out.append("\(at): its \(st.notAction ? "NotAction excludes" : "Action does not cover") execute-api:Invoke, so it never applies to an API call")
            }
            // Resource: can it ever name a method of this API?
            if let prefix = apiArnPrefix, !st.notResource {
                let probe = ResourcePolicy.probe(prefix)
                let reachable = st.resources.contains { r in
                    guard let c = r.constant else { return true }   // policy variables: can't tell
                    return ResourcePolicy.mayMatch(c, apiArnPrefix: prefix, probe: probe)
                }
                if !reachable {
                    out.append("\(at): no Resource matches a method of this API (\(prefix)/stage/METHOD/path), so it never applies")
                }
            }
        }
        return out
    }

    /// An ARN under the API with a stage, method and path no pattern field can tell apart.
    static func probe(_ prefix: String) -> String { prefix + "/" }

    /// Whether a constant resource pattern can match some method ARN of the API: the first five
    /// fields must match the API's, and the resource field's literal text before its first
    /// wildcard must agree with `apiId/`.
    static func mayMatch(_ p: ARNPattern, apiArnPrefix: String, probe: String) -> Bool {
        if p.whole.isMatchAll { return true }
        guard let fields = p.fields else { return false }
        let api = apiArnPrefix.split(separator: ":", maxSplits: 5, omittingEmptySubsequences: false).map { Array($0.utf8) }
        guard api.count == 6 else { return true }
        let units = p.whole.units
        for (k, r) in fields.enumerated() {
            let field = Array(units[r])
            let short = k == fields.count - 1 && fields.count < 6
            if short { return field.last == PatternUnit.star && mayMatchPrefix(field.dropLast(), Array(api[k...].joined(separator: [0x3A]))) }
            if k < 5 {
                let ok = field.withUnsafeBufferPointer { f in api[k].withUnsafeBufferPointer { matchUnits(f, $0) } }
                if !ok { return false }
            } else {
                // The resource field: "apiId/stage/METHOD/path" — its literal start must fit.
                let literal = field.prefix { $0 >= 0 }
                let wanted = api[5] + [0x2F]
                let n = min(literal.count, wanted.count)
                if !zip(literal.prefix(n), wanted.prefix(n)).allSatisfy({ $0.0 == Int16($0.1) }) { return false }
                if literal.count == field.count && literal.count <= wanted.count { return false }  // names no method
            }
        }
        return true
    }

    static func mayMatchPrefix(_ field: ArraySlice<Int16>, _ text: [UInt8]) -> Bool {
        let literal = field.prefix { $0 >= 0 }
        let n = min(literal.count, text.count)
        return zip(literal.prefix(n), text.prefix(n)).allSatisfy { $0.0 == Int16($0.1) }
    }

    /// An operator that cannot apply to the values a global key has.
    static func operatorMismatch(_ op: ConditionOperator, _ key: GlobalKey) -> String? {
        let ipKeys: Set<GlobalKey> = [.sourceIp, .vpcSourceIp]
        let dateKeys: Set<GlobalKey> = [.currentTime, .epochTime, .tokenIssueTime]
        let arnKeys: Set<GlobalKey> = [.sourceArn, .principalArn]
        switch op {
        case .ipAddress where !ipKeys.contains(key):
            return "IpAddress compares addresses, but \(key.name) is not one; the condition never matches"
        case .date where !dateKeys.contains(key):
            return "Date operators compare times, but \(key.name) is not one"
        case .arnEquals, .arnLike:
            return arnKeys.contains(key) ? nil : "Arn operators compare ARNs, but \(key.name) is not one"
        case .stringEquals, .stringLike, .stringEqualsIgnoreCase:
            return ipKeys.contains(key) ? "\(key.name) holds an address; use IpAddress / NotIpAddress to compare it (String operators do not understand CIDR blocks)" : nil
        default:
            return nil
        }
    }
}
