/// Header fields in wire order. Names compare case-insensitively (RFC 9110 §5.1).
public struct HTTPHeaders: Sendable, Sequence {
    public private(set) var fields: [(name: String, value: String)] = []

    public init() {}

    /// Room for `capacity` fields without regrowing.
    public init(capacity: Int) {
        fields.reserveCapacity(capacity)
    }
    public init(_ fields: [(String, String)]) {
        self.fields = fields.map { (name: $0.0, value: $0.1) }
    }

    public func makeIterator() -> IndexingIterator<[(name: String, value: String)]> { fields.makeIterator() }
    public var count: Int { fields.count }

    /// The first value of `name`, or nil.
    public subscript(name: String) -> String? {
        // By index, lengths first: no field is copied out just to be compared (a retain and a
        // release of two strings each, on every lookup of every request).
        let n = name.utf8.count
        for i in fields.indices where fields[i].name.utf8.count == n && asciiCaseEquals(fields[i].name, name) {
            return fields[i].value
        }
        return nil
    }

    /// Every value of `name`, in order.
    public func values(_ name: String) -> [String] {
        let n = name.utf8.count
        var out: [String] = []
        for i in fields.indices where fields[i].name.utf8.count == n && asciiCaseEquals(fields[i].name, name) {
            out.append(fields[i].value)
        }
        return out
    }

    public func contains(_ name: String) -> Bool { self[name] != nil }

    public mutating func add(_ name: String, _ value: String) {
        fields.append((name: name, value: value))
    }

    /// Replaces every field called `name` with one.
    public mutating func set(_ name: String, _ value: String) {
        remove(name)
        fields.append((name: name, value: value))
    }

    public mutating func remove(_ name: String) {
        fields.removeAll { asciiCaseEquals($0.name, name) }
    }
}

/// ASCII case-insensitive equality, enough for header names and tokens.
public func asciiCaseEquals(_ a: String, _ b: String) -> Bool {
    // Lengths first: most header-name comparisons fail there, in O(1) for native strings.
    guard a.utf8.count == b.utf8.count else { return false }
    // Through the contiguous storage without copying the strings (no retain; `withUTF8` needs
    // mutable copies); a bridged or lazy string is copied to an array first.
    func equal(_ x: UnsafeBufferPointer<UInt8>, _ y: UnsafeBufferPointer<UInt8>) -> Bool {
        for i in 0..<x.count where x[i] != y[i] {
            let lx = (x[i] >= 0x41 && x[i] <= 0x5A) ? x[i] | 0x20 : x[i]
            let ly = (y[i] >= 0x41 && y[i] <= 0x5A) ? y[i] | 0x20 : y[i]
            if lx != ly { return false }
        }
        return true
    }
    return a.utf8.withContiguousStorageIfAvailable { x in
        b.utf8.withContiguousStorageIfAvailable { y in equal(x, y) }
            ?? Array(b.utf8).withUnsafeBufferPointer { equal(x, $0) }
    } ?? Array(a.utf8).withUnsafeBufferPointer { x in
        Array(b.utf8).withUnsafeBufferPointer { equal(x, $0) }
    }
}

/// Whether `bytes`, ASCII-lowercased, spell `lower`, which holds only lowercase letters,
/// digits and `-` (so setting the 0x20 bit of a byte is its lowercase for every byte that can
/// match; a CR, the one other byte that would become `-`, never reaches here in a name or a
/// checked value).
@inline(__always)
public func asciiLowercaseEquals(_ bytes: UnsafeRawBufferPointer, _ lower: StaticString) -> Bool {
    let n = lower.utf8CodeUnitCount
    guard bytes.count == n else { return false }
    let l = lower.utf8Start
    for k in 0..<n where bytes[k] | 0x20 != l[k] { return false }
    return true
}

/// A complete HTTP/1.1 request as received. A class: the pipeline hands it from phase to phase
/// and keeps it for the mappings, and each copy of a struct of seven strings and tables cost a
/// retain and a release per field (perf).
public final class HTTPRequest: Sendable {
    public let method: String
    /// The request-target as sent.
    public let target: String
    /// The path part of the target, still percent-encoded.
    public let path: String
    /// The raw query string after `?`, without it; "" when absent.
    public let query: String
    public let headers: HTTPHeaders
    public let body: [UInt8]
    /// The peer's IP address.
    public let remoteAddress: String
    public let isTLS: Bool

    public init(method: String, target: String, headers: HTTPHeaders, body: [UInt8],
                remoteAddress: String = "", isTLS: Bool = false) {
        self.method = method
        self.target = target
        // Over the target's bytes, the pieces made from byte ranges (cutting at string indices
        // costs index validation per cut): this runs for every request.
        var copy = target
        (path, query) = copy.withUTF8 { t -> (String, String) in
            var start = 0
            // Absolute-form (RFC 9112 §3.2.2): keep only the path and query.
            if t.first != 0x2F, let colon = t.firstIndex(of: 0x3A),
               t.starts(with: "http://".utf8) || t.starts(with: "https://".utf8) {
                var k = colon + 3
                while k < t.count && t[k] != 0x2F && t[k] != 0x3F { k += 1 }
                if k == t.count { return ("/", "") }
                start = k
            }
            var q = start
            while q < t.count && t[q] != 0x3F { q += 1 }
            if start == 0 && q == t.count { return (t.isEmpty ? "/" : target, "") }
            let p = q == start ? "/" : String(decoding: UnsafeBufferPointer(rebasing: t[start..<q]), as: UTF8.self)
            let query = q < t.count ? String(decoding: UnsafeBufferPointer(rebasing: t[(q + 1)...]), as: UTF8.self) : ""
            return (p, query)
        }
        self.headers = headers
        self.body = body
        self.remoteAddress = remoteAddress
        self.isTLS = isTLS
    }
}

/// A response to send. `Content-Length` is always computed from `body` when serialized.
public struct HTTPResponse: Sendable {
    public var status: Int
    public var headers: HTTPHeaders
    /// Header lines written as they are after `headers` (`Name: value\r\n` each): a proxied
    /// upstream's, already filtered. They must not hold the framing headers.
    public var rawHeaderLines: [UInt8] = []
    public var body: [UInt8]

    public init(status: Int, headers: HTTPHeaders = HTTPHeaders(), body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// A JSON body with its content type.
    public static func json(_ status: Int, _ body: String, headers: HTTPHeaders = HTTPHeaders()) -> HTTPResponse {
        var h = headers
        if !h.contains("Content-Type") { h.add("Content-Type", "application/json") }
        return HTTPResponse(status: status, headers: h, body: Array(body.utf8))
    }

    /// Wire form of the response head and body.
    public func serialized(close: Bool, date: String, headOnly: Bool = false) -> [UInt8] {
        let reason = HTTPResponse.reason(status)
        let size = 9 + ByteWriter.maxDecimalBytes + 1 + reason.utf8.count + 2 + fieldsSize(headers) + rawHeaderLines.count
            + 6 + date.utf8.count + 2 + 16 + ByteWriter.maxDecimalBytes + 2 + 24 + 2 + (headOnly ? 0 : body.count)
        return .writing(capacity: size) { w in
            w.write("HTTP/1.1 ")
            w.writeDecimal(status)
            w.write(0x20)
            w.write(reason)
            w.write("\r\n")
            let hasDate = writeFields(headers, to: &w, noting: "Date")
            w.write(rawHeaderLines)
            if !hasDate {
                w.write("Date: ")
                w.write(date)
                w.write("\r\n")
            }
            w.write("Content-Length: ")
            w.writeDecimal(body.count)
            w.write("\r\n")
            w.write(close ? "Connection: close\r\n" : "Connection: keep-alive\r\n")
            w.write("\r\n")
            if !headOnly { w.write(body) }
        }
    }

    public static func reason(_ status: Int) -> String {
        switch status {
        case 100: return "Continue"
        case 200: return "OK"
        case 201: return "Created"
        case 202: return "Accepted"
        case 204: return "No Content"
        case 301: return "Moved Permanently"
        case 302: return "Found"
        case 304: return "Not Modified"
        case 400: return "Bad Request"
        case 401: return "Unauthorized"
        case 403: return "Forbidden"
        case 404: return "Not Found"
        case 405: return "Method Not Allowed"
        case 408: return "Request Timeout"
        case 409: return "Conflict"
        case 411: return "Length Required"
        case 413: return "Request Entity Too Large"
        case 414: return "URI Too Long"
        case 415: return "Unsupported Media Type"
        case 429: return "Too Many Requests"
        case 431: return "Request Header Fields Too Large"
        case 500: return "Internal Server Error"
        case 501: return "Not Implemented"
        case 502: return "Bad Gateway"
        case 503: return "Service Unavailable"
        case 504: return "Gateway Timeout"
        case 505: return "HTTP Version Not Supported"
        default: return "Status"
        }
    }
}

/// The most `writeFields` writes for `headers`.
func fieldsSize(_ headers: HTTPHeaders) -> Int {
    var n = 0
    for i in headers.fields.indices { n += headers.fields[i].name.utf8.count + headers.fields[i].value.utf8.count + 4 }
    return n
}

/// Writes `Name: value\r\n` for each field but the framing ones (`Content-Length`,
/// `Transfer-Encoding`, `Connection`: the writer sets those), with CR, LF and NUL left out of
/// values so that no value can split the message. Returns whether a field called `noting` was
/// among them.
func writeFields(_ headers: HTTPHeaders, to w: inout ByteWriter, noting: String) -> Bool {
    var seen = false
    let fields = headers.fields
    for k in fields.indices {
        let name = fields[k].name
        switch name.utf8.count {
        case 10, 14, 17:
            if asciiCaseEquals(name, "Content-Length") || asciiCaseEquals(name, "Transfer-Encoding")
                || asciiCaseEquals(name, "Connection") { continue }
        default: break
        }
        if asciiCaseEquals(name, noting) { seen = true }
        w.write(name)
        w.write(": ")
        w.writeFieldValue(fields[k].value)
        w.write("\r\n")
    }
    return seen
}

/// Limits on what one request may be. Defaults follow API Gateway's documented quotas:
/// 10 MB payload, 10240 bytes of headers.
public struct HTTPLimits: Sendable {
    public var maxBodyBytes = 10 * 1024 * 1024
    public var maxRequestLineBytes = 8192
    public var maxHeaderBytes = 10240
    public var maxHeaderCount = 200
    /// Milliseconds from a request's first byte until its head is complete.
    public var headerTimeoutMillis: UInt64 = 10_000
    /// Milliseconds an idle keep-alive connection is kept (also the body-progress timeout).
    public var idleTimeoutMillis: UInt64 = 60_000
    /// Requests parsed ahead of their responses before reading pauses.
    public var maxPipelined = 32

    public init() {}
}
