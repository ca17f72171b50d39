import GatehouseModel
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A token bucket: holds up to `burstLimit` tokens, refills at `rateLimit` a second, and a
/// request takes one. Shared by every worker, so its state is behind a lock.
public final class TokenBucket: Sendable {
    let spec: ThrottleSpec
    private let state: Mutex<(tokens: Double, last: Double)>

    public init(_ spec: ThrottleSpec, now: Double) {
        self.spec = spec
        state = Mutex((Double(max(spec.burstLimit, 1)), now))
    }

    /// Takes a token if one is there.
    public func take(now: Double) -> Bool {
        let capacity = Double(max(spec.burstLimit, 1))
        return state.withLock { s in
            s.tokens = min(capacity, s.tokens + max(0, now - s.last) * spec.rateLimit)
            s.last = max(s.last, now)  // two threads may arrive with their clocks read out of order
            guard s.tokens >= 1 else { return false }
            s.tokens -= 1
            return true
        }
    }
}

/// Throttles and quotas that outlive a configuration snapshot and are shared by every worker:
/// the account bucket, one bucket per usage plan and key, one quota count per plan and key.
public final class UsageLimiter: Sendable {
    let account: TokenBucket
    private let buckets = Mutex<[String: TokenBucket]>([:])
    private let quotas = Mutex<[String: (window: Int64, used: Int)]>([:])

    public init(accountThrottle: ThrottleSpec = .accountDefault) {
        account = TokenBucket(accountThrottle, now: UsageLimiter.monotonicSeconds())
    }

    static func monotonicSeconds() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    /// The bucket for `key`, made with `spec` on first use (or when the spec changed on reload).
    func bucket(_ key: String, _ spec: ThrottleSpec, now: Double) -> TokenBucket {
        buckets.withLock { b in
            if let existing = b[key], existing.spec == spec { return existing }
            let made = TokenBucket(spec, now: now)
            b[key] = made
            return made
        }
    }

    /// Counts one request against `key`'s quota for the current period; false when used up.
    func takeQuota(_ key: String, _ spec: QuotaSpec, epochSeconds: Int64) -> Bool {
        let window = UsageLimiter.window(spec.period, epochSeconds: epochSeconds)
        return quotas.withLock { q in
            var entry = q[key] ?? (window, 0)
            if entry.window != window { entry = (window, 0) }
            guard entry.used < spec.limit else { q[key] = entry; return false }
            entry.used += 1
            q[key] = entry
            return true
        }
    }

    /// The quota period a moment falls in, in UTC: days, weeks starting Monday, months.
    static func window(_ p: QuotaSpec.Period, epochSeconds: Int64) -> Int64 {
        let days = epochSeconds >= 0 ? epochSeconds / 86_400 : (epochSeconds - 86_399) / 86_400
        switch p {
        case .day: return days
        case .week: return (days + 3) / 7   // 1970-01-01 was a Thursday
        case .month:
            var t = time_t(epochSeconds)
            var parts = tm()
            gmtime_r(&t, &parts)
            return Int64(parts.tm_year) * 12 + Int64(parts.tm_mon)
        }
    }
}

/// Phase 6 for one snapshot: API keys and usage plans resolved against the snapshot's APIs.
struct UsagePlans {
    struct Plan {
        var name: String
        var throttle: ThrottleSpec?
        var quota: QuotaSpec?
    }
    /// Enabled keys by value.
    let keysByValue: [String: ApiKeySpec]
    /// Plans by "apiId/stage/keyId".
    let plans: [String: Plan]

    init(_ usage: UsageConfig, apis: [RestApiSpec]) {
        var byValue: [String: ApiKeySpec] = [:]
        for k in usage.keys where k.enabled { byValue[k.value] = k }
        keysByValue = byValue
        var p: [String: Plan] = [:]
        for plan in usage.plans {
            for (api, stage) in plan.apiStages {
                let id = apis.first { $0.id == api || $0.logicalId == api }?.id ?? api
                for key in plan.keyIds {
                    p["\(id)/\(stage)/\(key)"] = Plan(name: plan.name, throttle: plan.throttle, quota: plan.quota)
                }
            }
        }
        plans = p
    }

    /// nil when the request may go on; else the gateway error API Gateway would answer.
    func check(apiKey: String?, apiId: String, stage: String, limiter: UsageLimiter) -> GatewayError? {
        // A key that is missing, unknown, disabled or in no plan for this stage: 403 Forbidden.
        guard let value = apiKey, let key = keysByValue[value],
              let plan = plans["\(apiId)/\(stage)/\(key.id)"] else { return .forbidden }
        let planKey = "\(plan.name)/\(key.id)"
        if let t = plan.throttle, !limiter.bucket(planKey, t, now: UsageLimiter.monotonicSeconds()).take(now: UsageLimiter.monotonicSeconds()) {
            return .tooManyRequests
        }
        if let q = plan.quota, !limiter.takeQuota(planKey, q, epochSeconds: Int64(time(nil))) {
            return .limitExceeded
        }
        return nil
    }
}
