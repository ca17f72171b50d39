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
/// stage by the first path segment, then the resource and method. Built once per snapshot;
/// routing works on the path's UTF-8 bytes against patterns compiled here.
public struct Router: Sendable {
    let apis: [RestApiSpec]
    let byId: [String: Int]
    /// Per API, its resources' patterns in `api.resources` order.
    let patterns: [[[CompiledSegment]]]
    /// Per API, its stage names as bytes.
    let stageNames: [[[UInt8]]]

    enum CompiledSegment: Sendable {
        case literal([UInt8])
        case parameter(String)
        case greedy(String)
    }

    public init(apis: [RestApiSpec]) {
        self.apis = apis
        var ids: [String: Int] = [:]
        for (i, a) in apis.enumerated() { ids[a.id] = i }
        byId = ids
        patterns = apis.map { api in
            api.resources.map { r in
                r.segments.map { seg -> CompiledSegment in
                    switch seg {
                    case .literal(let l): return .literal(Array(l.utf8))
                    case .parameter(let n): return .parameter(n)
                    case .greedy(let n): return .greedy(n)
                    }
                }
            }
        }
        stageNames = apis.map { $0.stages.map { Array($0.name.utf8) } }
    }

    public func route(method: String, path rawPath: String, host: String?) -> RouteMatch? {
        var path = Array(rawPath.utf8)[...]
        var apiIndex: Int?
        // LocalStack's form: /restapis/{apiId}/{stage}/_user_request_/{path}
        let restapis = Array("/restapis/".utf8)
        if path.starts(with: restapis) {
            let parts = path.dropFirst(restapis.count).split(separator: 0x2F, maxSplits: 3, omittingEmptySubsequences: false)
            guard parts.count >= 3, parts[2].elementsEqual("_user_request_".utf8),
                  let i = byId[String(decoding: parts[0], as: UTF8.self)] else { return nil }
            apiIndex = i
            path = ([0x2F] + parts[1] + [0x2F] + (parts.count > 3 ? Array(parts[3]) : []))[...]
        } else if let host, let i = Router.apiIndex(host: host, byId: byId) {
            apiIndex = i
        } else if apis.count == 1 {
            apiIndex = 0
        }
        guard let a = apiIndex else { return nil }
        let afterSlash = path.dropFirst()
        let stageName = afterSlash.prefix { $0 != 0x2F }
        guard let s = stageNames[a].firstIndex(where: { $0.elementsEqual(stageName) }) else { return nil }
        var resourcePath = afterSlash.dropFirst(stageName.count)
        if resourcePath.isEmpty { resourcePath = [0x2F][...] }
        let segments = resourcePath.split(separator: 0x2F, omittingEmptySubsequences: true)
        var best: (score: UInt64, index: Int)?
        for (k, pattern) in patterns[a].enumerated() {
            guard let score = Router.score(pattern, segments) else { continue }
            if best == nil || score < best!.score { best = (score, k) }
        }
        guard let found = best else { return nil }
        let api = apis[a]
        let resource = api.resources[found.index]
        guard let m = resource.methods[method] ?? resource.methods["ANY"] else { return nil }
        return RouteMatch(api: api, stage: api.stages[s], resource: resource, method: m,
                          path: String(decoding: resourcePath, as: UTF8.self),
                          pathParameters: Router.parameters(patterns[a][found.index], segments))
    }

    /// `{apiId}.execute-api.{region}.amazonaws.com` → the API's index.
    static func apiIndex(host: String, byId: [String: Int]) -> Int? {
        let h = Array(host.utf8)
        guard let dot = h.firstIndex(of: 0x2E), h[dot...].starts(with: ".execute-api.".utf8) else { return nil }
        return byId[String(decoding: h[..<dot], as: UTF8.self)]
    }

    /// Ranks a match: per segment, literal (0) before `{param}` (1) before `{proxy+}` (2), the
    /// first segment weighing most. The ranks are packed two bits a segment into one number
    /// (the first 32 segments; deeper ones tie), so a smaller number is a better match.
    static func score(_ pattern: [CompiledSegment], _ segs: [ArraySlice<UInt8>]) -> UInt64? {
        var score: UInt64 = 0
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
                guard i < segs.count, segs[i].elementsEqual(l) else { return nil }
                rank(0)
                i += 1
            case .parameter:
                guard i < segs.count else { return nil }
                rank(1)
                i += 1
            case .greedy:
                guard i < segs.count else { return nil }
                rank(2)
                i = segs.count
            }
        }
        guard i == segs.count else { return nil }
        if ranked < 32 { score <<= UInt64(2 * (32 - ranked)) }
        return score
    }

    /// The path parameters of a pattern that matched.
    static func parameters(_ pattern: [CompiledSegment], _ segs: [ArraySlice<UInt8>]) -> [String: String] {
        var params: [String: String] = [:]
        var i = 0
        for p in pattern {
            switch p {
            case .literal:
                i += 1
            case .parameter(let name):
                params[name] = String(decoding: segs[i], as: UTF8.self)
                i += 1
            case .greedy(let name):
                var joined: [UInt8] = []
                for (k, seg) in segs[i...].enumerated() {
                    if k > 0 { joined.append(0x2F) }
                    joined.append(contentsOf: seg)
                }
                params[name] = String(decoding: joined, as: UTF8.self)
                i = segs.count
            }
        }
        return params
    }
}
