import GatehouseHTTP
import GatehouseJSON
import GatehouseModel
import GatehouseSigV4

/// The integration request's parameters, after `requestParameters` mapped them from the
/// method request (`integration.request.{path|querystring|header}.NAME`).
public struct IntegrationParameters: Sendable {
    public var path = NamedValues()
    public var query: [(name: String, value: String)] = []
    public var headers: [(name: String, value: String)] = []

    public init() {}
}

/// `requestParameters`: destination `integration.request.{path|querystring|header|
/// multivaluequerystring|multivalueheader}.NAME`; source `method.request.{path|querystring|
/// header|multivaluequerystring|multivalueheader}.NAME`, `'static'`, `stageVariables.NAME` or
/// `context.NAME`. A source with no value leaves its destination out, as API Gateway does.
enum ParameterMapping {
    /// `scope` is asked for only when a mapping needs more than the route's path parameters.
    static func integrationParameters(_ mappings: [ParameterMappingEntry], match: RouteMatch,
                                      scope: () -> RequestScope) -> IntegrationParameters {
        var out = IntegrationParameters()
        var context: JSONObject?   // built once, when a mapping reads it
        for m in mappings {
            // The usual proxy mapping, a path parameter passed on, without a list of values. Under
            // its own name it is left out: a URI's `{name}` falls back to the method's path
            // parameter of that name, which is the same value.
            if m.place == .path, case .methodRequest(.path, let name) = m.source {
                if name != m.name, let v = match.pathParameterList[name] { out.path[m.name] = v }
                continue
            }
            let values = evaluate(m.source, scope(), context: &context)
            guard !values.isEmpty else { continue }
            switch m.place {
            case .path: out.path[m.name] = values.joined(separator: ",")
            case .querystring: out.query.append((m.name, values.last!))
            case .multivaluequerystring: for v in values { out.query.append((m.name, v)) }
            case .header: out.headers.append((m.name, values.joined(separator: ",")))
            case .multivalueheader: for v in values { out.headers.append((m.name, v)) }
            }
        }
        return out
    }

    /// The values an expression yields (several for the multi-value sources).
    static func evaluate(_ expression: ParameterSource, _ s: RequestScope, context: inout JSONObject?) -> [String] {
        switch expression {
        case .literal(let v): return [v]
        case .stageVariable(let n): return s.match.stage.variables[n].map { [$0] } ?? []
        case .context(let n):
            if context == nil { context = s.context() }
            return RequestScope.contextValue(n, in: context!).map { [$0] } ?? []
        case .methodRequest(let place, let name):
            switch place {
            case .path: return s.match.pathParameterList[name].map { [$0] } ?? []
            case .querystring: return QueryString.values(name, in: s.request.query).last.map { [$0] } ?? []
            case .multivaluequerystring: return QueryString.values(name, in: s.request.query)
            case .header:
                let v = s.request.headers.values(name)
                return v.isEmpty ? [] : [v.joined(separator: ",")]
            case .multivalueheader: return s.request.headers.values(name)
            }
        }
    }
}

/// Query strings as sent (`a=1&b=%20x`): values percent-decoded, `+` kept as it came.
public enum QueryString {
    public static func values(_ name: String, in query: String) -> [String] {
        guard !query.isEmpty else { return [] }
        var out: [String] = []
        for pair in query.split(separator: "&", omittingEmptySubsequences: true) {
            let eq = pair.firstIndex(of: "=")
            let k = percentDecoded(eq.map { pair[..<$0] } ?? pair[...])
            if k == name { out.append(eq.map { percentDecoded(pair[pair.index(after: $0)...]) } ?? "") }
        }
        return out
    }

    public static func percentDecoded(_ s: Substring) -> String {
        guard s.utf8.contains(UInt8(ascii: "%")) else { return String(s) }
        var bytes: [UInt8] = []
        var it = Array(s.utf8)[...]
        while let b = it.popFirst() {
            if b == UInt8(ascii: "%"), it.count >= 2, let h = hex(it[it.startIndex]), let l = hex(it[it.startIndex + 1]) {
                bytes.append(h << 4 | l)
                it = it.dropFirst(2)
            } else {
                bytes.append(b)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Percent-encodes for a URI component; `keepSlash` for greedy path values. An existing
    /// valid `%XX` is kept, so a raw path parameter is not encoded twice.
    public static func encoded(_ s: String, keepSlash: Bool) -> String {
        // Most values need nothing encoded: give them back as they are, without copying.
        if s.utf8.allSatisfy({ SigV4.isUnreserved($0) || (keepSlash && $0 == 0x2F) }) { return s }
        let u = Array(s.utf8)
        var out: [UInt8] = []
        out.reserveCapacity(u.count)
        let digits = Array("0123456789ABCDEF".utf8)
        var i = 0
        while i < u.count {
            let b = u[i]
            if SigV4.isUnreserved(b) || (keepSlash && b == 0x2F) {
                out.append(b)
            } else if b == 0x25, i + 2 < u.count, hex(u[i + 1]) != nil, hex(u[i + 2]) != nil {
                out.append(b)
            } else {
                out.append(0x25)
                out.append(digits[Int(b >> 4)])
                out.append(digits[Int(b & 15)])
            }
            i += 1
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func hex(_ b: UInt8) -> UInt8? { asciiHexValue(b) }

}
