import GatehouseJSON
import Yams

/// A configuration fault, named by file, the path inside it and what is wrong, e.g.
/// `account-b.yaml: Resources.ApiGatewayAPI2.Properties.DefinitionBody.paths./execution.post: unknown integration type "awz"`.
public struct ConfigError: Error, Sendable, CustomStringConvertible {
    public var file: String
    public var path: String
    public var reason: String

    public init(file: String, path: String, reason: String) {
        self.file = file
        self.path = path
        self.reason = reason
    }

    public var description: String {
        path.isEmpty ? "\(file): \(reason)" : "\(file): \(path): \(reason)"
    }
}

/// YAML (or JSON, which is YAML) to `JSONValue`. CloudFormation's short-form tags become the
/// long form (`!Sub x` → `{"Fn::Sub": x}`, `!Ref x` → `{"Ref": x}`), so YAML and JSON templates
/// resolve through one code path.
public enum YAMLLoader {
    public static func load(_ text: String, file: String) throws(ConfigError) -> JSONValue {
        let node: Node?
        do {
            node = try Yams.compose(yaml: text)
        } catch {
            throw ConfigError(file: file, path: "", reason: "not valid YAML or JSON: \(error)")
        }
        guard let node else { return .null }
        return try convert(node, file: file, path: "")
    }

    static let shortForms: [String: String] = [
        "!Ref": "Ref", "!Sub": "Fn::Sub", "!GetAtt": "Fn::GetAtt", "!Join": "Fn::Join",
        "!Select": "Fn::Select", "!Split": "Fn::Split", "!If": "Fn::If", "!Equals": "Fn::Equals",
        "!Not": "Fn::Not", "!And": "Fn::And", "!Or": "Fn::Or", "!FindInMap": "Fn::FindInMap",
        "!Base64": "Fn::Base64", "!GetAZs": "Fn::GetAZs", "!ImportValue": "Fn::ImportValue",
        "!Condition": "Condition", "!Cidr": "Fn::Cidr", "!Transform": "Fn::Transform",
    ]

    static func convert(_ node: Node, file: String, path: String) throws(ConfigError) -> JSONValue {
        let tag = node.tag.description
        let plain: JSONValue
        switch node {
        case .scalar(let s):
            plain = scalar(s, tag: tag)
        case .sequence(let seq):
            var items: [JSONValue] = []
            for (i, item) in seq.enumerated() {
                items.append(try convert(item, file: file, path: "\(path)[\(i)]"))
            }
            plain = .array(items)
        case .mapping(let map):
            var obj = JSONObject()
            for (k, v) in map {
                guard let key = k.string else {
                    throw ConfigError(file: file, path: path, reason: "a mapping key is not a string")
                }
                obj[key] = try convert(v, file: file, path: path.isEmpty ? key : "\(path).\(key)")
            }
            plain = .object(obj)
        }
        guard tag.hasPrefix("!") else { return plain }
        guard let long = shortForms[tag] else {
            throw ConfigError(file: file, path: path, reason: "unknown tag \(tag)")
        }
        // `!GetAtt A.B` is the string form of `Fn::GetAtt: [A, B]`.
        if long == "Fn::GetAtt", case .string(let s) = plain, let dot = s.firstIndex(of: ".") {
            return .object(JSONObject([(long, .array([.string(String(s[..<dot])), .string(String(s[s.index(after: dot)...]))]))]))
        }
        return .object(JSONObject([(long, plain)]))
    }

    static func scalar(_ s: Node.Scalar, tag: String) -> JSONValue {
        if s.style != .plain { return .string(s.string) }
        switch tag {
        case "tag:yaml.org,2002:null": return .null
        case "tag:yaml.org,2002:bool":
            return .bool(["true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON"].contains(s.string))
        case "tag:yaml.org,2002:int":
            if let n = Int64(s.string) { return .int(n) }
            return .string(s.string)
        case "tag:yaml.org,2002:float":
            if let d = Double(s.string) { return .double(d) }
            return .string(s.string)
        default:
            return .string(s.string)
        }
    }
}
