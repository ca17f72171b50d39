// Microbenchmark: render a typical 20-line mapping template (a loop, a sum, escapes, JSONPath,
// $context) against a 2 KB JSON body, in release mode. Prints microseconds per render.
//   swift run -c release vtl-bench [case.json] [iterations]
import GatehouseJSON
import GatehouseMapping
import BenchSupport

let args = CommandLine.arguments
let casePath = args.count > 1 ? args[1] : "bench/vtl/case.json"
let iterations = args.count > 2 ? Int(args[2]) ?? 20_000 : 20_000
let request = try! JSONValue.parse(readFile(casePath))
let template = try! VTLTemplate(request["template"]!.stringValue!)
var input = MappingInput(body: request["body"]?.stringValue)
func pairs(_ v: JSONValue?) -> [(String, String)] {
    (v?.objectValue?.members ?? []).map { ($0.key, $0.value.stringValue ?? "") }
}
input.path = pairs(request["params"]?["path"])
input.querystring = pairs(request["params"]?["querystring"])
input.header = pairs(request["params"]?["header"])
input.context = request["context"]?.objectValue ?? JSONObject()
let first = try! renderMapping(template, input).output
precondition(first.contains("\"total\": "), first)

var best = UInt64.max
for _ in 0..<5 {
    let start = nowNanos()
    var bytes = 0
    for _ in 0..<iterations { bytes &+= try! renderMapping(template, input).output.utf8.count }
    precondition(bytes > 0)
    best = min(best, (nowNanos() - start) / UInt64(iterations))
}
print("vtl render (\(template.source.split(separator: "\n").count)-line template, \(input.body?.utf8.count ?? 0)-byte body): \(Double(best) / 1000) µs per render (best of 5 runs of \(iterations))")

// The JSON body alone, for the breakdown.
if let body = input.body {
    var bestParse = UInt64.max
    for _ in 0..<5 {
        let start = nowNanos()
        var n = 0
        for _ in 0..<iterations { if case .map(let m) = parseBodyForBench(body) { n &+= m.count } }
        precondition(n > 0)
        bestParse = min(bestParse, (nowNanos() - start) / UInt64(iterations))
    }
    print("  of which parsing the \(body.utf8.count)-byte body: \(Double(bestParse) / 1000) µs")
}
