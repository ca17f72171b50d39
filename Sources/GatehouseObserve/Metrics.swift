#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// Request counters and latency histograms for a Prometheus scrape (text format 0.0.4).
///
/// `observe` runs once per request on every worker thread, so the series live in shards, each
/// a dictionary behind its own `Mutex`; a thread picks its shard from a hash of its pthread id.
/// With one loop thread per core and more shards than threads, each thread nearly always has a
/// lock nobody else takes, so `observe` costs an uncontended lock plus one dictionary update.
/// Two threads sharing a shard are still correct, only slower. `exposition()` merges the shards,
/// so a scrape pays for the work the hot path skipped.
///
/// Series are keyed by (api_id, stage, resource, method, status). `resource` must be the
/// resource template (`/pets/{petId}`), never the raw path, or the series count is unbounded.
public final class MetricsRegistry: Sendable {
    /// The `Content-Type` for the scrape response.
    public static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    /// Upper bounds of the latency buckets in milliseconds, matching `bucketLabels` (seconds).
    static let bucketBoundsMillis: [Double] = [5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000]
    static let bucketLabels = ["0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "30", "+Inf"]

    struct SeriesKey: Hashable, Comparable {
        var api: String, stage: String, resource: String, method: String, status: Int

        static func < (a: SeriesKey, b: SeriesKey) -> Bool {
            (a.api, a.stage, a.resource, a.method, a.status) < (b.api, b.stage, b.resource, b.method, b.status)
        }
    }

    struct Series {
        /// Per-bucket (not cumulative) counts; the last slot is +Inf.
        var buckets = [UInt64](repeating: 0, count: MetricsRegistry.bucketLabels.count)
        var count: UInt64 = 0
        var sumMillis: Double = 0

        mutating func add(_ ms: Double) {
            var i = 0
            let bounds = MetricsRegistry.bucketBoundsMillis
            while i < bounds.count, ms > bounds[i] { i += 1 }
            buckets[i] += 1
            count += 1
            sumMillis += ms
        }

        mutating func merge(_ o: Series) {
            for i in buckets.indices { buckets[i] += o.buckets[i] }
            count += o.count
            sumMillis += o.sumMillis
        }
    }

    /// One shard's series. The series the thread updated last is checked before the table:
    /// a worker mostly serves the same route over and over, and comparing a key (its strings
    /// share storage with the last one's) is cheaper than hashing four strings (callgrind).
    struct ShardState {
        var index: [SeriesKey: Int] = [:]
        var keys: [SeriesKey] = []
        var series: [Series] = []
        var last = -1
    }

    final class Shard: Sendable {
        let state = Mutex(ShardState())
    }

    struct Sampled {
        var name: String, help: String, type: String
        var read: @Sendable () -> Int
    }

    private let shards: [Shard]
    private let openConnections = Atomic<Int>(0)
    private let rejected = Mutex<[String: UInt64]>([:])
    private let sampled = Mutex<[Sampled]>([])

    /// `shardCount` is rounded up to a power of two; the default suits up to a few dozen threads.
    public init(shardCount: Int = 64) {
        var n = 1
        while n < max(1, shardCount) { n <<= 1 }
        shards = (0..<n).map { _ in Shard() }
    }

    /// Records one finished request.
    public func observe(api: String, stage: String, resource: String, method: String, status: Int, latencyMillis: Double) {
        let key = SeriesKey(api: api, stage: stage, resource: resource, method: method, status: status)
        let ms = latencyMillis.isFinite ? max(0, latencyMillis) : 0
        shards[shardIndex()].state.withLock { s in
            let k: Int
            if s.last >= 0, s.keys[s.last] == key {
                k = s.last
            } else if let found = s.index[key] {
                k = found
            } else {
                k = s.series.count
                s.index[key] = k
                s.keys.append(key)
                s.series.append(Series())
            }
            s.last = k
            s.series[k].add(ms)
        }
    }

    public func connectionOpened() { openConnections.add(1, ordering: .relaxed) }
    public func connectionClosed() { openConnections.subtract(1, ordering: .relaxed) }

    /// Counts a connection refused before HTTP, e.g. `"max_connections"`, `"tls_handshake"`.
    public func connectionRejected(reason: String) {
        rejected.withLock { $0[reason, default: 0] += 1 }
    }

    /// A counter read at scrape time from somewhere else, e.g. `LogWriter.droppedLines` as
    /// `gatehouse_log_lines_dropped_total`. Keeping the count where it is maintained avoids a
    /// second hot-path increment.
    public func registerCounter(name: String, help: String, read: @escaping @Sendable () -> Int) {
        register(Sampled(name: name, help: help, type: "counter", read: read))
    }

    /// A gauge read at scrape time.
    public func registerGauge(name: String, help: String, read: @escaping @Sendable () -> Int) {
        register(Sampled(name: name, help: help, type: "gauge", read: read))
    }

    private func register(_ s: Sampled) {
        precondition(Self.isValidMetricName(s.name), "invalid metric name \(s.name)")
        sampled.withLock { list in
            list.removeAll { $0.name == s.name }
            list.append(s)
        }
    }

    static func isValidMetricName(_ name: String) -> Bool {
        var first = true
        for b in name.utf8 {
            let ok: Bool
            switch b {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                 UInt8(ascii: "_"), UInt8(ascii: ":"):
                ok = true
            case UInt8(ascii: "0")...UInt8(ascii: "9"):
                ok = !first
            default:
                ok = false
            }
            if !ok { return false }
            first = false
        }
        return !first
    }

    /// A shard for the calling thread: a mixed pthread id (glibc ids are aligned addresses,
    /// so their low bits alone would all land on one shard).
    private func shardIndex() -> Int {
        #if canImport(Darwin)
        var h = UInt64(UInt(bitPattern: pthread_self()))
        #else
        var h = UInt64(pthread_self())
        #endif
        h ^= h >> 33
        h &*= 0xff51_afd7_ed55_8ccd
        h ^= h >> 33
        return Int(truncatingIfNeeded: h) & (shards.count - 1)
    }

    /// The whole registry in Prometheus text format 0.0.4: families in a fixed order, series
    /// sorted by label values, label values escaped.
    public func exposition() -> String {
        var merged: [SeriesKey: Series] = [:]
        for shard in shards {
            let snapshot = shard.state.withLock { $0 }
            for (k, s) in zip(snapshot.keys, snapshot.series) { merged[k, default: Series()].merge(s) }
        }
        let keys = merged.keys.sorted()
        var out = ""
        out.reserveCapacity(256 + keys.count * 1200)

        header(&out, "gatehouse_requests_total", "Requests handled, by API, stage, resource, method and status.", "counter")
        for k in keys {
            out += "gatehouse_requests_total"
            labels(&out, k, le: nil)
            out += " \(merged[k]!.count)\n"
        }

        header(&out, "gatehouse_request_duration_seconds", "Time from request received to response sent, in seconds.", "histogram")
        for k in keys {
            let s = merged[k]!
            var cumulative: UInt64 = 0
            for (i, le) in Self.bucketLabels.enumerated() {
                cumulative += s.buckets[i]
                out += "gatehouse_request_duration_seconds_bucket"
                labels(&out, k, le: le)
                out += " \(cumulative)\n"
            }
            out += "gatehouse_request_duration_seconds_sum"
            labels(&out, k, le: nil)
            out += " \(s.sumMillis / 1000)\n"
            out += "gatehouse_request_duration_seconds_count"
            labels(&out, k, le: nil)
            out += " \(s.count)\n"
        }

        header(&out, "gatehouse_open_connections", "Client connections currently open.", "gauge")
        out += "gatehouse_open_connections \(openConnections.load(ordering: .relaxed))\n"

        header(&out, "gatehouse_connections_rejected_total", "Client connections refused, by reason.", "counter")
        for (reason, n) in rejected.withLock({ $0 }).sorted(by: { $0.key < $1.key }) {
            out += "gatehouse_connections_rejected_total{reason=\""
            escapeLabelValue(&out, reason)
            out += "\"} \(n)\n"
        }

        for s in sampled.withLock({ $0 }).sorted(by: { $0.name < $1.name }) {
            header(&out, s.name, s.help, s.type)
            out += "\(s.name) \(s.read())\n"
        }
        return out
    }

    private func header(_ out: inout String, _ name: String, _ help: String, _ type: String) {
        out += "# HELP \(name) "
        for c in help.unicodeScalars {
            switch c {
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            default: out.unicodeScalars.append(c)
            }
        }
        out += "\n# TYPE \(name) \(type)\n"
    }

    private func labels(_ out: inout String, _ k: SeriesKey, le: String?) {
        out += "{api_id=\""
        escapeLabelValue(&out, k.api)
        out += "\",stage=\""
        escapeLabelValue(&out, k.stage)
        out += "\",resource=\""
        escapeLabelValue(&out, k.resource)
        out += "\",method=\""
        escapeLabelValue(&out, k.method)
        out += "\",status=\"\(k.status)\""
        if let le { out += ",le=\"\(le)\"" }
        out += "}"
    }

    private func escapeLabelValue(_ out: inout String, _ v: String) {
        for c in v.unicodeScalars {
            switch c {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.unicodeScalars.append(c)
            }
        }
    }
}
