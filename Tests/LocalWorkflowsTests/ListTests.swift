import GatehouseJSON
import LocalWorkflows
import Testing

@Suite struct ListExecutionsTests {
    static let sm = Fixture.smPrefix + "hello"
    static let model = "com.amazonaws.swf.service.v2.model#"
    static let validation = "com.amazon.coral.validate#ValidationException"

    /// `count` executions e0…e(count-1) started a second apart; the oldest `closed` of them
    /// have been run to completion, half a second after the last of those started.
    func engine(executions count: Int, closed: Int = 0) -> WorkflowEngine {
        let engine = Fixture.engine()
        for i in 0..<count {
            if i == closed { engine.runPending(now: Fixture.now + Double(i) - 0.5) }
            let reply = engine.call("StartExecution", #"{"stateMachineArn":"\#(Self.sm)","name":"e\#(i)"}"#, now: Fixture.now + Double(i))
            precondition(reply.status == 200, reply.body)
        }
        return engine
    }

    func names(_ body: String) -> [String] {
        Fixture.json(body)["executions"]?.arrayValue?.compactMap { $0["name"]?.stringValue } ?? []
    }

    @Test func listsNewestFirstWithStopDateOnlyWhenClosed() {
        let reply = engine(executions: 2, closed: 1).call("ListExecutions", #"{"stateMachineArn":"\#(Self.sm)"}"#)
        #expect(reply.status == 200)
        #expect(reply.body == #"{"executions":[{"executionArn":"\#(Fixture.execPrefix)hello:e1","stateMachineArn":"\#(Self.sm)","name":"e1","status":"RUNNING","startDate":1.486772645911E9},{"executionArn":"\#(Fixture.execPrefix)hello:e0","stateMachineArn":"\#(Self.sm)","name":"e0","status":"SUCCEEDED","startDate":1.486772644911E9,"stopDate":1.486772645411E9}]}"#)
    }

    @Test(arguments: [("RUNNING", ["e5", "e4", "e3"]), ("SUCCEEDED", ["e2", "e1", "e0"]), ("FAILED", [])])
    func statusFilterKeepsMatchingExecutions(status: String, expected: [String]) {
        let reply = engine(executions: 6, closed: 3).call("ListExecutions", #"{"stateMachineArn":"\#(Self.sm)","statusFilter":"\#(status)"}"#)
        #expect(names(reply.body) == expected)
    }

    @Test func pagesFollowNextTokenUntilExhausted() throws {
        let engine = engine(executions: 5)
        var seen: [[String]] = []
        var token: String?
        repeat {
            let tokenMember = token.map { #","nextToken":"\#($0)""# } ?? ""
            let reply = engine.call("ListExecutions", #"{"stateMachineArn":"\#(Self.sm)","maxResults":2\#(tokenMember)}"#)
            try #require(reply.status == 200, "\(reply.body)")
            seen.append(names(reply.body))
            token = Fixture.json(reply.body)["nextToken"]?.stringValue
            // An execution started mid-listing must not shift the pages already promised.
            if seen.count == 1 { _ = engine.call("StartExecution", #"{"stateMachineArn":"\#(Self.sm)","name":"late"}"#) }
        } while token != nil
        #expect(seen == [["e4", "e3"], ["e2", "e1"], ["e0"]])
    }

    @Test func exactlyFullPageHasNoNextToken() {
        let reply = engine(executions: 2).call("ListExecutions", #"{"stateMachineArn":"\#(Self.sm)","maxResults":2}"#)
        #expect(Fixture.json(reply.body)["nextToken"] == nil)
        #expect(names(reply.body).count == 2)
    }

    @Test func zeroMaxResultsMeansTheDefaultPageOf100() {
        let engine = engine(executions: 101)
        let reply = engine.call("ListExecutions", #"{"stateMachineArn":"\#(Self.sm)","maxResults":0}"#)
        #expect(names(reply.body).count == 100)
        #expect(Fixture.json(reply.body)["nextToken"] != nil)
    }

    @Test(arguments: [
        (#"{"stateMachineArn":"\#(sm)","maxResults":1001}"#,
         #"{"__type":"\#(validation)","message":"1 validation error detected: Value '1001' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 1000"}"#),
        (#"{"stateMachineArn":"\#(sm)","maxResults":-1,"statusFilter":"DONE"}"#,
         #"{"__type":"\#(validation)","message":"2 validation errors detected: Value 'DONE' at 'statusFilter' failed to satisfy constraint: Member must satisfy enum value set: [RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED, PENDING_REDRIVE]; Value '-1' at 'maxResults' failed to satisfy constraint: Member must have value greater than or equal to 0"}"#),
        (#"{"stateMachineArn":"\#(sm)","maxResults":"2"}"#,
         #"{"__type":"com.amazon.coral.service#SerializationException","Message":"STRING_VALUE cannot be converted to Integer"}"#),
        (#"{"stateMachineArn":"\#(sm)","nextToken":"bogus"}"#,
         #"{"__type":"\#(model)InvalidToken","message":"Invalid Token: 'bogus'"}"#),
        (#"{"stateMachineArn":"\#(Fixture.smPrefix)nope"}"#,
         #"{"__type":"\#(model)StateMachineDoesNotExist","message":"State Machine Does Not Exist: '\#(Fixture.smPrefix)nope'"}"#),
        (#"{"stateMachineArn":"\#(Fixture.execPrefix)hello:e0"}"#,
         #"{"__type":"\#(model)InvalidArn","message":"Invalid Arn: 'Resource type not valid in this context: execution'"}"#),
        (#"{}"#,
         #"{"__type":"\#(validation)","message":"Must provide a StateMachine ARN or a MapRun ARN"}"#),
    ])
    func refusals(request: String, expected: String) {
        let reply = engine(executions: 1).call("ListExecutions", request)
        #expect(reply.status == 400)
        #expect(reply.body == expected)
    }
}

@Suite struct StateMachineReadTests {
    static let model = "com.amazonaws.swf.service.v2.model#"

    @Test func describeStateMachineEchoesTheRegisteredDefinition() {
        let reply = Fixture.engine().call("DescribeStateMachine", #"{"stateMachineArn":"\#(Fixture.smPrefix)hello"}"#)
        #expect(reply.status == 200)
        #expect(reply.body == #"{"stateMachineArn":"\#(Fixture.smPrefix)hello","name":"hello","status":"ACTIVE","definition":\#(JSONValue.quoted(Fixture.passDefinition)),"roleArn":"arn:aws:iam::123456789012:role/sfn","type":"STANDARD","creationDate":1.486772544911E9,"loggingConfiguration":{"level":"OFF","includeExecutionData":false},"tracingConfiguration":{"enabled":false}}"#)
    }

    @Test(arguments: [
        (#"{"stateMachineArn":"\#(Fixture.smPrefix)nope"}"#,
         #"{"__type":"\#(model)StateMachineDoesNotExist","message":"State Machine Does Not Exist: '\#(Fixture.smPrefix)nope'"}"#),
        (#"{"stateMachineArn":"\#(Fixture.smPrefix)hello:1"}"#,
         #"{"__type":"\#(model)StateMachineDoesNotExist","message":"State Machine Does Not Exist: '\#(Fixture.smPrefix)hello:1'"}"#),
        (#"{"stateMachineArn":"hello"}"#,
         #"{"__type":"\#(model)InvalidArn","message":"Invalid Arn: 'Invalid ARN prefix: hello'"}"#),
        (#"{"stateMachineArn":""}"#,
         #"{"__type":"com.amazon.coral.validate#ValidationException","message":"1 validation error detected: Value '' at 'stateMachineArn' failed to satisfy constraint: Member must have length greater than or equal to 1"}"#),
    ])
    func describeStateMachineRefusals(request: String, expected: String) {
        let reply = Fixture.engine().call("DescribeStateMachine", request)
        #expect(reply.status == 400)
        #expect(reply.body == expected)
    }

    @Test func listStateMachinesPagesInRegistrationOrder() throws {
        let engine = Fixture.engine(["a": Fixture.passDefinition, "b": Fixture.passDefinition, "c": Fixture.passDefinition])
        let first = engine.call("ListStateMachines", #"{"maxResults":2}"#)
        let token = try #require(Fixture.json(first.body)["nextToken"]?.stringValue)
        #expect(first.body == #"{"stateMachines":[{"stateMachineArn":"\#(Fixture.smPrefix)a","name":"a","type":"STANDARD","creationDate":1.486772544911E9},{"stateMachineArn":"\#(Fixture.smPrefix)b","name":"b","type":"STANDARD","creationDate":1.486772544911E9}],"nextToken":"\#(token)"}"#)
        let second = engine.call("ListStateMachines", #"{"maxResults":2,"nextToken":"\#(token)"}"#)
        #expect(second.body == #"{"stateMachines":[{"stateMachineArn":"\#(Fixture.smPrefix)c","name":"c","type":"STANDARD","creationDate":1.486772544911E9}]}"#)
        #expect(engine.stateMachineArns == ["a", "b", "c"].map { Fixture.smPrefix + $0 })
    }

    @Test func listStateMachinesRefusesAnotherListingsToken() throws {
        let engine = Fixture.engine()
        for i in 0..<3 { _ = engine.call("StartExecution", #"{"stateMachineArn":"\#(Fixture.smPrefix)hello","name":"x\#(i)"}"#) }
        let page = engine.call("ListExecutions", #"{"stateMachineArn":"\#(Fixture.smPrefix)hello","maxResults":1}"#)
        let token = try #require(Fixture.json(page.body)["nextToken"]?.stringValue)
        let reply = engine.call("ListStateMachines", #"{"nextToken":"\#(token)"}"#)
        #expect(reply.status == 400)
        #expect(reply.body == #"{"__type":"\#(Self.model)InvalidToken","message":"Invalid Token: '\#(token)'"}"#)
    }
}
