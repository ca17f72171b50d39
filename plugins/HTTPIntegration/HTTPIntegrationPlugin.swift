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
        let uri = HTTPIntegrationPlugin.expand(integration.uri, call)
        guard let url = HTTPURL(uri) else {
            return done(.failure(.failed("integration uri is not an http(s) URL: \(uri)")))
        }
        let method = integration.httpMethod == "ANY" ? call.httpMethod : integration.httpMethod

        var target = url.path
        var query = url.query
        if proxy && !call.query.isEmpty { query = query.isEmpty ? call.query : query + "&" + call.query }
        for (n, v) in call.parameters.query {
            if !query.isEmpty { query += "&" }
            query += QueryString.encoded(n, keepSlash: false) + "=" + QueryString.encoded(v, keepSlash: false)
        }
        if !query.isEmpty { target += "?" + query }

        var headers = HTTPHeaders()
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
        pool.send(request) { result in
            switch result {
            case .success(let r):
                done(.success(IntegrationOutcome(status: r.status, headers: r.headers, body: r.body)))
            case .failure(.timedOut):
                done(.failure(.timedOut))
            case .failure(let e):
                done(.failure(.unreachable("\(e)")))
            }
        }
    }

    /// Fills `${stageVariables.name}` and `{name}` (from the mapped path parameters, else the
    /// method's own path parameter of that name) into the integration URI.
    static func expand(_ uri: String, _ call: IntegrationCall) -> String {
        guard uri.contains("{") else { return uri }
        var out = ""
        var rest = Substring(uri)
        while let open = rest.firstIndex(of: "{") {
            let dollar = open > rest.startIndex && rest[rest.index(before: open)] == "$"
            guard let close = rest[open...].firstIndex(of: "}") else { break }
            let name = String(rest[rest.index(after: open)..<close])
            out += rest[..<(dollar ? rest.index(before: open) : open)]
            if dollar {
                if name.hasPrefix("stageVariables.") {
                    out += call.stageVariables[String(name.dropFirst("stageVariables.".count))] ?? ""
                } else {
                    out += "${\(name)}"
                }
            } else {
                let plain = name.hasSuffix("+") ? String(name.dropLast()) : name
                if let v = call.parameters.path[plain] ?? call.pathParameters[plain] {
                    out += QueryString.encoded(v, keepSlash: true)
                } else {
                    out += "{\(name)}"
                }
            }
            rest = rest[rest.index(after: close)...]
        }
        out += rest
        return out
    }
}
