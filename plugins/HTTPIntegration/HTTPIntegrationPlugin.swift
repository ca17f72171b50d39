import GatehouseCore
import GatehouseHTTP
import GatehouseLoop
import GatehouseModel

/// HTTP and HTTP_PROXY integrations: the request goes to the integration `uri` (with
/// `${stageVariables.x}` and `{param}` filled in) through the loop's keep-alive pool.
///
/// HTTP_PROXY passes the method, query string, headers (less hop-by-hop ones, plus
/// `X-Forwarded-For`) and body through, and the upstream's answer back. HTTP sends only what
/// `requestParameters` mapped and the mapped body; its answer goes through the integration
/// responses.
public final class HTTPIntegrationPlugin: IntegrationPlugin {
    public let name = "http"
    let pool: HTTPClientPool
    /// Integration URIs taken apart once, by their text (this plugin lives on one loop).
    private var templates: [String: URITemplate] = [:]
    /// The template used last, checked before the table: most requests repeat an integration,
    /// and comparing a URI is cheaper than hashing it.
    private var lastTemplate: (uri: String, template: URITemplate)?

    public init(pool: HTTPClientPool) {
        self.pool = pool
    }

    public func accepts(_ integration: Integration) -> Bool {
        integration.type == .http || integration.type == .httpProxy
    }

    public func invoke(_ call: IntegrationCall, loop: EventLoop,
                       done: @escaping (Result<IntegrationOutcome, IntegrationFailure>) -> Void) {
        let integration = call.integration
        let proxy = integration.type == .httpProxy
        let template: URITemplate
        if let last = lastTemplate, last.uri == integration.uri {
            template = last.template
        } else if let t = templates[integration.uri] {
            template = t
            lastTemplate = (integration.uri, t)
        } else {
            template = URITemplate(integration.uri)
            templates[integration.uri] = template
            lastTemplate = (integration.uri, template)
        }
        let url: HTTPURL
        if let fixed = template.fixed {
            url = fixed
        } else if var base = template.authority {
            // Only the path and query hold placeholders: fill them in, keep the parsed authority.
            base.target = HTTPIntegrationPlugin.expand(template, call)
            url = base
        } else if let u = HTTPURL(HTTPIntegrationPlugin.expand(template, call)) {
            url = u
        } else {
            return done(.failure(.failed("integration uri is not an http(s) URL: \(HTTPIntegrationPlugin.expand(template, call))")))
        }
        let method = integration.httpMethod == "ANY" ? call.httpMethod : integration.httpMethod

        // The URI's own target as it is, unless a query is added to it (or an empty `?` dropped).
        var target = url.target
        if proxy && !call.query.isEmpty || !call.parameters.query.isEmpty || target.utf8.last == 0x3F {
            target = url.path
            var query = url.query
            if proxy && !call.query.isEmpty { query = query.isEmpty ? call.query : query + "&" + call.query }
            for (n, v) in call.parameters.query {
                if !query.isEmpty { query += "&" }
                query += QueryString.encoded(n, keepSlash: false) + "=" + QueryString.encoded(v, keepSlash: false)
            }
            if !query.isEmpty { target += "?" + query }
        }

        var headers = HTTPHeaders(capacity: call.headers.count + 4)
        if proxy {
            var forwardedFor: String?
            for (n, v) in call.headers.fields where ProxyHeaders.forwardable(n) {
                if asciiCaseEquals(n, "X-Forwarded-For") { forwardedFor = v; continue }
                headers.add(n, v)
            }
            if !call.sourceIp.isEmpty {
                headers.add("X-Forwarded-For", forwardedFor.map { "\($0), \(call.sourceIp)" } ?? call.sourceIp)
            }
            headers.add("X-Forwarded-Proto", call.clientTLS ? "https" : "http")
        } else {
            headers.add("Content-Type", call.headers["Content-Type"] ?? "application/json")
            headers.add("Accept", call.headers["Accept"] ?? "application/json")
            headers.add("User-Agent", "AmazonAPIGateway_\(call.apiId)")
        }
        headers.add("X-Amzn-Apigateway-Api-Id", call.apiId)
        for (n, v) in call.parameters.headers { headers.set(n, v) }

        let request = HTTPClientRequest(
            host: url.host, port: url.port, method: method, target: target, headers: headers, body: call.body,
            timeoutMillis: UInt64(integration.timeoutMillis), isTLS: url.isTLS)
        pool.send(request) { done($0.asIntegrationResult { .unreachable("\($0)") }) }
    }

    /// Fills `${stageVariables.name}` and `{name}` (from the mapped path parameters, else the
    /// method's own path parameter of that name) into the integration URI.
    static func expand(_ t: URITemplate, _ call: IntegrationCall) -> String {
        var out = ""
        for part in t.parts {
            switch part {
            case .text(let s): out += s
            case .stageVariable(let n): out += call.stageVariables[n] ?? ""
            case .parameter(let n, let raw):
                if let v = call.parameters.path[n] ?? call.pathParameter(n) {
                    out += QueryString.encoded(v, keepSlash: true)
                } else {
                    out += raw
                }
            }
        }
        return out
    }
}

/// An integration URI split into text, `${stageVariables.x}` and `{param}` parts; one with no
/// placeholder is parsed to its URL once.
struct URITemplate {
    enum Part {
        case text(String)
        case stageVariable(String)
        /// The parameter's name (without a greedy `+`) and the placeholder as written.
        case parameter(String, raw: String)
    }

    let parts: [Part]
    let fixed: HTTPURL?
    /// When the scheme and authority are plain text: the URL parsed from them, and `parts`
    /// then spell only the target (path and query).
    let authority: HTTPURL?

    init(_ uri: String) {
        var parts: [Part] = []
        var rest = Substring(uri)
        var text = ""
        while let open = rest.firstIndex(of: "{"), let close = rest[open...].firstIndex(of: "}") {
            let dollar = open > rest.startIndex && rest[rest.index(before: open)] == "$"
            text += rest[..<(dollar ? rest.index(before: open) : open)]
            let name = String(rest[rest.index(after: open)..<close])
            if dollar && name.hasPrefix("stageVariables.") {
                if !text.isEmpty { parts.append(.text(text)); text = "" }
                parts.append(.stageVariable(String(name.dropFirst("stageVariables.".count))))
            } else if dollar {
                text += "${\(name)}"
            } else {
                if !text.isEmpty { parts.append(.text(text)); text = "" }
                parts.append(.parameter(name.hasSuffix("+") ? String(name.dropLast()) : name, raw: "{\(name)}"))
            }
            rest = rest[rest.index(after: close)...]
        }
        text += rest
        if !text.isEmpty { parts.append(.text(text)) }
        if parts.count <= 1, case .text(let t)? = parts.first ?? .text("") {
            fixed = HTTPURL(t)
        } else {
            fixed = nil
        }
        // Split a leading `scheme://authority/path…` text part at the path, if that is clean.
        var auth: HTTPURL?
        if fixed == nil, case .text(let t)? = parts.first {
            let u = Array(t.utf8)
            var k = 0
            while k + 2 < u.count, !(u[k] == 0x3A && u[k + 1] == 0x2F && u[k + 2] == 0x2F) { k += 1 }
            if k + 2 < u.count, let slash = u[(k + 3)...].firstIndex(of: 0x2F),
               let base = HTTPURL(String(decoding: u[..<slash], as: UTF8.self)), base.target == "/" {
                auth = base
                parts[0] = .text(String(decoding: u[slash...], as: UTF8.self))
            }
        }
        self.parts = parts
        authority = auth
    }
}
