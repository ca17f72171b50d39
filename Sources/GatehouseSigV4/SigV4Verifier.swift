// Verifying incoming requests the way API Gateway (execute-api) does, with its error messages.

/// Verifies SigV4-signed requests: the `Authorization` header form and the presigned query form.
///
/// Checks run in the order AWS's front end runs them: parameters present, date well formed,
/// time window, `host` signed, algorithm, credential shape, credential scope, access key,
/// signature, session token. Every failure is a 403 with AWS's error type and message.
public struct SigV4Verifier: Sendable {
    public let service: String
    public let region: String
    public let clockSkewSeconds: Int64
    public let doubleEncodePath: Bool
    public let normalizePath: Bool
    /// Quote the `Authorization` header in messages as base64 SHA-256 (newer AWS front ends) rather than verbatim.
    public let hashAuthorizationInMessages: Bool
    private let lookup: @Sendable (String) -> SigV4Credentials?
    private let keyCache: SigningKeyCache

    /// - Parameters:
    ///   - lookup: access key id to credentials (secret and, for temporary keys, the session token);
    ///     nil for an unknown key.
    ///   - doubleEncodePath, normalizePath: nil means true for every service but `s3`.
    public init(service: String = "execute-api", region: String, clockSkewSeconds: Int64 = 300,
                doubleEncodePath: Bool? = nil, normalizePath: Bool? = nil,
                hashAuthorizationInMessages: Bool = false,
                lookup: @escaping @Sendable (String) -> SigV4Credentials?) {
        self.service = service
        self.region = region
        self.clockSkewSeconds = clockSkewSeconds
        self.doubleEncodePath = doubleEncodePath ?? (service != "s3")
        self.normalizePath = normalizePath ?? (service != "s3")
        self.hashAuthorizationInMessages = hashAuthorizationInMessages
        self.lookup = lookup
        self.keyCache = SigningKeyCache()
    }

    /// The longest a presigned request may live (`X-Amz-Expires`), seven days.
    public static let maximumExpires: Int64 = 604_800

    /// Verifies `request` at `now` (epoch seconds).
    ///
    /// `.notSigned` when the request carries neither an `Authorization` header nor query-string
    /// authentication (API Gateway then answers 403 `Missing Authentication Token`).
    public func verify(_ request: SigV4Request, now: Int64) -> SigV4Result {
        let query = SigV4.parseQuery(request.query)
        let authorization = request.firstHeader("Authorization").flatMap { value -> String? in
            value.utf8.contains(where: { $0 != 0x20 && $0 != 0x09 }) ? value : nil
        }
        let hasAlgorithmParameter = SigV4.firstQueryValue(query, "X-Amz-Algorithm") != nil
        let presigned: Bool
        if authorization != nil {
            if hasAlgorithmParameter {
                return .failed(SigV4Failure(errorType: SigV4Failure.invalidSignature, message:
                    "Found both 'X-Amz-Algorithm' as a query-string param and 'Authorization' as HTTP header."))
            }
            presigned = false
        } else if hasAlgorithmParameter || SigV4.firstQueryValue(query, "X-Amz-Signature") != nil
                    || SigV4.firstQueryValue(query, "X-Amz-Credential") != nil {
            presigned = true
        } else {
            return .notSigned
        }

        let parsed: AuthParameters
        switch presigned ? parseQueryAuthorization(query, request) : parseHeaderAuthorization(authorization!, request) {
        case .failure(let failure): return .failed(failure)
        case .success(let p): parsed = p
        }
        switch check(parsed, request, query: query, now: now) {
        case .failure(let failure): return .failed(failure)
        case .success(let verified): return .verified(verified)
        }
    }

    // MARK: - parsing

    /// The authentication parameters, wherever they came from.
    struct AuthParameters {
        var algorithm: String
        var credential: String
        var signedHeaders: String
        var signature: String
        /// The date as sent (`X-Amz-Date` value, or the `Date` header value).
        var rawDate: String
        var dateIsHTTPDate: Bool
        var expires: String?
        var sessionToken: String?
        var presigned: Bool
    }

    private func parseHeaderAuthorization(_ header: String, _ request: SigV4Request) -> Result<AuthParameters, SigV4Failure> {
        // One pass over the header's bytes: tokens separated by space, tab or comma, the first
        // the algorithm, the others `key=value`; only the values kept are made into strings.
        enum Parsed { case ok(String, String?, String?, String?), noEqualSign(String), equalSignInAlgorithm }
        var copy = header
        let parsed: Parsed = copy.withUTF8 { u in
            func text(_ r: Range<Int>) -> String { String(decoding: UnsafeBufferPointer(rebasing: u[r]), as: UTF8.self) }
            func isKey(_ r: Range<Int>, _ key: StaticString) -> Bool {
                r.count == key.utf8CodeUnitCount && UnsafeBufferPointer(rebasing: u[r]).elementsEqual(
                    UnsafeBufferPointer(start: key.utf8Start, count: key.utf8CodeUnitCount))
            }
            var algorithm: String?
            var credential: String?, signature: String?, signedHeaders: String?
            var i = 0
            while i < u.count {
                while i < u.count && (u[i] == 0x20 || u[i] == 0x09 || u[i] == 0x2C) { i += 1 }
                guard i < u.count else { break }
                let start = i
                var eq = -1
                while i < u.count && u[i] != 0x20 && u[i] != 0x09 && u[i] != 0x2C {
                    if eq < 0 && u[i] == 0x3D { eq = i }
                    i += 1
                }
                if algorithm == nil {
                    if eq >= 0 { return .equalSignInAlgorithm }
                    algorithm = text(start..<i)
                    continue
                }
                guard eq >= 0 else { return .noEqualSign(text(start..<i)) }
                let key = start..<eq, value = (eq + 1)..<i
                if credential == nil && isKey(key, "Credential") {
                    credential = text(value)
                } else if signature == nil && isKey(key, "Signature") {
                    signature = text(value)
                } else if signedHeaders == nil && isKey(key, "SignedHeaders") {
                    signedHeaders = text(value)
                }
            }
            return .ok(algorithm ?? "", credential, signature, signedHeaders)
        }
        let algorithm: String
        var credential: String?, signature: String?, signedHeaders: String?
        switch parsed {
        case .equalSignInAlgorithm:
            return .failure(incomplete("Authorization header must begin with the algorithm name, which cannot include an equal-sign"))
        case .noEqualSign(let token):
            return .failure(incomplete(missingEqualSignMessage(token: token, header: header)))
        case .ok(let a, let c, let s, let h):
            algorithm = a
            (credential, signature, signedHeaders) = (c, s, h)
        }
        let xAmzDate = request.firstHeader("X-Amz-Date")
        let httpDate = xAmzDate == nil ? request.firstHeader("Date") : nil
        guard let credential, let signature, let signedHeaders, let rawDate = xAmzDate ?? httpDate else {
            return .failure(incomplete(requiresMessage(
                credential: credential == nil, signature: signature == nil, signedHeaders: signedHeaders == nil,
                date: xAmzDate == nil && httpDate == nil, header: header)))
        }
        return .success(AuthParameters(
            algorithm: algorithm, credential: credential, signedHeaders: signedHeaders,
            signature: signature, rawDate: rawDate, dateIsHTTPDate: xAmzDate == nil,
            expires: nil, sessionToken: request.firstHeader("X-Amz-Security-Token"), presigned: false))
    }

    private static let requiredQueryParameters = [
        "X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature", "X-Amz-SignedHeaders", "X-Amz-Date",
    ]

    private func parseQueryAuthorization(_ query: [SigV4.QueryParameter], _ request: SigV4Request) -> Result<AuthParameters, SigV4Failure> {
        var found: [String: String] = [:]
        var message = ""
        for name in Self.requiredQueryParameters {
            if let value = SigV4.firstQueryValue(query, name), !value.isEmpty {
                found[name] = value
            } else {
                message += "AWS query-string parameters must include '\(name)'. "
            }
        }
        if !message.isEmpty {
            return .failure(incomplete(message + "Re-examine the query-string parameters."))
        }
        return .success(AuthParameters(
            algorithm: found["X-Amz-Algorithm"]!, credential: found["X-Amz-Credential"]!,
            signedHeaders: found["X-Amz-SignedHeaders"]!, signature: found["X-Amz-Signature"]!,
            rawDate: found["X-Amz-Date"]!, dateIsHTTPDate: false,
            expires: SigV4.firstQueryValue(query, "X-Amz-Expires"),
            sessionToken: SigV4.firstQueryValue(query, "X-Amz-Security-Token") ?? request.firstHeader("X-Amz-Security-Token"),
            presigned: true))
    }

    // MARK: - checks

    private func check(_ auth: AuthParameters, _ request: SigV4Request, query: [SigV4.QueryParameter],
                       now: Int64) -> Result<SigV4Verified, SigV4Failure> {
        // The date.
        let parsedDate = auth.dateIsHTTPDate ? AmzDate.parseHTTPDate(auth.rawDate) : AmzDate.parseBasic(auth.rawDate)
        guard let requestTime = parsedDate else {
            return .failure(incomplete(
                "Date must be in ISO-8601 'basic format'. Got '\(auth.rawDate)'. See http://en.wikipedia.org/wiki/ISO_8601"))
        }
        let amzDate = auth.dateIsHTTPDate ? AmzDate.format(requestTime) : auth.rawDate

        // The time window: ±clockSkewSeconds, or X-Amz-Expires seconds after signing for a presigned request.
        var lifetime: Int64? = nil
        if let expires = auth.expires {
            guard let seconds = Int64(expires) else {
                return .failure(incomplete("X-Amz-Expires should be a number"))
            }
            guard seconds >= 1 else {
                return .failure(incomplete("X-Amz-Expires must be greater than 0"))
            }
            guard seconds <= Self.maximumExpires else {
                return .failure(incomplete("X-Amz-Expires must be less than a week (in seconds) that is 604800"))
            }
            lifetime = seconds
        }
        if requestTime > now + clockSkewSeconds {
            return .failure(invalid("Signature not yet current: \(amzDate) is still later than "
                + "\(AmzDate.format(now + clockSkewSeconds)) (\(AmzDate.format(now)) + \(AmzDate.describe(seconds: clockSkewSeconds)).)"))
        }
        let window = lifetime ?? clockSkewSeconds
        if requestTime < now - window {
            return .failure(invalid("Signature expired: \(amzDate) is now earlier than "
                + "\(AmzDate.format(now - window)) (\(AmzDate.format(now)) - \(AmzDate.describe(seconds: window)).)"))
        }

        // `host` must be signed.
        let signedHeaders = asciiSplit(auth.signedHeaders) { $0 == 0x3B }.map(asciiLowercased)
        guard signedHeaders.contains("host") || signedHeaders.contains(":authority") else {
            return .failure(invalid("'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."))
        }

        // The algorithm.
        guard auth.algorithm == SigV4.algorithm else {
            return .failure(incomplete("Unsupported AWS 'algorithm': '\(auth.algorithm)' (only AWS4-HMAC-SHA256 for now). "))
        }

        // The credential: keyid/date/region/service/aws4_request (trailing empty elements ignored).
        var parts = asciiSplit(auth.credential, omittingEmpty: false) { $0 == 0x2F }
        while let last = parts.last, last.isEmpty { parts.removeLast() }
        guard parts.count == 5 else {
            return .failure(incomplete("Credential must have exactly 5 slash-delimited elements, "
                + "e.g. keyid/date/region/service/term, got '\(auth.credential)'"))
        }
        let accessKeyId = String(parts[0]), scopeDate = String(parts[1])
        let scopeRegion = String(parts[2]), scopeService = String(parts[3]), scopeTerminator = String(parts[4])
        var scopeMessage = ""
        if scopeRegion != region {
            scopeMessage += "Credential should be scoped to a valid region. "
        }
        if scopeService != service {
            scopeMessage += "Credential should be scoped to correct service: '\(service)'. "
        }
        if scopeTerminator != SigV4.terminator {
            scopeMessage += "Credential should be scoped with a valid terminator: 'aws4_request', not '\(scopeTerminator)'. "
        }
        let requestDay = String(decoding: amzDate.utf8.prefix(8), as: UTF8.self)
        if scopeDate != requestDay {
            scopeMessage += "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "
                + "'\(scopeDate)' != '\(requestDay)', from '\(amzDate)'. "
        }
        if !scopeMessage.isEmpty { return .failure(invalid(scopeMessage)) }

        // The access key.
        guard let credentials = lookup(accessKeyId) else { return .failure(Self.invalidToken) }

        // The signature.
        let payloadHash = self.payloadHash(request, query: query, presigned: auth.presigned)
        let uri = SigV4.canonicalURIBytes(path: request.path, doubleEncodePath: doubleEncodePath, normalizePath: normalizePath)
        let scope = "\(scopeDate)/\(scopeRegion)/\(scopeService)/\(SigV4.terminator)"
        let key = keyCache.signingKey(accessKeyId: accessKeyId, secretAccessKey: credentials.secretAccessKey,
                                      date: scopeDate, region: scopeRegion, service: scopeService)
        let provided = Array(auth.signature.utf8)

        func attempt(excluding: Set<String>) -> (canonical: [UInt8], stringToSign: [UInt8], matches: Bool) {
            let canonical = SigV4.canonicalRequestBytes(
                method: request.method, uri: uri, query: SigV4.canonicalQueryBytes(query, excluding: excluding),
                headers: request.headers, signedHeaders: signedHeaders, payloadHash: payloadHash)
            let stringToSign = SigV4.stringToSignBytes(amzDate: amzDate, credentialScope: scope, canonicalRequestBytes: canonical)
            let expected = SigV4.signatureBytes(signingKey: key, stringToSign: stringToSign)
            return (canonical, stringToSign, Crypto.constantTimeEquals(expected, provided))
        }

        let first = attempt(excluding: auth.presigned ? ["X-Amz-Signature"] : [])
        var matches = first.matches
        if !matches && auth.presigned && SigV4.firstQueryValue(query, "X-Amz-Security-Token") != nil {
            // Some signers (AWS IoT's, aws-c-auth's `omit_session_token`) append the token after signing.
            matches = attempt(excluding: ["X-Amz-Signature", "X-Amz-Security-Token"]).matches
        }
        guard matches else {
            return .failure(invalid(
                "The request signature we calculated does not match the signature you provided. "
                + "Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
                + "\n\nThe Canonical String for this request should have been\n'"
                + String(decoding: first.canonical, as: UTF8.self)
                + "'\n\nThe String-to-Sign should have been\n'" + String(decoding: first.stringToSign, as: UTF8.self) + "'\n"))
        }

        // The session token: required, and equal, exactly when the credentials have one.
        switch (credentials.sessionToken, auth.sessionToken) {
        case (nil, nil):
            break
        case let (expected?, given?) where Crypto.constantTimeEquals(Array(expected.utf8), Array(given.utf8)):
            break
        default:
            return .failure(Self.invalidToken)
        }

        return .success(SigV4Verified(
            accessKeyId: accessKeyId, signedHeaders: signedHeaders, region: scopeRegion, service: scopeService,
            sessionToken: auth.sessionToken, presigned: auth.presigned, requestTime: requestTime))
    }

    /// The payload hash to verify against: `UNSIGNED-PAYLOAD` when the client declared it in
    /// `x-amz-content-sha256` (or, presigned, `X-Amz-Content-Sha256`), else the body's SHA-256. A declared
    /// hash is never trusted: if it differs from the body's, the signed header line will not match.
    private func payloadHash(_ request: SigV4Request, query: [SigV4.QueryParameter], presigned: Bool) -> String {
        let declared = request.firstHeader("x-amz-content-sha256")
            ?? (presigned ? SigV4.firstQueryValue(query, "X-Amz-Content-Sha256") : nil)
        if declared == SigV4.unsignedPayload { return SigV4.unsignedPayload }
        return SigV4.sha256Hex(request.body)
    }

    // MARK: - messages

    static let invalidToken = SigV4Failure(errorType: SigV4Failure.unrecognizedClient,
                                           message: "The security token included in the request is invalid.")

    private func incomplete(_ message: String) -> SigV4Failure {
        SigV4Failure(errorType: SigV4Failure.incompleteSignature, message: message)
    }

    private func invalid(_ message: String) -> SigV4Failure {
        SigV4Failure(errorType: SigV4Failure.invalidSignature, message: message)
    }

    private func hashedHeader(_ header: String) -> String {
        Base64.encode(Crypto.sha256(Array(header.utf8)))
    }

    private func requiresMessage(credential: Bool, signature: Bool, signedHeaders: Bool, date: Bool, header: String) -> String {
        var message = ""
        if credential { message += "Authorization header requires 'Credential' parameter. " }
        if signature { message += "Authorization header requires 'Signature' parameter. " }
        if signedHeaders { message += "Authorization header requires 'SignedHeaders' parameter. " }
        if date { message += "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. " }
        if hashAuthorizationInMessages {
            return message + "(Hashed with SHA-256 and encoded with Base64) Authorization=" + hashedHeader(header)
        }
        return message + "Authorization=" + header
    }

    private func missingEqualSignMessage(token: String, header: String) -> String {
        if hashAuthorizationInMessages {
            return "Invalid key=value pair (missing equal-sign) in Authorization header "
                + "(hashed with SHA-256 and encoded with Base64): '\(hashedHeader(header))'."
        }
        return "'\(token)' not a valid key=value pair (missing equal-sign) in Authorization header: '\(header)'."
    }
}
