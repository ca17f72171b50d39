// Signing outgoing requests: the Authorization-header form and the presigned query form.

/// Signs requests as botocore does for `service` in `region`.
public struct SigV4Signer: Sendable {
    public var credentials: SigV4Credentials
    public var region: String
    public var service: String
    /// Encode the (already encoded) path a second time; true for every service but S3.
    public var doubleEncodePath: Bool
    /// Remove dot segments and repeated slashes from the path; true for every service but S3.
    public var normalizePath: Bool

    /// Headers never signed: hop-by-hop headers a proxy may rewrite, and those SDKs leave out.
    static let unsignedHeaders: Set<String> = [
        "authorization", "user-agent", "x-amzn-trace-id", "expect", "connection", "keep-alive",
        "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade",
    ]

    public init(credentials: SigV4Credentials, region: String, service: String,
                doubleEncodePath: Bool? = nil, normalizePath: Bool? = nil) {
        self.credentials = credentials
        self.region = region
        self.service = service
        self.doubleEncodePath = doubleEncodePath ?? (service != "s3")
        self.normalizePath = normalizePath ?? (service != "s3")
    }

    /// Signs `request` in place: adds `X-Amz-Security-Token` (when the credentials have a token),
    /// `X-Amz-Date`, optionally `x-amz-content-sha256`, and `Authorization`, replacing earlier ones.
    ///
    /// The `Host` header must already be in `request.headers` (it is signed like any other header;
    /// without it the request will not verify). `date` is epoch seconds.
    ///
    /// - Parameters:
    ///   - signBody: hash the body into the signature; if false the payload hash is `UNSIGNED-PAYLOAD`.
    ///     A `x-amz-content-sha256` header already on the request wins over both.
    ///   - addContentSHA256Header: also send the payload hash as `x-amz-content-sha256` (signed).
    ///   - signSessionToken: sign `X-Amz-Security-Token` (true, as SDKs do); if false the token is
    ///     added after signing, unsigned.
    @discardableResult
    public func sign(_ request: inout SigV4Request, date: Int64, signBody: Bool = true,
                     addContentSHA256Header: Bool = false, signSessionToken: Bool = true) -> SigV4SigningDetails {
        let amzDate = AmzDate.format(date)
        let scope = SigV4.credentialScope(amzDate: amzDate, region: region, service: service)

        request.removeHeaders(named: "Authorization")
        request.removeHeaders(named: "X-Amz-Date")
        if credentials.sessionToken != nil { request.removeHeaders(named: "X-Amz-Security-Token") }
        if addContentSHA256Header { request.removeHeaders(named: "x-amz-content-sha256") }

        let bodyHash = signBody ? SigV4.sha256Hex(request.body) : SigV4.unsignedPayload
        let payloadHash = request.firstHeader("x-amz-content-sha256") ?? bodyHash

        if let token = credentials.sessionToken {
            request.headers.append(SigV4Header(name: "X-Amz-Security-Token", value: token))
        }
        request.headers.append(SigV4Header(name: "X-Amz-Date", value: amzDate))
        if addContentSHA256Header {
            request.headers.append(SigV4Header(name: "x-amz-content-sha256", value: payloadHash))
        }

        var excluded = Self.unsignedHeaders
        if !signSessionToken { excluded.insert("x-amz-security-token") }
        let signedHeaders = Self.headerNamesToSign(request.headers, excluding: excluded)

        let details = compute(request, query: SigV4.parseQuery(request.query), signedHeaders: signedHeaders,
                              payloadHash: payloadHash, amzDate: amzDate, scope: scope)
        let authorization = "\(SigV4.algorithm) Credential=\(credentials.accessKeyId)/\(scope), "
            + "SignedHeaders=\(signedHeaders.joined(separator: ";")), Signature=\(details.signature)"
        request.headers.append(SigV4Header(name: "Authorization", value: authorization))
        return details
    }

    /// Presigns `request` for `expires` seconds (1...604800) from `date` (epoch seconds).
    ///
    /// Returns the query parameters to append to the request's query string — `X-Amz-Algorithm`,
    /// `X-Amz-Credential`, `X-Amz-Date`, `X-Amz-SignedHeaders`, `X-Amz-Expires`, `X-Amz-Security-Token`
    /// (with temporary credentials) and `X-Amz-Signature` — encoded, joined with `&`, without a
    /// leading `&`: append it as `query.isEmpty ? p : query + "&" + p`.
    /// Every header present (except hop-by-hop ones) is signed; the payload hash is the body's SHA-256.
    public func presign(_ request: SigV4Request, date: Int64, expires: Int, signSessionToken: Bool = true) -> String {
        presignWithDetails(request, date: date, expires: expires, signSessionToken: signSessionToken).query
    }

    /// `presign`, also returning the canonical request, string to sign and signature.
    public func presignWithDetails(_ request: SigV4Request, date: Int64, expires: Int,
                                   signSessionToken: Bool = true) -> SigV4Presigned {
        let amzDate = AmzDate.format(date)
        let scope = SigV4.credentialScope(amzDate: amzDate, region: region, service: service)
        let signedHeaders = Self.headerNamesToSign(request.headers, excluding: Self.unsignedHeaders)

        var authParameters: [(String, String)] = [
            ("X-Amz-Algorithm", SigV4.algorithm),
            ("X-Amz-Credential", "\(credentials.accessKeyId)/\(scope)"),
            ("X-Amz-Date", amzDate),
            ("X-Amz-SignedHeaders", signedHeaders.joined(separator: ";")),
            ("X-Amz-Expires", String(expires)),
        ]
        if let token = credentials.sessionToken, signSessionToken {
            authParameters.append(("X-Amz-Security-Token", token))
        }
        var appended = authParameters.map { "\($0.0)=\(SigV4.uriEncode($0.1))" }.joined(separator: "&")
        let signedQuery = request.query.isEmpty ? appended : request.query + "&" + appended

        let payloadHash = request.firstHeader("x-amz-content-sha256") ?? SigV4.sha256Hex(request.body)
        let details = compute(request, query: SigV4.parseQuery(signedQuery), signedHeaders: signedHeaders,
                              payloadHash: payloadHash, amzDate: amzDate, scope: scope)

        if let token = credentials.sessionToken, !signSessionToken {
            appended += "&X-Amz-Security-Token=" + SigV4.uriEncode(token)
        }
        appended += "&X-Amz-Signature=" + details.signature
        return SigV4Presigned(query: appended, details: details)
    }

    // MARK: private

    /// Unique lowercased header names, sorted, minus `excluding`.
    static func headerNamesToSign(_ headers: [SigV4Header], excluding: Set<String>) -> [String] {
        var names = Set<String>()
        for h in headers {
            let name = asciiLowercased(h.name)
            if !excluding.contains(name) { names.insert(name) }
        }
        return names.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
    }

    private func compute(_ request: SigV4Request, query: [SigV4.QueryParameter], signedHeaders: [String],
                         payloadHash: String, amzDate: String, scope: String) -> SigV4SigningDetails {
        let canonical = SigV4.canonicalRequestBytes(
            method: request.method,
            uri: SigV4.canonicalURIBytes(path: request.path, doubleEncodePath: doubleEncodePath, normalizePath: normalizePath),
            query: SigV4.canonicalQueryBytes(query, excluding: []),
            headers: request.headers, signedHeaders: signedHeaders, payloadHash: payloadHash)
        let stringToSign = SigV4.stringToSign(amzDate: amzDate, credentialScope: scope, canonicalRequestBytes: canonical)
        let key = SigV4.signingKey(secretAccessKey: credentials.secretAccessKey, date: String(amzDate.prefix(8)),
                                   region: region, service: service)
        return SigV4SigningDetails(
            canonicalRequest: String(decoding: canonical, as: UTF8.self), stringToSign: stringToSign,
            signature: SigV4.signature(signingKey: key, stringToSign: stringToSign),
            signedHeaders: signedHeaders, amzDate: amzDate, credentialScope: scope)
    }
}
