import Testing
@testable import GatehouseHTTP

/// The wire form of heads written through `ByteWriter`: exact bytes, framing headers the
/// writer's own, values that cannot split the message, and sizes worked out up front that hold
/// (a wrong size stops the process, so these cover the shapes that reach it).
@Suite struct SerializationTests {
    @Test func responseHead() {
        var h = HTTPHeaders()
        h.add("x-amzn-RequestId", "abc")
        h.add("Content-Length", "999")            // the writer's own: left out
        h.add("X-Evil", "a\r\nInjected: 1\0")     // CR, LF and NUL dropped
        var r = HTTPResponse(status: 201, headers: h, body: Array("hello".utf8))
        r.rawHeaderLines = Array("Server2: up\r\n".utf8)
        let text = String(decoding: r.serialized(close: false, date: "Wed, 25 Nov 2026 17:00:00 GMT"), as: UTF8.self)
        #expect(text == "HTTP/1.1 201 Created\r\nx-amzn-RequestId: abc\r\nX-Evil: aInjected: 1\r\nServer2: up\r\n"
            + "Date: Wed, 25 Nov 2026 17:00:00 GMT\r\nContent-Length: 5\r\nConnection: keep-alive\r\n\r\nhello")
    }

    @Test func responseHeadOnlyWithItsOwnDateAndClose() {
        var h = HTTPHeaders()
        h.add("Date", "then")
        let r = HTTPResponse(status: 599, headers: h, body: [UInt8](repeating: 0x41, count: 1_234_567))
        let bytes = r.serialized(close: true, date: "now", headOnly: true)
        #expect(String(decoding: bytes, as: UTF8.self)
            == "HTTP/1.1 599 Status\r\nDate: then\r\nContent-Length: 1234567\r\nConnection: close\r\n\r\n")
    }

    @Test func writerPieces() {
        let bytes = [UInt8].writing(capacity: 64) { w in
            w.writeDecimal(0)
            w.write(0x20)
            w.writeDecimal(Int.max)
            w.write(" ")
            w.write("ünïcode")
            w.writeFieldValue("x\ny")
        }
        #expect(String(decoding: bytes, as: UTF8.self) == "0 9223372036854775807 ünïcodexy")
        #expect([UInt8].writing(capacity: 0) { _ in }.isEmpty)
    }

    @Test func rawLines() {
        let h = HTTPHeaders([("A", "1"), ("Bb", "")])
        #expect(String(decoding: h.rawLines, as: UTF8.self) == "A: 1\r\nBb: \r\n")
    }
}

extension RequestIdTests {
    /// Exact text for known bits: version nibble 4, variant bits 10, lowercase hex.
    @Test func formatOfKnownBits() {
        #expect(RequestId.format(hi: 0x0123_4567_89AB_CDEF, lo: 0xFEDC_BA98_7654_3210) == "01234567-89ab-4def-bedc-ba9876543210")
        #expect(RequestId.format(hi: 0, lo: 0) == "00000000-0000-4000-8000-000000000000")
        var g = RequestIdGenerator()
        #expect(g.make() != g.make())
    }
}

/// A request target split into path and query (origin and absolute form).
@Suite struct RequestTargetTests {
    @Test(arguments: [
        ("/a/b?x=1&y", "/a/b", "x=1&y"), ("/a", "/a", ""), ("/?", "/", ""), ("?a", "/", "a"), ("", "/", ""),
        ("*", "*", ""), ("http://h:8/p?q", "/p", "q"), ("https://h?x=1", "/", "x=1"), ("http://h", "/", ""),
        ("/é?ü", "/é", "ü"),
    ])
    func split(_ c: (String, String, String)) {
        let r = HTTPRequest(method: "GET", target: c.0, headers: HTTPHeaders(), body: [])
        #expect(r.path == c.1 && r.query == c.2, "\(c.0)")
    }
}
