import GatehouseJSON
@testable import LocalWorkflows
import Testing

/// GetExecutionHistory: the events an execution writes, in the service's shapes (ids, the event
/// each follows, `…EventDetails`), and the call's paging, order and data options.
@Suite struct HistoryTests {
    static let machine = #"{"StartAt":"P","States":{"P":{"Type":"Pass","Result":{"r":1},"ResultPath":"$.p","Next":"C"},"#
        + #""C":{"Type":"Choice","Choices":[{"Variable":"$.a","IsPresent":true,"Next":"W"}],"Default":"F"},"#
        + #""W":{"Type":"Wait","Seconds":5,"Next":"S"},"S":{"Type":"Succeed"},"F":{"Type":"Fail","Error":"E","Cause":"no a"}}}"#

    func history(_ engine: WorkflowEngine, _ extra: String = "", name: String = "run") -> JSONValue {
        let r = engine.call("GetExecutionHistory", #"{"executionArn":"\#(Fixture.execPrefix)m:\#(name)"\#(extra)}"#)
        #expect(r.status == 200, "\(r.body)")
        return Fixture.json(r.body)
    }

    func start(_ engine: WorkflowEngine, _ input: String, name: String = "run") {
        let r = engine.call("StartExecution", #"{"stateMachineArn":"\#(Fixture.smPrefix)m","name":"\#(name)","input":\#(JSONValue.quoted(input))}"#)
        precondition(r.status == 200, r.body)
    }

    /// "id<-previous Type name? input/output" per event, timestamps aside.
    func lines(_ h: JSONValue) -> [String] {
        (h["events"]?.arrayValue ?? []).map { e in
            let id = e["id"].map { $0.jsonText } ?? "?", previous = e["previousEventId"].map { $0.jsonText } ?? "?"
            let details = e.objectValue?.members.first { $0.key.hasSuffix("EventDetails") }?.value.objectValue
            var text = "\(id)<-\(previous) \(e["type"]?.stringValue ?? "?")"
            if let name = details?["name"]?.stringValue { text += " \(name)" }
            for key in ["input", "output", "error", "cause"] {
                if let v = details?[key]?.stringValue { text += " \(key)=\(v)" }
            }
            return text
        }
    }

    @Test func aSucceededExecutionsHistory() {
        let e = Fixture.engine(["m": Self.machine])
        start(e, #"{"a": 1}"#)
        e.runPending(now: Fixture.now + 1)
        // While the Wait waits, the history stops at its Entered event.
        #expect(lines(history(e)).last == #"6<-5 WaitStateEntered W input={"a":1,"p":{"r":1}}"#)
        e.runPending(now: Fixture.now + 6)
        #expect(lines(history(e)) == [
            #"1<-0 ExecutionStarted input={"a": 1}"#,
            #"2<-0 PassStateEntered P input={"a":1}"#,
            #"3<-2 PassStateExited P output={"a":1,"p":{"r":1}}"#,
            #"4<-3 ChoiceStateEntered C input={"a":1,"p":{"r":1}}"#,
            #"5<-4 ChoiceStateExited C output={"a":1,"p":{"r":1}}"#,
            #"6<-5 WaitStateEntered W input={"a":1,"p":{"r":1}}"#,
            #"7<-6 WaitStateExited W output={"a":1,"p":{"r":1}}"#,
            #"8<-7 SucceedStateEntered S input={"a":1,"p":{"r":1}}"#,
            #"9<-8 SucceedStateExited S output={"a":1,"p":{"r":1}}"#,
            #"10<-9 ExecutionSucceeded output={"a":1,"p":{"r":1}}"#,
        ])
        let first = history(e)["events"]?.arrayValue?.first
        #expect(first?["executionStartedEventDetails"]?["roleArn"] == .string("arn:aws:iam::123456789012:role/sfn"))
        #expect(first?["executionStartedEventDetails"]?["inputDetails"] == .object(JSONObject([("truncated", .bool(false))])))
        #expect(history(e)["events"]?.arrayValue?[6]["timestamp"] == .double(Fixture.now + 6))
    }

    @Test func failedExecutionsHistory() {
        let e = Fixture.engine(["m": Self.machine])
        start(e, "{}")
        e.runPending(now: Fixture.now + 1)
        #expect(Array(lines(history(e)).suffix(3)) == [
            #"5<-4 ChoiceStateExited C output={"p":{"r":1}}"#,
            #"6<-5 FailStateEntered F input={"p":{"r":1}}"#,
            "7<-6 ExecutionFailed error=E cause=no a",
        ])
        // A runtime fault: the state's Entered event, then ExecutionFailed (no Exited event).
        let broken = Fixture.engine(["m": #"{"StartAt":"P","States":{"P":{"Type":"Pass","InputPath":"$.x","End":true}}}"#])
        start(broken, "{}")
        broken.runPending(now: Fixture.now + 1)
        #expect(lines(history(broken)) == [
            "1<-0 ExecutionStarted input={}",
            "2<-0 PassStateEntered P input={}",
            "3<-2 ExecutionFailed error=States.Runtime cause=An error occurred while executing the state 'P' (entered at the event id #2). Invalid path '$.x' : No results for path: $['x']",
        ])
    }

    @Test func pagingOrderAndData() throws {
        let e = Fixture.engine(["m": Self.machine])
        start(e, #"{"a":1}"#)
        e.runPending(now: Fixture.now)
        e.runPending(now: Fixture.now + 5)
        let all = lines(history(e))
        #expect(all.count == 10)
        // Pages of 4, forward and then in reverse, join up to the whole history.
        for (extra, expected) in [("", all), (#","reverseOrder":true"#, Array(all.reversed()))] {
            var got: [String] = []
            var token: String?
            repeat {
                let page = history(e, #","maxResults":4"# + extra + (token.map { #","nextToken":"\#($0)""# } ?? ""))
                got += lines(page)
                token = page["nextToken"]?.stringValue
            } while token != nil
            #expect(got == expected)
        }
        let bare = history(e, #","includeExecutionData":false"#)
        let started = try #require(bare["events"]?.arrayValue?.first?["executionStartedEventDetails"])
        #expect(started == .object(JSONObject([("roleArn", .string("arn:aws:iam::123456789012:role/sfn"))])))
        // A token from one order is not accepted in the other.
        let forward = try #require(history(e, #","maxResults":2"#)["nextToken"]?.stringValue)
        let r = e.call("GetExecutionHistory", #"{"executionArn":"\#(Fixture.execPrefix)m:run","reverseOrder":true,"nextToken":"\#(forward)"}"#)
        #expect(r.status == 400)
        #expect(r.body.contains("InvalidToken"))
    }

    @Test func unknownExecution() {
        let e = Fixture.engine(["m": Self.machine])
        let r = e.call("GetExecutionHistory", #"{"executionArn":"\#(Fixture.execPrefix)m:nope"}"#)
        #expect(r.status == 400)
        #expect(r.body == #"{"__type":"com.amazonaws.swf.service.v2.model#ExecutionDoesNotExist","message":"Execution Does Not Exist: 'arn:aws:states:us-east-1:123456789012:execution:m:nope'"}"#)
    }
}
