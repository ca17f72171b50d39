import GatehouseJSON
@testable import LocalWorkflows
import Testing

/// Group commit's rules for the answers it holds (what `gatehouse` does with a store): a start
/// whose row is lost is undone and answered 500; any other call waits for the next commit
/// (its change is written again), and is answered 500 after three lost commits; a refused row
/// fails only its own start.
@Suite struct GroupCommitTests {
    func engine(_ store: MemoryStore) throws -> WorkflowEngine {
        let e = WorkflowEngine(region: Fixture.region, accountId: Fixture.account)
        try e.attach(store)
        e.deferWrites = true
        let wait = #"{"StartAt":"W","States":{"W":{"Type":"Wait","Seconds":100,"End":true}}}"#
        #expect(e.call("CreateStateMachine", #"{"name":"w","roleArn":"arn:aws:iam::123456789012:role/r","definition":\#(JSONValue.quoted(wait))}"#).status == 200)
        return e
    }

    /// A call made the way the host makes it: held, with the execution it created (if any).
    func call(_ e: WorkflowEngine, _ op: String, _ body: String, label: String) -> HeldAnswer<String> {
        let before = e.executionsStarted
        let r = e.call(op, body)
        let created = e.executionsStarted > before ? Fixture.json(r.body)["executionArn"]?.stringValue : nil
        return HeldAnswer(status: r.status, body: Array(r.body.utf8), started: created.map { (e, $0) }, reply: label)
    }

    func start(_ e: WorkflowEngine, _ name: String) -> HeldAnswer<String> {
        call(e, "StartExecution", #"{"stateMachineArn":"\#(Fixture.smPrefix)w","name":"\#(name)"}"#, label: "start \(name)")
    }

    func exists(_ e: WorkflowEngine, _ name: String) -> Bool {
        e.call("DescribeExecution", #"{"executionArn":"\#(Fixture.execPrefix)w:\#(name)"}"#).status == 200
    }

    @Test func aLostCommitUndoesItsStartsAndHoldsTheOtherCalls() throws {
        let store = MemoryStore()
        let e = try engine(store)
        let first = GroupCommit.commit(store, engines: [e], held: [start(e, "a")])
        #expect(first.committed && first.answered.map(\.failed) == [false])
        // A new start and a stop of the running one share a commit that is lost.
        store.loseCommits = 1
        var held = [start(e, "b"), call(e, "StopExecution", #"{"executionArn":"\#(Fixture.execPrefix)w:a"}"#, label: "stop a")]
        let lost = GroupCommit.commit(store, engines: [e], held: held)
        #expect(!lost.committed)
        #expect(lost.answered.map { "\($0.answer.reply) \($0.failed)" } == ["start b true"])
        #expect(!exists(e, "b"))                                          // undone before it ran
        #expect(store.executions["\(Fixture.execPrefix)w:a"]?.1["status"] == .string("RUNNING"))
        held = lost.held
        #expect(held.map(\.reply) == ["stop a"])
        // The next commit writes the stop again and answers it.
        let next = GroupCommit.commit(store, engines: [e], held: held)
        #expect(next.committed && next.answered.map { "\($0.answer.reply) \($0.failed)" } == ["stop a false"])
        #expect(store.executions["\(Fixture.execPrefix)w:a"]?.1["status"] == .string("ABORTED"))
        #expect(store.executions["\(Fixture.execPrefix)w:b"] == nil)
    }

    @Test func aCallWaitsThroughTwoLostCommitsThenFails() throws {
        let store = MemoryStore()
        let e = try engine(store)
        _ = GroupCommit.commit(store, engines: [e], held: [start(e, "a")])
        store.loseCommits = 3
        var held = [call(e, "StopExecution", #"{"executionArn":"\#(Fixture.execPrefix)w:a"}"#, label: "stop a")]
        for round in 1...3 {
            let outcome = GroupCommit.commit(store, engines: [e], held: held)
            #expect(!outcome.committed)
            #expect(outcome.answered.map(\.failed) == (round < 3 ? [] : [true]))
            held = outcome.held
        }
        #expect(held.isEmpty)
        // Its change is still in memory, and is written by the next commit that goes through.
        _ = GroupCommit.commit(store, engines: [e], held: held)
        #expect(store.executions["\(Fixture.execPrefix)w:a"]?.1["status"] == .string("ABORTED"))
    }

    @Test func aRefusedRowFailsOnlyItsOwnStart() throws {
        let store = MemoryStore()
        let e = try engine(store)
        let a = start(e, "a")
        store.refuseExecutions = true
        let outcome = GroupCommit.commit(store, engines: [e], held: [a, call(e, "ListStateMachines", "{}", label: "read")])
        #expect(outcome.committed)
        #expect(outcome.refused == 1)
        #expect(outcome.answered.map { "\($0.answer.reply) \($0.failed)" } == ["start a true", "read false"])
        #expect(!exists(e, "a"))
    }
}
