// Microbenchmark: resource-policy evaluation per request, in release mode. Prints nanoseconds
// per evaluation for the seed's policy and for a 20-statement policy whose deciding statement
// is the last one (every statement is tried).
//   swift run -c release policy-bench [iterations]
import GatehousePolicy
import BenchSupport

let iterations = CommandLine.arguments.count > 1 ? Int(CommandLine.arguments[1]) ?? 200_000 : 200_000
let api = "arn:aws:execute-api:us-east-1:222222222222:9cev4ysye5"
let sourceArn = "arn:aws:states:us-east-1:111111111111:stateMachine:SourceStateMachine"

// The seed's statement, as account-b.yaml has it once the template is resolved.
let seed = try! ResourcePolicy(json: """
{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "states.amazonaws.com"},
  "Action": "execute-api:Invoke", "Resource": "arn:aws:execute-api:us-east-1:222222222222:*/*/*/*",
  "Condition": {"StringEquals": {"aws:SourceArn": "\(sourceArn)"}}}]}
""")

// Twenty statements of the kinds people write: IP allow-lists, account and role principals,
// source ARNs, explicit denies with negated operators, a policy variable, time windows.
var statements: [String] = []
for i in 0..<4 {
    statements.append(#"{"Sid": "Ip\#(i)", "Effect": "Allow", "Principal": "*", "Action": "execute-api:Invoke", "Resource": "\#(api)/prod/GET/ip\#(i)/*", "Condition": {"IpAddress": {"aws:SourceIp": ["10.\#(i).0.0/16", "2001:db8:\#(i)::/48"]}}}"#)
    statements.append(#"{"Sid": "Account\#(i)", "Effect": "Allow", "Principal": {"AWS": ["33333333333\#(i)", "arn:aws:iam::44444444444\#(i):role/r\#(i)"]}, "Action": "execute-api:Invoke", "Resource": "\#(api)/*/POST/orders/*"}"#)
    statements.append(#"{"Sid": "DenyOld\#(i)", "Effect": "Deny", "Principal": "*", "Action": "execute-api:Invoke", "Resource": "\#(api)/old\#(i)/*", "Condition": {"StringNotLike": {"aws:UserAgent": "modern/*"}}}"#)
    statements.append(#"{"Sid": "Arn\#(i)", "Effect": "Allow", "Principal": {"Service": "states.amazonaws.com"}, "Action": "execute-api:Invoke", "Resource": "\#(api)/*/*/jobs/*", "Condition": {"ArnLike": {"aws:SourceArn": "arn:aws:states:*:55555555555\#(i):stateMachine:*"}}}"#)
    statements.append(#"{"Sid": "User\#(i)", "Effect": "Allow", "Principal": "*", "Action": "execute-api:Invoke", "Resource": "\#(api)/u\#(i)/GET/users/${aws:username}", "Condition": {"DateLessThan": {"aws:CurrentTime": "2030-01-01T00:00:00Z"}, "Bool": {"aws:SecureTransport": "true"}}}"#)
}
// The deciding statement, last: the seed's.
statements[19] = #"{"Sid": "Seed", "Effect": "Allow", "Principal": {"Service": "states.amazonaws.com"}, "Action": "execute-api:Invoke", "Resource": "arn:aws:execute-api:us-east-1:222222222222:*/*/*/*", "Condition": {"StringEquals": {"aws:SourceArn": "\#(sourceArn)"}}}"#
let twenty = try! ResourcePolicy(json: #"{"Version": "2012-10-17", "Statement": [\#(statements.joined(separator: ","))]}"#)
precondition(twenty.statementIDs.count == 20)

// The context the gateway builds for the seed's caller (Step Functions with its source ARN).
var context = PolicyContext()
context[.sourceArn] = [sourceArn]
context[.sourceAccount] = ["111111111111"]
context[.principalServiceName] = ["states.amazonaws.com"]
context[.principalIsAWSService] = ["true"]
context[.sourceIp] = ["127.0.0.1"]
context[.userAgent] = ["legacy/1.0"]
context[.secureTransport] = ["false"]
context[.currentTime] = ["2026-11-25T12:00:00Z"]
let request = PolicyRequest(principal: .service("states.amazonaws.com"), action: "execute-api:Invoke",
                            resource: "\(api)/dev/POST/execution", context: context)
precondition(seed.evaluate(request) == .allow)
precondition(twenty.evaluate(request) == .allow)
precondition(twenty.explain(request).statements.map(\.sid) == ["Seed"])

func measure(_ name: String, _ policy: ResourcePolicy) {
    var best = UInt64.max
    for _ in 0..<5 {
        let start = nowNanos()
        var allowed = 0
        for _ in 0..<iterations where policy.evaluate(request) == .allow { allowed += 1 }
        precondition(allowed == iterations)
        best = min(best, (nowNanos() - start) / UInt64(iterations))
    }
    print("policy evaluate (\(name)): \(best) ns per evaluation (best of 5 runs of \(iterations))")
}
measure("seed policy, 1 statement", seed)
measure("20 statements, the last one decides", twenty)
