import Testing
@testable import GatehouseHTTP

/// The one-pass reader of plain upstream answers. What it accepts it must read as http-parser
/// does (checked against http-parser on every case); everything else it declines.
@Suite struct QuickResponseTests {
    static let nginx = "HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: Wed, 25 Nov 2026 17:00:00 GMT\r\n"
        + "Content-Type: text/plain\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok"

    static func quick(_ s: String, maxBody: Int = 1 << 20) -> QuickResponse? {
        Array(s.utf8).withUnsafeBytes { QuickResponse.parse($0, maxBody: maxBody) }
    }

    @Test func readsNginxAnswer() throws {
        let q = try #require(Self.quick(Self.nginx))
        #expect(q.status == 200)
        #expect(q.keepAlive)
        #expect(String(decoding: q.body, as: UTF8.self) == "ok")
        #expect(String(decoding: q.rawHeaders, as: UTF8.self) == "Server: nginx/1.22.1\r\nDate: Wed, 25 Nov 2026 17:00:00 GMT\r\n"
            + "Content-Type: text/plain\r\nContent-Length: 2\r\nConnection: keep-alive\r\n")
    }

    @Test func closeAndNoReason() throws {
        let q = try #require(Self.quick("HTTP/1.1 503\r\nconnection: Close\r\ncontent-length: 0\r\nX-Empty:\r\n\r\n"))
        #expect(q.status == 503)
        #expect(!q.keepAlive)
        #expect(q.body.isEmpty)
        #expect(String(decoding: q.rawHeaders, as: UTF8.self) == "connection: Close\r\ncontent-length: 0\r\nX-Empty: \r\n")
    }

    @Test(arguments: [
        "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok",                       // not 1.1
        "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
        "HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n",
        "HTTP/1.1 304 Not Modified\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
        "HTTP/1.1 200 OK\r\n\r\nok",                                            // no length: ends at close
        "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok",
        "HTTP/1.1 200 OK\r\nContent-Length: +2\r\n\r\nok",
        "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok",                        // body still coming
        "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nok",                        // bytes after it
        "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX: a\r\n folded\r\n\r\nok",
        "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX: trailing \r\n\r\nok",
        "HTTP/1.1 200 OK\r\nContent-Length: 2\nX: bare-lf\r\n\r\nok",
        "HTTP/1.1 200 OK\r\nBad Name: x\r\nContent-Length: 2\r\n\r\nok",
        "HTTP/1.1 200 OK\r\nConnection: keep-alive, Upgrade\r\nContent-Length: 2\r\n\r\nok",
        "HTTP/1.1 200 OK\r\nUpgrade: h2c\r\nContent-Length: 2\r\n\r\nok",
        "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nProxy-Connection: close\r\n\r\nok",
        "HTTP/1.1 2x0 OK\r\nContent-Length: 2\r\n\r\nok",
        "HTTP/1.1 200 OK\r\nX: ctl\u{01}\r\nContent-Length: 2\r\n\r\nok",
        "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r",
    ])
    func declines(_ response: String) {
        #expect(Self.quick(response) == nil)
    }

    @Test func bodyLimitAndHeadLimit() {
        #expect(Self.quick("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", maxBody: 1) == nil)
        let long = "HTTP/1.1 200 OK\r\nX: " + String(repeating: "a", count: 9000) + "\r\nContent-Length: 0\r\n\r\n"
        #expect(Self.quick(long) == nil)
    }
}

import CHTTPParser

/// http-parser's reading of a response, as the upstream connection drives it: header lines as
/// `name: value\r\n`, the body, keep-alive, and whether the message ended exactly at the end.
private final class ReferenceRead {
    var status = 0
    var raw: [UInt8] = []
    var body: [UInt8] = []
    var lastWasValue = false
    var inField = false
    var complete = false
    var keepAlive = false

    static func read(_ bytes: [UInt8]) -> ReferenceRead? {
        let r = ReferenceRead()
        var parser = http_parser()
        http_parser_init(&parser, HTTP_RESPONSE)
        var settings = http_parser_settings()
        settings.on_header_field = { p, at, len in
            let r = Unmanaged<ReferenceRead>.fromOpaque(p!.pointee.data).takeUnretainedValue()
            if r.lastWasValue { r.raw += [0x0D, 0x0A]; r.inField = false }
            r.raw += UnsafeRawBufferPointer(start: at, count: len)
            r.inField = true
            r.lastWasValue = false
            return 0
        }
        settings.on_header_value = { p, at, len in
            let r = Unmanaged<ReferenceRead>.fromOpaque(p!.pointee.data).takeUnretainedValue()
            if !r.lastWasValue { r.raw += [0x3A, 0x20] }
            r.raw += UnsafeRawBufferPointer(start: at, count: len).filter { $0 != 0x0D && $0 != 0x0A }
            r.lastWasValue = true
            return 0
        }
        settings.on_headers_complete = { p in
            let r = Unmanaged<ReferenceRead>.fromOpaque(p!.pointee.data).takeUnretainedValue()
            if r.lastWasValue || r.inField {
                if !r.lastWasValue { r.raw += [0x3A, 0x20] }
                r.raw += [0x0D, 0x0A]
            }
            r.status = Int(p!.pointee.status_code)
            return 0
        }
        settings.on_body = { p, at, len in
            Unmanaged<ReferenceRead>.fromOpaque(p!.pointee.data).takeUnretainedValue().body += UnsafeRawBufferPointer(start: at, count: len)
            return 0
        }
        settings.on_message_complete = { p in
            let r = Unmanaged<ReferenceRead>.fromOpaque(p!.pointee.data).takeUnretainedValue()
            r.complete = true
            r.keepAlive = http_should_keep_alive(p) != 0
            http_parser_pause(p, 1)
            return 0
        }
        let consumed = withExtendedLifetime(r) { () -> Int in
            parser.data = Unmanaged.passUnretained(r).toOpaque()
            return bytes.withUnsafeBytes { b in
                b.withMemoryRebound(to: CChar.self) { http_parser_execute(&parser, &settings, $0.baseAddress, $0.count) }
            }
        }
        guard r.complete, consumed == bytes.count else { return nil }
        return r
    }
}

extension QuickResponseTests {
    /// Whatever the one-pass reader accepts, http-parser reads the same, on the cases above and
    /// on 20,000 mutations of real answers (bytes replaced, inserted and removed).
    @Test func agreesWithHTTPParser() {
        var cases = [Self.nginx, "HTTP/1.1 503\r\nconnection: Close\r\ncontent-length: 0\r\nX-Empty:\r\n\r\n",
                     "HTTP/1.1 201 Created\r\nX-A:\tb\r\nContent-Length: 5\r\nSet-Cookie: a=b; Path=/\r\n\r\nhello",
                     "HTTP/1.1 200 OK\r\nProxy-Connection: close\r\nContent-Length: 2\r\n\r\nok"]
        var rng = SystemRandomNumberGenerator()
        let alphabet: [UInt8] = Array(" \t\r\n:;,0123456789aAzZ-_\u{7F}\u{01}".utf8) + [0x80, 0xFF]
        let seeds = cases.map { Array($0.utf8) }
        var accepted = 0
        for _ in 0..<20_000 {
            var b = seeds[Int.random(in: 0..<seeds.count, using: &rng)]
            for _ in 0..<Int.random(in: 1...3, using: &rng) {
                let at = Int.random(in: 0..<b.count, using: &rng)
                switch Int.random(in: 0..<3, using: &rng) {
                case 0: b[at] = alphabet.randomElement(using: &rng)!
                case 1: b.insert(alphabet.randomElement(using: &rng)!, at: at)
                default: if b.count > 1 { b.remove(at: at) }
                }
            }
            cases.append(String(decoding: b, as: UTF8.self))
            guard let q = b.withUnsafeBytes({ QuickResponse.parse($0, maxBody: 1 << 20) }) else { continue }
            accepted += 1
            let r = ReferenceRead.read(b)
            #expect(r != nil, "accepted, but http-parser does not read it whole: \(String(decoding: b, as: UTF8.self).debugDescription)")
            guard let r else { continue }
            #expect(q.status == r.status && q.rawHeaders == r.raw && q.body == r.body && q.keepAlive == r.keepAlive,
                    "read differently: \(String(decoding: b, as: UTF8.self).debugDescription)")
        }
        // The mutations leave enough cases acceptable for the comparison to mean something.
        #expect(accepted > 1_000)
    }
}
