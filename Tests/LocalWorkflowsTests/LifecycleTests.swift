import GatehouseJSON
@testable import LocalWorkflows
import Testing

/// UpdateStateMachine, DeleteStateMachine and StopExecution.
@Suite struct LifecycleTests {
    static let waitOne = #"{"StartAt":"W","States":{"W":{"Type":"Wait","Seconds":60,"End":true}}}"#
    static let passX = #"{"StartAt":"P","States":{"P":{"Type":"Pass","Result":"x","End":true}}}"#

    func start(_ e: WorkflowEngine, _ machine: String, _ name: String) {
        let r = e.call("StartExecution", #"{"stateMachineArn":"\#(Fixture.smPrefix)\#(machine)","name":"\#(name)"}"#)
        precondition(r.status == 200, r.body)
    }

    func describe(_ e: WorkflowEngine, _ machine: String, _ name: String) -> JSONValue {
        Fixture.json(e.call("DescribeExecution", #"{"executionArn":"\#(Fixture.execPrefix)\#(machine):\#(name)"}"#).body)
    }

    @Test func updateChangesNewExecutionsOnly() {
        let e = Fixture.engine(["m": Self.waitOne])
        start(e, "m", "old")
        e.runPending(now: Fixture.now)
        let r = e.call("UpdateStateMachine", #"{"stateMachineArn":"\#(Fixture.smPrefix)m","definition":\#(JSONValue.quoted(Self.passX))}"#,
                       now: Fixture.now + 1)
        #expect(r.status == 200)
        #expect(r.body == #"{"updateDate":1.486772645911E9}"#)
        start(e, "m", "new")
        e.runPending(now: Fixture.now + 2)
        #expect(describe(e, "m", "new")["output"] == .string(#""x""#))
        #expect(describe(e, "m", "old")["status"] == .string("RUNNING"))   // still in its Wait
        e.runPending(now: Fixture.now + 60)
        #expect(describe(e, "m", "old")["status"] == .string("SUCCEEDED"))
        let d = Fixture.json(e.call("DescribeStateMachine", #"{"stateMachineArn":"\#(Fixture.smPrefix)m"}"#).body)
        #expect(d["definition"] == .string(Fixture.json(Self.passX).jsonText))
    }

    @Test(arguments: [
        (#"{"stateMachineArn":"\#(Fixture.smPrefix)m"}"#,
         #"{"__type":"com.amazonaws.swf.service.v2.model#MissingRequiredParameter","message":"Either the definition, the role ARN, the LoggingConfiguration, or the TracingConfiguration must be specified"}"#),
        (#"{"stateMachineArn":"\#(Fixture.smPrefix)m","definition":"{\"StartAt\":\"Nope\",\"States\":{}}"}"#,
         #"{"__type":"com.amazonaws.swf.service.v2.model#InvalidDefinition","message":"Invalid State Machine Definition: 'MISSING_TRANSITION_TARGET: Missing 'StartAt' target: Nope at /StartAt'"}"#),
        (#"{"stateMachineArn":"\#(Fixture.smPrefix)gone","roleArn":"arn:aws:iam::1:role/r"}"#,
         #"{"__type":"com.amazonaws.swf.service.v2.model#StateMachineDoesNotExist","message":"State Machine Does Not Exist: 'arn:aws:states:us-east-1:123456789012:stateMachine:gone'"}"#),
        (#"{"stateMachineArn":"\#(Fixture.smPrefix)m","roleArn":"role"}"#,
         #"{"__type":"com.amazonaws.swf.service.v2.model#InvalidArn","message":"Invalid Arn: 'Invalid ARN prefix: role'"}"#),
    ])
    func updateRefusals(body: String, expected: String) {
        let e = Fixture.engine(["m": Self.passX])
        let r = e.call("UpdateStateMachine", body)
        #expect(r.status == 400)
        #expect(r.body == expected)
    }

    @Test func deleteKeepsExecutionsReadableAndListingStable() {
        let e = Fixture.engine(["a": Self.passX, "b": Self.passX, "c": Self.passX])
        start(e, "b", "r")
        e.runPending(now: Fixture.now)
        let first = Fixture.json(e.call("ListStateMachines", #"{"maxResults":1}"#).body)
        #expect(first["stateMachines"]?.arrayValue?.first?["name"] == .string("a"))
        #expect(e.call("DeleteStateMachine", #"{"stateMachineArn":"\#(Fixture.smPrefix)b"}"#).body == "{}")
        // The next page after "a" is "c": the deleted machine neither appears nor shifts it.
        let token = first["nextToken"]?.stringValue ?? ""
        let second = Fixture.json(e.call("ListStateMachines", #"{"maxResults":1,"nextToken":"\#(token)"}"#).body)
        #expect(second["stateMachines"]?.arrayValue?.map { $0["name"] } == [.string("c")])
        #expect(second["nextToken"] == nil)
        #expect(describe(e, "b", "r")["status"] == .string("SUCCEEDED"))
        #expect(e.call("DescribeStateMachine", #"{"stateMachineArn":"\#(Fixture.smPrefix)b"}"#).body.contains("StateMachineDoesNotExist"))
        // Deleting again succeeds; a machine of the same name can be created anew.
        #expect(e.call("DeleteStateMachine", #"{"stateMachineArn":"\#(Fixture.smPrefix)b"}"#).status == 200)
        let created = e.call("CreateStateMachine", #"{"name":"b","roleArn":"arn:aws:iam::123456789012:role/sfn","definition":\#(JSONValue.quoted(Self.passX))}"#)
        #expect(created.status == 200)
    }

    @Test func stopAbortsARunningExecution() {
        let e = Fixture.engine(["m": Self.waitOne])
        start(e, "m", "r")
        e.runPending(now: Fixture.now)
        let r = e.call("StopExecution", #"{"executionArn":"\#(Fixture.execPrefix)m:r","error":"Op.Cancel","cause":"user asked"}"#, now: Fixture.now + 3)
        #expect(r.body == #"{"stopDate":1.486772647911E9}"#)
        let d = describe(e, "m", "r")
        #expect(d["status"] == .string("ABORTED"))
        #expect(d["error"] == .string("Op.Cancel"))
        #expect(d["cause"] == .string("user asked"))
        #expect(e.nextWakeTime == nil)
        let h = Fixture.json(e.call("GetExecutionHistory", #"{"executionArn":"\#(Fixture.execPrefix)m:r"}"#).body)
        let last = h["events"]?.arrayValue?.last
        #expect(last?["type"] == .string("ExecutionAborted"))
        #expect(last?["previousEventId"] == .int(2))
        #expect(last?["executionAbortedEventDetails"] == .object(JSONObject([("error", .string("Op.Cancel")), ("cause", .string("user asked"))])))
        // The wait's end no longer moves it; stopping again changes nothing.
        e.runPending(now: Fixture.now + 100)
        #expect(describe(e, "m", "r")["status"] == .string("ABORTED"))
        #expect(e.call("StopExecution", #"{"executionArn":"\#(Fixture.execPrefix)m:r"}"#, now: Fixture.now + 200).body == #"{"stopDate":1.486772647911E9}"#)
        let listed = Fixture.json(e.call("ListExecutions", #"{"stateMachineArn":"\#(Fixture.smPrefix)m","statusFilter":"ABORTED"}"#).body)
        #expect(listed["executions"]?.arrayValue?.count == 1)
    }

    /// A pass advances at most `passLimit` executions; the rest go in the next one, due at once.
    @Test func passesAreBounded() {
        let e = Fixture.engine(["m": Self.passX])
        e.passLimit = 3
        for i in 0..<10 { start(e, "m", "r\(i)") }
        var passes = 0
        while Fixture.json(e.call("ListExecutions", #"{"stateMachineArn":"\#(Fixture.smPrefix)m","statusFilter":"RUNNING"}"#).body)["executions"]?
            .arrayValue?.isEmpty == false {
            #expect(e.nextWakeTime == -Double.infinity)
            e.runPending(now: Fixture.now)
            passes += 1
        }
        #expect(passes == 4)
        #expect(e.nextWakeTime == nil)
    }
}
