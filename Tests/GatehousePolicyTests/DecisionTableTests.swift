import GatehousePolicy
import Testing

/// API Gateway's authorization decision table, row by row: authorization type × resource
/// policy (none, allow, explicit deny, silent) × identity side (allow, deny, silent) × same or
/// cross account. From the "How API Gateway resource policies affect authorization workflow"
/// page: Table A (same account: either allows), Table B (cross-account: both must allow), the
/// NONE flow (the resource policy must allow), the Lambda authorizer flow (explicit denies in
/// the resource policy checked before the authorizer runs).
@Suite struct DecisionTableTests {
    enum Side: String, Sendable { case none, allow, deny, silent }

    struct Row: Sendable, CustomTestStringConvertible {
        var auth: MethodAuthorization
        var resource: Side
        var identity: Side
        var sameAccount: Bool
        var expected: PolicyDecision
        var testDescription: String { "\(auth.rawValue) resource=\(resource) identity=\(identity) \(sameAccount ? "same" : "cross")-account → \(expected)" }
    }

    static let caller = "arn:aws:iam::222222222222:user/alice"
    static let outsider = "arn:aws:iam::999999999999:user/mallory"
    static let target = "\(apiArn)/dev/GET/pets"

    static func policy(_ side: Side, kind: PolicyKind) -> ResourcePolicy? {
        let principal = kind == .resource ? #""Principal": "*", "# : ""
        let effect: String
        switch side {
        case .none: return nil
        case .allow: effect = #""Effect": "Allow", "Resource": "\#(apiArn)/*""#
        case .deny: effect = #""Effect": "Deny", "Resource": "\#(apiArn)/*""#
        case .silent: effect = #""Effect": "Allow", "Resource": "\#(apiArn)/prod/*""#   // another stage
        }
        return try! ResourcePolicy(json: #"{"Version": "2012-10-17", "Statement": {\#(principal)"Action": "execute-api:Invoke", \#(effect)}}"#, kind: kind)
    }

    static let rows: [Row] = {
        var rows: [Row] = []
        let sides: [Side] = [.none, .allow, .deny, .silent]
        let idSides: [Side] = [.allow, .deny, .silent]
        for r in sides {
            // NONE: the resource policy alone; identity policies are not consulted.
            for i in idSides {
                let expected: PolicyDecision = r == .deny ? .explicitDeny : (r == .none || r == .allow) ? .allow : .implicitDeny
                rows.append(Row(auth: .none, resource: r, identity: i, sameAccount: true, expected: expected))
            }
            for i in idSides {
                for same in [true, false] {
                    // AWS_IAM: Table A / Table B; no resource policy → the identity policy decides.
                    var e: PolicyDecision
                    if r == .deny || i == .deny { e = .explicitDeny }
                    else if r == .none { e = i == .allow ? .allow : .implicitDeny }
                    else if same { e = (i == .allow || r == .allow) ? .allow : .implicitDeny }
                    else { e = (i == .allow && r == .allow) ? .allow : .implicitDeny }
                    rows.append(Row(auth: .awsIAM, resource: r, identity: i, sameAccount: same, expected: e))
                    // CUSTOM / COGNITO: the authorizer in the identity's place, Table A.
                    if same {
                        let a: PolicyDecision = (r == .deny || i == .deny) ? .explicitDeny
                            : (i == .allow || r == .allow) ? .allow : .implicitDeny
                        rows.append(Row(auth: .custom, resource: r, identity: i, sameAccount: true, expected: a))
                        rows.append(Row(auth: .cognito, resource: r, identity: i, sameAccount: true, expected: a))
                    }
                }
            }
        }
        return rows
    }()

    @Test(arguments: rows)
    func row(_ row: Row) {
        let who = row.sameAccount ? Self.caller : Self.outsider
        let principal: PolicyPrincipal = row.auth == .awsIAM ? .aws(arn: who) : .anonymous
        var q = AuthorizationQuestion(authorization: row.auth,
                                      request: PolicyRequest(principal: principal, action: "execute-api:Invoke", resource: Self.target),
                                      apiAccount: "222222222222",
                                      callerAccount: row.auth == .awsIAM ? (row.sameAccount ? "222222222222" : "999999999999") : nil,
                                      resourcePolicy: Self.policy(row.resource, kind: .resource))
        switch row.auth {
        case .awsIAM: q.identityPolicies = [Self.policy(row.identity, kind: .identity)!]
        case .custom, .cognito:
            q.authorizerDecision = row.identity == .allow ? .allow : row.identity == .deny ? .explicitDeny : .implicitDeny
        case .none: break
        }
        let answer = APIGatewayAuthorization.decide(q)
        #expect(answer.decision == row.expected)
        // The statements reported are the deciding ones: none for an implicit deny, at least
        // one otherwise (except an open NONE method with no policy at all).
        if row.expected == .implicitDeny { #expect(answer.statements.isEmpty) }
        if row.expected == .explicitDeny { #expect(answer.statements.contains { $0.effect == "Deny" }) }
        // The combine function the gateway uses agrees with the detailed answer.
        let resourceDecision = q.resourcePolicy?.evaluate(q.request)
        var identity = PolicyDecision.implicitDeny
        if row.auth == .awsIAM { identity = q.identityPolicies[0].evaluate(q.request) } else if let a = q.authorizerDecision { identity = a }
        #expect(APIGatewayAuthorization.combine(authorization: row.auth, principal: principal, sameAccount: row.sameAccount,
                                                resource: resourceDecision, identity: identity) == row.expected)
    }

    /// A service principal (Step Functions calling with RESOURCE_POLICY) has no identity
    /// policy: only the resource policy can allow it.
    @Test func servicePrincipalNeedsTheResourcePolicy() {
        let states = PolicyPrincipal.service("states.amazonaws.com")
        let allow = try! ResourcePolicy(json: #"{"Statement": {"Effect": "Allow", "Principal": {"Service": "states.amazonaws.com"}, "Action": "execute-api:Invoke", "Resource": "*"}}"#)
        for (policy, expected) in [(Optional(allow), PolicyDecision.allow), (nil, .implicitDeny),
                                   (Self.policy(.silent, kind: .resource), .implicitDeny), (Self.policy(.deny, kind: .resource), .explicitDeny)] {
            let q = AuthorizationQuestion(authorization: .awsIAM,
                                          request: PolicyRequest(principal: states, action: "execute-api:Invoke", resource: Self.target),
                                          apiAccount: "222222222222", resourcePolicy: policy)
            #expect(APIGatewayAuthorization.decide(q).decision == expected)
        }
    }

    /// A Lambda authorizer never runs after the resource policy's explicit deny.
    @Test func customAuthorizerDeniedBeforeItRuns() {
        let q = AuthorizationQuestion(authorization: .custom,
                                      request: PolicyRequest(principal: .anonymous, action: "execute-api:Invoke", resource: Self.target),
                                      apiAccount: "222222222222", resourcePolicy: Self.policy(.deny, kind: .resource),
                                      authorizerDecision: .allow)
        let a = APIGatewayAuthorization.decide(q)
        #expect(a.decision == .explicitDeny)
        #expect(a.deniedBeforeAuthorizer)
        #expect(a.statements.allSatisfy { $0.policy == "resource" })
    }

    /// AWS's 403 text: the caller's ARN in full, the API's account masked to its last four
    /// digits, " with an explicit deny" for explicit denies.
    @Test func denialMessages() {
        #expect(APIGatewayAuthorization.denialMessage(caller: "anonymous", resourceArn: Self.target, explicitDeny: false)
                == "User: anonymous is not authorized to perform: execute-api:Invoke on resource: arn:aws:execute-api:us-east-1:********2222:abc123/dev/GET/pets")
        #expect(APIGatewayAuthorization.denialMessage(caller: Self.outsider, resourceArn: Self.target, explicitDeny: true)
                == "User: arn:aws:iam::999999999999:user/mallory is not authorized to perform: execute-api:Invoke on resource: arn:aws:execute-api:us-east-1:********2222:abc123/dev/GET/pets with an explicit deny")
    }

    /// Identity policies cannot name a principal (IAM refuses them).
    @Test func identityPolicyWithPrincipalIsRefused() {
        #expect(throws: PolicyError.self) {
            try ResourcePolicy(json: #"{"Statement": {"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}}"#, kind: .identity)
        }
    }
}
