// Value types shared by the signer and the verifier.

/// An AWS key pair, optionally with the session token of temporary credentials.
public struct SigV4Credentials: Sendable, Equatable {
    public var accessKeyId: String
    public var secretAccessKey: String
    public var sessionToken: String?

    public init(accessKeyId: String, secretAccessKey: String, sessionToken: String? = nil) {
        self.accessKeyId = accessKeyId
        self.secretAccessKey = secretAccessKey
        self.sessionToken = sessionToken
    }
}

/// One header line as it appears on the wire: the name in any case, the value as received.
public struct SigV4Header: Sendable, Equatable, Hashable {
    public var name: String
    public var value: String

    public init(name: String, value: String) {
        self.name = name
        self.value = value
    }

    public init(_ name: String, _ value: String) {
        self.init(name: name, value: value)
    }
}

/// A request as received or about to be sent.
///
/// - `path`: the raw path as on the wire (percent-encoded as the client sent it, no query).
/// - `query`: the raw query string without the leading `?` (may be empty).
/// - `headers`: in wire order; names in any case; repeated names allowed.
public struct SigV4Request: Sendable, Equatable {
    public var method: String
    public var path: String
    public var query: String
    public var headers: [SigV4Header]
    public var body: [UInt8]

    public init(method: String, path: String, query: String = "", headers: [SigV4Header] = [], body: [UInt8] = []) {
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.body = body
    }

    /// Same as the main initializer, with headers given as `(name, value)` pairs.
    @_disfavoredOverload
    public init(method: String, path: String, query: String = "", headers: [(name: String, value: String)],
                body: [UInt8] = []) {
        self.init(method: method, path: path, query: query,
                  headers: headers.map { SigV4Header(name: $0.name, value: $0.value) }, body: body)
    }

    /// Every value of the header `name` (ASCII case-insensitive), in wire order.
    public func headerValues(_ name: String) -> [String] {
        headers.filter { asciiCaseInsensitiveEquals($0.name, name) }.map(\.value)
    }

    /// The first value of the header `name` (ASCII case-insensitive), if any.
    public func firstHeader(_ name: String) -> String? {
        // By index, lengths first: no header is copied out just to be compared.
        let n = name.utf8.count
        for i in headers.indices where headers[i].name.utf8.count == n && asciiCaseInsensitiveEquals(headers[i].name, name) {
            return headers[i].value
        }
        return nil
    }

    /// Removes every header called `name` (ASCII case-insensitive).
    public mutating func removeHeaders(named name: String) {
        headers.removeAll { asciiCaseInsensitiveEquals($0.name, name) }
    }
}

/// What a successful verification established.
public struct SigV4Verified: Sendable, Equatable {
    public var accessKeyId: String
    /// The names from `SignedHeaders` (or `X-Amz-SignedHeaders`), lowercased, in the order given.
    public var signedHeaders: [String]
    public var region: String
    public var service: String
    /// The session token the request carried, if any.
    public var sessionToken: String?
    /// True when the request was authenticated by query parameters (a presigned URL).
    public var presigned: Bool
    /// The request's signing time, epoch seconds.
    public var requestTime: Int64

    public init(accessKeyId: String, signedHeaders: [String], region: String, service: String,
                sessionToken: String?, presigned: Bool = false, requestTime: Int64 = 0) {
        self.accessKeyId = accessKeyId
        self.signedHeaders = signedHeaders
        self.region = region
        self.service = service
        self.sessionToken = sessionToken
        self.presigned = presigned
        self.requestTime = requestTime
    }
}

/// A rejected request, described the way API Gateway describes it.
public struct SigV4Failure: Error, Sendable, Equatable, CustomStringConvertible {
    /// The `x-amzn-ErrorType` value, e.g. `InvalidSignatureException`.
    public var errorType: String
    /// The message, exactly as AWS words it; goes into `{"message": ...}`.
    public var message: String
    /// The HTTP status: 403 in every API Gateway case.
    public var status: Int

    public init(errorType: String, message: String, status: Int = 403) {
        self.errorType = errorType
        self.message = message
        self.status = status
    }

    public var description: String { "\(status) \(errorType): \(message)" }

    public static let incompleteSignature = "IncompleteSignatureException"
    public static let invalidSignature = "InvalidSignatureException"
    public static let unrecognizedClient = "UnrecognizedClientException"
    public static let missingAuthenticationToken = "MissingAuthenticationTokenException"

    /// The answer API Gateway gives a request that carries no signature at all on a route that needs one.
    public static let missingAuthentication = SigV4Failure(
        errorType: missingAuthenticationToken, message: "Missing Authentication Token")
}

/// The outcome of `SigV4Verifier.verify`.
public enum SigV4Result: Sendable, Equatable {
    /// Neither an `Authorization` header nor query-string authentication was present.
    case notSigned
    case verified(SigV4Verified)
    case failed(SigV4Failure)
}

/// What the signer computed, for tests and debugging.
public struct SigV4SigningDetails: Sendable, Equatable {
    public var canonicalRequest: String
    public var stringToSign: String
    public var signature: String
    /// Lowercased, sorted.
    public var signedHeaders: [String]
    /// `YYYYMMDDTHHMMSSZ`.
    public var amzDate: String
    /// `YYYYMMDD/region/service/aws4_request`.
    public var credentialScope: String
}

/// The result of presigning: the query parameters to append, plus what was computed.
public struct SigV4Presigned: Sendable, Equatable {
    /// The parameters to append to the request's query (no leading `?` or `&`).
    public var query: String
    public var details: SigV4SigningDetails
}

// MARK: - small ASCII helpers used across the module

@inline(__always)
func asciiLower(_ b: UInt8) -> UInt8 {
    (b >= 0x41 && b <= 0x5A) ? b | 0x20 : b
}

func asciiLowercased(_ s: String) -> String {
    // Signed header names are nearly always lowercase already: check before copying.
    if !s.utf8.contains(where: { $0 >= 0x41 && $0 <= 0x5A }) { return s }
    var bytes = Array(s.utf8)
    var changed = false
    for i in bytes.indices where bytes[i] >= 0x41 && bytes[i] <= 0x5A {
        bytes[i] |= 0x20
        changed = true
    }
    return changed ? String(decoding: bytes, as: UTF8.self) : s
}


/// Splits `s` at ASCII separator bytes (fast: no grapheme breaking). Separators are ASCII, so every
/// piece boundary is a scalar boundary.
func asciiSplit(_ s: String, omittingEmpty: Bool = true, isSeparator: (UInt8) -> Bool) -> [String] {
    // Pieces are made straight from byte ranges of the contiguous UTF-8: cutting substrings at
    // string indices instead cost index validation and scalar alignment per cut (callgrind:
    // three splits were 11,000 instructions of a signed request). A piece of up to 15 bytes
    // is a small string, stored in line.
    var copy = s
    return copy.withUTF8 { u in
        var pieces: [String] = []
        var start = 0
        func cut(_ end: Int) {
            if !omittingEmpty || start != end {
                pieces.append(String(decoding: UnsafeBufferPointer(rebasing: u[start..<end]), as: UTF8.self))
            }
        }
        for i in 0..<u.count where isSeparator(u[i]) {
            cut(i)
            start = i + 1
        }
        cut(u.count)
        return pieces
    }
}

func asciiCaseInsensitiveEquals(_ a: String, _ b: String) -> Bool {
    guard a.utf8.count == b.utf8.count else { return false }
    // Over the contiguous storage, without the copies `withUTF8` needs (a retain each).
    func equal(_ x: UnsafeBufferPointer<UInt8>, _ y: UnsafeBufferPointer<UInt8>) -> Bool {
        for i in 0..<x.count where x[i] != y[i] && asciiLower(x[i]) != asciiLower(y[i]) { return false }
        return true
    }
    return a.utf8.withContiguousStorageIfAvailable { x in
        b.utf8.withContiguousStorageIfAvailable { y in equal(x, y) }
            ?? Array(b.utf8).withUnsafeBufferPointer { equal(x, $0) }
    } ?? Array(a.utf8).withUnsafeBufferPointer { x in
        Array(b.utf8).withUnsafeBufferPointer { equal(x, $0) }
    }
}

