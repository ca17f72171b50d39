import GatehouseHTTP
import GatehouseModel
import GatehousePolicy
import GatehouseSigV4

/// The caller after authentication (phase 4).
public struct AuthenticatedCaller: Sendable {
    public var principal: PolicyPrincipal
    public var credential: CallerCredential?
    /// Condition keys the caller established (`aws:sourcearn`, `aws:principalarn`, …), in
    /// lowercase: IAM compares key names case-insensitively, and the policy evaluator then has
    /// nothing to fold.
    public var context: [String: [String]]

    /// How a denial names the caller: the IAM ARN, else `anonymous`.
    public var displayName: String {
        if case .aws(let arn) = principal { return arn }
        return "anonymous"
    }
}

/// Phases 4 and 5: SigV4 authentication against the credentials store, and the resource
/// policy combined with identity policies per API Gateway's decision table.
public struct Authorizer: Sendable {
    let credentials: CredentialStore
    /// One verifier per region served, made once so its signing-key cache lives on.
    let verifiers: [String: SigV4Verifier]
    /// Each key's principal and the condition keys it brings, worked out once per snapshot.
    let identities: [String: (principal: PolicyPrincipal, context: [String: [String]])]

    public init(credentials: CredentialStore, regions: [String]) {
        self.credentials = credentials
        let store = credentials
        var v: [String: SigV4Verifier] = [:]
        for region in Set(regions) {
            // API Gateway's clock-skew window is five minutes either way.
            v[region] = SigV4Verifier(service: "execute-api", region: region, clockSkewSeconds: 300) { id in
                guard let c = store.callers[id] else { return nil }
                return SigV4Credentials(accessKeyId: c.accessKeyId, secretAccessKey: c.secretAccessKey, sessionToken: c.sessionToken)
            }
        }
        verifiers = v
        var ids: [String: (principal: PolicyPrincipal, context: [String: [String]])] = [:]
        for (id, c) in credentials.callers {
            switch c.principal {
            case .service(let s):
                ids[id] = (.service(s), [:])
            case .arn(let a):
                let principal = PolicyPrincipal.aws(arn: a)
                var context: [String: [String]] = ["aws:principalarn": [a]]
                if let account = principal.accountID { context["aws:principalaccount"] = [account] }
                // arn:aws:iam::ACCOUNT:user/x, arn:aws:sts::ACCOUNT:assumed-role/r/s, …:root.
                let resource = a.split(separator: ":", maxSplits: 5, omittingEmptySubsequences: false).last ?? ""
                let type = resource.hasPrefix("assumed-role/") ? "AssumedRole" : resource.hasPrefix("user/") ? "User" : "Account"
                context["aws:principaltype"] = [type]
                ids[id] = (principal, context)
            }
        }
        identities = ids
    }

    /// Verifies the request's signature for a method that requires AWS_IAM.
    public func authenticate(_ request: HTTPRequest, region: String, now: Int64) -> Result<AuthenticatedCaller, GatewayError> {
        guard let verifier = verifiers[region] else { return .failure(.internalServerError) }
        var headers: [SigV4Header] = []
        headers.reserveCapacity(request.headers.count)
        for (n, v) in request.headers.fields { headers.append(SigV4Header(name: n, value: v)) }
        let sigRequest = SigV4Request(method: request.method, path: request.path, query: request.query,
                                      headers: headers, body: request.body)
        switch verifier.verify(sigRequest, now: now) {
        case .notSigned:
            return .failure(.missingAuthenticationToken)
        case .failed(let f):
            return .failure(.signature(status: f.status, errorType: f.errorType, message: f.message))
        case .verified(let v):
            guard let cred = credentials.callers[v.accessKeyId] else { return .failure(.missingAuthenticationToken) }
            if let expiration = cred.expiration, now >= expiration {
                // Temporary credentials past their expiry, as AWS answers them.
                return .failure(.signature(status: 403, errorType: "ExpiredTokenException",
                                           message: "The security token included in the request is expired"))
            }
            return assertSource(request, verified: v, credential: cred)
        }
    }

    /// A caller acting for a resource names it in `X-Amz-Source-Arn` (and optionally
    /// `X-Amz-Source-Account`). The header only counts when signed, and only for a key allowed
    /// to assert that ARN: otherwise any holder of a key could claim to be any state machine.
    func assertSource(_ request: HTTPRequest, verified v: SigV4Verified, credential cred: CallerCredential) -> Result<AuthenticatedCaller, GatewayError> {
        guard let identity = identities[cred.accessKeyId] else { return .failure(.missingAuthenticationToken) }
        var context = identity.context
        let principal = identity.principal
        let signed = v.signedHeaders
        if let sourceArn = request.headers["X-Amz-Source-Arn"] {
            guard signed.contains("x-amz-source-arn") else {
                return .failure(.sourceNotPermitted("X-Amz-Source-Arn must be one of the SignedHeaders"))
            }
            guard cred.mayAssertSourceArn.contains(where: { ResourcePolicy.arnMatches(pattern: $0, arn: sourceArn) }) else {
                return .failure(.sourceNotPermitted("The key \(cred.accessKeyId) may not assert source ARN \(sourceArn)"))
            }
            context["aws:sourcearn"] = [sourceArn]
            let parts = sourceArn.split(separator: ":", omittingEmptySubsequences: false)
            if parts.count > 4, !parts[4].isEmpty { context["aws:sourceaccount"] = [String(parts[4])] }
        }
        if let account = request.headers["X-Amz-Source-Account"] {
            guard signed.contains("x-amz-source-account") else {
                return .failure(.sourceNotPermitted("X-Amz-Source-Account must be one of the SignedHeaders"))
            }
            if let derived = context["aws:sourceaccount"], derived != [account] {
                return .failure(.sourceNotPermitted("X-Amz-Source-Account does not match the account of X-Amz-Source-Arn"))
            }
            context["aws:sourceaccount"] = [account]
        }
        return .success(AuthenticatedCaller(principal: principal, credential: cred, context: context))
    }

    /// API Gateway's decision for `execute-api:Invoke` on `resourceArn`:
    /// an explicit deny in either policy wins; with no authentication (NONE) the resource
    /// policy must allow; an IAM caller of the API's own account needs either policy to allow;
    /// any other caller (another account, or a service principal, which has no identity
    /// policy) needs the resource policy to allow — and an IAM caller of another account
    /// needs its identity policy as well.
    public func authorize(caller: AuthenticatedCaller, api: RestApiSpec, resourceArn: String,
                          sourceIp: String) -> GatewayError? {
        var context = caller.context
        if !sourceIp.isEmpty { context["aws:sourceip"] = [sourceIp] }
        let request = PolicyRequest(principal: caller.principal, action: "execute-api:Invoke",
                                    resource: resourceArn, context: context)
        let resourceDecision = api.policy?.evaluate(request)
        var identityDecision = PolicyDecision.implicitDeny
        for p in caller.credential?.policies ?? [] {
            switch p.evaluate(request) {
            case .explicitDeny: identityDecision = .explicitDeny
            case .allow where identityDecision != .explicitDeny: identityDecision = .allow
            default: break
            }
        }
        if resourceDecision == .explicitDeny || identityDecision == .explicitDeny {
            return .accessDenied(caller: caller.displayName, resourceArn: resourceArn, explicitDeny: true)
        }
        let allowed: Bool
        switch caller.principal {
        case .anonymous:
            allowed = resourceDecision == nil || resourceDecision == .allow
        case .service:
            allowed = resourceDecision == .allow
        case .aws:
            allowed = (caller.context["aws:principalaccount"]?.first ?? caller.principal.accountID) == api.accountId
                ? (identityDecision == .allow || resourceDecision == .allow)
                : (identityDecision == .allow && resourceDecision == .allow)
        }
        return allowed ? nil : .accessDenied(caller: caller.displayName, resourceArn: resourceArn, explicitDeny: false)
    }
}
