import GatehouseModel

/// The API, stage, resource and method a request addresses, with its path parameters.
public struct RouteMatch: Sendable {
    /// The matched parts are held by reference to the router's copies, made once per snapshot:
    /// a match then costs four retains, where copies of the specs cost dozens (perf).
    let apiRef: Frozen<RestApiSpec>
    let stageRef: Frozen<StageSpec>
    let resourceRef: Frozen<ResourceSpec>
    let methodRef: Frozen<MethodSpec>
    // Read accessors lend the spec in place: `match.api.id` then retains one string, where a
    // getter returning the spec would copy (retain) every field of it first.
    public var api: RestApiSpec { _read { yield apiRef.value } }
    public var stage: StageSpec { _read { yield stageRef.value } }
    public var resource: ResourceSpec { _read { yield resourceRef.value } }
    public var method: MethodSpec { _read { yield methodRef.value } }
    /// The resource path as requested, stage removed (e.g. `/execution`), still percent-encoded.
    public var path: String
    /// The path parameters in pattern order (a list: a route has a handful, and a table cost an
    /// allocation and a hash per request).
    public var pathParameterList: NamedValues
    public var pathParameters: [String: String] {
        var d: [String: String] = [:]
        for (n, v) in pathParameterList.pairs { d[n] = v }
        return d
    }
    /// `arn:aws:execute-api:{region}:{account}:{apiId}/{stage}/`, made once per snapshot.
    public let stageArnPrefix: String
}

/// Name-value pairs looked up by a linear scan: for the few path parameters of a request,
/// cheaper than a dictionary (no allocation of a table, no hashing).
public struct NamedValues: Sendable {
    public private(set) var pairs: [(name: String, value: String)] = []

    public init() {}

    public subscript(name: String) -> String? {
        get {
            for i in pairs.indices where pairs[i].name == name { return pairs[i].value }
            return nil
        }
        set {
            if let i = pairs.firstIndex(where: { $0.name == name }) {
                if let newValue { pairs[i].value = newValue } else { pairs.remove(at: i) }
            } else if let newValue {
                pairs.append((name, newValue))
            }
        }
    }

}

/// An immutable value kept in one place and shared by reference.
final class Frozen<Value: Sendable>: Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
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
    /// The specs a match refers to: per API, its stages, and its resources with their methods
    /// by HTTP method (as bytes, found by a linear scan: a resource has a handful).
    let apiRefs: [Frozen<RestApiSpec>]
    let stageRefs: [[Frozen<StageSpec>]]
    let resourceRefs: [[Frozen<ResourceSpec>]]
    let methodRefs: [[[(method: [UInt8], spec: Frozen<MethodSpec>)]]]
    /// Per API and stage, the method ARN prefix.
    let stageArnPrefixes: [[String]]

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
        stageArnPrefixes = apis.map { api in api.stages.map { "\(api.executeApiArnPrefix)/\($0.name)/" } }
        apiRefs = apis.map { Frozen($0) }
        stageRefs = apis.map { $0.stages.map { Frozen($0) } }
        resourceRefs = apis.map { $0.resources.map { Frozen($0) } }
        methodRefs = apis.map { api in
            api.resources.map { r in
                r.methods.sorted { $0.key < $1.key }.map { (Array($0.key.utf8), Frozen($0.value)) }
            }
        }
    }

    /// The resource's method for `method`, else its ANY method.
    private func methodRef(api: Int, resource: Int, method: String) -> Frozen<MethodSpec>? {
        let methods = methodRefs[api][resource]
        var any: Frozen<MethodSpec>?
        var method = method
        return method.withUTF8 { m in
            for (name, spec) in methods {
                if name.elementsEqual(m) { return spec }
                if name.elementsEqual("ANY".utf8) { any = spec }
            }
            return any
        }
    }

    public func route(method: String, path rawPath: String, host: String?) -> RouteMatch? {
        // LocalStack's form: /restapis/{apiId}/{stage}/_user_request_/{path}
        if rawPath.utf8.starts(with: Router.restapis) {
            let parts = Array(rawPath.utf8).dropFirst(Router.restapis.count)
                .split(separator: 0x2F, maxSplits: 3, omittingEmptySubsequences: false)
            guard parts.count >= 3, parts[2].elementsEqual("_user_request_".utf8),
                  let i = byId[String(decoding: parts[0], as: UTF8.self)] else { return nil }
            let path = [0x2F] + parts[1] + [0x2F] + (parts.count > 3 ? Array(parts[3]) : [])
            return path.withUnsafeBufferPointer { route(api: i, method: method, path: $0) }
        }
        let apiIndex: Int
        if let host, let i = Router.apiIndex(host: host, byId: byId) {
            apiIndex = i
        } else if apis.count == 1 {
            apiIndex = 0
        } else {
            return nil
        }
        var rawPath = rawPath
        return rawPath.withUTF8 { route(api: apiIndex, method: method, path: $0) }
    }

    private static let restapis = Array("/restapis/".utf8)

    /// Routes a path (stage first) within API `a`, over its bytes: no copies of it but the
    /// resource path and the parameters a match keeps.
    private func route(api a: Int, method: String, path: UnsafeBufferPointer<UInt8>) -> RouteMatch? {
        guard !path.isEmpty else { return nil }
        var stageEnd = 1
        while stageEnd < path.count && path[stageEnd] != 0x2F { stageEnd += 1 }
        let stageName = UnsafeBufferPointer(rebasing: path[1..<stageEnd])
        guard let s = stageNames[a].firstIndex(where: { $0.elementsEqual(stageName) }) else { return nil }
        let resourcePath = UnsafeBufferPointer(rebasing: path[stageEnd...])
        var best: (score: UInt64, index: Int)?
        for (k, pattern) in patterns[a].enumerated() {
            guard let score = Router.score(pattern, Segments(resourcePath)) else { continue }
            if best == nil || score < best!.score { best = (score, k) }
        }
        guard let found = best, let m = methodRef(api: a, resource: found.index, method: method) else { return nil }
        let pattern = patterns[a][found.index]
        return RouteMatch(apiRef: apiRefs[a], stageRef: stageRefs[a][s], resourceRef: resourceRefs[a][found.index], methodRef: m,
                          path: resourcePath.isEmpty ? "/" : String(decoding: resourcePath, as: UTF8.self),
                          pathParameterList: Router.parameters(pattern, Segments(resourcePath)),
                          stageArnPrefix: stageArnPrefixes[a][s])
    }

    /// The non-empty `/`-separated segments of a path, as ranges of it.
    struct Segments: IteratorProtocol {
        let path: UnsafeBufferPointer<UInt8>
        var i = 0
        init(_ path: UnsafeBufferPointer<UInt8>) { self.path = path }

        mutating func next() -> UnsafeBufferPointer<UInt8>? {
            while i < path.count && path[i] == 0x2F { i += 1 }
            guard i < path.count else { return nil }
            let start = i
            while i < path.count && path[i] != 0x2F { i += 1 }
            return UnsafeBufferPointer(rebasing: path[start..<i])
        }
    }

    /// `{apiId}.execute-api.{region}.amazonaws.com` → the API's index.
    static func apiIndex(host: String, byId: [String: Int]) -> Int? {
        let h = host.utf8
        guard let dot = h.firstIndex(of: 0x2E), h[dot...].starts(with: ".execute-api.".utf8) else { return nil }
        return byId[String(host[..<dot])]
    }

    /// Ranks a match: per segment, literal (0) before `{param}` (1) before `{proxy+}` (2), the
    /// first segment weighing most. The ranks are packed two bits a segment into one number
    /// (the first 32 segments; deeper ones tie), so a smaller number is a better match.
    static func score(_ pattern: [CompiledSegment], _ segments: Segments) -> UInt64? {
        var segs = segments
        var score: UInt64 = 0
        var ranked = 0
        func rank(_ r: UInt64) {
            guard ranked < 32 else { return }
            score = score << 2 | r
            ranked += 1
        }
        for p in pattern {
            guard let seg = segs.next() else { return nil }
            switch p {
            case .literal(let l):
                guard seg.elementsEqual(l) else { return nil }
                rank(0)
            case .parameter:
                rank(1)
            case .greedy:
                rank(2)
                while segs.next() != nil {}
            }
        }
        guard segs.next() == nil else { return nil }
        if ranked < 32 { score <<= UInt64(2 * (32 - ranked)) }
        return score
    }

    /// The path parameters of a pattern that matched.
    static func parameters(_ pattern: [CompiledSegment], _ segments: Segments) -> NamedValues {
        var params = NamedValues()
        var segs = segments
        for p in pattern {
            guard let seg = segs.next() else { break }
            switch p {
            case .literal:
                continue
            case .parameter(let name):
                params[name] = String(decoding: seg, as: UTF8.self)
            case .greedy(let name):
                guard var more = segs.next() else {
                    params[name] = String(decoding: seg, as: UTF8.self)
                    break
                }
                var joined = Array(seg)
                while true {
                    joined.append(0x2F)
                    joined.append(contentsOf: more)
                    guard let next = segs.next() else { break }
                    more = next
                }
                params[name] = String(decoding: joined, as: UTF8.self)
            }
        }
        return params
    }
}
