/// A policy document that cannot be used, naming the element at fault and what is wrong with it.
///
/// `path` is written the way a reader would point at the element in the JSON, e.g.
/// `Statement[0].Effect` or `Statement[1].Condition.StringEquals.aws:SourceArn`, so an
/// operator can find the mistake without a line number.
public struct PolicyError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Where the fault is: `policy` for the document itself, otherwise a dotted element path.
    public var path: String
    /// What is wrong there.
    public var reason: String

    /// Creates an error for the element at `path`.
    public init(path: String, reason: String) {
        self.path = path
        self.reason = reason
    }

    /// `path: reason`, e.g. `Statement[0].Effect: must be "Allow" or "Deny", got "Permit"`.
    public var description: String { "\(path): \(reason)" }
}

/// Who is making a request, as a resource policy's `Principal` element sees it.
///
/// API Gateway evaluates resource policies against the caller's identity: an unsigned request
/// is `anonymous`, a SigV4-signed request is the IAM identity that signed it (`aws`), and an
/// AWS service calling on its own behalf (e.g. Step Functions invoking an API) is `service`.
public enum PolicyPrincipal: Sendable, Equatable {
    /// An unauthenticated caller. Only `"Principal": "*"` or `{"AWS": "*"}` matches it.
    case anonymous
    /// An IAM identity ARN: user, role, assumed-role session or account root, e.g.
    /// `arn:aws:iam::222222222222:user/alice`. The account is the ARN's fifth field.
    case aws(arn: String)
    /// An AWS service principal, e.g. `states.amazonaws.com`.
    case service(String)
    /// A web-identity or SAML federated caller, named by its provider
    /// (`cognito-identity.amazonaws.com`, `accounts.google.com`, a `saml-provider/…` ARN).
    case federated(String)

    /// The 12-digit account that owns an `aws` principal (the ARN's fifth colon-separated
    /// field); nil for anonymous and service callers, or an ARN too short to have one.
    public var accountID: String? {
        guard case .aws(let arn) = self, let parts = ARNParts(arn) else { return nil }
        return parts.account.isEmpty ? nil : String(parts.account)
    }
}

/// One authorization question: may `principal` perform `action` on `resource`, given `context`?
public struct PolicyRequest: Sendable {
    /// The caller.
    public var principal: PolicyPrincipal
    /// The action, e.g. `execute-api:Invoke`. Matched case-insensitively, as IAM does.
    public var action: String
    /// The resource ARN, e.g. `arn:aws:execute-api:us-east-1:222222222222:abc123/dev/POST/execution`.
    /// Matched case-sensitively, as IAM does.
    public var resource: String
    /// Condition keys and their values, e.g. `"aws:SourceArn": ["arn:..."]`. Key lookup is
    /// case-insensitive because IAM condition key names are. A key with an empty list is
    /// treated as absent.
    public var context: PolicyContext

    /// Creates a request; `context` defaults to empty (no condition keys present).
    public init(principal: PolicyPrincipal, action: String, resource: String, context: PolicyContext = PolicyContext()) {
        self.principal = principal
        self.action = action
        self.resource = resource
        self.context = context
    }
}

/// The outcome of evaluating one policy, in IAM's three-valued terms.
public enum PolicyDecision: Sendable, Equatable {
    /// A matching `Allow` statement and no matching `Deny`.
    case allow
    /// A matching `Deny` statement; this overrides any `Allow`, in this or any other policy.
    case explicitDeny
    /// No statement matched. IAM denies by default, but another policy may still allow.
    case implicitDeny
}

/// An ARN split into its six colon-separated fields. The resource field keeps any further
/// colons (`stateMachine:Name`), because IAM splits at most five times.
struct ARNParts: Sendable, Equatable {
    var fields: [Substring]

    init?(_ arn: String) {
        let f = arn.split(separator: ":", maxSplits: 5, omittingEmptySubsequences: false)
        guard f.count == 6, f[0] == "arn" else { return nil }
        fields = f
    }

    var partition: Substring { fields[1] }
    var service: Substring { fields[2] }
    var region: Substring { fields[3] }
    var account: Substring { fields[4] }
    var resource: Substring { fields[5] }
}
