import GatehouseJSON
import GatehousePolicy

/// Reads a Swagger 2.0 / OpenAPI 3 body with API Gateway's `x-amazon-apigateway-*` extensions
/// into the resources and methods of one API.
struct OpenAPILoader {
    let file: String
    let path: String
    var warnings: [String] = []

    init(file: String, path: String) {
        self.file = file
        self.path = path
    }

    func fail(_ at: String, _ reason: String) -> ConfigError {
        ConfigError(file: file, path: at.isEmpty ? path : "\(path).\(at)", reason: reason)
    }

    static let operations = ["get", "put", "post", "delete", "options", "head", "patch", "x-amazon-apigateway-any-method"]

    /// Security scheme name → what it demands of a caller.
    enum Scheme { case sigv4, apiKey, unsupported(String) }

    mutating func load(_ doc: JSONValue, api: inout RestApiSpec) throws(ConfigError) {
        guard case .object(let root) = doc else { throw fail("", "the API definition is not a mapping") }
        guard root["swagger"] != nil || root["openapi"] != nil else {
            throw fail("", "the API definition has neither `swagger` nor `openapi`")
        }
        if case .string(let title)? = root["info"]?["title"] { api.name = title }

        var schemes: [String: Scheme] = [:]
        let schemeMap = root["securityDefinitions"]?.objectValue ?? root["components"]?["securitySchemes"]?.objectValue
        for (name, def) in schemeMap?.members ?? [] {
            if def["x-amazon-apigateway-authtype"]?.stringValue?.lowercased() == "awssigv4" {
                schemes[name] = .sigv4
            } else if def["x-amazon-apigateway-authorizer"] != nil {
                schemes[name] = .unsupported("custom authorizer")
            } else if def["type"]?.stringValue == "apiKey", def["name"]?.stringValue?.lowercased() == "x-api-key" {
                schemes[name] = .apiKey
            } else {
                schemes[name] = .unsupported(def["type"]?.stringValue ?? "unknown")
            }
        }
        let defaultSecurity = root["security"]

        guard case .object(let paths)? = root["paths"] else { throw fail("paths", "missing") }
        for (resourcePath, item) in paths.members {
            let at = "paths.\(resourcePath)"
            guard resourcePath.hasPrefix("/") else { throw fail(at, "a path must start with /") }
            var resource = ResourceSpec(path: resourcePath, segments: try segments(resourcePath, at: at), methods: [:])
            guard case .object(let ops) = item else { throw fail(at, "not a mapping") }
            for (opName, op) in ops.members {
                let lower = opName.lowercased()
                guard OpenAPILoader.operations.contains(lower) else { continue }
                let method = lower == "x-amazon-apigateway-any-method" ? "ANY" : lower.uppercased()
                resource.methods[method] = try methodSpec(op, method: method, at: "\(at).\(opName)",
                                                          schemes: schemes, defaultSecurity: defaultSecurity)
            }
            api.resources.append(resource)
        }

        if let types = root["x-amazon-apigateway-binary-media-types"] {
            guard case .array(let items) = types else {
                throw fail("x-amazon-apigateway-binary-media-types", "expected a list of media types")
            }
            // CloudFormation escapes "/" in media types as "~1".
            api.binaryMediaTypes = items.compactMap(\.stringValue).map { $0.replacingOccurrencesOfTilde1() }
        }
        if let policyDoc = root["x-amazon-apigateway-policy"] {
            do {
                let policy = try ResourcePolicy(document: policyDoc)
                    .expandingExecuteApiShorthand(apiArnPrefix: api.executeApiArnPrefix)
                api.policy = policy
                for w in policy.warnings(apiArnPrefix: api.executeApiArnPrefix) {
                    warnings.append("\(file): x-amazon-apigateway-policy: \(w)")
                }
            } catch {
                throw fail("x-amazon-apigateway-policy", error.description)
            }
        }
    }

    func segments(_ p: String, at: String) throws(ConfigError) -> [PathSegment] {
        var out: [PathSegment] = []
        let parts = p.split(separator: "/", omittingEmptySubsequences: true)
        for (i, part) in parts.enumerated() {
            if part.hasPrefix("{") && part.hasSuffix("}") {
                let name = String(part.dropFirst().dropLast())
                if name.hasSuffix("+") {
                    guard i == parts.count - 1 else { throw fail(at, "a greedy {\(name)} must be the last segment") }
                    out.append(.greedy(String(name.dropLast())))
                } else {
                    out.append(.parameter(name))
                }
            } else {
                out.append(.literal(String(part)))
            }
        }
        return out
    }

    mutating func methodSpec(_ op: JSONValue, method: String, at: String, schemes: [String: Scheme],
                             defaultSecurity: JSONValue?) throws(ConfigError) -> MethodSpec {
        var auth = AuthorizationType.none
        var apiKey = false
        if case .array(let reqs)? = op["security"] ?? defaultSecurity {
            for req in reqs {
                for name in req.objectValue?.keys ?? [] {
                    switch schemes[name] {
                    case .sigv4?: auth = .awsIAM
                    case .apiKey?: apiKey = true
                    case .unsupported(let kind)?:
                        throw fail(at, "security scheme \"\(name)\" (\(kind)) is not supported yet")
                    case nil:
                        throw fail(at, "security scheme \"\(name)\" is not defined")
                    }
                }
            }
        }
        if let t = op["x-amazon-apigateway-auth"]?["type"]?.stringValue {
            guard let a = AuthorizationType(rawValue: t.uppercased()) else {
                throw fail("\(at).x-amazon-apigateway-auth.type", "unsupported authorization type \"\(t)\"")
            }
            auth = a
        }
        var spec = MethodSpec(httpMethod: method, authorization: auth, apiKeyRequired: apiKey, integration: nil)
        if let integ = op["x-amazon-apigateway-integration"] {
            spec.integration = try integration(integ, at: "\(at).x-amazon-apigateway-integration")
        } else {
            warnings.append("\(file): \(path).\(at): no x-amazon-apigateway-integration; the method answers 500")
        }
        return spec
    }

    /// API Gateway's limit on one mapping template.
    static let maxTemplateBytes = 300 * 1024

    func templates(_ v: JSONValue?, at: String) throws(ConfigError) -> [String: String] {
        let map = try stringMap(v, at: at)
        for (type, text) in map where text.utf8.count > OpenAPILoader.maxTemplateBytes {
            throw fail("\(at).\(type)", "the mapping template is \(text.utf8.count) bytes; API Gateway's limit is 300 KB")
        }
        return map
    }

    func stringMap(_ v: JSONValue?, at: String) throws(ConfigError) -> [String: String] {
        guard let v else { return [:] }
        guard case .object(let o) = v else { throw fail(at, "expected a mapping of strings") }
        var out: [String: String] = [:]
        for (k, item) in o.members {
            guard case .string(let s) = item else { throw fail("\(at).\(k)", "expected a string") }
            out[k] = s
        }
        return out
    }

    func integration(_ v: JSONValue, at: String) throws(ConfigError) -> Integration {
        guard case .object = v else { throw fail(at, "not a mapping") }
        guard let typeText = v["type"]?.stringValue else { throw fail(at, "type is missing") }
        guard let type = IntegrationType(rawValue: typeText.lowercased()) else {
            throw fail(at, "unknown integration type \"\(typeText)\"")
        }
        if let c = v["connectionType"]?.stringValue, c.uppercased() != "INTERNET" {
            // VPC_LINK reaches a private load balancer through AWS's network: nothing to map it to here.
            throw fail("\(at).connectionType", "\(c) is not supported; Gatehouse connects directly (INTERNET)")
        }
        let uri = v["uri"]?.stringValue ?? ""
        if type != .mock && uri.isEmpty { throw fail(at, "uri is missing") }
        let passText = v["passthroughBehavior"]?.stringValue?.lowercased() ?? "when_no_match"
        guard let pass = PassthroughBehavior(rawValue: passText) else {
            throw fail("\(at).passthroughBehavior", "unknown value \"\(passText)\"")
        }
        var timeout = 29_000
        if let t = v["timeoutInMillis"] {
            guard case .int(let n) = t, n >= 50, n <= 29_000 else {
                throw fail("\(at).timeoutInMillis", "must be an integer from 50 to 29000")
            }
            timeout = Int(n)
        }
        var responses: [IntegrationResponseSpec] = []
        if case .object(let rs)? = v["responses"] {
            for (pattern, r) in rs.members {
                let statusText: String
                switch r["statusCode"] {
                case .string(let s)?: statusText = s
                case .int(let n)?: statusText = String(n)
                default: throw fail("\(at).responses.\(pattern).statusCode", "missing")
                }
                guard let status = Int(statusText), (100...599).contains(status) else {
                    throw fail("\(at).responses.\(pattern).statusCode", "not an HTTP status: \(statusText)")
                }
                let rAt = "\(at).responses.\(pattern)"
                var spec = IntegrationResponseSpec(
                    selectionPattern: pattern, statusCode: status,
                    responseTemplates: try templates(r["responseTemplates"], at: "\(rAt).responseTemplates"),
                    responseParameters: try stringMap(r["responseParameters"], at: "\(rAt).responseParameters"))
                for (dest, source) in spec.responseParameters.sorted(by: { $0.key < $1.key }) {
                    // API Gateway refuses these at deployment with the same words.
                    let prefix = "method.response.header."
                    guard dest.hasPrefix(prefix), dest.count > prefix.count else {
                        throw fail("\(rAt).responseParameters", "Invalid mapping expression specified: \(dest)")
                    }
                    guard OpenAPILoader.validResponseSource(source) else {
                        throw fail("\(rAt).responseParameters", "Invalid mapping expression specified: \(source)")
                    }
                    spec.headerMappings.append((String(dest.dropFirst(prefix.count)), source))
                }
                if let ch = r["contentHandling"]?.stringValue {
                    guard let c = ContentHandling(rawValue: ch) else {
                        throw fail("\(rAt).contentHandling", "must be CONVERT_TO_TEXT or CONVERT_TO_BINARY, got \(ch)")
                    }
                    spec.contentHandling = c
                }
                responses.append(spec)
            }
        }
        let requestParameters = try stringMap(v["requestParameters"], at: "\(at).requestParameters")
        var mappings: [ParameterMappingEntry] = []
        for (destination, expression) in requestParameters.sorted(by: { $0.key < $1.key }) {
            // API Gateway refuses these at deployment with the same words.
            guard let source = ParameterSource(expression: expression) else {
                throw fail("\(at).requestParameters", "Invalid mapping expression specified: \(expression)")
            }
            guard let entry = ParameterMappingEntry(destination: destination, source: source) else {
                throw fail("\(at).requestParameters", "Invalid mapping expression specified: \(destination)")
            }
            mappings.append(entry)
        }
        var action: AWSServiceAction?
        if type == .aws || type == .awsProxy {
            // arn:aws:apigateway:{region}:{service}:action/{Action}
            let parts = uri.split(separator: ":", maxSplits: 5, omittingEmptySubsequences: false)
            guard parts.count == 6, parts[0] == "arn", parts[2] == "apigateway" else {
                throw fail("\(at).uri", "not an API Gateway service ARN: \(uri)")
            }
            if parts[5].hasPrefix("action/") {
                action = AWSServiceAction(region: String(parts[3]), service: String(parts[4]),
                                          action: String(parts[5].dropFirst("action/".count)))
            }
        }
        var handling: ContentHandling?
        if let ch = v["contentHandling"]?.stringValue {
            guard let c = ContentHandling(rawValue: ch) else {
                throw fail("\(at).contentHandling", "must be CONVERT_TO_TEXT or CONVERT_TO_BINARY, got \(ch)")
            }
            handling = c
        }
        return Integration(
            type: type, uri: uri, httpMethod: v["httpMethod"]?.stringValue?.uppercased() ?? "POST",
            credentials: v["credentials"]?.stringValue, passthroughBehavior: pass,
            requestTemplates: try templates(v["requestTemplates"], at: "\(at).requestTemplates"),
            requestParameters: requestParameters, parameterMappings: mappings,
            responses: responses, timeoutMillis: timeout, serviceAction: action, contentHandling: handling)
    }

    /// A `responseParameters` source API Gateway accepts: `integration.response.header.X`,
    /// `integration.response.multivalueheader.X`, `integration.response.body[.path]`,
    /// `'static'`, `stageVariables.X`, `context.X`.
    static func validResponseSource(_ s: String) -> Bool {
        if s.count >= 2 && s.hasPrefix("'") && s.hasSuffix("'") { return true }
        for p in ["integration.response.header.", "integration.response.multivalueheader.", "stageVariables.", "context."]
        where s.hasPrefix(p) && s.count > p.count { return true }
        if s == "integration.response.body" { return true }
        if s.hasPrefix("integration.response.body."), s.count > "integration.response.body.".count { return true }
        return false
    }
}

extension String {
    /// `image~1png` → `image/png` (CloudFormation's escape for "/" in BinaryMediaTypes).
    func replacingOccurrencesOfTilde1() -> String {
        var out = ""
        var it = self[...]
        while !it.isEmpty {
            if it.hasPrefix("~1") { out += "/"; it = it.dropFirst(2) } else { out.append(it.removeFirst()) }
        }
        return out
    }
}
