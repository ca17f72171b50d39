import GatehouseJSON
@testable import LocalWorkflows
import Testing

/// The callback pattern (`.waitForTaskToken`) and HeartbeatSeconds: the call carries
/// `$$.Task.Token`, the task waits until SendTaskSuccess or SendTaskFailure names that token,
/// and SendTaskHeartbeat keeps it alive; a missed heartbeat is `States.Timeout`, which Retry and
/// Catch may also call `States.HeartbeatTimeout`.
@Suite struct CallbackTaskTests {
    static let callback = "arn:aws:states:::apigateway:invoke.waitForTaskToken"
    let t0 = Fixture.now

    func engine(_ extra: String = "", next: String = #""End":true"#, more: String = "") -> WorkflowEngine {
        Fixture.engine(["m": #"{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"\#(Self.callback)","#
            + #""Parameters":{"ApiEndpoint":"x.execute-api.us-east-1.amazonaws.com","RequestBody":{"token.$":"$$.Task.Token","in.$":"$"}}"#
            + #"\#(extra),\#(next)}\#(more)}}"#])
    }

    func start(_ e: WorkflowEngine, _ input: String = #"{"k":1}"#) -> TaskRequest {
        let r = e.call("StartExecution", #"{"stateMachineArn":"\#(Fixture.smPrefix)m","name":"run","input":\#(JSONValue.quoted(input))}"#)
        precondition(r.status == 200, r.body)
        e.runPending(now: t0)
        let calls = e.takeTaskRequests(now: t0)
        precondition(calls.count == 1)
        return calls[0]
    }

    func describe(_ e: WorkflowEngine) -> JSONValue {
        Fixture.json(e.call("DescribeExecution", #"{"executionArn":"\#(Fixture.execPrefix)m:run"}"#).body)
    }

    func types(_ e: WorkflowEngine) -> [String] {
        let h = Fixture.json(e.call("GetExecutionHistory", #"{"executionArn":"\#(Fixture.execPrefix)m:run","maxResults":1000}"#).body)
        return h["events"]?.arrayValue?.compactMap { $0["type"]?.stringValue } ?? []
    }

    func send(_ e: WorkflowEngine, _ op: String, _ body: String, at now: Double) -> (status: Int, body: String) {
        let r = e.call(op, body, now: now)
        e.runPending(now: now)
        return r
    }

    @Test func theTokenTravelsWithTheCallAndSendTaskSuccessEndsTheTask() throws {
        let e = engine(#","ResultPath":"$.result""#)
        let call = start(e)
        let token = try #require(call.parameters["RequestBody"]?["token"]?.stringValue)
        #expect(call.token == token)
        #expect(call.isCallback && call.callResource == "arn:aws:states:::apigateway:invoke")
        // The host made the call and the API answered: TaskSubmitted; the task still waits.
        e.taskSubmitted(executionArn: call.executionArn, taskId: call.taskId, output: Fixture.json(#"{"StatusCode":200}"#), now: t0 + 1)
        e.runPending(now: t0 + 1)
        #expect(describe(e)["status"] == .string("RUNNING"))
        let ok = send(e, "SendTaskSuccess", #"{"taskToken":\#(JSONValue.quoted(token)),"output":"{\"approved\":true}"}"#, at: t0 + 5)
        #expect(ok.status == 200)
        #expect(ok.body == "{}")
        let d = describe(e)
        #expect(d["status"] == .string("SUCCEEDED"))
        #expect(d["output"] == .string(#"{"k":1,"result":{"approved":true}}"#))
        #expect(types(e) == ["ExecutionStarted", "TaskStateEntered", "TaskScheduled", "TaskStarted", "TaskSubmitted",
                             "TaskSucceeded", "TaskStateExited", "ExecutionSucceeded"])
        // A token used again: its task is gone.
        let again = e.call("SendTaskSuccess", #"{"taskToken":\#(JSONValue.quoted(token)),"output":"{}"}"#, now: t0 + 6)
        #expect(again.status == 400)
        #expect(again.body == #"{"__type":"com.amazonaws.swf.service.v2.model#TaskTimedOut","message":"Task Timed Out: 'Provided task does not exist anymore'"}"#)
    }

    @Test func sendTaskFailureGoesThroughCatch() throws {
        let e = engine(#","Catch":[{"ErrorEquals":["Review.Rejected"],"ResultPath":"$.why","Next":"Done"}]"#, next: #""Next":"Done""#,
                       more: #","Done":{"Type":"Pass","End":true}"#)
        let call = start(e)
        let r = send(e, "SendTaskFailure", #"{"taskToken":\#(JSONValue.quoted(call.token)),"error":"Review.Rejected","cause":"no"}"#, at: t0 + 2)
        #expect(r.status == 200)
        #expect(describe(e)["output"] == .string(#"{"k":1,"why":{"Error":"Review.Rejected","Cause":"no"}}"#))
        #expect(types(e).contains("TaskFailed"))
    }

    @Test func heartbeatsKeepTheTaskAliveUntilOneIsMissed() throws {
        let e = engine(#","HeartbeatSeconds":10,"TimeoutSeconds":100,"Catch":[{"ErrorEquals":["States.HeartbeatTimeout"],"Next":"Late"}]"#,
                       next: #""Next":"Late""#, more: #","Late":{"Type":"Pass","End":true}"#)
        let call = start(e)
        #expect(e.nextWakeTime == t0 + 10)                       // the first heartbeat is due 10 s after TaskStarted
        #expect(send(e, "SendTaskHeartbeat", #"{"taskToken":\#(JSONValue.quoted(call.token))}"#, at: t0 + 8).status == 200)
        #expect(e.nextWakeTime == t0 + 18)
        e.runPending(now: t0 + 10)
        #expect(describe(e)["status"] == .string("RUNNING"))
        e.runPending(now: t0 + 18)
        let d = describe(e)
        #expect(d["status"] == .string("SUCCEEDED"))
        #expect(d["output"] == .string(#"{"Error":"States.Timeout"}"#))
        let h = Fixture.json(e.call("GetExecutionHistory", #"{"executionArn":"\#(Fixture.execPrefix)m:run"}"#).body)
        let timedOut = try #require(h["events"]?.arrayValue?.first { $0["type"] == .string("TaskTimedOut") })
        #expect(timedOut["taskTimedOutEventDetails"]?["error"] == .string("States.Timeout"))
        #expect(timedOut["taskTimedOutEventDetails"]?["cause"] == nil)
        // The heartbeat of a task that has ended is refused.
        #expect(e.call("SendTaskHeartbeat", #"{"taskToken":\#(JSONValue.quoted(call.token))}"#, now: t0 + 19).body.contains("TaskTimedOut"))
    }

    @Test func aMissedHeartbeatFailsTheExecutionWithStatesTimeout() {
        let e = engine(#","HeartbeatSeconds":5"#)
        _ = start(e)
        e.runPending(now: t0 + 5)
        let d = describe(e)
        #expect(d["status"] == .string("FAILED"))
        #expect(d["error"] == .string("States.Timeout"))
        // States.TaskFailed does not name it (it names no timeout).
        let caught = engine(#","HeartbeatSeconds":5,"Catch":[{"ErrorEquals":["States.TaskFailed"],"Next":"X"}]"#, next: #""Next":"X""#,
                            more: #","X":{"Type":"Pass","End":true}"#)
        _ = start(caught)
        caught.runPending(now: t0 + 5)
        #expect(describe(caught)["status"] == .string("FAILED"))
    }

    /// HeartbeatSeconds on a request-response call is written in TaskScheduled but times
    /// nothing out: nothing can send its heartbeats (TimeoutSeconds still applies).
    @Test func aRequestResponseCallHasNoHeartbeatClock() {
        let e = Fixture.engine(["m": #"{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:states:::apigateway:invoke","#
            + #""HeartbeatSeconds":5,"End":true}}}"#])
        _ = e.call("StartExecution", #"{"stateMachineArn":"\#(Fixture.smPrefix)m","name":"run"}"#)
        e.runPending(now: t0)
        #expect(e.takeTaskRequests(now: t0).count == 1)
        #expect(e.nextWakeTime == nil)
        e.runPending(now: t0 + 60)
        #expect(describe(e)["status"] == .string("RUNNING"))
    }

    @Test(arguments: [
        (#"{}"#, #"{"__type":"com.amazon.coral.validate#ValidationException","message":"2 validation errors detected: Value null at 'taskToken' failed to satisfy constraint: Member must not be null; Value null at 'output' failed to satisfy constraint: Member must not be null"}"#),
        (#"{"taskToken":"not-a-token","output":"{}"}"#, #"{"__type":"com.amazonaws.swf.service.v2.model#InvalidToken","message":"Invalid Token: 'not-a-token'"}"#),
        (#"{"taskToken":"QQ==","output":"{}"}"#, #"{"__type":"com.amazonaws.swf.service.v2.model#InvalidToken","message":"Invalid Token: 'QQ=='"}"#),
    ])
    func refusals(body: String, expected: String) {
        let e = engine()
        let r = e.call("SendTaskSuccess", body)
        #expect(r.status == 400)
        #expect(r.body == expected)
    }

    @Test func outputThatIsNotJSONIsInvalidOutput() {
        let e = engine()
        let call = start(e)
        let r = e.call("SendTaskSuccess", #"{"taskToken":\#(JSONValue.quoted(call.token)),"output":"{nope"}"#, now: t0 + 1)
        #expect(r.status == 400)
        #expect(r.body.hasPrefix(#"{"__type":"com.amazonaws.swf.service.v2.model#InvalidOutput","message":"Invalid Output: "#))
        #expect(describe(e)["status"] == .string("RUNNING"))
    }

    /// Only a callback task takes SendTask*; only its Parameters see `$$.Task.Token`; and an
    /// answer naming another token (an earlier run's call with the same id) changes nothing.
    @Test func tokensBelongToTheirCallAlone() throws {
        let e = Fixture.engine(["m": #"{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:states:::apigateway:invoke","End":true}}}"#])
        _ = e.call("StartExecution", #"{"stateMachineArn":"\#(Fixture.smPrefix)m","name":"run"}"#)
        e.runPending(now: t0)
        let call = try #require(e.takeTaskRequests(now: t0).first)
        let r = e.call("SendTaskSuccess", #"{"taskToken":\#(JSONValue.quoted(call.token)),"output":"{}"}"#, now: t0 + 1)
        #expect(r.body.contains("TaskTimedOut"))
        e.completeTask(executionArn: call.executionArn, taskId: call.taskId, token: "someone else's", result: .success(.int(1)), now: t0 + 1)
        #expect(describe(e)["status"] == .string("RUNNING"))
        e.completeTask(executionArn: call.executionArn, taskId: call.taskId, token: call.token, result: .success(.int(1)), now: t0 + 1)
        #expect(describe(e)["status"] == .string("SUCCEEDED"))

        let asks = Fixture.engine(["m": #"{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:states:::apigateway:invoke","#
            + #""Parameters":{"t.$":"$$.Task.Token"},"End":true}}}"#])
        _ = asks.call("StartExecution", #"{"stateMachineArn":"\#(Fixture.smPrefix)m","name":"run"}"#)
        asks.runPending(now: t0)
        #expect(describe(asks)["status"] == .string("FAILED"))
    }

    @Test func eachMapIterationHasItsOwnToken() throws {
        let e = Fixture.engine(["m": #"{"StartAt":"M","States":{"M":{"Type":"Map","ItemProcessor":{"StartAt":"T","States":{"T":{"Type":"Task","#
            + #""Resource":"\#(Self.callback)","Parameters":{"t.$":"$$.Task.Token"},"End":true}}},"End":true}}}"#])
        _ = e.call("StartExecution", #"{"stateMachineArn":"\#(Fixture.smPrefix)m","name":"run","input":"[1,2,3]"}"#)
        e.runPending(now: t0)
        let calls = e.takeTaskRequests(now: t0)
        #expect(Set(calls.map(\.token)).count == 3)
        for (i, c) in calls.enumerated().reversed() {
            #expect(send(e, "SendTaskSuccess", #"{"taskToken":\#(JSONValue.quoted(c.token)),"output":"\#(i)"}"#, at: t0 + 1).status == 200)
        }
        #expect(describe(e)["output"] == .string("[0,1,2]"))
    }

    @Test func aWaitingCallbackSurvivesARestart() throws {
        let store = MemoryStore()
        let definition = #"{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"\#(Self.callback)","HeartbeatSeconds":50,"End":true}}}"#
        let first = WorkflowEngine(region: Fixture.region, accountId: Fixture.account)
        try first.attach(store)
        try first.register(name: "m", definition: Fixture.json(definition), roleArn: nil, creationDate: t0 - 100)
        _ = first.call("StartExecution", #"{"stateMachineArn":"\#(Fixture.smPrefix)m","name":"run"}"#)
        first.runPending(now: t0)
        let call = try #require(first.takeTaskRequests(now: t0).first)
        first.taskSubmitted(executionArn: call.executionArn, taskId: call.taskId, output: .object(JSONObject()), now: t0 + 1)

        let second = WorkflowEngine(region: Fixture.region, accountId: Fixture.account)
        try second.attach(store)
        second.runPending(now: t0 + 2)
        // The service had taken the call: it is not handed out again (no second TaskStarted), and
        // its heartbeat clock runs on from before.
        #expect(second.takeTaskRequests(now: t0 + 2).isEmpty)
        #expect(second.nextWakeTime == t0 + 50)
        #expect(second.call("SendTaskSuccess", #"{"taskToken":\#(JSONValue.quoted(call.token)),"output":"\"ok\""}"#, now: t0 + 3).status == 200)
        #expect(describe(second)["output"] == .string(#""ok""#))
        #expect(types(second).filter { $0 == "TaskStarted" }.count == 1)
    }
}
