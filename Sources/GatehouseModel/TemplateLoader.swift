import GatehouseJSON

/// Settings that turn a template into a deployed stack: where it runs and its parameter values.
public struct TemplateOptions: Sendable {
    public var region = "us-east-1"
    public var accountId = "123456789012"
    public var partition = "aws"
    public var stackName = "gatehouse"
    public var parameterOverrides: [String: String] = [:]

    public init() {}
}

/// Loads a SAM or CloudFormation template (YAML or JSON) into the APIs and state machines it
/// declares, resolving parameters, pseudo parameters and intrinsic functions.
public enum TemplateLoader {
    public static func load(text: String, file: String, options: TemplateOptions) throws(ConfigError) -> GatewayModel {
        let root = try YAMLLoader.load(text, file: file)
        guard case .object(let top) = root, case .object(let resources)? = top["Resources"] else {
            throw ConfigError(file: file, path: "Resources", reason: "a template needs a Resources section")
        }
        var refs = try parameters(top["Parameters"], file: file, options: options)
        refs["AWS::Region"] = .string(options.region)
        refs["AWS::AccountId"] = .string(options.accountId)
        refs["AWS::Partition"] = .string(options.partition)
        refs["AWS::StackName"] = .string(options.stackName)
        refs["AWS::StackId"] = .string("arn:\(options.partition):cloudformation:\(options.region):\(options.accountId):stack/\(options.stackName)/gatehouse")
        refs["AWS::URLSuffix"] = .string("amazonaws.com")
        refs["AWS::NotificationARNs"] = .array([])

        var attributes: [String: [String: String]] = [:]
        var model = GatewayModel()
        var unknown: [String] = []
        // Pass 1: every resource's physical id, so references resolve in any order.
        for (logicalId, res) in resources.members {
            let type = res["Type"]?.stringValue ?? ""
            let name = res["Properties"]?["Name"]?.stringValue ?? logicalId
            switch type {
            case "AWS::Serverless::Api", "AWS::ApiGateway::RestApi":
                let id = apiId(for: logicalId, stack: options.stackName)
                refs[logicalId] = .string(id)
                attributes[logicalId] = ["RootResourceId": rootResourceId(id)]
            case "AWS::Serverless::StateMachine", "AWS::StepFunctions::StateMachine":
                let smName = res["Properties"]?["StateMachineName"]?.stringValue ?? name
                let arn = "arn:\(options.partition):states:\(options.region):\(options.accountId):stateMachine:\(smName)"
                refs[logicalId] = .string(arn)
                attributes[logicalId] = ["Arn": arn, "Name": smName]
            case "AWS::IAM::Role":
                let roleName = res["Properties"]?["RoleName"]?.stringValue ?? logicalId
                refs[logicalId] = .string(roleName)
                attributes[logicalId] = [
                    "Arn": "arn:\(options.partition):iam::\(options.accountId):role/\(roleName)",
                    "RoleId": "AROA" + apiId(for: logicalId, stack: options.stackName).uppercased(),
                ]
            case "AWS::ApiGateway::Stage", "AWS::ApiGateway::Deployment", "AWS::ApiGateway::ApiKey",
                 "AWS::ApiGateway::UsagePlan", "AWS::ApiGateway::UsagePlanKey":
                // Keys and plans are referred to by their logical ids (their physical ids here).
                refs[logicalId] = .string(logicalId)
                attributes[logicalId] = [:]
            default:
                refs[logicalId] = .string(logicalId)
                attributes[logicalId] = [:]
                unknown.append("\(logicalId) (\(type.isEmpty ? "no Type" : type))")
            }
        }
        if !unknown.isEmpty {
            model.warnings.append("\(file): resources Gatehouse does not run (ignored): \(unknown.joined(separator: ", "))")
        }

        let resolver = IntrinsicResolver(file: file, refs: refs, attributes: attributes)
        var stageNames: [String: [StageSpec]] = [:]  // RestApi logical id → stages
        var planKeys: [(plan: String, key: String)] = []
        // Pass 2: build what Gatehouse runs.
        for (logicalId, res) in resources.members {
            let type = res["Type"]?.stringValue ?? ""
            let at = "Resources.\(logicalId).Properties"
            switch type {
            case "AWS::Serverless::Api", "AWS::ApiGateway::RestApi":
                let props = try resolver.resolve(res["Properties"] ?? .object(JSONObject()), path: at)
                var api = RestApiSpec(logicalId: logicalId, id: refs[logicalId]!.stringValue!, name: logicalId,
                                      region: options.region, accountId: options.accountId,
                                      stages: [], resources: [], policy: nil)
                let bodyKey = type == "AWS::Serverless::Api" ? "DefinitionBody" : "Body"
                guard var body = props[bodyKey] else {
                    let other = props["DefinitionUri"] != nil || props["BodyS3Location"] != nil
                    throw ConfigError(file: file, path: at, reason: other
                        ? "an API definition in S3 cannot be read here; inline it as \(bodyKey)"
                        : "\(bodyKey) is missing")
                }
                // DefinitionBody given as a string (e.g. under !Sub) is itself YAML or JSON.
                if case .string(let text) = body { body = try YAMLLoader.load(text, file: "\(file): \(at).\(bodyKey)") }
                var loader = OpenAPILoader(file: file, path: "\(at).\(bodyKey)")
                try loader.load(body, api: &api)
                model.warnings += loader.warnings
                if case .array(let types)? = props["BinaryMediaTypes"] {
                    api.binaryMediaTypes += types.compactMap(\.stringValue).map { $0.replacingOccurrencesOfTilde1() }
                }
                if let stage = props["StageName"]?.stringValue {
                    api.stages.append(try stageSpec(stage, props, file: file, at: at))
                } else if type == "AWS::Serverless::Api" {
                    throw ConfigError(file: file, path: at, reason: "StageName is missing")
                }
                model.apis.append(api)
            case "AWS::ApiGateway::Stage", "AWS::ApiGateway::Deployment":
                let props = try resolver.resolve(res["Properties"] ?? .object(JSONObject()), path: at)
                if let apiRef = props["RestApiId"]?.stringValue, let stage = props["StageName"]?.stringValue {
                    stageNames[apiRef, default: []].append(try stageSpec(stage, props, file: file, at: at))
                }
            case "AWS::ApiGateway::ApiKey":
                let props = try resolver.resolve(res["Properties"] ?? .object(JSONObject()), path: at)
                guard let value = props["Value"]?.stringValue, value.count >= 20 else {
                    // AWS makes up a value when none is given; a user here could not know it.
                    throw ConfigError(file: file, path: "\(at).Value", reason: "give the key's Value (at least 20 characters)")
                }
                // CloudFormation's default for Enabled is false.
                let enabled = props["Enabled"].map { $0 == .bool(true) || $0.stringValue == "true" } ?? false
                model.usage.keys.append(ApiKeySpec(id: logicalId, name: props["Name"]?.stringValue ?? logicalId,
                                                   value: value, enabled: enabled))
            case "AWS::ApiGateway::UsagePlan":
                let props = try resolver.resolve(res["Properties"] ?? .object(JSONObject()), path: at)
                var stages: [(api: String, stage: String)] = []
                for (i, st) in (props["ApiStages"]?.arrayValue ?? []).enumerated() {
                    guard let api = st["ApiId"]?.stringValue, let stage = st["Stage"]?.stringValue else {
                        throw ConfigError(file: file, path: "\(at).ApiStages[\(i)]", reason: "needs ApiId and Stage")
                    }
                    stages.append((api, stage))
                }
                var throttle: ThrottleSpec?
                if let t = props["Throttle"] {
                    throttle = ThrottleSpec(rateLimit: t["RateLimit"]?.doubleValue ?? 10_000,
                                            burstLimit: Int(t["BurstLimit"]?.doubleValue ?? 5_000))
                }
                var quota: QuotaSpec?
                if let q = props["Quota"] {
                    guard let limit = q["Limit"]?.doubleValue, let ps = q["Period"]?.stringValue,
                          let period = QuotaSpec.Period(rawValue: ps.uppercased()) else {
                        throw ConfigError(file: file, path: "\(at).Quota", reason: "needs Limit and Period (DAY, WEEK or MONTH)")
                    }
                    quota = QuotaSpec(limit: Int(limit), period: period)
                }
                model.usage.plans.append(UsagePlanSpec(name: logicalId, apiStages: stages, throttle: throttle,
                                                       quota: quota, keyIds: []))
            case "AWS::ApiGateway::UsagePlanKey":
                let props = try resolver.resolve(res["Properties"] ?? .object(JSONObject()), path: at)
                guard let key = props["KeyId"]?.stringValue, let plan = props["UsagePlanId"]?.stringValue else {
                    throw ConfigError(file: file, path: at, reason: "needs KeyId and UsagePlanId")
                }
                planKeys.append((plan, key))
            case "AWS::Serverless::StateMachine", "AWS::StepFunctions::StateMachine":
                let props = try resolver.resolve(res["Properties"] ?? .object(JSONObject()), path: at)
                var definition: JSONValue
                if let d = props["Definition"] {
                    definition = d
                } else if case .string(let text)? = props["DefinitionString"] {
                    definition = try YAMLLoader.load(text, file: "\(file): \(at).DefinitionString")
                } else {
                    throw ConfigError(file: file, path: at, reason: "Definition or DefinitionString is missing")
                }
                if case .object(let subs)? = props["DefinitionSubstitutions"] {
                    definition = substituteDefinition(definition, subs)
                }
                let attrs = attributes[logicalId]!
                model.stateMachines.append(StateMachineSpec(
                    logicalId: logicalId, name: attrs["Name"]!, arn: attrs["Arn"]!, definition: definition,
                    roleArn: props["Role"]?.stringValue ?? props["RoleArn"]?.stringValue,
                    type: props["Type"]?.stringValue ?? props["StateMachineType"]?.stringValue ?? "STANDARD"))
            default:
                break
            }
        }
        for i in model.apis.indices {
            let id = model.apis[i].id
            for stage in stageNames[id] ?? [] where !model.apis[i].stages.contains(where: { $0.name == stage.name }) {
                model.apis[i].stages.append(stage)
            }
            if model.apis[i].stages.isEmpty {
                model.warnings.append("\(file): API \(model.apis[i].logicalId) has no stage; it cannot be called")
            }
        }
        for (plan, key) in planKeys {
            guard let p = model.usage.plans.firstIndex(where: { $0.name == plan }) else {
                throw ConfigError(file: file, path: "Resources", reason: "UsagePlanKey names no usage plan of this template: \(plan)")
            }
            guard model.usage.keys.contains(where: { $0.id == key }) else {
                throw ConfigError(file: file, path: "Resources", reason: "UsagePlanKey names no API key of this template: \(key)")
            }
            model.usage.plans[p].keyIds.append(key)
        }
        return model
    }

    /// Parameter values: overrides first, then `Default`. Missing values are refused with
    /// CloudFormation's message.
    static func parameters(_ section: JSONValue?, file: String, options: TemplateOptions) throws(ConfigError) -> [String: JSONValue] {
        var out: [String: JSONValue] = [:]
        var missing: [String] = []
        let declared = section?.objectValue ?? JSONObject()
        for (name, decl) in declared.members {
            let type = decl["Type"]?.stringValue ?? "String"
            let raw: String?
            if let v = options.parameterOverrides[name] {
                raw = v
            } else {
                switch decl["Default"] {
                case .string(let s)?: raw = s
                case .int(let n)?: raw = String(n)
                case .double(let d)?: raw = String(d)
                case .bool(let b)?: raw = b ? "true" : "false"
                case .array(let a)?: raw = a.compactMap(\.stringValue).joined(separator: ",")
                default: raw = nil
                }
            }
            guard let raw else { missing.append(name); continue }
            if case .array(let allowed)? = decl["AllowedValues"], !allowed.contains(.string(raw)) {
                throw ConfigError(file: file, path: "Parameters.\(name)",
                                  reason: "Parameter '\(name)' must be one of AllowedValues")
            }
            out[name] = type.hasPrefix("List<") || type == "CommaDelimitedList"
                ? .array(raw.split(separator: ",", omittingEmptySubsequences: false).map { .string(String($0)) })
                : .string(raw)
        }
        if !missing.isEmpty {
            throw ConfigError(file: file, path: "Parameters", reason: "Parameters: [\(missing.joined(separator: ", "))] must have values")
        }
        let unknown = options.parameterOverrides.keys.filter { declared[$0] == nil }.sorted()
        if !unknown.isEmpty {
            throw ConfigError(file: file, path: "Parameters", reason: "Parameters: [\(unknown.joined(separator: ", "))] do not exist in the template")
        }
        return out
    }

    /// A stage from its properties: variables, access log format, method throttles.
    static func stageSpec(_ name: String, _ props: JSONValue, file: String, at: String) throws(ConfigError) -> StageSpec {
        var stage = StageSpec(name: name, variables: stageVariables(props),
                              accessLogFormat: props["AccessLogSetting"]?["Format"]?.stringValue)
        for (i, m) in (props["MethodSettings"]?.arrayValue ?? []).enumerated() {
            guard let rate = m["ThrottlingRateLimit"]?.doubleValue ?? m["ThrottlingBurstLimit"].map({ _ in 10_000 }) else { continue }
            let burst = m["ThrottlingBurstLimit"]?.doubleValue ?? 5_000
            guard let path = m["ResourcePath"]?.stringValue, let method = m["HttpMethod"]?.stringValue else {
                throw ConfigError(file: file, path: "\(at).MethodSettings[\(i)]", reason: "needs ResourcePath and HttpMethod")
            }
            // CloudFormation writes the path's slashes after the first as `~1`.
            let decoded = path == "/*" ? path : path.replacingTildeOne()
            stage.methodThrottles.append((decoded, method.uppercased(), ThrottleSpec(rateLimit: rate, burstLimit: Int(burst))))
        }
        return stage
    }

    /// A stage's `Variables` as strings.
    static func stageVariables(_ props: JSONValue) -> [String: String] {
        var vars: [String: String] = [:]
        for (k, v) in props["Variables"]?.objectValue?.members ?? [] { vars[k] = v.stringValue ?? v.jsonText }
        return vars
    }

    /// SAM's `DefinitionSubstitutions`: `${key}` in any string of the definition.
    static func substituteDefinition(_ v: JSONValue, _ subs: JSONObject) -> JSONValue {
        switch v {
        case .string(var s):
            for (k, value) in subs.members {
                s = s.replacing("${\(k)}", with: value.stringValue ?? value.jsonText)
            }
            return .string(s)
        case .array(let a): return .array(a.map { substituteDefinition($0, subs) })
        case .object(let o):
            var out = JSONObject()
            for (k, item) in o.members { out[k] = substituteDefinition(item, subs) }
            return .object(out)
        default: return v
        }
    }

    /// A stable 10-character API id (AWS's shape: lower-case letters and digits), derived from
    /// the stack and logical id so URLs survive restarts.
    public static func apiId(for logicalId: String, stack: String) -> String {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in "\(stack)/\(logicalId)".utf8 {
            h ^= UInt64(b)
            h &*= 0x100_0000_01b3
        }
        let alphabet = Array("abcdefghijklmnopqrstuvwxyz0123456789")
        var out = ""
        for _ in 0..<10 {
            out.append(alphabet[Int(h % 36)])
            h /= 36
            if h == 0 { h = 0x9e37_79b9_7f4a_7c15 }
        }
        return out
    }

    static func rootResourceId(_ apiId: String) -> String {
        String(apiId.reversed().prefix(10))
    }
}

extension String {
    /// `/~1pets~1{id}` → `/pets/{id}` (CloudFormation's escape for `/` in MethodSettings paths).
    func replacingTildeOne() -> String {
        var out = ""
        var rest = Substring(self)
        while let r = rest.firstRange(of: "~1") {
            out += rest[..<r.lowerBound]
            out += "/"
            rest = rest[r.upperBound...]
        }
        out += rest
        // The escaped form keeps the leading slash too: `/~1pets` is `//pets` once decoded.
        if out.hasPrefix("//") { out.removeFirst() }
        return out
    }
}
