import GatehouseJSON
import GatehousePolicy
import Testing

/// The seed scenario: a Step Functions state machine in account 111111111111 invokes an API in
/// account 222222222222, and the API's resource policy admits only that state machine.
let seedPolicyJSON = """
{
  "Version": "2012-10-17",
  "Statement": [{
    "Effect": "Allow",
    "Principal": {"Service": "states.amazonaws.com"},
    "Action": "execute-api:Invoke",
    "Resource": "arn:aws:execute-api:us-east-1:222222222222:*/*/*/*",
    "Condition": {"StringEquals": {"aws:SourceArn": "arn:aws:states:us-east-1:111111111111:stateMachine:SourceStateMachine"}}
  }]
}
"""

let seedResource = "arn:aws:execute-api:us-east-1:222222222222:abc123/dev/POST/execution"
let seedSourceArn = "arn:aws:states:us-east-1:111111111111:stateMachine:SourceStateMachine"
let statesService = PolicyPrincipal.service("states.amazonaws.com")

struct DecisionCase: Sendable, CustomTestStringConvertible {
    var name: String
    var request: PolicyRequest
    var expected: PolicyDecision
    var testDescription: String { name }
}

@Suite struct SeedScenarioTests {
    static let cases: [DecisionCase] = [
        DecisionCase(name: "state machine with matching source ARN",
                     request: PolicyRequest(principal: statesService, action: "execute-api:Invoke",
                                            resource: seedResource, context: ["aws:SourceArn": [seedSourceArn]]),
                     expected: .allow),
        DecisionCase(name: "condition key spelt in another case",
                     request: PolicyRequest(principal: statesService, action: "execute-api:Invoke",
                                            resource: seedResource, context: ["AWS:SOURCEARN": [seedSourceArn]]),
                     expected: .allow),
        DecisionCase(name: "action in another case",
                     request: PolicyRequest(principal: statesService, action: "EXECUTE-API:invoke",
                                            resource: seedResource, context: ["aws:SourceArn": [seedSourceArn]]),
                     expected: .allow),
        DecisionCase(name: "another state machine",
                     request: PolicyRequest(principal: statesService, action: "execute-api:Invoke", resource: seedResource,
                                            context: ["aws:SourceArn": ["arn:aws:states:us-east-1:111111111111:stateMachine:Other"]]),
                     expected: .implicitDeny),
        DecisionCase(name: "source ARN differing only in case",
                     request: PolicyRequest(principal: statesService, action: "execute-api:Invoke", resource: seedResource,
                                            context: ["aws:SourceArn": [seedSourceArn.lowercased()]]),
                     expected: .implicitDeny),
        DecisionCase(name: "missing source ARN",
                     request: PolicyRequest(principal: statesService, action: "execute-api:Invoke",
                                            resource: seedResource, context: [:]),
                     expected: .implicitDeny),
        DecisionCase(name: "IAM user principal",
                     request: PolicyRequest(principal: .aws(arn: "arn:aws:iam::222222222222:user/alice"),
                                            action: "execute-api:Invoke", resource: seedResource,
                                            context: ["aws:SourceArn": [seedSourceArn]]),
                     expected: .implicitDeny),
        DecisionCase(name: "anonymous caller",
                     request: PolicyRequest(principal: .anonymous, action: "execute-api:Invoke",
                                            resource: seedResource, context: ["aws:SourceArn": [seedSourceArn]]),
                     expected: .implicitDeny),
        DecisionCase(name: "another service",
                     request: PolicyRequest(principal: .service("lambda.amazonaws.com"), action: "execute-api:Invoke",
                                            resource: seedResource, context: ["aws:SourceArn": [seedSourceArn]]),
                     expected: .implicitDeny),
        DecisionCase(name: "another action",
                     request: PolicyRequest(principal: statesService, action: "execute-api:ManageConnections",
                                            resource: seedResource, context: ["aws:SourceArn": [seedSourceArn]]),
                     expected: .implicitDeny),
        DecisionCase(name: "API in another account",
                     request: PolicyRequest(principal: statesService, action: "execute-api:Invoke",
                                            resource: "arn:aws:execute-api:us-east-1:333333333333:abc123/dev/POST/execution",
                                            context: ["aws:SourceArn": [seedSourceArn]]),
                     expected: .implicitDeny),
        DecisionCase(name: "resource too short for */*/*/*",
                     request: PolicyRequest(principal: statesService, action: "execute-api:Invoke",
                                            resource: "arn:aws:execute-api:us-east-1:222222222222:abc123/dev",
                                            context: ["aws:SourceArn": [seedSourceArn]]),
                     expected: .implicitDeny),
    ]

    @Test(arguments: cases)
    func seedPolicy(_ c: DecisionCase) throws {
        let policy = try ResourcePolicy(json: seedPolicyJSON)
        #expect(policy.evaluate(c.request) == c.expected)
    }

    @Test func parsedDocumentAndTextAgree() throws {
        let doc = try JSONValue.parse(seedPolicyJSON)
        let policy = try ResourcePolicy(document: doc)
        #expect(policy.version == "2012-10-17")
        let ok = PolicyRequest(principal: statesService, action: "execute-api:Invoke",
                               resource: seedResource, context: ["aws:SourceArn": [seedSourceArn]])
        #expect(policy.evaluate(ok) == .allow)
    }

    @Test func denyStatementOverridesSeedAllow() throws {
        let policy = try ResourcePolicy(json: """
        {"Statement": [
          {"Effect": "Allow", "Principal": {"Service": "states.amazonaws.com"}, "Action": "execute-api:Invoke",
           "Resource": "arn:aws:execute-api:us-east-1:222222222222:*/*/*/*",
           "Condition": {"StringEquals": {"aws:SourceArn": "\(seedSourceArn)"}}},
          {"Sid": "NoDev", "Effect": "Deny", "Principal": "*", "Action": "execute-api:*",
           "Resource": "arn:aws:execute-api:us-east-1:222222222222:*/dev/*"}
        ]}
        """)
        let dev = PolicyRequest(principal: statesService, action: "execute-api:Invoke",
                                resource: seedResource, context: ["aws:SourceArn": [seedSourceArn]])
        var prod = dev
        prod.resource = "arn:aws:execute-api:us-east-1:222222222222:abc123/prod/POST/execution"
        #expect(policy.evaluate(dev) == .explicitDeny)
        #expect(policy.evaluate(prod) == .allow)
        #expect(policy.statementIDs == [nil, "NoDev"])
    }
}
