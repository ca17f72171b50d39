import GatehouseJSON

/// A token bucket's settings: `rateLimit` requests per second on average, `burstLimit` at once.
public struct ThrottleSpec: Sendable, Equatable {
    public var rateLimit: Double
    public var burstLimit: Int

    public init(rateLimit: Double, burstLimit: Int) {
        self.rateLimit = rateLimit
        self.burstLimit = burstLimit
    }

    /// API Gateway's default account-level throttle: 10,000 requests per second, 5,000 burst.
    public static let accountDefault = ThrottleSpec(rateLimit: 10_000, burstLimit: 5_000)
}

/// A usage plan's quota: `limit` requests per `period` (UTC day, week from Monday, month).
public struct QuotaSpec: Sendable, Equatable {
    public enum Period: String, Sendable { case day = "DAY", week = "WEEK", month = "MONTH" }
    public var limit: Int
    public var period: Period
}

/// An API key (`x-api-key`).
public struct ApiKeySpec: Sendable {
    public var id: String
    public var name: String
    public var value: String
    public var enabled: Bool
}

/// A usage plan: which API stages it covers, its throttle and quota, and its keys (by id).
public struct UsagePlanSpec: Sendable {
    public var name: String
    /// `(api, stage)` where `api` is an API id or its logical id in the template.
    public var apiStages: [(api: String, stage: String)]
    public var throttle: ThrottleSpec?
    public var quota: QuotaSpec?
    public var keyIds: [String]
}

/// API keys, usage plans and the account throttle, from the conf file.
public struct UsageConfig: Sendable {
    public var keys: [ApiKeySpec] = []
    public var plans: [UsagePlanSpec] = []
    public var accountThrottle = ThrottleSpec.accountDefault

    public init() {}

    /// Reads `apiKeys:`, `usagePlans:` and `throttle:` from a conf file's root.
    public static func load(_ root: JSONValue, file: String) throws(ConfigError) -> UsageConfig {
        func fail(_ at: String, _ reason: String) -> ConfigError { ConfigError(file: file, path: at, reason: reason) }
        func throttle(_ v: JSONValue?, at: String) throws(ConfigError) -> ThrottleSpec? {
            guard let v else { return nil }
            guard let rate = v["rateLimit"]?.doubleValue, rate >= 0 else { throw fail("\(at).rateLimit", "expected a number ≥ 0") }
            guard case .int(let burst)? = v["burstLimit"], burst >= 0 else { throw fail("\(at).burstLimit", "expected an integer ≥ 0") }
            return ThrottleSpec(rateLimit: rate, burstLimit: Int(burst))
        }
        var u = UsageConfig()
        if let t = try throttle(root["throttle"], at: "throttle") { u.accountThrottle = t }
        if let list = root["apiKeys"] {
            guard case .array(let items) = list else { throw fail("apiKeys", "expected a list") }
            for (i, k) in items.enumerated() {
                let at = "apiKeys[\(i)]"
                guard let name = confText(k["name"]), !name.isEmpty else { throw fail("\(at).name", "is missing") }
                // API Gateway requires at least 20 characters.
                guard let value = confText(k["value"]), value.count >= 20 else {
                    throw fail("\(at).value", "must be at least 20 characters")
                }
                var enabled = true
                if let e = k["enabled"] {
                    guard case .bool(let b) = e else { throw fail("\(at).enabled", "expected true or false") }
                    enabled = b
                }
                u.keys.append(ApiKeySpec(id: confText(k["id"]) ?? name, name: name, value: value, enabled: enabled))
            }
        }
        if let list = root["usagePlans"] {
            guard case .array(let items) = list else { throw fail("usagePlans", "expected a list") }
            for (i, p) in items.enumerated() {
                let at = "usagePlans[\(i)]"
                guard let name = confText(p["name"]), !name.isEmpty else { throw fail("\(at).name", "is missing") }
                var stages: [(api: String, stage: String)] = []
                for (j, s) in (p["apiStages"]?.arrayValue ?? []).enumerated() {
                    guard let api = confText(s["apiId"]), let stage = confText(s["stage"]) else {
                        throw fail("\(at).apiStages[\(j)]", "needs apiId and stage")
                    }
                    stages.append((api, stage))
                }
                var quota: QuotaSpec?
                if let q = p["quota"] {
                    guard case .int(let limit)? = q["limit"], limit >= 0 else { throw fail("\(at).quota.limit", "expected an integer ≥ 0") }
                    guard let ps = confText(q["period"]), let period = QuotaSpec.Period(rawValue: ps.uppercased()) else {
                        throw fail("\(at).quota.period", "expected DAY, WEEK or MONTH")
                    }
                    quota = QuotaSpec(limit: Int(limit), period: period)
                }
                var keyIds: [String] = []
                for k in p["keys"]?.arrayValue ?? [] {
                    guard let ref = confText(k) else { throw fail("\(at).keys", "expected key names or ids") }
                    guard let key = u.keys.first(where: { $0.id == ref || $0.name == ref }) else {
                        throw fail("\(at).keys", "no API key named \(ref)")
                    }
                    keyIds.append(key.id)
                }
                u.plans.append(UsagePlanSpec(name: name, apiStages: stages, throttle: try throttle(p["throttle"], at: "\(at).throttle"),
                                             quota: quota, keyIds: keyIds))
            }
        }
        return u
    }
}
