import GatehouseJSON
@testable import LocalWorkflows
import Testing

/// The intrinsic functions in a Pass state's Parameters. Expected values are the examples of the
/// Step Functions developer guide ("Intrinsic functions for JSONPath states") where it has one.
@Suite struct IntrinsicFunctionTests {
    /// The output of one Pass state whose Parameters are `{"r.$": expression}`, or the failure.
    func result(_ expression: String, _ input: String = "{}") -> String {
        let states = #"{"P":{"Type":"Pass","Parameters":{"r.$":\#(JSONValue.quoted(expression))},"OutputPath":"$.r","End":true}}"#
        let engine = Fixture.engine(["m": #"{"StartAt":"P","States":\#(states)}"#])
        let d = engine.runToEnd("m", input: input)
        switch d["status"]?.stringValue {
        case "SUCCEEDED": return d["output"]?.stringValue ?? "?"
        case "FAILED": return "FAILED \(d["error"]?.stringValue ?? "-") | \(d["cause"]?.stringValue ?? "-")"
        default: return "unexpected \(d.jsonText)"
        }
    }

    @Test(arguments: [
        ("States.Format('Hello, my name is {}.', $.name)", #"{"name":"Arnav"}"#, #""Hello, my name is Arnav.""#),
        (#"States.Format('{} + {} = {}; {}', 1, 2.5, true, null)"#, "{}", #""1 + 2.5 = true; null""#),
        (#"States.Format('braces \{\} and a quote \' and {}', 'x')"#, "{}", #""braces {} and a quote ' and x""#),
        ("States.StringToJson($.s)", #"{"s":"{\"foo\": \"bar\"}"}"#, #"{"foo":"bar"}"#),
        ("States.JsonToString($.j)", #"{"j":{"foo":"bar","n":[1,2]}}"#, #""{\"foo\":\"bar\",\"n\":[1,2]}""#),
        ("States.Array('Foo', 2020, $.j, null)", #"{"j":{"a":1}}"#, #"["Foo",2020,{"a":1},null]"#),
        ("States.Array()", "{}", "[]"),
        ("States.ArrayPartition($.a, 4)", #"{"a":[1,2,3,4,5,6,7,8,9]}"#, "[[1,2,3,4],[5,6,7,8],[9]]"),
        ("States.ArrayContains($.a, $.v)", #"{"a":[1,2,3],"v":3}"#, "true"),
        ("States.ArrayContains($.a, 'x')", #"{"a":[1,2,3]}"#, "false"),
        ("States.ArrayRange(1, 9, 2)", "{}", "[1,3,5,7,9]"),
        ("States.ArrayRange(5, 1, -2)", "{}", "[5,3,1]"),
        ("States.ArrayGetItem($.a, 5)", #"{"a":[1,2,3,4,5,6,7,8,9]}"#, "6"),
        ("States.ArrayLength($.a)", #"{"a":[1,2,3,4,5,6,7,8,9]}"#, "9"),
        ("States.ArrayUnique($.a)", #"{"a":[1,2,3,3,3,3,3,3,4]}"#, "[1,2,3,4]"),
        ("States.Base64Encode($.s)", #"{"s":"Data to encode"}"#, #""RGF0YSB0byBlbmNvZGU=""#),
        ("States.Base64Decode($.s)", #"{"s":"RGF0YSB0byBlbmNvZGU="}"#, #""Data to encode""#),
        ("States.Hash($.Data, $.Algorithm)", #"{"Data":"input data","Algorithm":"SHA-1"}"#, #""aaff4a450a104cd177d28d18d74485e8cae074b7""#),
        ("States.Hash('input data', 'MD5')", "{}", #""812f45842bc6d66ee14572ce20db8e86""#),
        ("States.JsonMerge($.a, $.b, false)", #"{"a":{"a":{"a1":1,"a2":2},"b":2},"b":{"a":{"a3":1,"a4":2},"c":3}}"#,
         #"{"a":{"a3":1,"a4":2},"b":2,"c":3}"#),
        ("States.MathAdd($.x, -1)", #"{"x":111}"#, "110"),
        ("States.StringSplit('1,2,3,4,5', ',')", "{}", #"["1","2","3","4","5"]"#),
        ("States.StringSplit($.s, '.+,=')", #"{"s":"This.is+a,test=string"}"#, #"["This","is","a","test","string"]"#),
        ("States.ArrayLength(States.Array(1, States.Array(2, 3), 'a,b'))", "{}", "3"),
        ("States.Format('{}', $$.Execution.Name)", "{}", #""run""#),
        ("States.Format('{}', $['a b'][1])", #"{"a b":[0,"y"]}"#, #""y""#),
    ])
    func evaluates(expression: String, input: String, expected: String) {
        #expect(result(expression, input) == expected)
    }

    @Test func randomAndUUID() throws {
        for _ in 0..<20 {
            let n = try #require(Int(result("States.MathRandom(1, 5)")))
            #expect((1..<5).contains(n))
        }
        // The same seed, the same number.
        #expect(result("States.MathRandom(1, 1000000, 42)") == result("States.MathRandom(1, 1000000, 42)"))
        let uuid = result("States.UUID()")
        let text = try #require(try JSONValue.parse(uuid).stringValue)
        #expect(text.count == 36)
        #expect(Array(text)[14] == "4")
        #expect(uuid != result("States.UUID()"))
    }

    @Test(arguments: [
        ("States.ArrayGetItem($.a, 3)", #"{"a":[1,2,3]}"#, "States.ArrayGetItem: the index 3 is out of bounds for an array of 3"),
        ("States.ArrayRange(1, 2000, 1)", "{}", "States.ArrayRange: the range has more than 1000 items"),
        ("States.ArrayPartition($.a, 0)", #"{"a":[1]}"#, "States.ArrayPartition: the chunk size must be greater than 0"),
        ("States.StringToJson($.s)", #"{"s":"{nope"}"#, "States.StringToJson: the argument is not JSON: "),
        ("States.MathAdd($.x, 1)", #"{"x":"1"}"#, #"States.MathAdd: the first number must be an integer, not "1""#),
        ("States.Format('{} {}', 'a')", "{}", "States.Format: the template has more {} than there are arguments"),
        ("States.Format('{}', $.o)", #"{"o":{}}"#, "States.Format: argument 1 is object; only strings, numbers, booleans and null can be formatted"),
        ("States.Hash('x', 'SHA-3')", "{}", "States.Hash: the algorithm must be one of MD5, SHA-1, SHA-256, SHA-384, SHA-512, not 'SHA-3'"),
        ("States.JsonMerge($.a, $.a, true)", #"{"a":{}}"#, "States.JsonMerge: only a shallow merge (false) is supported"),
        ("States.Format('{}', $.missing)", "{}", "The JSONPath '$.missing' could not be found in the input."),
    ])
    func failsAtRunTime(expression: String, input: String, causeContains: String) {
        let r = result(expression, input)
        #expect(r.hasPrefix("FAILED States.IntrinsicFailure | An error occurred while executing the state 'P' (entered at the event id #2). "), "\(r)")
        #expect(r.contains(causeContains), "\(r)")
    }

    @Test(arguments: [
        ("States.Nope(1)", "'States.Nope' is not an intrinsic function"),
        ("States.UUID(1)", "States.UUID takes 0 argument(s), not 1"),
        ("States.ArrayRange(1, 2)", "States.ArrayRange takes 3 argument(s), not 2"),
        ("States.Format()", "States.Format takes at least 1 argument(s), not 0"),
        ("States.Format('x'", "missing ')' in States.Format"),
        ("States.Format('x) ", "unterminated string"),
        ("States.Array(1) extra", "unexpected text after the call at character 17"),
        ("States.Array(foo)", "'foo' is not a valid argument"),
    ])
    func refusedAtRegistration(expression: String, reason: String) {
        let engine = WorkflowEngine(region: Fixture.region, accountId: Fixture.account)
        let definition = Fixture.json(#"{"StartAt":"P","States":{"P":{"Type":"Pass","Parameters":{"r.$":\#(JSONValue.quoted(expression))},"End":true}}}"#)
        do {
            try engine.register(name: "m", definition: definition, roleArn: nil)
            Issue.record("accepted \(expression)")
        } catch {
            #expect(error.message == "SCHEMA_VALIDATION_FAILED: The value for the field 'r.$' must be a valid JSONPath or a valid intrinsic function call (\(reason)) at /States/P/Parameters/r.$")
        }
    }
}
