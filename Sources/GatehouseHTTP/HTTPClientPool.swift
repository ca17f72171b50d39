import CHTTPParser
import GatehouseLoop
import GatehouseTLS

/// Where an upstream connection goes; idle connections are kept per key.
struct UpstreamKey: Hashable {
    var host: String
    var port: Int
    var tls: Bool
}

/// Upstream HTTP/1.1 client with keep-alive: one pool per event loop (so no locks), idle
/// connections kept per host and port, reused newest first, closed after `idleTimeoutMillis`
/// or when the upstream closes them. One request at a time per connection (no pipelining).
public final class HTTPClientPool {
    public let loop: EventLoop
    /// Idle connections kept per upstream; more are closed when their exchange ends.
    public var maxIdlePerUpstream = 64
    /// An idle connection is closed after this long. Shorter than the common upstream
    /// keep-alive timeouts (nginx 60 s, Node 5 s), so the upstream rarely closes one first.
    public var idleTimeoutMillis: UInt64 = 4_000
    /// Largest response body accepted (API Gateway's payload limit).
    public var maxResponseBytes = 10 * 1024 * 1024
    /// Idle connections per upstream. Each list is an object: taking from or giving back to it
    /// is one lookup and no copy (through the dictionary's modify accessor, a `popLast` cost
    /// three allocations, perf).
    final class IdleList {
        var connections: [UpstreamConnection] = []
    }
    var idle: [UpstreamKey: IdleList] = [:]
    /// Connections opened and reused, for tests and metrics.
    public private(set) var connectionsOpened = 0
    public private(set) var connectionsReused = 0

    /// Verifies HTTPS upstreams; by default the system's trust store, made at first use.
    private var tlsContext: TLSContext?
    var tls: TLSContext? {
        if tlsContext == nil { tlsContext = try? TLSContext.client() }
        return tlsContext
    }

    public init(loop: EventLoop, tls: TLSContext? = nil) {
        self.loop = loop
        self.tlsContext = tls
    }

    /// Sends `request` and calls `completion` once, on the loop thread.
    public func send(_ request: HTTPClientRequest,
                     completion: @escaping (Result<HTTPClientResponse, HTTPClientError>) -> Void) {
        let key = UpstreamKey(host: request.host, port: request.port, tls: request.isTLS)
        if let connection = takeIdle(key) {
            connectionsReused += 1
            connection.begin(request, completion: completion, reused: true)
            return
        }
        open(key, request, completion)
    }

    func open(_ key: UpstreamKey, _ request: HTTPClientRequest,
              _ completion: @escaping (Result<HTTPClientResponse, HTTPClientError>) -> Void) {
        connectionsOpened += 1
        let connection = UpstreamConnection(pool: self, key: key)
        connection.begin(request, completion: completion, reused: false)
    }

    /// The list used last, compared before the table is hashed: a gateway mostly talks to
    /// the same upstream again.
    private var lastList: (key: UpstreamKey, list: IdleList)?

    private func idleList(_ key: UpstreamKey) -> IdleList? {
        if let last = lastList, last.key == key { return last.list }
        guard let list = idle[key] else { return nil }
        lastList = (key, list)
        return list
    }

    private func takeIdle(_ key: UpstreamKey) -> UpstreamConnection? {
        idleList(key)?.connections.popLast()
    }

    /// A connection whose exchange ended cleanly offers itself back; false means "close it".
    func offer(_ c: UpstreamConnection) -> Bool {
        let list: IdleList
        if let l = idleList(c.key) {
            list = l
        } else {
            list = IdleList()
            idle[c.key] = list
        }
        guard list.connections.count < maxIdlePerUpstream else { return false }
        list.connections.append(c)
        return true
    }

    func remove(_ c: UpstreamConnection) {
        guard let list = idle[c.key], let i = list.connections.firstIndex(where: { $0 === c }) else { return }
        list.connections.remove(at: i)
    }

    /// Closes every idle connection (shutdown, tests).
    public func closeIdle() {
        let all = idle.values.flatMap { $0.connections }
        idle.removeAll()
        lastList = nil
        for c in all { c.close() }
    }

    /// Idle connections held now.
    public var idleCount: Int { idle.values.reduce(0) { $0 + $1.connections.count } }
}

nonisolated(unsafe) private var upstreamSettings: http_parser_settings = {
    var s = http_parser_settings()
    s.on_header_field = { p, at, len in upstream(p) { $0.onHeaderField(at!, len) } }
    s.on_header_value = { p, at, len in upstream(p) { $0.onHeaderValue(at!, len) } }
    s.on_headers_complete = { p in upstream(p) { $0.onHeadersComplete() } }
    s.on_body = { p, at, len in upstream(p) { $0.onBody(at!, len) } }
    s.on_message_complete = { p in upstream(p) { $0.onMessageComplete() } }
    return s
}()

/// Calls into the connection a parser belongs to. The connection is alive for the whole
/// parse (it called `http_parser_execute`), so no retain is taken for the callback.
@inline(__always)
private func upstream(_ p: UnsafeMutablePointer<http_parser>?, _ body: (UpstreamConnection) -> Int32) -> Int32 {
    Unmanaged<UpstreamConnection>.fromOpaque(p!.pointee.data)._withUnsafeGuaranteedRef(body)
}

private let idempotentMethods: Set<String> = ["GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"]

/// One upstream connection and the exchange it carries, if any.
final class UpstreamConnection: TCPStreamDelegate {
    enum State { case connecting, busy, idle, closed }

    unowned let pool: HTTPClientPool
    let key: UpstreamKey
    private var state = State.connecting
    private var stream: TCPStream?
    private var tls: TLSSession?
    private var plaintext: [UInt8] = []
    private let timer: LoopTimer
    private let parser: UnsafeMutablePointer<http_parser>

    // The exchange in progress.
    private var request: HTTPClientRequest?
    private var completion: ((Result<HTTPClientResponse, HTTPClientError>) -> Void)?
    private var reused = false
    private var receivedAny = false
    private var complete = false
    private var tooLarge = false
    /// A header name has been started and its line not ended.
    private var inField = false
    /// Bytes of the current response have gone to http-parser (so the rest must too).
    private var midResponse = false
    /// The current response's head is over: header callbacks now carry trailers.
    private var headDone = false
    private var lastWasValue = false
    private var rawHeaders: [UInt8] = []
    private var body: [UInt8] = []
    private var status = 0
    private var keepAlive = false

    init(pool: HTTPClientPool, key: UpstreamKey) {
        self.pool = pool
        self.key = key
        timer = LoopTimer(loop: pool.loop)
        parser = .allocate(capacity: 1)
        http_parser_init(parser, HTTP_RESPONSE)
        parser.pointee.data = Unmanaged.passUnretained(self).toOpaque()
        timer.setHandler { [unowned self] in self.timerFired() }
    }

    /// Busy: the exchange timed out. Idle: the connection has been idle long enough.
    private func timerFired() {
        if state == .idle { close() } else { finish(.failure(.timedOut), reusable: false) }
    }

    deinit { parser.deallocate() }

    func begin(_ request: HTTPClientRequest, completion: @escaping (Result<HTTPClientResponse, HTTPClientError>) -> Void,
               reused: Bool) {
        self.request = request
        self.completion = completion
        self.reused = reused
        receivedAny = false
        resetResponse()
        timer.start(after: request.timeoutMillis)
        if stream != nil {
            state = .busy
            send(serialized(request))
            return
        }
        state = .connecting
        TCPConnector.connect(loop: pool.loop, host: key.host, port: key.port) { [self] result in
            switch result {
            case .failure(let e):
                self.finish(.failure(.connectFailed(e.description)), reusable: false)
            case .success(let s):
                guard self.state == .connecting, let request = self.request else { s.close(); return }
                self.stream = s
                self.state = .busy
                s.setDelegate(self)
                if self.key.tls {
                    guard let context = self.pool.tls else {
                        return self.finish(.failure(.connectFailed("no TLS context for https upstreams")), reusable: false)
                    }
                    do {
                        let session = try TLSSession(context: context, serverName: self.key.host)
                        try session.start()
                        self.tls = session
                    } catch {
                        return self.finish(.failure(.connectFailed("TLS: \(error)")), reusable: false)
                    }
                }
                s.startReading()
                self.send(self.serialized(request))
            }
        }
    }

    /// Methods whose requests go without `Content-Length` when they have no body (compared,
    /// not hashed: this runs per request).
    private static func isBodiless(_ method: String) -> Bool {
        switch method {
        case "GET", "HEAD", "DELETE", "OPTIONS", "TRACE": return true
        default: return false
        }
    }

    /// `Host: …\r\n` for this connection's upstream, made once.
    private lazy var hostLine: [UInt8] = {
        let h = key.host.utf8.contains(0x3A) ? "[\(key.host)]" : key.host
        return Array("Host: \(key.port == (key.tls ? 443 : 80) ? h : "\(h):\(key.port)")\r\n".utf8)
    }()

    private func serialized(_ r: HTTPClientRequest) -> [UInt8] {
        let size = r.method.utf8.count + 1 + r.target.utf8.count + 11 + fieldsSize(r.headers) + hostLine.count
            + 18 + ByteWriter.maxDecimalBytes + 2 + r.body.count
        return .writing(capacity: size) { w in
            w.write(r.method)
            w.write(0x20)
            w.write(r.target)
            w.write(" HTTP/1.1\r\n")
            // Framing headers are this client's (the body is always sent whole); a mapped value
            // (a decoded query parameter, say) cannot split the upstream request.
            let hasHost = writeFields(r.headers, to: &w, noting: "Host")
            if !hasHost { w.write(hostLine) }
            if !r.body.isEmpty || !Self.isBodiless(r.method) {
                w.write("Content-Length: ")
                w.writeDecimal(r.body.count)
                w.write("\r\n")
            }
            w.write("\r\n")
            w.write(r.body)
        }
    }

    /// Writes to the upstream, through TLS for https (held until the handshake is done).
    private func send(_ bytes: [UInt8]) {
        guard let tls else { stream?.write(bytes); return }
        let sent: Bool = bytes.withUnsafeBytes { b in
            do { try tls.send(b); return true } catch { return false }
        }
        guard sent else { return finish(.failure(.connectionReset), reusable: false) }
        flushTLS()
    }

    private func flushTLS() {
        if let tls, tls.hasOutbound { stream?.write(tls.takeOutbound()) }
    }

    // MARK: stream events

    func stream(_ stream: TCPStream, didRead bytes: UnsafeRawBufferPointer) {
        guard let tls else { return parse(bytes) }
        plaintext.removeAll(keepingCapacity: true)
        do {
            try tls.receive(bytes, into: &plaintext)
        } catch {
            flushTLS()
            return finish(.failure(.connectFailed("TLS: \(error)")), reusable: false)
        }
        flushTLS()
        if !plaintext.isEmpty {
            let p = plaintext
            p.withUnsafeBytes { parse($0) }
        }
    }

    private func parse(_ bytes: UnsafeRawBufferPointer) {
        guard state == .busy else {
            // An idle connection has nothing to say; bytes here mean it is unusable.
            close()
            return
        }
        receivedAny = true
        // A whole plain response in this read, with nothing of it seen before: one pass.
        if !midResponse, request?.method != "HEAD", let q = QuickResponse.parse(bytes, maxBody: pool.maxResponseBytes) {
            return finish(.success(HTTPClientResponse(status: q.status, rawHeaders: q.rawHeaders, body: q.body)),
                          reusable: q.keepAlive)
        }
        midResponse = true
        var offset = 0
        while true {
            let rest = UnsafeRawBufferPointer(rebasing: bytes[offset...])
            let n = rest.withMemoryRebound(to: CChar.self) { b in
                http_parser_execute(parser, &upstreamSettings, b.baseAddress, b.count)
            }
            offset += n
            // Checked first: an over-long body is reported by the parser as a complete message.
            if tooLarge { return finish(.failure(.responseTooLarge), reusable: false) }
            if complete && (100..<200).contains(status) && status != 101 {
                // An interim answer (100 Continue, 103 Early Hints): not the response. Start
                // over on the bytes after it.
                resetResponse()
                if offset < bytes.count { continue }
                return
            }
            if complete {
                // Bytes after the response mean the connection is out of step: not reused.
                return finish(.success(HTTPClientResponse(status: status, rawHeaders: rawHeaders, body: body)),
                              reusable: keepAlive && offset == bytes.count)
            }
            if parser.pointee.http_errno != 0 || offset != bytes.count {
                return finish(.failure(.malformedResponse), reusable: false)
            }
            return
        }
    }

    /// Ready for a (next) response head on this exchange.
    private func resetResponse() {
        complete = false
        tooLarge = false
        rawHeaders.removeAll(keepingCapacity: true)
        body = []
        status = 0
        lastWasValue = false
        inField = false
        midResponse = false
        headDone = false
        http_parser_init(parser, HTTP_RESPONSE)
        parser.pointee.data = Unmanaged.passUnretained(self).toOpaque()
    }

    func streamDidEnd(_ stream: TCPStream) {
        switch state {
        case .busy:
            // A response delimited by the connection's end completes here.
            http_parser_execute(parser, &upstreamSettings, nil, 0)
            if complete {
                finish(.success(HTTPClientResponse(status: status, rawHeaders: rawHeaders, body: body)), reusable: false)
            } else if reused && !receivedAny, let request, idempotentMethods.contains(request.method) {
                // The upstream closed a kept-alive connection as it was reused: try once on a
                // fresh one. Only idempotent methods, since the upstream may have seen it.
                let c = completion
                self.request = nil
                completion = nil
                timer.stop()
                close()
                if let c { pool.open(key, request, c) }
            } else {
                finish(.failure(.connectionReset), reusable: false)
            }
        case .idle:
            close()
        case .connecting, .closed:
            break
        }
    }

    func streamDidClose(_ stream: TCPStream) {}

    // MARK: parser callbacks

    // Each header is written as a line straight into `rawHeaders` as its pieces arrive (a name
    // or value may come in several calls when split across reads): `name: value\r\n`.

    func onHeaderField(_ at: UnsafePointer<CChar>, _ len: Int) -> Int32 {
        // A chunked answer's trailers come through the same callbacks after the head: they
        // are dropped (the answer goes on with a Content-Length, which has no trailers).
        if headDone { return 0 }
        if lastWasValue { endLine() }
        inField = true
        append(&rawHeaders, at, len)
        lastWasValue = false
        return 0
    }

    func onHeaderValue(_ at: UnsafePointer<CChar>, _ len: Int) -> Int32 {
        if headDone { return 0 }
        if !lastWasValue {
            rawHeaders.append(0x3A)
            rawHeaders.append(0x20)
        }
        // A value never carries CR or LF on (http-parser's lenient mode joins folded lines).
        at.withMemoryRebound(to: UInt8.self, capacity: len) { p in
            let v = UnsafeBufferPointer(start: p, count: len)
            if v.contains(where: { $0 == 0x0D || $0 == 0x0A }) {
                for b in v where b != 0x0D && b != 0x0A { rawHeaders.append(b) }
            } else {
                rawHeaders.append(contentsOf: v)
            }
        }
        lastWasValue = true
        return 0
    }

    private func endLine() {
        if !lastWasValue {
            rawHeaders.append(0x3A)
            rawHeaders.append(0x20)
        }
        rawHeaders.append(0x0D)
        rawHeaders.append(0x0A)
        inField = false
    }

    func onHeadersComplete() -> Int32 {
        if lastWasValue || inField { endLine() }
        headDone = true
        status = Int(parser.pointee.status_code)
        if parser.pointee.content_length != UInt64.max, parser.pointee.content_length > UInt64(pool.maxResponseBytes) {
            tooLarge = true
            return 2
        }
        // A HEAD response, 1xx, 204 and 304 carry no body whatever their headers say.
        return request?.method == "HEAD" ? 1 : 0
    }

    func onBody(_ at: UnsafePointer<CChar>, _ len: Int) -> Int32 {
        if body.count + len > pool.maxResponseBytes { tooLarge = true; return 1 }
        append(&body, at, len)
        return 0
    }

    func onMessageComplete() -> Int32 {
        complete = true
        keepAlive = http_should_keep_alive(parser) != 0
        // Stop here: a second response in the same read would be out of step.
        http_parser_pause(parser, 1)
        return 0
    }

    private func append(_ buf: inout [UInt8], _ at: UnsafePointer<CChar>, _ len: Int) {
        at.withMemoryRebound(to: UInt8.self, capacity: len) { p in
            buf.append(contentsOf: UnsafeBufferPointer(start: p, count: len))
        }
    }

    // MARK: ending

    private func finish(_ result: Result<HTTPClientResponse, HTTPClientError>, reusable: Bool) {
        guard let c = completion else { return }
        completion = nil
        request = nil
        body = []
        timer.stop()
        if reusable, state == .busy, pool.offer(self) {
            state = .idle
            timer.start(after: pool.idleTimeoutMillis)
        } else {
            close()
        }
        c(result)
    }

    func close() {
        guard state != .closed else { return }
        if state == .idle { pool.remove(self) }
        state = .closed
        timer.close()
        stream?.close()
        stream = nil
    }
}
