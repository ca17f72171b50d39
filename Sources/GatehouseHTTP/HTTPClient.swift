import CHTTPParser
import GatehouseLoop

/// A response received from an upstream.
public struct HTTPClientResponse: Sendable {
    public var status: Int
    public var headers: HTTPHeaders
    public var body: [UInt8]
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
    /// TLS to the upstream, verified against `host` (pooled client only).
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

nonisolated(unsafe) private var responseSettings: http_parser_settings = {
    var s = http_parser_settings()
    s.on_header_field = { p, at, len in exchange(p).onHeaderField(at!, len) }
    s.on_header_value = { p, at, len in exchange(p).onHeaderValue(at!, len) }
    s.on_headers_complete = { p in exchange(p).onHeadersComplete() }
    s.on_body = { p, at, len in exchange(p).onBody(at!, len) }
    s.on_message_complete = { p in exchange(p).onMessageComplete() }
    return s
}()

@inline(__always)
private func exchange(_ p: UnsafeMutablePointer<http_parser>?) -> HTTPClientExchange {
    Unmanaged<HTTPClientExchange>.fromOpaque(p!.pointee.data).takeUnretainedValue()
}

/// Plain-HTTP client for upstream calls: one connection per exchange, whole response buffered
/// (bounded by `maxResponseBytes`), one completion call on the loop thread.
public enum HTTPClient {
    public static let maxResponseBytes = 10 * 1024 * 1024

    public static func send(loop: EventLoop, _ request: HTTPClientRequest,
                            completion: @escaping (Result<HTTPClientResponse, HTTPClientError>) -> Void) {
        let ex = HTTPClientExchange(loop: loop, request: request, completion: completion)
        ex.start()
    }
}

final class HTTPClientExchange: TCPStreamDelegate {
    let request: HTTPClientRequest
    let loop: EventLoop
    let timer: LoopTimer
    var completion: ((Result<HTTPClientResponse, HTTPClientError>) -> Void)?
    var stream: TCPStream?
    let parser: UnsafeMutablePointer<http_parser>
    var field: [UInt8] = []
    var value: [UInt8] = []
    var lastWasValue = false
    var headers = HTTPHeaders()
    var body: [UInt8] = []
    var status = 0
    var done = false
    var tooLarge = false

    init(loop: EventLoop, request: HTTPClientRequest,
         completion: @escaping (Result<HTTPClientResponse, HTTPClientError>) -> Void) {
        self.request = request
        self.completion = completion
        self.loop = loop
        timer = LoopTimer(loop: loop)
        parser = .allocate(capacity: 1)
        http_parser_init(parser, HTTP_RESPONSE)
        parser.pointee.data = Unmanaged.passUnretained(self).toOpaque()
        timer.schedule(after: request.timeoutMillis) { [self] in self.finish(.failure(.timedOut)) }
    }

    deinit { parser.deallocate() }

    func start() {
        TCPConnector.connect(loop: loop, host: request.host, port: request.port) { [self] result in
            switch result {
            case .failure(let e):
                self.finish(.failure(.connectFailed(e.description)))
            case .success(let s):
                if self.done { s.close(); return }
                self.stream = s
                s.setDelegate(self)
                s.write(self.serializedRequest())
                s.startReading()
            }
        }
    }

    func serializedRequest() -> [UInt8] {
        var out: [UInt8] = Array("\(request.method) \(request.target) HTTP/1.1\r\n".utf8)
        var h = request.headers
        if !h.contains("Host") {
            h.add("Host", request.port == 80 ? request.host : "\(request.host):\(request.port)")
        }
        h.set("Content-Length", String(request.body.count))
        h.set("Connection", "close")
        for (n, v) in h.fields {
            out.append(contentsOf: "\(n): \(v)\r\n".utf8)
        }
        out.append(contentsOf: "\r\n".utf8)
        out.append(contentsOf: request.body)
        return out
    }

    func stream(_ stream: TCPStream, didRead bytes: UnsafeRawBufferPointer) {
        guard !done else { return }
        let n = bytes.withMemoryRebound(to: CChar.self) { b in
            http_parser_execute(parser, &responseSettings, b.baseAddress, b.count)
        }
        if done { return }
        if tooLarge { finish(.failure(.responseTooLarge)); return }
        if parser.pointee.http_errno != 0 || n != bytes.count { finish(.failure(.malformedResponse)) }
    }

    func streamDidEnd(_ stream: TCPStream) {
        guard !done else { return }
        // A response delimited by the connection's end completes here.
        http_parser_execute(parser, &responseSettings, nil, 0)
        if !done { finish(.failure(.connectionReset)) }
    }

    func streamDidClose(_ stream: TCPStream) {}

    func onHeaderField(_ at: UnsafePointer<CChar>, _ len: Int) -> Int32 {
        if lastWasValue { flushHeader() }
        append(&field, at, len)
        lastWasValue = false
        return 0
    }

    func onHeaderValue(_ at: UnsafePointer<CChar>, _ len: Int) -> Int32 {
        append(&value, at, len)
        lastWasValue = true
        return 0
    }

    func flushHeader() {
        headers.add(String(decoding: field, as: UTF8.self), String(decoding: value, as: UTF8.self))
        field.removeAll()
        value.removeAll()
    }

    func onHeadersComplete() -> Int32 {
        if lastWasValue || !field.isEmpty { flushHeader() }
        status = Int(parser.pointee.status_code)
        return request.method == "HEAD" ? 1 : 0
    }

    func onBody(_ at: UnsafePointer<CChar>, _ len: Int) -> Int32 {
        if body.count + len > HTTPClient.maxResponseBytes { tooLarge = true; return 1 }
        append(&body, at, len)
        return 0
    }

    func onMessageComplete() -> Int32 {
        finish(.success(HTTPClientResponse(status: status, headers: headers, body: body)))
        return 0
    }

    private func append(_ buf: inout [UInt8], _ at: UnsafePointer<CChar>, _ len: Int) {
        at.withMemoryRebound(to: UInt8.self, capacity: len) { p in
            buf.append(contentsOf: UnsafeBufferPointer(start: p, count: len))
        }
    }

    func finish(_ result: Result<HTTPClientResponse, HTTPClientError>) {
        guard !done else { return }
        done = true
        timer.close()
        stream?.close()
        let c = completion
        completion = nil
        c?(result)
    }
}
