import GatehouseJSON
@testable import LocalWorkflows
import Testing

/// Parallel and Map states (inline): results in branch and item order, ItemSelector with
/// `$$.Map.Item`, Retry and Catch on the state, their history events, and what is refused.
@Suite struct ParallelMapTests {
    func run(_ states: String, startAt: String = "P", input: String) -> (JSONValue, [String]) {
        let e = Fixture.engine(["m": #"{"StartAt":"\#(startAt)","States":\#(states)}"#])
        let d = e.runToEnd("m", input: input)
        let h = Fixture.json(e.call("GetExecutionHistory", #"{"executionArn":"\#(Fixture.execPrefix)m:run","maxResults":1000}"#).body)
        let lines = (h["events"]?.arrayValue ?? []).map { ev -> String in
            var text = "\(ev["id"]?.jsonText ?? "?")<-\(ev["previousEventId"]?.jsonText ?? "?") \(ev["type"]?.stringValue ?? "?")"
            if let details = ev.objectValue?.members.first(where: { $0.key.hasSuffix("EventDetails") })?.value,
               let name = details["name"]?.stringValue {
                text += " " + name + (details["index"].map { "#" + $0.jsonText } ?? "")
            }
            return text
        }
        return (d, lines)
    }

    @Test func parallelRunsEveryBranchOnTheSameInput() {
        let (d, events) = run(#"{"P":{"Type":"Parallel","Branches":[{"StartAt":"A","States":{"A":{"Type":"Pass","Result":1,"End":true}}},"#
            + #"{"StartAt":"B","States":{"B":{"Type":"Pass","End":true}}}],"ResultSelector":{"first.$":"$[0]","all.$":"$"},"#
            + #""ResultPath":"$.r","End":true}}"#, input: #"{"x":1}"#)
        #expect(d["output"] == .string(#"{"x":1,"r":{"first":1,"all":[1,{"x":1}]}}"#))
        #expect(events == [
            "1<-0 ExecutionStarted", "2<-0 ParallelStateEntered P", "3<-2 ParallelStateStarted",
            "4<-3 PassStateEntered A", "5<-4 PassStateExited A",
            "6<-3 PassStateEntered B", "7<-6 PassStateExited B",
            "8<-7 ParallelStateSucceeded", "9<-7 ParallelStateExited P", "10<-9 ExecutionSucceeded",
        ])
    }

    /// The event ids follow AWS's recorded histories: a MapIterationStarted follows the last
    /// event of the iteration before it (not its MapIterationSucceeded), and a state's Exited
    /// event follows what its Succeeded event follows.
    @Test func mapIteratesItemsWithItemSelector() {
        let (d, events) = run(#"{"M":{"Type":"Map","ItemsPath":"$.items","MaxConcurrency":2,"#
            + #""ItemSelector":{"v.$":"$$.Map.Item.Value","i.$":"$$.Map.Item.Index","k.$":"$.k"},"#
            + #""ItemProcessor":{"ProcessorConfig":{"Mode":"INLINE"},"StartAt":"X","States":{"X":{"Type":"Pass","End":true}}},"End":true}}"#,
            startAt: "M", input: #"{"items":["a","b"],"k":7}"#)
        #expect(d["output"] == .string(#"[{"v":"a","i":0,"k":7},{"v":"b","i":1,"k":7}]"#))
        #expect(events == [
            "1<-0 ExecutionStarted", "2<-0 MapStateEntered M", "3<-2 MapStateStarted",
            "4<-3 MapIterationStarted M#0", "5<-4 PassStateEntered X", "6<-5 PassStateExited X", "7<-6 MapIterationSucceeded M#0",
            "8<-6 MapIterationStarted M#1", "9<-8 PassStateEntered X", "10<-9 PassStateExited X", "11<-10 MapIterationSucceeded M#1",
            "12<-11 MapStateSucceeded", "13<-11 MapStateExited M", "14<-13 ExecutionSucceeded",
        ])
        // The legacy Iterator/Parameters spelling, and a Map without a selector.
        let (legacy, _) = run(#"{"M":{"Type":"Map","Parameters":{"n.$":"$$.Map.Item.Value"},"Iterator":{"StartAt":"X","States":{"X":{"Type":"Pass","End":true}}},"End":true}}"#,
                              startAt: "M", input: "[1,2]")
        #expect(legacy["output"] == .string(#"[{"n":1},{"n":2}]"#))
        let (plain, _) = run(#"{"M":{"Type":"Map","ItemProcessor":{"StartAt":"X","States":{"X":{"Type":"Pass","Result":0,"End":true}}},"End":true}}"#,
                             startAt: "M", input: "[]")
        #expect(plain["output"] == .string("[]"))
    }

    @Test func aFailingBranchFailsTheStateThroughItsCatch() {
        let failing = #"{"StartAt":"F","States":{"F":{"Type":"Fail","Error":"Branch.Broke","Cause":"why"}}}"#
        let ok = #"{"StartAt":"A","States":{"A":{"Type":"Pass","End":true}}}"#
        let (d, events) = run(#"{"P":{"Type":"Parallel","Branches":[\#(ok),\#(failing)],"End":true}}"#, input: "{}")
        #expect(d["status"] == .string("FAILED"))
        #expect(d["error"] == .string("Branch.Broke"))
        #expect(d["cause"] == .string("why"))
        #expect(events.suffix(3) == ["6<-3 FailStateEntered F", "7<-6 ParallelStateFailed", "8<-7 ExecutionFailed"])
        let (caught, _) = run(#"{"P":{"Type":"Parallel","Branches":[\#(failing)],"Catch":[{"ErrorEquals":["Branch.Broke"],"ResultPath":"$.e","Next":"S"}],"Next":"S"},"S":{"Type":"Succeed"}}"#,
                              input: #"{"a":1}"#)
        #expect(caught["output"] == .string(#"{"a":1,"e":{"Error":"Branch.Broke","Cause":"why"}}"#))
    }

    /// The shape of a caught Map failure as AWS recorded it (LocalStack's test_map_state_catch
    /// snapshot): MapIterationFailed and MapStateFailed both follow the iteration's last event,
    /// and the Exited event follows MapStateFailed.
    @Test func aCaughtMapFailureFollowsAWSsEventChain() {
        let (d, events) = run(#"{"M":{"Type":"Map","ItemProcessor":{"StartAt":"F","States":{"F":{"Type":"Fail","Error":"E","Cause":"C"}}},"#
            + #""Catch":[{"ErrorEquals":["States.ALL"],"Next":"Caught"}],"Next":"Caught"},"Caught":{"Type":"Pass","End":true}}"#,
            startAt: "M", input: "[1]")
        #expect(d["output"] == .string(#"{"Error":"E","Cause":"C"}"#))
        #expect(events == [
            "1<-0 ExecutionStarted", "2<-0 MapStateEntered M", "3<-2 MapStateStarted", "4<-3 MapIterationStarted M#0",
            "5<-4 FailStateEntered F", "6<-5 MapIterationFailed M#0", "7<-5 MapStateFailed", "8<-7 MapStateExited M",
            "9<-8 PassStateEntered Caught", "10<-9 PassStateExited Caught", "11<-10 ExecutionSucceeded",
        ])
    }

    @Test func mapRetriesAndThenFailsWithTheIterationsError() {
        let e = Fixture.engine(["m": #"{"StartAt":"M","States":{"M":{"Type":"Map","ItemProcessor":{"StartAt":"F","States":{"F":{"Type":"Fail","Error":"It.Failed"}}},"#
            + #""Retry":[{"ErrorEquals":["It.Failed"],"IntervalSeconds":3,"MaxAttempts":1}],"End":true}}}"#])
        _ = e.call("StartExecution", #"{"stateMachineArn":"\#(Fixture.smPrefix)m","name":"r","input":"[1]"}"#)
        e.runPending(now: Fixture.now)
        #expect(e.nextWakeTime == Fixture.now + 3)
        e.runPending(now: Fixture.now + 3)
        let d = Fixture.json(e.call("DescribeExecution", #"{"executionArn":"\#(Fixture.execPrefix)m:r"}"#).body)
        #expect(d["error"] == .string("It.Failed"))
        let h = Fixture.json(e.call("GetExecutionHistory", #"{"executionArn":"\#(Fixture.execPrefix)m:r"}"#).body)
        #expect(h["events"]?.arrayValue?.filter { $0["type"] == .string("MapStateStarted") }.count == 2)
    }

    @Test func nestingAndRuntimeFaults() {
        let (d, _) = run(#"{"M":{"Type":"Map","ItemProcessor":{"StartAt":"P","States":{"P":{"Type":"Parallel","Branches":["#
            + #"{"StartAt":"A","States":{"A":{"Type":"Pass","Parameters":{"x.$":"States.MathAdd($, 1)"},"End":true}}}]"#
            + #","End":true}}},"End":true}}"#, startAt: "M", input: "[1,2]")
        #expect(d["output"] == .string(#"[[{"x":2}],[{"x":3}]]"#))
        let (bad, _) = run(#"{"M":{"Type":"Map","ItemsPath":"$.n","ItemProcessor":{"StartAt":"X","States":{"X":{"Type":"Pass","End":true}}},"End":true}}"#,
                           startAt: "M", input: #"{"n":5}"#)
        #expect(bad["error"] == .string("States.Runtime"))
        #expect(bad["cause"] == .string("An error occurred while executing the state 'M' (entered at the event id #2). Item list must be an array; ItemsPath selected number 5"))
    }

    /// Review findings: a fault of the data flow inside a branch ends the execution (an outer
    /// Catch does not take it), and a failing ItemSelector writes no iteration start.
    @Test func dataFlowFaultsInsideAreTerminal() {
        let (d, _) = run(#"{"P":{"Type":"Parallel","Branches":[{"StartAt":"A","States":{"A":{"Type":"Pass","#
            + #""Parameters":{"x.$":"States.ArrayGetItem($.l, 5)"},"End":true}}}],"#
            + #""Catch":[{"ErrorEquals":["States.ALL"],"Next":"S"}],"Next":"S"},"S":{"Type":"Succeed"}}"#, input: #"{"l":[1]}"#)
        #expect(d["status"] == .string("FAILED"))
        #expect(d["error"] == .string("States.IntrinsicFailure"))
        let (m, events) = run(#"{"M":{"Type":"Map","ItemSelector":{"x.$":"$.missing"},"ItemProcessor":{"StartAt":"X","States":{"X":{"Type":"Pass","End":true}}},"End":true}}"#,
                              startAt: "M", input: "[1]")
        #expect(m["error"] == .string("States.Runtime"))
        #expect(events.suffix(3) == ["3<-2 MapStateStarted", "4<-3 MapStateFailed", "5<-4 ExecutionFailed"])
    }

    @Test(arguments: [
        (#"{"Type":"Parallel","Branches":[],"End":true}"#,
         "SCHEMA_VALIDATION_FAILED: The value for the field 'Branches' must be a non-empty ARRAY at /States/P/Branches"),
        (#"{"Type":"Parallel","Branches":[{"StartAt":"Nope","States":{"A":{"Type":"Pass","End":true}}}],"End":true}"#,
         "MISSING_TRANSITION_TARGET: Missing 'StartAt' target: Nope at /States/P/Branches/0/StartAt"),
        (#"{"Type":"Map","End":true}"#,
         "SCHEMA_VALIDATION_FAILED: The value for the field 'Iterator' must be an OBJECT with StartAt and States at /States/P/Iterator"),
        (#"{"Type":"Map","ItemProcessor":{"ProcessorConfig":{"Mode":"DISTRIBUTED"},"StartAt":"A","States":{"A":{"Type":"Pass","End":true}}},"End":true}"#,
         "UNSUPPORTED_FEATURE: Only INLINE Map states are supported by the embedded engine at /States/P/ItemProcessor/ProcessorConfig"),
        (#"{"Type":"Map","MaxConcurrency":-1,"ItemProcessor":{"StartAt":"A","States":{"A":{"Type":"Pass","End":true}}},"End":true}"#,
         "SCHEMA_VALIDATION_FAILED: The value for the field 'MaxConcurrency' must be a non-negative INTEGER at /States/P/MaxConcurrency"),
    ])
    func refusedAtRegistration(state: String, message: String) {
        let engine = WorkflowEngine(region: Fixture.region, accountId: Fixture.account)
        do {
            try engine.register(name: "m", definition: Fixture.json(#"{"StartAt":"P","States":{"P":\#(state)}}"#), roleArn: nil)
            Issue.record("accepted \(state)")
        } catch {
            #expect(error.message == message)
        }
    }
}
