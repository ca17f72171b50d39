// The pieces of AWS Signature Version 4: canonical request, string to sign, signing key.

/// SigV4 building blocks, exposed for the signer, the verifier, tests and error bodies.
public enum SigV4 {
    public static let algorithm = "AWS4-HMAC-SHA256"
    public static let unsignedPayload = "UNSIGNED-PAYLOAD"
    public static let terminator = "aws4_request"
    /// Hex SHA-256 of the empty string.
    public static let emptyPayloadHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

    // MARK: hashing

    /// Hex SHA-256.
    public static func sha256Hex(_ bytes: [UInt8]) -> String {
        Hex.encode(Crypto.sha256(bytes))
    }

    public static func hmacSHA256(key: [UInt8], data: [UInt8]) -> [UInt8] {
        Crypto.hmacSHA256(key: key, data: data)
    }

    /// kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request").
    public static func signingKey(secretAccessKey: String, date: String, region: String, service: String) -> [UInt8] {
        let kDate = Crypto.hmacSHA256(key: Array(("AWS4" + secretAccessKey).utf8), data: Array(date.utf8))
        let kRegion = Crypto.hmacSHA256(key: kDate, data: Array(region.utf8))
        let kService = Crypto.hmacSHA256(key: kRegion, data: Array(service.utf8))
        return Crypto.hmacSHA256(key: kService, data: Array(terminator.utf8))
    }

    /// Hex HMAC-SHA256 of the string to sign under the signing key.
    public static func signature(signingKey: [UInt8], stringToSign: String) -> String {
        Hex.encode(Crypto.hmacSHA256(key: signingKey, data: Array(stringToSign.utf8)))
    }

    /// `YYYYMMDDTHHMMSSZ` for epoch seconds.
    public static func amzDate(_ epochSeconds: Int64) -> String {
        AmzDate.format(epochSeconds)
    }

    /// Parses `YYYYMMDDTHHMMSSZ` into epoch seconds.
    public static func parseAmzDate(_ s: String) -> Int64? {
        AmzDate.parseBasic(s)
    }

    /// Parses an RFC 1123 HTTP date (`Sun, 30 Aug 2015 12:36:00 GMT`) into epoch seconds.
    public static func parseHTTPDate(_ s: String) -> Int64? {
        AmzDate.parseHTTPDate(s)
    }

    // MARK: encoding

    /// RFC 3986's unreserved characters: ALPHA, DIGIT, `-`, `.`, `_`, `~` (also what API
    /// Gateway's parameter encoding keeps).
    @inlinable
    public static func isUnreserved(_ b: UInt8) -> Bool {
        (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || (b >= 0x30 && b <= 0x39)
            || b == 0x2D || b == 0x2E || b == 0x5F || b == 0x7E
    }

    private static let upperHex: [UInt8] = Array("0123456789ABCDEF".utf8)

    static func appendEncoded(_ bytes: some Sequence<UInt8>, keepSlash: Bool, to out: inout [UInt8]) {
        for b in bytes {
            if isUnreserved(b) || (keepSlash && b == 0x2F) {
                out.append(b)
            } else {
                out.append(0x25)
                out.append(upperHex[Int(b >> 4)])
                out.append(upperHex[Int(b & 0x0F)])
            }
        }
    }

    /// AWS's strict URI encoding: everything but `A-Z a-z 0-9 - _ . ~` becomes `%XX` (upper-case hex);
    /// `/` is kept when `encodeSlash` is false.
    public static func uriEncode(_ s: String, encodeSlash: Bool = true) -> String {
        var out = [UInt8]()
        out.reserveCapacity(s.utf8.count)
        appendEncoded(s.utf8, keepSlash: !encodeSlash, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    @inline(__always)
    private static func hexValue(_ b: UInt8) -> UInt8? {
        switch b {
        case 0x30...0x39: return b - 0x30
        case 0x41...0x46: return b - 0x41 + 10
        case 0x61...0x66: return b - 0x61 + 10
        default: return nil
        }
    }

    /// Decodes `%XX` escapes; a `%` not followed by two hex digits stays literal; `+` stays `+`.
    static func percentDecode(_ bytes: ArraySlice<UInt8>) -> [UInt8] {
        guard bytes.contains(0x25) else { return Array(bytes) }
        var out = [UInt8]()
        out.reserveCapacity(bytes.count)
        var i = bytes.startIndex
        while i < bytes.endIndex {
            let b = bytes[i]
            if b == 0x25, i + 2 < bytes.endIndex, let hi = hexValue(bytes[i + 1]), let lo = hexValue(bytes[i + 2]) {
                out.append(hi << 4 | lo)
                i += 3
            } else {
                out.append(b)
                i += 1
            }
        }
        return out
    }

    /// Decodes `%XX` escapes of a query component (`+` is left alone).
    public static func percentDecode(_ s: String) -> String {
        String(decoding: percentDecode(Array(s.utf8)[...]), as: UTF8.self)
    }

    // MARK: canonical URI

    /// Removes `.` and `..` segments and collapses repeated slashes; keeps a trailing slash.
    static func normalizePath(_ path: [UInt8]) -> [UInt8] {
        if path.isEmpty { return [0x2F] }
        // Already normal (the usual case): starts with `/`, no empty, `.` or `..` segment.
        if path[0] == 0x2F {
            var normal = true
            var segmentStart = 1
            for i in 1...path.count {
                guard i == path.count || path[i] == 0x2F else { continue }
                let length = i - segmentStart
                if (length == 0 && i != path.count)
                    || (length == 1 && path[segmentStart] == 0x2E)
                    || (length == 2 && path[segmentStart] == 0x2E && path[segmentStart + 1] == 0x2E) {
                    normal = false
                    break
                }
                segmentStart = i + 1
            }
            if normal { return path }
        }
        var segments: [ArraySlice<UInt8>] = []
        for segment in path.split(separator: 0x2F, omittingEmptySubsequences: true) {
            if segment.count == 1 && segment.first == 0x2E { continue }
            if segment.count == 2 && segment.first == 0x2E && segment.last == 0x2E {
                if !segments.isEmpty { segments.removeLast() }
                continue
            }
            segments.append(segment)
        }
        var out: [UInt8] = [0x2F]
        for (i, segment) in segments.enumerated() {
            if i > 0 { out.append(0x2F) }
            out.append(contentsOf: segment)
        }
        if path.last == 0x2F && !segments.isEmpty { out.append(0x2F) }
        return out
    }

    /// The canonical URI: optionally normalized, then either URI-encoded once more as sent
    /// (`doubleEncodePath`, every service but S3: `%` becomes `%25`) or decoded and encoded once (S3).
    public static func canonicalURI(path: String, doubleEncodePath: Bool, normalizePath normalize: Bool) -> String {
        String(decoding: canonicalURIBytes(path: path, doubleEncodePath: doubleEncodePath, normalizePath: normalize),
               as: UTF8.self)
    }

    static func canonicalURIBytes(path: String, doubleEncodePath: Bool, normalizePath normalize: Bool) -> [UInt8] {
        var p = Array(path.utf8)
        if p.isEmpty { p = [0x2F] }
        if normalize { p = normalizePath(p) }
        var out = [UInt8]()
        out.reserveCapacity(p.count + 8)
        if doubleEncodePath {
            appendEncoded(p, keepSlash: true, to: &out)
        } else {
            appendEncoded(percentDecode(p[...]), keepSlash: true, to: &out)
        }
        return out
    }

    // MARK: canonical query

    /// One decoded query parameter.
    struct QueryParameter {
        var name: [UInt8]
        var value: [UInt8]
    }

    /// Splits a raw query string on `&` and the first `=`, decoding both sides; empty pieces are skipped.
    static func parseQuery(_ query: String) -> [QueryParameter] {
        let bytes = Array(query.utf8)
        var result: [QueryParameter] = []
        for piece in bytes.split(separator: 0x26, omittingEmptySubsequences: true) {
            if let eq = piece.firstIndex(of: 0x3D) {
                result.append(QueryParameter(name: percentDecode(piece[piece.startIndex..<eq]),
                                             value: percentDecode(piece[(eq + 1)...])))
            } else {
                result.append(QueryParameter(name: percentDecode(piece), value: []))
            }
        }
        return result
    }

    /// The decoded value of the first query parameter called exactly `name`, if any.
    static func firstQueryValue(_ parameters: [QueryParameter], _ name: String) -> String? {
        let wanted = Array(name.utf8)
        guard let p = parameters.first(where: { $0.name == wanted }) else { return nil }
        return String(decoding: p.value, as: UTF8.self)
    }

    static func canonicalQueryBytes(_ parameters: [QueryParameter], excluding: Set<String>) -> [UInt8] {
        let excluded = excluding.map { Array($0.utf8) }
        var encoded: [(name: [UInt8], value: [UInt8])] = []
        encoded.reserveCapacity(parameters.count)
        for p in parameters where !excluded.contains(p.name) {
            var n = [UInt8](), v = [UInt8]()
            appendEncoded(p.name, keepSlash: false, to: &n)
            appendEncoded(p.value, keepSlash: false, to: &v)
            encoded.append((n, v))
        }
        encoded.sort { a, b in
            if a.name != b.name { return a.name.lexicographicallyPrecedes(b.name) }
            return a.value.lexicographicallyPrecedes(b.value)
        }
        var out = [UInt8]()
        for (i, p) in encoded.enumerated() {
            if i > 0 { out.append(0x26) }
            out.append(contentsOf: p.name)
            out.append(0x3D)
            out.append(contentsOf: p.value)
        }
        return out
    }

    /// The canonical query string: every parameter decoded and re-encoded strictly (space is `%20`),
    /// sorted by name then value, `name=value` joined with `&`; a parameter without `=` becomes `name=`.
    /// Parameters whose decoded name is in `excluding` are left out.
    public static func canonicalQueryString(_ query: String, excluding: Set<String> = []) -> String {
        String(decoding: canonicalQueryBytes(parseQuery(query), excluding: excluding), as: UTF8.self)
    }

    // MARK: canonical headers

    /// Trims a header value and collapses each inner run of whitespace to one space.
    static func appendNormalizedValue(_ value: String, to out: inout [UInt8]) {
        var v = value
        v.withUTF8 { bytes in
            // Most values have no whitespace to trim or fold: copy them at once.
            func isSpace(_ b: UInt8) -> Bool { b == 0x20 || b == 0x09 || b == 0x0A || b == 0x0D }
            var plain = !bytes.isEmpty && !isSpace(bytes[0]) && !isSpace(bytes[bytes.count - 1])
            if plain {
                for i in 1..<bytes.count where isSpace(bytes[i]) && (bytes[i] != 0x20 || isSpace(bytes[i - 1])) {
                    plain = false
                    break
                }
            }
            if plain {
                out.append(contentsOf: bytes)
                return
            }
            var pendingSpace = false
            var wroteAny = false
            for b in bytes {
                if isSpace(b) {
                    pendingSpace = wroteAny
                } else {
                    if pendingSpace { out.append(0x20) }
                    pendingSpace = false
                    out.append(b)
                    wroteAny = true
                }
            }
        }
    }

    /// The canonical header lines (`name:value\n` each) for `signedHeaders`, in the order given.
    /// A repeated header's values are joined with `,` in wire order; a signed header the request
    /// lacks is written with an empty value.
    static func canonicalHeaderBytes(_ headers: [SigV4Header], signedHeaders: [String]) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(64 * signedHeaders.count)
        for name in signedHeaders {
            out.append(contentsOf: name.utf8)
            out.append(0x3A)
            var first = true
            let n = name.utf8.count
            for i in headers.indices where headers[i].name.utf8.count == n && asciiCaseInsensitiveEquals(headers[i].name, name) {
                if !first { out.append(0x2C) }
                first = false
                appendNormalizedValue(headers[i].value, to: &out)
            }
            out.append(0x0A)
        }
        return out
    }

    /// The canonical header block, for tests: `name:value\n` for each signed header.
    public static func canonicalHeaders(_ request: SigV4Request, signedHeaders: [String]) -> String {
        String(decoding: canonicalHeaderBytes(request.headers, signedHeaders: signedHeaders.map(asciiLowercased)),
               as: UTF8.self)
    }

    // MARK: canonical request, string to sign

    static func canonicalRequestBytes(method: String, uri: [UInt8], query: [UInt8], headers: [SigV4Header],
                                      signedHeaders: [String], payloadHash: String) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(256 + uri.count + query.count)
        out.append(contentsOf: method.utf8)
        out.append(0x0A)
        out.append(contentsOf: uri)
        out.append(0x0A)
        out.append(contentsOf: query)
        out.append(0x0A)
        out.append(contentsOf: canonicalHeaderBytes(headers, signedHeaders: signedHeaders))
        out.append(0x0A)
        for (i, name) in signedHeaders.enumerated() {
            if i > 0 { out.append(0x3B) }
            out.append(contentsOf: name.utf8)
        }
        out.append(0x0A)
        out.append(contentsOf: payloadHash.utf8)
        return out
    }

    /// The canonical request, exactly as hashed into the string to sign.
    ///
    /// `signedHeaders` are lowercased and used in the order given (callers pass them sorted).
    /// Query parameters named in `excludingQueryParameters` (decoded names, e.g. `X-Amz-Signature`)
    /// are left out of the canonical query string.
    public static func canonicalRequest(_ r: SigV4Request, signedHeaders: [String], payloadHash: String,
                                        doubleEncodePath: Bool, normalizePath: Bool,
                                        excludingQueryParameters: Set<String> = []) -> String {
        let bytes = canonicalRequestBytes(
            method: r.method,
            uri: canonicalURIBytes(path: r.path, doubleEncodePath: doubleEncodePath, normalizePath: normalizePath),
            query: canonicalQueryBytes(parseQuery(r.query), excluding: excludingQueryParameters),
            headers: r.headers, signedHeaders: signedHeaders.map(asciiLowercased), payloadHash: payloadHash)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// `YYYYMMDD/region/service/aws4_request`.
    public static func credentialScope(amzDate: String, region: String, service: String) -> String {
        "\(amzDate.prefix(8))/\(region)/\(service)/\(terminator)"
    }

    /// `AWS4-HMAC-SHA256\n<amzDate>\n<scope>\n<hex sha256 of the canonical request>`.
    public static func stringToSign(amzDate: String, credentialScope: String, canonicalRequest: String) -> String {
        stringToSign(amzDate: amzDate, credentialScope: credentialScope, canonicalRequestBytes: Array(canonicalRequest.utf8))
    }

    /// The string to sign as bytes, and the lowercase hex signature of it, without making strings
    /// (the verifier's path: strings are made only for a mismatch's message).
    static func stringToSignBytes(amzDate: String, credentialScope: String, canonicalRequestBytes: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(128)
        out.append(contentsOf: algorithm.utf8)
        out.append(0x0A)
        out.append(contentsOf: amzDate.utf8)
        out.append(0x0A)
        out.append(contentsOf: credentialScope.utf8)
        out.append(0x0A)
        for b in Crypto.sha256(canonicalRequestBytes) { Hex.append(b, to: &out) }
        return out
    }

    static func signatureBytes(signingKey: [UInt8], stringToSign: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(64)
        for b in Crypto.hmacSHA256(key: signingKey, data: stringToSign) { Hex.append(b, to: &out) }
        return out
    }

    static func stringToSign(amzDate: String, credentialScope: String, canonicalRequestBytes: [UInt8]) -> String {
        "\(algorithm)\n\(amzDate)\n\(credentialScope)\n\(Hex.encode(Crypto.sha256(canonicalRequestBytes)))"
    }
}
