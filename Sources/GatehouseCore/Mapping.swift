import GatehouseHTTP
import GatehouseModel

/// Phase 8 for what the spine supports: template selection by Content-Type and
/// `passthroughBehavior`. Rendering VTL templates is the mapping engine's job (not yet here),
/// so a request that selects a template is refused with a 500 rather than sent unmapped.
enum RequestMapping {
    static func integrationBody(_ request: HTTPRequest, integration: Integration) -> Result<[UInt8], GatewayError> {
        // Proxy integrations pass the request through untouched.
        if integration.type == .httpProxy || integration.type == .awsProxy { return .success(request.body) }
        let contentType = mediaType(request.headers["Content-Type"]) ?? "application/json"
        let templates = integration.requestTemplates
        if templates[contentType] != nil {
            return .failure(.internalServerError)
        }
        switch integration.passthroughBehavior {
        case .whenNoMatch:
            return .success(request.body)
        case .whenNoTemplates:
            return templates.isEmpty ? .success(request.body) : .failure(.unsupportedMediaType)
        case .never:
            return .failure(.unsupportedMediaType)
        }
    }

    /// `application/json; charset=utf-8` → `application/json`.
    static func mediaType(_ header: String?) -> String? {
        guard let header else { return nil }
        let base = header.split(separator: ";", maxSplits: 1).first.map { $0.trimmingSpaces() } ?? ""
        return base.isEmpty ? nil : base.lowercased()
    }
}

/// Phase 10: the integration response whose `selectionPattern` matches the backend status
/// (for non-proxy AWS and HTTP integrations the pattern is matched against the status code),
/// else `default`. With neither, AWS answers 500 ("No match for output mapping and no default
/// output mapping specified").
enum ResponseMapping {
    static func methodResponse(_ outcome: IntegrationOutcome, integration: Integration,
                               requestId: String) -> Result<HTTPResponse, GatewayError> {
        var headers = HTTPHeaders()
        headers.add("x-amzn-RequestId", requestId)
        if integration.type == .httpProxy || integration.type == .awsProxy {
            for (n, v) in outcome.headers.fields where !hopByHop(n) { headers.add(n, v) }
            return .success(HTTPResponse(status: outcome.status, headers: headers, body: outcome.body))
        }
        let statusText = String(outcome.status)
        var chosen: IntegrationResponseSpec?
        for r in integration.responses where r.selectionPattern != "default" {
            if let regex = try? Regex(r.selectionPattern), (try? regex.wholeMatch(in: statusText)) != nil {
                chosen = r
                break
            }
        }
        if chosen == nil { chosen = integration.responses.first { $0.selectionPattern == "default" } }
        guard let response = chosen else { return .failure(.internalServerError) }
        if response.responseTemplates["application/json"] != nil {
            // A response template needs the mapping engine; refuse rather than send unmapped.
            return .failure(.internalServerError)
        }
        headers.add("Content-Type", "application/json")
        return .success(HTTPResponse(status: response.statusCode, headers: headers, body: outcome.body))
    }

    static func hopByHop(_ name: String) -> Bool {
        ["connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
         "transfer-encoding", "upgrade", "content-length", "date"].contains(name.lowercased())
    }
}
