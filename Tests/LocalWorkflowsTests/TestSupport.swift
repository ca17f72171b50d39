import GatehouseJSON
import LocalWorkflows

/// Shared fixtures: one account and region, a fixed clock, and calls that read back as text so
/// tests compare whole response bodies byte for byte.
enum Fixture {
    static let region = "us-east-1"
    static let account = "123456789012"
    /// 2017-02-11T00:24:04.911Z, the instant of the StartExecution example in the API reference.
    static let now = 1_486_772_644.911
    static let smPrefix = "arn:aws:states:us-east-1:123456789012:stateMachine:"
    static let execPrefix = "arn:aws:states:us-east-1:123456789012:execution:"
    static let passDefinition = #"{"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}}"#

    static func json(_ text: String) -> JSONValue {
        do { return try JSONValue.parse(text) } catch { fatalError("bad fixture JSON: \(error)") }
    }

    /// An engine with `hello` (one Pass state) registered at `now - 100`.
    static func engine(_ definitions: [String: String] = ["hello": passDefinition]) -> WorkflowEngine {
        let engine = WorkflowEngine(region: region, accountId: account)
        for (name, definition) in definitions.sorted(by: { $0.key < $1.key }) {
            do {
                try engine.register(name: name, definition: json(definition), roleArn: "arn:aws:iam::123456789012:role/sfn", creationDate: now - 100)
            } catch {
                fatalError("fixture definition refused: \(error)")
            }
        }
        return engine
    }
}

extension WorkflowEngine {
    /// One call to `AWSStepFunctions.<operation>`, with the body as text.
    func call(_ operation: String, _ body: String, now: Double = Fixture.now) -> (status: Int, body: String) {
        let reply = handle(target: "AWSStepFunctions." + operation, body: Array(body.utf8), now: now)
        return (reply.status, String(decoding: reply.body, as: UTF8.self))
    }

    /// Starts `name` on state machine `machine` with `input`, runs it, and returns its description.
    func runToEnd(_ machine: String, input: String, name: String = "run") -> JSONValue {
        let start = call("StartExecution", #"{"stateMachineArn":"\#(Fixture.smPrefix)\#(machine)","name":"\#(name)","input":\#(JSONValue.quoted(input))}"#)
        precondition(start.status == 200, start.body)
        runPending(now: Fixture.now + 1)
        let described = call("DescribeExecution", #"{"executionArn":"\#(Fixture.execPrefix)\#(machine):\#(name)"}"#)
        return Fixture.json(described.body)
    }
}
