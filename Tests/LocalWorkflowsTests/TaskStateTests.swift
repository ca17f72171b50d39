import GatehouseJSON
@testable import LocalWorkflows
import Testing

/// Task states: the engine hands each call to its host (`takeTaskRequests`) and goes on when the
/// host reports it (`completeTask`); Retry, Catch and TimeoutSeconds act on the reported errors.
@Suite struct TaskStateTests {
    static let invoke = "arn:aws:states:::apigateway:invoke"
    let t0 = Fixture.now

    func engine(_ states: String, startAt: String = "T") -> WorkflowEngine {
        Fixture.engine(["m": #"{"StartAt":"\#(startAt)","States":\#(states)}"#])
    }

    func start(_ e: WorkflowEngine, _ input: String) {
        let r = e.call("StartExecution", #"{"stateMachineArn":"\#(Fixture.smPrefix)m","name":"run","input":\#(JSONValue.quoted(input))}"#)
        precondition(r.status == 200, r.body)
    }

    func describe(_ e: WorkflowEngine) -> JSONValue {
        Fixture.json(e.call("DescribeExecution", #"{"executionArn":"\#(Fixture.execPrefix)m:run"}"#).body)
    }

    func types(_ e: WorkflowEngine) -> [String] {
        let h = Fixture.json(e.call("GetExecutionHistory", #"{"executionArn":"\#(Fixture.execPrefix)m:run","maxResults":1000}"#).body)
        return h["events"]?.arrayValue?.compactMap { $0["type"]?.stringValue } ?? []
    }

    @Test func callThenResultSelectorResultPathOutputPath() throws {
        let e = engine(#"{"T":{"Type":"Task","Resource":"\#(Self.invoke)","Parameters":{"ApiEndpoint.$":"$.url","Method":"GET"},"#
            + #""ResultSelector":{"code.$":"$.StatusCode"},"ResultPath":"$.r","OutputPath":"$.r","End":true}}"#)
        start(e, #"{"url":"abc.execute-api.us-east-1.amazonaws.com"}"#)
        e.runPending(now: t0)
        #expect(describe(e)["status"] == .string("RUNNING"))
        let requests = e.takeTaskRequests(now: t0 + 0.5)
        let r = try #require(requests.first)
        #expect(requests.count == 1)
        #expect(r.resource == Self.invoke)
        #expect(r.parameters == Fixture.json(#"{"ApiEndpoint":"abc.execute-api.us-east-1.amazonaws.com","Method":"GET"}"#))
        #expect(r.stateMachineArn == Fixture.smPrefix + "m")
        #expect(r.roleArn == "arn:aws:iam::123456789012:role/sfn")
        #expect(e.takeTaskRequests(now: t0 + 0.6).isEmpty)           // handed out once
        e.completeTask(executionArn: r.executionArn, taskId: r.taskId, result: .success(Fixture.json(#"{"StatusCode":200,"ResponseBody":{}}"#)), now: t0 + 1)
        e.runPending(now: t0 + 1)
        #expect(describe(e)["output"] == .string(#"{"code":200}"#))
        #expect(types(e) == ["ExecutionStarted", "TaskStateEntered", "TaskScheduled", "TaskStarted", "TaskSucceeded", "TaskStateExited", "ExecutionSucceeded"])
        let h = Fixture.json(e.call("GetExecutionHistory", #"{"executionArn":"\#(Fixture.execPrefix)m:run"}"#).body)
        let scheduled = h["events"]?.arrayValue?[2]["taskScheduledEventDetails"]
        #expect(scheduled?["resourceType"] == .string("apigateway"))
        #expect(scheduled?["resource"] == .string("invoke"))
        #expect(scheduled?["region"] == .string("us-east-1"))
        #expect(scheduled?["parameters"] == .string(#"{"ApiEndpoint":"abc.execute-api.us-east-1.amazonaws.com","Method":"GET"}"#))
    }

    @Test func retriesWithBackoffThenCatches() throws {
        let e = engine(#"{"T":{"Type":"Task","Resource":"\#(Self.invoke)","Parameters":{"try.$":"$$.State.RetryCount"},"#
            + #""Retry":[{"ErrorEquals":["ApiGateway.500"],"IntervalSeconds":2,"MaxAttempts":2,"BackoffRate":3}],"#
            + #""Catch":[{"ErrorEquals":["States.ALL"],"ResultPath":"$.error","Next":"Handled"}],"End":true},"#
            + #""Handled":{"Type":"Pass","End":true}}"#)
        start(e, #"{"a":1}"#)
        var now = t0
        e.runPending(now: now)
        var seen: [JSONValue] = []
        for delay in [2.0, 6.0, nil] {
            let r = try #require(e.takeTaskRequests(now: now).first)
            seen.append(r.parameters)
            e.completeTask(executionArn: r.executionArn, taskId: r.taskId, result: .failure(error: "ApiGateway.500", cause: "boom"), now: now)
            e.runPending(now: now)
            guard let delay else { break }
            #expect(e.nextWakeTime == now + delay)
            #expect(e.takeTaskRequests(now: now).isEmpty)    // nothing before the delay is over
            now += delay
            e.runPending(now: now)
        }
        #expect(seen == [Fixture.json(#"{"try":0}"#), Fixture.json(#"{"try":1}"#), Fixture.json(#"{"try":2}"#)])
        let d = describe(e)
        #expect(d["status"] == .string("SUCCEEDED"))
        #expect(d["output"] == .string(#"{"a":1,"error":{"Error":"ApiGateway.500","Cause":"boom"}}"#))
        #expect(types(e).filter { $0 == "TaskFailed" }.count == 3)
    }

    /// `$$.State.EnteredTime` is when the state was entered, in ResultSelector too.
    @Test func enteredTimeIsTheStatesEntry() throws {
        let e = engine(#"{"T":{"Type":"Task","Resource":"\#(Self.invoke)","Parameters":{"at.$":"$$.State.EnteredTime"},"#
            + #""ResultSelector":{"at.$":"$$.State.EnteredTime"},"End":true}}"#)
        start(e, "{}")
        e.runPending(now: t0)
        let r = try #require(e.takeTaskRequests(now: t0).first)
        e.completeTask(executionArn: r.executionArn, taskId: r.taskId, result: .success(.int(1)), now: t0 + 100)
        #expect(Fixture.json(describe(e)["output"]?.stringValue ?? "") == .object(JSONObject([("at", r.parameters["at"] ?? .null)])))
    }

    @Test func anUnhandledErrorFailsTheExecutionWithIt() throws {
        let e = engine(#"{"T":{"Type":"Task","Resource":"\#(Self.invoke)","Retry":[{"ErrorEquals":["ApiGateway.500"]}],"End":true}}"#)
        start(e, "{}")
        e.runPending(now: t0)
        let r = try #require(e.takeTaskRequests(now: t0).first)
        e.completeTask(executionArn: r.executionArn, taskId: r.taskId, result: .failure(error: "ApiGateway.403", cause: #"{"Message":"denied"}"#), now: t0 + 1)
        let d = describe(e)
        #expect(d["status"] == .string("FAILED"))
        #expect(d["error"] == .string("ApiGateway.403"))
        #expect(d["cause"] == .string(#"{"Message":"denied"}"#))
        #expect(types(e).suffix(2) == ["TaskFailed", "ExecutionFailed"])
    }

    @Test func timeoutIsNotATaskFailedAndLateAnswersAreIgnored() throws {
        for (catchNames, expected) in [(#"["States.TaskFailed"]"#, "FAILED"), (#"["States.Timeout"]"#, "SUCCEEDED")] {
            let e = engine(#"{"T":{"Type":"Task","Resource":"\#(Self.invoke)","TimeoutSeconds":5,"#
                + #""Catch":[{"ErrorEquals":\#(catchNames),"Next":"Handled"}],"End":true},"Handled":{"Type":"Pass","End":true}}"#)
            start(e, "{}")
            e.runPending(now: t0)
            let r = try #require(e.takeTaskRequests(now: t0).first)
            #expect(e.nextWakeTime == t0 + 5)
            e.runPending(now: t0 + 5)
            let d = describe(e)
            #expect(d["status"] == .string(expected))
            if expected == "FAILED" {
                #expect(d["error"] == .string("States.Timeout"))
            } else {
                #expect(d["output"] == .string(#"{"Error":"States.Timeout","Cause":"The task did not complete within 5 seconds."}"#))
            }
            #expect(types(e).contains("TaskTimedOut"))
            // The answer that comes after the timeout changes nothing.
            e.completeTask(executionArn: r.executionArn, taskId: r.taskId, result: .success(.int(1)), now: t0 + 6)
            e.runPending(now: t0 + 6)
            #expect(describe(e)["status"] == .string(expected))
        }
    }

    @Test func jitterAndMaxDelay() {
        let r = Retrier(errorEquals: ["E"], intervalSeconds: 3, maxAttempts: 10, backoffRate: 2, maxDelaySeconds: 20, jitter: .none)
        #expect((0..<5).map { r.delay(attempt: $0, random: 0.5) } == [3, 6, 12, 20, 20])
        // A huge BackoffRate stays within a year (review finding: it overflowed the driver's timer).
        let huge = Retrier(errorEquals: ["E"], intervalSeconds: 1, maxAttempts: 10, backoffRate: 1e20, maxDelaySeconds: nil, jitter: .none)
        #expect(huge.delay(attempt: 3, random: 0) == 31_536_000)
        let full = Retrier(errorEquals: ["E"], intervalSeconds: 3, maxAttempts: 10, backoffRate: 2, maxDelaySeconds: nil, jitter: .full)
        #expect(full.delay(attempt: 2, random: 0.25) == 3)
        #expect(ErrorMatch.matches(["States.TaskFailed"], "ApiGateway.500"))
        #expect(!ErrorMatch.matches(["States.TaskFailed"], "States.Timeout"))
        #expect(ErrorMatch.matches(["States.ALL"], "States.Timeout"))
        // States.Runtime and States.DataLimitExceeded end the execution whatever the catchers say.
        #expect(!ErrorMatch.matches(["States.ALL"], "States.Runtime"))
        #expect(!ErrorMatch.matches(["States.TaskFailed"], "States.DataLimitExceeded"))
        #expect(ErrorMatch.matches(["States.Runtime"], "States.Runtime"))
        #expect(!ErrorMatch.matches(["A"], "B"))
    }

    @Test(arguments: [
        (#"{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:1:function:f","End":true}"#,
         "UNSUPPORTED_FEATURE: Resource 'arn:aws:lambda:us-east-1:1:function:f' is not supported yet by the embedded engine (it runs arn:aws:states:::apigateway:invoke[.waitForTaskToken], states:startExecution[.sync[:2]|.waitForTaskToken] and http:invoke) at /States/T/Resource"),
        (#"{"Type":"Task","End":true}"#, "SCHEMA_VALIDATION_FAILED: These fields are required: [Resource] at /States/T"),
        (#"{"Type":"Task","Resource":"\#(invoke)","Retry":[{"ErrorEquals":["States.ALL"]},{"ErrorEquals":["E"]}],"End":true}"#,
         "SCHEMA_VALIDATION_FAILED: States.ALL must appear alone in ErrorEquals, and only in the last entry at /States/T/Retry/0/ErrorEquals"),
        (#"{"Type":"Task","Resource":"\#(invoke)","Retry":[{"ErrorEquals":["E"],"BackoffRate":0.5}],"End":true}"#,
         "SCHEMA_VALIDATION_FAILED: The value for the field 'BackoffRate' must be a NUMBER of at least 1.0 at /States/T/Retry/0/BackoffRate"),
        (#"{"Type":"Task","Resource":"\#(invoke)","Retry":[{"ErrorEquals":[]}],"End":true}"#,
         "SCHEMA_VALIDATION_FAILED: The value for the field 'ErrorEquals' must be a non-empty ARRAY of STRINGs at /States/T/Retry/0/ErrorEquals"),
        (#"{"Type":"Task","Resource":"\#(invoke)","Catch":[{"ErrorEquals":["E"],"Next":"Nowhere"}],"End":true}"#,
         "MISSING_TRANSITION_TARGET: Missing 'Next' target: Nowhere at /States/T/Catch/0/Next"),
        (#"{"Type":"Task","Resource":"\#(invoke)","TimeoutSeconds":5,"HeartbeatSeconds":5,"End":true}"#,
         "SCHEMA_VALIDATION_FAILED: HeartbeatSeconds must be smaller than TimeoutSeconds at /States/T/HeartbeatSeconds"),
        (#"{"Type":"Task","Resource":"\#(invoke)","TimeoutSeconds":5,"TimeoutSecondsPath":"$.t","End":true}"#,
         "SCHEMA_VALIDATION_FAILED: Only one of 'TimeoutSeconds' or 'TimeoutSecondsPath' can be set at /States/T"),
        (#"{"Type":"Task","Resource":"\#(invoke)","HeartbeatSecondsPath":"$.h[*]","End":true}"#,
         "SCHEMA_VALIDATION_FAILED: The value for the field 'HeartbeatSecondsPath' must be a reference path (one node, no wildcard) at /States/T/HeartbeatSecondsPath"),
        (#"{"Type":"Task","Resource":"\#(invoke)","TimeoutSeconds":0,"End":true}"#,
         "SCHEMA_VALIDATION_FAILED: The value for the field 'TimeoutSeconds' must be an INTEGER from 1 to 99999999 at /States/T/TimeoutSeconds"),
    ])
    func refusedAtRegistration(task: String, message: String) {
        let engine = WorkflowEngine(region: Fixture.region, accountId: Fixture.account)
        do {
            try engine.register(name: "m", definition: Fixture.json(#"{"StartAt":"T","States":{"T":\#(task)}}"#), roleArn: nil)
            Issue.record("accepted \(task)")
        } catch {
            #expect(error.message == message)
        }
    }
    /// 256 KiB is the most a state may pass on (Step Functions' quota): a larger output, or a
    /// larger task result, is `States.DataLimitExceeded` with AWS's text, which States.ALL does
    /// not catch.
    @Test func resultsPastTheQuotaFailWithDataLimitExceeded() throws {
        let big = String(repeating: "x", count: 262_144)
        let pass = Fixture.engine(["m": #"{"StartAt":"P","States":{"P":{"Type":"Pass","Result":"\#(big)","End":true}}}"#])
        let d = pass.runToEnd("m", input: "{}")
        #expect(d["error"] == .string("States.DataLimitExceeded"))
        #expect(d["cause"] == .string("The state/task 'P' returned a result with a size exceeding the maximum number of bytes service limit."))
        // One byte less (the quoted string is two longer than its text) passes.
        let fits = Fixture.engine(["m": #"{"StartAt":"P","States":{"P":{"Type":"Pass","Result":"\#(big.dropLast(2))","End":true}}}"#])
        #expect(fits.runToEnd("m", input: "{}")["status"] == .string("SUCCEEDED"))

        let e = engine(#"{"T":{"Type":"Task","Resource":"\#(Self.invoke)","Catch":[{"ErrorEquals":["States.ALL"],"Next":"C"}],"Next":"C"},"C":{"Type":"Pass","End":true}}"#)
        start(e, "{}")
        e.runPending(now: t0)
        let r = try #require(e.takeTaskRequests(now: t0).first)
        e.completeTask(executionArn: r.executionArn, taskId: r.taskId, result: .success(.string(big)), now: t0 + 1)
        let failed = describe(e)
        #expect(failed["status"] == .string("FAILED"))
        #expect(failed["error"] == .string("States.DataLimitExceeded"))
        #expect(types(e).contains("TaskFailed"))
    }
    /// TimeoutSecondsPath and HeartbeatSecondsPath read the limits from the effective input when
    /// the call is scheduled; a value that is no positive integer fails the state.
    @Test func limitsFromTheInput() throws {
        let e = engine(#"{"T":{"Type":"Task","Resource":"\#(Self.invoke)","InputPath":"$.cfg","TimeoutSecondsPath":"$.limit","End":true}}"#)
        start(e, #"{"cfg":{"limit":7}}"#)
        e.runPending(now: t0)
        _ = e.takeTaskRequests(now: t0)
        #expect(e.nextWakeTime == t0 + 7)
        e.runPending(now: t0 + 7)
        #expect(describe(e)["error"] == .string("States.Timeout"))
        let h = Fixture.json(e.call("GetExecutionHistory", #"{"executionArn":"\#(Fixture.execPrefix)m:run"}"#).body)
        #expect(h["events"]?.arrayValue?[2]["taskScheduledEventDetails"]?["timeoutInSeconds"] == .int(7))

        let beat = engine(#"{"T":{"Type":"Task","Resource":"\#(Self.invoke).waitForTaskToken","HeartbeatSecondsPath":"$.beat","End":true}}"#)
        start(beat, #"{"beat":4}"#)
        beat.runPending(now: t0)
        _ = beat.takeTaskRequests(now: t0)
        #expect(beat.nextWakeTime == t0 + 4)

        let bad = engine(#"{"T":{"Type":"Task","Resource":"\#(Self.invoke)","TimeoutSecondsPath":"$.limit","End":true}}"#)
        start(bad, #"{"limit":"soon"}"#)
        bad.runPending(now: t0)
        #expect(describe(bad)["error"] == .string("States.Runtime"))
        #expect(describe(bad)["cause"]?.stringValue?.hasSuffix(#"The TimeoutSecondsPath parameter must reference a positive integer: $.limit == "soon""#) == true)
    }
}
