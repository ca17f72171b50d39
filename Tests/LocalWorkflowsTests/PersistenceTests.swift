import GatehouseJSON
@testable import LocalWorkflows
import Testing

/// A store kept in memory, standing in for the SQLite one (tested in its own suite): what the
/// engine saves, and what a second engine restores from it.
final class MemoryStore: WorkflowStore, @unchecked Sendable {
    var machines: [String: JSONValue] = [:]
    var executions: [String: (Int, JSONValue)] = [:]
    var refuseExecutions = false
    /// How many group commits to lose (rolled back) from now on.
    var loseCommits = 0
    private var beforeGroup: (machines: [String: JSONValue], executions: [String: (Int, JSONValue)])?

    func openGroup() {
        if beforeGroup == nil { beforeGroup = (machines, executions) }
    }

    func commitGroup() -> Bool {
        guard let before = beforeGroup else { return true }
        beforeGroup = nil
        guard loseCommits > 0 else { return true }
        loseCommits -= 1
        (machines, executions) = before
        return false
    }

    func save(machine arn: String, _ snapshot: JSONValue) throws(StoreError) { machines[arn] = snapshot }
    func delete(machine arn: String) throws(StoreError) { machines[arn] = nil }
    func save(execution arn: String, sequence: Int, _ snapshot: JSONValue) throws(StoreError) {
        if refuseExecutions { throw StoreError("disk full") }
        executions[arn] = (sequence, snapshot)
    }
    func delete(execution arn: String) throws(StoreError) { executions[arn] = nil }
    func load() throws(StoreError) -> (machines: [JSONValue], executions: [JSONValue]) {
        (Array(machines.values), executions.values.sorted { $0.0 < $1.0 }.map(\.1))
    }
}

@Suite struct PersistenceTests {
    static let waitThenPass = #"{"StartAt":"W","States":{"W":{"Type":"Wait","Seconds":30,"Next":"P"},"P":{"Type":"Pass","Result":"done","End":true}}}"#

    func engine(_ store: MemoryStore) throws -> WorkflowEngine {
        let e = WorkflowEngine(region: Fixture.region, accountId: Fixture.account)
        try e.attach(store)
        return e
    }

    @Test func aRestartedEngineResumesWhereTheOldOneWas() throws {
        let store = MemoryStore()
        let first = try engine(store)
        #expect(first.call("CreateStateMachine", #"{"name":"m","roleArn":"arn:aws:iam::123456789012:role/r","definition":\#(JSONValue.quoted(Self.waitThenPass))}"#).status == 200)
        for name in ["a", "b"] {
            #expect(first.call("StartExecution", #"{"stateMachineArn":"\#(Fixture.smPrefix)m","name":"\#(name)","input":"{\"k\":1}"}"#).status == 200)
        }
        first.runPending(now: Fixture.now)                                  // both enter the Wait
        #expect(first.call("StopExecution", #"{"executionArn":"\#(Fixture.execPrefix)m:b"}"#, now: Fixture.now + 1).status == 200)

        // "Kill" the first engine: a new one restores from the store alone.
        let second = try engine(store)
        let listed = Fixture.json(second.call("ListExecutions", #"{"stateMachineArn":"\#(Fixture.smPrefix)m"}"#).body)
        #expect(listed["executions"]?.arrayValue?.compactMap { $0["name"]?.stringValue } == ["b", "a"])
        #expect(Fixture.json(second.call("DescribeExecution", #"{"executionArn":"\#(Fixture.execPrefix)m:b"}"#).body)["status"] == .string("ABORTED"))
        second.runPending(now: Fixture.now + 10)
        #expect(second.nextWakeTime == Fixture.now + 30)                   // the Wait ends when it would have
        second.runPending(now: Fixture.now + 30)
        let a = Fixture.json(second.call("DescribeExecution", #"{"executionArn":"\#(Fixture.execPrefix)m:a"}"#).body)
        #expect(a["status"] == .string("SUCCEEDED"))
        #expect(a["output"] == .string(#""done""#))
        let h = Fixture.json(second.call("GetExecutionHistory", #"{"executionArn":"\#(Fixture.execPrefix)m:a"}"#).body)
        #expect(h["events"]?.arrayValue?.compactMap { $0["type"]?.stringValue } == [
            "ExecutionStarted", "WaitStateEntered", "WaitStateExited", "PassStateEntered", "PassStateExited", "ExecutionSucceeded"])
        // New executions continue the sequence; the machine keeps its creation date.
        #expect(second.call("StartExecution", #"{"stateMachineArn":"\#(Fixture.smPrefix)m","name":"c"}"#).status == 200)
        #expect(second.call("StartExecution", #"{"stateMachineArn":"\#(Fixture.smPrefix)m","name":"a"}"#).body.contains("ExecutionAlreadyExists"))
    }

    @Test func aTaskInFlightIsMadeAgainAfterARestart() throws {
        let store = MemoryStore()
        let first = try engine(store)
        let task = #"{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:states:::apigateway:invoke","Parameters":{"n.$":"$.n"},"End":true}}}"#
        _ = first.call("CreateStateMachine", #"{"name":"m","roleArn":"arn:aws:iam::123456789012:role/r","definition":\#(JSONValue.quoted(task))}"#)
        _ = first.call("StartExecution", #"{"stateMachineArn":"\#(Fixture.smPrefix)m","name":"t","input":"{\"n\":7}"}"#)
        first.runPending(now: Fixture.now)
        #expect(first.takeTaskRequests(now: Fixture.now).count == 1)       // taken, never answered
        let second = try engine(store)
        second.runPending(now: Fixture.now + 1)
        let again = try #require(second.takeTaskRequests(now: Fixture.now + 1).first)
        #expect(again.parameters == Fixture.json(#"{"n":7}"#))
        second.completeTask(executionArn: again.executionArn, taskId: again.taskId, result: .success(.int(1)), now: Fixture.now + 2)
        #expect(Fixture.json(second.call("DescribeExecution", #"{"executionArn":"\#(Fixture.execPrefix)m:t"}"#).body)["status"] == .string("SUCCEEDED"))
    }

    /// A `.sync` call the service had accepted is made again after a restart with what it
    /// answered, so the host waits on the same child instead of starting a second one.
    @Test func aSubmittedSyncCallKeepsItsChildAcrossARestart() throws {
        let store = MemoryStore()
        let first = try engine(store)
        let task = #"{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:states:::states:startExecution.sync:2","Parameters":{"StateMachineArn":"x"},"End":true}}}"#
        _ = first.call("CreateStateMachine", #"{"name":"m","roleArn":"arn:aws:iam::123456789012:role/r","definition":\#(JSONValue.quoted(task))}"#)
        _ = first.call("StartExecution", #"{"stateMachineArn":"\#(Fixture.smPrefix)m","name":"p"}"#)
        first.runPending(now: Fixture.now)
        let r = try #require(first.takeTaskRequests(now: Fixture.now).first)
        #expect(r.submitted == nil)
        first.taskSubmitted(executionArn: r.executionArn, taskId: r.taskId, output: Fixture.json(#"{"ExecutionArn":"child-1"}"#), now: Fixture.now)
        let second = try engine(store)
        second.runPending(now: Fixture.now + 1)
        let again = try #require(second.takeTaskRequests(now: Fixture.now + 1).first)
        #expect(again.submitted?["ExecutionArn"] == .string("child-1"))
        let h = Fixture.json(second.call("GetExecutionHistory", #"{"executionArn":"\#(Fixture.execPrefix)m:p"}"#).body)
        #expect(h["events"]?.arrayValue?.compactMap { $0["type"]?.stringValue } == [
            "ExecutionStarted", "TaskStateEntered", "TaskScheduled", "TaskStarted", "TaskSubmitted", "TaskStarted"])
    }

    @Test func aStartTheStoreRefusesIsNotAcknowledged() throws {
        let store = MemoryStore()
        let e = try engine(store)
        _ = e.call("CreateStateMachine", #"{"name":"m","roleArn":"arn:aws:iam::123456789012:role/r","definition":\#(JSONValue.quoted(Self.waitThenPass))}"#)
        store.refuseExecutions = true
        let r = e.call("StartExecution", #"{"stateMachineArn":"\#(Fixture.smPrefix)m","name":"x"}"#)
        #expect(r.status == 500)
        #expect(r.body == #"{"__type":"com.amazon.coral.service#InternalFailure","message":"The execution could not be recorded; it was not started."}"#)
        store.refuseExecutions = false
        #expect(e.call("DescribeExecution", #"{"executionArn":"\#(Fixture.execPrefix)m:x"}"#).body.contains("ExecutionDoesNotExist"))
        #expect(e.call("StartExecution", #"{"stateMachineArn":"\#(Fixture.smPrefix)m","name":"x"}"#).status == 200)
    }

    @Test func anotherAccountsRecordsAreLeftAlone() throws {
        let store = MemoryStore()
        let a = try engine(store)
        _ = a.call("CreateStateMachine", #"{"name":"m","roleArn":"arn:aws:iam::123456789012:role/r","definition":\#(JSONValue.quoted(Self.waitThenPass))}"#)
        let other = WorkflowEngine(region: Fixture.region, accountId: "999999999999")
        try other.attach(store)
        #expect(other.stateMachineArns.isEmpty)
        #expect(try engine(store).stateMachineArns == [Fixture.smPrefix + "m"])
    }

    /// Past `closedExecutionLimit` the oldest closed executions are forgotten, in memory and in
    /// the store; running ones are kept whatever their age.
    @Test func theOldestClosedExecutionsAreForgotten() throws {
        let store = MemoryStore()
        let e = try engine(store)
        e.closedExecutionLimit = 3
        let waitForever = #"{"StartAt":"W","States":{"W":{"Type":"Wait","Seconds":1000,"End":true}}}"#
        _ = e.call("CreateStateMachine", #"{"name":"w","roleArn":"arn:aws:iam::123456789012:role/r","definition":\#(JSONValue.quoted(waitForever))}"#)
        _ = e.call("CreateStateMachine", #"{"name":"m","roleArn":"arn:aws:iam::123456789012:role/r","definition":\#(JSONValue.quoted(Fixture.passDefinition))}"#)
        _ = e.call("StartExecution", #"{"stateMachineArn":"\#(Fixture.smPrefix)w","name":"old-running"}"#)
        for i in 0..<5 { _ = e.call("StartExecution", #"{"stateMachineArn":"\#(Fixture.smPrefix)m","name":"c\#(i)"}"#) }
        e.runPending(now: Fixture.now)
        e.pruneClosed()      // the host prunes once it has looked at the pass's closed executions
        let names = Fixture.json(e.call("ListExecutions", #"{"stateMachineArn":"\#(Fixture.smPrefix)m"}"#).body)["executions"]?
            .arrayValue?.compactMap { $0["name"]?.stringValue }
        #expect(names == ["c4", "c3", "c2"])
        #expect(e.call("DescribeExecution", #"{"executionArn":"\#(Fixture.execPrefix)m:c0"}"#).body.contains("ExecutionDoesNotExist"))
        #expect(Fixture.json(e.call("DescribeExecution", #"{"executionArn":"\#(Fixture.execPrefix)w:old-running"}"#).body)["status"] == .string("RUNNING"))
        #expect(store.executions.count == 4)
        // A name used again after its execution was forgotten is listed once.
        _ = e.call("StartExecution", #"{"stateMachineArn":"\#(Fixture.smPrefix)m","name":"c0"}"#)
        e.runPending(now: Fixture.now + 1)
        let again = Fixture.json(e.call("ListExecutions", #"{"stateMachineArn":"\#(Fixture.smPrefix)m"}"#).body)["executions"]?
            .arrayValue?.compactMap { $0["name"]?.stringValue }
        #expect(again == ["c0", "c4", "c3", "c2"])
    }

    /// Group commit (`deferWrites`): nothing is written until the host flushes, each execution
    /// is then written once as it is at that moment, forgotten ones are deleted, and a refused
    /// write is reported so the host does not acknowledge that start.
    @Test func deferredWritesAreFlushedOncePerExecution() throws {
        let store = MemoryStore()
        let e = try engine(store)
        e.deferWrites = true
        e.closedExecutionLimit = 1
        _ = e.call("CreateStateMachine", #"{"name":"m","roleArn":"arn:aws:iam::123456789012:role/r","definition":\#(JSONValue.quoted(Fixture.passDefinition))}"#)
        for name in ["a", "b"] { #expect(e.call("StartExecution", #"{"stateMachineArn":"\#(Fixture.smPrefix)m","name":"\#(name)"}"#).status == 200) }
        #expect(store.executions.isEmpty && e.hasUnwrittenChanges)
        e.runPending(now: Fixture.now)
        e.pruneClosed()                                                   // a is forgotten before it was ever written
        #expect(store.executions.isEmpty)
        #expect(e.flushWrites().isEmpty)
        #expect(!e.hasUnwrittenChanges)
        #expect(store.executions.keys.sorted() == ["\(Fixture.execPrefix)m:b"])
        #expect(store.executions["\(Fixture.execPrefix)m:b"]?.1["status"] == .string("SUCCEEDED"))
        // A refused write names its execution; the host undoes that start.
        store.refuseExecutions = true
        _ = e.call("StartExecution", #"{"stateMachineArn":"\#(Fixture.smPrefix)m","name":"c"}"#)
        #expect(e.flushWrites() == ["\(Fixture.execPrefix)m:c"])
        e.forget(executionArn: "\(Fixture.execPrefix)m:c")
        #expect(e.call("DescribeExecution", #"{"executionArn":"\#(Fixture.execPrefix)m:c"}"#).body.contains("ExecutionDoesNotExist"))
        let listed = Fixture.json(e.call("ListExecutions", #"{"stateMachineArn":"\#(Fixture.smPrefix)m"}"#).body)["executions"]?
            .arrayValue?.compactMap { $0["name"]?.stringValue }
        #expect(listed == ["b"])
        e.runPending(now: Fixture.now + 1)                                 // nothing left to run
        #expect(e.nextWakeTime == nil)
        // A lost commit marks what it wrote again, so the next commit writes it as it then is.
        store.refuseExecutions = false
        _ = e.call("StartExecution", #"{"stateMachineArn":"\#(Fixture.smPrefix)m","name":"d"}"#)
        #expect(e.flushWrites().isEmpty)
        store.executions["\(Fixture.execPrefix)m:d"] = nil             // its commit did not happen
        e.flushLost()
        #expect(e.hasUnwrittenChanges)
        e.runPending(now: Fixture.now + 2)
        #expect(e.flushWrites().isEmpty)
        #expect(store.executions["\(Fixture.execPrefix)m:d"]?.1["status"] == .string("SUCCEEDED"))
    }

    /// A row the store refuses is written again at the next commits, and given up after three
    /// refusals running (counted as a store fault), so it cannot fail every commit after it.
    @Test func aRefusedRowIsRetriedThenGivenUp() throws {
        let store = MemoryStore()
        let e = try engine(store)
        e.deferWrites = true
        _ = e.call("CreateStateMachine", #"{"name":"m","roleArn":"arn:aws:iam::123456789012:role/r","definition":\#(JSONValue.quoted(Fixture.passDefinition))}"#)
        #expect(e.flushWrites().isEmpty)
        store.refuseExecutions = true
        _ = e.call("StartExecution", #"{"stateMachineArn":"\#(Fixture.smPrefix)m","name":"r"}"#)
        let arn = "\(Fixture.execPrefix)m:r"
        for attempt in 1...3 {
            #expect(e.flushWrites() == [arn])
            e.flushRefused([arn])
            #expect(e.hasUnwrittenChanges == (attempt < 3))
        }
        #expect(e.storeFaults == 3)
        // Once the store takes it again, a later change is written as usual.
        store.refuseExecutions = false
        e.runPending(now: Fixture.now)
        #expect(e.flushWrites().isEmpty)
        e.flushRefused([])
        #expect(store.executions[arn]?.1["status"] == .string("SUCCEEDED"))
    }

    /// Ended Waits get their share of a pass however many new starts keep arriving.
    @Test func endedWaitsAreNotHeldBackByNewStarts() {
        let e = Fixture.engine(["w": #"{"StartAt":"W","States":{"W":{"Type":"Wait","Seconds":1,"End":true}}}"#, "m": Fixture.passDefinition])
        e.passLimit = 2
        _ = e.call("StartExecution", #"{"stateMachineArn":"\#(Fixture.smPrefix)w","name":"waiter"}"#)
        e.runPending(now: Fixture.now)
        for pass in 0..<5 {
            for i in 0..<2 { _ = e.call("StartExecution", #"{"stateMachineArn":"\#(Fixture.smPrefix)m","name":"p\#(pass)-\#(i)"}"#) }
            e.runPending(now: Fixture.now + 2 + Double(pass))
        }
        #expect(Fixture.json(e.call("DescribeExecution", #"{"executionArn":"\#(Fixture.execPrefix)w:waiter"}"#).body)["status"] == .string("SUCCEEDED"))
    }
}
