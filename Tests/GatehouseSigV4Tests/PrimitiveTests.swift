import GatehouseSigV4
import Testing

@Suite("SigV4 building blocks")
struct PrimitiveTests {
    @Test("SHA-256 and HMAC-SHA256 known answers")
    func hashes() {
        #expect(SigV4.sha256Hex([]) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(SigV4.sha256Hex(Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        // RFC 4231, test case 2.
        let mac = SigV4.hmacSHA256(key: Array("Jefe".utf8), data: Array("what do ya want for nothing?".utf8))
        #expect(mac == hexBytes("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"))
        #expect(SigV4.hmacSHA256(key: [], data: []).count == 32)
    }

    @Test("signing key derivation (AWS documentation example)")
    func signingKey() {
        let key = SigV4.signingKey(secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", date: "20120215",
                                   region: "us-east-1", service: "iam")
        #expect(key == hexBytes("f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d"))
    }

    @Test("dates")
    func dates() {
        #expect(SigV4.amzDate(0) == "19700101T000000Z")
        #expect(SigV4.amzDate(951_782_400) == "20000229T000000Z")
        #expect(SigV4.amzDate(1_615_307_071) == "20210309T162431Z")
        #expect(SigV4.amzDate(-1) == "19691231T235959Z")
        for t in stride(from: Int64(-86_400 * 400), to: 4_102_444_800, by: 9_999_991) {
            #expect(SigV4.parseAmzDate(SigV4.amzDate(t)) == t)
        }
        #expect(SigV4.parseAmzDate("20210309T162431Z") == 1_615_307_071)
        for bad in ["20210230T000000Z", "20210309T246000Z", "20210309t162431Z", "20210309T162431", "2021-03-09", ""] {
            #expect(SigV4.parseAmzDate(bad) == nil, "\(bad)")
        }
        #expect(SigV4.parseHTTPDate("Tue, 09 Mar 2021 16:24:31 GMT") == 1_615_307_071)
        #expect(SigV4.parseHTTPDate("9 Mar 2021 16:24:31 GMT") == 1_615_307_071)
        #expect(SigV4.parseHTTPDate("Tue, 09 Mar 2021 16:24:31 +0100") == nil)
    }

    @Test("strict URI encoding")
    func encoding() {
        #expect(SigV4.uriEncode("a b/c~-_.+*é") == "a%20b%2Fc~-_.%2B%2A%C3%A9")
        #expect(SigV4.uriEncode("a b/c", encodeSlash: false) == "a%20b/c")
        #expect(SigV4.percentDecode("a%20b+c%zz%4") == "a b+c%zz%4")
    }

    @Test("canonical URI: execute-api encodes the sent path again; S3 does not")
    func canonicalURI() {
        #expect(SigV4.canonicalURI(path: "/dev/a%20b/c%2Fd", doubleEncodePath: true, normalizePath: true) == "/dev/a%2520b/c%252Fd")
        #expect(SigV4.canonicalURI(path: "/dev/./x/../y//z/", doubleEncodePath: true, normalizePath: true) == "/dev/y/z/")
        #expect(SigV4.canonicalURI(path: "/dev/./x", doubleEncodePath: true, normalizePath: false) == "/dev/./x")
        #expect(SigV4.canonicalURI(path: "", doubleEncodePath: true, normalizePath: true) == "/")
        #expect(SigV4.canonicalURI(path: "/../..", doubleEncodePath: true, normalizePath: true) == "/")
        #expect(SigV4.canonicalURI(path: "/a%20b/c+d", doubleEncodePath: false, normalizePath: false) == "/a%20b/c%2Bd")
    }

    @Test("canonical query string")
    func canonicalQuery() {
        #expect(SigV4.canonicalQueryString("b=2&a=1&a=0&empty&sp=a+b&x=%7e&&k=v=w")
            == "a=0&a=1&b=2&empty=&k=v%3Dw&sp=a%2Bb&x=~")
        #expect(SigV4.canonicalQueryString("") == "")
        #expect(SigV4.canonicalQueryString("X-Amz-Signature=abc&z=1", excluding: ["X-Amz-Signature"]) == "z=1")
    }

    @Test("canonical headers: lowercased, trimmed, runs of spaces collapsed, repeats joined")
    func canonicalHeaders() {
        let r = SigV4Request(method: "GET", path: "/", headers: [
            ("Host", "h"), ("X-A", "  one   two  "), ("x-a", "three"), ("X-B", "\t\"q  r\"\t"),
        ])
        #expect(SigV4.canonicalHeaders(r, signedHeaders: ["host", "x-a", "X-B"]) == "host:h\nx-a:one two,three\nx-b:\"q r\"\n")
    }

    // Oracle: botocore 1.43 (SigV4Auth, execute-api, us-east-1) signing the same requests at 20210309T162431Z.
    @Test("matches botocore: GET, no query")
    func botocoreGet() {
        var r = SigV4Request(method: "GET", path: "/dev/execution",
                             headers: [("Host", "abc123.execute-api.us-east-1.amazonaws.com")])
        let signer = SigV4Signer(credentials: SigV4Credentials(accessKeyId: "AKIDEXAMPLE",
            secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"), region: "us-east-1", service: "execute-api")
        let details = signer.sign(&r, date: 1_615_307_071)
        #expect(details.stringToSign == "AWS4-HMAC-SHA256\n20210309T162431Z\n20210309/us-east-1/execute-api/aws4_request\n"
            + "a4fa68bd7f85820c8ac7b05860ef81b1058194e3657e85f53fe4b178b0551f01")
        #expect(r.firstHeader("Authorization") == "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20210309/us-east-1/execute-api/"
            + "aws4_request, SignedHeaders=host;x-amz-date, "
            + "Signature=08aa8284669690c54110924069ba0c95528d111445b8ffd985dc4a4029c793ec")
    }

    @Test("matches botocore: POST with encoded path, dot segments, query, token, messy header")
    func botocorePost() {
        var r = SigV4Request(method: "POST", path: "/dev/a%20b/c%2Fd/./e/../f", query: "name=John%20Doe&b=2&a=1&a=0&empty",
                             headers: [("Host", "abc123.execute-api.us-east-1.amazonaws.com"),
                                       ("Content-Type", "application/json"), ("X-Custom", "  a   b  ")],
                             body: Array("{\"k\":\"v\"}".utf8))
        let credentials = SigV4Credentials(accessKeyId: "AKIDEXAMPLE",
            secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", sessionToken: "TOKEN/+=")
        let signer = SigV4Signer(credentials: credentials, region: "us-east-1", service: "execute-api")
        let details = signer.sign(&r, date: 1_615_307_071)
        #expect(details.canonicalRequest == "POST\n/dev/a%2520b/c%252Fd/f\na=0&a=1&b=2&empty=&name=John%20Doe\n"
            + "content-type:application/json\nhost:abc123.execute-api.us-east-1.amazonaws.com\n"
            + "x-amz-date:20210309T162431Z\nx-amz-security-token:TOKEN/+=\nx-custom:a b\n\n"
            + "content-type;host;x-amz-date;x-amz-security-token;x-custom\n"
            + "666c1aa02e8068c6d5cc1d3295009432c16790bec28ec8ce119d0d1a18d61319")
        #expect(details.signature == "858a9f0f1c443173086990814f23f6ced3e39a218e2e0b17842b03ad59d96147")

        // botocore sends Content-Length unsigned; the verifier accepts it.
        r.headers.append(SigV4Header("Content-Length", "9"))
        let verifier = SigV4Verifier(region: "us-east-1") { $0 == "AKIDEXAMPLE" ? credentials : nil }
        guard case .verified = verifier.verify(r, now: 1_615_307_071) else {
            Issue.record("botocore-equivalent request did not verify")
            return
        }
    }

    @Test("matches botocore: presigned URL (SigV4QueryAuth, expires 300)")
    func botocorePresign() {
        let r = SigV4Request(method: "GET", path: "/dev/p%C3%A9/x~y", query: "q=%E2%9C%93",
                             headers: [("Host", "abc123.execute-api.us-east-1.amazonaws.com")])
        let credentials = SigV4Credentials(accessKeyId: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
        let presigned = SigV4Signer(credentials: credentials, region: "us-east-1", service: "execute-api")
            .presignWithDetails(r, date: 1_615_307_071, expires: 300)
        #expect(presigned.details.canonicalRequest == "GET\n/dev/p%25C3%25A9/x~y\nX-Amz-Algorithm=AWS4-HMAC-SHA256&"
            + "X-Amz-Credential=AKIDEXAMPLE%2F20210309%2Fus-east-1%2Fexecute-api%2Faws4_request&X-Amz-Date=20210309T162431Z&"
            + "X-Amz-Expires=300&X-Amz-SignedHeaders=host&q=%E2%9C%93\nhost:abc123.execute-api.us-east-1.amazonaws.com\n\n"
            + "host\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(presigned.details.signature == "392144bf9a149f978cc137e95d4eb177697fc186541d79689cc5809de584c645")

        // botocore's URL, its parameter order, verifies.
        var fromBotocore = r
        fromBotocore.query = "q=%E2%9C%93&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20210309%2F"
            + "us-east-1%2Fexecute-api%2Faws4_request&X-Amz-Date=20210309T162431Z&X-Amz-Expires=300&"
            + "X-Amz-SignedHeaders=host&X-Amz-Signature=392144bf9a149f978cc137e95d4eb177697fc186541d79689cc5809de584c645"
        let verifier = SigV4Verifier(region: "us-east-1") { $0 == "AKIDEXAMPLE" ? credentials : nil }
        guard case .verified = verifier.verify(fromBotocore, now: 1_615_307_071 + 300) else {
            Issue.record("botocore presigned URL did not verify")
            return
        }
        guard case .failed(let f) = verifier.verify(fromBotocore, now: 1_615_307_071 + 301) else {
            Issue.record("expired presigned URL verified")
            return
        }
        #expect(f.message == "Signature expired: 20210309T162431Z is now earlier than 20210309T162432Z (20210309T162932Z - 5 min.)")
    }

    @Test("SigV4Request initializers and header helpers")
    func requestHelpers() {
        var r = SigV4Request(method: "GET", path: "/", headers: [("A", "1"), ("a", "2"), ("B", "3")])
        #expect(r == SigV4Request(method: "GET", path: "/", headers: [SigV4Header("A", "1"), SigV4Header("a", "2"), SigV4Header("B", "3")]))
        #expect(r.headerValues("A") == ["1", "2"])
        #expect(r.firstHeader("b") == "3")
        r.removeHeaders(named: "A")
        #expect(r.headers == [SigV4Header(name: "B", value: "3")])
        #expect(SigV4Request(method: "GET", path: "/").headers.isEmpty)
    }
}
