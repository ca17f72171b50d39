import GatehousePolicy
import Testing

let apiArn = "arn:aws:execute-api:us-east-1:222222222222:abc123"
let alice = PolicyPrincipal.aws(arn: "arn:aws:iam::222222222222:user/alice")
let bob = PolicyPrincipal.aws(arn: "arn:aws:iam::222222222222:user/bob")
let mallory = PolicyPrincipal.aws(arn: "arn:aws:iam::999999999999:user/mallory")
let deployRole = PolicyPrincipal.aws(arn: "arn:aws:iam::222222222222:role/deploy")
let deploySession = PolicyPrincipal.aws(arn: "arn:aws:sts::222222222222:assumed-role/deploy/ci")

/// A one-statement Allow policy on every route of the API, varying only the principal element.
func allowPolicy(principal: String, key: String = "Principal", effect: String = "Allow") throws -> ResourcePolicy {
    try ResourcePolicy(json: """
    {"Version": "2012-10-17", "Statement": {"Effect": "\(effect)", "\(key)": \(principal),
      "Action": "execute-api:Invoke", "Resource": "\(apiArn)/*"}}
    """)
}

func invoke(_ who: PolicyPrincipal, _ route: String = "/dev/GET/pets", action: String = "execute-api:Invoke") -> PolicyRequest {
    PolicyRequest(principal: who, action: action, resource: apiArn + route, context: [:])
}

struct PrincipalCase: Sendable, CustomTestStringConvertible {
    var element: String
    var caller: PolicyPrincipal
    var allowed: Bool
    var testDescription: String { "\(element) vs \(caller)" }
}

struct PatternCase: Sendable, CustomTestStringConvertible {
    var pattern: String
    var value: String
    var matches: Bool
    var testDescription: String { "\(pattern) ~ \(value)" }
}

@Suite struct StatementMatchingTests {
    static let principalCases: [PrincipalCase] = [
        PrincipalCase(element: #""*""#, caller: .anonymous, allowed: true),
        PrincipalCase(element: #""*""#, caller: statesService, allowed: true),
        PrincipalCase(element: #""*""#, caller: mallory, allowed: true),
        PrincipalCase(element: #"{"AWS": "*"}"#, caller: .anonymous, allowed: true),
        PrincipalCase(element: #"{"AWS": "*"}"#, caller: statesService, allowed: true),
        PrincipalCase(element: #"{"AWS": "222222222222"}"#, caller: alice, allowed: true),
        PrincipalCase(element: #"{"AWS": "222222222222"}"#, caller: deploySession, allowed: true),
        PrincipalCase(element: #"{"AWS": "222222222222"}"#, caller: mallory, allowed: false),
        PrincipalCase(element: #"{"AWS": "222222222222"}"#, caller: .anonymous, allowed: false),
        PrincipalCase(element: #"{"AWS": "222222222222"}"#, caller: statesService, allowed: false),
        PrincipalCase(element: #"{"AWS": "arn:aws:iam::222222222222:root"}"#, caller: bob, allowed: true),
        PrincipalCase(element: #"{"AWS": "arn:aws:iam::222222222222:root"}"#, caller: mallory, allowed: false),
        PrincipalCase(element: #"{"AWS": "arn:aws:iam::222222222222:user/alice"}"#, caller: alice, allowed: true),
        PrincipalCase(element: #"{"AWS": "arn:aws:iam::222222222222:user/alice"}"#, caller: bob, allowed: false),
        PrincipalCase(element: #"{"AWS": "arn:aws:iam::222222222222:user/alice"}"#, caller: .anonymous, allowed: false),
        PrincipalCase(element: #"{"AWS": "arn:aws:iam::222222222222:role/deploy"}"#, caller: deployRole, allowed: true),
        PrincipalCase(element: #"{"AWS": ["arn:aws:iam::222222222222:user/alice", "999999999999"]}"#, caller: mallory, allowed: true),
        PrincipalCase(element: #"{"AWS": ["arn:aws:iam::222222222222:user/alice", "999999999999"]}"#, caller: bob, allowed: false),
        PrincipalCase(element: #"{"Service": "states.amazonaws.com"}"#, caller: statesService, allowed: true),
        PrincipalCase(element: #"{"Service": ["lambda.amazonaws.com", "states.amazonaws.com"]}"#, caller: statesService, allowed: true),
        PrincipalCase(element: #"{"Service": "states.amazonaws.com"}"#, caller: .aws(arn: "states.amazonaws.com"), allowed: false),
        PrincipalCase(element: #"{"AWS": "222222222222", "Service": "states.amazonaws.com"}"#, caller: statesService, allowed: true),
        PrincipalCase(element: #"{"AWS": "222222222222", "Service": "states.amazonaws.com"}"#, caller: alice, allowed: true),
        // A role ARN covers the role's sessions (whatever path the role has); a session ARN
        // covers that session only.
        PrincipalCase(element: #"{"AWS": "arn:aws:iam::222222222222:role/deploy"}"#, caller: deploySession, allowed: true),
        PrincipalCase(element: #"{"AWS": "arn:aws:iam::222222222222:role/team/deploy"}"#, caller: deploySession, allowed: true),
        PrincipalCase(element: #"{"AWS": "arn:aws:iam::222222222222:role/build"}"#, caller: deploySession, allowed: false),
        PrincipalCase(element: #"{"AWS": "arn:aws:iam::999999999999:role/deploy"}"#, caller: deploySession, allowed: false),
        PrincipalCase(element: #"{"AWS": "arn:aws:sts::222222222222:assumed-role/deploy/ci"}"#, caller: deploySession, allowed: true),
        PrincipalCase(element: #"{"AWS": "arn:aws:sts::222222222222:assumed-role/deploy/other"}"#, caller: deploySession, allowed: false),
        PrincipalCase(element: #"{"AWS": "arn:aws:iam::222222222222:role/deploy"}"#, caller: alice, allowed: false),
        // Federated principals: the provider, exactly.
        PrincipalCase(element: #"{"Federated": "cognito-identity.amazonaws.com"}"#, caller: .federated("cognito-identity.amazonaws.com"), allowed: true),
        PrincipalCase(element: #"{"Federated": "accounts.google.com"}"#, caller: .federated("cognito-identity.amazonaws.com"), allowed: false),
        PrincipalCase(element: #"{"Federated": "cognito-identity.amazonaws.com"}"#, caller: alice, allowed: false),
        PrincipalCase(element: #""*""#, caller: .federated("accounts.google.com"), allowed: true),
    ]

    @Test(arguments: principalCases)
    func principal(_ c: PrincipalCase) throws {
        let policy = try allowPolicy(principal: c.element)
        #expect(policy.evaluate(invoke(c.caller)) == (c.allowed ? .allow : .implicitDeny))
    }

    /// NotPrincipal applies the statement to everyone the list does *not* name.
    @Test(arguments: principalCases)
    func notPrincipalInvertsPrincipal(_ c: PrincipalCase) throws {
        let policy = try allowPolicy(principal: c.element, key: "NotPrincipal", effect: "Deny")
        #expect(policy.evaluate(invoke(c.caller)) == (c.allowed ? .implicitDeny : .explicitDeny))
    }

    static let actionCases: [PatternCase] = [
        PatternCase(pattern: "execute-api:Invoke", value: "execute-api:Invoke", matches: true),
        PatternCase(pattern: "execute-api:Invoke", value: "Execute-API:INVOKE", matches: true),
        PatternCase(pattern: "execute-api:*", value: "execute-api:ManageConnections", matches: true),
        PatternCase(pattern: "execute-api:Inv?ke", value: "execute-api:Invoke", matches: true),
        PatternCase(pattern: "execute-api:Inv?ke", value: "execute-api:Invooke", matches: false),
        PatternCase(pattern: "*", value: "states:StartExecution", matches: true),
        PatternCase(pattern: "execute-api:Invoke", value: "execute-api:InvokeX", matches: false),
        PatternCase(pattern: "states:*", value: "execute-api:Invoke", matches: false),
        PatternCase(pattern: "*:Invoke", value: "execute-api:Invoke", matches: true),
    ]

    @Test(arguments: actionCases)
    func action(_ c: PatternCase) throws {
        let policy = try ResourcePolicy(json: """
        {"Statement": {"Effect": "Allow", "Principal": "*", "Action": "\(c.pattern)", "Resource": "*"}}
        """)
        #expect(policy.evaluate(invoke(alice, action: c.value)) == (c.matches ? .allow : .implicitDeny))
        let inverted = try ResourcePolicy(json: """
        {"Statement": {"Effect": "Allow", "Principal": "*", "NotAction": ["\(c.pattern)"], "Resource": "*"}}
        """)
        #expect(inverted.evaluate(invoke(alice, action: c.value)) == (c.matches ? .implicitDeny : .allow))
    }

    static let resourceCases: [PatternCase] = [
        PatternCase(pattern: "\(apiArn)/dev/GET/pets", value: "\(apiArn)/dev/GET/pets", matches: true),
        PatternCase(pattern: "\(apiArn)/dev/GET/pets", value: "\(apiArn)/dev/get/pets", matches: false),
        PatternCase(pattern: "\(apiArn)/*", value: "\(apiArn)/dev/GET/pets/1", matches: true),
        PatternCase(pattern: "arn:aws:execute-api:*:*:abc123/*", value: "\(apiArn)/dev/GET/pets", matches: true),
        PatternCase(pattern: "arn:aws:execute-api:*", value: "\(apiArn)/dev/GET/pets", matches: true),
        PatternCase(pattern: "arn:aws:execute-api:us-east-1:222222222222:*/dev/*", value: "\(apiArn)/prod/GET/pets", matches: false),
        PatternCase(pattern: "\(apiArn)/dev/?ET/pets", value: "\(apiArn)/dev/GET/pets", matches: true),
        PatternCase(pattern: "\(apiArn)/dev/?ET/pets", value: "\(apiArn)/dev/GETS/pets", matches: false),
        PatternCase(pattern: "\(apiArn)/*/GET/*", value: "\(apiArn)/dev/POST/GET/x", matches: true),
        PatternCase(pattern: "\(apiArn)/*/*/pets", value: "\(apiArn)/dev/GET/pets/1", matches: false),
        PatternCase(pattern: "*", value: "\(apiArn)/anything", matches: true),
        PatternCase(pattern: "\(apiArn)/**a*b*c", value: "\(apiArn)/xaxxbxxbxc", matches: true),
        PatternCase(pattern: "\(apiArn)/*a*b*c", value: "\(apiArn)/xaxxbxxbxcd", matches: false),
    ]

    @Test(arguments: resourceCases)
    func resource(_ c: PatternCase) throws {
        let policy = try ResourcePolicy(json: """
        {"Statement": {"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": ["\(c.pattern)"]}}
        """)
        let req = PolicyRequest(principal: alice, action: "execute-api:Invoke", resource: c.value, context: [:])
        #expect(policy.evaluate(req) == (c.matches ? .allow : .implicitDeny))
        let inverted = try ResourcePolicy(json: """
        {"Statement": {"Effect": "Allow", "Principal": "*", "Action": "*", "NotResource": "\(c.pattern)"}}
        """)
        #expect(inverted.evaluate(req) == (c.matches ? .implicitDeny : .allow))
    }

    static let arnCases: [PatternCase] = [
        PatternCase(pattern: "arn:aws:states:*:111111111111:stateMachine:*",
                    value: "arn:aws:states:us-east-1:111111111111:stateMachine:Src", matches: true),
        PatternCase(pattern: "arn:aws:states:us-east-1:111111111111:stateMachine:Src",
                    value: "arn:aws:states:us-east-1:111111111111:stateMachine:Src", matches: true),
        PatternCase(pattern: "arn:aws:states:us-east-?:*:*",
                    value: "arn:aws:states:us-east-1:111111111111:stateMachine:Src", matches: true),
        // A wildcard cannot swallow a field boundary: "*" in region does not eat the account.
        PatternCase(pattern: "arn:aws:states:*:stateMachine:Src",
                    value: "arn:aws:states:us-east-1:111111111111:stateMachine:Src", matches: false),
        PatternCase(pattern: "arn:aws:states:us-east-1:111111111111:stateMachine:src",
                    value: "arn:aws:states:us-east-1:111111111111:stateMachine:Src", matches: false),
        PatternCase(pattern: "arn:aws:states:*:*:*", value: "not-an-arn", matches: false),
        // The lone "*" is IAM's "anything", for the Arn operators too.
        PatternCase(pattern: "*", value: "arn:aws:states:us-east-1:111111111111:stateMachine:Src", matches: true),
        // Arn operators compare six fields: a short pattern is no match (Resource differs).
        PatternCase(pattern: "arn:aws:states:*", value: "arn:aws:states:us-east-1:111111111111:stateMachine:Src", matches: false),
        PatternCase(pattern: "arn:*:*:*:*:*", value: "arn:aws:s3:::bucket/key", matches: true),
    ]

    @Test(arguments: arnCases)
    func arnMatching(_ c: PatternCase) {
        #expect(ResourcePolicy.arnMatches(pattern: c.pattern, arn: c.value) == c.matches)
    }

    @Test func denyWinsWhateverTheOrder() throws {
        let allow = #"{"Effect": "Allow", "Principal": "*", "Action": "execute-api:Invoke", "Resource": "\#(apiArn)/*"}"#
        let deny = #"{"Effect": "Deny", "Principal": {"AWS": "999999999999"}, "Action": "*", "Resource": "*"}"#
        for statements in ["[\(allow), \(deny)]", "[\(deny), \(allow)]"] {
            let policy = try ResourcePolicy(json: #"{"Statement": \#(statements)}"#)
            #expect(policy.evaluate(invoke(mallory)) == .explicitDeny)
            #expect(policy.evaluate(invoke(alice)) == .allow)
            #expect(policy.evaluate(invoke(.anonymous)) == .allow)
        }
    }

    @Test func denyAloneIsNotAnAllow() throws {
        let policy = try ResourcePolicy(json: #"{"Statement": {"Effect": "Deny", "Principal": {"AWS": "999999999999"}, "Action": "*", "Resource": "*"}}"#)
        #expect(policy.evaluate(invoke(alice)) == .implicitDeny)
        #expect(policy.evaluate(invoke(mallory)) == .explicitDeny)
    }

    @Test func emptyStatementListDeniesImplicitly() throws {
        let policy = try ResourcePolicy(json: #"{"Version": "2008-10-17", "Statement": []}"#)
        #expect(policy.evaluate(invoke(alice)) == .implicitDeny)
        #expect(policy.version == "2008-10-17")
    }

    @Test func executeApiShorthandExpands() throws {
        let policy = try ResourcePolicy(json: """
        {"Statement": [
          {"Effect": "Allow", "Principal": "*", "Action": "execute-api:Invoke", "Resource": "execute-api:/*"},
          {"Effect": "Deny", "Principal": "*", "Action": "execute-api:Invoke", "Resource": ["execute-api:/prod/*", "arn:aws:execute-api:us-east-1:222222222222:other/*"]},
          {"Effect": "Deny", "Principal": "*", "Action": "execute-api:Invoke", "NotResource": "execute-api:/*/*/*"}
        ]}
        """)
        // Unexpanded, the shorthand names no real ARN, so nothing is allowed.
        #expect(policy.evaluate(invoke(alice)) == .explicitDeny)
        for prefix in [apiArn, apiArn + "/"] {
            let expanded = policy.expandingExecuteApiShorthand(apiArnPrefix: prefix)
            #expect(expanded.evaluate(invoke(alice, "/dev/GET/pets")) == .allow)
            #expect(expanded.evaluate(invoke(alice, "/prod/GET/pets")) == .explicitDeny)
            #expect(expanded.evaluate(invoke(alice, "/dev")) == .explicitDeny)
            let other = PolicyRequest(principal: alice, action: "execute-api:Invoke",
                                      resource: "arn:aws:execute-api:us-east-1:222222222222:zzz999/dev/GET/pets", context: [:])
            #expect(expanded.evaluate(other) == .explicitDeny)
        }
    }

    @Test func principalAccountID() {
        #expect(alice.accountID == "222222222222")
        #expect(deploySession.accountID == "222222222222")
        #expect(PolicyPrincipal.anonymous.accountID == nil)
        #expect(statesService.accountID == nil)
        #expect(PolicyPrincipal.aws(arn: "garbage").accountID == nil)
    }
}
