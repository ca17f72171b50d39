/// Why a request was refused while it was being read. Each maps to one status; the
/// connection answers it and closes, since the byte stream can no longer be trusted.
public enum HTTPParseError: Error, Sendable, Equatable {
    case badRequest(String)
    /// 413: declared or received body over the limit.
    case bodyTooLarge
    /// 414: request line over the limit.
    case uriTooLong
    /// 431: header block over the size or count limit.
    case headerTooLarge
    /// 501: a transfer coding other than `chunked`.
    case notImplemented(String)
    /// 505: an HTTP version other than 1.0 and 1.1.
    case versionNotSupported

    public var status: Int {
        switch self {
        case .badRequest: return 400
        case .bodyTooLarge: return 413
        case .uriTooLong: return 414
        case .headerTooLarge: return 431
        case .notImplemented: return 501
        case .versionNotSupported: return 505
        }
    }
}

/// A request head as parsed.
public struct HTTPRequestHead: Sendable {
    public var method: String
    public var target: String
    public var minorVersion: Int
    public var headers: HTTPHeaders
    public var keepAlive: Bool
    public var expectContinue: Bool
}

/// A strict, incremental HTTP/1.1 request parser (RFC 9112), written for a gateway that
/// forwards what it parses: anything another parser could read differently is refused
/// rather than repaired. CRLF only (a bare LF or CR is an error); no obs-fold; field names
/// are tokens with the colon right after; field values hold no control characters; exactly
/// one `Host` in HTTP/1.1; `Content-Length` digits only and never repeated; `Transfer-Encoding`
/// only `chunked`, and never with `Content-Length`; chunk sizes in hex with an overflow bound
/// and CRLF after every chunk; trailers read and dropped.
///
/// Feed bytes as they arrive; `feed` stops after each head and each complete request, so the
/// caller sees every message boundary (pipelining).
public struct HTTPRequestParser {
    public enum Outcome {
        /// Everything given was consumed; more bytes are needed.
        case needMore
        /// A head is complete (the body, if any, follows).
        case head(HTTPRequestHead)
        /// A request is complete: its head was reported before; this is its body.
        case complete([UInt8])
        case failure(HTTPParseError)
    }

    private enum State {
        case requestLine, headerLine, body, chunkSize, chunkData, chunkDataEnd, trailerLine, failed
    }

    public let limits: HTTPLimits
    private var state = State.requestLine
    private var line: [UInt8] = []
    /// CR seen at the end of `line`, waiting for its LF.
    private var sawCR = false
    private var headerBytes = 0
    private var head: HTTPRequestHead?
    private var hostCount = 0
    private var contentLength: Int?
    private var chunked = false
    private var remaining = 0
    private var body: [UInt8] = []
    private var emptyLinesBeforeRequest = 0

    public init(limits: HTTPLimits) {
        self.limits = limits
    }

    /// True between messages: no byte of the next request seen yet.
    public var isIdle: Bool { state == .requestLine && line.isEmpty && !sawCR }

    /// Consumes bytes from the front of `bytes`; returns how many and what happened. Call again
    /// with the rest after `.head` or `.complete`.
    public mutating func feed(_ bytes: UnsafeRawBufferPointer) -> (consumed: Int, outcome: Outcome) {
        // A head without a body completes without another byte.
        if state == .body && remaining == 0 { return (0, finish()) }
        var i = 0
        let n = bytes.count
        while i < n {
            switch state {
            case .failed:
                return (i, .failure(.badRequest("parser already failed")))
            case .requestLine, .headerLine, .chunkSize, .trailerLine:
                // Line-oriented states: collect up to CRLF. The run of ordinary bytes before the
                // next CR or LF is appended at once.
                if !sawCR {
                    let j = ByteScan.firstCRorLF(bytes.baseAddress!.assumingMemoryBound(to: UInt8.self), from: i, to: n)
                    if j > i {
                        line.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[i..<j]))
                        i = j
                        if let e = lineTooLong() { return fail(i, e) }
                        if i == n { break }
                    }
                }
                let b = bytes[i]
                i += 1
                if sawCR {
                    guard b == 0x0A else { return fail(i, .badRequest("CR not followed by LF")) }
                    sawCR = false
                    if let outcome = lineComplete() {
                        return (i, outcome)
                    }
                    continue
                }
                if b == 0x0D { sawCR = true; continue }
                return fail(i, .badRequest("bare LF"))
            case .body, .chunkData:
                let take = min(remaining, n - i)
                body.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[i..<(i + take)]))
                i += take
                remaining -= take
                if remaining == 0 {
                    if state == .body { return (i, finish()) }
                    state = .chunkDataEnd
                }
            case .chunkDataEnd:
                // Exactly CRLF after each chunk's data.
                let b = bytes[i]
                i += 1
                if !sawCR {
                    guard b == 0x0D else { return fail(i, .badRequest("chunk data not followed by CRLF")) }
                    sawCR = true
                } else {
                    guard b == 0x0A else { return fail(i, .badRequest("chunk data not followed by CRLF")) }
                    sawCR = false
                    state = .chunkSize
                }
            }
        }
        return (i, .needMore)
    }

    /// The line being collected is over its state's limit.
    private func lineTooLong() -> HTTPParseError? {
        switch state {
        case .requestLine:
            return line.count > limits.maxRequestLineBytes ? .uriTooLong : nil
        case .headerLine, .trailerLine:
            return headerBytes + line.count > limits.maxHeaderBytes ? .headerTooLarge : nil
        default:
            return line.count > 1024 ? .badRequest("chunk size line too long") : nil
        }
    }

    private mutating func fail(_ i: Int, _ e: HTTPParseError) -> (Int, Outcome) {
        state = .failed
        return (i, .failure(e))
    }

    /// A line (without its CRLF) is in `line`; acts on it.
    private mutating func lineComplete() -> Outcome? {
        defer { line.removeAll(keepingCapacity: true) }
        switch state {
        case .requestLine:
            if line.isEmpty {
                // RFC 9112 §2.2: an empty line before a request line is ignored (a few).
                emptyLinesBeforeRequest += 1
                if emptyLinesBeforeRequest > 4 { state = .failed; return .failure(.badRequest("empty lines")) }
                return nil
            }
            return parseRequestLine()
        case .headerLine:
            if line.isEmpty { return headComplete() }
            headerBytes += line.count
            return addField(trailer: false)
        case .trailerLine:
            if line.isEmpty { return finish() }
            headerBytes += line.count
            return addField(trailer: true)
        case .chunkSize:
            return parseChunkSize()
        default:
            return nil
        }
    }

    private mutating func parseRequestLine() -> Outcome? {
        // method SP request-target SP HTTP-version
        guard let sp1 = line.firstIndex(of: 0x20) else { return bad("malformed request line") }
        guard let sp2 = line[(sp1 + 1)...].firstIndex(of: 0x20) else { return bad("malformed request line") }
        let method = line[..<sp1]
        let target = line[(sp1 + 1)..<sp2]
        let version = line[(sp2 + 1)...]
        guard !method.isEmpty, method.allSatisfy(HTTPRequestParser.isTokenChar) else { return bad("invalid method") }
        guard !target.isEmpty, target.allSatisfy({ $0 > 0x20 && $0 != 0x7F }) else { return bad("invalid request target") }
        guard version.count == 8, version.starts(with: [0x48, 0x54, 0x54, 0x50, 0x2F]),
              let major = HTTPRequestParser.digit(version[version.startIndex + 5]),
              version[version.startIndex + 6] == 0x2E,
              let minor = HTTPRequestParser.digit(version[version.startIndex + 7]) else {
            return bad("invalid HTTP version")
        }
        // RFC 9112 §2.3: a higher minor version is read as the highest one supported.
        guard major == 1 else { state = .failed; return .failure(.versionNotSupported) }
        head = HTTPRequestHead(method: String(decoding: method, as: UTF8.self), target: String(decoding: target, as: UTF8.self),
                               minorVersion: min(minor, 1), headers: HTTPHeaders(capacity: 16), keepAlive: minor >= 1, expectContinue: false)
        state = .headerLine
        headerBytes = 0
        hostCount = 0
        contentLength = nil
        chunked = false
        return nil
    }

    private mutating func addField(trailer: Bool) -> Outcome? {
        // Over the line's bytes: the name and the trimmed value are found by index and made into
        // strings once (slices and their generic algorithms cost several times as much).
        let l = line
        return l.withUnsafeBufferPointer { u -> Outcome? in
            guard let first = u.first, first != 0x20, first != 0x09 else { return bad("obsolete line folding") }
            var colon = 0
            while colon < u.count && u[colon] != 0x3A { colon += 1 }
            guard colon < u.count else { return bad("header line without a colon") }
            guard colon > 0 else { return bad("invalid header name") }
            for k in 0..<colon where !HTTPRequestParser.isTokenChar(u[k]) { return bad("invalid header name") }
            var start = colon + 1, end = u.count
            while start < end && (u[start] == 0x20 || u[start] == 0x09) { start += 1 }
            while end > start && (u[end - 1] == 0x20 || u[end - 1] == 0x09) { end -= 1 }
            // field-content: VCHAR, obs-text, SP, HTAB; no other control characters.
            guard ByteScan.isFieldValue(u.baseAddress!, from: start, to: end) else { return bad("invalid header value") }
            if trailer { return nil }
            guard head!.headers.count < limits.maxHeaderCount else { state = .failed; return .failure(.headerTooLarge) }
            let v = UnsafeBufferPointer(rebasing: u[start..<end])
            let nameText = String(decoding: UnsafeBufferPointer(rebasing: u[..<colon]), as: UTF8.self)
            let valueText = String(decoding: v, as: UTF8.self)
            head!.headers.add(nameText, valueText)
            switch colon {
            case 4 where asciiCaseEquals(nameText, "Host"):
                hostCount += 1
            case 14 where asciiCaseEquals(nameText, "Content-Length"):
                // Digits only, one value, one header: a repeated or listed length is how two
                // parsers come to disagree about where a request ends.
                guard contentLength == nil else { return bad("more than one Content-Length") }
                guard !v.isEmpty, v.count <= 15, v.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else {
                    return bad("invalid Content-Length")
                }
                contentLength = v.reduce(0) { $0 * 10 + Int($1 - 0x30) }
            case 17 where asciiCaseEquals(nameText, "Transfer-Encoding"):
                guard !chunked else { return bad("more than one Transfer-Encoding") }
                let codings = valueText.split(separator: ",").map { String($0.trimmingCharacters()) }
                guard let last = codings.last, asciiCaseEquals(last, "chunked") else {
                    return bad("Transfer-Encoding must end with chunked")
                }
                guard codings.count == 1 else {
                    state = .failed
                    return .failure(.notImplemented("transfer coding \(codings[0])"))
                }
                chunked = true
            case 10 where asciiCaseEquals(nameText, "Connection"):
                for token in valueText.split(separator: ",") {
                    let t = String(token.trimmingCharacters())
                    if asciiCaseEquals(t, "close") { head!.keepAlive = false }
                    if asciiCaseEquals(t, "keep-alive") && head!.minorVersion == 0 { head!.keepAlive = true }
                }
            case 6 where asciiCaseEquals(nameText, "Expect"):
                if asciiCaseEquals(valueText, "100-continue") { head!.expectContinue = true }
            default:
                break
            }
            return nil
        }
    }

    private mutating func headComplete() -> Outcome? {
        guard var h = head else { return bad("no request line") }
        if h.minorVersion == 1 && hostCount != 1 {
            return bad(hostCount == 0 ? "missing Host" : "more than one Host")
        }
        if hostCount > 1 { return bad("more than one Host") }
        if chunked {
            if contentLength != nil { return bad("both Content-Length and Transfer-Encoding") }
            if h.minorVersion == 0 { return bad("Transfer-Encoding in HTTP/1.0") }
            state = .chunkSize
        } else if let length = contentLength, length > 0 {
            if length > limits.maxBodyBytes { state = .failed; return .failure(.bodyTooLarge) }
            remaining = length
            state = .body
        } else {
            state = .body
            remaining = 0
        }
        body = []
        if contentLength.map({ $0 > 0 }) ?? chunked { body.reserveCapacity(min(contentLength ?? 4096, 1 << 20)) }
        // RFC 9110 §10.1.1: an HTTP/1.0 client's 100-continue is ignored.
        h.expectContinue = h.expectContinue && h.minorVersion >= 1 && (chunked || (contentLength ?? 0) > 0)
        head = h
        return .head(h)
    }

    private mutating func parseChunkSize() -> Outcome? {
        // chunk-size [ chunk-ext ]; extensions are allowed and ignored.
        var size = 0
        var digits = 0
        var k = 0
        while k < line.count, let d = HTTPRequestParser.hex(line[k]) {
            size = size << 4 | Int(d)
            digits += 1
            k += 1
            // More digits than any body within the limit needs: malformed (400), not merely large.
            if digits > 15 { return bad("chunk size overflow") }
        }
        guard digits > 0 else { return bad("invalid chunk size") }
        if k < line.count {
            var rest = line[k...]
            while let f = rest.first, f == 0x20 || f == 0x09 { rest = rest.dropFirst() }
            guard rest.first == 0x3B, rest.allSatisfy({ $0 >= 0x20 && $0 != 0x7F || $0 == 0x09 }) else {
                return bad("invalid chunk size")
            }
        }
        if body.count + size > limits.maxBodyBytes { state = .failed; return .failure(.bodyTooLarge) }
        if size == 0 {
            state = .trailerLine
            headerBytes = 0
        } else {
            remaining = size
            state = .chunkData
        }
        return nil
    }

    private mutating func finish() -> Outcome {
        let b = body
        body = []
        head = nil
        state = .requestLine
        emptyLinesBeforeRequest = 0
        return .complete(b)
    }

    private mutating func bad(_ why: String) -> Outcome {
        state = .failed
        return .failure(.badRequest(why))
    }

    /// RFC 9110 token characters (digits, letters and ``!#$%&'*+-.^_`|~``), as two bit masks
    /// over ASCII: one shift and test a byte.
    @inline(__always)
    static func isTokenChar(_ b: UInt8) -> Bool {
        if b < 64 { return (0x03FF_6CFA_0000_0000 as UInt64) >> b & 1 != 0 }
        if b < 128 { return (0x57FF_FFFF_C7FF_FFFE as UInt64) >> (b - 64) & 1 != 0 }
        return false
    }

    static func digit(_ b: UInt8) -> Int? { b >= 0x30 && b <= 0x39 ? Int(b - 0x30) : nil }

    static func hex(_ b: UInt8) -> UInt8? { asciiHexValue(b) }
}

extension Substring {
    /// Without leading and trailing spaces and tabs.
    func trimmingCharacters() -> Substring {
        var s = self
        while let f = s.first, f == " " || f == "\t" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" { s = s.dropLast() }
        return s
    }
}

/// The value of an ASCII hex digit, or nil.
@inline(__always)
public func asciiHexValue(_ b: UInt8) -> UInt8? {
    switch b {
    case 0x30...0x39: return b - 0x30
    case 0x41...0x46: return b - 0x41 + 10
    case 0x61...0x66: return b - 0x61 + 10
    default: return nil
    }
}
