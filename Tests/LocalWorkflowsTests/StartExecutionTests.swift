import GatehouseJSON
import LocalWorkflows
import Testing

@Suite struct StartExecutionTests {
    static let sm = Fixture.smPrefix + "hello"
    static let missing = Fixture.smPrefix + "missing"
    static let long = String(repeating: "a", count: 81)
    static let validation = "com.amazon.coral.validate#ValidationException"
    static let model = "com.amazonaws.swf.service.v2.model#"

    /// Every StartExecution refusal, with the exact body the service sends.
    @Test(arguments: [
        (#"{}"#,
         #"{"__type":"\#(validation)","message":"1 validation error detected: Value null at 'stateMachineArn' failed to satisfy constraint: Member must not be null"}"#),
        (#"{"stateMachineArn":null,"name":"\#(long)"}"#,
         #"{"__type":"\#(validation)","message":"2 validation errors detected: Value null at 'stateMachineArn' failed to satisfy constraint: Member must not be null; Value '\#(long)' at 'name' failed to satisfy constraint: Member must have length less than or equal to 80"}"#),
        (#"{"stateMachineArn":"\#(sm)","name":""}"#,
         #"{"__type":"\#(validation)","message":"1 validation error detected: Value '' at 'name' failed to satisfy constraint: Member must have length greater than or equal to 1"}"#),
        // Model constraints come before the state machine lookup.
        (#"{"stateMachineArn":"\#(missing)","name":"\#(long)"}"#,
         #"{"__type":"\#(validation)","message":"1 validation error detected: Value '\#(long)' at 'name' failed to satisfy constraint: Member must have length less than or equal to 80"}"#),
        (#"{"stateMachineArn":"\#(sm)","traceHeader":"é"}"#,
         #"{"__type":"\#(validation)","message":"1 validation error detected: Value 'é' at 'traceHeader' failed to satisfy constraint: Member must satisfy regular expression pattern: \\p{ASCII}*"}"#),
        (#"{"stateMachineArn":5}"#,
         #"{"__type":"com.amazon.coral.service#SerializationException","Message":"NUMBER_VALUE cannot be converted to String"}"#),
        (#"{"stateMachineArn":"\#(sm)","name":true}"#,
         #"{"__type":"com.amazon.coral.service#SerializationException","Message":"TRUE_VALUE cannot be converted to String"}"#),
        (#"{"stateMachineArn":"not-an-arn"}"#,
         #"{"__type":"\#(model)InvalidArn","message":"Invalid Arn: 'Invalid ARN prefix: not-an-arn'"}"#),
        (#"{"stateMachineArn":"\#(Fixture.execPrefix)hello:x"}"#,
         #"{"__type":"\#(model)InvalidArn","message":"Invalid Arn: 'Resource type not valid in this context: execution'"}"#),
        (#"{"stateMachineArn":"arn:aws:lambda:us-east-1:123456789012:function:f"}"#,
         #"{"__type":"\#(model)InvalidArn","message":"Invalid Arn: 'arn:aws:lambda:us-east-1:123456789012:function:f'"}"#),
        (#"{"stateMachineArn":"\#(missing)"}"#,
         #"{"__type":"\#(model)StateMachineDoesNotExist","message":"State Machine Does Not Exist: '\#(missing)'"}"#),
        // Observed on AWS: an unknown state machine is reported before a bad name or input.
        (#"{"stateMachineArn":"\#(missing)","name":"a b","input":"{"}"#,
         #"{"__type":"\#(model)StateMachineDoesNotExist","message":"State Machine Does Not Exist: '\#(missing)'"}"#),
        (#"{"stateMachineArn":"\#(sm)","name":"a b"}"#,
         #"{"__type":"\#(model)InvalidName","message":"Invalid Name: 'a b'"}"#),
        (#"{"stateMachineArn":"\#(sm)","input":"{"}"#,
         #"{"__type":"\#(model)InvalidExecutionInput","message":"Invalid State Machine Execution Input: 'expected a string key at offset 1'"}"#),
        (#"{"stateMachineArn":"\#(sm)","input":""}"#,
         #"{"__type":"\#(model)InvalidExecutionInput","message":"Invalid State Machine Execution Input: 'unexpected end of input at offset 0'"}"#),
    ])
    func refusals(request: String, expected: String) {
        let reply = Fixture.engine().call("StartExecution", request)
        #expect(reply.status == 400)
        #expect(reply.body == expected)
    }

    /// Input is limited to 262,144 UTF-8 bytes; the sensitive value is left out of the message.
    @Test func inputOverTheSizeLimitIsAValidationError() {
        let exactly = "\"" + String(repeating: "é", count: 131_071) + "\""
        let engine = Fixture.engine()
        let fits = engine.call("StartExecution", #"{"stateMachineArn":"\#(Self.sm)","input":\#(JSONValue.quoted(exactly))}"#)
        #expect(fits.status == 200)
        let reply = engine.call("StartExecution", #"{"stateMachineArn":"\#(Self.sm)","input":\#(JSONValue.quoted(exactly + " "))}"#)
        #expect(reply.status == 400)
        #expect(reply.body == #"{"__type":"\#(Self.validation)","message":"1 validation error detected: Value at 'input' failed to satisfy constraint: Member must have size less than or equal to 262144 bytes in UTF-8 encoding"}"#)
    }

    /// The documented name rules: whitespace, brackets, wildcards, specials and control characters.
    @Test(arguments: [
        "a b", "a\tb", "a\u{00A0}b", "<", ">", "{", "}", "[", "]", "?", "*", "\"", "#", "%", "\\", "^", "|",
        "~", "`", "$", "&", ",", ";", ":", "/", "\u{0001}", "\u{001F}", "\u{007F}", "\u{0085}", "\u{009F}",
    ])
    func invalidNames(name: String) {
        let reply = Fixture.engine().call("StartExecution", #"{"stateMachineArn":"\#(Self.sm)","name":\#(JSONValue.quoted(name))}"#)
        #expect(reply.status == 400)
        #expect(reply.body == #"{"__type":"\#(Self.model)InvalidName","message":"# + JSONValue.quoted("Invalid Name: '\(name)'") + "}")
    }

    @Test(arguments: ["run-1", "Run_2.x", "é-ünï", "a(b)", "x@y=z+1", String(repeating: "n", count: 80)])
    func validNames(name: String) {
        let reply = Fixture.engine().call("StartExecution", #"{"stateMachineArn":"\#(Self.sm)","name":\#(JSONValue.quoted(name))}"#)
        #expect(reply.status == 200, "\(reply.body)")
    }

    /// Any JSON text is an acceptable input, not only an object.
    @Test(arguments: ["{}", "[1,2]", "5", "\"text\"", "null", "true", " {\"a\" : 1} "])
    func anyJSONInput(input: String) {
        let reply = Fixture.engine().call("StartExecution", #"{"stateMachineArn":"\#(Self.sm)","input":\#(JSONValue.quoted(input))}"#)
        #expect(reply.status == 200, "\(reply.body)")
    }

    @Test func startAnswersExecutionArnAndJavaStartDate() {
        let reply = Fixture.engine().call("StartExecution", #"{"stateMachineArn":"\#(Self.sm)","name":"run-1","input":"{}"}"#)
        #expect(reply.status == 200)
        #expect(reply.body == #"{"executionArn":"\#(Fixture.execPrefix)hello:run-1","startDate":1.486772644911E9}"#)
    }

    @Test func unnamedExecutionGetsLowercaseUUIDv4AndEmptyObjectInput() throws {
        let engine = Fixture.engine()
        let reply = engine.call("StartExecution", #"{"stateMachineArn":"\#(Self.sm)"}"#)
        let arn = try #require(Fixture.json(reply.body)["executionArn"]?.stringValue)
        let name = String(arn.dropFirst((Fixture.execPrefix + "hello:").count))
        #expect(name.wholeMatch(of: /[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}/) != nil, "\(name)")
        let described = Fixture.json(engine.call("DescribeExecution", #"{"executionArn":"\#(arn)"}"#).body)
        #expect(described["input"] == .string("{}"))
        #expect(described["name"] == .string(name))
    }

    /// StartExecution is idempotent for a Standard workflow while the first execution is open
    /// and the input is identical; a different input, or a closed execution, is refused.
    @Test func duplicateNameIsIdempotentOnlyWhileRunningWithSameInput() {
        let engine = Fixture.engine()
        let request = #"{"stateMachineArn":"\#(Self.sm)","name":"once","input":"{\"a\":1}"}"#
        let first = engine.call("StartExecution", request)
        let again = engine.call("StartExecution", request, now: Fixture.now + 5)
        #expect(first.status == 200)
        #expect(again.status == 200)
        #expect(again.body == first.body)

        let exists = #"{"__type":"\#(Self.model)ExecutionAlreadyExists","message":"Execution Already Exists: '\#(Fixture.execPrefix)hello:once'"}"#
        let otherInput = engine.call("StartExecution", #"{"stateMachineArn":"\#(Self.sm)","name":"once","input":"{\"a\":2}"}"#)
        #expect(otherInput.status == 400)
        #expect(otherInput.body == exists)

        engine.runPending(now: Fixture.now + 6)
        let afterClose = engine.call("StartExecution", request, now: Fixture.now + 7)
        #expect(afterClose.status == 400)
        #expect(afterClose.body == exists)
    }

    @Test func sameNameOnAnotherStateMachineIsADifferentExecution() {
        let engine = Fixture.engine(["hello": Fixture.passDefinition, "other": Fixture.passDefinition])
        #expect(engine.call("StartExecution", #"{"stateMachineArn":"\#(Self.sm)","name":"n"}"#).status == 200)
        let other = engine.call("StartExecution", #"{"stateMachineArn":"\#(Fixture.smPrefix)other","name":"n"}"#)
        #expect(other.body == #"{"executionArn":"\#(Fixture.execPrefix)other:n","startDate":1.486772644911E9}"#)
    }
}

@Suite struct ProtocolTests {
    @Test(arguments: ["{", "[]", "\"text\"", "nul", "{\"a\":}"])
    func malformedBodyIsBareSerializationException(body: String) {
        let reply = Fixture.engine().call("ListStateMachines", body)
        #expect(reply.status == 400)
        #expect(reply.body == #"{"__type":"com.amazon.coral.service#SerializationException"}"#)
    }

    @Test func emptyBodyReadsAsEmptyObject() {
        let reply = Fixture.engine().call("ListStateMachines", "")
        #expect(reply.status == 200)
    }

    @Test(arguments: ["AWSStepFunctions.CreateActivity", "AWSStepFunctions.", "DynamoDB_20120810.ListTables", ""])
    func unknownTargetIsBareUnknownOperationException(target: String) {
        let reply = Fixture.engine().handle(target: target, body: Array("{}".utf8), now: Fixture.now)
        #expect(reply.status == 400)
        #expect(String(decoding: reply.body, as: UTF8.self) == #"{"__type":"com.amazon.coral.service#UnknownOperationException"}"#)
    }
}
