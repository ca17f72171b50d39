import CHTTPParser
import CLibUV
import GatehouseLoop
import GatehouseTLS

/// What the server does with each complete request. Called on the loop thread; the handler
/// answers through `responder` exactly once, now or later.
public protocol HTTPRequestHandler: AnyObject {
    func handle(_ request: HTTPRequest, responder: HTTPResponder)
    /// A response the connection produced itself (a limit or a parse error), for logging.
    func connectionRejected(status: Int, reason: String, remoteAddress: String)
}

extension HTTPRequestHandler {
    public func connectionRejected(status: Int, reason: String, remoteAddress: String) {}
}

/// The handle a request's handler answers through. Holds its connection weakly: if the client
/// has gone, answering does nothing.
public struct HTTPResponder {
    weak var connection: HTTPServerConnection?
    let sequence: Int

    public func respond(_ response: HTTPResponse) {
        connection?.complete(sequence: sequence, response: response)
    }
}

/// Why a connection stopped accepting requests with an error response.
enum ConnectionFault {
    case bodyTooLarge, headerTooLarge, uriTooLong, badRequest
}

// http_parser's callbacks are plain C functions; the connection rides in `parser.data`.
nonisolated(unsafe) private var parserSettings: http_parser_settings = {
    var s = http_parser_settings()
    s.on_message_begin = { p in conn(p).onMessageBegin() }
    s.on_url = { p, at, len in conn(p).onURL(at!, len) }
    s.on_header_field = { p, at, len in conn(p).onHeaderField(at!, len) }
    s.on_header_value = { p, at, len in conn(p).onHeaderValue(at!, len) }
    s.on_headers_complete = { p in conn(p).onHeadersComplete() }
    s.on_body = { p, at, len in conn(p).onBody(at!, len) }
    s.on_message_complete = { p in conn(p).onMessageComplete() }
    return s
}()

@inline(__always)
private func conn(_ p: UnsafeMutablePointer<http_parser>?) -> HTTPServerConnection {
    Unmanaged<HTTPServerConnection>.fromOpaque(p!.pointee.data).takeUnretainedValue()
}

/// One accepted HTTP/1.1 connection: parses requests (keep-alive, pipelining, chunked bodies),
/// enforces the limits, and writes responses in request order.
public final class HTTPServerConnection: TCPStreamDelegate {
    let stream: TCPStream
    let slot: HandlerSlot
    /// Told once, when the socket has closed.
    var onClosed: ((HTTPServerConnection) -> Void)?
    let limits: HTTPLimits
    let clock: HTTPDateClock
    private let parser: UnsafeMutablePointer<http_parser>
    private let timer: LoopTimer
    private let remoteAddress: String
    /// Set on a TLS listener's connections: bytes in are decrypted before parsing, bytes out
    /// encrypted before writing.
    private let tls: TLSSession?
    private var plaintext: [UInt8] = []

    // The request being parsed.
    private var url: [UInt8] = []
    private var fieldBuf: [UInt8] = []
    private var valueBuf: [UInt8] = []
    private var lastWasValue = false
    private var headers = HTTPHeaders()
    private var headerBytes = 0
    private var body: [UInt8] = []
    private var method = ""
    private var keepAlive = true
    private var inMessage = false
    private var headRequest = false

    /// Responses waiting for their turn; the head of the queue is written first.
    private struct Slot {
        var response: HTTPResponse?
        var close: Bool
        var head: Bool
    }
    private var slots: [Slot] = []
    private var firstSequence = 0
    private var fault: ConnectionFault?
    private var noMoreRequests = false
    private var closed = false

    public init(stream: TCPStream, slot: HandlerSlot, limits: HTTPLimits, clock: HTTPDateClock, tls: TLSSession? = nil) {
        self.stream = stream
        self.slot = slot
        self.tls = tls
        self.limits = limits
        self.clock = clock
        remoteAddress = stream.peerAddress
        parser = .allocate(capacity: 1)
        http_parser_init(parser, HTTP_REQUEST)
        timer = LoopTimer(loop: stream.loop)
        parser.pointee.data = Unmanaged.passUnretained(self).toOpaque()
        stream.setDelegate(self)
        armIdleTimer()
        stream.startReading()
    }

    // MARK: socket events

    public func stream(_ stream: TCPStream, didRead bytes: UnsafeRawBufferPointer) {
        guard !noMoreRequests, !closed else { return }
        guard let tls else { return parse(bytes) }
        plaintext.removeAll(keepingCapacity: true)
        do {
            try tls.receive(bytes, into: &plaintext)
        } catch {
            // A failed handshake or a broken record: send the alert, if any, and go.
            slot.current.connectionRejected(status: 0, reason: "TLS: \(error)", remoteAddress: remoteAddress)
            noMoreRequests = true
            flushTLS()
            stream.closeAfterWrites()
            return
        }
        flushTLS()
        if tls.peerClosed { noMoreRequests = true }
        if !plaintext.isEmpty {
            let p = plaintext
            p.withUnsafeBytes { parse($0) }
        }
        if tls.peerClosed && slots.isEmpty { shutDown() }
    }

    /// Writes to the client, through TLS when the listener has it.
    private func output(_ bytes: [UInt8]) {
        guard let tls else { return stream.write(bytes) }
        // (A typed-throws closure here crashes the 6.3 compiler; carry the outcome out instead.)
        let sent: Bool = bytes.withUnsafeBytes { b in
            do { try tls.send(b); return true } catch { return false }
        }
        guard sent else { stream.close(); return }
        flushTLS()
    }

    private func flushTLS() {
        if let tls, tls.hasOutbound { stream.write(tls.takeOutbound()) }
    }

    private func parse(_ bytes: UnsafeRawBufferPointer) {
        let n = bytes.withMemoryRebound(to: CChar.self) { b in
            http_parser_execute(parser, &parserSettings, b.baseAddress, b.count)
        }
        let errno = http_errno(rawValue: parser.pointee.http_errno)
        if noMoreRequests && fault == nil { return }
        if errno != HPE_OK || n != bytes.count {
            fail(fault ?? classify(errno))
            return
        }
        if slots.count >= limits.maxPipelined { stream.stopReading() }
    }

    public func streamDidEnd(_ stream: TCPStream) {
        // A client that half-closes after sending still gets its answers (nginx does the same);
        // with nothing outstanding the connection just closes.
        noMoreRequests = true
        if slots.isEmpty { shutDown() }
    }

    public func streamDidClose(_ stream: TCPStream) {
        closed = true
        timer.close()
        parser.deallocate()
        slots.removeAll()
        let f = onClosed
        onClosed = nil
        f?(self)
    }

    /// Graceful stop: no further requests are read; the ones already read are answered with
    /// `Connection: close`, then the connection closes. An idle connection closes now.
    func drain() {
        guard !closed else { return }
        noMoreRequests = true
        stream.stopReading()
        if slots.isEmpty {
            shutDown()
        } else {
            for i in slots.indices { slots[i].close = true }
        }
    }

    /// Closes at once, answered or not.
    func abort() {
        guard !closed else { return }
        stream.close()
    }

    // MARK: parser callbacks

    func onMessageBegin() -> Int32 {
        // Bytes after a request that closes the connection are not requests (RFC 9112 §9.6).
        if noMoreRequests { return 1 }
        url.removeAll(keepingCapacity: true)
        fieldBuf.removeAll(keepingCapacity: true)
        valueBuf.removeAll(keepingCapacity: true)
        headers = HTTPHeaders()
        headerBytes = 0
        body = []
        lastWasValue = false
        inMessage = true
        timer.schedule(after: limits.headerTimeoutMillis) { [unowned self] in self.timedOut() }
        return 0
    }

    func onURL(_ at: UnsafePointer<CChar>, _ len: Int) -> Int32 {
        if url.count + len > limits.maxRequestLineBytes { fault = .uriTooLong; return 1 }
        append(&url, at, len)
        return 0
    }

    func onHeaderField(_ at: UnsafePointer<CChar>, _ len: Int) -> Int32 {
        if lastWasValue { flushHeader() }
        headerBytes += len
        if headerBytes > limits.maxHeaderBytes || headers.count >= limits.maxHeaderCount {
            fault = .headerTooLarge
            return 1
        }
        append(&fieldBuf, at, len)
        lastWasValue = false
        return 0
    }

    func onHeaderValue(_ at: UnsafePointer<CChar>, _ len: Int) -> Int32 {
        headerBytes += len
        if headerBytes > limits.maxHeaderBytes { fault = .headerTooLarge; return 1 }
        append(&valueBuf, at, len)
        lastWasValue = true
        return 0
    }

    private func flushHeader() {
        headers.add(String(decoding: fieldBuf, as: UTF8.self), String(decoding: valueBuf, as: UTF8.self))
        fieldBuf.removeAll(keepingCapacity: true)
        valueBuf.removeAll(keepingCapacity: true)
    }

    func onHeadersComplete() -> Int32 {
        if lastWasValue || !fieldBuf.isEmpty { flushHeader() }
        let p = parser.pointee
        method = String(cString: http_method_str(http_method(rawValue: p.method)))
        keepAlive = http_should_keep_alive(parser) != 0
        // Declared body over the limit: answer before reading it.
        if p.content_length != UInt64.max, p.content_length > UInt64(limits.maxBodyBytes) {
            fault = .bodyTooLarge
            return 3  // stop: the error path answers 413 and closes
        }
        armIdleTimer()  // from here on the idle timeout bounds the body's progress
        if let expect = headers["Expect"], asciiCaseEquals(expect, "100-continue"), slots.isEmpty {
            output(Array("HTTP/1.1 100 Continue\r\n\r\n".utf8))
        }
        return 0
    }

    func onBody(_ at: UnsafePointer<CChar>, _ len: Int) -> Int32 {
        if body.count + len > limits.maxBodyBytes { fault = .bodyTooLarge; return 1 }
        append(&body, at, len)
        return 0
    }

    func onMessageComplete() -> Int32 {
        inMessage = false
        timer.cancel()
        let request = HTTPRequest(method: method, target: String(decoding: url, as: UTF8.self),
                                  headers: headers, body: body, remoteAddress: remoteAddress, isTLS: tls != nil)
        body = []
        let sequence = firstSequence + slots.count
        slots.append(Slot(response: nil, close: !keepAlive, head: method == "HEAD"))
        if !keepAlive {
            // Nothing after a request that asked to close is read (RFC 9112 §9.6).
            noMoreRequests = true
            stream.stopReading()
        }
        slot.current.handle(request, responder: HTTPResponder(connection: self, sequence: sequence))
        return 0
    }

    private func append(_ buf: inout [UInt8], _ at: UnsafePointer<CChar>, _ len: Int) {
        at.withMemoryRebound(to: UInt8.self, capacity: len) { p in
            buf.append(contentsOf: UnsafeBufferPointer(start: p, count: len))
        }
    }

    // MARK: responses

    func complete(sequence: Int, response: HTTPResponse) {
        guard !closed else { return }
        let index = sequence - firstSequence
        guard index >= 0, index < slots.count, slots[index].response == nil else { return }
        slots[index].response = response
        flush()
    }

    private func flush() {
        while let first = slots.first, let response = first.response {
            slots.removeFirst()
            firstSequence += 1
            output(response.serialized(close: first.close, date: clock.now(loop: stream.loop), headOnly: first.head))
            if first.close {
                shutDown()
                return
            }
        }
        if slots.isEmpty {
            if noMoreRequests {
                shutDown()
            } else {
                if !inMessage { armIdleTimer() }
                stream.startReading()
            }
        } else if slots.count < limits.maxPipelined && !noMoreRequests {
            stream.startReading()
        }
    }

    private func fail(_ f: ConnectionFault) {
        noMoreRequests = true
        stream.stopReading()
        let status: Int, message: String
        switch f {
        // API Gateway's REQUEST_TOO_LARGE gateway response.
        case .bodyTooLarge: (status, message) = (413, "Request Too Long")
        case .headerTooLarge: (status, message) = (431, "Request Header Fields Too Large")
        case .uriTooLong: (status, message) = (414, "Request-URI Too Long")
        case .badRequest: (status, message) = (400, "Bad Request")
        }
        slot.current.connectionRejected(status: status, reason: message, remoteAddress: remoteAddress)
        var h = HTTPHeaders()
        h.add("Content-Type", "application/json")
        h.add("x-amzn-RequestId", RequestId.make())
        if f == .bodyTooLarge { h.add("x-amzn-ErrorType", "RequestEntityTooLargeException") }
        slots.append(Slot(response: HTTPResponse(status: status, headers: h, body: Array(#"{"message":"\#(message)"}"#.utf8)),
                          close: true, head: false))
        flush()
    }

    private func classify(_ e: http_errno) -> ConnectionFault {
        // http_parser reports an over-long head as HPE_HEADER_OVERFLOW.
        e == HPE_HEADER_OVERFLOW ? .headerTooLarge : .badRequest
    }

    private func armIdleTimer() {
        timer.schedule(after: limits.idleTimeoutMillis) { [unowned self] in self.timedOut() }
    }

    private func timedOut() {
        // A request that is slow to arrive is dropped without an answer, as nginx does for a
        // client_header_timeout; an idle keep-alive connection is simply closed.
        if slots.isEmpty { stream.close() }
    }

    private func shutDown() {
        timer.cancel()
        if let tls {
            tls.shutdown()
            flushTLS()
        }
        stream.closeAfterWrites()
    }
}

/// The `Date` header value, formatted once per second.
public final class HTTPDateClock {
    private var cachedSecond: Int = -1
    private var cached = ""

    public init() {}

    public func now(loop: EventLoop) -> String {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        let second = Int(ts.tv_sec)
        if second != cachedSecond {
            cachedSecond = second
            cached = HTTPDateClock.format(epochSeconds: second)
        }
        return cached
    }

    /// IMF-fixdate, e.g. `Sun, 06 Nov 1994 08:49:37 GMT`.
    public static func format(epochSeconds: Int) -> String {
        var t = time_t(epochSeconds)
        var tm = tm()
        gmtime_r(&t, &tm)
        let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        func two(_ v: Int32) -> String { v < 10 ? "0\(v)" : "\(v)" }
        return "\(days[Int(tm.tm_wday)]), \(two(tm.tm_mday)) \(months[Int(tm.tm_mon)]) \(1900 + tm.tm_year) \(two(tm.tm_hour)):\(two(tm.tm_min)):\(two(tm.tm_sec)) GMT"
    }
}
