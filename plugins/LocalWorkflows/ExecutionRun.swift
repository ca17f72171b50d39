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

/// One execution's progress through its state machine, advanced one state per `step`, so the
/// engine can leave an execution RUNNING between calls the way the real service does.
struct ExecutionRun: Sendable {
    /// Step Functions fails a Standard execution whose history reaches 25,000 events
    /// (observed: error `States.Runtime`, cause "The execution reached the maximum number of
    /// history events (25000).").
    static let historyLimit = 25_000

    enum Outcome: Equatable {
        case succeeded(JSONValue)
        case failed(error: String?, cause: String?)
    }

    let definition: StateMachineDefinition
    /// The definition as written, kept so a persisted execution resumes with the definition it
    /// started with (an UpdateStateMachine since does not change it).
    let document: JSONValue
    let context: ExecutionContext
    private(set) var current: String
    private(set) var input: JSONValue
    /// The execution's history so far, as GetExecutionHistory reports it; ExecutionStarted is
    /// event 1.
    private(set) var history: [HistoryEvent]
    var events: Int { history.count }
    /// While a Wait state waits: when it ends (epoch seconds). The execution is RUNNING and
    /// `step` does nothing before then.
    private(set) var resumeAt: Double?
    /// The event id the current state was entered at, for its runtime errors.
    private var enteredEventId = 0
    /// When the current state was entered (`$$.State.EnteredTime`).
    private var enteredAt: Double = 0
    /// While a Parallel branch or Map iteration runs inline: its state machine.
    private var inline: StateMachineDefinition?
    /// The event a branch's or iteration's first state follows (its ParallelStateStarted or
    /// MapIterationStarted), as their histories show; nil: the event before.
    private var anchor: Int?

    /// The service call this execution waits for, while in a Task state.
    private(set) var outstanding: TaskCall?
    /// Whether the host has taken `outstanding` (TaskStarted is then written).
    private(set) var taskDispatched = false
    /// When the outstanding call times out (the Task's TimeoutSeconds), if it has a limit.
    private(set) var taskDeadline: Double?
    /// The current Task state's raw input (ResultPath and Catch place their results into it),
    /// and its parameters, kept for retries.
    private var stateInput: JSONValue = .null
    private var taskParameters: JSONValue = .null
    /// Retries so far, per retrier of the current Task state.
    private var retryCounts: [Int] = []
    private var nextTaskId = 1

    /// One call of a Task state's resource.
    struct TaskCall: Sendable {
        let id: Int
        let resource: TaskResource
        let parameters: JSONValue
    }

    /// `inputText` is the input exactly as StartExecution received it (ExecutionStarted echoes it).
    init(definition: StateMachineDefinition, document: JSONValue, context: ExecutionContext, inputText: String) {
        self.definition = definition
        self.document = document
        self.context = context
        self.current = definition.startAt
        self.input = context.input
        var details: [(String, JSONValue)] = [("input", .string(inputText)), ("inputDetails", HistoryEvent.notTruncated)]
        if let role = context.roleArn { details.append(("roleArn", .string(role))) }
        history = [HistoryEvent(id: 1, previousEventId: 0, timestamp: context.startDate, type: "ExecutionStarted",
                                detailsKey: "executionStartedEventDetails", details: details)]
    }

    /// Runs the current state. Returns nil when the execution moved on to another state or is
    /// waiting (`resumeAt` is then set), or the outcome when it closed (its closing event is
    /// then in the history).
    mutating func step(now: Double) -> Outcome? {
        guard let outcome = advance(now: now) else { return nil }
        return finish(outcome, now)
    }

    /// Writes the closing event of `outcome`.
    private mutating func finish(_ outcome: Outcome, _ now: Double) -> Outcome {
        switch outcome {
        case .succeeded(let output):
            record("ExecutionSucceeded", "executionSucceededEventDetails",
                   [("output", .string(output.jsonText)), ("outputDetails", HistoryEvent.notTruncated)], now)
        case .failed(let error, let cause):
            var details: [(String, JSONValue)] = []
            if let error { details.append(("error", .string(error))) }
            if let cause { details.append(("cause", .string(cause))) }
            record("ExecutionFailed", "executionFailedEventDetails", details, now)
        }
        return outcome
    }

    /// When the execution times out (top-level TimeoutSeconds), if it has a limit.
    var deadline: Double? { definition.timeoutSeconds.map { context.startDate + Double($0) } }

    /// Closes the execution for its TimeoutSeconds: ExecutionTimedOut.
    mutating func timeOutExecution(now: Double) {
        resumeAt = nil
        outstanding = nil
        taskDeadline = nil
        record("ExecutionTimedOut", "executionTimedOutEventDetails", [("error", .string("States.Timeout"))], now)
    }

    /// Closes the execution as StopExecution does: an ExecutionAborted event.
    mutating func abort(error: String?, cause: String?, now: Double) {
        var details: [(String, JSONValue)] = []
        if let error { details.append(("error", .string(error))) }
        if let cause { details.append(("cause", .string(cause))) }
        resumeAt = nil
        record("ExecutionAborted", "executionAbortedEventDetails", details, now)
    }

    /// Appends an event that follows the last one.
    private mutating func record(_ type: String, _ detailsKey: String, _ details: [(String, JSONValue)], _ now: Double) {
        // A state entered straight after ExecutionStarted points at no event (0), as in the
        // service's histories; every other event points at the one before it.
        var previous = history.count == 1 && type.hasSuffix("StateEntered") ? 0 : history.count
        if let a = anchor, type.hasSuffix("StateEntered") {
            previous = a
            anchor = nil
        }
        history.append(HistoryEvent(id: history.count + 1, previousEventId: previous, timestamp: now, type: type,
                                    detailsKey: detailsKey, details: details))
    }

    private mutating func entered(_ state: StateMachineDefinition.State, _ now: Double) {
        record(state.kind.typeName + "StateEntered", "stateEnteredEventDetails",
               [("name", .string(state.name)), ("input", .string(input.jsonText)), ("inputDetails", HistoryEvent.notTruncated)], now)
    }

    private mutating func exited(_ state: StateMachineDefinition.State, output: JSONValue, _ now: Double) {
        record(state.kind.typeName + "StateExited", "stateExitedEventDetails",
               [("name", .string(state.name)), ("output", .string(output.jsonText)), ("outputDetails", HistoryEvent.notTruncated)], now)
    }

    private mutating func advance(now: Double) -> Outcome? {
        guard let state = (inline ?? definition).states[current] else {
            return .failed(error: "States.Runtime", cause: "State '\(current)' does not exist.")
        }
        if let until = resumeAt, case .wait(let wait) = state.kind {
            guard now >= until else { return nil }
            resumeAt = nil
            do {
                return try leave(wait, state, now)
            } catch {
                return failure(error, state)
            }
        }
        if let until = resumeAt, case .task(let task) = state.kind {
            // A retry's wait is over: the call is scheduled again.
            guard now >= until else { return nil }
            resumeAt = nil
            if events + 5 > Self.historyLimit {
                return .failed(error: "States.Runtime", cause: "The execution reached the maximum number of history events (\(Self.historyLimit)).")
            }
            do {
                // Parameters are evaluated again: `$$.State.RetryCount` has moved on.
                try prepare(task, state, now)
            } catch {
                return failure(error, state)
            }
            schedule(task, now)
            return nil
        }
        if let until = resumeAt, case .parallel(let p) = state.kind {
            guard now >= until else { return nil }
            resumeAt = nil
            return composite(state, p.flow, now) { (me: inout ExecutionRun, effective) throws(StateFailure) in try me.runParallel(p, state, effective, now) }
        }
        if let until = resumeAt, case .map(let m) = state.kind {
            guard now >= until else { return nil }
            resumeAt = nil
            return composite(state, m.flow, now) { (me: inout ExecutionRun, effective) throws(StateFailure) in try me.runMap(m, state, effective, now) }
        }
        if outstanding != nil { return nil }
        // A Pass, Choice or Succeed state writes Entered and Exited events, a Fail state only Entered;
        // one more event must fit to close the execution.
        let cost: Int
        switch state.kind {
        case .fail: cost = 1
        case .pass, .succeed, .choice, .wait: cost = 2
        case .task: cost = 5   // Entered, Scheduled, Started, Succeeded, Exited
        case .parallel, .map: cost = 4   // Entered, Started, Succeeded, Exited (their insides check for themselves)
        }
        if events + cost + 1 > Self.historyLimit {
            return .failed(error: "States.Runtime", cause: "The execution reached the maximum number of history events (\(Self.historyLimit)).")
        }
        entered(state, now)
        enteredEventId = events
        enteredAt = now
        do {
            switch state.kind {
            case .pass(let pass):
                let output = try run(pass, state: state.name, now: now)
                exited(state, output: output, now)
                guard let next = state.next else { return .succeeded(output) }
                current = next
                input = output
                return nil
            case .succeed(let inputPath, let outputPath):
                let effective = try Self.select(inputPath, from: input)
                let output = try Self.select(outputPath, from: effective)
                exited(state, output: output, now)
                return .succeeded(output)
            case .fail(let error, let cause):
                return .failed(error: error, cause: cause)
            case .choice(let choice):
                // InputPath, the rules over the effective input, then OutputPath.
                let effective = try Self.select(choice.inputPath, from: input)
                let next = try choice.next(for: effective, context: contextObject(state: state.name, now: now))
                input = try Self.select(choice.outputPath, from: effective)
                exited(state, output: input, now)
                current = next
                return nil
            case .parallel(let p):
                stateInput = input
                retryCounts = Array(repeating: 0, count: p.flow.retriers.count)
                return composite(state, p.flow, now) { (me: inout ExecutionRun, effective) throws(StateFailure) in try me.runParallel(p, state, effective, now) }
            case .map(let m):
                stateInput = input
                retryCounts = Array(repeating: 0, count: m.flow.retriers.count)
                return composite(state, m.flow, now) { (me: inout ExecutionRun, effective) throws(StateFailure) in try me.runMap(m, state, effective, now) }
            case .task(let task):
                stateInput = input
                retryCounts = Array(repeating: 0, count: task.retriers.count)
                try prepare(task, state, now)
                schedule(task, now)
                return nil
            case .wait(let wait):
                input = try Self.select(wait.inputPath, from: input)
                let until = try Self.waitEnd(wait.duration, input: input, entered: now)
                if until > now {
                    resumeAt = until
                    return nil
                }
                return try leave(wait, state, now)
            }
        } catch {
            return failure(error, state)
        }
    }

    /// The call's parameters: InputPath, then Parameters, over the state's input.
    private mutating func prepare(_ task: TaskState, _ state: StateMachineDefinition.State, _ now: Double) throws(StateFailure) {
        let effective = try Self.select(task.inputPath, from: stateInput)
        taskParameters = try task.parameters?.evaluate(input: effective, context: contextObject(state: state.name, now: now)) ?? effective
    }

    /// Writes TaskScheduled and makes the call outstanding.
    private mutating func schedule(_ task: TaskState, _ now: Double) {
        var details: [(String, JSONValue)] = [
            ("resourceType", .string(task.resource.resourceType)), ("resource", .string(task.resource.resource)),
            ("region", .string(Self.region(of: context.stateMachineArn))), ("parameters", .string(taskParameters.jsonText)),
        ]
        if let t = task.timeoutSeconds { details.append(("timeoutInSeconds", .int(Int64(t)))) }
        if let h = task.heartbeatSeconds { details.append(("heartbeatInSeconds", .int(Int64(h)))) }
        record("TaskScheduled", "taskScheduledEventDetails", details, now)
        outstanding = TaskCall(id: nextTaskId, resource: task.resource, parameters: taskParameters)
        submittedOutput = nil
        nextTaskId += 1
        taskDispatched = false
        taskDeadline = task.timeoutSeconds.map { now + Double($0) }
    }

    /// The region field of an ARN.
    static func region(of arn: String) -> String {
        let parts = arn.split(separator: ":", omittingEmptySubsequences: false)
        return parts.count > 3 ? String(parts[3]) : ""
    }

    /// The host takes the outstanding call: TaskStarted.
    mutating func dispatch(now: Double) -> TaskCall? {
        guard let call = outstanding, !taskDispatched else { return nil }
        taskDispatched = true
        record("TaskStarted", "taskStartedEventDetails",
               [("resourceType", .string(call.resource.resourceType)), ("resource", .string(call.resource.resource))], now)
        return call
    }

    /// What the service answered when it accepted the outstanding `.sync` call (TaskSubmitted):
    /// after a restart the host waits on that child instead of starting another.
    private(set) var submittedOutput: JSONValue?

    /// TaskSubmitted for call `id` (a `.sync` call the service accepted).
    mutating func submitted(id: Int, output: JSONValue, now: Double) {
        guard let call = outstanding, call.id == id else { return }
        submittedOutput = output
        record("TaskSubmitted", "taskSubmittedEventDetails", [
            ("output", .string(output.jsonText)), ("outputDetails", HistoryEvent.notTruncated),
            ("resource", .string(call.resource.resource)), ("resourceType", .string(call.resource.resourceType)),
        ], now)
    }

    /// The outcome of call `id`. Returns the execution's outcome if it closed; nil when it went
    /// on (or waits to retry), or when `id` is not the call it waits for (a late answer).
    mutating func complete(id: Int, result: TaskResult, now: Double) -> Outcome? {
        guard let call = outstanding, call.id == id, let state = definition.states[current], case .task(let task) = state.kind else { return nil }
        outstanding = nil
        taskDeadline = nil
        let names: [(String, JSONValue)] = [("resourceType", .string(call.resource.resourceType)), ("resource", .string(call.resource.resource))]
        switch result {
        case .success(let value):
            record("TaskSucceeded", "taskSucceededEventDetails",
                   names + [("output", .string(value.jsonText)), ("outputDetails", HistoryEvent.notTruncated)], now)
            do {
                let selected = try task.resultSelector?.evaluate(input: value, context: contextObject(state: state.name, now: now)) ?? value
                let combined = try Self.place(selected, at: task.resultPath, into: stateInput)
                let output = try Self.select(task.outputPath, from: combined)
                exited(state, output: output, now)
                guard let next = state.next else { return finish(.succeeded(output), now) }
                current = next
                input = output
                return nil
            } catch {
                return finish(failure(error, state), now)
            }
        case .failure(let error, let cause):
            record("TaskFailed", "taskFailedEventDetails", [("error", .string(error)), ("cause", .string(cause))] + names, now)
            return handle(error: error, cause: cause, task.retriers, task.catchers, state, now).map { finish($0, now) }
        }
    }

    /// The outstanding call ran past TimeoutSeconds: TaskTimedOut, then Retry and Catch as for
    /// any error (`States.Timeout`).
    mutating func timeOut(now: Double) -> Outcome? {
        guard let call = outstanding, let state = definition.states[current], case .task(let task) = state.kind else { return nil }
        outstanding = nil
        taskDeadline = nil
        let cause = "The task did not complete within \(task.timeoutSeconds ?? 0) seconds."
        record("TaskTimedOut", "taskTimedOutEventDetails",
               [("resourceType", .string(call.resource.resourceType)), ("resource", .string(call.resource.resource)),
                ("error", .string("States.Timeout")), ("cause", .string(cause))], now)
        return handle(error: "States.Timeout", cause: cause, task.retriers, task.catchers, state, now).map { finish($0, now) }
    }

    /// An error in a Task state: the first retrier naming it retries (after its delay) until its
    /// attempts run out; then the first catcher naming it takes the execution on with the error
    /// at its ResultPath; else the execution fails with it.
    private mutating func handle(error: String, cause: String, _ retriers: [Retrier], _ catchers: [Catcher],
                                 _ state: StateMachineDefinition.State, _ now: Double) -> Outcome? {
        if let i = retriers.firstIndex(where: { ErrorMatch.matches($0.errorEquals, error) }), retryCounts[i] < retriers[i].maxAttempts {
            let delay = retriers[i].delay(attempt: retryCounts[i], random: Double.random(in: 0..<1))
            retryCounts[i] += 1
            resumeAt = now + delay
            return nil
        }
        if let c = catchers.first(where: { ErrorMatch.matches($0.errorEquals, error) }) {
            let errorOutput = JSONValue.object(JSONObject([("Error", .string(error)), ("Cause", .string(cause))]))
            do {
                let output = try Self.place(errorOutput, at: c.resultPath, into: stateInput)
                exited(state, output: output, now)
                current = c.next
                input = output
                return nil
            } catch {
                return failure(error, state)
            }
        }
        return .failed(error: error, cause: cause)
    }

    /// A Parallel or Map state: InputPath and Parameters over the state's input, `body` (which
    /// writes the Started…Succeeded events and returns the results), then ResultSelector,
    /// ResultPath and OutputPath; an error inside goes through Retry and Catch.
    private mutating func composite(_ state: StateMachineDefinition.State, _ flow: CompositeFlow, _ now: Double,
                                    _ body: (inout ExecutionRun, JSONValue) throws(StateFailure) -> JSONValue) -> Outcome? {
        let parameters: JSONValue
        do {
            let effective = try Self.select(flow.inputPath, from: stateInput)
            parameters = try flow.parameters?.evaluate(input: effective, context: contextObject(state: state.name, now: now)) ?? effective
        } catch {
            return failure(error, state)
        }
        let result: JSONValue
        do {
            result = try body(&self, parameters)
        } catch {
            // A branch's or iteration's error, as it was raised inside (States.Runtime there
            // ends the execution; anything else goes through this state's Retry and Catch).
            if Self.terminal.contains(error.error) { return .failed(error: error.error, cause: error.cause) }
            return handle(error: error.error, cause: error.cause, flow.retriers, flow.catchers, state, now)
        }
        do {
            let selected = try flow.resultSelector?.evaluate(input: result, context: contextObject(state: state.name, now: now)) ?? result
            let output = try Self.select(flow.outputPath, from: try Self.place(selected, at: flow.resultPath, into: stateInput))
            exited(state, output: output, now)
            guard let next = state.next else { return .succeeded(output) }
            current = next
            input = output
            return nil
        } catch {
            return failure(error, state)
        }
    }

    /// Faults of the data flow itself (a path, an intrinsic, a ResultPath, a Choice without
    /// a match): they end the execution at any depth, as they do at the top level, instead of
    /// reaching an enclosing Parallel's or Map's Retry and Catch.
    static let terminal: Set<String> = ["States.Runtime", "States.IntrinsicFailure", "States.ResultPathMatchFailure",
                                        "States.ParameterPathFailure", "States.NoChoiceMatched", "States.DataLimitExceeded"]

    /// Runs a nested state machine to its end inline, its events written into this history.
    private mutating func runInline(_ machine: StateMachineDefinition, input branchInput: JSONValue, anchor a: Int, _ now: Double) -> Outcome {
        let saved = (inline, current, input, enteredEventId, stateInput, retryCounts, resumeAt, enteredAt)
        inline = machine
        current = machine.startAt
        input = branchInput
        anchor = a
        resumeAt = nil
        var outcome: Outcome?
        while outcome == nil {
            outcome = advance(now: now)
            // Nothing inline may wait (registration refuses it); never spin if it did.
            if outcome == nil && (resumeAt != nil || outstanding != nil) {
                outcome = .failed(error: "States.Runtime", cause: "A state inside a Parallel branch or Map iteration tried to wait.")
            }
        }
        anchor = nil
        (inline, current, input, enteredEventId, stateInput, retryCounts, resumeAt, enteredAt) = saved
        return outcome!
    }

    /// Every branch on the same input; the results in branch order. A failed branch fails the
    /// state with its error.
    private mutating func runParallel(_ p: ParallelState, _ state: StateMachineDefinition.State, _ effective: JSONValue,
                                      _ now: Double) throws(StateFailure) -> JSONValue {
        record("ParallelStateStarted", "", [], now)
        let started = events
        var results: [JSONValue] = []
        for branch in p.branches {
            switch runInline(branch, input: effective, anchor: started, now) {
            case .succeeded(let v):
                results.append(v)
            case .failed(let error, let cause):
                record("ParallelStateFailed", "", [], now)
                throw StateFailure(error: error ?? "States.BranchFailed", cause: cause ?? "")
            }
        }
        record("ParallelStateSucceeded", "", [], now)
        return .array(results)
    }

    /// One iteration per item of ItemsPath, each on its ItemSelector's value (or the item); the
    /// results in item order. A failed iteration fails the state with its error.
    private mutating func runMap(_ m: MapState, _ state: StateMachineDefinition.State, _ effective: JSONValue,
                                 _ now: Double) throws(StateFailure) -> JSONValue {
        // Faults of the Map state itself carry its name, as any state's do.
        func own(_ e: StateFailure) -> StateFailure {
            guard case .failed(let error, let cause) = failure(e, state) else { return e }
            return StateFailure(error: error ?? e.error, cause: cause ?? e.cause)
        }
        let itemsValue: JSONValue
        do { itemsValue = try Self.select(m.itemsPath, from: effective) } catch { throw own(error) }
        guard case .array(let items) = itemsValue else {
            throw own(StateFailure(error: "States.Runtime", cause: "Item list must be an array; ItemsPath selected \(itemsValue.typeName) \(itemsValue.jsonText)"))
        }
        record("MapStateStarted", "mapStateStartedEventDetails", [("length", .int(Int64(items.count)))], now)
        var results: [JSONValue] = []
        for (i, item) in items.enumerated() {
            let iteration: [(String, JSONValue)] = [("name", .string(state.name)), ("index", .int(Int64(i)))]
            var itemInput = item
            if let selector = m.itemSelector {
                do {
                    itemInput = try selector.evaluate(input: effective, context: contextObject(state: state.name, now: now, item: (i, item)))
                } catch {
                    record("MapStateFailed", "", [], now)
                    throw own(error)
                }
            }
            record("MapIterationStarted", "mapIterationStartedEventDetails", iteration, now)
            let started = events
            switch runInline(m.processor, input: itemInput, anchor: started, now) {
            case .succeeded(let v):
                record("MapIterationSucceeded", "mapIterationSucceededEventDetails", iteration, now)
                results.append(v)
            case .failed(let error, let cause):
                record("MapIterationFailed", "mapIterationFailedEventDetails", iteration, now)
                record("MapStateFailed", "", [], now)
                throw StateFailure(error: error ?? "States.TaskFailed", cause: cause ?? "")
            }
        }
        record("MapStateSucceeded", "", [], now)
        return .array(results)
    }

    /// ResultPath: `result` placed into `input` (null keeps the input as it is).
    private static func place(_ result: JSONValue, at setting: StateMachineDefinition.PathSetting, into input: JSONValue) throws(StateFailure) -> JSONValue {
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

    /// Step Functions prefixes a state's runtime fault with where it happened.
    private func failure(_ error: StateFailure, _ state: StateMachineDefinition.State) -> Outcome {
        .failed(error: error.error,
                cause: "An error occurred while executing the state '\(state.name)' (entered at the event id #\(enteredEventId)). \(error.cause)")
    }

    /// A Wait state's end: OutputPath over its effective input, then on.
    private mutating func leave(_ wait: StateMachineDefinition.Wait, _ state: StateMachineDefinition.State, _ now: Double) throws(StateFailure) -> Outcome? {
        let output = try Self.select(wait.outputPath, from: input)
        exited(state, output: output, now)
        guard let next = state.next else { return .succeeded(output) }
        current = next
        input = output
        return nil
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
    private func run(_ pass: StateMachineDefinition.Pass, state: String, now: Double) throws(StateFailure) -> JSONValue {
        var effective = try Self.select(pass.inputPath, from: input)
        if let parameters = pass.parameters {
            effective = try parameters.evaluate(input: effective, context: contextObject(state: state, now: now))
        }
        let result = pass.result ?? effective
        return try Self.select(pass.outputPath, from: try Self.place(result, at: pass.resultPath, into: input))
    }

    /// InputPath/OutputPath: the node the path names, or `{}` for an explicit null.
    private static func select(_ setting: StateMachineDefinition.PathSetting, from value: JSONValue) throws(StateFailure) -> JSONValue {
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

    /// The context object `$$` as a state sees it on entry.
    private func contextObject(state: String, now: Double, item: (index: Int, value: JSONValue)? = nil) -> JSONValue {
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
                ("EnteredTime", .string(WorkflowEngine.isoTimestamp(enteredAt))),
                ("Name", .string(state)),
                ("RetryCount", .int(Int64(retryCounts.reduce(0, +)))),
            ]))),
            ("StateMachine", .object(JSONObject([
                ("Id", .string(context.stateMachineArn)),
                ("Name", .string(context.stateMachineName)),
            ]))),
        ])
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
        o["current"] = .string(current)
        o["input"] = input
        o["history"] = .array(history.map { $0.snapshot() })
        o["resumeAt"] = resumeAt.map(JSONValue.double) ?? .null
        o["enteredEventId"] = .int(Int64(enteredEventId))
        o["enteredAt"] = .double(enteredAt)
        if let call = outstanding {
            o["outstanding"] = .object(JSONObject([("id", .int(Int64(call.id))), ("resource", .string(call.resource.arn)), ("parameters", call.parameters)]))
        }
        o["taskDispatched"] = .bool(taskDispatched)
        if let submittedOutput { o["submittedOutput"] = submittedOutput }
        o["taskDeadline"] = taskDeadline.map(JSONValue.double) ?? .null
        o["stateInput"] = stateInput
        o["taskParameters"] = taskParameters
        o["retryCounts"] = .array(retryCounts.map { .int(Int64($0)) })
        o["nextTaskId"] = .int(Int64(nextTaskId))
        return .object(o)
    }

    /// A run restored from `snapshot()`; nil when the snapshot does not read back.
    init?(snapshot s: JSONValue) {
        guard let document = s["document"], let definition = try? StateMachineDefinition(document),
              let c = s["context"], let arn = c["executionArn"]?.stringValue, let name = c["name"]?.stringValue,
              let startDate = c["startDate"]?.doubleValue, let machineArn = c["stateMachineArn"]?.stringValue,
              let machineName = c["stateMachineName"]?.stringValue, let current = s["current"]?.stringValue,
              let history = s["history"]?.arrayValue?.compactMap(HistoryEvent.init(snapshot:)) else { return nil }
        self.definition = definition
        self.document = document
        self.context = ExecutionContext(executionArn: arn, name: name, input: c["input"] ?? .null, roleArn: c["roleArn"]?.stringValue,
                                        startDate: startDate, stateMachineArn: machineArn, stateMachineName: machineName)
        self.current = current
        self.input = s["input"] ?? .null
        self.history = history
        resumeAt = s["resumeAt"]?.doubleValue
        enteredEventId = Int(s["enteredEventId"]?.doubleValue ?? 0)
        enteredAt = s["enteredAt"]?.doubleValue ?? 0
        if let o = s["outstanding"], let id = o["id"]?.doubleValue, let r = o["resource"]?.stringValue.flatMap(TaskResource.init) {
            outstanding = TaskCall(id: Int(id), resource: r, parameters: o["parameters"] ?? .null)
        }
        taskDispatched = s["taskDispatched"] == .bool(true)
        submittedOutput = s["submittedOutput"]
        taskDeadline = s["taskDeadline"]?.doubleValue
        stateInput = s["stateInput"] ?? .null
        taskParameters = s["taskParameters"] ?? .null
        retryCounts = s["retryCounts"]?.arrayValue?.compactMap { $0.doubleValue.map { Int($0) } } ?? []
        nextTaskId = Int(s["nextTaskId"]?.doubleValue ?? 1)
    }

    /// After a restart a call the host had taken may or may not have been made: it is made
    /// again (at least once), with a new TaskStarted.
    mutating func redispatchAfterRestart() {
        taskDispatched = false
    }
}
