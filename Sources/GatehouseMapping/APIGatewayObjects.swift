import GatehouseJSON

/// What a mapping template is rendered against: the request (or integration response) body,
/// the method request's parameters, `$context` and `$stageVariables`.
public struct MappingInput {
    /// The raw body; nil or empty reads as `{}` (API Gateway).
    public var body: String?
    /// `path`, `querystring`, `header` parameters, in order.
    public var path: [(String, String)] = []
    public var querystring: [(String, String)] = []
    public var header: [(String, String)] = []
    /// `$context`, as JSON (nested objects for `identity`, `authorizer`, …).
    public var context: JSONObject = JSONObject()
    public var stageVariables: [(String, String)] = []

    public init(body: String?) {
        self.body = body
    }

    /// Headers a template never sees in `$input.params()` (API Gateway drops them).
    public static let hiddenHeaders: Set<String> = [
        "connection", "content-length", "content-md5", "expect", "max-forwards", "proxy-authenticate",
        "server", "te", "transfer-encoding", "trailer", "upgrade", "www-authenticate",
    ]
}

/// Renders `template` against `input` the way API Gateway does. Returns the output and the
/// `$context.requestOverride` / `responseOverride` maps the template set.
public func renderMapping(_ template: VTLTemplate, _ input: MappingInput,
                          limits: VTLLimits = VTLLimits()) throws(VTLRenderError) -> (output: String, overrides: VTLMap) {
    let r = VTLRenderer(limits: limits)
    let params = VTLMap()
    if template.readsParams {
        for (section, pairs) in [("path", input.path), ("querystring", input.querystring), ("header", input.header)] {
            let m = VTLMap()
            for (k, v) in pairs { m.put(k, .string(v)) }
            params.put(section, .map(m))
        }
    }
    r.set(VTLSymbols.input, .object(InputObject(body: input.body, params: params)))
    r.set(VTLSymbols.util, .object(UtilObject.shared))
    // Only what the template can reach is built: most templates never read $context.
    let overrides = VTLMap()
    if template.readsContext {
        var ctx = VTLMap()
        if case .map(let m) = VTLValue(json: .object(input.context)) { ctx = m }
        let requestOverride = VTLMap.ensureMap(ctx, "requestOverride")
        for s in ["header", "path", "querystring"] { _ = VTLMap.ensureMap(requestOverride, s) }
        let responseOverride = VTLMap.ensureMap(ctx, "responseOverride")
        _ = VTLMap.ensureMap(responseOverride, "header")
        r.set(VTLSymbols.context, .map(ctx))
        overrides.put("requestOverride", .map(requestOverride))
        overrides.put("responseOverride", .map(responseOverride))
    }
    if template.readsStageVariables {
        let stage = VTLMap()
        for (k, v) in input.stageVariables { stage.put(k, .string(v)) }
        r.set(VTLSymbols.stageVariables, .map(stage))
    }
    let output = try r.render(template)
    return (output, overrides)
}

extension VTLMap {
    static func ensureMap(_ parent: VTLMap, _ key: String) -> VTLMap {
        if case .map(let m)? = parent.get(key) { return m }
        let m = VTLMap()
        parent.put(key, .map(m))
        return m
    }
}

/// `$input`.
final class InputObject: VTLObject {
    let rawBody: String?
    let params: VTLMap
    private var document: Result<VTLValue, VTLRenderError>?

    init(body: String?, params: VTLMap) {
        self.rawBody = body
        self.params = params
    }

    /// An empty or absent body reads as `{}` (recorded on API Gateway).
    var body: String {
        guard let b = rawBody, !b.isEmpty else { return "{}" }
        return b
    }

    func parsed() throws(VTLRenderError) -> VTLValue {
        if let document { return try document.get() }
        let r = UtilObject.parseLenient(body)
        document = r
        return try r.get()
    }

    func read(_ path: String) throws(VTLRenderError) -> VTLValue? {
        let doc = try parsed()
        let p: JSONPath
        do {
            p = try JSONPath.cached(path)
            return try p.read(doc)
        } catch {
            throw VTLRenderError("InvalidPathException: \(error.message)")
        }
    }

    func property(_ name: String, _ r: VTLRenderer) -> VTLValue? {
        switch name {
        case "body": return .string(body)
        default: return nil
        }
    }

    func call(_ name: String, _ args: [VTLValue], _ r: VTLRenderer) throws -> VTLValue? {
        switch (name, args.count) {
        case ("getBody", 0): return .string(body)
        case ("path", 1):
            guard case .string(let p) = args[0] else { return .null }
            return try read(p) ?? .null
        case ("json", 1):
            guard case .string(let p) = args[0] else { return .null }
            guard let v = try read(p) else { return .string("\"\"") }
            return .string(jsonText(v))
        case ("params", 0):
            return .map(params)
        case ("params", 1):
            let key = args[0].javaString
            for section in ["path", "querystring", "header"] {
                if case .map(let m)? = params.get(section), let v = m.get(key) { return v }
            }
            return .string("")
        default:
            return nil
        }
    }

    func javaString(_ r: VTLRenderer?) -> String { "$input" }
    var javaClass: String { "Input" }
}

/// `$util` (stateless: one for every render).
final class UtilObject: VTLObject, @unchecked Sendable {
    static let shared = UtilObject()

    func property(_ name: String, _ r: VTLRenderer) -> VTLValue? { nil }

    func call(_ name: String, _ args: [VTLValue], _ r: VTLRenderer) throws -> VTLValue? {
        guard args.count == 1 else { return nil }
        if case .null = args[0] { return .null }
        let s = args[0].javaString
        switch name {
        case "escapeJavaScript": return .string(UtilObject.escapeJavaScript(s))
        case "parseJson": return try UtilObject.parseLenient(s).get()
        case "urlEncode": return .string(UtilObject.urlEncode(s))
        case "urlDecode": return .string(try UtilObject.urlDecode(s))
        case "base64Encode": return .string(base64(Array(s.utf8)))
        case "base64Decode":
            guard let bytes = decodeBase64Strict(s) else {
                throw VTLRenderError("IllegalArgumentException: Illegal base64 character")
            }
            return .string(String(decoding: bytes, as: UTF8.self))
        default: return nil
        }
    }

    func javaString(_ r: VTLRenderer?) -> String { "$util" }
    var javaClass: String { "Util" }

    /// JSON as json-smart's permissive parser reads a body: a document, or — when the text
    /// is not JSON and does not look like an object or array — the text itself as a string.
    static func parseLenient(_ text: String) -> Result<VTLValue, VTLRenderError> {
        if let v = VTLJSONParser.parse(text) { return .success(v) }
        let t = text.trimmingSpaces
        if t.hasPrefix("{") || t.hasPrefix("[") {
            return .failure(VTLRenderError("InvalidJsonException: the body is not valid JSON"))
        }
        return .success(.string(t))
    }

    /// commons-lang 2.6 `StringEscapeUtils.escapeJavaScript`: `'` `"` `\` `/` escaped, control
    /// characters as `\b \n \t \f \r` or `\u00XX`, every non-ASCII UTF-16 unit as `\uXXXX`.
    static func escapeJavaScript(_ s: String) -> String {
        // Plain ASCII with nothing to escape (the usual case) comes back as it is.
        if s.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F && $0 != 0x27 && $0 != 0x22 && $0 != 0x5C && $0 != 0x2F }) {
            return s
        }
        var out: [UInt8] = []
        out.reserveCapacity(s.utf8.count + 16)
        func hex(_ v: UInt16) {
            out.append(0x5C); out.append(0x75)
            for shift in [12, 8, 4, 0] {
                let d = UInt8((v >> UInt16(shift)) & 0xF)
                out.append(d < 10 ? 0x30 + d : 0x41 + d - 10)
            }
        }
        for u in s.utf16 {
            if u > 0x7F {
                hex(u)
            } else if u < 0x20 {
                if !appendShortEscape(UInt32(u), into: &out) { hex(u) }
            } else {
                switch u {
                case 0x27, 0x22, 0x5C, 0x2F: out.append(0x5C); out.append(UInt8(u))
                default: out.append(UInt8(u))
                }
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Java's `URLEncoder.encode(s, "UTF-8")`: form encoding, space as `+`.
    static func urlEncode(_ s: String) -> String {
        var out = ""
        for b in s.utf8 {
            switch b {
            case 0x30...0x39, 0x41...0x5A, 0x61...0x7A, 0x2E, 0x2D, 0x2A, 0x5F:
                out.unicodeScalars.append(Unicode.Scalar(b))
            case 0x20: out += "+"
            default: out += "%" + String(b, radix: 16, uppercase: true).leftPadded(2)
            }
        }
        return out
    }

    /// Java's `URLDecoder.decode(s, "UTF-8")`.
    static func urlDecode(_ s: String) throws(VTLRenderError) -> String {
        var bytes: [UInt8] = []
        let u = Array(s.utf8)
        var k = 0
        while k < u.count {
            switch u[k] {
            case 0x2B: bytes.append(0x20); k += 1
            case 0x25:
                guard k + 2 < u.count, let h = hexValue(u[k + 1]), let l = hexValue(u[k + 2]) else {
                    throw VTLRenderError("IllegalArgumentException: URLDecoder: Incomplete trailing escape (%) pattern")
                }
                bytes.append(h << 4 | l)
                k += 3
            default: bytes.append(u[k]); k += 1
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

func hexValue(_ c: UInt8) -> UInt8? {
    switch c {
    case 0x30...0x39: return c - 0x30
    case 0x41...0x46: return c - 0x41 + 10
    case 0x61...0x66: return c - 0x61 + 10
    default: return nil
    }
}

extension String {
    func leftPadded(_ n: Int) -> String { String(repeating: "0", count: max(0, n - count)) + self }
}

func base64(_ bytes: [UInt8]) -> String { Base64Text.encode(bytes) }

func decodeBase64Strict(_ s: String) -> [UInt8]? { Base64Text.decode(s) }

/// Base64 as API Gateway's `contentHandling` uses it.
public enum Base64 {
    public static func encode(_ bytes: [UInt8]) -> String { base64(bytes) }
    public static func decode(_ text: String) -> [UInt8]? { decodeBase64Strict(text) }
}

/// `integration.response.body.a.b` for `responseParameters`: the JSONPath's value, a string as
/// itself and anything else as JSON text; nil when the body is not JSON or the path finds nothing.
public enum JSONBodyPath {
    public static func read(_ body: [UInt8], _ path: String) -> String? {
        guard let doc = VTLJSONParser.parse(String(decoding: body, as: UTF8.self)),
              let p = try? JSONPath.cached(path) else { return nil }
        let found: VTLValue?
        do { found = try p.read(doc) } catch { return nil }
        guard let v = found else { return nil }
        switch v {
        case .string(let s): return s
        case .null: return nil
        default: return jsonText(v)
        }
    }
}
