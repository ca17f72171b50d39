
/// A response received from an upstream. Its header lines are kept as they came
/// (`Name: value\r\n` each), so a proxy can pass them on without making strings of them;
/// `headers` makes the strings when asked.
public struct HTTPClientResponse: Sendable {
    public var status: Int
    /// The header lines, each `Name: value\r\n`.
    public var rawHeaders: [UInt8]
    public var body: [UInt8]

    public init(status: Int, rawHeaders: [UInt8], body: [UInt8]) {
        self.status = status
        self.rawHeaders = rawHeaders
        self.body = body
    }

    /// The header fields, parsed from `rawHeaders`.
    public var headers: HTTPHeaders { HTTPHeaders(rawLines: rawHeaders) }
}

extension HTTPHeaders {
    /// Fields from `Name: value\r\n` lines.
    public init(rawLines raw: [UInt8]) {
        self.init()
        var start = 0
        while start < raw.count {
            var end = start
            while end < raw.count && raw[end] != 0x0D && raw[end] != 0x0A { end += 1 }
            let line = raw[start..<end]
            if let colon = line.firstIndex(of: 0x3A) {
                var v = line[(colon + 1)...]
                while let f = v.first, f == 0x20 || f == 0x09 { v = v.dropFirst() }
                add(String(decoding: line[..<colon], as: UTF8.self), String(decoding: v, as: UTF8.self))
            }
            start = end
            while start < raw.count && (raw[start] == 0x0D || raw[start] == 0x0A) { start += 1 }
        }
    }

    /// `Name: value\r\n` lines.
    public var rawLines: [UInt8] {
        .writing(capacity: fieldsSize(self)) { w in
            for i in fields.indices {
                w.write(fields[i].name)
                w.write(": ")
                w.write(fields[i].value)
                w.write("\r\n")
            }
        }
    }
}

/// Why an upstream exchange failed. Each maps to one gateway response in Core.
public enum HTTPClientError: Error, Sendable, Equatable {
    case connectFailed(String)
    case timedOut
    case connectionReset
    case malformedResponse
    case responseTooLarge
}

/// An outgoing request: where it goes and what it carries.
public struct HTTPClientRequest: Sendable {
    public var host: String
    public var port: Int
    public var method: String
    public var target: String
    public var headers: HTTPHeaders
    public var body: [UInt8]
    public var timeoutMillis: UInt64
    /// TLS to the upstream, verified against `host`.
    public var isTLS: Bool

    public init(host: String, port: Int, method: String, target: String, headers: HTTPHeaders,
                body: [UInt8], timeoutMillis: UInt64 = 29_000, isTLS: Bool = false) {
        self.isTLS = isTLS
        self.host = host
        self.port = port
        self.method = method
        self.target = target
        self.headers = headers
        self.body = body
        self.timeoutMillis = timeoutMillis
    }
}
