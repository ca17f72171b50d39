// Microbenchmark: SigV4 verification of one signed execute-api request with a warm signing-key
// cache (the gateway's steady state), in release mode. Prints nanoseconds per verification.
//   swift run -c release sigv4-bench [iterations]
import GatehouseSigV4
import BenchSupport

let iterations = CommandLine.arguments.count > 1 ? Int(CommandLine.arguments[1]) ?? 200_000 : 200_000
let credentials = SigV4Credentials(accessKeyId: "AKIDBENCH", secretAccessKey: "bench-secret")
let now: Int64 = 1_764_000_000
// A request shaped like the seed's StartExecution call: JSON body, a few headers.
var request = SigV4Request(
    method: "POST", path: "/dev/execution", query: "",
    headers: [SigV4Header("Host", "abc123defg.execute-api.us-east-1.amazonaws.com"),
              SigV4Header("Content-Type", "application/json"),
              SigV4Header("User-Agent", "bench/1.0")],
    body: Array(#"{"input": "{\"someKey\":\"someValue\"}", "stateMachineArn": "arn:aws:states:us-east-1:222222222222:stateMachine:DestinationStateMachine"}"#.utf8))
SigV4Signer(credentials: credentials, region: "us-east-1", service: "execute-api").sign(&request, date: now)
let verifier = SigV4Verifier(service: "execute-api", region: "us-east-1", clockSkewSeconds: 300) { id in
    id == credentials.accessKeyId ? credentials : nil
}
guard case .verified = verifier.verify(request, now: now) else { fatalError("the signed request does not verify") }

var best = UInt64.max
for _ in 0..<5 {
    let start = nowNanos()
    var ok = 0
    for _ in 0..<iterations {
        if case .verified = verifier.verify(request, now: now) { ok += 1 }
    }
    precondition(ok == iterations)
    best = min(best, (nowNanos() - start) / UInt64(iterations))
}
print("sigv4 verify (warm key cache, \(request.body.count)-byte body, \(request.headers.count) headers): \(best) ns per request (best of 5 runs of \(iterations))")
