import GatehouseJSON
import LocalWorkflows
import Testing

/// ASL data flow through Pass, Succeed and Fail states (Choice has its own suite), observed the way a client sees it:
/// through DescribeExecution after the execution has run.
@Suite struct PassStateTests {
    /// "SUCCEEDED <output>" or "FAILED <error> | <cause>" for `states` run on `input`.
    func outcome(_ states: String, startAt: String = "P", input: String) -> String {
        let engine = Fixture.engine(["m": #"{"StartAt":"\#(startAt)","States":\#(states)}"#])
        let described = engine.runToEnd("m", input: input)
        switch described["status"]?.stringValue {
        case "SUCCEEDED": return "SUCCEEDED " + (described["output"]?.stringValue ?? "?")
        case "FAILED": return "FAILED \(described["error"]?.stringValue ?? "-") | \(described["cause"]?.stringValue ?? "-")"
        default: return "unexpected \(described.jsonText)"
        }
    }

    @Test(arguments: [
        (#"{"P":{"Type":"Pass","End":true}}"#, #"{"a":1}"#, #"SUCCEEDED {"a":1}"#),
        (#"{"P":{"Type":"Pass","End":true}}"#, "5", "SUCCEEDED 5"),
        (#"{"P":{"Type":"Pass","Result":{"x":[1,2.5,null]},"End":true}}"#, #"{"a":1}"#, #"SUCCEEDED {"x":[1,2.5,null]}"#),
        (#"{"P":{"Type":"Pass","Result":"v","ResultPath":"$.r.s","End":true}}"#, #"{"a":1}"#, #"SUCCEEDED {"a":1,"r":{"s":"v"}}"#),
        (#"{"P":{"Type":"Pass","Result":"v","ResultPath":"$.a","End":true}}"#, #"{"a":1,"b":2}"#, #"SUCCEEDED {"a":"v","b":2}"#),
        (#"{"P":{"Type":"Pass","Result":"x","ResultPath":"$.list[0]","End":true}}"#, #"{"list":[1,2]}"#, #"SUCCEEDED {"list":["x",2]}"#),
        (#"{"P":{"Type":"Pass","Result":"v","ResultPath":null,"End":true}}"#, #"{"a":1}"#, #"SUCCEEDED {"a":1}"#),
        (#"{"P":{"Type":"Pass","InputPath":"$.a","End":true}}"#, #"{"a":{"b":2}}"#, #"SUCCEEDED {"b":2}"#),
        (#"{"P":{"Type":"Pass","InputPath":"$['a b'][1]","End":true}}"#, #"{"a b":[0,"y"]}"#, #"SUCCEEDED "y""#),
        (#"{"P":{"Type":"Pass","InputPath":null,"End":true}}"#, #"{"a":1}"#, "SUCCEEDED {}"),
        (#"{"P":{"Type":"Pass","OutputPath":"$.a.b","End":true}}"#, #"{"a":{"b":2}}"#, "SUCCEEDED 2"),
        (#"{"P":{"Type":"Pass","OutputPath":null,"End":true}}"#, #"{"a":1}"#, "SUCCEEDED {}"),
        (#"{"P":{"Type":"Pass","Parameters":{"static":"s","num":1.5,"v.$":"$.list[1]","nested":{"w.$":"$.a"},"arr":[{"z.$":"$.a"}]},"End":true}}"#,
         #"{"list":[10,20],"a":"A"}"#,
         #"SUCCEEDED {"static":"s","num":1.5,"v":20,"nested":{"w":"A"},"arr":[{"z":"A"}]}"#),
        (#"{"P":{"Type":"Pass","InputPath":"$.in","Parameters":{"v.$":"$.x"},"ResultPath":"$.out","End":true}}"#,
         #"{"in":{"x":7}}"#,
         #"SUCCEEDED {"in":{"x":7},"out":{"v":7}}"#),
        (#"{"P":{"Type":"Pass","Parameters":{"name.$":"$$.Execution.Name","id.$":"$$.Execution.Id","state.$":"$$.State.Name","start.$":"$$.Execution.StartTime","entered.$":"$$.State.EnteredTime","sm.$":"$$.StateMachine.Name","role.$":"$$.Execution.RoleArn","in.$":"$$.Execution.Input.a"},"End":true}}"#,
         #"{"a":1}"#,
         #"SUCCEEDED {"name":"run","id":"arn:aws:states:us-east-1:123456789012:execution:m:run","state":"P","start":"2017-02-11T00:24:04.911Z","entered":"2017-02-11T00:24:05.911Z","sm":"m","role":"arn:aws:iam::123456789012:role/sfn","in":1}"#),
        (#"{"P":{"Type":"Pass","Result":{"b":{"c":3}},"ResultPath":"$.a","Next":"Q"},"Q":{"Type":"Pass","InputPath":"$.a","Next":"S"},"S":{"Type":"Succeed","InputPath":"$.b","OutputPath":"$.c"}}"#,
         #"{}"#, "SUCCEEDED 3"),
        (#"{"P":{"Type":"Pass","Result":"r","Next":"F"},"F":{"Type":"Fail","Error":"E.Custom","Cause":"because"}}"#,
         #"{}"#, "FAILED E.Custom | because"),
        (#"{"P":{"Type":"Pass","InputPath":"$.missing","End":true}}"#, #"{"a":1}"#,
         "FAILED States.Runtime | An error occurred while executing the state 'P' (entered at the event id #2). Invalid path '$.missing' : No results for path: $['missing']"),
        (#"{"P":{"Type":"Pass","Next":"Q"},"Q":{"Type":"Pass","OutputPath":"$.x[3]","End":true}}"#, #"{"x":[1]}"#,
         "FAILED States.Runtime | An error occurred while executing the state 'Q' (entered at the event id #4). Invalid path '$.x[3]' : No results for path: $['x'][3]"),
        (#"{"P":{"Type":"Pass","Parameters":{"v.$":"$.nope"},"End":true}}"#, #"{"a":1}"#,
         #"FAILED States.Runtime | An error occurred while executing the state 'P' (entered at the event id #2). The JSONPath '$.nope' specified for the field 'v.$' could not be found in the input '{"a":1}'"#),
        // Wildcards select every match, as a list (empty when none); [-1] counts from the end.
        (#"{"P":{"Type":"Pass","Parameters":{"names.$":"$.people[*].name","vals.$":"$.o.*","last.$":"$.people[-1].name","none.$":"$.people[*].nope"},"End":true}}"#,
         #"{"people":[{"name":"a"},{"name":"b"}],"o":{"x":1,"y":[2]}}"#,
         #"SUCCEEDED {"names":["a","b"],"vals":[1,[2]],"last":"b","none":[]}"#),
        (#"{"P":{"Type":"Pass","InputPath":"$.l[*].v","End":true}}"#, #"{"l":[{"v":1},{"w":2},{"v":3}]}"#, "SUCCEEDED [1,3]"),
        // A missing key before the first wildcard is a missing path, as in Jayway.
        (#"{"P":{"Type":"Pass","InputPath":"$.nope[*]","End":true}}"#, #"{"l":[]}"#,
         "FAILED States.Runtime | An error occurred while executing the state 'P' (entered at the event id #2). Invalid path '$.nope[*]' : No results for path: $['nope'][*]"),
        (#"{"P":{"Type":"Pass","Parameters":{"n.$":"States.ArrayLength($.l[*])"},"End":true}}"#, #"{"l":[4,5,6]}"#, #"SUCCEEDED {"n":3}"#),
        (#"{"P":{"Type":"Pass","Result":1,"ResultPath":"$.a.b","End":true}}"#, #"{"a":"str"}"#,
         #"FAILED States.ResultPathMatchFailure | An error occurred while executing the state 'P' (entered at the event id #2). Unable to apply ReferencePath $.a.b to input '{"a":"str"}'"#),
    ])
    func dataFlow(states: String, input: String, expected: String) {
        #expect(outcome(states, input: input) == expected)
    }

    /// A Standard execution's history holds at most 25,000 events: ExecutionStarted, two per
    /// Pass state, and the closing event. 12,499 Pass states fit; one more fails the execution.
    @Test(arguments: [(12_499, "SUCCEEDED {}"),
                      (12_500, "FAILED States.Runtime | The execution reached the maximum number of history events (25000).")])
    func historyLimit(passStates: Int, expected: String) {
        var states: [String] = []
        for i in 0..<passStates {
            let transition = i == passStates - 1 ? #""End":true"# : #""Next":"S\#(i + 1)""#
            states.append(#""S\#(i)":{"Type":"Pass",\#(transition)}"#)
        }
        #expect(outcome("{" + states.joined(separator: ",") + "}", startAt: "S0", input: "{}") == expected)
    }

    @Test func executionStaysRunningUntilRunPending() {
        let engine = Fixture.engine()
        _ = engine.call("StartExecution", #"{"stateMachineArn":"\#(Fixture.smPrefix)hello","name":"r"}"#)
        let describe = #"{"executionArn":"\#(Fixture.execPrefix)hello:r"}"#
        #expect(Fixture.json(engine.call("DescribeExecution", describe).body)["status"] == .string("RUNNING"))
        engine.runPending(now: Fixture.now)
        #expect(Fixture.json(engine.call("DescribeExecution", describe).body)["status"] == .string("SUCCEEDED"))
        engine.runPending(now: Fixture.now + 10)
        #expect(Fixture.json(engine.call("DescribeExecution", describe).body)["stopDate"] == .double(Fixture.now))
    }
}
