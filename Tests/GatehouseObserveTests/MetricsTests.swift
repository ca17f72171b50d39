#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
@testable import GatehouseObserve
import Testing

@Suite struct MetricsTests {
    func lines(_ r: MetricsRegistry) -> [String] {
        r.exposition().split(separator: "\n").map(String.init)
    }

    @Test func histogramAndCounter() {
        let r = MetricsRegistry()
        for ms in [1.0, 5.0, 7.0, 120.0, 45_000.0] {
            r.observe(api: "a1b2c3d4e5", stage: "prod", resource: "/pets/{petId}", method: "GET", status: 200, latencyMillis: ms)
        }
        let l = lines(r)
        let labels = #"api_id="a1b2c3d4e5",stage="prod",resource="/pets/{petId}",method="GET",status="200""#
        #expect(l.contains("# HELP gatehouse_requests_total Requests handled, by API, stage, resource, method and status."))
        #expect(l.contains("# TYPE gatehouse_requests_total counter"))
        #expect(l.contains("gatehouse_requests_total{\(labels)} 5"))
        #expect(l.contains("# TYPE gatehouse_request_duration_seconds histogram"))
        let buckets = l.filter { $0.hasPrefix("gatehouse_request_duration_seconds_bucket{") }
        // 1 ms and 5 ms are <= 0.005 s (le is inclusive), 7 ms <= 0.01, 120 ms <= 0.25, 45 s only +Inf.
        #expect(buckets == zip(MetricsRegistry.bucketLabels, [2, 3, 3, 3, 3, 4, 4, 4, 4, 4, 4, 4, 5]).map {
            "gatehouse_request_duration_seconds_bucket{\(labels),le=\"\($0)\"} \($1)"
        })
        #expect(l.contains("gatehouse_request_duration_seconds_sum{\(labels)} 45.133"))
        #expect(l.contains("gatehouse_request_duration_seconds_count{\(labels)} 5"))
    }

    @Test func labelValuesAreEscaped() {
        let r = MetricsRegistry()
        r.observe(api: #"a"b"#, stage: #"c\d"#, resource: "/x\ny", method: "GET", status: 404, latencyMillis: 1)
        #expect(lines(r).contains(#"gatehouse_requests_total{api_id="a\"b",stage="c\\d",resource="/x\ny",method="GET",status="404"} 1"#))
    }

    @Test func orderingIsDeterministic() {
        let obs: [(String, String, Int)] = [("b", "/z", 500), ("a", "/y", 200), ("a", "/x", 201), ("a", "/x", 200), ("b", "/a", 200)]
        let r1 = MetricsRegistry(), r2 = MetricsRegistry(shardCount: 1)
        for (api, res, st) in obs { r1.observe(api: api, stage: "s", resource: res, method: "GET", status: st, latencyMillis: 3) }
        for (api, res, st) in obs.reversed() { r2.observe(api: api, stage: "s", resource: res, method: "GET", status: st, latencyMillis: 3) }
        #expect(r1.exposition() == r2.exposition())
        let order = lines(r1).filter { $0.hasPrefix("gatehouse_requests_total{") }.map { $0.split(separator: " ")[0] }
        #expect(order == [
            #"gatehouse_requests_total{api_id="a",stage="s",resource="/x",method="GET",status="200"}"#,
            #"gatehouse_requests_total{api_id="a",stage="s",resource="/x",method="GET",status="201"}"#,
            #"gatehouse_requests_total{api_id="a",stage="s",resource="/y",method="GET",status="200"}"#,
            #"gatehouse_requests_total{api_id="b",stage="s",resource="/a",method="GET",status="200"}"#,
            #"gatehouse_requests_total{api_id="b",stage="s",resource="/z",method="GET",status="500"}"#,
        ].map { Substring($0) })
    }

    @Test func concurrentObserversLoseNothing() {
        let r = MetricsRegistry()
        let threads = (0..<4).map { t in
            TestThread {
                for i in 0..<25_000 {
                    r.observe(api: "api", stage: "prod", resource: "/r\(i % 3)", method: t % 2 == 0 ? "GET" : "POST",
                              status: 200, latencyMillis: Double(i % 50))
                }
            }
        }
        threads.forEach { $0.join() }
        let counts = lines(r).filter { $0.hasPrefix("gatehouse_requests_total{") }.map { Int($0.split(separator: " ").last!)! }
        #expect(counts.count == 6)
        #expect(counts.reduce(0, +) == 100_000)
        let infBuckets = lines(r).filter { $0.contains(#"le="+Inf""#) }.map { Int($0.split(separator: " ").last!)! }
        #expect(infBuckets.reduce(0, +) == 100_000)
    }

    @Test func connectionsAndSampledCounters() {
        let r = MetricsRegistry()
        r.connectionOpened(); r.connectionOpened(); r.connectionOpened(); r.connectionClosed()
        r.connectionRejected(reason: "max_connections")
        r.connectionRejected(reason: "max_connections")
        r.connectionRejected(reason: "tls_handshake")
        r.registerCounter(name: "gatehouse_log_lines_dropped_total", help: "Access-log lines dropped.") { 7 }
        let l = lines(r)
        #expect(l.contains("# TYPE gatehouse_open_connections gauge"))
        #expect(l.contains("gatehouse_open_connections 2"))
        #expect(l.contains(#"gatehouse_connections_rejected_total{reason="max_connections"} 2"#))
        #expect(l.contains(#"gatehouse_connections_rejected_total{reason="tls_handshake"} 1"#))
        #expect(l.contains("# TYPE gatehouse_log_lines_dropped_total counter"))
        #expect(l.contains("gatehouse_log_lines_dropped_total 7"))
        #expect(MetricsRegistry.isValidMetricName("a_b:c1"))
        #expect(!MetricsRegistry.isValidMetricName("1abc"))
        #expect(!MetricsRegistry.isValidMetricName("a-b"))
    }

    static let pythonParser: Bool =
        shell("python3 -c 'from prometheus_client.parser import text_string_to_metric_families' >/dev/null 2>&1") == 0

    /// The reference Python client parses the output and agrees on families, types and values.
    @Test(.enabled(if: pythonParser, "python3 with prometheus_client not installed (pip install prometheus-client)"))
    func pythonPrometheusClientParses() {
        let r = MetricsRegistry()
        r.observe(api: "a1", stage: "prod", resource: "/pets/{petId}", method: "GET", status: 200, latencyMillis: 12)
        r.observe(api: "a1", stage: "prod", resource: "/pets/{petId}", method: "GET", status: 200, latencyMillis: 3000)
        r.observe(api: #"we"ird\"#, stage: "dev", resource: "/a\nb", method: "POST", status: 502, latencyMillis: 0.5)
        r.connectionOpened()
        r.connectionRejected(reason: "max_connections")
        r.registerCounter(name: "gatehouse_log_lines_dropped_total", help: "Access-log lines dropped.") { 3 }

        let dir = "/tmp/gatehouse-observe-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        _ = mkdir(dir, 0o700)
        defer { shell("rm -rf '\(dir)'") }
        writeFile("\(dir)/metrics.txt", r.exposition())
        writeFile("\(dir)/check.py", #"""
            import sys
            from prometheus_client.parser import text_string_to_metric_families
            fams = {f.name: f for f in text_string_to_metric_families(open(sys.argv[1]).read())}
            assert fams["gatehouse_requests"].type == "counter", fams.keys()
            assert fams["gatehouse_request_duration_seconds"].type == "histogram"
            assert fams["gatehouse_open_connections"].type == "gauge"
            assert fams["gatehouse_connections_rejected"].type == "counter"
            assert fams["gatehouse_log_lines_dropped"].type == "counter"
            reqs = {(s.labels["api_id"], s.labels["resource"]): s.value for s in fams["gatehouse_requests"].samples}
            assert reqs == {("a1", "/pets/{petId}"): 2.0, ('we"ird\\', "/a\nb"): 1.0}, reqs
            h = [s for s in fams["gatehouse_request_duration_seconds"].samples if s.labels["api_id"] == "a1"]
            buckets = [(s.labels["le"], s.value) for s in h if s.name.endswith("_bucket")]
            assert buckets[0] == ("0.005", 0.0) and buckets[2] == ("0.025", 1.0), buckets
            assert buckets[-1] == ("+Inf", 2.0), buckets
            assert [s.value for s in h if s.name.endswith("_sum")] == [3.012]
            assert [s.value for s in h if s.name.endswith("_count")] == [2.0]
            print("ok", len(fams), "families")
            """#)
        #expect(shell("python3 '\(dir)/check.py' '\(dir)/metrics.txt'") == 0)
    }
}
