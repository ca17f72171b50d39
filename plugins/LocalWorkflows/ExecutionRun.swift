import GatehouseJSON

/// What an execution knows about itself: the facts the context object (`$$`) exposes.
struct ExecutionContext: Sendable {
    var executionArn: String
    var name: String
    var input: JSONValue
    var roleArn: String?
    var startDate: Double
    var stateMachineArn: String
    var stateMachineName: String
}

/// One thread of control in an execution: the top-level state machine (frame 0), or one
/// Parallel branch or Map iteration. Each frame is in one state at a time and may wait on its
/// own (a Wait, a Task call, a retry's delay, its children), so branches and iterations run
/// side by side.
struct Frame: Sendable {
    /// The state machine this frame runs: the definition, a branch, or a Map's item processor.
    let machine: StateMachineDefinition
    /// The frame whose Parallel or Map state started this one (nil for the top level).
    let parent: Int?
    /// The branch index or item index within the parent's state.
    let slot: Int
    var current: String
    var input: JSONValue
    /// While a Wait state waits, or a retry's delay runs: when it ends (epoch seconds).
    var resumeAt: Double?
    /// The event id the current state was entered at, for its runtime errors.
    var enteredEventId = 0
    /// When the current state was entered (`$$.State.EnteredTime`).
    var enteredAt: Double = 0
    /// The last event this frame wrote (or the one it follows): its next event points there.
    var lastEventId: Int
    /// The service call this frame waits for, while in a Task state.
    var outstanding: ExecutionRun.TaskCall?
    /// Whether the host has taken `outstanding` (TaskStarted is then written).
    var taskDispatched = false
    /// When the outstanding call times out (the Task's TimeoutSeconds), if it has a limit.
    var taskDeadline: Double?
    /// When a callback task's next heartbeat is due (HeartbeatSeconds after it started, or
    /// after the last SendTaskHeartbeat).
    var heartbeatDeadline: Double?
    /// What the service answered when it accepted the outstanding `.sync` call (TaskSubmitted).
    var submittedOutput: JSONValue?
    /// The current Task, Parallel or Map state's raw input (ResultPath and Catch place their
    /// results into it), and a Task's parameters, kept for retries.
    var stateInput: JSONValue = .null
    var taskParameters: JSONValue = .null
    /// Retries so far, per retrier of the current state.
    var retryCounts: [Int] = []
    /// The token of the call a Task state is about to schedule (made with its Parameters).
    var taskToken: String?
    /// The current Task call's limits (TimeoutSeconds and HeartbeatSeconds, or what their
    /// `…Path` read from the effective input).
    var taskTimeout: Int?
    var taskHeartbeat: Int?
    /// While the current Parallel or Map state's branches or iterations run.
    var composite: CompositeRun?

    init(machine: StateMachineDefinition, parent: Int?, slot: Int, input: JSONValue, follows: Int) {
        self.machine = machine
        self.parent = parent
        self.slot = slot
        self.current = machine.startAt
        self.input = input
        self.lastEventId = follows
    }

    /// Whether `advance` can do anything for it at `now`.
    func isRunnable(at now: Double) -> Bool {
        composite == nil && outstanding == nil && (resumeAt ?? now) <= now
    }
}

/// One execution's progress through its state machine: a tree of frames, advanced whenever
/// something they wait for happens, so the engine can leave an execution RUNNING between calls
/// the way the real service does.
struct ExecutionRun: Sendable {
    /// Step Functions fails a Standard execution whose history reaches 25,000 events
    /// (observed: error `States.Runtime`, cause "The execution reached the maximum number of
    /// history events (25000).").
    static let historyLimit = 25_000

    enum Outcome: Equatable {
        case succeeded(JSONValue)
        case failed(error: String?, cause: String?)
    }

    /// What one step of a frame came to.
    enum Step {
        /// It moved on and can run again.
        case next
        /// It waits: for time, a call's answer, or its children.
        case blocked
        /// It entered a Parallel or Map state whose children must be started.
        case composite
        /// Its state machine ended.
        case ended(Outcome)

        var outcome: Outcome? {
            if case .ended(let o) = self { return o }
            return nil
        }
    }

    let definition: StateMachineDefinition
    /// The definition as written, kept so a persisted execution resumes with the definition it
    /// started with (an UpdateStateMachine since does not change it).
    let document: JSONValue
    let context: ExecutionContext
    /// The execution's history so far, as GetExecutionHistory reports it; ExecutionStarted is
    /// event 1.
    private(set) var history: [HistoryEvent]
    var events: Int { history.count }
    /// The live frames by id; 0 is the top level. Empty once the execution closed.
    var frames: [Int: Frame]
    var nextFrameId = 1
    var nextTaskId = 1

    /// One call of a Task state's resource.
    struct TaskCall: Sendable {
        let id: Int
        let resource: TaskResource
        let parameters: JSONValue
        /// `$$.Task.Token`: what SendTaskSuccess, SendTaskFailure and SendTaskHeartbeat name.
        let token: String
    }

    /// A new task token for call `id`: it names the execution (so a host with several accounts
    /// can route it) and the call, and carries 128 random bits, so it cannot be guessed from the
    /// ARN and a token of an earlier run under the same name (or of a call a lost commit rolled
    /// back) never matches a later call. It is kept with the call, so it survives a restart.
    static func taskToken(executionArn: String, call id: Int) -> String {
        let nonce = (0..<2).map { _ in String(UInt64.random(in: .min ... .max), radix: 16) }.joined(separator: "-")
        return Base64Text.encode(Array("\(executionArn)#\(id)#\(nonce)".utf8))
    }

    /// The execution ARN and call id a task token names; nil for anything else.
    static func readTaskToken(_ token: String) -> (executionArn: String, call: Int)? {
        guard let bytes = Base64Text.decode(token) else { return nil }
        let parts = String(decoding: bytes, as: UTF8.self).split(separator: "#", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0].hasPrefix("arn:"), let id = Int(parts[1]), !parts[2].isEmpty else { return nil }
        return (String(parts[0]), id)
    }

    /// `inputText` is the input exactly as StartExecution received it (ExecutionStarted echoes it).
    init(definition: StateMachineDefinition, document: JSONValue, context: ExecutionContext, inputText: String) {
        self.definition = definition
        self.document = document
        self.context = context
        var details: [(String, JSONValue)] = [("input", .string(inputText)), ("inputDetails", HistoryEvent.notTruncated)]
        if let role = context.roleArn { details.append(("roleArn", .string(role))) }
        history = [HistoryEvent(id: 1, previousEventId: 0, timestamp: context.startDate, type: "ExecutionStarted",
                                detailsKey: "executionStartedEventDetails", details: details)]
        // The first state points at no event (0), as in the service's histories.
        frames = [0: Frame(machine: definition, parent: nil, slot: 0, input: context.input, follows: 0)]
    }

    // MARK: - What the engine asks

    /// When the execution times out (top-level TimeoutSeconds), if it has a limit.
    var deadline: Double? { definition.timeoutSeconds.map { context.startDate + Double($0) } }

    /// The earliest time a frame waits for (a Wait's end, a retry's delay, a call's timeout).
    var wakeTime: Double? {
        var wake = Double.infinity
        for f in frames.values {
            wake = f.outstanding != nil ? min(wake, f.taskDeadline ?? .infinity, f.heartbeatDeadline ?? .infinity)
                                        : min(wake, f.resumeAt ?? .infinity)
        }
        return wake.isFinite ? wake : nil
    }

    /// Whether a Task call waits to be taken by the host.
    var hasUndispatchedCalls: Bool { frames.values.contains { $0.outstanding != nil && !$0.taskDispatched } }

    /// Runs every frame that can run at `now` (including calls that timed out) until all wait or
    /// the execution closes. Returns the outcome when it closed (its closing event is then in the
    /// history).
    mutating func advance(now: Double) -> Outcome? {
        var progressed = true
        while progressed {
            progressed = false
            for id in frames.keys.sorted() {
                guard let f = frames[id], f.composite == nil else { continue }
                if f.outstanding != nil {
                    let timedOut = (f.taskDeadline ?? .infinity) <= now
                    guard timedOut || (f.heartbeatDeadline ?? .infinity) <= now else { continue }
                    progressed = true
                    if let o = withFrame(id, { (me: inout ExecutionRun, f) in me.timeOut(&f, now, heartbeat: !timedOut) }).outcome,
                       let outcome = propagate(id, o, now) { return outcome }
                    continue
                }
                guard f.isRunnable(at: now) else { continue }
                progressed = true
                if let o = run(id, now), let outcome = propagate(id, o, now) { return outcome }
            }
        }
        return nil
    }

    /// The host takes the calls waiting to be made: TaskStarted for each.
    mutating func dispatch(now: Double) -> [(call: TaskCall, submitted: JSONValue?)] {
        var calls: [(call: TaskCall, submitted: JSONValue?)] = []
        for id in frames.keys.sorted() {
            guard var f = frames[id], let call = f.outstanding, !f.taskDispatched else { continue }
            f.taskDispatched = true
            if call.resource.isCallback, let beat = f.taskHeartbeat {
                f.heartbeatDeadline = now + Double(beat)
            }
            record("TaskStarted", "taskStartedEventDetails",
                   [("resourceType", .string(call.resource.resourceType)), ("resource", .string(call.resource.resource))], now, in: &f)
            frames[id] = f
            calls.append((call, f.submittedOutput))
        }
        return calls
    }

    /// TaskSubmitted for call `id` (a `.sync` call the service accepted): after a restart the
    /// host waits on the child it started instead of starting another.
    mutating func submitted(id: Int, token: String? = nil, output: JSONValue, now: Double) {
        guard let fid = frame(waitingOn: id), var f = frames[fid], let call = f.outstanding, token == nil || call.token == token else { return }
        f.submittedOutput = output
        record("TaskSubmitted", "taskSubmittedEventDetails", [
            ("output", .string(output.jsonText)), ("outputDetails", HistoryEvent.notTruncated),
            ("resource", .string(call.resource.resource)), ("resourceType", .string(call.resource.resourceType)),
        ], now, in: &f)
        frames[fid] = f
    }

    /// Whether call `id` is an outstanding callback with `token` (SendTask* may end it).
    func isWaiting(call id: Int, token: String) -> Bool {
        guard let fid = frame(waitingOn: id), let call = frames[fid]?.outstanding else { return false }
        return call.token == token && call.resource.isCallback
    }

    /// SendTaskHeartbeat for call `id`: its heartbeat clock starts again.
    mutating func heartbeat(call id: Int, now: Double) {
        guard let fid = frame(waitingOn: id), let call = frames[fid]?.outstanding, let beat = frames[fid]?.taskHeartbeat,
              call.resource.isCallback else { return }
        frames[fid]?.heartbeatDeadline = now + Double(beat)
    }

    /// The outcome of call `id`. Returns the execution's outcome if it closed; nil when it goes
    /// on (at the next `advance`), waits to retry, or `id` is no call it waits for (a late answer,
    /// or one for a branch that was stopped).
    mutating func complete(id: Int, token: String? = nil, result: TaskResult, now: Double) -> Outcome? {
        guard let fid = frame(waitingOn: id), token == nil || frames[fid]?.outstanding?.token == token else { return nil }
        guard let o = withFrame(fid, { (me: inout ExecutionRun, f) in me.completeTask(&f, result, now) }).outcome else { return nil }
        return propagate(fid, o, now)
    }

    /// Closes the execution for its TimeoutSeconds: ExecutionTimedOut.
    mutating func timeOutExecution(now: Double) {
        frames.removeAll()
        record("ExecutionTimedOut", "executionTimedOutEventDetails", [("error", .string("States.Timeout"))], now)
    }

    /// Closes the execution as StopExecution does: an ExecutionAborted event.
    mutating func abort(error: String?, cause: String?, now: Double) {
        frames.removeAll()
        record("ExecutionAborted", "executionAbortedEventDetails", Self.errorDetails(error, cause), now)
    }

    /// An event's `error` and `cause`, each only when given.
    static func errorDetails(_ error: String?, _ cause: String?) -> [(String, JSONValue)] {
        var details: [(String, JSONValue)] = []
        if let error { details.append(("error", .string(error))) }
        if let cause { details.append(("cause", .string(cause))) }
        return details
    }

    // MARK: - Driving frames

    /// The frame whose outstanding call is `callId`.
    private func frame(waitingOn callId: Int) -> Int? {
        frames.first { $0.value.outstanding?.id == callId }?.key
    }

    /// Runs `body` on frame `id` taken out of the table (so it can be changed in place while the
    /// run records events), then puts it back.
    mutating func withFrame(_ id: Int, _ body: (inout ExecutionRun, inout Frame) -> Step) -> Step {
        guard var f = frames.removeValue(forKey: id) else { return .blocked }
        let step = body(&self, &f)
        frames[id] = f
        return step
    }

    /// Steps frame `id` until it waits or its state machine ends (the outcome, not yet handed to
    /// its parent). Children of a Parallel or Map state it enters are started and run here.
    mutating func run(_ id: Int, _ now: Double) -> Outcome? {
        while true {
            switch withFrame(id, { (me: inout ExecutionRun, f) in me.step(&f, now) }) {
            case .next: continue
            case .blocked: return nil
            case .ended(let o): return o
            case .composite:
                guard let end = fill(id, now) else { return nil }   // children still running
                if let o = finishComposite(id, end, now) { return o }
            }
        }
    }

    /// Frame `id`'s state machine ended with `outcome`: its parent collects it (and goes on,
    /// starting more children or leaving its Parallel or Map state), up to the top level, whose
    /// end closes the execution. Returns the execution's outcome if it closed.
    mutating func propagate(_ id: Int, _ outcome: Outcome, _ now: Double) -> Outcome? {
        var id = id, outcome = outcome
        while true {
            guard let child = frames[id], let parent = child.parent else {
                frames.removeAll()
                return finish(outcome, now)
            }
            frames[id] = nil
            guard let end = collect(parent, slot: child.slot, outcome, lastEventId: child.lastEventId, now) ?? fill(parent, now) else {
                return nil   // siblings still running
            }
            if let o = finishComposite(parent, end, now) ?? run(parent, now) {
                id = parent
                outcome = o
                continue
            }
            return nil
        }
    }

    /// Writes the closing event of `outcome`.
    private mutating func finish(_ outcome: Outcome, _ now: Double) -> Outcome {
        switch outcome {
        case .succeeded(let output):
            record("ExecutionSucceeded", "executionSucceededEventDetails",
                   [("output", .string(output.jsonText)), ("outputDetails", HistoryEvent.notTruncated)], now)
        case .failed(let error, let cause):
            record("ExecutionFailed", "executionFailedEventDetails", Self.errorDetails(error, cause), now)
        }
        return outcome
    }

    // MARK: - Events

    /// Appends an execution-level event, which follows the last one.
    private mutating func record(_ type: String, _ detailsKey: String, _ details: [(String, JSONValue)], _ now: Double) {
        append(type, detailsKey, details, now, previous: history.count)
    }

    /// Appends an event of frame `f`, which follows the frame's last event.
    mutating func record(_ type: String, _ detailsKey: String, _ details: [(String, JSONValue)], _ now: Double, in f: inout Frame) {
        append(type, detailsKey, details, now, previous: f.lastEventId)
        f.lastEventId = history.count
    }

    /// `record(_:_:_:_:in:)` for a frame still in the table.
    mutating func record(_ type: String, _ detailsKey: String, _ details: [(String, JSONValue)], _ now: Double, frame id: Int) {
        guard let previous = frames[id]?.lastEventId else { return }
        append(type, detailsKey, details, now, previous: previous)
        frames[id]?.lastEventId = history.count
    }

    mutating func append(_ type: String, _ detailsKey: String, _ details: [(String, JSONValue)], _ now: Double, previous: Int) {
        history.append(HistoryEvent(id: history.count + 1, previousEventId: previous, timestamp: now, type: type,
                                    detailsKey: detailsKey, details: details))
    }

    private mutating func entered(_ state: StateMachineDefinition.State, _ now: Double, in f: inout Frame) {
        record(state.kind.typeName + "StateEntered", "stateEnteredEventDetails",
               [("name", .string(state.name)), ("input", .string(f.input.jsonText)), ("inputDetails", HistoryEvent.notTruncated)], now, in: &f)
    }

    /// The Exited event; a state's output past 256 KiB fails it instead (`States.DataLimitExceeded`).
    mutating func exited(_ state: StateMachineDefinition.State, output: JSONValue, _ now: Double, in f: inout Frame) throws(StateFailure) {
        let text = output.jsonText
        if text.utf8.count > Self.payloadLimit { throw Self.tooLarge(state) }
        record(state.kind.typeName + "StateExited", "stateExitedEventDetails",
               [("name", .string(state.name)), ("output", .string(text)), ("outputDetails", HistoryEvent.notTruncated)], now, in: &f)
    }

    /// "Maximum input or output size for a task, state, or execution: 256 KiB of data as a UTF-8
    /// encoded string" (Step Functions' quotas).
    static let payloadLimit = 262_144

    /// AWS's error for a result past `payloadLimit` (its text as AWS writes it, unprefixed).
    static func tooLarge(_ state: StateMachineDefinition.State) -> StateFailure {
        StateFailure(error: "States.DataLimitExceeded",
                     cause: "The state/task '\(state.name)' returned a result with a size exceeding the maximum number of bytes service limit.")
    }

    static let historyFull = Outcome.failed(error: "States.Runtime",
                                            cause: "The execution reached the maximum number of history events (\(historyLimit)).")

    // MARK: - One state

    /// Runs frame `f`'s current state as far as it goes at `now`.
    private mutating func step(_ f: inout Frame, _ now: Double) -> Step {
        guard f.isRunnable(at: now) else { return .blocked }
        guard let state = f.machine.states[f.current] else {
            return .ended(.failed(error: "States.Runtime", cause: "State '\(f.current)' does not exist."))
        }
        if f.resumeAt != nil {
            // A Wait has ended, or a retry's delay.
            f.resumeAt = nil
            switch state.kind {
            case .wait(let wait):
                return leaving(wait, state, now, &f)
            case .task(let task):
                if events + 5 > Self.historyLimit { return .ended(Self.historyFull) }
                // Parameters are evaluated again: `$$.State.RetryCount` has moved on.
                return call(task, state, now, &f)
            case .parallel, .map:
                return startComposite(state, now, &f)
            default:
                break
            }
        }
        // A Pass, Choice or Succeed state writes Entered and Exited events, a Fail state only Entered;
        // one more event must fit to close the execution.
        let cost: Int
        switch state.kind {
        case .fail: cost = 1
        case .pass, .succeed, .choice, .wait: cost = 2
        case .task: cost = 5   // Entered, Scheduled, Started, Succeeded, Exited
        case .parallel, .map: cost = 4   // Entered, Started, Succeeded, Exited (their insides check for themselves)
        }
        if events + cost + 1 > Self.historyLimit { return .ended(Self.historyFull) }
        entered(state, now, in: &f)
        f.enteredEventId = events
        f.enteredAt = now
        do {
            switch state.kind {
            case .pass(let pass):
                let output = try run(pass, state: state.name, now: now, f)
                try exited(state, output: output, now, in: &f)
                return moveOn(state, output, &f)
            case .succeed(let inputPath, let outputPath):
                let effective = try Self.select(inputPath, from: f.input)
                let output = try Self.select(outputPath, from: effective)
                try exited(state, output: output, now, in: &f)
                return .ended(.succeeded(output))
            case .fail(let error, let cause):
                return .ended(.failed(error: error, cause: cause))
            case .choice(let choice):
                // InputPath, the rules over the effective input, then OutputPath.
                let effective = try Self.select(choice.inputPath, from: f.input)
                let next = try choice.next(for: effective, context: contextObject(state: state.name, now: now, f))
                f.input = try Self.select(choice.outputPath, from: effective)
                try exited(state, output: f.input, now, in: &f)
                f.current = next
                return .next
            case .parallel, .map:
                f.stateInput = f.input
                f.retryCounts = Array(repeating: 0, count: state.kind.compositeFlow?.retriers.count ?? 0)
                return startComposite(state, now, &f)
            case .task(let task):
                f.stateInput = f.input
                f.retryCounts = Array(repeating: 0, count: task.retriers.count)
                return call(task, state, now, &f)
            case .wait(let wait):
                f.input = try Self.select(wait.inputPath, from: f.input)
                let until = try Self.waitEnd(wait.duration, input: f.input, entered: now)
                if until > now {
                    f.resumeAt = until
                    return .blocked
                }
                return leaving(wait, state, now, &f)
            }
        } catch {
            return .ended(failure(error, state, f))
        }
    }

    /// After a state's Exited event: on to `Next`, or the end of the frame's state machine.
    func moveOn(_ state: StateMachineDefinition.State, _ output: JSONValue, _ f: inout Frame) -> Step {
        guard let next = state.next else { return .ended(.succeeded(output)) }
        f.current = next
        f.input = output
        return .next
    }

    /// A Wait state's end: OutputPath over its effective input, then on.
    private mutating func leaving(_ wait: StateMachineDefinition.Wait, _ state: StateMachineDefinition.State, _ now: Double,
                                  _ f: inout Frame) -> Step {
        do {
            let output = try Self.select(wait.outputPath, from: f.input)
            try exited(state, output: output, now, in: &f)
            return moveOn(state, output, &f)
        } catch {
            return .ended(failure(error, state, f))
        }
    }

    // MARK: - Task states

    /// A Task state's call (on entry, and again for each retry): its parameters, then TaskScheduled.
    private mutating func call(_ task: TaskState, _ state: StateMachineDefinition.State, _ now: Double, _ f: inout Frame) -> Step {
        do {
            try prepare(task, state, now, &f)
        } catch {
            return .ended(failure(error, state, f))
        }
        schedule(task, now, &f)
        return .blocked
    }

    /// The call's parameters: InputPath, then Parameters, over the state's input.
    private func prepare(_ task: TaskState, _ state: StateMachineDefinition.State, _ now: Double, _ f: inout Frame) throws(StateFailure) {
        let effective = try Self.select(task.inputPath, from: f.stateInput)
        f.taskTimeout = try task.timeoutPath.map { p throws(StateFailure) in try Self.seconds(p, "TimeoutSecondsPath", in: effective) } ?? task.timeoutSeconds
        f.taskHeartbeat = try task.heartbeatPath.map { p throws(StateFailure) in try Self.seconds(p, "HeartbeatSecondsPath", in: effective) } ?? task.heartbeatSeconds
        // The call gets the next id (`schedule`), so its token is made here; a callback's
        // Parameters see it as `$$.Task.Token`.
        f.taskToken = Self.taskToken(executionArn: context.executionArn, call: nextTaskId)
        let token = task.resource.isCallback ? f.taskToken : nil
        f.taskParameters = try task.parameters?.evaluate(input: effective, context: contextObject(state: state.name, now: now, f, token: token)) ?? effective
    }

    /// Writes TaskScheduled and makes the call outstanding.
    private mutating func schedule(_ task: TaskState, _ now: Double, _ f: inout Frame) {
        var details: [(String, JSONValue)] = [
            ("resourceType", .string(task.resource.resourceType)), ("resource", .string(task.resource.resource)),
            ("region", .string(Self.region(of: context.stateMachineArn))), ("parameters", .string(f.taskParameters.jsonText)),
        ]
        if let t = f.taskTimeout { details.append(("timeoutInSeconds", .int(Int64(t)))) }
        if let h = f.taskHeartbeat { details.append(("heartbeatInSeconds", .int(Int64(h)))) }
        record("TaskScheduled", "taskScheduledEventDetails", details, now, in: &f)
        f.outstanding = TaskCall(id: nextTaskId, resource: task.resource, parameters: f.taskParameters,
                                 token: f.taskToken ?? Self.taskToken(executionArn: context.executionArn, call: nextTaskId))
        f.taskToken = nil
        f.heartbeatDeadline = nil
        f.submittedOutput = nil
        nextTaskId += 1
        f.taskDispatched = false
        f.taskDeadline = f.taskTimeout.map { now + Double($0) }
    }

    /// The region field of an ARN.
    static func region(of arn: String) -> String {
        let parts = arn.split(separator: ":", omittingEmptySubsequences: false)
        return parts.count > 3 ? String(parts[3]) : ""
    }

    /// The answer to frame `f`'s outstanding call.
    private mutating func completeTask(_ f: inout Frame, _ result: TaskResult, _ now: Double) -> Step {
        guard let call = f.outstanding, let state = f.machine.states[f.current], case .task(let task) = state.kind else { return .blocked }
        f.outstanding = nil
        f.taskDeadline = nil
        f.heartbeatDeadline = nil
        let names: [(String, JSONValue)] = [("resourceType", .string(call.resource.resourceType)), ("resource", .string(call.resource.resource))]
        var result = result
        if case .success(let value) = result, value.jsonText.utf8.count > Self.payloadLimit {
            let e = Self.tooLarge(state)
            result = .failure(error: e.error, cause: e.cause)
        }
        switch result {
        case .success(let value):
            record("TaskSucceeded", "taskSucceededEventDetails",
                   names + [("output", .string(value.jsonText)), ("outputDetails", HistoryEvent.notTruncated)], now, in: &f)
            do {
                let selected = try task.resultSelector?.evaluate(input: value, context: contextObject(state: state.name, now: now, f)) ?? value
                let combined = try Self.place(selected, at: task.resultPath, into: f.stateInput)
                let output = try Self.select(task.outputPath, from: combined)
                try exited(state, output: output, now, in: &f)
                return moveOn(state, output, &f)
            } catch {
                return .ended(failure(error, state, f))
            }
        case .failure(let error, let cause):
            record("TaskFailed", "taskFailedEventDetails", [("error", .string(error)), ("cause", .string(cause))] + names, now, in: &f)
            return handle(error: error, cause: cause, task.retriers, task.catchers, state, now, &f)
        }
    }

    /// Frame `f`'s outstanding call ran past TimeoutSeconds, or a callback task's heartbeat did
    /// not come within HeartbeatSeconds: TaskTimedOut, then Retry and Catch as for any error
    /// (`States.Timeout`; a heartbeat's is also `States.HeartbeatTimeout` to them). AWS records a
    /// heartbeat's TaskTimedOut with no cause (LocalStack's test_heartbeats snapshot).
    private mutating func timeOut(_ f: inout Frame, _ now: Double, heartbeat: Bool = false) -> Step {
        guard let call = f.outstanding, let state = f.machine.states[f.current], case .task(let task) = state.kind else { return .blocked }
        f.outstanding = nil
        f.taskDeadline = nil
        f.heartbeatDeadline = nil
        let cause = heartbeat ? nil : "The task did not complete within \(f.taskTimeout ?? 0) seconds."
        record("TaskTimedOut", "taskTimedOutEventDetails",
               [("resourceType", .string(call.resource.resourceType)), ("resource", .string(call.resource.resource))]
                   + Self.errorDetails("States.Timeout", cause), now, in: &f)
        return handle(error: "States.Timeout", cause: cause, task.retriers, task.catchers, state, now, &f, heartbeat: heartbeat)
    }

    /// An error in a Task, Parallel or Map state: the first retrier naming it retries (after
    /// its delay) until its attempts run out; then the first catcher naming it takes the frame
    /// on with the error at its ResultPath; else the frame's state machine fails with it.
    mutating func handle(error: String, cause: String?, _ retriers: [Retrier], _ catchers: [Catcher],
                         _ state: StateMachineDefinition.State, _ now: Double, _ f: inout Frame, heartbeat: Bool = false) -> Step {
        if let i = retriers.firstIndex(where: { ErrorMatch.matches($0.errorEquals, error, heartbeat: heartbeat) }),
           f.retryCounts[i] < retriers[i].maxAttempts {
            let delay = retriers[i].delay(attempt: f.retryCounts[i], random: Double.random(in: 0..<1))
            f.retryCounts[i] += 1
            f.resumeAt = now + delay
            return .blocked
        }
        if let c = catchers.first(where: { ErrorMatch.matches($0.errorEquals, error, heartbeat: heartbeat) }) {
            var caught = JSONObject([("Error", .string(error))])
            if let cause { caught["Cause"] = .string(cause) }
            let errorOutput = JSONValue.object(caught)
            do {
                let output = try Self.place(errorOutput, at: c.resultPath, into: f.stateInput)
                try exited(state, output: output, now, in: &f)
                f.current = c.next
                f.input = output
                return .next
            } catch {
                return .ended(failure(error, state, f))
            }
        }
        return .ended(.failed(error: error, cause: cause))
    }

    // MARK: - Data flow

    /// Faults of the data flow itself (a path, an intrinsic, a ResultPath, a Choice without
    /// a match): they end the execution at any depth, as they do at the top level, instead of
    /// reaching an enclosing Parallel's or Map's Retry and Catch.
    static let terminal: Set<String> = ["States.Runtime", "States.IntrinsicFailure", "States.ResultPathMatchFailure",
                                        "States.ParameterPathFailure", "States.NoChoiceMatched", "States.DataLimitExceeded"]

    /// ResultPath: `result` placed into `input` (null keeps the input as it is).
    static func place(_ result: JSONValue, at setting: StateMachineDefinition.PathSetting, into input: JSONValue) throws(StateFailure) -> JSONValue {
        switch setting {
        case .null:
            return input
        case .path(let path):
            guard let merged = path.assigning(result, into: input) else {
                throw StateFailure(error: "States.ResultPathMatchFailure",
                                   cause: "Unable to apply ReferencePath \(path.text) to input '\(input.jsonText)'")
            }
            return merged
        }
    }

    /// Step Functions prefixes a state's runtime fault with where it happened (not a result that
    /// was too large, whose text AWS writes alone).
    func failure(_ error: StateFailure, _ state: StateMachineDefinition.State, _ f: Frame) -> Outcome {
        let e = prefixed(error, state, f)
        return .failed(error: e.error, cause: e.cause)
    }

    /// `error` with the state's prefix on its cause.
    func prefixed(_ error: StateFailure, _ state: StateMachineDefinition.State, _ f: Frame) -> StateFailure {
        if error.error == "States.DataLimitExceeded" { return error }
        return StateFailure(error: error.error,
                            cause: "An error occurred while executing the state '\(state.name)' (entered at the event id #\(f.enteredEventId)). \(error.cause)")
    }

    /// TimeoutSecondsPath or HeartbeatSecondsPath read from the effective input: a positive
    /// integer (the texts are ours, in the SecondsPath errors' words).
    static func seconds(_ p: JSONPath, _ field: String, in input: JSONValue) throws(StateFailure) -> Int {
        guard let value = p.evaluate(input) else {
            throw StateFailure(error: "States.Runtime", cause: "The \(field) parameter does not reference an input value: \(p.text)")
        }
        guard let n = value.exactInteger, n >= 1, n <= Int64(TaskCompiler.maxInteger) else {
            throw StateFailure(error: "States.Runtime",
                               cause: "The \(field) parameter must reference a positive integer: \(p.text) == \(value.jsonText)")
        }
        return Int(n)
    }

    /// When a Wait state entered at `entered` ends (epoch seconds).
    static func waitEnd(_ duration: StateMachineDefinition.Wait.Duration, input: JSONValue, entered: Double) throws(StateFailure) -> Double {
        func instant(_ t: Timestamp) -> Double { Double(t.seconds) + Double(t.nanos) / 1e9 }
        switch duration {
        case .seconds(let n):
            return entered + Double(n)
        case .timestamp(let t):
            return instant(t)
        case .secondsPath(let p):
            // The texts of LocalStack's engine (moto's port), which follows AWS's wording.
            guard let value = p.evaluate(input) else {
                throw StateFailure(error: "States.Runtime", cause: "The SecondsPath parameter does not reference an input value: \(p.text)")
            }
            guard let seconds = value.exactInteger else {
                throw StateFailure(error: "States.Runtime", cause: "The SecondsPath parameter cannot be parsed as a long value: \(p.text) == \(value.jsonText)")
            }
            guard seconds >= 0 else {
                throw StateFailure(error: "States.Runtime", cause: "The SecondsPath parameter references a negative value: \(p.text) == \(value.jsonText)")
            }
            return entered + Double(min(seconds, StateMachineDefinition.maxWaitSeconds))
        case .timestampPath(let p):
            // AWS's text (recorded by LocalStack's snapshot tests).
            let value = p.evaluate(input)
            guard case .string(let text)? = value, let t = Timestamp(text) else {
                throw StateFailure(error: "States.Runtime",
                                   cause: "The TimestampPath parameter does not reference a valid ISO-8601 extended offset date-time format string: \(p.text) == \(value?.jsonText ?? "null")")
            }
            return instant(t)
        }
    }

    /// ASL's Pass data flow: InputPath → Parameters → Result → ResultPath → OutputPath.
    private func run(_ pass: StateMachineDefinition.Pass, state: String, now: Double, _ f: Frame) throws(StateFailure) -> JSONValue {
        var effective = try Self.select(pass.inputPath, from: f.input)
        if let parameters = pass.parameters {
            effective = try parameters.evaluate(input: effective, context: contextObject(state: state, now: now, f))
        }
        let result = pass.result ?? effective
        return try Self.select(pass.outputPath, from: try Self.place(result, at: pass.resultPath, into: f.input))
    }

    /// InputPath/OutputPath: the node the path names, or `{}` for an explicit null.
    static func select(_ setting: StateMachineDefinition.PathSetting, from value: JSONValue) throws(StateFailure) -> JSONValue {
        switch setting {
        case .null:
            return .object(JSONObject())
        case .path(let path):
            guard let node = path.evaluate(value) else {
                throw StateFailure(error: "States.Runtime", cause: "Invalid path '\(path.text)' : No results for path: \(path.bracketed)")
            }
            return node
        }
    }

    /// The context object `$$` as frame `f`'s current state sees it on entry.
    func contextObject(state: String, now: Double, _ f: Frame, item: (index: Int, value: JSONValue)? = nil, token: String? = nil) -> JSONValue {
        var execution = JSONObject([
            ("Id", .string(context.executionArn)),
            ("Input", context.input),
            ("Name", .string(context.name)),
        ])
        if let role = context.roleArn { execution["RoleArn"] = .string(role) }
        execution["StartTime"] = .string(WorkflowEngine.isoTimestamp(context.startDate))
        var top = JSONObject([
            ("Execution", .object(execution)),
            ("State", .object(JSONObject([
                ("EnteredTime", .string(WorkflowEngine.isoTimestamp(f.enteredAt))),
                ("Name", .string(state)),
                ("RetryCount", .int(Int64(f.retryCounts.reduce(0, +)))),
            ]))),
            ("StateMachine", .object(JSONObject([
                ("Id", .string(context.stateMachineArn)),
                ("Name", .string(context.stateMachineName)),
            ]))),
        ])
        // In a Task state's Parameters: its call's token.
        if let token { top["Task"] = .object(JSONObject([("Token", .string(token))])) }
        // In a Map's ItemSelector: the item and its index.
        if let item {
            top["Map"] = .object(JSONObject([("Item", .object(JSONObject([("Index", .int(Int64(item.index))), ("Value", item.value)])))]))
        }
        return .object(top)
    }
}

// MARK: - Persistence

extension ExecutionRun {
    /// Everything needed to resume the run after a restart, as JSON.
    func snapshot() -> JSONValue {
        var o = JSONObject()
        o["document"] = document
        o["context"] = .object(JSONObject([
            ("executionArn", .string(context.executionArn)), ("name", .string(context.name)), ("input", context.input),
            ("roleArn", context.roleArn.map(JSONValue.string) ?? .null), ("startDate", .double(context.startDate)),
            ("stateMachineArn", .string(context.stateMachineArn)), ("stateMachineName", .string(context.stateMachineName)),
        ]))
        o["history"] = .array(history.map { $0.snapshot() })
        o["frames"] = .array(frames.keys.sorted().map { id in frames[id]!.snapshot(id: id) })
        o["nextFrameId"] = .int(Int64(nextFrameId))
        o["nextTaskId"] = .int(Int64(nextTaskId))
        return .object(o)
    }

    /// A run restored from `snapshot()`; nil when the snapshot does not read back.
    init?(snapshot s: JSONValue) {
        guard let document = s["document"], let definition = try? StateMachineDefinition(document),
              let c = s["context"], let arn = c["executionArn"]?.stringValue, let name = c["name"]?.stringValue,
              let startDate = c["startDate"]?.doubleValue, let machineArn = c["stateMachineArn"]?.stringValue,
              let machineName = c["stateMachineName"]?.stringValue,
              let history = s["history"]?.arrayValue?.compactMap(HistoryEvent.init(snapshot:)) else { return nil }
        self.definition = definition
        self.document = document
        self.context = ExecutionContext(executionArn: arn, name: name, input: c["input"] ?? .null, roleArn: c["roleArn"]?.stringValue,
                                        startDate: startDate, stateMachineArn: machineArn, stateMachineName: machineName)
        self.history = history
        frames = [:]
        // A snapshot from before frames held the top level's fields at its own top level.
        var rows: [JSONValue]
        if let list = s["frames"]?.arrayValue {
            rows = list
        } else {
            guard var top = s.objectValue else { return nil }
            top["id"] = .int(0)
            top["lastEventId"] = .int(Int64(history.count))
            rows = [.object(top)]
        }
        // Parents come before their children (ids grow), so each child finds its machine.
        for row in rows.sorted(by: { ($0["id"]?.doubleValue ?? 0) < ($1["id"]?.doubleValue ?? 0) }) {
            guard let id = row["id"]?.doubleValue.map({ Int($0) }) else { return nil }
            let parent = row["parent"]?.doubleValue.map { Int($0) }
            let slot = Int(row["slot"]?.doubleValue ?? 0)
            let machine: StateMachineDefinition
            if let parent {
                guard let p = frames[parent], let state = p.machine.states[p.current] else { return nil }
                switch state.kind {
                case .parallel(let par) where slot < par.branches.count: machine = par.branches[slot]
                case .map(let m): machine = m.processor
                default: return nil
                }
            } else {
                machine = definition
            }
            guard let frame = Frame(snapshot: row, machine: machine, parent: parent, slot: slot, context: context) else { return nil }
            frames[id] = frame
        }
        guard frames[0] != nil else { return nil }
        nextFrameId = Int(s["nextFrameId"]?.doubleValue ?? 1)
        nextTaskId = Int(s["nextTaskId"]?.doubleValue ?? 1)
    }

    /// After a restart a call the host had taken may or may not have been made: it is made
    /// again (at least once), with a new TaskStarted.
    mutating func redispatchAfterRestart() {
        for id in frames.keys {
            guard let call = frames[id]?.outstanding else { continue }
            // A callback the service had taken waits for its token: nothing to make again.
            if call.resource.isCallback && frames[id]?.submittedOutput != nil { continue }
            frames[id]?.taskDispatched = false
        }
    }
}

extension Frame {
    func snapshot(id: Int) -> JSONValue {
        var o = JSONObject()
        o["id"] = .int(Int64(id))
        if let parent { o["parent"] = .int(Int64(parent)) }
        o["slot"] = .int(Int64(slot))
        o["current"] = .string(current)
        o["input"] = input
        o["resumeAt"] = resumeAt.map(JSONValue.double) ?? .null
        o["enteredEventId"] = .int(Int64(enteredEventId))
        o["enteredAt"] = .double(enteredAt)
        o["lastEventId"] = .int(Int64(lastEventId))
        if let call = outstanding {
            o["outstanding"] = .object(JSONObject([("id", .int(Int64(call.id))), ("resource", .string(call.resource.arn)),
                                                   ("parameters", call.parameters), ("token", .string(call.token))]))
        }
        if let heartbeatDeadline { o["heartbeatDeadline"] = .double(heartbeatDeadline) }
        if let taskTimeout { o["taskTimeout"] = .int(Int64(taskTimeout)) }
        if let taskHeartbeat { o["taskHeartbeat"] = .int(Int64(taskHeartbeat)) }
        o["taskDispatched"] = .bool(taskDispatched)
        if let submittedOutput { o["submittedOutput"] = submittedOutput }
        o["taskDeadline"] = taskDeadline.map(JSONValue.double) ?? .null
        o["stateInput"] = stateInput
        o["taskParameters"] = taskParameters
        o["retryCounts"] = .array(retryCounts.map { .int(Int64($0)) })
        if let composite { o["composite"] = composite.snapshot() }
        return .object(o)
    }

    init?(snapshot s: JSONValue, machine: StateMachineDefinition, parent: Int?, slot: Int, context: ExecutionContext) {
        guard let current = s["current"]?.stringValue else { return nil }
        self.init(machine: machine, parent: parent, slot: slot, input: s["input"] ?? .null, follows: Int(s["lastEventId"]?.doubleValue ?? 0))
        self.current = current
        resumeAt = s["resumeAt"]?.doubleValue
        enteredEventId = Int(s["enteredEventId"]?.doubleValue ?? 0)
        enteredAt = s["enteredAt"]?.doubleValue ?? 0
        if let o = s["outstanding"], let id = o["id"]?.doubleValue, let r = o["resource"]?.stringValue.flatMap(TaskResource.init) {
            let token = o["token"]?.stringValue ?? ExecutionRun.taskToken(executionArn: context.executionArn, call: Int(id))
            outstanding = ExecutionRun.TaskCall(id: Int(id), resource: r, parameters: o["parameters"] ?? .null, token: token)
        }
        heartbeatDeadline = s["heartbeatDeadline"]?.doubleValue
        taskTimeout = s["taskTimeout"]?.doubleValue.map { Int($0) }
        taskHeartbeat = s["taskHeartbeat"]?.doubleValue.map { Int($0) }
        taskDispatched = s["taskDispatched"] == .bool(true)
        submittedOutput = s["submittedOutput"]
        taskDeadline = s["taskDeadline"]?.doubleValue
        stateInput = s["stateInput"] ?? .null
        taskParameters = s["taskParameters"] ?? .null
        retryCounts = s["retryCounts"]?.arrayValue?.compactMap { $0.doubleValue.map { Int($0) } } ?? []
        if let c = s["composite"] {
            guard let run = CompositeRun(snapshot: c) else { return nil }
            composite = run
        }
    }
}
