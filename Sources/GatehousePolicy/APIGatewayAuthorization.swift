/// A method's authorization type, as API Gateway names it.
public enum MethodAuthorization: String, Sendable, CaseIterable {
    case none = "NONE"
    case awsIAM = "AWS_IAM"
    /// A Lambda (custom) authorizer.
    case custom = "CUSTOM"
    case cognito = "COGNITO_USER_POOLS"
}

/// Everything API Gateway's authorization decision reads.
public struct AuthorizationQuestion: Sendable {
    public var authorization: MethodAuthorization
    public var request: PolicyRequest
    /// The account that owns the API.
    public var apiAccount: String
    /// The caller's account (an IAM caller's); nil for anonymous, service and federated callers.
    public var callerAccount: String?
    public var resourcePolicy: ResourcePolicy?
    /// The caller's identity policies (AWS_IAM callers only).
    public var identityPolicies: [ResourcePolicy]
    /// What a Lambda authorizer's policy decided, or whether a Cognito token verified
    /// (`allow`) — for CUSTOM and COGNITO_USER_POOLS methods.
    public var authorizerDecision: PolicyDecision?

    public init(authorization: MethodAuthorization, request: PolicyRequest, apiAccount: String,
                callerAccount: String? = nil, resourcePolicy: ResourcePolicy? = nil,
                identityPolicies: [ResourcePolicy] = [], authorizerDecision: PolicyDecision? = nil) {
        self.authorization = authorization
        self.request = request
        self.apiAccount = apiAccount
        self.callerAccount = callerAccount
        self.resourcePolicy = resourcePolicy
        self.identityPolicies = identityPolicies
        self.authorizerDecision = authorizerDecision
    }
}

/// The answer: the decision, the statements that made it, and AWS's 403 text when denied.
public struct AuthorizationAnswer: Sendable, Equatable {
    public struct Statement: Sendable, Equatable {
        /// `resource`, `identity` (with the identity policy's position) or `authorizer`.
        public var policy: String
        public var policyIndex: Int
        public var index: Int
        public var sid: String?
        public var effect: String
    }
    public var decision: PolicyDecision
    public var statements: [Statement]
    /// True when the resource policy's explicit deny refused the call before a Lambda
    /// authorizer would run.
    public var deniedBeforeAuthorizer: Bool = false

    public var allowed: Bool { decision == .allow }
}

/// API Gateway's authorization decision table (the "How API Gateway resource policies affect
/// authorization workflow" page):
///
/// - Any explicit deny — in the resource policy, an identity policy or a Lambda authorizer's
///   policy — denies.
/// - NONE: the resource policy must allow (no resource policy: the method is open).
/// - AWS_IAM, IAM caller of the API's own account (Table A): either the identity policy or the
///   resource policy must allow.
/// - AWS_IAM, IAM caller of another account (Table B): both must allow. With no resource
///   policy at all, the caller's identity policy decides, as it did before resource policies
///   existed.
/// - AWS_IAM, a service principal (e.g. `states.amazonaws.com` calling with its source ARN):
///   it has no identity policy, so the resource policy must allow.
/// - CUSTOM: explicit denies in the resource policy are checked before the authorizer runs;
///   then the authorizer's decision takes the identity policy's place in Table A.
/// - COGNITO_USER_POOLS: a verified token takes the identity policy's place in Table A.
public enum APIGatewayAuthorization {
    public static func decide(_ q: AuthorizationQuestion) -> AuthorizationAnswer {
        let resource = q.resourcePolicy.map { $0.explain(q.request) }
        func resourceHits() -> [AuthorizationAnswer.Statement] {
            (resource?.statements ?? []).map {
                .init(policy: "resource", policyIndex: 0, index: $0.index, sid: $0.sid, effect: $0.effect)
            }
        }
        let resourceDecision = resource?.decision

        // The identity side: identity policies (AWS_IAM), or the authorizer (CUSTOM, COGNITO).
        var identity = PolicyDecision.implicitDeny
        var identityHits: [AuthorizationAnswer.Statement] = []
        var identityDenies: [AuthorizationAnswer.Statement] = []
        switch q.authorization {
        case .awsIAM:
            for (k, p) in q.identityPolicies.enumerated() {
                let r = p.explain(q.request)
                let hits = r.statements.map {
                    AuthorizationAnswer.Statement(policy: "identity", policyIndex: k, index: $0.index, sid: $0.sid, effect: $0.effect)
                }
                switch r.decision {
                case .explicitDeny: identity = .explicitDeny; identityDenies += hits
                case .allow where identity != .explicitDeny: identity = .allow; identityHits += hits
                case .allow: identityHits += hits
                case .implicitDeny: break
                }
            }
        case .custom, .cognito:
            identity = q.authorizerDecision ?? .implicitDeny
            if identity != .implicitDeny {
                let hit = AuthorizationAnswer.Statement(policy: "authorizer", policyIndex: 0, index: 0, sid: nil,
                                                        effect: identity == .allow ? "Allow" : "Deny")
                if identity == .allow { identityHits = [hit] } else { identityDenies = [hit] }
            }
        case .none:
            break
        }

        let decision = combine(authorization: q.authorization, principal: q.request.principal,
                               sameAccount: q.callerAccount != nil && q.callerAccount == q.apiAccount,
                               resource: resourceDecision, identity: identity)
        switch decision {
        case .explicitDeny:
            var hits: [AuthorizationAnswer.Statement] = []
            if resourceDecision == .explicitDeny { hits += resourceHits() }
            if q.authorization == .custom && resourceDecision == .explicitDeny {
                // A Lambda authorizer does not even run after the resource policy's deny.
                return AuthorizationAnswer(decision: .explicitDeny, statements: hits, deniedBeforeAuthorizer: true)
            }
            return AuthorizationAnswer(decision: .explicitDeny, statements: hits + identityDenies)
        case .allow:
            var hits: [AuthorizationAnswer.Statement] = []
            if identity == .allow { hits += identityHits }
            if resourceDecision == .allow { hits += resourceHits() }
            return AuthorizationAnswer(decision: .allow, statements: hits)
        case .implicitDeny:
            return AuthorizationAnswer(decision: .implicitDeny, statements: [])
        }
    }

    /// The table itself, on the two policies' decisions. `resource` is nil when the API has no
    /// resource policy; `identity` is the identity policies' combined decision (AWS_IAM) or the
    /// authorizer's (CUSTOM, COGNITO_USER_POOLS).
    @inline(__always)
    public static func combine(authorization: MethodAuthorization, principal: PolicyPrincipal, sameAccount: Bool,
                               resource: PolicyDecision?, identity: PolicyDecision) -> PolicyDecision {
        if resource == .explicitDeny { return .explicitDeny }
        switch authorization {
        case .none:
            return resource == nil || resource == .allow ? .allow : .implicitDeny
        case .custom, .cognito:
            if identity == .explicitDeny { return .explicitDeny }
            return identity == .allow || resource == .allow ? .allow : .implicitDeny
        case .awsIAM:
            if identity == .explicitDeny { return .explicitDeny }
            switch principal {
            case .aws:
                let allowed: Bool
                if resource == nil {
                    allowed = identity == .allow
                } else if sameAccount {
                    allowed = identity == .allow || resource == .allow
                } else {
                    allowed = identity == .allow && resource == .allow
                }
                return allowed ? .allow : .implicitDeny
            case .service, .federated:
                return resource == .allow ? .allow : .implicitDeny
            case .anonymous:
                // AWS_IAM never lets an unsigned call this far.
                return .implicitDeny
            }
        }
    }

    /// How a denial names the caller: the IAM ARN in full, else `anonymous`.
    public static func callerName(_ principal: PolicyPrincipal) -> String {
        if case .aws(let arn) = principal { return arn }
        return "anonymous"
    }

    /// AWS's 403 text: `User: … is not authorized to perform: execute-api:Invoke on resource:
    /// arn:aws:execute-api:us-east-1:********2222:…`, the API's account masked to its last four
    /// digits, with ` with an explicit deny` for explicit denies.
    public static func denialMessage(caller: String, action: String = "execute-api:Invoke",
                                     resourceArn: String, explicitDeny: Bool) -> String {
        "User: \(caller) is not authorized to perform: \(action) on resource: \(maskAccount(resourceArn))"
            + (explicitDeny ? " with an explicit deny" : "")
    }

    /// The ARN's account field masked to its last four digits.
    public static func maskAccount(_ arn: String) -> String {
        var parts = arn.split(separator: ":", maxSplits: 5, omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 6, parts[4].count > 4 else { return arn }
        parts[4] = String(repeating: "*", count: parts[4].count - 4) + parts[4].suffix(4)
        return parts.joined(separator: ":")
    }
}
