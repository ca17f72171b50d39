import GatehouseHTTP
import GatehouseJSON
import GatehouseMapping
import GatehouseModel
import GatehouseObserve

/// Parsed mapping templates, by text, and compiled `selectionPattern`s. One per gateway (per
/// worker loop), so no lock and no regex shared between threads: each is made once and reused
/// for every request.
final class TemplateCache {
    private var parsed: [String: Result<VTLTemplate, VTLParseError>] = [:]
    /// nil for a pattern that does not compile (it then matches nothing, as before).
    private var patterns: [String: Regex<AnyRegexOutput>?] = [:]

    func selectionRegex(_ pattern: String) -> Regex<AnyRegexOutput>? {
        if let hit = patterns[pattern] { return hit }
        let r = try? Regex(pattern)
        patterns[pattern] = .some(r)
        return r
    }

    func template(_ text: String) -> Result<VTLTemplate, VTLParseError> {
        if let hit = parsed[text] { return hit }
        let r: Result<VTLTemplate, VTLParseError>
        do { r = .success(try VTLTemplate(text)) } catch { r = .failure(error) }
        parsed[text] = r
        return r
    }
}

/// The method request as mappings see it: templates (`$input.params()`, `$context`,
/// `$stageVariables`), `requestParameters` and `responseParameters` (`method.request.*`,
/// `context.*`, `stageVariables.*`). Built only when a mapping needs it, once per request, and
/// handed on by reference.
final class RequestScope {
    let request: HTTPRequest
    let match: RouteMatch
    let requestId: String
    let requestTimeEpochMillis: Int64
    let callerArn: String?
    let callerAccount: String?
    let accessKey: String?
    let apiKey: String?

    init(request: HTTPRequest, match: RouteMatch, requestId: String, requestTimeEpochMillis: Int64,
         callerArn: String?, callerAccount: String?, accessKey: String?, apiKey: String?) {
        self.request = request
        self.match = match
        self.requestId = requestId
        self.requestTimeEpochMillis = requestTimeEpochMillis
        self.callerArn = callerArn
        self.callerAccount = callerAccount
        self.accessKey = accessKey
        self.apiKey = apiKey
    }

    func input(body: [UInt8], for template: VTLTemplate) -> MappingInput {
        var m = MappingInput(body: String(decoding: body, as: UTF8.self))
        if template.readsStageVariables {
            m.stageVariables = match.stage.variables.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        }
        if template.readsContext { m.context = context() }
        guard template.readsParams else { return m }
        m.path = match.pathParameterList.pairs.sorted { $0.name < $1.name }.map { ($0.name, $0.value) }
        var seen = Set<String>()
        if !request.query.isEmpty {
            for pair in request.query.split(separator: "&", omittingEmptySubsequences: true) {
                let eq = pair.firstIndex(of: "=")
                let k = QueryString.percentDecoded(eq.map { pair[..<$0] } ?? pair[...])
                guard !k.isEmpty, seen.insert(k).inserted else { continue }
                m.querystring.append((k, eq.map { QueryString.percentDecoded(pair[pair.index(after: $0)...]) } ?? ""))
            }
        }
        var seenHeaders = Set<String>()
        for (n, v) in request.headers.fields {
            let lower = n.lowercased()
            guard !MappingInput.hiddenHeaders.contains(lower), seenHeaders.insert(lower).inserted else { continue }
            m.header.append((n, v))
        }
        return m
    }

    /// `context.a.b` as a mapping reads it: text as it is, other values as JSON, null absent.
    static func contextValue(_ dotted: String, in context: JSONObject) -> String? {
        var v: JSONValue = .object(context)
        for part in dotted.split(separator: ".") {
            guard let next = v[String(part)] else { return nil }
            v = next
        }
        switch v {
        case .string(let s): return s
        case .null: return nil
        default: return String(decoding: v.serialized(), as: UTF8.self)
        }
    }

    /// `$context`, with the variables API Gateway documents for mapping templates.
    func context() -> JSONObject {
        var identity = JSONObject()
        identity["sourceIp"] = .string(request.remoteAddress)
        identity["userAgent"] = request.headers["User-Agent"].map { .string($0) } ?? .null
        identity["caller"] = callerArn.map { .string($0) } ?? .null
        identity["user"] = accessKey.map { .string($0) } ?? .null
        identity["userArn"] = callerArn.map { .string($0) } ?? .null
        identity["accountId"] = callerAccount.map { .string($0) } ?? .null
        identity["accessKey"] = accessKey.map { .string($0) } ?? .null
        identity["apiKey"] = apiKey.map { .string($0) } ?? .null
        identity["apiKeyId"] = .null
        identity["cognitoIdentityId"] = .null
        identity["cognitoIdentityPoolId"] = .null
        identity["cognitoAuthenticationType"] = .null
        identity["cognitoAuthenticationProvider"] = .null
        identity["principalOrgId"] = .null
        var c = JSONObject()
        c["accountId"] = .string(match.api.accountId)
        c["apiId"] = .string(match.api.id)
        c["authorizer"] = .object(JSONObject())
        let host = request.headers["Host"] ?? ""
        c["domainName"] = .string(host)
        c["domainPrefix"] = .string(String(host.split(separator: ".").first ?? ""))
        c["extendedRequestId"] = .string(requestId)
        c["httpMethod"] = .string(request.method)
        c["identity"] = .object(identity)
        c["path"] = .string("/" + match.stage.name + (match.path.hasPrefix("/") ? "" : "/") + match.path)
        c["protocol"] = .string("HTTP/1.1")
        c["requestId"] = .string(requestId)
        c["requestTime"] = .string(AccessLogFormat.clfTime(epochMillis: requestTimeEpochMillis))
        c["requestTimeEpoch"] = .int(requestTimeEpochMillis)
        c["resourceId"] = .string(match.resource.path)
        c["resourcePath"] = .string(match.resource.path)
        c["stage"] = .string(match.stage.name)
        return c
    }
}

/// Renders a template for the pipeline: the literal fast path, else the engine. A template
/// that does not parse or fails while rendering answers 500, as API Gateway does.
enum TemplateRenderer {
    static func render(_ text: String, body: [UInt8], scope: @autoclosure () -> RequestScope, cache: TemplateCache)
        -> Result<(body: [UInt8], overrides: VTLMap?), GatewayError> {
        if let literal = LiteralTemplate.render(text) { return .success((literal, nil)) }
        switch cache.template(text) {
        case .failure:
            return .failure(.internalServerError)
        case .success(let t):
            do {
                let (out, overrides) = try renderMapping(t, scope().input(body: body, for: t))
                return .success((Array(out.utf8), overrides))
            } catch {
                return .failure(.internalServerError)
            }
        }
    }
}

/// `responseParameters`: method response headers from the integration response, static values,
/// stage variables and `$context`.
enum ResponseParameters {
    static func apply(_ mappings: [(header: String, source: String)], outcome: IntegrationOutcome,
                      scope: RequestScope?, stageVariables: [String: String], to headers: inout HTTPHeaders) {
        for (header, source) in mappings {
            if let v = value(source, outcome: outcome, scope: scope, stageVariables: stageVariables) {
                headers.set(header, v)
            }
        }
    }

    static func value(_ source: String, outcome: IntegrationOutcome, scope: RequestScope?,
                      stageVariables: [String: String]) -> String? {
        if source.count >= 2 && source.hasPrefix("'") && source.hasSuffix("'") {
            return String(source.dropFirst().dropLast())
        }
        if source.hasPrefix("stageVariables.") { return stageVariables[String(source.dropFirst("stageVariables.".count))] }
        if source.hasPrefix("integration.response.header.") {
            return upstreamHeaders(outcome, String(source.dropFirst("integration.response.header.".count))).last
        }
        if source.hasPrefix("integration.response.multivalueheader.") {
            let all = upstreamHeaders(outcome, String(source.dropFirst("integration.response.multivalueheader.".count)))
            return all.isEmpty ? nil : all.joined(separator: ",")
        }
        if source == "integration.response.body" { return String(decoding: outcome.body, as: UTF8.self) }
        if source.hasPrefix("integration.response.body.") {
            // integration.response.body.a.b is the JSONPath $.a.b of the body.
            let path = "$." + source.dropFirst("integration.response.body.".count)
            return JSONBodyPath.read(outcome.body, path)
        }
        if source.hasPrefix("context."), let scope {
            return RequestScope.contextValue(String(source.dropFirst("context.".count)), in: scope.context())
        }
        return nil
    }

    /// Every value of header `name` in the backend's answer.
    static func upstreamHeaders(_ outcome: IntegrationOutcome, _ name: String) -> [String] {
        var out = outcome.headers.values(name)
        if let raw = outcome.rawHeaders {
            for line in String(decoding: raw, as: UTF8.self).split(separator: "\r\n") {
                guard let colon = line.firstIndex(of: ":") else { continue }
                if asciiCaseEquals(String(line[..<colon]), name) {
                    out.append(String(line[line.index(after: colon)...]).trimmingCharacters(inSpaces: ()))
                }
            }
        }
        return out
    }
}

extension String {
    func trimmingCharacters(inSpaces: ()) -> String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" { s = s.dropLast() }
        return String(s)
    }
}

/// Binary payloads: `binaryMediaTypes` (with `*` wildcards, as `image/*` or `*/*`) and
/// `contentHandling`.
enum BinaryPayload {
    static func isBinary(_ contentType: String?, _ types: [String]) -> Bool {
        guard !types.isEmpty, let ct = RequestMapping.mediaType(contentType) else { return false }
        return types.contains { t in
            let p = t.lowercased()
            if p == ct || p == "*/*" { return true }
            if p.hasSuffix("/*") { return ct.hasPrefix(p.dropLast()) }
            return false
        }
    }

    /// The bytes `contentHandling` makes of a payload; nil when base64 does not decode
    /// (API Gateway answers 500).
    static func convert(_ body: [UInt8], binary: Bool, _ handling: ContentHandling?) -> [UInt8]? {
        switch (handling, binary) {
        case (.convertToText?, true): return Array(Base64.encode(body).utf8)
        case (.convertToBinary?, false): return Base64.decode(String(decoding: body, as: UTF8.self))
        default: return body
        }
    }
}

/// `$context.requestOverride.header|querystring|path` set by a request template, applied to
/// the integration request over what `requestParameters` mapped.
enum RequestOverride {
    static func apply(_ ro: VTLMap, to p: inout IntegrationParameters) {
        if case .map(let h)? = ro.get("header") {
            for (k, v) in h.entries {
                p.headers.removeAll { asciiCaseEquals($0.name, k) }
                p.headers.append((k, v.javaString))
            }
        }
        if case .map(let q)? = ro.get("querystring") {
            for (k, v) in q.entries {
                p.query.removeAll { $0.name == k }
                p.query.append((k, v.javaString))
            }
        }
        if case .map(let path)? = ro.get("path") {
            for (k, v) in path.entries { p.path[k] = v.javaString }
        }
    }
}
