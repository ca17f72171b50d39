import ArgumentParser
import GatehouseCore
import GatehouseJSON
import GatehouseModel
import GatehousePolicy

struct PolicyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "policy",
        abstract: "Work with IAM policies as API Gateway evaluates them.",
        subcommands: [PolicyEvaluate.self])
}

/// `gatehouse policy evaluate`: one authorization question answered the way the gateway
/// answers it, with the statements that decided it.
struct PolicyEvaluate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evaluate",
        abstract: "Evaluate a resource policy (and identity policies) for one request; print the decision as JSON.",
        discussion: """
        The request file is JSON:
          {"principal": {"arn": "arn:aws:iam::111111111111:user/alice"} | {"service": "states.amazonaws.com"}
                        | {"federated": "cognito-identity.amazonaws.com"} | {"anonymous": true},
           "account": "111111111111", "action": "execute-api:Invoke",
           "resource": "arn:aws:execute-api:us-east-1:222222222222:abc123/dev/POST/execution",
           "authorizationType": "NONE" | "AWS_IAM" | "CUSTOM" | "COGNITO_USER_POOLS",
           "apiAccount": "222222222222", "authorizer": "Allow" | "Deny",
           "context": {"aws:SourceIp": "203.0.113.7", "aws:SourceArn": "arn:…"}}
        Keys derived from the principal (aws:PrincipalArn, aws:PrincipalAccount, aws:PrincipalType,
        aws:username, aws:userid) are filled in unless the context sets them.
        Exit status: 0 allowed, 1 denied, 2 bad input.
        """)

    @Option(help: "The API's resource policy (JSON). Omit for an API without one.")
    var policy: String?

    @Option(name: .customLong("identity-policy"), help: "An identity policy attached to the caller (JSON); repeatable.")
    var identityPolicies: [String] = []

    @Option(help: "The request to evaluate (JSON), or - for standard input.")
    var request: String

    func run() throws {
        do {
            let answer = try evaluate()
            print(answer.text)
            if !answer.allowed { throw ExitCode(1) }
        } catch let e as EvaluateError {
            stderrLine("error: \(e.message)")
            throw ExitCode(2)
        }
    }

    struct EvaluateError: Error { var message: String }

    func readJSON(_ path: String, what: String) throws -> JSONValue {
        let text: String
        if path == "-" {
            var data: [UInt8] = []
            while let line = readLine(strippingNewline: false) { data += Array(line.utf8) }
            text = String(decoding: data, as: UTF8.self)
        } else {
            do { text = try readTextFile(path) } catch { throw EvaluateError(message: "\(what) \(path): \(error.reason)") }
        }
        do { return try JSONValue.parse(text) } catch { throw EvaluateError(message: "\(what) \(path): invalid JSON: \(error)") }
    }

    func evaluate() throws -> (text: String, allowed: Bool) {
        let req = try readJSON(request, what: "request")
        guard case .object = req else { throw EvaluateError(message: "request \(request): must be a JSON object") }

        guard let resource = req["resource"]?.stringValue, !resource.isEmpty else {
            throw EvaluateError(message: "request: \"resource\" (the method ARN) is required")
        }
        let action = req["action"]?.stringValue ?? "execute-api:Invoke"
        let authName = req["authorizationType"]?.stringValue ?? "AWS_IAM"
        guard let authorization = MethodAuthorization(rawValue: authName.uppercased()) else {
            throw EvaluateError(message: "request: authorizationType must be one of \(MethodAuthorization.allCases.map(\.rawValue).joined(separator: ", ")), got \(authName)")
        }

        // The principal.
        let principal: PolicyPrincipal
        let p = req["principal"]
        if let arn = p?["arn"]?.stringValue {
            guard arn.hasPrefix("arn:"), arn.split(separator: ":", omittingEmptySubsequences: false).count >= 6 else {
                throw EvaluateError(message: "request: principal.arn is not an ARN: \(arn)")
            }
            principal = .aws(arn: arn)
        } else if let s = p?["service"]?.stringValue {
            principal = .service(s)
        } else if let f = p?["federated"]?.stringValue {
            principal = .federated(f)
        } else if p == nil || p?["anonymous"] == .bool(true) {
            principal = .anonymous
        } else {
            throw EvaluateError(message: "request: principal must be {\"arn\": …}, {\"service\": …}, {\"federated\": …} or {\"anonymous\": true}")
        }

        // The API's ARN prefix, for the execute-api:/ shorthand and the account.
        let fields = resource.split(separator: ":", maxSplits: 5, omittingEmptySubsequences: false)
        var apiPrefix: String?
        if fields.count == 6, fields[2] == "execute-api" {
            let apiId = fields[5].split(separator: "/", maxSplits: 1).first.map(String.init) ?? ""
            apiPrefix = fields[0..<5].joined(separator: ":") + ":" + apiId
        }
        let apiAccount = req["apiAccount"]?.stringValue ?? (fields.count == 6 ? String(fields[4]) : "")

        // The context: the principal's keys, then the file's (which win).
        var context = Authorizer.principalContext(principal)
        if case .object(let o)? = req["context"] {
            for (k, v) in o.members {
                switch v {
                case .array(let items):
                    context[k] = try items.map { try scalar($0, key: k) }
                case .null:
                    context[k] = nil
                default:
                    context[k] = [try scalar(v, key: k)]
                }
            }
        } else if let c = req["context"], c != .null {
            throw EvaluateError(message: "request: context must be an object of condition keys")
        }
        let callerAccount = req["account"]?.stringValue ?? context[.principalAccount]?.first ?? principal.accountID

        var resourcePolicy: ResourcePolicy?
        if let path = policy {
            do {
                var rp = try ResourcePolicy(document: try readJSON(path, what: "policy"))
                if let apiPrefix { rp = rp.expandingExecuteApiShorthand(apiArnPrefix: apiPrefix) }
                resourcePolicy = rp
            } catch let e as PolicyError {
                throw EvaluateError(message: "policy \(path): \(e)")
            }
        }
        var identity: [ResourcePolicy] = []
        for path in identityPolicies {
            do {
                identity.append(try ResourcePolicy(document: try readJSON(path, what: "identity policy"), kind: .identity))
            } catch let e as PolicyError {
                throw EvaluateError(message: "identity policy \(path): \(e)")
            }
        }
        var authorizerDecision: PolicyDecision?
        if let a = req["authorizer"]?.stringValue {
            switch a.lowercased() {
            case "allow": authorizerDecision = .allow
            case "deny": authorizerDecision = .explicitDeny
            default: throw EvaluateError(message: "request: authorizer must be \"Allow\" or \"Deny\"")
            }
        } else if authorization == .cognito {
            authorizerDecision = .allow   // a caller that got this far presented a valid token
        }

        let question = AuthorizationQuestion(
            authorization: authorization,
            request: PolicyRequest(principal: principal, action: action, resource: resource, context: context),
            apiAccount: apiAccount, callerAccount: callerAccount, resourcePolicy: resourcePolicy,
            identityPolicies: identity, authorizerDecision: authorizerDecision)
        let answer = APIGatewayAuthorization.decide(question)

        var out = JSONObject()
        let decisionName: String
        switch answer.decision {
        case .allow: decisionName = "Allow"
        case .explicitDeny: decisionName = "ExplicitDeny"
        case .implicitDeny: decisionName = "ImplicitDeny"
        }
        out["decision"] = .string(decisionName)
        out["statements"] = .array(answer.statements.map { s in
            var o = JSONObject()
            o["policy"] = .string(s.policy)
            if s.policy == "identity" { o["policyIndex"] = .int(Int64(s.policyIndex)) }
            o["index"] = .int(Int64(s.index))
            o["sid"] = s.sid.map { .string($0) } ?? .null
            o["effect"] = .string(s.effect)
            return .object(o)
        })
        if answer.deniedBeforeAuthorizer { out["deniedBeforeAuthorizer"] = .bool(true) }
        if !answer.allowed {
            out["message"] = .string(APIGatewayAuthorization.denialMessage(
                caller: APIGatewayAuthorization.callerName(principal), action: action, resourceArn: resource,
                explicitDeny: answer.decision == .explicitDeny))
        }
        return (String(decoding: JSONValue.object(out).serialized(), as: UTF8.self), answer.allowed)
    }

    func scalar(_ v: JSONValue, key: String) throws -> String {
        switch v {
        case .string(let s): return s
        case .bool(let b): return b ? "true" : "false"
        case .int(let i): return String(i)
        case .double(let d): return String(d)
        default: throw EvaluateError(message: "request: context \(key): values must be strings, numbers or booleans")
        }
    }
}
