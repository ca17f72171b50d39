import GatehouseJSON
@testable import LocalWorkflows
import Testing

/// The Wait state: an execution stays RUNNING until the wait ends, then goes on. Time is the
/// `now` each call passes, so these run without sleeping.
@Suite struct WaitStateTests {
    static let t0 = Fixture.now

    func engine(_ states: String, startAt: String = "W") -> WorkflowEngine {
        Fixture.engine(["m": #"{"StartAt":"\#(startAt)","States":\#(states)}"#])
    }

    func start(_ engine: WorkflowEngine, input: String, name: String = "run") {
        let r = engine.call("StartExecution", #"{"stateMachineArn":"\#(Fixture.smPrefix)m","name":"\#(name)","input":\#(JSONValue.quoted(input))}"#)
        precondition(r.status == 200, r.body)
    }

    func describe(_ engine: WorkflowEngine, name: String = "run") -> JSONValue {
        Fixture.json(engine.call("DescribeExecution", #"{"executionArn":"\#(Fixture.execPrefix)m:\#(name)"}"#).body)
    }

    @Test func secondsKeepTheExecutionRunningUntilTheyPass() {
        let e = engine(#"{"W":{"Type":"Wait","Seconds":10,"Next":"P"},"P":{"Type":"Pass","Result":"done","End":true}}"#)
        start(e, input: "{}")
        e.runPending(now: Self.t0 + 1)             // enters the Wait at t0+1
        #expect(describe(e)["status"] == .string("RUNNING"))
        #expect(e.nextWakeTime == Self.t0 + 11)
        e.runPending(now: Self.t0 + 10.999)
        #expect(describe(e)["status"] == .string("RUNNING"))
        e.runPending(now: Self.t0 + 11)
        let d = describe(e)
        #expect(d["status"] == .string("SUCCEEDED"))
        #expect(d["output"] == .string(#""done""#))
        #expect(d["stopDate"] == .double(Self.t0 + 11))
        #expect(e.nextWakeTime == nil)
    }

    @Test func pathsAndTimestamps() {
        // SecondsPath reads the effective input (after InputPath); OutputPath applies on leaving.
        let e = engine(#"{"W":{"Type":"Wait","InputPath":"$.cfg","SecondsPath":"$.delay","OutputPath":"$.tag","End":true}}"#)
        start(e, input: #"{"cfg":{"delay":5,"tag":"t"}}"#)
        e.runPending(now: Self.t0)
        #expect(e.nextWakeTime == Self.t0 + 5)
        e.runPending(now: Self.t0 + 5)
        #expect(describe(e)["output"] == .string(#""t""#))

        // A Timestamp already past does not wait at all.
        let past = engine(#"{"W":{"Type":"Wait","Timestamp":"2016-03-14T01:59:00Z","End":true}}"#)
        start(past, input: #"{"a":1}"#)
        past.runPending(now: Self.t0)
        #expect(describe(past)["status"] == .string("SUCCEEDED"))

        // TimestampPath, with an offset and fractions: the wait ends at that instant.
        let at = engine(#"{"W":{"Type":"Wait","TimestampPath":"$.until","End":true}}"#)
        start(at, input: #"{"until":"2017-02-11T01:24:34.911+01:00"}"#)   // t0 + 30 s
        at.runPending(now: Self.t0)
        #expect(at.nextWakeTime == Self.t0 + 30)
        at.runPending(now: Self.t0 + 29)
        #expect(describe(at)["status"] == .string("RUNNING"))
        at.runPending(now: Self.t0 + 30)
        #expect(describe(at)["status"] == .string("SUCCEEDED"))
    }

    /// Several waiting executions wake in order, each at its own time.
    @Test func manyWaitersWakeAtTheirOwnTimes() {
        let e = engine(#"{"W":{"Type":"Wait","SecondsPath":"$.s","End":true}}"#)
        for (i, s) in [30, 10, 20].enumerated() { start(e, input: #"{"s":\#(s)}"#, name: "r\(i)") }
        e.runPending(now: Self.t0)
        #expect(e.nextWakeTime == Self.t0 + 10)
        e.runPending(now: Self.t0 + 20)
        #expect(describe(e, name: "r0")["status"] == .string("RUNNING"))
        #expect(describe(e, name: "r1")["status"] == .string("SUCCEEDED"))
        #expect(describe(e, name: "r2")["status"] == .string("SUCCEEDED"))
        #expect(e.nextWakeTime == Self.t0 + 30)
    }

    @Test(arguments: [
        (#"{"s":-1}"#, "The SecondsPath parameter references a negative value: $.s == -1"),
        (#"{"s":"10"}"#, #"The SecondsPath parameter cannot be parsed as a long value: $.s == "10""#),
        (#"{}"#, "The SecondsPath parameter does not reference an input value: $.s"),
    ])
    func badSecondsPathFailsTheExecution(input: String, cause: String) {
        let e = engine(#"{"W":{"Type":"Wait","SecondsPath":"$.s","End":true}}"#)
        start(e, input: input)
        e.runPending(now: Self.t0)
        let d = describe(e)
        #expect(d["status"] == .string("FAILED"))
        #expect(d["error"] == .string("States.Runtime"))
        #expect(d["cause"] == .string("An error occurred while executing the state 'W' (entered at the event id #2). " + cause))
    }

    @Test func badTimestampPathFailsTheExecution() {
        let e = engine(#"{"W":{"Type":"Wait","TimestampPath":"$.t","End":true}}"#)
        start(e, input: #"{"t":"tomorrow"}"#)
        e.runPending(now: Self.t0)
        #expect(describe(e)["cause"] == .string(#"An error occurred while executing the state 'W' (entered at the event id #2). The TimestampPath parameter does not reference a valid ISO-8601 extended offset date-time format string: $.t == "tomorrow""#))
    }

    @Test(arguments: [
        (#"{"Type":"Wait","End":true}"#, "SCHEMA_VALIDATION_FAILED: A Wait state must have exactly one of 'Seconds', 'Timestamp', 'SecondsPath' or 'TimestampPath' at /States/W"),
        (#"{"Type":"Wait","Seconds":1,"SecondsPath":"$.s","End":true}"#, "SCHEMA_VALIDATION_FAILED: A Wait state must have exactly one of 'Seconds', 'Timestamp', 'SecondsPath' or 'TimestampPath' at /States/W"),
        (#"{"Type":"Wait","Seconds":-1,"End":true}"#, "SCHEMA_VALIDATION_FAILED: The value for the field 'Seconds' must be an INTEGER from 0 to 31536000 at /States/W/Seconds"),
        (#"{"Type":"Wait","Seconds":1.5,"End":true}"#, "SCHEMA_VALIDATION_FAILED: The value for the field 'Seconds' must be an INTEGER from 0 to 31536000 at /States/W/Seconds"),
        (#"{"Type":"Wait","Timestamp":"2016-03-14","End":true}"#, "SCHEMA_VALIDATION_FAILED: The value for the field 'Timestamp' must be a valid RFC3339 timestamp at /States/W/Timestamp"),
        (#"{"Type":"Wait","SecondsPath":5,"End":true}"#, "SCHEMA_VALIDATION_FAILED: The value for the field 'SecondsPath' must be a STRING at /States/W/SecondsPath"),
        (#"{"Type":"Wait","Seconds":1}"#, #"MISSING_TRANSITION_TARGET: State "W" must have either 'Next' or 'End': true at /States/W"#),
    ])
    func refusedAtRegistration(wait: String, message: String) {
        let engine = WorkflowEngine(region: Fixture.region, accountId: Fixture.account)
        do {
            try engine.register(name: "m", definition: Fixture.json(#"{"StartAt":"W","States":{"W":\#(wait)}}"#), roleArn: nil)
            Issue.record("accepted \(wait)")
        } catch {
            #expect(error.message == message)
        }
    }
}

/// The definition's top-level TimeoutSeconds: past it the execution is TIMED_OUT, whatever it
/// was waiting for.
@Suite struct ExecutionTimeoutTests {
    @Test func aLongWaitTimesOut() {
        let e = Fixture.engine(["m": #"{"TimeoutSeconds":5,"StartAt":"W","States":{"W":{"Type":"Wait","Seconds":100,"End":true}}}"#])
        _ = e.call("StartExecution", #"{"stateMachineArn":"\#(Fixture.smPrefix)m","name":"r"}"#)
        e.runPending(now: Fixture.now)
        #expect(e.nextWakeTime == Fixture.now + 5)
        e.runPending(now: Fixture.now + 5)
        let d = Fixture.json(e.call("DescribeExecution", #"{"executionArn":"\#(Fixture.execPrefix)m:r"}"#).body)
        #expect(d["status"] == .string("TIMED_OUT"))
        #expect(d["stopDate"] == .double(Fixture.now + 5))
        let h = Fixture.json(e.call("GetExecutionHistory", #"{"executionArn":"\#(Fixture.execPrefix)m:r"}"#).body)
        #expect(h["events"]?.arrayValue?.last?["type"] == .string("ExecutionTimedOut"))
        #expect(e.nextWakeTime == nil)
    }

    @Test func aTaskThatNeverAnswersTimesOutTheExecution() throws {
        let e = Fixture.engine(["m": #"{"TimeoutSeconds":3,"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:states:::apigateway:invoke","End":true}}}"#])
        _ = e.call("StartExecution", #"{"stateMachineArn":"\#(Fixture.smPrefix)m","name":"r"}"#)
        e.runPending(now: Fixture.now)
        let r = try #require(e.takeTaskRequests(now: Fixture.now).first)
        #expect(e.nextWakeTime == Fixture.now + 3)
        e.runPending(now: Fixture.now + 3)
        e.completeTask(executionArn: r.executionArn, taskId: r.taskId, result: .success(.int(1)), now: Fixture.now + 4)
        e.runPending(now: Fixture.now + 4)
        let d = Fixture.json(e.call("DescribeExecution", #"{"executionArn":"\#(Fixture.execPrefix)m:r"}"#).body)
        #expect(d["status"] == .string("TIMED_OUT"))
    }

    @Test func anInvalidTimeoutIsRefused() {
        let engine = WorkflowEngine(region: Fixture.region, accountId: Fixture.account)
        do {
            try engine.register(name: "m", definition: Fixture.json(#"{"TimeoutSeconds":0,"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}}"#), roleArn: nil)
            Issue.record("accepted")
        } catch {
            #expect(error.message == "SCHEMA_VALIDATION_FAILED: The value for the field 'TimeoutSeconds' must be an INTEGER from 1 to 99999999 at /TimeoutSeconds")
        }
    }
}
