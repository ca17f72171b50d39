import GatehouseJSON

/// Resolves CloudFormation intrinsic functions (`Ref`, `Fn::Sub`, `Fn::GetAtt`, `Fn::Join`,
/// `Fn::Select`, `Fn::Split`) against parameters, pseudo parameters and the resources' values.
struct IntrinsicResolver {
    let file: String
    /// `Ref` targets: parameters, pseudo parameters, logical ids.
    var refs: [String: JSONValue]
    /// `Fn::GetAtt` targets: logical id → attribute → value.
    var attributes: [String: [String: String]]

    func resolve(_ v: JSONValue, path: String) throws(ConfigError) -> JSONValue {
        switch v {
        case .array(let items):
            var out: [JSONValue] = []
            for (i, item) in items.enumerated() {
                let r = try resolve(item, path: "\(path)[\(i)]")
                if r == IntrinsicResolver.noValue { continue }
                out.append(r)
            }
            return .array(out)
        case .object(let obj):
            if obj.count == 1, let key = obj.keys.first, key == "Ref" || key.hasPrefix("Fn::") {
                return try function(key, obj[key]!, path: path.isEmpty ? key : "\(path).\(key)")
            }
            var out = JSONObject()
            for (k, item) in obj.members {
                let r = try resolve(item, path: path.isEmpty ? k : "\(path).\(k)")
                if r == IntrinsicResolver.noValue { continue }
                out[k] = r
            }
            return .object(out)
        default:
            return v
        }
    }

    /// `AWS::NoValue` removes the property it stands for.
    static let noValue = JSONValue.object(JSONObject([("__gatehouse_no_value__", .null)]))

    func fail(_ path: String, _ reason: String) -> ConfigError {
        ConfigError(file: file, path: path, reason: reason)
    }

    func function(_ name: String, _ arg: JSONValue, path: String) throws(ConfigError) -> JSONValue {
        switch name {
        case "Ref":
            guard case .string(let target) = arg else { throw fail(path, "Ref takes a logical id or parameter name") }
            if target == "AWS::NoValue" { return IntrinsicResolver.noValue }
            guard let value = refs[target] else { throw fail(path, "unresolved reference \(target)") }
            return value
        case "Fn::GetAtt":
            let parts: [String]
            switch arg {
            case .string(let s): parts = s.split(separator: ".", maxSplits: 1).map(String.init)
            case .array(let a): parts = a.compactMap(\.stringValue)
            default: parts = []
            }
            guard parts.count == 2 else { throw fail(path, "Fn::GetAtt takes [LogicalId, Attribute]") }
            return .string(try attribute(parts[0], parts[1], path: path))
        case "Fn::Sub":
            var template: String
            var vars: [String: String] = [:]
            switch arg {
            case .string(let s): template = s
            case .array(let a) where a.count == 2:
                guard case .string(let s) = a[0], case .object(let m) = try resolve(a[1], path: path + "[1]") else {
                    throw fail(path, "Fn::Sub takes a string or [string, {variables}]")
                }
                template = s
                for (k, v) in m.members { vars[k] = try scalarText(v, path: "\(path)[1].\(k)") }
            default:
                throw fail(path, "Fn::Sub takes a string or [string, {variables}]")
            }
            template = try substitute(template, vars: vars, path: path)
            return .string(template)
        case "Fn::Join":
            guard case .array(let a) = arg, a.count == 2, case .string(let sep) = a[0] else {
                throw fail(path, "Fn::Join takes [delimiter, [values]]")
            }
            guard case .array(let items) = try resolve(a[1], path: path + "[1]") else {
                throw fail(path, "Fn::Join takes [delimiter, [values]]")
            }
            var parts: [String] = []
            for (i, item) in items.enumerated() { parts.append(try scalarText(item, path: "\(path)[1][\(i)]")) }
            return .string(parts.joined(separator: sep))
        case "Fn::Select":
            guard case .array(let a) = arg, a.count == 2 else { throw fail(path, "Fn::Select takes [index, [values]]") }
            let indexText = try scalarText(try resolve(a[0], path: path + "[0]"), path: path + "[0]")
            guard let index = Int(indexText), case .array(let items) = try resolve(a[1], path: path + "[1]"),
                  index >= 0, index < items.count else {
                throw fail(path, "Fn::Select index out of range")
            }
            return items[index]
        case "Fn::Split":
            guard case .array(let a) = arg, a.count == 2, case .string(let sep) = a[0], !sep.isEmpty else {
                throw fail(path, "Fn::Split takes [delimiter, string]")
            }
            let text = try scalarText(try resolve(a[1], path: path + "[1]"), path: path + "[1]")
            return .array(text.split(separator: sep, omittingEmptySubsequences: false).map { .string(String($0)) })
        default:
            throw fail(path, "\(name) is not supported")
        }
    }

    func attribute(_ logicalId: String, _ attr: String, path: String) throws(ConfigError) -> String {
        guard let attrs = attributes[logicalId] else { throw fail(path, "unresolved reference \(logicalId).\(attr)") }
        guard let v = attrs[attr] else {
            throw fail(path, "\(logicalId) has no attribute \(attr) (known: \(attrs.keys.sorted().joined(separator: ", ")))")
        }
        return v
    }

    func scalarText(_ v: JSONValue, path: String) throws(ConfigError) -> String {
        switch v {
        case .string(let s): return s
        case .int(let n): return String(n)
        case .double(let d): return String(d)
        case .bool(let b): return b ? "true" : "false"
        case .array(let a):
            // A list parameter substitutes as its comma-joined text.
            var parts: [String] = []
            for item in a { parts.append(try scalarText(item, path: path)) }
            return parts.joined(separator: ",")
        default: throw fail(path, "expected a string value")
        }
    }

    /// `${Name}`, `${Logical.Attr}`, and `${!Literal}` (which stays `${Literal}`).
    func substitute(_ s: String, vars: [String: String], path: String) throws(ConfigError) -> String {
        var out = ""
        var rest = Substring(s)
        while let start = rest.firstRange(of: "${") {
            out += rest[..<start.lowerBound]
            guard let end = rest[start.upperBound...].firstIndex(of: "}") else {
                out += rest[start.lowerBound...]
                return out
            }
            let name = String(rest[start.upperBound..<end])
            rest = rest[rest.index(after: end)...]
            if name.hasPrefix("!") {
                out += "${" + name.dropFirst() + "}"
            } else if let v = vars[name] {
                out += v
            } else if let v = refs[name] {
                out += try scalarText(v, path: path)
            } else if let dot = name.firstIndex(of: ".") {
                out += try attribute(String(name[..<dot]), String(name[name.index(after: dot)...]), path: path)
            } else {
                throw fail(path, "unresolved reference ${\(name)}")
            }
        }
        out += rest
        return out
    }
}
