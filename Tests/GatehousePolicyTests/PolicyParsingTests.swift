import GatehouseJSON
import GatehousePolicy
import Testing

struct MalformedCase: Sendable, CustomTestStringConvertible {
    var name: String
    var json: String
    var path: String
    /// A fragment the reason must contain, so the message says what is wrong, not only where.
    var reason: String
    var testDescription: String { name }
}

/// Wraps statement members into a one-statement policy.
private func stmt(_ members: String) -> String { #"{"Version": "2012-10-17", "Statement": [{\#(members)}]}"# }
private let base = #""Effect": "Allow", "Principal": "*", "Action": "execute-api:Invoke", "Resource": "*""#

@Suite struct PolicyParsingTests {
    static let malformed: [MalformedCase] = [
        MalformedCase(name: "not JSON", json: "{", path: "policy", reason: "invalid JSON"),
        MalformedCase(name: "document is an array", json: "[]", path: "policy", reason: "must be a JSON object"),
        MalformedCase(name: "unknown top-level element", json: #"{"Statement": [], "Statment": []}"#, path: "Statment", reason: "unknown policy element"),
        MalformedCase(name: "bad version", json: #"{"Version": "2020-01-01", "Statement": []}"#, path: "Version", reason: "\"2020-01-01\""),
        MalformedCase(name: "numeric version", json: #"{"Version": 2012, "Statement": []}"#, path: "Version", reason: "got number"),
        MalformedCase(name: "Id not a string", json: #"{"Id": 1, "Statement": []}"#, path: "Id", reason: "must be a string"),
        MalformedCase(name: "no Statement", json: #"{"Version": "2012-10-17"}"#, path: "Statement", reason: "is required"),
        MalformedCase(name: "Statement a string", json: #"{"Statement": "x"}"#, path: "Statement", reason: "object or an array"),
        MalformedCase(name: "statement not an object", json: #"{"Statement": [1]}"#, path: "Statement[0]", reason: "must be an object"),
        MalformedCase(name: "single statement object path",
                      json: #"{"Statement": {"Effect": "Permit", "Principal": "*", "Action": "*", "Resource": "*"}}"#,
                      path: "Statement.Effect", reason: "\"Permit\""),
        MalformedCase(name: "Effect wrong word", json: stmt(#""Effect": "Permit", "Principal": "*", "Action": "*", "Resource": "*""#),
                      path: "Statement[0].Effect", reason: "must be \"Allow\" or \"Deny\""),
        MalformedCase(name: "Effect wrong case", json: stmt(#""Effect": "allow", "Principal": "*", "Action": "*", "Resource": "*""#),
                      path: "Statement[0].Effect", reason: "\"allow\""),
        MalformedCase(name: "Effect missing", json: stmt(#""Principal": "*", "Action": "*", "Resource": "*""#),
                      path: "Statement[0].Effect", reason: "is required"),
        MalformedCase(name: "Effect not a string", json: stmt(#""Effect": true, "Principal": "*", "Action": "*", "Resource": "*""#),
                      path: "Statement[0].Effect", reason: "got boolean"),
        MalformedCase(name: "Sid not a string", json: stmt(#""Sid": 3, "# + base), path: "Statement[0].Sid", reason: "must be a string"),
        MalformedCase(name: "unknown statement element", json: stmt(base + #", "Conditon": {}"#),
                      path: "Statement[0].Conditon", reason: "unknown statement element"),
        MalformedCase(name: "both Action and NotAction", json: stmt(base + #", "NotAction": "x:y""#),
                      path: "Statement[0]", reason: "both Action and NotAction"),
        MalformedCase(name: "neither Action nor NotAction", json: stmt(#""Effect": "Allow", "Principal": "*", "Resource": "*""#),
                      path: "Statement[0]", reason: "needs Action or NotAction"),
        MalformedCase(name: "both Resource and NotResource", json: stmt(base + #", "NotResource": "*""#),
                      path: "Statement[0]", reason: "both Resource and NotResource"),
        MalformedCase(name: "neither Resource nor NotResource", json: stmt(#""Effect": "Allow", "Principal": "*", "Action": "*""#),
                      path: "Statement[0]", reason: "needs Resource or NotResource"),
        MalformedCase(name: "both Principal and NotPrincipal", json: stmt(base + #", "NotPrincipal": "*""#),
                      path: "Statement[0]", reason: "both Principal and NotPrincipal"),
        MalformedCase(name: "no principal", json: stmt(#""Effect": "Allow", "Action": "*", "Resource": "*""#),
                      path: "Statement[0]", reason: "needs Principal or NotPrincipal"),
        MalformedCase(name: "Action not a string", json: stmt(#""Effect": "Allow", "Principal": "*", "Action": 5, "Resource": "*""#),
                      path: "Statement[0].Action", reason: "string or an array of strings"),
        MalformedCase(name: "Action empty array", json: stmt(#""Effect": "Allow", "Principal": "*", "Action": [], "Resource": "*""#),
                      path: "Statement[0].Action", reason: "at least one"),
        MalformedCase(name: "Action item not a string", json: stmt(#""Effect": "Allow", "Principal": "*", "Action": ["a:b", null], "Resource": "*""#),
                      path: "Statement[0].Action[1]", reason: "got null"),
        MalformedCase(name: "Action without service", json: stmt(#""Effect": "Allow", "Principal": "*", "NotAction": ["a:b", "Invoke"], "Resource": "*""#),
                      path: "Statement[0].NotAction[1]", reason: "\"service:action\""),
        MalformedCase(name: "Resource not an ARN", json: stmt(#""Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "abc123/*""#),
                      path: "Statement[0].Resource", reason: "an ARN"),
        MalformedCase(name: "Resource empty string", json: stmt(#""Effect": "Allow", "Principal": "*", "Action": "*", "Resource": """#),
                      path: "Statement[0].Resource", reason: "must not be empty"),
        MalformedCase(name: "string principal other than *", json: stmt(#""Effect": "Allow", "Principal": "222222222222", "Action": "*", "Resource": "*""#),
                      path: "Statement[0].Principal", reason: "must be \"*\""),
        MalformedCase(name: "empty principal object", json: stmt(#""Effect": "Allow", "Principal": {}, "Action": "*", "Resource": "*""#),
                      path: "Statement[0].Principal", reason: "at least one"),
        MalformedCase(name: "unknown principal type", json: stmt(#""Effect": "Allow", "Principal": {"Users": "alice"}, "Action": "*", "Resource": "*""#),
                      path: "Statement[0].Principal.Users", reason: "unknown principal type"),
        MalformedCase(name: "canonical user", json: stmt(#""Effect": "Allow", "Principal": {"CanonicalUser": "79a59df900b949e5"}, "Action": "*", "Resource": "*""#),
                      path: "Statement[0].Principal.CanonicalUser", reason: "not supported by API Gateway"),
        MalformedCase(name: "bad AWS principal", json: stmt(#""Effect": "Allow", "Principal": {"AWS": ["222222222222", "alice"]}, "Action": "*", "Resource": "*""#),
                      path: "Statement[0].Principal.AWS[1]", reason: "12-digit account id"),
        MalformedCase(name: "short account id", json: stmt(#""Effect": "Allow", "Principal": {"AWS": "12345"}, "Action": "*", "Resource": "*""#),
                      path: "Statement[0].Principal.AWS", reason: "12-digit account id"),
        MalformedCase(name: "partial wildcard principal", json: stmt(#""Effect": "Allow", "NotPrincipal": {"AWS": "arn:aws:iam::222222222222:user/*"}, "Action": "*", "Resource": "*""#),
                      path: "Statement[0].NotPrincipal.AWS", reason: "wildcards"),
        MalformedCase(name: "non-IAM ARN principal", json: stmt(#""Effect": "Allow", "Principal": {"AWS": "arn:aws:s3:::bucket"}, "Action": "*", "Resource": "*""#),
                      path: "Statement[0].Principal.AWS", reason: "IAM/STS ARN"),
        MalformedCase(name: "wildcard service", json: stmt(#""Effect": "Allow", "Principal": {"Service": "*.amazonaws.com"}, "Action": "*", "Resource": "*""#),
                      path: "Statement[0].Principal.Service", reason: "wildcards"),
        MalformedCase(name: "Condition not an object", json: stmt(base + #", "Condition": []"#),
                      path: "Statement[0].Condition", reason: "object of condition operators"),
        MalformedCase(name: "unknown operator", json: stmt(base + #", "Condition": {"StringEqual": {"k": "v"}}"#),
                      path: "Statement[0].Condition.StringEqual", reason: "unknown condition operator"),
        MalformedCase(name: "numeric value not a number", json: stmt(base + #", "Condition": {"NumericLessThan": {"k": "one"}}"#),
                      path: "Statement[0].Condition.NumericLessThan.k", reason: "Numeric operators need numbers"),
        MalformedCase(name: "bad set qualifier", json: stmt(base + #", "Condition": {"ForSomeValues:StringLike": {"k": "v"}}"#),
                      path: "Statement[0].Condition.ForSomeValues:StringLike", reason: "set qualifier"),
        MalformedCase(name: "NullIfExists", json: stmt(base + #", "Condition": {"NullIfExists": {"k": true}}"#),
                      path: "Statement[0].Condition.NullIfExists", reason: "Null cannot take IfExists"),
        MalformedCase(name: "operator body not an object", json: stmt(base + #", "Condition": {"StringEquals": "v"}"#),
                      path: "Statement[0].Condition.StringEquals", reason: "object of condition keys"),
        MalformedCase(name: "condition value null", json: stmt(base + #", "Condition": {"StringEquals": {"aws:SourceArn": null}}"#),
                      path: "Statement[0].Condition.StringEquals.aws:SourceArn", reason: "string, boolean or number"),
        MalformedCase(name: "condition value object in array", json: stmt(base + #", "Condition": {"StringLike": {"k": ["a", {}]}}"#),
                      path: "Statement[0].Condition.StringLike.k[1]", reason: "got object"),
        MalformedCase(name: "condition value empty array", json: stmt(base + #", "Condition": {"StringLike": {"k": []}}"#),
                      path: "Statement[0].Condition.StringLike.k", reason: "at least one value"),
        MalformedCase(name: "Bool value not boolean", json: stmt(base + #", "Condition": {"Bool": {"aws:SecureTransport": "yes"}}"#),
                      path: "Statement[0].Condition.Bool.aws:SecureTransport", reason: "true or false"),
        MalformedCase(name: "Null value not boolean", json: stmt(base + #", "Condition": {"Null": {"k": 1}}"#),
                      path: "Statement[0].Condition.Null.k", reason: "true or false"),
        MalformedCase(name: "error in second statement", json: #"{"Statement": [{\#(base)}, {"Effect": "Deny", "Principal": "*", "Action": "*"}]}"#,
                      path: "Statement[1]", reason: "needs Resource or NotResource"),
    ]

    @Test(arguments: malformed)
    func rejects(_ c: MalformedCase) {
        #expect {
            try ResourcePolicy(json: c.json)
        } throws: { error in
            guard let e = error as? PolicyError else { return false }
            return e.path == c.path && e.reason.contains(c.reason) && e.description == "\(c.path): \(e.reason)"
        }
    }

    static let accepted: [String] = [
        #"{"Statement": {"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}}"#,
        #"{"Version": "2008-10-17", "Id": "p1", "Statement": [{"Sid": "", "Effect": "Deny", "NotPrincipal": {"AWS": ["*"]}, "NotAction": "s3:*", "NotResource": ["arn:aws:s3:::b/*"]}]}"#,
        #"{"Statement": {"Effect": "Allow", "Principal": {"AWS": "arn:aws:sts::222222222222:assumed-role/r/s"}, "Action": "execute-api:*", "Resource": "execute-api:/*"}}"#,
        #"{"Statement": {"Effect": "Allow", "Principal": {"AWS": "arn:aws-cn:iam::222222222222:root"}, "Action": "*", "Resource": "*", "Condition": {}}}"#,
        #"{"Statement": {"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*", "Condition": {"ForAllValues:StringLikeIfExists": {"aws:TagKeys": ["a*", 1, true, 2.5]}, "BoolIfExists": {"aws:SecureTransport": true}}}}"#,
    ]

    @Test(arguments: accepted)
    func accepts(_ json: String) throws {
        _ = try ResourcePolicy(json: json)
        _ = try ResourcePolicy(document: JSONValue.parse(json))
    }

    @Test func errorDescriptionJoinsPathAndReason() {
        let e = PolicyError(path: "Statement[0].Effect", reason: "is required")
        #expect(e.description == "Statement[0].Effect: is required")
        #expect("\(e)" == "Statement[0].Effect: is required")
    }
}
