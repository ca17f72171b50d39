import GatehousePolicy
import Testing

/// The operators that parse their values: Numeric, Date, BinaryEquals, IpAddress. Each case
/// runs as an Allow (match → allow) and as a Deny beside a blanket Allow (match → explicit
/// deny), so every rule is seen both ways.
@Suite struct TypedOperatorTests {
    static let cases: [ConditionCase] = [
        // Numeric: compared as numbers, not text ("10" > "9"); integers and decimals.
        ConditionCase(op: "NumericEquals", value: "10", request: ["10"], matches: true),
        ConditionCase(op: "NumericEquals", value: "10", request: ["10.0"], matches: true),
        ConditionCase(op: "NumericEquals", value: #""10""#, request: ["11"], matches: false),
        ConditionCase(op: "NumericEquals", value: "[1, 2, 3]", request: ["2"], matches: true),
        ConditionCase(op: "NumericEquals", value: "10", request: ["ten"], matches: false),
        ConditionCase(op: "NumericEquals", value: "10", request: nil, matches: false),
        ConditionCase(op: "NumericNotEquals", value: "10", request: ["9"], matches: true),
        ConditionCase(op: "NumericNotEquals", value: "[9, 10]", request: ["9"], matches: false),
        ConditionCase(op: "NumericNotEquals", value: "10", request: nil, matches: true),
        ConditionCase(op: "NumericLessThan", value: "10", request: ["9"], matches: true),
        ConditionCase(op: "NumericLessThan", value: "10", request: ["10"], matches: false),
        ConditionCase(op: "NumericLessThan", value: "10", request: ["-3.5"], matches: true),
        ConditionCase(op: "NumericLessThanEquals", value: "10", request: ["10"], matches: true),
        ConditionCase(op: "NumericLessThanEquals", value: "10", request: ["10.01"], matches: false),
        ConditionCase(op: "NumericGreaterThan", value: "9", request: ["10"], matches: true),
        ConditionCase(op: "NumericGreaterThan", value: "9", request: ["9"], matches: false),
        ConditionCase(op: "NumericGreaterThanEquals", value: "9", request: ["9"], matches: true),
        ConditionCase(op: "NumericGreaterThanEquals", value: "9", request: ["8.99"], matches: false),
        ConditionCase(op: "NumericGreaterThanEquals", value: "9", request: nil, matches: false),
        ConditionCase(op: "NumericLessThanIfExists", value: "10", request: nil, matches: true),
        ConditionCase(op: "NumericLessThanIfExists", value: "10", request: ["11"], matches: false),
        ConditionCase(op: "NumericNotEqualsIfExists", value: "10", request: ["10"], matches: false),
        ConditionCase(op: "ForAllValues:NumericLessThan", value: "10", request: ["1", "2"], matches: true),
        ConditionCase(op: "ForAllValues:NumericLessThan", value: "10", request: ["1", "20"], matches: false),
        ConditionCase(op: "ForAnyValue:NumericLessThan", value: "10", request: ["1", "20"], matches: true),
        ConditionCase(op: "ForAnyValue:NumericLessThan", value: "10", request: ["11", "20"], matches: false),
        // Date: ISO 8601 (date, time, fraction, zone) or epoch seconds, on either side.
        ConditionCase(op: "DateEquals", value: #""2026-11-25T12:00:00Z""#, request: ["2026-11-25T12:00:00Z"], matches: true),
        ConditionCase(op: "DateEquals", value: #""2026-11-25T12:00:00Z""#, request: ["1795608000"], matches: true),
        ConditionCase(op: "DateEquals", value: "1795608000", request: ["2026-11-25T13:00:00+01:00"], matches: true),
        ConditionCase(op: "DateEquals", value: #""2026-11-25""#, request: ["2026-11-25T00:00:00Z"], matches: true),
        ConditionCase(op: "DateEquals", value: #""2026-11-25T12:00:00Z""#, request: ["2026-11-25T12:00:01Z"], matches: false),
        ConditionCase(op: "DateEquals", value: #""2026-11-25T12:00:00Z""#, request: ["not a date"], matches: false),
        ConditionCase(op: "DateNotEquals", value: #""2026-11-25T12:00:00Z""#, request: ["2026-11-25T12:00:01Z"], matches: true),
        ConditionCase(op: "DateNotEquals", value: #""2026-11-25T12:00:00Z""#, request: ["2026-11-25T12:00:00.000Z"], matches: false),
        ConditionCase(op: "DateNotEquals", value: #""2026-11-25""#, request: nil, matches: true),
        ConditionCase(op: "DateLessThan", value: #""2026-11-25T12:00:00Z""#, request: ["2026-11-25T11:59:59Z"], matches: true),
        ConditionCase(op: "DateLessThan", value: #""2026-11-25T12:00:00Z""#, request: ["2026-11-25T12:00:00Z"], matches: false),
        ConditionCase(op: "DateLessThanEquals", value: #""2026-11-25T12:00:00Z""#, request: ["2026-11-25T12:00:00Z"], matches: true),
        ConditionCase(op: "DateLessThanEquals", value: #""2026-11-25T12:00:00Z""#, request: ["2026-11-25T12:00:00.5Z"], matches: false),
        ConditionCase(op: "DateGreaterThan", value: #""2026-01-01""#, request: ["2026-11-25T12:00:00Z"], matches: true),
        ConditionCase(op: "DateGreaterThan", value: #""2027-01-01""#, request: ["2026-11-25T12:00:00Z"], matches: false),
        ConditionCase(op: "DateGreaterThanEquals", value: #""2026-11-25T12:00:00-05:00""#, request: ["2026-11-25T17:00:00Z"], matches: true),
        ConditionCase(op: "DateGreaterThanEquals", value: #""2026-11-25T12:00:00-05:00""#, request: ["2026-11-25T16:59:59Z"], matches: false),
        ConditionCase(op: "DateGreaterThan", value: #""2026-01-01""#, request: nil, matches: false),
        ConditionCase(op: "DateLessThanIfExists", value: #""2026-01-01""#, request: nil, matches: true),
        // BinaryEquals: base64 values compared as bytes.
        ConditionCase(op: "BinaryEquals", value: #""QmluYXJ5VmFsdWU=""#, request: ["QmluYXJ5VmFsdWU="], matches: true),
        ConditionCase(op: "BinaryEquals", value: #""QmluYXJ5VmFsdWU=""#, request: ["QmluYXJ5VmFsdWU"], matches: true),
        ConditionCase(op: "BinaryEquals", value: #""QmluYXJ5VmFsdWU=""#, request: ["QmluYXJ5VmFsdWY="], matches: false),
        ConditionCase(op: "BinaryEquals", value: #""QmluYXJ5VmFsdWU=""#, request: ["not base64!"], matches: false),
        ConditionCase(op: "BinaryEquals", value: #""QmluYXJ5VmFsdWU=""#, request: nil, matches: false),
        ConditionCase(op: "BinaryEqualsIfExists", value: #""QmluYXJ5VmFsdWU=""#, request: nil, matches: true),
        // IpAddress: IPv4 and IPv6 CIDR, a bare address is /32 or /128, families never mix.
        ConditionCase(op: "IpAddress", value: #""203.0.113.0/24""#, request: ["203.0.113.7"], matches: true),
        ConditionCase(op: "IpAddress", value: #""203.0.113.0/24""#, request: ["203.0.114.7"], matches: false),
        ConditionCase(op: "IpAddress", value: #"["10.0.0.0/8", "203.0.113.7"]"#, request: ["203.0.113.7"], matches: true),
        ConditionCase(op: "IpAddress", value: #""203.0.113.7""#, request: ["203.0.113.8"], matches: false),
        ConditionCase(op: "IpAddress", value: #""0.0.0.0/0""#, request: ["198.51.100.1"], matches: true),
        ConditionCase(op: "IpAddress", value: #""0.0.0.0/0""#, request: ["2001:db8::1"], matches: false),
        ConditionCase(op: "IpAddress", value: #""2001:db8::/32""#, request: ["2001:db8:0:1::5"], matches: true),
        ConditionCase(op: "IpAddress", value: #""2001:db8::/32""#, request: ["2001:db9::1"], matches: false),
        ConditionCase(op: "IpAddress", value: #""2001:db8:0:0:0:0:0:0/127""#, request: ["2001:db8::1"], matches: true),
        ConditionCase(op: "IpAddress", value: #""2001:db8::/127""#, request: ["2001:db8::2"], matches: false),
        ConditionCase(op: "IpAddress", value: #""::1""#, request: ["::1"], matches: true),
        ConditionCase(op: "IpAddress", value: #""127.0.0.0/8""#, request: ["::ffff:127.0.0.3"], matches: true),
        ConditionCase(op: "IpAddress", value: #""10.0.0.0/8""#, request: ["not-an-ip"], matches: false),
        ConditionCase(op: "IpAddress", value: #""10.0.0.0/8""#, request: nil, matches: false),
        ConditionCase(op: "NotIpAddress", value: #""10.0.0.0/8""#, request: ["11.0.0.1"], matches: true),
        ConditionCase(op: "NotIpAddress", value: #"["10.0.0.0/8", "11.0.0.0/8"]"#, request: ["11.0.0.1"], matches: false),
        ConditionCase(op: "NotIpAddress", value: #""10.0.0.0/8""#, request: nil, matches: true),
        ConditionCase(op: "IpAddressIfExists", value: #""10.0.0.0/8""#, request: nil, matches: true),
        ConditionCase(op: "NotIpAddressIfExists", value: #""10.0.0.0/8""#, request: ["10.1.1.1"], matches: false),
        ConditionCase(op: "ForAnyValue:IpAddress", value: #""10.0.0.0/8""#, request: ["1.1.1.1", "10.1.1.1"], matches: true),
        ConditionCase(op: "ForAllValues:IpAddress", value: #""10.0.0.0/8""#, request: ["1.1.1.1", "10.1.1.1"], matches: false),
        // Bool with a set qualifier and IfExists.
        ConditionCase(op: "ForAllValues:Bool", value: "true", request: ["true", "TRUE"], matches: true),
        ConditionCase(op: "BoolIfExists", value: "true", request: ["maybe"], matches: false),
    ]

    @Test(arguments: cases)
    func asAllow(_ c: ConditionCase) throws {
        let policy = try conditionPolicy(#"{"\#(c.op)": {"test:Key": \#(c.value)}}"#)
        var context: [String: [String]] = [:]
        if let values = c.request { context["test:Key"] = values }
        #expect(policy.evaluate(request(context: context)) == (c.matches ? .allow : .implicitDeny))
    }

    @Test(arguments: cases)
    func asDeny(_ c: ConditionCase) throws {
        let policy = try denyPolicy(#"{"\#(c.op)": {"test:Key": \#(c.value)}}"#)
        var context: [String: [String]] = [:]
        if let values = c.request { context["test:Key"] = values }
        #expect(policy.evaluate(request(context: context)) == (c.matches ? .explicitDeny : .allow))
    }

    struct BadValue: Sendable, CustomTestStringConvertible {
        var op: String
        var value: String
        var reason: String
        var testDescription: String { "\(op) \(value)" }
    }

    /// A value the operator cannot read is refused at load, naming the key.
    static let badValues: [BadValue] = [
        BadValue(op: "NumericEquals", value: #""0x10""#, reason: "Numeric operators need numbers"),
        BadValue(op: "NumericLessThan", value: #""inf""#, reason: "Numeric operators need numbers"),
        BadValue(op: "DateLessThan", value: #""yesterday""#, reason: "ISO 8601"),
        BadValue(op: "DateLessThan", value: #""2026-13-01""#, reason: "ISO 8601"),
        BadValue(op: "IpAddress", value: #""10.0.0.0/33""#, reason: "CIDR"),
        BadValue(op: "IpAddress", value: #""10.0.0""#, reason: "CIDR"),
        BadValue(op: "NotIpAddress", value: #""2001:db8:::1""#, reason: "CIDR"),
        BadValue(op: "IpAddress", value: #""010.0.0.1""#, reason: "CIDR"),
        BadValue(op: "BinaryEquals", value: #""not base64!""#, reason: "base64"),
        BadValue(op: "Bool", value: #""yes""#, reason: "true or false"),
        BadValue(op: "Null", value: #""absent""#, reason: "true or false"),
    ]

    @Test(arguments: badValues)
    func refusesUnreadableValues(_ c: BadValue) {
        #expect {
            try conditionPolicy(#"{"\#(c.op)": {"test:Key": \#(c.value)}}"#)
        } throws: { error in
            guard let e = error as? PolicyError else { return false }
            return e.path == "Statement.Condition.\(c.op).test:Key" && e.reason.contains(c.reason)
        }
    }

    /// Condition key names are case-insensitive; values keep their operator's case rule.
    @Test func keyNamesIgnoreCase() throws {
        let policy = try conditionPolicy(#"{"IpAddress": {"AWS:SOURCEIP": "10.0.0.0/8"}}"#)
        #expect(policy.evaluate(request(context: ["aws:SourceIp": ["10.2.3.4"]])) == .allow)
        #expect(policy.evaluate(request(context: ["aws:sourceip": ["11.2.3.4"]])) == .implicitDeny)
    }
}
