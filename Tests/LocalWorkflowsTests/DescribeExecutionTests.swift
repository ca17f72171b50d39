import GatehouseJSON
import LocalWorkflows
import Testing

@Suite struct DescribeExecutionTests {
    static let model = "com.amazonaws.swf.service.v2.model#"
    static let definitions = [
        "hello": #"{"StartAt":"P","States":{"P":{"Type":"Pass","Result":{"greeting":"hi"},"ResultPath":"$.said","Next":"Done"},"Done":{"Type":"Succeed"}}}"#,
        "broken": #"{"StartAt":"F","States":{"F":{"Type":"Fail","Error":"Custom.Broken","Cause":"it broke"}}}"#,
        "silent": #"{"StartAt":"F","States":{"F":{"Type":"Fail"}}}"#,
    ]

    func started(_ machine: String, input: String = #"{\"n\":1}"#) -> WorkflowEngine {
        let engine = Fixture.engine(Self.definitions)
        let reply = engine.call("StartExecution", #"{"stateMachineArn":"\#(Fixture.smPrefix)\#(machine)","name":"e1","input":"\#(input)"}"#)
        precondition(reply.status == 200, reply.body)
        return engine
    }

    @Test func runningExecutionHasNoStopDateOrOutput() {
        let engine = started("hello")
        let reply = engine.call("DescribeExecution", #"{"executionArn":"\#(Fixture.execPrefix)hello:e1"}"#)
        #expect(reply.status == 200)
        #expect(reply.body == #"{"executionArn":"\#(Fixture.execPrefix)hello:e1","stateMachineArn":"\#(Fixture.smPrefix)hello","name":"e1","status":"RUNNING","startDate":1.486772644911E9,"input":"{\"n\":1}","inputDetails":{"included":true}}"#)
    }

    @Test func succeededExecutionReportsOutputAndStopDate() {
        let engine = started("hello")
        engine.runPending(now: 1_764_061_200.0)
        let reply = engine.call("DescribeExecution", #"{"executionArn":"\#(Fixture.execPrefix)hello:e1"}"#)
        #expect(reply.status == 200)
        #expect(reply.body == #"{"executionArn":"\#(Fixture.execPrefix)hello:e1","stateMachineArn":"\#(Fixture.smPrefix)hello","name":"e1","status":"SUCCEEDED","startDate":1.486772644911E9,"stopDate":1.7640612E9,"input":"{\"n\":1}","inputDetails":{"included":true},"output":"{\"n\":1,\"said\":{\"greeting\":\"hi\"}}","outputDetails":{"included":true}}"#)
    }

    @Test func failedExecutionReportsErrorAndCause() {
        let engine = started("broken")
        engine.runPending(now: Fixture.now + 0.089)
        let reply = engine.call("DescribeExecution", #"{"executionArn":"\#(Fixture.execPrefix)broken:e1"}"#)
        #expect(reply.body == #"{"executionArn":"\#(Fixture.execPrefix)broken:e1","stateMachineArn":"\#(Fixture.smPrefix)broken","name":"e1","status":"FAILED","startDate":1.486772644911E9,"stopDate":1.486772645E9,"input":"{\"n\":1}","inputDetails":{"included":true},"error":"Custom.Broken","cause":"it broke"}"#)
    }

    @Test func failStateWithoutErrorOrCauseOmitsBoth() {
        let engine = started("silent")
        engine.runPending(now: Fixture.now)
        let reply = engine.call("DescribeExecution", #"{"executionArn":"\#(Fixture.execPrefix)silent:e1"}"#)
        #expect(reply.body == #"{"executionArn":"\#(Fixture.execPrefix)silent:e1","stateMachineArn":"\#(Fixture.smPrefix)silent","name":"e1","status":"FAILED","startDate":1.486772644911E9,"stopDate":1.486772644911E9,"input":"{\"n\":1}","inputDetails":{"included":true}}"#)
    }

    @Test(arguments: [
        (#"{}"#,
         #"{"__type":"com.amazon.coral.validate#ValidationException","message":"1 validation error detected: Value null at 'executionArn' failed to satisfy constraint: Member must not be null"}"#),
        (#"{"executionArn":"nope"}"#,
         #"{"__type":"\#(model)InvalidArn","message":"Invalid Arn: 'Invalid ARN prefix: nope'"}"#),
        (#"{"executionArn":"\#(Fixture.smPrefix)hello"}"#,
         #"{"__type":"\#(model)InvalidArn","message":"Invalid Arn: 'Resource type not valid in this context: stateMachine'"}"#),
        (#"{"executionArn":"\#(Fixture.execPrefix)hello:nobody"}"#,
         #"{"__type":"\#(model)ExecutionDoesNotExist","message":"Execution Does Not Exist: '\#(Fixture.execPrefix)hello:nobody'"}"#),
        (#"{"executionArn":"\#(Fixture.execPrefix)ghost:e1"}"#,
         #"{"__type":"\#(model)ExecutionDoesNotExist","message":"Execution Does Not Exist: '\#(Fixture.execPrefix)ghost:e1'"}"#),
    ])
    func refusals(request: String, expected: String) {
        let reply = started("hello").call("DescribeExecution", request)
        #expect(reply.status == 400)
        #expect(reply.body == expected)
    }
}
