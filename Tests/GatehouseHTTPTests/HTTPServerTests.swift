import GatehouseLoop
import Testing
@testable import GatehouseHTTP

/// Answers with the request's method, path, query and body; `/later` answers on a timer, so
/// responses are produced out of order with respect to the requests behind them.
final class EchoHandler: HTTPRequestHandler {
    let loop: EventLoop
    var seen: [HTTPRequest] = []
    init(loop: EventLoop) { self.loop = loop }

    func handle(_ request: HTTPRequest, responder: HTTPResponder) {
        seen.append(request)
        let body = Array("\(request.method) \(request.path) \(request.query) ".utf8) + request.body
        if request.path == "/later" {
            let t = LoopTimer(loop: loop)
            t.schedule(after: 20) {
                responder.respond(HTTPResponse(status: 202, body: body))
                t.close()
            }
        } else {
            responder.respond(HTTPResponse(status: 200, body: body))
        }
    }
}

func exchange(_ loop: EventLoop, port: Int, _ request: HTTPClientRequest,
              pool: HTTPClientPool? = nil) -> Result<HTTPClientResponse, HTTPClientError>? {
    var out: Result<HTTPClientResponse, HTTPClientError>?
    let p = pool ?? HTTPClientPool(loop: loop)
    p.send(request) { out = $0 }
    while out == nil { loop.runOnce() }
    if pool == nil { p.closeIdle() }
    return out
}

@Suite struct HTTPServerTests {
    @Test func requestAndResponseRoundTripOverLoopback() throws {
        let loop = try EventLoop()
        let handler = EchoHandler(loop: loop)
        let server = try HTTPServer(loop: loop, host: "127.0.0.1", port: 0, handler: handler)
        defer { server.close(); loop.closeAll() }
        let r = exchange(loop, port: server.port, HTTPClientRequest(
            host: "127.0.0.1", port: server.port, method: "POST", target: "/dev/x?a=1&b", headers: HTTPHeaders(),
            body: Array("hello".utf8), timeoutMillis: 5000))
        let response = try #require(try r?.get())
        #expect(response.status == 200)
        #expect(String(decoding: response.body, as: UTF8.self) == "POST /dev/x a=1&b hello")
        #expect(response.headers["Content-Length"] == "23")
        #expect(handler.seen.first?.headers["Host"] == "127.0.0.1:\(server.port)")
    }

    @Test func upstreamConnectionsAreKeptAliveAndReused() throws {
        let loop = try EventLoop()
        let server = try HTTPServer(loop: loop, host: "127.0.0.1", port: 0, handler: EchoHandler(loop: loop))
        defer { server.close(); loop.closeAll() }
        let pool = HTTPClientPool(loop: loop)
        for i in 0..<5 {
            let r = exchange(loop, port: server.port, HTTPClientRequest(
                host: "127.0.0.1", port: server.port, method: "GET", target: "/n\(i)", headers: HTTPHeaders(), body: []),
                pool: pool)
            #expect(String(decoding: try #require(try r?.get()).body, as: UTF8.self) == "GET /n\(i)  ")
        }
        #expect(pool.connectionsOpened == 1 && pool.connectionsReused == 4 && pool.idleCount == 1)
        pool.closeIdle()
        #expect(pool.idleCount == 0)
    }

    @Test func deferredResponseArrives() throws {
        let loop = try EventLoop()
        let server = try HTTPServer(loop: loop, host: "127.0.0.1", port: 0, handler: EchoHandler(loop: loop))
        defer { server.close(); loop.closeAll() }
        let r = exchange(loop, port: server.port, HTTPClientRequest(
            host: "127.0.0.1", port: server.port, method: "GET", target: "/later", headers: HTTPHeaders(), body: []))
        #expect(try r?.get().status == 202)
    }

    @Test func refusedConnectionIsReported() throws {
        let loop = try EventLoop()
        // Bind then close to find a port nobody listens on.
        let probe = try TCPServer(loop: loop, host: "127.0.0.1", port: 0) { $0.close() }
        let port = probe.boundPort
        probe.close()
        loop.runOnce()
        let r = exchange(loop, port: port, HTTPClientRequest(
            host: "127.0.0.1", port: port, method: "GET", target: "/", headers: HTTPHeaders(), body: []))
        guard case .failure(.connectFailed)? = r else {
            Issue.record("expected connectFailed, got \(String(describing: r))")
            return
        }
        loop.closeAll()
    }

    @Test func absoluteFormTargetsKeepOnlyPathAndQuery() {
        let r = HTTPRequest(method: "GET", target: "http://example.com:8080/dev/a?x=1", headers: HTTPHeaders(), body: [])
        #expect(r.path == "/dev/a")
        #expect(r.query == "x=1")
    }

    @Test func responseHeadersCannotSplitTheResponse() {
        var h = HTTPHeaders()
        h.add("X-Evil", "a\r\nSet-Cookie: b")
        let wire = String(decoding: HTTPResponse(status: 200, headers: h).serialized(close: false, date: "d"), as: UTF8.self)
        #expect(wire.contains("X-Evil: aSet-Cookie: b\r\n"))
        #expect(wire.contains("Content-Length: 0\r\n"))
    }

    @Test func httpDateIsIMFFixdate() {
        #expect(HTTPDateClock.format(epochSeconds: 784111777) == "Sun, 06 Nov 1994 08:49:37 GMT")
    }
}

@Suite struct HTTPURLTests {
    @Test func partsOfAnHTTPURL() throws {
        let u = try #require(HTTPURL("http://127.0.0.1:5000/dev/x?a=1"))
        #expect(u.host == "127.0.0.1" && u.port == 5000 && u.target == "/dev/x?a=1")
        #expect(u.path == "/dev/x" && u.query == "a=1" && u.hostHeader == "127.0.0.1:5000")
        let v6 = try #require(HTTPURL("http://[::1]"))
        #expect(v6.host == "::1" && v6.port == 80 && v6.target == "/" && v6.hostHeader == "[::1]")
        #expect(HTTPURL("http://h?q")?.target == "/?q")
        let tls = try #require(HTTPURL("https://example.com/a"))
        #expect(tls.isTLS && tls.port == 443 && tls.hostHeader == "example.com" && !u.isTLS)
        #expect(HTTPURL("https://example.com:8443")?.hostHeader == "example.com:8443")
    }

    @Test(arguments: ["ftp://h", "https://", "http://", "http://h:0/", "http://h:x/", "http://h:70000"])
    func refusedURLs(_ s: String) {
        #expect(HTTPURL(s) == nil)
    }
}

@Suite struct RequestIdTests {
    @Test func uuidVersion4Shape() {
        var seen = Set<String>()
        for _ in 0..<1000 {
            let id = RequestId.make()
            let b = Array(id.utf8)
            #expect(b.count == 36)
            #expect(b[8] == 0x2D && b[13] == 0x2D && b[18] == 0x2D && b[23] == 0x2D)
            #expect(b[14] == UInt8(ascii: "4"))
            #expect([UInt8]("89ab".utf8).contains(b[19]))
            #expect(b.allSatisfy { $0 == 0x2D || (0x30...0x39).contains($0) || (0x61...0x66).contains($0) })
            seen.insert(id)
        }
        #expect(seen.count == 1000)
    }
}
