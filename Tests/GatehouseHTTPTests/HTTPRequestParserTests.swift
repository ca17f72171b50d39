import Testing
@testable import GatehouseHTTP

/// Feeds `bytes` in pieces of `step` (0: all at once) and collects what the parser reports.
private func run(_ bytes: [UInt8], step: Int = 0, limits: HTTPLimits = HTTPLimits()) -> [String] {
    var p = HTTPRequestParser(limits: limits)
    var events: [String] = []
    var offset = 0
    outer: while offset < bytes.count || events.last?.hasPrefix("head") == true {
        let end = step == 0 ? bytes.count : min(bytes.count, offset + step)
        var piece = Array(bytes[offset..<end])
        while true {
            let (consumed, outcome) = piece.withUnsafeBytes { p.feed($0) }
            piece.removeFirst(consumed)
            offset += consumed
            switch outcome {
            case .needMore:
                if end >= bytes.count && piece.isEmpty { break outer }
                offset += 0
            case .head(let h):
                events.append("head \(h.method) \(h.target) 1.\(h.minorVersion) \(h.headers.fields.map { "\($0.name)=\($0.value)" }.joined(separator: ",")) ka=\(h.keepAlive)")
                continue
            case .complete(let body):
                events.append("body \(String(decoding: body, as: UTF8.self))")
                continue
            case .failure(let e):
                events.append("error \(e.status)")
                break outer
            }
            break
        }
    }
    return events
}

private func b(_ s: String) -> [UInt8] { Array(s.utf8) }

@Suite struct HTTPRequestParserTests {
    @Test func simpleRequestsAndPipelining() {
        let wire = b("GET /a?b=1 HTTP/1.1\r\nHost: x\r\nX-A:  v w \r\n\r\nPOST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc")
        let expected = ["head GET /a?b=1 1.1 Host=x,X-A=v w ka=true", "body ",
                        "head POST /p 1.1 Host=x,Content-Length=3 ka=true", "body abc"]
        #expect(run(wire) == expected)
        // Byte by byte, and in odd pieces, the same events.
        #expect(run(wire, step: 1) == expected)
        #expect(run(wire, step: 7) == expected)
    }

    @Test func chunkedBodyWithExtensionsAndTrailers() {
        let wire = b("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n1\r\n!\r\n0\r\nX-T: 1\r\n\r\n")
        #expect(run(wire) == ["head POST / 1.1 Host=x,Transfer-Encoding=chunked ka=true", "body hello!"])
        #expect(run(wire, step: 1).last == "body hello!")
    }

    @Test func keepAliveRules() {
        #expect(run(b("GET / HTTP/1.0\r\n\r\n")).first?.hasSuffix("ka=false") == true)
        #expect(run(b("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")).first?.hasSuffix("ka=true") == true)
        #expect(run(b("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")).first?.hasSuffix("ka=false") == true)
        // A higher minor version is read as 1.1 (RFC 9112 §2.3).
        #expect(run(b("GET / HTTP/1.7\r\nHost: x\r\n\r\n")).first?.contains(" 1.1 ") == true)
    }

    @Test(arguments: [
        ("GET / HTTP/1.1\nHost: x\n\n", 400),                                        // bare LF
        ("GET / HTTP/1.1\r\nHost: x\rY: z\r\n\r\n", 400),                           // bare CR
        ("GET / HTTP/1.1\r\nHost: x\r\nA: b\r\n c\r\n\r\n", 400),                   // obs-fold
        ("GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400),                                // space before colon
        ("GET / HTTP/1.1\r\nHost: x\r\nA: b\u{01}\r\n\r\n", 400),                   // control char
        ("GET / HTTP/1.1\r\n\r\n", 400),                                            // no Host
        ("GET / HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n", 400),                      // two Hosts
        ("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\na", 400),
        ("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1, 2\r\n\r\na", 400),
        ("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", 400),
        ("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
        ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", 400),
        ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501),
        ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400),
        ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\n", 400),
        ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n", 400),
        ("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
        ("G(T / HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        ("GET / HTTP/1.1 x\r\nHost: x\r\n\r\n", 400),
        ("GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505),
        ("GET /\u{7F} HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    ])
    func refused(_ wire: String, _ status: Int) {
        #expect(run(b(wire)).last == "error \(status)")
        #expect(run(b(wire), step: 1).last == "error \(status)")
    }

    @Test func limits() {
        var l = HTTPLimits()
        l.maxBodyBytes = 10
        #expect(run(b("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\n"), limits: l).last == "error 413")
        #expect(run(b("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nabcdef\r\n5\r\n"), limits: l).last == "error 413")
        #expect(run(b("GET /" + String(repeating: "a", count: 9000) + " HTTP/1.1\r\n\r\n")).last == "error 414")
        #expect(run(b("GET / HTTP/1.1\r\nHost: x\r\nA: " + String(repeating: "a", count: 11000) + "\r\n\r\n")).last == "error 431")
        let many = (0..<201).map { "H\($0): v\r\n" }.joined()
        #expect(run(b("GET / HTTP/1.1\r\nHost: x\r\n" + many + "\r\n")).last == "error 431")
    }

    /// Seeded mutation fuzzing: no input crashes the parser, feeding byte by byte gives the
    /// same events as feeding at once, and nothing it accepts breaks its own framing rules.
    @Test func mutationFuzz() {
        var rng = SplitMix(seed: 0x5EED)
        let seeds = [
            "GET /a HTTP/1.1\r\nHost: x\r\n\r\n",
            "POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello",
            "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        ].map(b)
        for _ in 0..<20_000 {
            var data = seeds[Int(rng.next() % 3)]
            for _ in 0..<(1 + Int(rng.next() % 4)) {
                let pos = Int(rng.next() % UInt64(data.count))
                switch rng.next() % 4 {
                case 0: data[pos] = UInt8(truncatingIfNeeded: rng.next())
                case 1: data.remove(at: pos)
                case 2: data.insert(UInt8(truncatingIfNeeded: rng.next()), at: pos)
                default: data.insert(contentsOf: [0x0D, 0x0A, 0x20, 0x3A][Int(rng.next() % 4)...], at: pos)
                }
                if data.isEmpty { data = seeds[0] }
            }
            let whole = run(data)
            #expect(whole == run(data, step: 1), "\(String(decoding: data, as: UTF8.self).debugDescription)")
            for e in whole where e.hasPrefix("head") {
                #expect(!e.contains("\r") && !e.contains("\n"))
            }
        }
    }
}

struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
