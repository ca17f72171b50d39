import GatehouseHTTP
import GatehouseModel
import GatehousePolicy
import GatehouseSigV4
import GatehouseCalendar
#if canImport(Glibc)
import Glibc
#endif

/// The caller after authentication (phase 4).
public struct AuthenticatedCaller: Sendable {
    public var principal: PolicyPrincipal
    public var credential: CallerCredential?
    /// Condition keys the caller established (`aws:SourceArn`, `aws:PrincipalArn`, …).
    public var context: PolicyContext

    /// How a denial names the caller: the IAM ARN, else `anonymous`.
    public var displayName: String { APIGatewayAuthorization.callerName(principal) }

    /// An unsigned caller: `aws:PrincipalType` Anonymous, `aws:userid` anonymous, as IAM has them.
    public static let anonymous = AuthenticatedCaller(principal: .anonymous, credential: nil,
                                                      context: Authorizer.principalContext(.anonymous))
}

/// Phases 4 and 5: SigV4 authentication against the credentials store, and the resource
/// policy combined with identity policies per API Gateway's decision table.
public struct Authorizer: Sendable {
    let credentials: CredentialStore
    /// One verifier per region served, made once so its signing-key cache lives on.
    let verifiers: [String: SigV4Verifier]
    /// Each key's principal and the condition keys it brings, worked out once per snapshot.
    let identities: [String: (principal: PolicyPrincipal, context: PolicyContext)]
    /// Proxies trusted to name the client in `X-Forwarded-For` (conf `trustedProxies`).
    let trustedProxies: AddressSet

    public init(credentials: CredentialStore, regions: [String], trustedProxies: AddressSet = AddressSet()) {
        self.credentials = credentials
        self.trustedProxies = trustedProxies
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
        var ids: [String: (principal: PolicyPrincipal, context: PolicyContext)] = [:]
        for (id, c) in credentials.callers {
            ids[id] = Authorizer.identity(of: c)
        }
        identities = ids
    }

    /// The principal a key signs as and the condition keys that come with it: for an IAM ARN
    /// `aws:PrincipalArn`, `aws:PrincipalAccount`, `aws:PrincipalType`, `aws:username` (users
    /// only), `aws:userid` and `aws:PrincipalTag/…`; for a service `aws:PrincipalServiceName`
    /// and `aws:PrincipalIsAWSService`.
    static func identity(of c: CallerCredential) -> (principal: PolicyPrincipal, context: PolicyContext) {
        let principal: PolicyPrincipal
        switch c.principal {
        case .service(let s): principal = .service(s)
        case .arn(let a): principal = .aws(arn: a)
        }
        var context = principalContext(principal)
        if let uid = c.userId { context[.userid] = [uid] }
        for (k, v) in c.tags { context["aws:PrincipalTag/\(k)"] = [v] }
        return (principal, context)
    }

    /// The condition keys IAM derives from the principal alone.
    public static func principalContext(_ principal: PolicyPrincipal) -> PolicyContext {
        var context = PolicyContext()
        switch principal {
        case .anonymous:
            context[.principalType] = ["Anonymous"]
            context[.userid] = ["anonymous"]
        case .service(let s):
            context[.principalServiceName] = [s]
            context[.principalIsAWSService] = ["true"]
        case .federated:
            context[.principalType] = ["WebIdentityUser"]
        case .aws(let a):
            context[.principalArn] = [a]
            context[.principalIsAWSService] = ["false"]
            let account = principal.accountID
            if let account { context[.principalAccount] = [account] }
            // arn:aws:iam::ACCOUNT:user/path/x, arn:aws:sts::ACCOUNT:assumed-role/r/s,
            // arn:aws:sts::ACCOUNT:federated-user/x, arn:aws:iam::ACCOUNT:root.
            let resource = a.split(separator: ":", maxSplits: 5, omittingEmptySubsequences: false).last ?? ""
            let type: String
            if resource.hasPrefix("assumed-role/") {
                type = "AssumedRole"
            } else if resource.hasPrefix("user/") {
                type = "User"
                // The user's friendly name: the last part of its path.
                context[.username] = [String(resource.split(separator: "/").last ?? "")]
            } else if resource.hasPrefix("federated-user/") {
                type = "FederatedUser"
            } else {
                type = "Account"
                if let account { context[.userid] = [account] }
            }
            context[.principalType] = [type]
        }
        return context
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
            guard cred.mayAssertSourceArn.contains(where: { ResourcePolicy.resourceMatches(pattern: $0, arn: sourceArn) }) else {
                return .failure(.sourceNotPermitted("The key \(cred.accessKeyId) may not assert source ARN \(sourceArn)"))
            }
            context[.sourceArn] = [sourceArn]
            let parts = sourceArn.split(separator: ":", omittingEmptySubsequences: false)
            if parts.count > 4, !parts[4].isEmpty { context[.sourceAccount] = [String(parts[4])] }
        }
        if let account = request.headers["X-Amz-Source-Account"] {
            guard signed.contains("x-amz-source-account") else {
                return .failure(.sourceNotPermitted("X-Amz-Source-Account must be one of the SignedHeaders"))
            }
            if let derived = context[.sourceAccount], derived != [account] {
                return .failure(.sourceNotPermitted("X-Amz-Source-Account does not match the account of X-Amz-Source-Arn"))
            }
            context[.sourceAccount] = [account]
        }
        return .success(AuthenticatedCaller(principal: principal, credential: cred, context: context))
    }

    /// API Gateway's decision for `execute-api:Invoke` on `resourceArn` (its decision table:
    /// `APIGatewayAuthorization`), with the request context keys the policies read: the
    /// caller's, `aws:SourceIp`, and — only when a policy names them — `aws:CurrentTime`,
    /// `aws:EpochTime`, `aws:SecureTransport`, `aws:UserAgent`, `aws:Referer`.
    public func authorize(caller: AuthenticatedCaller, api: RestApiSpec, authorization: AuthorizationType,
                          resourceArn: String, request: HTTPRequest) -> GatewayError? {
        var context = caller.context
        let peer = request.remoteAddress
        let sourceIp = trustedProxies.isEmpty ? peer
            : trustedProxies.clientAddress(peer: peer, forwardedFor: request.headers["X-Forwarded-For"])
        if !sourceIp.isEmpty { context[.sourceIp] = [sourceIp] }
        let identityPolicies = authorization == .awsIAM ? (caller.credential?.policies ?? []) : []
        var keys = api.policy?.referencedKeys ?? KeySet()
        for p in identityPolicies { keys.formUnion(p.referencedKeys) }
        if keys.contains(.currentTime) || keys.contains(.epochTime) {
            let now = Int64(time(nil))
            context[.epochTime] = [String(now)]
            context[.currentTime] = [Authorizer.iso8601(now)]
        }
        if keys.contains(.secureTransport) { context[.secureTransport] = [request.isTLS ? "true" : "false"] }
        if keys.contains(.userAgent), let ua = request.headers["User-Agent"] { context[.userAgent] = [ua] }
        if keys.contains(.referer), let r = request.headers["Referer"] { context[.referer] = [r] }

        let policyRequest = PolicyRequest(principal: caller.principal, action: "execute-api:Invoke",
                                          resource: resourceArn, context: context)
        let resourceDecision = api.policy?.evaluate(policyRequest)
        var identityDecision = PolicyDecision.implicitDeny
        for p in identityPolicies {
            switch p.evaluate(policyRequest) {
            case .explicitDeny: identityDecision = .explicitDeny
            case .allow where identityDecision != .explicitDeny: identityDecision = .allow
            default: break
            }
        }
        let callerAccount = caller.context[.principalAccount]?.first ?? caller.principal.accountID
        let decision = APIGatewayAuthorization.combine(
            authorization: authorization == .awsIAM ? .awsIAM : .none, principal: caller.principal,
            sameAccount: callerAccount != nil && callerAccount == api.accountId,
            resource: resourceDecision, identity: identityDecision)
        switch decision {
        case .allow: return nil
        case .explicitDeny: return .accessDenied(caller: caller.displayName, resourceArn: resourceArn, explicitDeny: true)
        case .implicitDeny: return .accessDenied(caller: caller.displayName, resourceArn: resourceArn, explicitDeny: false)
        }
    }

    /// `2026-11-25T12:00:00Z`, as `aws:CurrentTime` is written.
    static func iso8601(_ epoch: Int64) -> String {
        let days = epoch >= 0 ? epoch / 86_400 : (epoch - 86_399) / 86_400
        let secs = epoch - days * 86_400
        let d = CivilDate.fromDays(days)
        func two(_ n: Int64) -> String { n < 10 ? "0\(n)" : "\(n)" }
        return "\(d.year)-\(two(d.month))-\(two(d.day))T\(two(secs / 3600)):\(two(secs / 60 % 60)):\(two(secs % 60))Z"
    }
}
