import GatehouseJSON
@testable import LocalWorkflows
import Testing

/// Task and Wait states inside Parallel branches and Map iterations: each branch or iteration
/// is a frame of its own, so they wait side by side, a Map runs at most MaxConcurrency (and
/// never more than inline mode's 40) iterations at once, a failing branch stops its siblings,
/// and all of it survives a restart.
@Suite struct BranchFrameTests {
    static let invoke = "arn:aws:states:::apigateway:invoke"
    let t0 = Fixture.now

    func task(_ name: String, _ extra: String = "") -> String {
        #""\#(name)":{"Type":"Task","Resource":"\#(Self.invoke)","Parameters":{"who":"\#(name)","in.$":"$"}\#(extra),"End":true}"#
    }

    func branch(_ states: String, startAt: String) -> String { #"{"StartAt":"\#(startAt)","States":{\#(states)}}"# }

    func engine(_ states: String, startAt: String = "P", store: MemoryStore? = nil) throws -> WorkflowEngine {
        let e = WorkflowEngine(region: Fixture.region, accountId: Fixture.account)
        if let store { try e.attach(store) }
        try e.register(name: "m", definition: Fixture.json(#"{"StartAt":"\#(startAt)","States":\#(states)}"#),
                       roleArn: "arn:aws:iam::123456789012:role/sfn", creationDate: t0 - 100)
        return e
    }

    func start(_ e: WorkflowEngine, _ input: String, name: String = "run") {
        let r = e.call("StartExecution", #"{"stateMachineArn":"\#(Fixture.smPrefix)m","name":"\#(name)","input":\#(JSONValue.quoted(input))}"#)
        precondition(r.status == 200, r.body)
    }

    func describe(_ e: WorkflowEngine, name: String = "run") -> JSONValue {
        Fixture.json(e.call("DescribeExecution", #"{"executionArn":"\#(Fixture.execPrefix)m:\#(name)"}"#).body)
    }

    /// `id<-previous type name` for each event, as ParallelMapTests prints them.
    func events(_ e: WorkflowEngine, name: String = "run") -> [String] {
        let h = Fixture.json(e.call("GetExecutionHistory", #"{"executionArn":"\#(Fixture.execPrefix)m:\#(name)","maxResults":1000}"#).body)
        return (h["events"]?.arrayValue ?? []).map { ev in
            var text = "\(ev["id"]?.jsonText ?? "?")<-\(ev["previousEventId"]?.jsonText ?? "?") \(ev["type"]?.stringValue ?? "?")"
            if let details = ev.objectValue?.members.first(where: { $0.key.hasSuffix("EventDetails") })?.value,
               let name = details["name"]?.stringValue {
                text += " " + name + (details["index"].map { "#" + $0.jsonText } ?? "")
            }
            return text
        }
    }

    func answer(_ e: WorkflowEngine, _ r: TaskRequest, _ result: TaskResult, at now: Double) {
        e.completeTask(executionArn: r.executionArn, taskId: r.taskId, result: result, now: now)
        e.runPending(now: now)
    }

    @Test func parallelBranchesCallSideBySideAndKeepBranchOrder() throws {
        let e = try engine(#"{"P":{"Type":"Parallel","Branches":[\#(branch(task("A"), startAt: "A")),\#(branch(task("B"), startAt: "B"))],"End":true}}"#)
        start(e, #"{"k":1}"#)
        e.runPending(now: t0)
        let calls = e.takeTaskRequests(now: t0)
        // Both branches wait on their calls at once.
        #expect(calls.map { $0.parameters["who"] } == [.string("A"), .string("B")])
        #expect(describe(e)["status"] == .string("RUNNING"))
        // B answers first; the results are still in branch order.
        answer(e, calls[1], .success(.string("b")), at: t0 + 1)
        #expect(describe(e)["status"] == .string("RUNNING"))
        answer(e, calls[0], .success(.string("a")), at: t0 + 2)
        #expect(describe(e)["output"] == .string(#"["a","b"]"#))
        // Each branch's events follow its own: its first state points at ParallelStateStarted.
        #expect(events(e) == [
            "1<-0 ExecutionStarted", "2<-0 ParallelStateEntered P", "3<-2 ParallelStateStarted",
            "4<-3 TaskStateEntered A", "5<-4 TaskScheduled", "6<-3 TaskStateEntered B", "7<-6 TaskScheduled",
            "8<-5 TaskStarted", "9<-7 TaskStarted",
            "10<-9 TaskSucceeded", "11<-10 TaskStateExited B",
            "12<-8 TaskSucceeded", "13<-12 TaskStateExited A",
            "14<-13 ParallelStateSucceeded", "15<-13 ParallelStateExited P", "16<-15 ExecutionSucceeded",
        ])
    }

    @Test func mapRunsAtMostMaxConcurrencyIterationsAtOnce() throws {
        let e = try engine(#"{"M":{"Type":"Map","MaxConcurrency":2,"ItemProcessor":\#(branch(task("T"), startAt: "T")),"End":true}}"#, startAt: "M")
        start(e, "[10,20,30,40,50]")
        e.runPending(now: t0)
        var now = t0
        var inFlight = e.takeTaskRequests(now: now)
        #expect(inFlight.map { $0.parameters["in"] } == [.int(10), .int(20)])
        var seenAtOnce = inFlight.count
        // Answer the newest first each time: an iteration ending lets the next item start.
        while let r = inFlight.popLast() {
            now += 1
            answer(e, r, .success(.int(Int64(r.parameters["in"]?.doubleValue ?? 0) + 1)), at: now)
            inFlight += e.takeTaskRequests(now: now)
            seenAtOnce = max(seenAtOnce, inFlight.count)
        }
        #expect(seenAtOnce == 2)
        #expect(describe(e)["output"] == .string("[11,21,31,41,51]"))
    }

    @Test func mapWithoutMaxConcurrencyRunsFortyIterationsAtOnce() throws {
        let e = try engine(#"{"M":{"Type":"Map","ItemProcessor":\#(branch(task("T"), startAt: "T")),"End":true}}"#, startAt: "M")
        start(e, "[" + (0..<45).map(String.init).joined(separator: ",") + "]")
        e.runPending(now: t0)
        let first = e.takeTaskRequests(now: t0)
        #expect(first.count == 40)
        answer(e, first[7], .success(.int(7)), at: t0 + 1)
        #expect(e.takeTaskRequests(now: t0 + 1).map { $0.parameters["in"] } == [.int(40)])
    }

    @Test func waitsInsideBranchesEndOnTheirOwnClocks() throws {
        let slow = branch(#""W":{"Type":"Wait","Seconds":10,"End":true}"#, startAt: "W")
        let quick = branch(#""W":{"Type":"Wait","Seconds":5,"Next":"X"},"X":{"Type":"Pass","Result":"quick","End":true}"#, startAt: "W")
        let e = try engine(#"{"P":{"Type":"Parallel","Branches":[\#(slow),\#(quick)],"Next":"Done"},"Done":{"Type":"Pass","End":true}}"#)
        start(e, #"{"v":1}"#)
        e.runPending(now: t0)
        #expect(e.nextWakeTime == t0 + 5)
        e.runPending(now: t0 + 5)
        #expect(describe(e)["status"] == .string("RUNNING"))
        #expect(e.nextWakeTime == t0 + 10)
        e.runPending(now: t0 + 10)
        let d = describe(e)
        #expect(d["status"] == .string("SUCCEEDED"))
        #expect(d["output"] == .string(#"[{"v":1},"quick"]"#))
    }

    @Test func aFailingBranchStopsItsSiblingsAndItsLateAnswerIsIgnored() throws {
        let e = try engine(#"{"P":{"Type":"Parallel","Branches":[\#(branch(task("A"), startAt: "A")),\#(branch(task("B"), startAt: "B"))],"#
            + #""Catch":[{"ErrorEquals":["ApiGateway.500"],"ResultPath":"$.error","Next":"Caught"}],"End":true},"Caught":{"Type":"Pass","End":true}}"#)
        start(e, #"{"k":1}"#)
        e.runPending(now: t0)
        let calls = e.takeTaskRequests(now: t0)
        #expect(calls.count == 2)
        answer(e, calls[0], .failure(error: "ApiGateway.500", cause: "down"), at: t0 + 1)
        let d = describe(e)
        #expect(d["status"] == .string("SUCCEEDED"))
        #expect(d["output"] == .string(#"{"k":1,"error":{"Error":"ApiGateway.500","Cause":"down"}}"#))
        let before = events(e)
        #expect(before.contains("11<-9 TaskStateAborted"))      // B's Task, which was waiting on its call
        #expect(before.contains("12<-10 ParallelStateFailed"))
        // B's answer comes after the state has been left: nothing changes.
        answer(e, calls[1], .success(.string("late")), at: t0 + 2)
        #expect(events(e) == before)
    }

    @Test func aMapIterationThatTimesOutFailsTheMapAndAbortsTheOthers() throws {
        let e = try engine(#"{"M":{"Type":"Map","ItemProcessor":\#(branch(task("T", #","TimeoutSeconds":3"#), startAt: "T")),"End":true}}"#, startAt: "M")
        start(e, "[1,2]")
        e.runPending(now: t0)
        let calls = e.takeTaskRequests(now: t0)
        #expect(calls.count == 2)
        answer(e, calls[1], .success(.int(2)), at: t0 + 1)
        #expect(e.nextWakeTime == t0 + 3)
        e.runPending(now: t0 + 3)
        let d = describe(e)
        #expect(d["status"] == .string("FAILED"))
        #expect(d["error"] == .string("States.Timeout"))
        let types = events(e).map { $0.split(separator: " ").dropFirst().joined(separator: " ") }
        #expect(types.suffix(4) == ["TaskTimedOut", "MapIterationFailed M#0", "MapStateFailed", "ExecutionFailed"])
    }

    @Test func aRetriedParallelRunsItsBranchesAgain() throws {
        let e = try engine(#"{"P":{"Type":"Parallel","Branches":[\#(branch(task("A"), startAt: "A"))],"#
            + #""Retry":[{"ErrorEquals":["States.ALL"],"IntervalSeconds":4,"MaxAttempts":1}],"End":true}}"#)
        start(e, "{}")
        e.runPending(now: t0)
        let first = try #require(e.takeTaskRequests(now: t0).first)
        answer(e, first, .failure(error: "ApiGateway.502", cause: "bad gateway"), at: t0 + 1)
        #expect(e.nextWakeTime == t0 + 5)
        #expect(e.takeTaskRequests(now: t0 + 1).isEmpty)
        e.runPending(now: t0 + 5)
        let second = try #require(e.takeTaskRequests(now: t0 + 5).first)
        answer(e, second, .success(.string("ok")), at: t0 + 6)
        #expect(describe(e)["output"] == .string(#"["ok"]"#))
        #expect(events(e).filter { $0.hasSuffix("ParallelStateStarted") }.count == 2)
    }

    @Test func nestedMapInsideParallelWithTasks() throws {
        let inner = #"{"Type":"Map","ItemsPath":"$.items","ItemProcessor":\#(branch(task("T"), startAt: "T")),"End":true}"#
        let e = try engine(#"{"P":{"Type":"Parallel","Branches":[\#(branch(#""M":\#(inner)"#, startAt: "M")),\#(branch(#""X":{"Type":"Pass","Result":"x","End":true}"#, startAt: "X"))],"End":true}}"#)
        start(e, #"{"items":[1,2,3]}"#)
        e.runPending(now: t0)
        let calls = e.takeTaskRequests(now: t0)
        #expect(calls.count == 3)
        for (i, r) in calls.enumerated().reversed() { answer(e, r, .success(.int(Int64(i) * 10)), at: t0 + 1) }
        #expect(describe(e)["output"] == .string(#"[[0,10,20],"x"]"#))
    }

    @Test func branchesWaitingOnCallsAndTimersSurviveARestart() throws {
        let store = MemoryStore()
        let waiting = branch(#""W":{"Type":"Wait","Seconds":30,"Next":"V"},"V":{"Type":"Pass","Result":"waited","End":true}"#, startAt: "W")
        let mapped = #"{"StartAt":"M","States":{"M":{"Type":"Map","MaxConcurrency":1,"ItemProcessor":\#(branch(task("T"), startAt: "T")),"End":true}}}"#
        let states = #"{"P":{"Type":"Parallel","Branches":[\#(waiting),\#(mapped)],"End":true}}"#
        let first = try engine(states, store: store)
        start(first, "[1,2]")
        first.runPending(now: t0)
        let one = try #require(first.takeTaskRequests(now: t0).first)
        first.completeTask(executionArn: one.executionArn, taskId: one.taskId, result: .success(.string("one")), now: t0 + 1)
        first.runPending(now: t0 + 1)
        #expect(first.takeTaskRequests(now: t0 + 1).count == 1)      // item 2's call: taken, never answered

        // "Kill" it: a new engine from the store makes item 2's call again and keeps the Wait's end.
        let second = try engine(states, store: store)
        second.runPending(now: t0 + 2)
        let again = try #require(second.takeTaskRequests(now: t0 + 2).first)
        #expect(again.parameters["in"] == .int(2))
        answer(second, again, .success(.string("two")), at: t0 + 3)
        #expect(describe(second)["status"] == .string("RUNNING"))
        #expect(second.nextWakeTime == t0 + 30)
        second.runPending(now: t0 + 30)
        #expect(describe(second)["output"] == .string(#"["waited",["one","two"]]"#))
    }

    @Test func stoppingAnExecutionDropsEveryBranchsCall() throws {
        let e = try engine(#"{"P":{"Type":"Parallel","Branches":[\#(branch(task("A"), startAt: "A")),\#(branch(task("B"), startAt: "B"))],"End":true}}"#)
        start(e, "{}")
        e.runPending(now: t0)
        let calls = e.takeTaskRequests(now: t0)
        #expect(e.call("StopExecution", #"{"executionArn":"\#(Fixture.execPrefix)m:run"}"#, now: t0 + 1).status == 200)
        let before = events(e)
        for r in calls { answer(e, r, .success(.int(1)), at: t0 + 2) }
        #expect(events(e) == before)
        #expect(describe(e)["status"] == .string("ABORTED"))
    }
}
