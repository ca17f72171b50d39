import GatehouseHTTP
import GatehouseMapping
import GatehouseModel
#if canImport(Glibc)
import Glibc
#endif

/// A template with no reference, directive or escape renders as its own text in Velocity, so
/// it needs no engine (MOCK's `{"statusCode": 200}`). Any other template goes to the engine
/// (`render` yields nil).
enum LiteralTemplate {
    /// Whether the template is plain text (checked without copying it).
    static func isLiteral(_ template: String) -> Bool {
        !template.utf8.contains { $0 == UInt8(ascii: "$") || $0 == UInt8(ascii: "#") || $0 == UInt8(ascii: "\\") }
    }

    static func render(_ template: String) -> [UInt8]? {
        isLiteral(template) ? Array(template.utf8) : nil
    }
}

/// Phase 8: template selection by Content-Type, `passthroughBehavior`, and the request
/// template rendered by the mapping engine.
enum RequestMapping {
    static func integrationBody(_ request: HTTPRequest, integration: Integration, binaryMediaTypes: [String] = [],
                                scope: @autoclosure () -> RequestScope, cache: TemplateCache,
                                overrides: inout VTLMap?) -> Result<[UInt8], GatewayError> {
        // Proxy integrations pass the request through untouched.
        if integration.type == .httpProxy || integration.type == .awsProxy { return .success(request.body) }
        var body = request.body
        if integration.contentHandling != nil || !binaryMediaTypes.isEmpty {
            let binary = BinaryPayload.isBinary(request.headers["Content-Type"], binaryMediaTypes)
            guard let converted = BinaryPayload.convert(body, binary: binary, integration.contentHandling) else {
                return .failure(.internalServerError)
            }
            body = converted
        }
        let contentType = mediaType(request.headers["Content-Type"]) ?? "application/json"
        let templates = integration.requestTemplates
        if let template = templates[contentType] {
            switch TemplateRenderer.render(template, body: body, scope: scope(), cache: cache) {
            case .failure(let e): return .failure(e)
            case .success(let r):
                overrides = r.overrides
                return .success(r.body)
            }
        }
        switch integration.passthroughBehavior {
        case .whenNoMatch:
            return .success(body)
        case .whenNoTemplates:
            return templates.isEmpty ? .success(body) : .failure(.unsupportedMediaType)
        case .never:
            return .failure(.unsupportedMediaType)
        }
    }

    /// `application/json; charset=utf-8` → `application/json`. Byte-wise: this runs per request.
    static func mediaType(_ header: String?) -> String? {
        guard let header else { return nil }
        var u = Array(header.utf8)[...]
        if let semi = u.firstIndex(of: 0x3B) { u = u[..<semi] }
        while let f = u.first, f == 0x20 || f == 0x09 { u = u.dropFirst() }
        while let l = u.last, l == 0x20 || l == 0x09 { u = u.dropLast() }
        guard !u.isEmpty else { return nil }
        return String(decoding: u.map { $0 >= 0x41 && $0 <= 0x5A ? $0 | 0x20 : $0 }, as: UTF8.self)
    }
}

/// Phase 10: the integration response whose `selectionPattern` matches the backend status
/// (for non-proxy AWS and HTTP integrations the pattern is matched against the status code),
/// else `default`. With neither, AWS answers 500 ("No match for output mapping and no default
/// output mapping specified").
enum ResponseMapping {
    static func methodResponse(_ outcome: IntegrationOutcome, integration: Integration, requestId: String,
                               scope: RequestScope? = nil, cache: TemplateCache? = nil,
                               accept: String? = nil) -> Result<HTTPResponse, GatewayError> {
        let proxy = integration.type == .httpProxy || integration.type == .awsProxy
        if proxy, let raw = outcome.rawHeaders {
            // The request id goes first among the upstream's lines, written with them.
            var r = HTTPResponse(status: outcome.status, body: outcome.body)
            r.rawHeaderLines = ProxyHeaders.filteredLines(raw, requestId: requestId)
            return .success(r)
        }
        var headers = HTTPHeaders(capacity: outcome.headers.count + 2)
        headers.add("x-amzn-RequestId", requestId)
        if proxy {
            for (n, v) in outcome.headers.fields {
                switch ProxyHeaders.disposition(n) {
                case .pass: headers.add(n, v)
                case .drop: continue
                case .remap: headers.add("x-amzn-Remapped-\(n)", v)
                }
            }
            return .success(HTTPResponse(status: outcome.status, headers: headers, body: outcome.body))
        }
        let statusText = String(outcome.status)
        var chosen: IntegrationResponseSpec?
        for r in integration.responses where r.selectionPattern != "default" {
            // Compiled once per gateway when there is a cache (every served request has one).
            let compiled = cache.map { $0.selectionRegex(r.selectionPattern) } ?? (try? Regex(r.selectionPattern))
            if let regex = compiled, (try? regex.wholeMatch(in: statusText)) != nil {
                chosen = r
                break
            }
        }
        if chosen == nil { chosen = integration.responses.first { $0.selectionPattern == "default" } }
        guard var response = chosen else { return .failure(.internalServerError) }
        // The response template: the only one, else the one for the client's Accept, else JSON.
        let mediaType = responseMediaType(response.responseTemplates, accept: accept)
        if mediaType != "application/json", let t = response.responseTemplates[mediaType] {
            response.responseTemplates["application/json"] = t
        }
        headers.add("Content-Type", mediaType)
        if !response.headerMappings.isEmpty {
            ResponseParameters.apply(response.headerMappings, outcome: outcome, scope: scope,
                                     stageVariables: scope?.match.stage.variables ?? [:], to: &headers)
        }
        if let handling = response.contentHandling {
            // CONVERT_TO_TEXT base64-encodes the backend's payload for the template;
            // CONVERT_TO_BINARY decodes it (templates do not apply to binary answers).
            if handling == .convertToBinary {
                let text = response.responseTemplates["application/json"].flatMap(LiteralTemplate.render)
                    ?? outcome.body
                guard let bytes = Base64.decode(String(decoding: text, as: UTF8.self)) else {
                    return .failure(.internalServerError)
                }
                return .success(HTTPResponse(status: response.statusCode, headers: headers, body: bytes))
            }
            var converted = outcome
            converted.body = Array(Base64.encode(outcome.body).utf8)
            return methodResponseBody(converted, response, headers: headers, scope: scope, cache: cache)
        }
        return methodResponseBody(outcome, response, headers: headers, scope: scope, cache: cache)
    }

    static func responseMediaType(_ templates: [String: String], accept: String?) -> String {
        if templates.count == 1, let only = templates.keys.first { return only }
        if let accept {
            for part in accept.split(separator: ",") {
                if let m = RequestMapping.mediaType(String(part)), templates[m] != nil { return m }
            }
        }
        return "application/json"
    }

    static func methodResponseBody(_ outcome: IntegrationOutcome, _ response: IntegrationResponseSpec, headers: HTTPHeaders,
                                   scope: RequestScope?, cache: TemplateCache?) -> Result<HTTPResponse, GatewayError> {
        var headers = headers
        if let template = response.responseTemplates["application/json"] {
            var status = response.statusCode
            let body: [UInt8]
            if let literal = LiteralTemplate.render(template) {
                body = literal
            } else {
                guard let scope, let cache else { return .failure(.internalServerError) }
                switch TemplateRenderer.render(template, body: outcome.body, scope: scope, cache: cache) {
                case .failure(let e): return .failure(e)
                case .success(let r):
                    body = r.body
                    // $context.responseOverride: the status and headers a template sets.
                    if case .map(let ro)? = r.overrides?.get("responseOverride") {
                        if let s = ro.get("status"), let n = Int(s.javaString), (100...599).contains(n) { status = n }
                        if case .map(let h)? = ro.get("header") {
                            for (k, v) in h.entries { headers.set(k, v.javaString) }
                        }
                    }
                }
            }
            return .success(HTTPResponse(status: status, headers: headers, body: body))
        }
        return .success(HTTPResponse(status: response.statusCode, headers: headers, body: outcome.body))
    }
}

/// What a proxy does with an upstream response header. Hop-by-hop headers and the framing
/// are the gateway's own; headers API Gateway sets itself come back renamed
/// `x-amzn-Remapped-<name>`, as AWS does for REST APIs (seen for Date, Server and
/// WWW-Authenticate; Authorization by the same rule).
public enum ProxyHeaders {
    public enum Disposition { case pass, drop, remap }

    public static func disposition(_ name: String) -> Disposition {
        var name = name
        return name.withUTF8 { disposition(bytes: $0) }
    }

    /// The upstream's header lines with `disposition` applied byte-wise: passed lines copied,
    /// remapped ones prefixed `x-amzn-Remapped-`, dropped ones left out.
    /// With `requestId`, an `x-amzn-RequestId` line comes first.
    public static func filteredLines(_ raw: [UInt8], requestId: String? = nil) -> [UInt8] {
        raw.withUnsafeBufferPointer { u in
            var lines = 0
            for b in u where b == 0x0A { lines += 1 }
            let idLine = requestId.map { 20 + $0.utf8.count } ?? 0
            return .writing(capacity: idLine + u.count + 16 * (lines + 1)) { w in
                if let requestId {
                    w.write("x-amzn-RequestId: ")
                    w.writeFieldValue(requestId)
                    w.write("\r\n")
                }
                guard let base = u.baseAddress else { return }
                var start = 0
                while start < u.count {
                    // The line's end by `memchr`, through the LF.
                    let lf = memchr(base + start, 0x0A, u.count - start)
                    let end = lf.map { UnsafePointer<UInt8>($0.assumingMemoryBound(to: UInt8.self)) - base + 1 } ?? u.count
                    var colon = start
                    while colon < end && u[colon] != 0x3A { colon += 1 }
                    let name = UnsafeBufferPointer(rebasing: u[start..<colon])
                    switch disposition(bytes: name) {
                    case .pass: w.write(UnsafeBufferPointer(rebasing: u[start..<end]))
                    case .remap:
                        w.write("x-amzn-Remapped-")
                        w.write(UnsafeBufferPointer(rebasing: u[start..<end]))
                    case .drop: break
                    }
                    start = end
                }
            }
        }
    }

    /// The rule itself, over a name's bytes, by its length first (this runs per upstream
    /// header line). Dropped: hop-by-hop and framing headers. Remapped: `Date`, `Server`,
    /// `WWW-Authenticate`, `Authorization`.
    static func disposition(bytes: UnsafeBufferPointer<UInt8>) -> Disposition {
        let name = UnsafeRawBufferPointer(bytes)
        func named(_ s: StaticString) -> Bool { asciiLowercaseEquals(name, s) }
        switch name.count {
        case 2: return named("te") ? .drop : .pass
        case 4: return named("date") ? .remap : .pass
        case 6: return named("server") ? .remap : .pass
        case 7: return named("trailer") || named("upgrade") ? .drop : .pass
        case 10: return named("connection") || named("keep-alive") ? .drop : .pass
        case 13: return named("authorization") ? .remap : .pass
        case 14: return named("content-length") ? .drop : .pass
        case 16:
            if named("proxy-connection") { return .drop }
            return named("www-authenticate") ? .remap : .pass
        case 17: return named("transfer-encoding") ? .drop : .pass
        case 18: return named("proxy-authenticate") ? .drop : .pass
        case 19: return named("proxy-authorization") ? .drop : .pass
        default: return .pass
        }
    }

    /// Request headers not forwarded upstream: hop-by-hop, framing, and `Host` (the
    /// upstream's own is sent). Compared without lowercasing, as this runs per header.
    public static func forwardable(_ name: String) -> Bool {
        let n = name.utf8.count
        guard n == 2 || n == 4 || n == 6 || n == 7 || n == 10 || n == 14 || n == 16 || n == 17 || n == 18 || n == 19 else {
            return true
        }
        for h in notForwarded where h.utf8.count == n && asciiCaseEquals(h, name) { return false }
        return true
    }

    static let notForwarded = ["connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "proxy-connection",
                               "te", "trailer", "transfer-encoding", "upgrade", "content-length", "host", "expect"]
}
