@testable import GatehouseModel
import Testing
@testable import GatehouseCore

func api(_ id: String, paths: [String: [String]]) -> RestApiSpec {
    var resources: [ResourceSpec] = []
    for (p, methods) in paths.sorted(by: { $0.key < $1.key }) {
        let segs: [PathSegment] = p.split(separator: "/").map { s in
            if s.hasPrefix("{") && s.hasSuffix("+}") { return .greedy(String(s.dropFirst().dropLast(2))) }
            if s.hasPrefix("{") { return .parameter(String(s.dropFirst().dropLast())) }
            return .literal(String(s))
        }
        var m: [String: MethodSpec] = [:]
        for name in methods { m[name] = MethodSpec(httpMethod: name, authorization: .none, apiKeyRequired: false, integration: nil) }
        resources.append(ResourceSpec(path: p, segments: segs, methods: m))
    }
    return RestApiSpec(logicalId: id, id: id, name: id, region: "us-east-1", accountId: "222222222222",
                       stages: [StageSpec(name: "dev", variables: [:])], resources: resources, policy: nil)
}

@Suite struct RouterTests {
    let router = Router(apis: [api("aaaaaaaaaa", paths: [
        "/execution": ["POST"], "/items/{id}": ["GET"], "/items/special": ["GET"], "/{proxy+}": ["ANY"], "/": ["GET"],
    ])])

    @Test func stageIsTheFirstSegmentAndLiteralsBeatParametersBeatGreedy() throws {
        #expect(router.route(method: "POST", path: "/dev/execution", host: nil)?.resource.path == "/execution")
        #expect(router.route(method: "GET", path: "/dev/items/special", host: nil)?.resource.path == "/items/special")
        let byId = try #require(router.route(method: "GET", path: "/dev/items/42", host: nil))
        #expect(byId.resource.path == "/items/{id}")
        #expect(byId.pathParameters == ["id": "42"])
        let greedy = try #require(router.route(method: "DELETE", path: "/dev/a/b/c", host: nil))
        #expect(greedy.resource.path == "/{proxy+}")
        #expect(greedy.pathParameters == ["proxy": "a/b/c"])
        #expect(router.route(method: "GET", path: "/dev", host: nil)?.resource.path == "/")
    }

    @Test func unknownStageOrMethodDoesNotRoute() {
        #expect(router.route(method: "POST", path: "/prod/execution", host: nil) == nil)
        // The most specific resource wins first; a method it lacks is not looked up on
        // `{proxy+}` (API Gateway answers 403 Missing Authentication Token).
        #expect(router.route(method: "GET", path: "/dev/execution", host: nil) == nil)
    }

    @Test func hostAndLocalStackFormsChooseTheApi() {
        let two = Router(apis: [api("aaaaaaaaaa", paths: ["/x": ["GET"]]), api("bbbbbbbbbb", paths: ["/y": ["GET"]])])
        #expect(two.route(method: "GET", path: "/dev/y", host: "bbbbbbbbbb.execute-api.us-east-1.amazonaws.com")?.api.id == "bbbbbbbbbb")
        #expect(two.route(method: "GET", path: "/dev/y", host: "localhost:8080") == nil)
        #expect(two.route(method: "GET", path: "/restapis/aaaaaaaaaa/dev/_user_request_/x", host: nil)?.path == "/x")
        #expect(two.route(method: "GET", path: "/restapis/cccccccccc/dev/_user_request_/x", host: nil) == nil)
    }
}

@Suite struct GatewayResponseTests {
    @Test func accessDeniedMasksTheAccountAndUsesCapitalMessage() {
        let r = GatewayError.accessDenied(caller: "anonymous", resourceArn: "arn:aws:execute-api:us-east-1:222222222222:abc/dev/POST/execution",
                                          explicitDeny: false).response(requestId: "r")
        #expect(r.status == 403)
        #expect(r.headers["x-amzn-ErrorType"] == "AccessDeniedException")
        #expect(String(decoding: r.body, as: UTF8.self)
            == #"{"Message":"User: anonymous is not authorized to perform: execute-api:Invoke on resource: arn:aws:execute-api:us-east-1:********2222:abc/dev/POST/execution"}"#)
        let explicit = GatewayError.accessDenied(caller: "arn:aws:iam::1:user/a", resourceArn: "arn:aws:execute-api:us-east-1:222222222222:abc/dev/GET/",
                                                 explicitDeny: true).response(requestId: "r")
        #expect(String(decoding: explicit.body, as: UTF8.self).hasSuffix(#"abc/dev/GET/ with an explicit deny"}"#))
    }

    @Test func missingTokenIs403NotFound() {
        let r = GatewayError.missingAuthenticationToken.response(requestId: "r")
        #expect(r.status == 403)
        #expect(String(decoding: r.body, as: UTF8.self) == #"{"message":"Missing Authentication Token"}"#)
        #expect(r.headers["x-amzn-RequestId"] == "r")
    }
}

@Suite struct ProxyHeaderTests {
    @Test func upstreamLinesAreFilteredAndRemappedByteWise() {
        let raw = Array("Server: nginx\r\nDate: Wed\r\nContent-Type: text/plain\r\nCONTENT-LENGTH: 2\r\nconnection: keep-alive\r\nTransfer-Encoding: chunked\r\nwww-authenticate: Basic\r\nX-A: 1\r\n".utf8)
        let out = String(decoding: ProxyHeaders.filteredLines(raw), as: UTF8.self)
        #expect(out == "x-amzn-Remapped-Server: nginx\r\nx-amzn-Remapped-Date: Wed\r\nContent-Type: text/plain\r\nx-amzn-Remapped-www-authenticate: Basic\r\nX-A: 1\r\n")
        // The same rules as the string path.
        for (name, d) in [("Server", ProxyHeaders.Disposition.remap), ("Keep-Alive", .drop), ("X-Y", .pass)] {
            #expect(ProxyHeaders.disposition(name) == d)
        }
        // With the request id first, as a proxied answer is written.
        let withId = String(decoding: ProxyHeaders.filteredLines(Array("X-A: 1\r\n".utf8), requestId: "r-1"), as: UTF8.self)
        #expect(withId == "x-amzn-RequestId: r-1\r\nX-A: 1\r\n")
    }

    /// What happens to each upstream header: hop-by-hop and framing headers dropped, the ones
    /// API Gateway sets itself remapped, in any spelling; near misses pass.
    @Test func dispositionsFollowTheRule() {
        let dropped = ["connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "proxy-connection",
                       "te", "trailer", "transfer-encoding", "upgrade", "content-length"]
        let remapped = ["date", "server", "www-authenticate", "authorization"]
        var cases: [(String, ProxyHeaders.Disposition)] = []
        for (list, d) in [(dropped, ProxyHeaders.Disposition.drop), (remapped, .remap)] {
            for n in list {
                cases += [(n, d), (n.uppercased(), d), (n.prefix(1).uppercased() + n.dropFirst(), d),
                          (n + "x", .pass), (String(n.dropLast()), .pass), ("x" + n.dropFirst(), .pass)]
            }
        }
        cases += [("", .pass), ("a", .pass), ("X-Forwarded-For", .pass), ("Content-Type", .pass), ("Host", .pass),
                  ("Dat\r", .pass), ("-", .pass)]
        for (name, d) in cases {
            let bytes = Array(name.utf8)
            #expect(bytes.withUnsafeBufferPointer { ProxyHeaders.disposition(bytes: $0) } == d, "\(name)")
            #expect(ProxyHeaders.disposition(name) == d, "\(name)")
        }
    }
}
