import Foundation
import GatehouseSigV4
import Testing

/// The AWS SigV4 test suite (aws-c-auth's v4 folder), both ways: sign and verify.
@Suite("AWS SigV4 test suite")
struct SuiteTests {
    @Test("the fixtures are all there")
    func fixturesPresent() {
        #expect(SuiteCase.names.count == 38)
    }

    @Test("signing request.txt reproduces the header-form files", arguments: SuiteCase.names)
    func signHeaderForm(_ name: String) throws {
        let c = try SuiteCase.load(name)
        var request = try c.request()
        let details = c.signer.sign(&request, date: c.timestamp, signBody: true,
                                    addContentSHA256Header: c.signBody, signSessionToken: !c.omitSessionToken)
        #expect(details.canonicalRequest == (try c.text("header-canonical-request.txt")))
        #expect(details.stringToSign == (try c.text("header-string-to-sign.txt")))
        #expect(details.signature == (try c.text("header-signature.txt")))
        #expect(request == (try c.request("header-signed-request.txt")))
    }

    @Test("presigning request.txt reproduces the query-form files", arguments: SuiteCase.names)
    func presignQueryForm(_ name: String) throws {
        let c = try SuiteCase.load(name)
        let request = try c.request()
        let presigned = c.signer.presignWithDetails(request, date: c.timestamp, expires: c.expirationInSeconds,
                                                    signSessionToken: !c.omitSessionToken)
        #expect(presigned.details.canonicalRequest == (try c.text("query-canonical-request.txt")))
        #expect(presigned.details.stringToSign == (try c.text("query-string-to-sign.txt")))
        #expect(presigned.details.signature == (try c.text("query-signature.txt")))
        #expect(presigned.query == c.signer.presign(request, date: c.timestamp, expires: c.expirationInSeconds,
                                                    signSessionToken: !c.omitSessionToken))
        var signed = request
        signed.query = request.query.isEmpty ? presigned.query : request.query + "&" + presigned.query
        #expect(signed == (try c.request("query-signed-request.txt")))
    }

    @Test("the header-signed request verifies", arguments: SuiteCase.names)
    func verifyHeaderForm(_ name: String) throws {
        let c = try SuiteCase.load(name)
        let signed = try c.request("header-signed-request.txt")
        let result = c.verifier.verify(signed, now: c.timestamp)
        guard case .verified(let v) = result else {
            Issue.record("expected verified, got \(result)")
            return
        }
        let canonical = try c.text("header-canonical-request.txt").split(separator: "\n", omittingEmptySubsequences: false)
        #expect(v.signedHeaders.joined(separator: ";") == String(canonical[canonical.count - 2]))
        #expect(v.accessKeyId == c.accessKeyId)
        #expect(v.region == "us-east-1")
        #expect(v.service == "service")
        #expect(v.sessionToken == c.sessionToken)
        #expect(v.presigned == false)
        #expect(v.requestTime == c.timestamp)
    }

    @Test("the query-signed request verifies", arguments: SuiteCase.names)
    func verifyQueryForm(_ name: String) throws {
        let c = try SuiteCase.load(name)
        let signed = try c.request("query-signed-request.txt")
        let result = c.verifier.verify(signed, now: c.timestamp)
        guard case .verified(let v) = result else {
            Issue.record("expected verified, got \(result)")
            return
        }
        #expect(v.presigned)
        #expect(v.sessionToken == c.sessionToken)
        // Still valid at the end of its lifetime, expired one second later.
        #expect(c.verifier.verify(signed, now: c.timestamp + Int64(c.expirationInSeconds)) == result)
        guard case .failed(let f) = c.verifier.verify(signed, now: c.timestamp + Int64(c.expirationInSeconds) + 1) else {
            Issue.record("expected expiry")
            return
        }
        #expect(f.message == "Signature expired: 20150830T123600Z is now earlier than 20150830T123601Z "
            + "(20150830T133601Z - 60 min.)")
    }

    @Test("changing one signed part of the header-signed request is rejected", arguments: SuiteCase.names)
    func tamperHeaderForm(_ name: String) throws {
        let c = try SuiteCase.load(name)
        let signed = try c.request("header-signed-request.txt")
        let signedHeaderNames = c.verifier.verify(signed, now: c.timestamp).signedHeaderNames
        #expect(!signedHeaderNames.isEmpty)

        var variants: [(String, SigV4Request)] = []
        var r = signed
        r.method = tweakLast(r.method)
        variants.append(("method", r))
        r = signed
        r.path = tweakLast(r.path)
        variants.append(("path", r))
        for header in signedHeaderNames {
            r = signed
            let index = try #require(r.headers.firstIndex { $0.name.lowercased() == header })
            r.headers[index].value = tweakLast(r.headers[index].value)
            variants.append(("header \(header)", r))
        }
        if !signed.query.isEmpty {
            r = signed
            r.query = tweakLast(r.query)
            variants.append(("query", r))
        }
        if !signed.body.isEmpty {
            r = signed
            r.body[r.body.count - 1] ^= 1
            variants.append(("body", r))
        }
        r = signed
        let auth = try #require(r.headers.firstIndex { $0.name == "Authorization" })
        r.headers[auth].value = flipLastHex(r.headers[auth].value)
        variants.append(("signature", r))

        for (what, variant) in variants {
            guard case .failed = c.verifier.verify(variant, now: c.timestamp) else {
                Issue.record("changing the \(what) was not detected")
                continue
            }
        }
    }

    @Test("changing one signed part of the query-signed request is rejected", arguments: SuiteCase.names)
    func tamperQueryForm(_ name: String) throws {
        let c = try SuiteCase.load(name)
        let signed = try c.request("query-signed-request.txt")
        let signedHeaderNames = c.verifier.verify(signed, now: c.timestamp).signedHeaderNames
        #expect(!signedHeaderNames.isEmpty)

        var variants: [(String, SigV4Request)] = []
        var r = signed
        r.method = tweakLast(r.method)
        variants.append(("method", r))
        r = signed
        r.path = tweakLast(r.path)
        variants.append(("path", r))
        for header in signedHeaderNames {
            r = signed
            let index = try #require(r.headers.firstIndex { $0.name.lowercased() == header })
            r.headers[index].value = tweakLast(r.headers[index].value)
            variants.append(("header \(header)", r))
        }
        let parameters = signed.query.split(separator: "&").map(String.init)
        for (i, parameter) in parameters.enumerated() {
            var changed = parameters
            changed[i] = parameter.hasPrefix("X-Amz-Signature=") ? flipLastHex(parameter) : tweakLast(parameter)
            r = signed
            r.query = changed.joined(separator: "&")
            variants.append(("query parameter \(parameter.prefix(while: { $0 != "=" }))", r))
        }
        if !signed.body.isEmpty {
            r = signed
            r.body[r.body.count - 1] ^= 1
            variants.append(("body", r))
        }

        for (what, variant) in variants {
            guard case .failed = c.verifier.verify(variant, now: c.timestamp) else {
                Issue.record("changing the \(what) was not detected")
                continue
            }
        }
    }
}

extension SigV4Result {
    var signedHeaderNames: [String] {
        if case .verified(let v) = self { return v.signedHeaders }
        return []
    }
}
