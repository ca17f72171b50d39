import GatehousePolicy
import Testing

struct ConditionCase: Sendable, CustomTestStringConvertible {
    var op: String
    /// The condition value as JSON text: a scalar or an array.
    var value: String
    /// The request's values for the key; nil leaves the key out of the context.
    var request: [String]?
    var matches: Bool
    var testDescription: String { "\(op) \(value) vs \(request.map { "\($0)" } ?? "absent")" }
}

/// A policy allowing everything when one condition on `test:Key` holds.
func conditionPolicy(_ condition: String) throws -> ResourcePolicy {
    try ResourcePolicy(json: """
    {"Statement": {"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*", "Condition": \(condition)}}
    """)
}

/// A blanket Allow and a Deny under one condition on `test:Key`.
func denyPolicy(_ condition: String) throws -> ResourcePolicy {
    try ResourcePolicy(json: """
    {"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"},
                   {"Effect": "Deny", "Principal": "*", "Action": "*", "Resource": "*", "Condition": \(condition)}]}
    """)
}

func request(context: [String: [String]]) -> PolicyRequest {
    PolicyRequest(principal: .anonymous, action: "execute-api:Invoke", resource: apiArn + "/dev/GET/x", context: PolicyContext(context))
}

private let sm = "arn:aws:states:us-east-1:111111111111:stateMachine:Src"

@Suite struct ConditionTests {
    static let cases: [ConditionCase] = [
        // StringEquals: case-sensitive, values OR'd.
        ConditionCase(op: "StringEquals", value: #""a""#, request: ["a"], matches: true),
        ConditionCase(op: "StringEquals", value: #""a""#, request: ["A"], matches: false),
        ConditionCase(op: "StringEquals", value: #"["x", "a"]"#, request: ["a"], matches: true),
        ConditionCase(op: "StringEquals", value: #""a*""#, request: ["abc"], matches: false),
        ConditionCase(op: "StringEquals", value: #""a""#, request: nil, matches: false),
        ConditionCase(op: "StringEquals", value: #""a""#, request: [], matches: false),
        // Negated: NOR over values, and an absent key matches (AWS).
        ConditionCase(op: "StringNotEquals", value: #""a""#, request: ["b"], matches: true),
        ConditionCase(op: "StringNotEquals", value: #""a""#, request: ["a"], matches: false),
        ConditionCase(op: "StringNotEquals", value: #"["a", "b"]"#, request: ["b"], matches: false),
        ConditionCase(op: "StringNotEquals", value: #"["a", "b"]"#, request: ["c"], matches: true),
        ConditionCase(op: "StringNotEquals", value: #""a""#, request: nil, matches: true),
        ConditionCase(op: "StringEqualsIgnoreCase", value: #""Hello""#, request: ["hELLO"], matches: true),
        ConditionCase(op: "StringEqualsIgnoreCase", value: #""Hello""#, request: ["hell"], matches: false),
        ConditionCase(op: "StringEqualsIgnoreCase", value: #""Hello""#, request: nil, matches: false),
        ConditionCase(op: "StringNotEqualsIgnoreCase", value: #""Hello""#, request: ["HELLO"], matches: false),
        ConditionCase(op: "StringNotEqualsIgnoreCase", value: #""Hello""#, request: ["bye"], matches: true),
        ConditionCase(op: "StringNotEqualsIgnoreCase", value: #""Hello""#, request: nil, matches: true),
        ConditionCase(op: "StringLike", value: #""arn:aws:states:*:stateMachine:S?c""#, request: [sm], matches: true),
        ConditionCase(op: "StringLike", value: #""*:stateMachine:Other""#, request: [sm], matches: false),
        ConditionCase(op: "StringLike", value: #""*src""#, request: [sm], matches: false),
        ConditionCase(op: "StringLike", value: #""*""#, request: nil, matches: false),
        ConditionCase(op: "StringNotLike", value: #""*:Other""#, request: [sm], matches: true),
        ConditionCase(op: "StringNotLike", value: #"["*:Other", "*:Src"]"#, request: [sm], matches: false),
        ConditionCase(op: "StringNotLike", value: #""*""#, request: nil, matches: true),
        // Arn*: field-wise wildcard matching, case-sensitive.
        ConditionCase(op: "ArnEquals", value: "\"\(sm)\"", request: [sm], matches: true),
        ConditionCase(op: "ArnEquals", value: #""arn:aws:states:*:111111111111:stateMachine:*""#, request: [sm], matches: true),
        ConditionCase(op: "ArnEquals", value: "\"\(sm)\"", request: ["not an arn"], matches: false),
        ConditionCase(op: "ArnEquals", value: "\"\(sm)\"", request: nil, matches: false),
        ConditionCase(op: "ArnNotEquals", value: "\"\(sm)\"", request: [sm], matches: false),
        ConditionCase(op: "ArnNotEquals", value: "\"\(sm)\"", request: [sm + "2"], matches: true),
        ConditionCase(op: "ArnNotEquals", value: "\"\(sm)\"", request: nil, matches: true),
        ConditionCase(op: "ArnLike", value: #""arn:aws:states:us-east-1:*:stateMachine:*""#, request: [sm], matches: true),
        ConditionCase(op: "ArnLike", value: #""arn:aws:states:us-east-1:222222222222:*""#, request: [sm], matches: false),
        ConditionCase(op: "ArnLike", value: #""arn:aws:states:*""#, request: [sm], matches: false),
        ConditionCase(op: "ArnLike", value: #""arn:*:*:*:*:*""#, request: nil, matches: false),
        ConditionCase(op: "ArnNotLike", value: #""arn:aws:states:*:222222222222:*""#, request: [sm], matches: true),
        ConditionCase(op: "ArnNotLike", value: #""arn:aws:states:*:111111111111:*""#, request: [sm], matches: false),
        ConditionCase(op: "ArnNotLike", value: #""arn:*:*:*:*:*""#, request: nil, matches: true),
        // Bool: text comparison of true/false, JSON booleans accepted.
        ConditionCase(op: "Bool", value: "true", request: ["true"], matches: true),
        ConditionCase(op: "Bool", value: #""true""#, request: ["TRUE"], matches: true),
        ConditionCase(op: "Bool", value: #""false""#, request: ["true"], matches: false),
        ConditionCase(op: "Bool", value: "true", request: nil, matches: false),
        // Null: "true" means the key is absent; "false" that it is present.
        ConditionCase(op: "Null", value: "true", request: nil, matches: true),
        ConditionCase(op: "Null", value: #""true""#, request: ["x"], matches: false),
        ConditionCase(op: "Null", value: #""false""#, request: ["x"], matches: true),
        ConditionCase(op: "Null", value: "false", request: nil, matches: false),
        ConditionCase(op: "Null", value: "true", request: [], matches: true),
        // IfExists: an absent key matches; a present one is tested normally.
        ConditionCase(op: "StringEqualsIfExists", value: #""a""#, request: nil, matches: true),
        ConditionCase(op: "StringEqualsIfExists", value: #""a""#, request: ["b"], matches: false),
        ConditionCase(op: "StringEqualsIfExists", value: #""a""#, request: ["a"], matches: true),
        ConditionCase(op: "StringNotEqualsIfExists", value: #""a""#, request: nil, matches: true),
        ConditionCase(op: "StringNotEqualsIfExists", value: #""a""#, request: ["a"], matches: false),
        ConditionCase(op: "StringEqualsIgnoreCaseIfExists", value: #""a""#, request: nil, matches: true),
        ConditionCase(op: "StringNotEqualsIgnoreCaseIfExists", value: #""a""#, request: nil, matches: true),
        ConditionCase(op: "StringLikeIfExists", value: #""a*""#, request: nil, matches: true),
        ConditionCase(op: "StringLikeIfExists", value: #""a*""#, request: ["ba"], matches: false),
        ConditionCase(op: "StringNotLikeIfExists", value: #""a*""#, request: nil, matches: true),
        ConditionCase(op: "ArnEqualsIfExists", value: "\"\(sm)\"", request: nil, matches: true),
        ConditionCase(op: "ArnEqualsIfExists", value: "\"\(sm)\"", request: [sm + "x"], matches: false),
        ConditionCase(op: "ArnNotEqualsIfExists", value: "\"\(sm)\"", request: nil, matches: true),
        ConditionCase(op: "ArnLikeIfExists", value: #""arn:*:*:*:*:*""#, request: nil, matches: true),
        ConditionCase(op: "ArnNotLikeIfExists", value: #""arn:*:*:*:*:*""#, request: nil, matches: true),
        ConditionCase(op: "BoolIfExists", value: "false", request: nil, matches: true),
        ConditionCase(op: "BoolIfExists", value: "false", request: ["true"], matches: false),
        // Operator names are read case-insensitively.
        ConditionCase(op: "stringequals", value: #""a""#, request: ["a"], matches: true),
        // Numbers and booleans in the policy compare as their text.
        ConditionCase(op: "StringEquals", value: "42", request: ["42"], matches: true),
        ConditionCase(op: "StringEquals", value: "1.0", request: ["1"], matches: true),
        ConditionCase(op: "StringEquals", value: "2.5", request: ["2.5"], matches: true),
        ConditionCase(op: "StringEquals", value: #"[true, 7]"#, request: ["true"], matches: true),
        // Set qualifiers over multi-valued keys.
        ConditionCase(op: "ForAnyValue:StringEquals", value: #"["a", "b"]"#, request: ["z", "b"], matches: true),
        ConditionCase(op: "ForAnyValue:StringEquals", value: #"["a", "b"]"#, request: ["z"], matches: false),
        ConditionCase(op: "ForAnyValue:StringEquals", value: #""a""#, request: nil, matches: false),
        ConditionCase(op: "ForAllValues:StringEquals", value: #"["a", "b"]"#, request: ["a", "b"], matches: true),
        ConditionCase(op: "ForAllValues:StringEquals", value: #"["a", "b"]"#, request: ["a", "z"], matches: false),
        ConditionCase(op: "ForAllValues:StringEquals", value: #""a""#, request: nil, matches: true),
        ConditionCase(op: "ForAnyValue:StringNotEquals", value: #""a""#, request: ["a", "z"], matches: true),
        ConditionCase(op: "ForAllValues:StringNotLike", value: #""a*""#, request: ["ab", "z"], matches: false),
        // Without a qualifier a multi-valued key matches when any value does (and a negated
        // operator when none does).
        ConditionCase(op: "StringEquals", value: #""a""#, request: ["z", "a"], matches: true),
        ConditionCase(op: "StringNotEquals", value: #""a""#, request: ["z", "a"], matches: false),
    ]

    @Test(arguments: cases)
    func singleOperator(_ c: ConditionCase) throws {
        let policy = try conditionPolicy(#"{"\#(c.op)": {"test:Key": \#(c.value)}}"#)
        var context: [String: [String]] = ["other:Key": ["a"]]
        if let values = c.request { context["test:Key"] = values }
        #expect(policy.evaluate(request(context: context)) == (c.matches ? .allow : .implicitDeny))
    }

    /// The same cases in a Deny statement beside a blanket Allow: a matching condition makes
    /// the Deny apply (explicit deny), a non-matching one leaves the Allow (so every case is
    /// seen both allowing and denying).
    @Test(arguments: cases)
    func singleOperatorInDeny(_ c: ConditionCase) throws {
        let policy = try denyPolicy(#"{"\#(c.op)": {"test:Key": \#(c.value)}}"#)
        var context: [String: [String]] = ["other:Key": ["a"]]
        if let values = c.request { context["test:Key"] = values }
        #expect(policy.evaluate(request(context: context)) == (c.matches ? .explicitDeny : .allow))
    }

    struct Combination: Sendable, CustomTestStringConvertible {
        var context: [String: [String]]
        var allowed: Bool
        var testDescription: String { "\(context)" }
    }

    /// Two keys under one operator and a second operator: all must hold (AND).
    static let combinations: [Combination] = [
        Combination(context: ["k1": ["a"], "k2": ["b"], "k3": ["x"]], allowed: true),
        Combination(context: ["K1": ["a"], "k2": ["b2"], "k3": ["x"]], allowed: true),
        Combination(context: ["k1": ["a"], "k2": ["b"], "k3": ["c"]], allowed: false),
        Combination(context: ["k1": ["a"], "k3": ["x"]], allowed: false),
        Combination(context: ["k1": ["z"], "k2": ["b"], "k3": ["x"]], allowed: false),
        Combination(context: ["k1": ["a"], "k2": ["b"]], allowed: true),
    ]

    @Test(arguments: combinations)
    func keysAndOperatorsAreANDed(_ c: Combination) throws {
        let policy = try conditionPolicy("""
        {"StringEquals": {"k1": "a", "K2": ["b", "b2"]}, "StringNotEquals": {"k3": "c"}}
        """)
        #expect(policy.evaluate(request(context: c.context)) == (c.allowed ? .allow : .implicitDeny))
    }

    /// The missing-key rule matters most in a Deny: a negated operator fires when the key is
    /// absent, so "deny unless the source is X" also denies requests without a source.
    @Test func negatedDenyFiresOnMissingKey() throws {
        let policy = try ResourcePolicy(json: """
        {"Statement": [
          {"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"},
          {"Effect": "Deny", "Principal": "*", "Action": "*", "Resource": "*",
           "Condition": {"ArnNotEquals": {"aws:SourceArn": "\(sm)"}}}
        ]}
        """)
        #expect(policy.evaluate(request(context: ["aws:SourceArn": [sm]])) == .allow)
        #expect(policy.evaluate(request(context: ["aws:SourceArn": [sm + "x"]])) == .explicitDeny)
        #expect(policy.evaluate(request(context: [:])) == .explicitDeny)
    }
}
