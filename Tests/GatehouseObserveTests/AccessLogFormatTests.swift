import GatehouseJSON
import GatehouseObserve
import Testing

/// Access-log formats as AWS documents them. The four example formats are copied verbatim from
/// https://docs.aws.amazon.com/apigateway/latest/developerguide/set-up-access-logging.html
/// ("Access log formats"); the page says the console offers them and that a format can't contain
/// line breaks.
@Suite struct AccessLogFormatTests {
    static let clf = #"$context.identity.sourceIp $context.identity.caller $context.identity.user [$context.requestTime]"$context.httpMethod $context.resourcePath $context.protocol" $context.status $context.responseLength $context.requestId $context.extendedRequestId"#
    static let json = #"{ "requestId":"$context.requestId", "extendedRequestId":"$context.extendedRequestId","ip": "$context.identity.sourceIp", "caller":"$context.identity.caller", "user":"$context.identity.user", "requestTime":"$context.requestTime", "httpMethod":"$context.httpMethod", "resourcePath":"$context.resourcePath", "status":"$context.status", "protocol":"$context.protocol", "responseLength":"$context.responseLength" }"#
    static let xml = #"<request id="$context.requestId"> <extendedRequestId>$context.extendedRequestId</extendedRequestId> <ip>$context.identity.sourceIp</ip> <caller>$context.identity.caller</caller> <user>$context.identity.user</user> <requestTime>$context.requestTime</requestTime> <httpMethod>$context.httpMethod</httpMethod> <resourcePath>$context.resourcePath</resourcePath> <status>$context.status</status> <protocol>$context.protocol</protocol> <responseLength>$context.responseLength</responseLength> </request>"#
    static let csv = #"$context.identity.sourceIp,$context.identity.caller,$context.identity.user,$context.requestTime,$context.httpMethod,$context.resourcePath,$context.protocol,$context.status,$context.responseLength,$context.requestId,$context.extendedRequestId"#

    /// An unauthenticated GET: no IAM caller or user, so those render `-`.
    static var sample: AccessLogRecord {
        var r = AccessLogRecord()
        r.requestId = "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"
        r.extendedRequestId = "IyAB2FKkIAMFVtQ="
        r.sourceIp = "203.0.113.7"
        r.requestTimeEpochMillis = 1_709_820_309_123
        r.httpMethod = "GET"
        r.resourcePath = "/pets/{petId}"
        r.protocolName = "HTTP/1.1"
        r.status = 200
        r.responseLength = 42
        return r
    }

    func line(_ format: String, _ r: AccessLogRecord = sample) -> String {
        String(decoding: AccessLogFormat(format).render(r), as: UTF8.self)
    }

    @Test(arguments: [
        (clf, #"203.0.113.7 - - [07/Mar/2024:14:05:09 +0000]"GET /pets/{petId} HTTP/1.1" 200 42 c6af9ac6-7b61-11e6-9a41-93e8deadbeef IyAB2FKkIAMFVtQ="#),
        (json, #"{ "requestId":"c6af9ac6-7b61-11e6-9a41-93e8deadbeef", "extendedRequestId":"IyAB2FKkIAMFVtQ=","ip": "203.0.113.7", "caller":"-", "user":"-", "requestTime":"07/Mar/2024:14:05:09 +0000", "httpMethod":"GET", "resourcePath":"/pets/{petId}", "status":"200", "protocol":"HTTP/1.1", "responseLength":"42" }"#),
        (xml, #"<request id="c6af9ac6-7b61-11e6-9a41-93e8deadbeef"> <extendedRequestId>IyAB2FKkIAMFVtQ=</extendedRequestId> <ip>203.0.113.7</ip> <caller>-</caller> <user>-</user> <requestTime>07/Mar/2024:14:05:09 +0000</requestTime> <httpMethod>GET</httpMethod> <resourcePath>/pets/{petId}</resourcePath> <status>200</status> <protocol>HTTP/1.1</protocol> <responseLength>42</responseLength> </request>"#),
        (csv, "203.0.113.7,-,-,07/Mar/2024:14:05:09 +0000,GET,/pets/{petId},HTTP/1.1,200,42,c6af9ac6-7b61-11e6-9a41-93e8deadbeef,IyAB2FKkIAMFVtQ="),
    ])
    func awsExampleFormats(format: String, expected: String) {
        #expect(line(format) == expected)
        let parsed = AccessLogFormat(format)
        #expect(parsed.includesRequestId)
        #expect(parsed.segments.allSatisfy { if case .named = $0 { false } else { true } })
    }

    @Test func clfVariableOrder() {
        #expect(AccessLogFormat(Self.clf).variables == [
            "identity.sourceIp", "identity.caller", "identity.user", "requestTime", "httpMethod",
            "resourcePath", "protocol", "status", "responseLength", "requestId", "extendedRequestId",
        ])
    }

    @Test func trailingDotsStayText() {
        #expect(AccessLogFormat("$context.status.").segments == [.variable(.status), .literal(Array(".".utf8))])
        #expect(line("[$context.status..]") == "[200..]")
        #expect(line("$context.requestId-x") == "c6af9ac6-7b61-11e6-9a41-93e8deadbeef-x")
    }

    @Test func nestedNames() {
        let f = AccessLogFormat("$context.identity.sourceIp $context.authorizer.claims.email $context.requestOverride.header.x_trace")
        #expect(f.segments == [
            .variable(.identitySourceIp), .literal([0x20]),
            .named("authorizer.claims.email"), .literal([0x20]),
            .named("requestOverride.header.x_trace"),
        ])
        var r = Self.sample
        r.extra["authorizer.claims.email"] = "a@example.com"
        #expect(line(f.format, r) == "203.0.113.7 a@example.com -")
    }

    /// Only `$context.name` is documented; brace forms, a bare `$context` and other roots are text.
    @Test func nonVariablesAreText() {
        #expect(line("${context.status} $context $context. $context.. $input.body $stageVariables.x")
            == "${context.status} $context $context. $context.. $input.body $stageVariables.x")
        #expect(AccessLogFormat("no variables").variables.isEmpty)
        #expect(!AccessLogFormat("$context.status").includesRequestId)
    }

    /// Names are case-sensitive: `RequestId` is not `requestId`, so it has no value.
    @Test func caseSensitive() {
        #expect(AccessLogFormat("$context.RequestId").segments == [.named("RequestId")])
        #expect(line("$context.RequestId") == "-")
    }

    @Test func missingAndEmptyRenderDash() {
        var r = AccessLogRecord()
        r.httpMethod = ""
        #expect(line("$context.status|$context.httpMethod|$context.integrationLatency|$context.nope", r) == "-|-|-|-")
    }

    @Test func errorMessageStringIsQuoted() {
        var r = Self.sample
        r.errorMessage = "Missing Authentication Token"
        r.errorResponseType = "MISSING_AUTHENTICATION_TOKEN"
        #expect(line(#"{"m":$context.error.messageString,"t":"$context.error.responseType"} $context.error.message"#, r)
            == #"{"m":"Missing Authentication Token","t":"MISSING_AUTHENTICATION_TOKEN"} Missing Authentication Token"#)
        #expect(line("$context.error.messageString") == "-")
    }

    @Test func numbersAndAliases() {
        var r = Self.sample
        r.responseLatencyMillis = 12
        r.integrationLatencyMillis = 9
        r.integrationStatus = 502
        r.domainName = "abc123.execute-api.us-east-1.amazonaws.com"
        #expect(line("$context.requestTimeEpoch $context.responseLatency $context.integrationLatency $context.integration.latency $context.integrationStatus $context.integration.status $context.domainPrefix", r)
            == "1709820309123 12 9 9 502 502 abc123")
    }

    @Test func closureLookup() {
        let out = AccessLogFormat("$context.status $context.identity.sourceIp $context.authorizer.x").render { name in
            ["status": "404", "identity.sourceIp": "::1"][name]
        }
        #expect(String(decoding: out, as: UTF8.self) == "404 ::1 -")
    }

    @Test func everyKnownNameRoundTrips() {
        for v in AccessLogVariable.allCases {
            #expect(AccessLogVariable(name: v.name) == v)
            #expect(AccessLogFormat("$context.\(v.name)").segments == [.variable(v)])
        }
    }

    @Test(arguments: [
        (Int64(0), "01/Jan/1970:00:00:00 +0000"),
        (951_782_400_000, "29/Feb/2000:00:00:00 +0000"),
        (1_709_820_309_123, "07/Mar/2024:14:05:09 +0000"),
        (4_102_444_799_999, "31/Dec/2099:23:59:59 +0000"),
        (-1, "31/Dec/1969:23:59:59 +0000"),
        (253_402_300_799_000, "31/Dec/9999:23:59:59 +0000"),
    ])
    func clfTime(millis: Int64, expected: String) {
        #expect(AccessLogFormat.clfTime(epochMillis: millis) == expected)
    }

    @Test func decimal() {
        for n: Int64 in [0, 7, -7, 1_000_000, .max, .min] {
            var out: [UInt8] = []
            appendDecimal(Int(n), to: &out)  // GatehouseJSON's, which the log writes with
            #expect(String(decoding: out, as: UTF8.self) == String(n))
        }
    }
}
