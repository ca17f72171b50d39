import GatehouseModel

/// The API, stage, resource and method a request addresses, with its path parameters.
public struct RouteMatch: Sendable {
    public var api: RestApiSpec
    public var stage: StageSpec
    public var resource: ResourceSpec
    public var method: MethodSpec
    /// The resource path as requested, stage removed (e.g. `/execution`), still percent-encoded.
    public var path: String
    public var pathParameters: [String: String]
}

/// Phase 2 and 3: picks the API by Host (or the LocalStack path form, or the only API), the
/// stage by the first path segment, then the resource and method. Built once per snapshot.
public struct Router: Sendable {
    let apis: [RestApiSpec]
    let byId: [String: Int]

    public init(apis: [RestApiSpec]) {
        self.apis = apis
        var ids: [String: Int] = [:]
        for (i, a) in apis.enumerated() { ids[a.id] = i }
        byId = ids
    }

    public func route(method: String, path rawPath: String, host: String?) -> RouteMatch? {
        var path = Substring(rawPath)
        var api: RestApiSpec?
        // LocalStack's form: /restapis/{apiId}/{stage}/_user_request_/{path}
        if path.hasPrefix("/restapis/") {
            let rest = path.dropFirst("/restapis/".count)
            let parts = rest.split(separator: "/", maxSplits: 3, omittingEmptySubsequences: false)
            guard parts.count >= 3, parts[2] == "_user_request_", let i = byId[String(parts[0])] else { return nil }
            api = apis[i]
            path = "/" + parts[1] + "/" + (parts.count > 3 ? parts[3] : "")
        } else if let host, let dot = host.firstIndex(of: "."), host[dot...].hasPrefix(".execute-api."),
                  let i = byId[String(host[..<dot])] {
            api = apis[i]
        } else if apis.count == 1 {
            api = apis[0]
        }
        guard let api else { return nil }
        let afterSlash = path.dropFirst()
        let stageName = afterSlash.prefix { $0 != "/" }
        guard let stage = api.stages.first(where: { $0.name[...] == stageName }) else { return nil }
        var resourcePath = afterSlash.dropFirst(stageName.count)
        if resourcePath.isEmpty { resourcePath = "/" }
        let segments = resourcePath.split(separator: "/", omittingEmptySubsequences: true)
        var best: (score: UInt64, resource: ResourceSpec, params: [String: String])?
        for resource in api.resources {
            guard let (score, params) = Router.match(resource.segments, segments) else { continue }
            if best == nil || score < best!.score {
                best = (score, resource, params)
            }
        }
        guard let found = best else { return nil }
        guard let m = found.resource.methods[method] ?? found.resource.methods["ANY"] else { return nil }
        return RouteMatch(api: api, stage: stage, resource: found.resource, method: m,
                          path: String(resourcePath), pathParameters: found.params)
    }

    /// Matches and ranks: per segment, literal (0) before `{param}` (1) before `{proxy+}` (2),
    /// the first segment weighing most. The ranks are packed two bits a segment into one
    /// number (the first 32 segments; deeper ones tie), so a smaller number is a better match.
    static func match(_ pattern: [PathSegment], _ segs: [Substring]) -> (UInt64, [String: String])? {
        var score: UInt64 = 0
        var params: [String: String] = [:]
        var i = 0
        var ranked = 0
        func rank(_ r: UInt64) {
            guard ranked < 32 else { return }
            score = score << 2 | r
            ranked += 1
        }
        for p in pattern {
            switch p {
            case .literal(let l):
                guard i < segs.count, segs[i] == l[...] else { return nil }
                rank(0)
                i += 1
            case .parameter(let name):
                guard i < segs.count else { return nil }
                params[name] = String(segs[i])
                rank(1)
                i += 1
            case .greedy(let name):
                guard i < segs.count else { return nil }
                params[name] = segs[i...].joined(separator: "/")
                rank(2)
                i = segs.count
            }
        }
        guard i == segs.count else { return nil }
        if ranked < 32 { score <<= UInt64(2 * (32 - ranked)) }
        return (score, params)
    }
}
