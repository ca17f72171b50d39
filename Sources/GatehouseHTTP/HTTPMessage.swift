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
    // mutable copies); a bridged or lazy string takes the element-wise path.
    return a.utf8.withContiguousStorageIfAvailable { x in
        b.utf8.withContiguousStorageIfAvailable { y in asciiCaseEquals(x, y) }
            ?? asciiCaseEquals(x, Array(b.utf8))
    } ?? (b.utf8.withContiguousStorageIfAvailable { y in asciiCaseEquals(Array(a.utf8), y) }
          ?? asciiCaseEquals(Array(a.utf8), Array(b.utf8)))
}

@inline(__always)
private func asciiCaseEquals<X: Collection<UInt8>, Y: Collection<UInt8>>(_ x: X, _ y: Y) -> Bool
where X.Index == Int, Y.Index == Int {
    var i = x.startIndex, j = y.startIndex
    while i < x.endIndex {
        let cx = x[i], cy = y[j]
        if cx != cy {
            let lx = (cx >= 0x41 && cx <= 0x5A) ? cx | 0x20 : cx
            let ly = (cy >= 0x41 && cy <= 0x5A) ? cy | 0x20 : cy
            if lx != ly { return false }
        }
        i += 1
        j += 1
    }
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
        // Byte-wise (UTF-8 view) rather than by Character: this runs for every request.
        var t = Substring(target)
        // Absolute-form (RFC 9112 §3.2.2): keep only the path and query.
        if t.utf8.first != 0x2F && (t.utf8.starts(with: "http://".utf8) || t.utf8.starts(with: "https://".utf8)) {
            let colon = t.utf8.firstIndex(of: 0x3A)!
            let afterScheme = t[t.utf8.index(colon, offsetBy: 3)...]
            t = afterScheme.utf8.firstIndex(where: { $0 == 0x2F || $0 == 0x3F }).map { afterScheme[$0...] } ?? "/"
        }
        var p: String
        if let q = t.utf8.firstIndex(of: 0x3F) {
            p = String(t[..<q])
            query = String(t[t.utf8.index(after: q)...])
        } else {
            p = t.endIndex == target.endIndex && t.startIndex == target.startIndex ? target : String(t)
            query = ""
        }
        if p.isEmpty { p = "/" }
        path = p
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
        var out: [UInt8] = []
        // Room for the status line, the framing headers and the Date (about 120 bytes), so
        // the buffer is allocated once.
        var headerBytes = rawHeaderLines.count + 160
        for f in headers.fields { headerBytes += f.name.utf8.count + f.value.utf8.count + 4 }
        out.reserveCapacity(headerBytes + (headOnly ? 0 : body.count))
        appendASCII("HTTP/1.1 ", to: &out)
        appendDecimal(status, to: &out)
        out.append(0x20)
        appendUTF8(HTTPResponse.reason(status), to: &out)
        appendASCII("\r\n", to: &out)
        let hasDate = appendFields(headers, to: &out, noting: "Date")
        out.append(contentsOf: rawHeaderLines)
        if !hasDate {
            appendASCII("Date: ", to: &out)
            appendUTF8(date, to: &out)
            appendASCII("\r\n", to: &out)
        }
        appendASCII("Content-Length: ", to: &out)
        appendDecimal(body.count, to: &out)
        appendASCII("\r\n", to: &out)
        if close { appendASCII("Connection: close\r\n", to: &out) }
        else { appendASCII("Connection: keep-alive\r\n", to: &out) }
        appendASCII("\r\n", to: &out)
        if !headOnly { out.append(contentsOf: body) }
        return out
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

/// Appends a string's UTF-8 bytes in one copy (`append(contentsOf: s.utf8)` goes element by
/// element through the generic sequence path).
@inline(__always)
func appendUTF8(_ s: String, to out: inout [UInt8]) {
    if s.utf8.withContiguousStorageIfAvailable({ out.append(contentsOf: $0) }) == nil {
        out.append(contentsOf: Array(s.utf8))
    }
}

/// Appends a literal's bytes straight from the binary (no String, no reference counting:
/// the generic `append(contentsOf: "…".utf8)` retains and walks the literal per call).
@inline(__always)
public func appendASCII(_ s: StaticString, to out: inout [UInt8]) {
    s.withUTF8Buffer { out.append(contentsOf: $0) }
}

/// Writes `Name: value\r\n` for each field but the framing ones (`Content-Length`,
/// `Transfer-Encoding`, `Connection`: the writer sets those), with CR, LF and NUL left out of
/// values so that no value can split the message. Returns whether a field called `noting` was
/// among them.
func appendFields(_ headers: HTTPHeaders, to out: inout [UInt8], noting: String) -> Bool {
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
        appendUTF8(name, to: &out)
        appendASCII(": ", to: &out)
        let value = fields[k].value
        let clean = value.utf8.allSatisfy { $0 != 0x0D && $0 != 0x0A && $0 != 0 }
        if clean {
            appendUTF8(value, to: &out)
        } else {
            for c in value.utf8 where c != 0x0D && c != 0x0A && c != 0 { out.append(c) }
        }
        appendASCII("\r\n", to: &out)
    }
    return seen
}

/// Appends the decimal digits of a non-negative `n`.
func appendDecimal(_ n: Int, to out: inout [UInt8]) {
    if n < 10 { out.append(UInt8(48 + n)); return }
    var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
        (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
    var v = n
    var count = 0
    withUnsafeMutableBytes(of: &digits) { d in
        while v > 0 && count < 20 {
            d[count] = UInt8(48 + v % 10)
            v /= 10
            count += 1
        }
        for i in stride(from: count - 1, through: 0, by: -1) { out.append(d[i]) }
    }
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
