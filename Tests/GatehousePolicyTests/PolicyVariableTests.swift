import GatehousePolicy
import Testing

/// Policy variables: `${key}`, defaults, the `${*}` `${?}` `${$}` escapes, and the 2008-10-17
/// rule that there are none.
@Suite struct PolicyVariableTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var statementTail: String
        var context: [String: [String]]
        var resource: String = "\(apiArn)/dev/GET/users/alice"
        var allowed: Bool
        var version: String = "2012-10-17"
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(name: "resource with username, allowed", statementTail: #""Resource": "\#(apiArn)/*/GET/users/${aws:username}""#,
             context: ["aws:username": ["alice"]], allowed: true),
        Case(name: "resource with username, other user", statementTail: #""Resource": "\#(apiArn)/*/GET/users/${aws:username}""#,
             context: ["aws:username": ["bob"]], allowed: false),
        Case(name: "resource variable absent: no match", statementTail: #""Resource": "\#(apiArn)/*/GET/users/${aws:username}""#,
             context: [:], allowed: false),
        Case(name: "resource variable multi-valued: no match", statementTail: #""Resource": "\#(apiArn)/*/GET/users/${aws:username}""#,
             context: ["aws:username": ["alice", "bob"]], allowed: false),
        Case(name: "default used when absent", statementTail: #""Resource": "\#(apiArn)/*/GET/users/${aws:username, 'alice'}""#,
             context: [:], allowed: true),
        Case(name: "default not used when present", statementTail: #""Resource": "\#(apiArn)/*/GET/users/${aws:username, 'alice'}""#,
             context: ["aws:username": ["carol"]], allowed: false),
        Case(name: "variable key is case-insensitive", statementTail: #""Resource": "\#(apiArn)/*/GET/users/${AWS:UserName}""#,
             context: ["aws:username": ["alice"]], allowed: true),
        Case(name: "a value's * is literal, not a wildcard", statementTail: #""Resource": "\#(apiArn)/*/GET/users/${aws:username}""#,
             context: ["aws:username": ["*"]], allowed: false),
        Case(name: "escape ${*} is a literal star", statementTail: #""Resource": "\#(apiArn)/dev/GET/users/a${*}""#,
             context: [:], resource: "\(apiArn)/dev/GET/users/a*", allowed: true),
        Case(name: "escape ${*} does not match other text", statementTail: #""Resource": "\#(apiArn)/dev/GET/users/a${*}""#,
             context: [:], resource: "\(apiArn)/dev/GET/users/ab", allowed: false),
        Case(name: "escape ${?} is a literal question mark", statementTail: #""Resource": "\#(apiArn)/dev/GET/users/${?}""#,
             context: [:], resource: "\(apiArn)/dev/GET/users/x", allowed: false),
        Case(name: "escape ${$}", statementTail: #""Resource": "\#(apiArn)/dev/GET/users/${$}x""#,
             context: [:], resource: "\(apiArn)/dev/GET/users/$x", allowed: true),
        Case(name: "condition value with source ARN variable", statementTail: #""Resource": "*", "Condition": {"StringEquals": {"test:Owner": "${aws:SourceArn}"}}"#,
             context: ["aws:SourceArn": ["arn:aws:states:us-east-1:1:stateMachine:S"], "test:Owner": ["arn:aws:states:us-east-1:1:stateMachine:S"]], allowed: true),
        Case(name: "condition value with variable, mismatch", statementTail: #""Resource": "*", "Condition": {"StringEquals": {"test:Owner": "${aws:SourceArn}"}}"#,
             context: ["aws:SourceArn": ["arn:aws:states:us-east-1:1:stateMachine:S"], "test:Owner": ["other"]], allowed: false),
        Case(name: "StringLike with variable and wildcard", statementTail: #""Resource": "*", "Condition": {"StringLike": {"test:Path": "home/${aws:username}/*"}}"#,
             context: ["aws:username": ["alice"], "test:Path": ["home/alice/docs"]], allowed: true),
        Case(name: "default with doubled quote", statementTail: #""Resource": "*", "Condition": {"StringEquals": {"test:Name": "${aws:username, 'o''brien'}"}}"#,
             context: ["test:Name": ["o'brien"]], allowed: true),
        Case(name: "unresolved variable in a negated condition: the statement does not apply",
             statementTail: #""Resource": "*", "Condition": {"StringNotEquals": {"test:Name": "${aws:username}"}}"#,
             context: ["test:Name": ["x"]], allowed: false),
        Case(name: "2008-10-17: ${…} is plain text", statementTail: #""Resource": "\#(apiArn)/*/GET/users/${aws:username}""#,
             context: ["aws:username": ["alice"]], allowed: false, version: "2008-10-17"),
        Case(name: "2008-10-17: plain text matches itself", statementTail: #""Resource": "\#(apiArn)/*/GET/users/${aws:username}""#,
             context: [:], resource: "\(apiArn)/dev/GET/users/${aws:username}", allowed: true, version: "2008-10-17"),
    ]

    @Test(arguments: cases)
    func variables(_ c: Case) throws {
        let policy = try ResourcePolicy(json: """
        {"Version": "\(c.version)", "Statement": {"Effect": "Allow", "Principal": "*", "Action": "*", \(c.statementTail)}}
        """)
        let req = PolicyRequest(principal: alice, action: "execute-api:Invoke", resource: c.resource, context: PolicyContext(c.context))
        #expect(policy.evaluate(req) == (c.allowed ? .allow : .implicitDeny))
    }

    /// An unresolvable variable makes a Deny statement not apply either (AWS: the statement is
    /// invalid) — a Deny keyed on a missing variable must not be mistaken for protection.
    @Test func unresolvedVariableDisablesDenyToo() throws {
        let policy = try ResourcePolicy(json: """
        {"Version": "2012-10-17", "Statement": [
          {"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"},
          {"Effect": "Deny", "Principal": "*", "Action": "*", "Resource": "\(apiArn)/*/GET/users/${aws:username}"}]}
        """)
        let req = PolicyRequest(principal: alice, action: "execute-api:Invoke", resource: "\(apiArn)/dev/GET/users/alice")
        #expect(policy.evaluate(req) == .allow)
        var ctx = PolicyContext()
        ctx["aws:username"] = ["alice"]
        #expect(policy.evaluate(PolicyRequest(principal: alice, action: "execute-api:Invoke", resource: req.resource, context: ctx)) == .explicitDeny)
    }

    static let malformed: [String] = [
        #""Resource": "\#(apiArn)/${aws:username""#,
        #""Resource": "\#(apiArn)/${}""#,
        #""Resource": "\#(apiArn)/${aws:username, alice}""#,
        #""Resource": "\#(apiArn)/${aws:username, 'alice}""#,
    ]

    @Test(arguments: malformed)
    func malformedVariablesAreRefused(_ tail: String) {
        #expect(throws: PolicyError.self) {
            try ResourcePolicy(json: """
            {"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Principal": "*", "Action": "*", \(tail)}}
            """)
        }
    }
}
