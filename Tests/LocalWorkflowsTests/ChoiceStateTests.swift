import GatehouseJSON
@testable import LocalWorkflows
import Testing

/// The Choice state: every comparison operator, its `…Path` form, the type tests, And/Or/Not,
/// Default, and the errors at registration and at run time. The expected answers follow the
/// Amazon States Language specification and the Step Functions developer guide.
@Suite struct ChoiceStateTests {
    /// "yes" when `rule` matches `input`, "no" when the Default is taken, or the failure.
    func decide(_ rule: String, _ input: String) -> String {
        let states = #"{"C":{"Type":"Choice","Choices":[{\#(rule),"Next":"Yes"}],"Default":"No"},"#
            + #""Yes":{"Type":"Pass","Result":"yes","End":true},"No":{"Type":"Pass","Result":"no","End":true}}"#
        let engine = Fixture.engine(["m": #"{"StartAt":"C","States":\#(states)}"#])
        let d = engine.runToEnd("m", input: input)
        switch d["status"]?.stringValue {
        case "SUCCEEDED": return d["output"]?.stringValue.flatMap { try? JSONValue.parse($0).stringValue } ?? "?"
        case "FAILED": return "FAILED \(d["error"]?.stringValue ?? "-") | \(d["cause"]?.stringValue ?? "-")"
        default: return "unexpected \(d.jsonText)"
        }
    }

    @Test(arguments: [
        // Strings: equality and Java's ordering by UTF-16 code units.
        (#""Variable":"$.s","StringEquals":"abc""#, #"{"s":"abc"}"#, "yes"),
        (#""Variable":"$.s","StringEquals":"abc""#, #"{"s":"abd"}"#, "no"),
        (#""Variable":"$.s","StringLessThan":"b""#, #"{"s":"abc"}"#, "yes"),
        (#""Variable":"$.s","StringLessThan":"abc""#, #"{"s":"abc"}"#, "no"),
        (#""Variable":"$.s","StringLessThanEquals":"abc""#, #"{"s":"abc"}"#, "yes"),
        (#""Variable":"$.s","StringGreaterThan":"B""#, #"{"s":"a"}"#, "yes"),
        (#""Variable":"$.s","StringGreaterThanEquals":"b""#, #"{"s":"a"}"#, "no"),
        (#""Variable":"$.s","StringLessThan":"\ud83d\ude00""#, #"{"s":"\uffff"}"#, "no"),   // code units, not scalars
        // A value of another type is not equal, and not an error.
        (#""Variable":"$.s","StringEquals":"1""#, #"{"s":1}"#, "no"),
        // StringMatches: * is any run; \\* a literal star.
        (#""Variable":"$.f","StringMatches":"log-*.txt""#, #"{"f":"log-2024-01.txt"}"#, "yes"),
        (#""Variable":"$.f","StringMatches":"log-*.txt""#, #"{"f":"log-2024-01.txt.gz"}"#, "no"),
        (#""Variable":"$.f","StringMatches":"*""#, #"{"f":""}"#, "yes"),
        (#""Variable":"$.f","StringMatches":"a*b*c""#, #"{"f":"aXXbYYbc"}"#, "yes"),
        (#""Variable":"$.f","StringMatches":"a\\*""#, #"{"f":"a*"}"#, "yes"),
        (#""Variable":"$.f","StringMatches":"a\\*""#, #"{"f":"ab"}"#, "no"),
        // Numbers: integers and decimals compare by value.
        (#""Variable":"$.n","NumericEquals":1"#, #"{"n":1.0}"#, "yes"),
        (#""Variable":"$.n","NumericLessThan":1.5"#, #"{"n":1}"#, "yes"),
        (#""Variable":"$.n","NumericGreaterThan":-3"#, #"{"n":-2.5}"#, "yes"),
        (#""Variable":"$.n","NumericLessThanEquals":2"#, #"{"n":2}"#, "yes"),
        (#""Variable":"$.n","NumericGreaterThanEquals":2"#, #"{"n":1.999}"#, "no"),
        (#""Variable":"$.n","NumericEquals":1"#, #"{"n":"1"}"#, "no"),
        (#""Variable":"$.b","BooleanEquals":true"#, #"{"b":true}"#, "yes"),
        (#""Variable":"$.b","BooleanEquals":true"#, #"{"b":"true"}"#, "no"),
        // Timestamps compare as instants, offsets applied.
        (#""Variable":"$.t","TimestampEquals":"2001-01-01T12:00:00Z""#, #"{"t":"2001-01-01T13:00:00+01:00"}"#, "yes"),
        (#""Variable":"$.t","TimestampLessThan":"2001-01-01T12:00:00Z""#, #"{"t":"2001-01-01T11:59:59.999Z"}"#, "yes"),
        (#""Variable":"$.t","TimestampGreaterThan":"2001-01-01T12:00:00Z""#, #"{"t":"2001-01-01T12:00:00.000000001Z"}"#, "yes"),
        (#""Variable":"$.t","TimestampLessThanEquals":"2001-01-01T12:00:00Z""#, #"{"t":"2001-01-01T12:00:00Z"}"#, "yes"),
        (#""Variable":"$.t","TimestampGreaterThanEquals":"2001-01-01T12:00:00Z""#, #"{"t":"2000-12-31T23:00:00Z"}"#, "no"),
        (#""Variable":"$.t","TimestampEquals":"2001-01-01T12:00:00Z""#, #"{"t":"not a time"}"#, "no"),
        // The Path forms read the operand from the input.
        (#""Variable":"$.a","StringEqualsPath":"$.b""#, #"{"a":"x","b":"x"}"#, "yes"),
        (#""Variable":"$.a","NumericLessThanPath":"$.b""#, #"{"a":1,"b":2}"#, "yes"),
        (#""Variable":"$.a","NumericGreaterThanEqualsPath":"$.b""#, #"{"a":1,"b":2}"#, "no"),
        (#""Variable":"$.a","BooleanEqualsPath":"$.b""#, #"{"a":false,"b":false}"#, "yes"),
        (#""Variable":"$.a","TimestampLessThanPath":"$.b""#, #"{"a":"2020-01-01T00:00:00Z","b":"2021-01-01T00:00:00Z"}"#, "yes"),
        (#""Variable":"$.a","StringGreaterThanPath":"$.b""#, #"{"a":"b","b":"a"}"#, "yes"),
        (#""Variable":"$$.Execution.Name","StringEquals":"run""#, #"{}"#, "yes"),
        // Type tests, and their negation with false.
        (#""Variable":"$.v","IsNull":true"#, #"{"v":null}"#, "yes"),
        (#""Variable":"$.v","IsNull":false"#, #"{"v":0}"#, "yes"),
        (#""Variable":"$.v","IsPresent":true"#, #"{"v":null}"#, "yes"),
        (#""Variable":"$.v","IsPresent":false"#, #"{"w":1}"#, "yes"),
        (#""Variable":"$.v","IsPresent":true"#, #"{"w":1}"#, "no"),
        (#""Variable":"$.v","IsNumeric":true"#, #"{"v":1.5}"#, "yes"),
        (#""Variable":"$.v","IsNumeric":true"#, #"{"v":"1.5"}"#, "no"),
        (#""Variable":"$.v","IsString":true"#, #"{"v":"s"}"#, "yes"),
        (#""Variable":"$.v","IsBoolean":true"#, #"{"v":false}"#, "yes"),
        (#""Variable":"$.v","IsTimestamp":true"#, #"{"v":"2016-03-14T01:59:00Z"}"#, "yes"),
        (#""Variable":"$.v","IsTimestamp":true"#, #"{"v":"2016-02-30T01:59:00Z"}"#, "no"),
        (#""Variable":"$.v","IsTimestamp":true"#, #"{"v":"2016-03-14 01:59:00Z"}"#, "no"),
        // And, Or, Not, nested.
        (#""And":[{"Variable":"$.n","NumericGreaterThanEquals":20},{"Variable":"$.n","NumericLessThan":30}]"#, #"{"n":22}"#, "yes"),
        (#""And":[{"Variable":"$.n","NumericGreaterThanEquals":20},{"Variable":"$.n","NumericLessThan":30}]"#, #"{"n":30}"#, "no"),
        (#""Or":[{"Variable":"$.n","NumericEquals":1},{"Variable":"$.n","NumericEquals":2}]"#, #"{"n":2}"#, "yes"),
        (#""Not":{"Variable":"$.type","StringEquals":"Private"}"#, #"{"type":"Public"}"#, "yes"),
        (#""Not":{"Or":[{"Variable":"$.a","IsNull":true},{"Not":{"Variable":"$.a","IsString":true}}]}"#, #"{"a":"s"}"#, "yes"),
        // IsPresent guards a comparison that would otherwise fail: And stops at the first false.
        (#""And":[{"Variable":"$.k","IsPresent":true},{"Variable":"$.k","StringEquals":"foo"}]"#, #"{}"#, "no"),
        // A missing Variable (or operand path) is a runtime error for every other operator.
        (#""Variable":"$.missing","StringEquals":"x""#, #"{}"#,
         "FAILED States.Runtime | An error occurred while executing the state 'C' (entered at the event id #2). Invalid path '$.missing': The choice state's condition path references an invalid value."),
        (#""Variable":"$.missing","IsNull":false"#, #"{}"#,
         "FAILED States.Runtime | An error occurred while executing the state 'C' (entered at the event id #2). Invalid path '$.missing': The choice state's condition path references an invalid value."),
        (#""Variable":"$.a","NumericEqualsPath":"$.nope""#, #"{"a":1}"#,
         "FAILED States.Runtime | An error occurred while executing the state 'C' (entered at the event id #2). Invalid path '$.nope': The choice state's condition path references an invalid value."),
    ])
    func rule(rule: String, input: String, expected: String) {
        #expect(decide(rule, input) == expected)
    }

    /// Rules are tried in order; the first that holds wins. InputPath and OutputPath apply, and
    /// without a Default an unmatched input fails with States.NoChoiceMatched.
    @Test func orderPathsAndNoMatch() {
        let states = #"{"C":{"Type":"Choice","InputPath":"$.in","OutputPath":"$.x","Choices":["#
            + #"{"Variable":"$.x","NumericGreaterThan":0,"Next":"A"},{"Variable":"$.x","NumericGreaterThan":-10,"Next":"B"}]},"#
            + #""A":{"Type":"Pass","Parameters":{"took":"A","v.$":"$"},"End":true},"B":{"Type":"Pass","Parameters":{"took":"B","v.$":"$"},"End":true}}"#
        let engine = Fixture.engine(["m": #"{"StartAt":"C","States":\#(states)}"#])
        #expect(engine.runToEnd("m", input: #"{"in":{"x":5}}"#, name: "r1")["output"] == .string(#"{"took":"A","v":5}"#))
        #expect(engine.runToEnd("m", input: #"{"in":{"x":-5}}"#, name: "r2")["output"] == .string(#"{"took":"B","v":-5}"#))
        let failed = engine.runToEnd("m", input: #"{"in":{"x":-50}}"#, name: "r3")
        #expect(failed["status"] == .string("FAILED"))
        #expect(failed["error"] == .string("States.NoChoiceMatched"))
    }

    /// A loop through a Choice runs until the history limit, like any other loop.
    @Test func loopsAreBoundedByHistory() {
        let states = #"{"C":{"Type":"Choice","Choices":[{"Variable":"$.go","BooleanEquals":true,"Next":"P"}],"Default":"Done"},"#
            + #""P":{"Type":"Pass","Next":"C"},"Done":{"Type":"Succeed"}}"#
        let engine = Fixture.engine(["m": #"{"StartAt":"C","States":\#(states)}"#])
        let d = engine.runToEnd("m", input: #"{"go":true}"#)
        #expect(d["error"] == .string("States.Runtime"))
        #expect(d["cause"] == .string("The execution reached the maximum number of history events (25000)."))
    }

    @Test(arguments: [
        (#"{"Type":"Choice","Choices":[]}"#, "SCHEMA_VALIDATION_FAILED: The field 'Choices' must have at least one Choice Rule at /States/C/Choices"),
        (#"{"Type":"Choice"}"#, "SCHEMA_VALIDATION_FAILED: These fields are required: [Choices] at /States/C"),
        (#"{"Type":"Choice","Choices":[{"Variable":"$.a","StringEquals":"x"}]}"#, "SCHEMA_VALIDATION_FAILED: These fields are required: [Next] at /States/C/Choices/0"),
        (#"{"Type":"Choice","Choices":[{"Variable":"$.a","StringEquals":"x","Next":"Nowhere"}]}"#, "MISSING_TRANSITION_TARGET: Missing 'Next' target: Nowhere at /States/C/Choices/0/Next"),
        (#"{"Type":"Choice","Choices":[{"Variable":"$.a","StringEquals":"x","Next":"S"}],"Default":"Nowhere"}"#, "MISSING_TRANSITION_TARGET: Missing 'Default' target: Nowhere at /States/C/Default"),
        (#"{"Type":"Choice","Choices":[{"Variable":"$.a","StringEquals":1,"Next":"S"}]}"#, "SCHEMA_VALIDATION_FAILED: The value for the field 'StringEquals' must be a STRING at /States/C/Choices/0/StringEquals"),
        (#"{"Type":"Choice","Choices":[{"Variable":"$.a","NumericEquals":"1","Next":"S"}]}"#, "SCHEMA_VALIDATION_FAILED: The value for the field 'NumericEquals' must be a NUMBER at /States/C/Choices/0/NumericEquals"),
        (#"{"Type":"Choice","Choices":[{"Variable":"$.a","TimestampEquals":"yesterday","Next":"S"}]}"#, "SCHEMA_VALIDATION_FAILED: The value for the field 'TimestampEquals' must be a valid RFC3339 timestamp at /States/C/Choices/0/TimestampEquals"),
        (#"{"Type":"Choice","Choices":[{"Variable":"$.a","IsNullPath":"$.b","Next":"S"}]}"#, "SCHEMA_VALIDATION_FAILED: Field 'IsNullPath' is not supported at /States/C/Choices/0"),
        (#"{"Type":"Choice","Choices":[{"Variable":"$.a","StringEquals":"x","NumericEquals":1,"Next":"S"}]}"#, "SCHEMA_VALIDATION_FAILED: A Choice Rule must have exactly one of And, Or, Not or a comparison operator at /States/C/Choices/0"),
        (#"{"Type":"Choice","Choices":[{"StringEquals":"x","Next":"S"}]}"#, "SCHEMA_VALIDATION_FAILED: These fields are required: [Variable] at /States/C/Choices/0"),
        (#"{"Type":"Choice","Choices":[{"And":[{"Variable":"$.a","IsNull":true,"Next":"S"}],"Next":"S"}]}"#, "SCHEMA_VALIDATION_FAILED: Field 'Next' is not supported in a nested Choice Rule at /States/C/Choices/0/And/0"),
        (#"{"Type":"Choice","Choices":[{"Or":[],"Next":"S"}]}"#, "SCHEMA_VALIDATION_FAILED: The value for the field 'Or' must be a non-empty ARRAY at /States/C/Choices/0/Or"),
        (#"{"Type":"Choice","Choices":[{"Variable":"$.a","IsNull":true,"Next":"S"}],"End":true}"#, "SCHEMA_VALIDATION_FAILED: Field 'End' is not supported at /States/C"),
    ])
    func refusedAtRegistration(choice: String, message: String) {
        let engine = WorkflowEngine(region: Fixture.region, accountId: Fixture.account)
        let definition = Fixture.json(#"{"StartAt":"C","States":{"C":\#(choice),"S":{"Type":"Succeed"}}}"#)
        #expect(throws: WorkflowDefinitionError.self) { try engine.register(name: "m", definition: definition, roleArn: nil) }
        do {
            try engine.register(name: "m", definition: definition, roleArn: nil)
        } catch {
            #expect(error.message == message)
        }
    }

    /// States reached only through a Choice's rules or Default count as reachable.
    @Test func reachabilityFollowsRulesAndDefault() throws {
        let engine = WorkflowEngine(region: Fixture.region, accountId: Fixture.account)
        let ok = #"{"StartAt":"C","States":{"C":{"Type":"Choice","Choices":[{"Variable":"$.a","IsNull":true,"Next":"A"}],"Default":"B"},"A":{"Type":"Succeed"},"B":{"Type":"Fail"}}}"#
        try engine.register(name: "ok", definition: Fixture.json(ok), roleArn: nil)
        let orphan = #"{"StartAt":"C","States":{"C":{"Type":"Choice","Choices":[{"Variable":"$.a","IsNull":true,"Next":"A"}]},"A":{"Type":"Succeed"},"B":{"Type":"Fail"}}}"#
        do {
            try engine.register(name: "orphan", definition: Fixture.json(orphan), roleArn: nil)
            Issue.record("an unreachable state was accepted")
        } catch {
            #expect(error.message == #"MISSING_TRANSITION_TARGET: State "B" is not reachable. at /States/B"#)
        }
    }

    @Test func wildcardEdgeCases() {
        func m(_ s: String, _ p: String) -> Bool { ChoiceOperator.wildcardMatches(Array(s.unicodeScalars), Array(p.unicodeScalars)) }
        #expect(m("", ""))
        #expect(!m("a", ""))
        #expect(m("abc", "a**c"))
        #expect(m("\\", "\\\\"))
        #expect(!m("ab", "a\\b"))     // a backslash before an ordinary character is itself
        #expect(m("a\\b", "a\\b"))
        #expect(m(String(repeating: "a", count: 2000), String(repeating: "*a", count: 50)))
        #expect(!m(String(repeating: "a", count: 2000) + "b", String(repeating: "*a", count: 50)))
    }

    @Test func timestamps() throws {
        #expect(Timestamp("1970-01-01T00:00:00Z")?.seconds == 0)
        #expect(Timestamp("2000-03-01T00:00:00Z")?.seconds == 951_868_800)
        #expect(Timestamp("2024-02-29T00:00:00Z") != nil)
        #expect(Timestamp("2023-02-29T00:00:00Z") == nil)
        #expect(Timestamp("2023-01-01T00:00:00") == nil)          // an offset is required
        #expect(Timestamp("2023-01-01t00:00:00Z") == nil)
        #expect(Timestamp("2023-01-01T00:00:00.Z") == nil)
        #expect(try #require(Timestamp("2023-01-01T00:00:00.5Z")).nanos == 500_000_000)
        #expect(Timestamp("2023-01-01T01:00:00+01:00") == Timestamp("2023-01-01T00:00:00Z"))
    }
}
