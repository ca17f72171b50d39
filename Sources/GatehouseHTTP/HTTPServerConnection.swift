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

/// One accepted HTTP/1.1 connection: parses requests (keep-alive, pipelining, chunked bodies),
/// enforces the limits, and writes responses in request order.
public final class HTTPServerConnection: TCPStreamDelegate {
    let stream: TCPStream
    let slot: HandlerSlot
    /// Told once, when the socket has closed.
    var onClosed: ((HTTPServerConnection) -> Void)?
    let limits: HTTPLimits
    let clock: HTTPDateClock
    private var parser: HTTPRequestParser
    private let timer: LoopTimer
    /// What the timer is armed for. Armed once per phase, not per request, so a request that
    /// arrives and is answered quickly costs no timer work beyond the idle re-arm.
    private enum TimerMode { case none, header, body, idle }
    private var timerMode = TimerMode.none
    /// Unwritten bytes when the timer last fired, to tell a slow reader from a stopped one.
    private var pendingAtLastTimeout = -1
    private let remoteAddress: String
    /// Set on a TLS listener's connections: bytes in are decrypted before parsing, bytes out
    /// encrypted before writing.
    private let tls: TLSSession?
    private var plaintext: [UInt8] = []
    /// The head of the request whose body is being read.
    private var head: HTTPRequestHead?
    /// Bytes written but not yet on the socket past which reading pauses (a client that
    /// does not read its answers must not make the gateway buffer without bound).
    static let maxPendingWriteBytes = 1 << 20

    /// Responses waiting for their turn; the head of the queue is written first.
    private struct Slot {
        var response: HTTPResponse?
        var close: Bool
        var head: Bool
    }
    private var slots: [Slot] = []
    private var firstSequence = 0
    private var noMoreRequests = false
    private var closed = false

    public init(stream: TCPStream, slot: HandlerSlot, limits: HTTPLimits, clock: HTTPDateClock, tls: TLSSession? = nil) {
        self.stream = stream
        self.slot = slot
        self.tls = tls
        self.limits = limits
        self.clock = clock
        remoteAddress = stream.peerAddress
        parser = HTTPRequestParser(limits: limits)
        timer = LoopTimer(loop: stream.loop)
        stream.setDelegate(self)
        timer.setHandler { [unowned self] in self.timedOut() }
        updateTimer()
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
        // Requests that came with the peer's close_notify are still answered.
        if !plaintext.isEmpty {
            let p = plaintext
            p.withUnsafeBytes { parse($0) }
        }
        if tls.peerClosed {
            noMoreRequests = true
            if slots.isEmpty { shutDown() }
        }
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
        var offset = 0
        while !noMoreRequests {
            let (consumed, outcome) = parser.feed(UnsafeRawBufferPointer(rebasing: bytes[offset...]))
            offset += consumed
            switch outcome {
            case .needMore:
                break
            case .head(let h):
                head = h
                if h.expectContinue && slots.isEmpty { output(Array("HTTP/1.1 100 Continue\r\n\r\n".utf8)) }
                continue
            case .complete(let body):
                requestComplete(body)
                continue
            case .failure(let e):
                fail(e)
                return
            }
            if offset >= bytes.count { break }
        }
        if slots.count >= limits.maxPipelined || stream.pendingWriteBytes > Self.maxPendingWriteBytes {
            stream.stopReading()
        }
        updateTimer()
    }

    /// Arms the timer for where the connection is: a partial head (the header timeout, counted
    /// from the head's first byte), a body arriving (the idle timeout, counted from the end of
    /// the head: a trickled body cannot hold the connection longer), idle between requests (the
    /// idle timeout), or waiting on a handler (none).
    private func updateTimer() {
        guard !closed else { return }
        let mode: TimerMode
        if head != nil {
            mode = .body
        } else if !parser.isIdle {
            mode = .header
        } else if slots.isEmpty && !noMoreRequests {
            mode = .idle
        } else {
            mode = .none
        }
        switch mode {
        case .none:
            if timerMode != .none { timer.stop() }
        case .header:
            if timerMode != .header { timer.start(after: limits.headerTimeoutMillis) }
        case .body:
            if timerMode != .body { timer.start(after: limits.idleTimeoutMillis) }
        case .idle:
            if timerMode != .idle { timer.start(after: limits.idleTimeoutMillis) }
        }
        timerMode = mode
    }

    private func requestComplete(_ body: [UInt8]) {
        guard let h = head else { return }
        head = nil
        // A request is activity: the idle timeout counts again from its answer.
        if timerMode == .idle { timerMode = .none }
        let request = HTTPRequest(method: h.method, target: h.target, headers: h.headers, body: body,
                                  remoteAddress: remoteAddress, isTLS: tls != nil)
        let sequence = firstSequence + slots.count
        slots.append(Slot(response: nil, close: !h.keepAlive, head: h.method == "HEAD"))
        if !h.keepAlive {
            // Nothing after a request that asked to close is read (RFC 9112 §9.6).
            noMoreRequests = true
            stream.stopReading()
        }
        slot.current.handle(request, responder: HTTPResponder(connection: self, sequence: sequence))
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
            // Every request already read is answered; the last answer closes.
            slots[slots.count - 1].close = true
        }
    }

    /// Closes at once, answered or not.
    func abort() {
        guard !closed else { return }
        stream.close()
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
        if slots.isEmpty && noMoreRequests {
            shutDown()
            return
        }
        if slots.isEmpty { updateTimer() }
        resumeReadingIfRoom()
    }

    private func resumeReadingIfRoom() {
        guard !noMoreRequests, !closed else { return }
        if slots.count < limits.maxPipelined && stream.pendingWriteBytes <= Self.maxPendingWriteBytes {
            stream.startReading()
        } else {
            stream.stopReading()
            // Told when the socket has taken the queued bytes.
            stream.notifyWhenWritesDrain()
        }
    }

    public func streamDidDrainWrites(_ stream: TCPStream) {
        resumeReadingIfRoom()
    }

    private func fail(_ e: HTTPParseError) {
        noMoreRequests = true
        stream.stopReading()
        let message: String
        switch e {
        // API Gateway's REQUEST_TOO_LARGE gateway response.
        case .bodyTooLarge: message = "Request Too Long"
        case .headerTooLarge: message = "Request Header Fields Too Large"
        case .uriTooLong: message = "Request-URI Too Long"
        case .badRequest: message = "Bad Request"
        case .notImplemented: message = "Not Implemented"
        case .versionNotSupported: message = "HTTP Version Not Supported"
        }
        var reason = message
        if case .badRequest(let why) = e { reason += ": " + why }
        if case .notImplemented(let why) = e { reason += ": " + why }
        slot.current.connectionRejected(status: e.status, reason: reason, remoteAddress: remoteAddress)
        var h = HTTPHeaders()
        h.add("Content-Type", "application/json")
        h.add("x-amzn-RequestId", RequestId.make())
        if e == .bodyTooLarge { h.add("x-amzn-ErrorType", "RequestEntityTooLargeException") }
        slots.append(Slot(response: HTTPResponse(status: e.status, headers: h, body: Array(#"{"message":"\#(message)"}"#.utf8)),
                          close: true, head: false))
        flush()
    }

    private func timedOut() {
        // An answer still being written: give it another period while the socket takes bytes
        // (a slow reader), close when it stopped taking any (as nginx's send_timeout).
        let pending = stream.pendingWriteBytes
        if pending > 0 && pending != pendingAtLastTimeout {
            pendingAtLastTimeout = pending
            timer.start(after: limits.idleTimeoutMillis)
            return
        }
        // A request that is slow to arrive is dropped without an answer, as nginx does for a
        // client_header_timeout; an idle keep-alive connection is simply closed.
        if slots.isEmpty {
            stream.close()
        } else {
            timerMode = .none  // re-armed once the answers ahead are written
        }
    }

    private func shutDown() {
        timer.stop()
        timerMode = .none
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
