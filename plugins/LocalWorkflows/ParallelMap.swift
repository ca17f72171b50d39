import GatehouseJSON

/// A Parallel state: its branches (each a state machine of its own), data flow and error
/// handling. Branches run side by side, each in a frame of its own.
struct ParallelState: Sendable {
    let branches: [StateMachineDefinition]
    let flow: CompositeFlow
}

/// A Map state (inline): the items it iterates, how each becomes an iteration's input, and
/// the state machine each iteration runs.
struct MapState: Sendable {
    let processor: StateMachineDefinition
    let itemsPath: StateMachineDefinition.PathSetting
    let itemSelector: PayloadTemplate?
    /// How many iterations run at once: MaxConcurrency, where 0 (or nothing) means as many as
    /// inline mode allows.
    let maxConcurrency: Int
    let flow: CompositeFlow

    /// "In this mode, the Map state supports up to 40 concurrent iterations" (the developer
    /// guide on inline Map).
    static let inlineConcurrency = 40
}

/// What Parallel and Map share with Task: InputPath, Parameters, ResultSelector, ResultPath,
/// OutputPath, Retry and Catch.
struct CompositeFlow: Sendable {
    let inputPath: StateMachineDefinition.PathSetting
    let parameters: PayloadTemplate?
    let resultSelector: PayloadTemplate?
    let resultPath: StateMachineDefinition.PathSetting
    let outputPath: StateMachineDefinition.PathSetting
    let retriers: [Retrier]
    let catchers: [Catcher]
}

enum CompositeCompiler {
    static func flow(_ fields: JSONObject, at: String, parametersKey: String = "Parameters",
                     path: (String) throws(WorkflowDefinitionError) -> StateMachineDefinition.PathSetting) throws(WorkflowDefinitionError) -> CompositeFlow {
        CompositeFlow(
            inputPath: try path("InputPath"),
            parameters: try fields[parametersKey].map { v throws(WorkflowDefinitionError) in try PayloadTemplate.compile(v, at: at + "/" + parametersKey) },
            resultSelector: try fields["ResultSelector"].map { v throws(WorkflowDefinitionError) in try PayloadTemplate.compile(v, at: at + "/ResultSelector") },
            resultPath: try path("ResultPath"),
            outputPath: try path("OutputPath"),
            retriers: try TaskCompiler.retriers(fields["Retry"], at: at + "/Retry"),
            catchers: try TaskCompiler.catchers(fields["Catch"], at: at + "/Catch"))
    }

    /// A branch or item processor: `{StartAt, States}` checked as a state machine of its own.
    static func nested(_ value: JSONValue?, at: String, what: String) throws(WorkflowDefinitionError) -> StateMachineDefinition {
        guard case .object(var o)? = value else {
            throw WorkflowDefinitionError("SCHEMA_VALIDATION_FAILED: The value for the field '\(what)' must be an OBJECT with StartAt and States at \(at)")
        }
        if let config = o["ProcessorConfig"] {
            guard config["Mode"] == nil || config["Mode"] == .string("INLINE") else {
                throw WorkflowDefinitionError("UNSUPPORTED_FEATURE: Only INLINE Map states are supported by the embedded engine at \(at)/ProcessorConfig")
            }
            o["ProcessorConfig"] = nil
        }
        let definition: StateMachineDefinition
        do {
            definition = try StateMachineDefinition(.object(o))
        } catch {
            // Its own pointers start at the branch: put them under the branch's place.
            throw WorkflowDefinitionError(error.message.replacingPointer(with: at))
        }
        return definition
    }

    static func parallel(_ fields: JSONObject, at: String,
                         path: (String) throws(WorkflowDefinitionError) -> StateMachineDefinition.PathSetting) throws(WorkflowDefinitionError) -> ParallelState {
        guard case .array(let items)? = fields["Branches"], !items.isEmpty else {
            throw WorkflowDefinitionError("SCHEMA_VALIDATION_FAILED: The value for the field 'Branches' must be a non-empty ARRAY at \(at)/Branches")
        }
        var branches: [StateMachineDefinition] = []
        for (i, b) in items.enumerated() { branches.append(try nested(b, at: "\(at)/Branches/\(i)", what: "Branches")) }
        return ParallelState(branches: branches, flow: try flow(fields, at: at, path: path))
    }

    static func map(_ fields: JSONObject, at: String,
                    path: (String) throws(WorkflowDefinitionError) -> StateMachineDefinition.PathSetting) throws(WorkflowDefinitionError) -> MapState {
        let processorKey = fields["ItemProcessor"] != nil ? "ItemProcessor" : "Iterator"
        guard fields["ItemProcessor"] == nil || fields["Iterator"] == nil else {
            throw WorkflowDefinitionError("SCHEMA_VALIDATION_FAILED: Only one of 'ItemProcessor' or 'Iterator' can be set at \(at)")
        }
        guard fields["ItemSelector"] == nil || fields["Parameters"] == nil else {
            throw WorkflowDefinitionError("SCHEMA_VALIDATION_FAILED: Only one of 'ItemSelector' or 'Parameters' can be set at \(at)")
        }
        var maxConcurrency = 0
        if let v = fields["MaxConcurrency"] {
            guard let n = TaskCompiler.integer(v), n >= 0 else {
                throw WorkflowDefinitionError("SCHEMA_VALIDATION_FAILED: The value for the field 'MaxConcurrency' must be a non-negative INTEGER at \(at)/MaxConcurrency")
            }
            maxConcurrency = n
        }
        // A Map's legacy `Parameters` is what `ItemSelector` now is: each iteration's input.
        let selectorKey = fields["ItemSelector"] != nil ? "ItemSelector" : "Parameters"
        let selector = try fields[selectorKey].map { v throws(WorkflowDefinitionError) in try PayloadTemplate.compile(v, at: at + "/" + selectorKey) }
        var rest = fields
        rest["Parameters"] = nil
        return MapState(processor: try nested(fields[processorKey], at: "\(at)/\(processorKey)", what: processorKey),
                        itemsPath: try path("ItemsPath"), itemSelector: selector, maxConcurrency: maxConcurrency,
                        flow: try flow(rest, at: at, path: path))
    }
}

/// A Parallel or Map state while its branches or iterations run: each child is a frame whose
/// parent is the state's frame; results are kept in branch or item order.
struct CompositeRun: Sendable {
    /// The state's effective input (after InputPath and Parameters): each branch's input, and
    /// what a Map's ItemSelector reads.
    let effective: JSONValue
    /// A Map's items (empty for a Parallel).
    let items: [JSONValue]
    /// How many children in all, and how many may run at once.
    let count: Int
    let limit: Int
    /// The event a Parallel branch's first state follows (ParallelStateStarted).
    let anchor: Int
    /// The event a Map's next MapIterationStarted follows: MapStateStarted, then the last event
    /// of the iteration whose end made room for it (as AWS's histories show).
    var trigger: Int
    var started = 0
    var running = 0
    var finished = 0
    var results: [JSONValue]

    init(effective: JSONValue, items: [JSONValue], count: Int, limit: Int, anchor: Int) {
        self.effective = effective
        self.items = items
        self.count = count
        self.limit = max(1, limit)
        self.anchor = anchor
        trigger = anchor
        results = Array(repeating: .null, count: count)
    }

    func snapshot() -> JSONValue {
        .object(JSONObject([
            ("effective", effective), ("items", .array(items)), ("count", .int(Int64(count))), ("limit", .int(Int64(limit))),
            ("anchor", .int(Int64(anchor))), ("trigger", .int(Int64(trigger))), ("started", .int(Int64(started))), ("running", .int(Int64(running))),
            ("finished", .int(Int64(finished))), ("results", .array(results)),
        ]))
    }

    init?(snapshot s: JSONValue) {
        func int(_ key: String) -> Int? { s[key]?.doubleValue.map { Int($0) } }
        guard let count = int("count"), let limit = int("limit"), let anchor = int("anchor"),
              let results = s["results"]?.arrayValue, results.count == count else { return nil }
        self.init(effective: s["effective"] ?? .null, items: s["items"]?.arrayValue ?? [], count: count, limit: limit, anchor: anchor)
        trigger = int("trigger") ?? anchor
        started = int("started") ?? 0
        running = int("running") ?? 0
        finished = int("finished") ?? 0
        self.results = results
    }
}

/// How a Parallel's branches or a Map's iterations ended: every result, or the first failure.
enum CompositeEnd {
    case succeeded([JSONValue])
    case failed(StateFailure)
}

extension ExecutionRun {
    /// Enters the running part of a Parallel or Map state (on entry, and again on a retry):
    /// InputPath and Parameters over the state's input, a Map's items, and the Started event.
    /// The children are started by `fill`.
    mutating func startComposite(_ state: StateMachineDefinition.State, _ now: Double, _ f: inout Frame) -> Step {
        guard let flow = state.kind.compositeFlow else { return .blocked }
        let effective: JSONValue
        do {
            let selected = try Self.select(flow.inputPath, from: f.stateInput)
            effective = try flow.parameters?.evaluate(input: selected, context: contextObject(state: state.name, now: now, f)) ?? selected
        } catch {
            return .ended(failure(error, state, f))
        }
        switch state.kind {
        case .parallel(let p):
            record("ParallelStateStarted", "", [], now, in: &f)
            f.composite = CompositeRun(effective: effective, items: [], count: p.branches.count, limit: p.branches.count, anchor: f.lastEventId)
        case .map(let m):
            let itemsValue: JSONValue
            do { itemsValue = try Self.select(m.itemsPath, from: effective) } catch { return .ended(failure(error, state, f)) }
            guard case .array(let items) = itemsValue else {
                let e = StateFailure(error: "States.Runtime", cause: "Item list must be an array; ItemsPath selected \(itemsValue.typeName) \(itemsValue.jsonText)")
                return .ended(failure(e, state, f))
            }
            record("MapStateStarted", "mapStateStartedEventDetails", [("length", .int(Int64(items.count)))], now, in: &f)
            let limit = m.maxConcurrency == 0 ? MapState.inlineConcurrency : min(m.maxConcurrency, MapState.inlineConcurrency)
            f.composite = CompositeRun(effective: effective, items: items, count: items.count, limit: limit, anchor: f.lastEventId)
        default:
            return .blocked
        }
        return .composite
    }

    /// Starts frame `p`'s next branches or iterations while its state has room for them, each
    /// run until it waits; collects those that end at once. Returns how the state's children
    /// ended once all have (or one failed); nil while some still run.
    mutating func fill(_ p: Int, _ now: Double) -> CompositeEnd? {
        while let f = frames[p], var c = f.composite, c.started < c.count, c.running < c.limit {
            guard let state = f.machine.states[f.current] else { return nil }
            let slot = c.started
            let machine: StateMachineDefinition
            var input = c.effective
            var follows = c.anchor
            switch state.kind {
            case .parallel(let par):
                machine = par.branches[slot]
            case .map(let m):
                machine = m.processor
                input = c.items[slot]
                if let selector = m.itemSelector {
                    do {
                        input = try selector.evaluate(input: c.effective, context: contextObject(state: state.name, now: now, f, item: (slot, c.items[slot])))
                    } catch {
                        // A fault of the Map state itself: it carries the state's name.
                        abortChildren(p, now)
                        record("MapStateFailed", "", [], now, frame: p)
                        return .failed(prefixed(error, state, f))
                    }
                }
                append("MapIterationStarted", "mapIterationStartedEventDetails", [("name", .string(state.name)), ("index", .int(Int64(slot)))],
                       now, previous: c.trigger)
                follows = events
            default:
                return nil
            }
            c.started += 1
            c.running += 1
            frames[p]?.composite = c
            let child = nextFrameId
            nextFrameId += 1
            frames[child] = Frame(machine: machine, parent: p, slot: slot, input: input, follows: follows)
            if let o = run(child, now) {
                let last = frames.removeValue(forKey: child)?.lastEventId ?? events
                if let end = collect(p, slot: slot, o, lastEventId: last, now) { return end }
            }
        }
        guard let f = frames[p], let c = f.composite, c.finished == c.count, let state = f.machine.states[f.current] else { return nil }
        // The Succeeded event does not move the state's chain on: its Exited event follows the
        // same event (recorded by AWS: MapStateSucceeded and MapStateExited both follow the last
        // MapIterationSucceeded; ParallelStateExited follows the last branch's last event).
        append(state.kind.typeName + "StateSucceeded", "", [], now, previous: f.lastEventId)
        return .succeeded(c.results)
    }

    /// Child `slot` of frame `p` ended with `outcome` (its last event `lastEventId`, which the
    /// parent's next event follows). Returns the state's failure if it failed (the other
    /// children are stopped); nil otherwise.
    mutating func collect(_ p: Int, slot: Int, _ outcome: Outcome, lastEventId: Int, _ now: Double) -> CompositeEnd? {
        guard var f = frames[p], var c = f.composite, let state = f.machine.states[f.current] else { return nil }
        let isMap = state.kind.isMap
        c.running -= 1
        c.trigger = lastEventId
        f.lastEventId = lastEventId
        let iteration: [(String, JSONValue)] = [("name", .string(state.name)), ("index", .int(Int64(slot)))]
        switch outcome {
        case .succeeded(let value):
            c.results[slot] = value
            c.finished += 1
            f.composite = c
            frames[p] = f
            if isMap { record("MapIterationSucceeded", "mapIterationSucceededEventDetails", iteration, now, frame: p) }
            return nil
        case .failed(let error, let cause):
            f.composite = c
            frames[p] = f
            // MapIterationFailed does not move the chain on: MapStateFailed follows the
            // iteration's last event, as MapIterationFailed does (recorded by AWS).
            if isMap { append("MapIterationFailed", "mapIterationFailedEventDetails", iteration, now, previous: lastEventId) }
            // "If any branch fails ... all its branches are stopped" (the developer guide).
            abortChildren(p, now)
            record(state.kind.typeName + "StateFailed", "", [], now, frame: p)
            return .failed(StateFailure(error: error ?? (isMap ? "States.TaskFailed" : "States.BranchFailed"), cause: cause ?? ""))
        }
    }

    /// Stops frame `p`'s running children and everything under them: a `…StateAborted` event
    /// for each state that was waiting, and `MapIterationAborted` for each iteration. Their
    /// outstanding calls are forgotten (a late answer finds no frame).
    mutating func abortChildren(_ p: Int, _ now: Double) {
        guard let parent = frames[p], let parentState = parent.machine.states[parent.current] else { return }
        for id in frames.filter({ $0.value.parent == p }).keys.sorted() {
            abortChildren(id, now)
            guard let f = frames.removeValue(forKey: id) else { continue }
            var previous = f.lastEventId
            if let state = f.machine.states[f.current], f.outstanding != nil || f.resumeAt != nil || f.composite != nil {
                append(state.kind.typeName + "StateAborted", "", [], now, previous: previous)
                previous = events
            }
            if parentState.kind.isMap {
                append("MapIterationAborted", "mapIterationAbortedEventDetails",
                       [("name", .string(parentState.name)), ("index", .int(Int64(f.slot)))], now, previous: previous)
            }
        }
        frames[p]?.composite?.running = 0
    }

    /// Leaves a Parallel or Map state whose children ended: ResultSelector, ResultPath and
    /// OutputPath over the results, or the failure through the state's Retry and Catch (a
    /// fault of the data flow inside ends the execution). Returns the frame's outcome if its
    /// state machine ended; nil when it goes on (or waits to retry).
    mutating func finishComposite(_ id: Int, _ end: CompositeEnd, _ now: Double) -> Outcome? {
        let step = withFrame(id) { (me: inout ExecutionRun, f) in
            f.composite = nil
            guard let state = f.machine.states[f.current], let flow = state.kind.compositeFlow else { return .blocked }
            switch end {
            case .failed(let e):
                if Self.terminal.contains(e.error) { return .ended(.failed(error: e.error, cause: e.cause)) }
                return me.handle(error: e.error, cause: e.cause, flow.retriers, flow.catchers, state, now, &f)
            case .succeeded(let results):
                do throws(StateFailure) {
                    let result = JSONValue.array(results)
                    let selected = try flow.resultSelector?.evaluate(input: result, context: me.contextObject(state: state.name, now: now, f)) ?? result
                    let output = try Self.select(flow.outputPath, from: try Self.place(selected, at: flow.resultPath, into: f.stateInput))
                    try me.exited(state, output: output, now, in: &f)
                    return me.moveOn(state, output, &f)
                } catch {
                    return .ended(me.failure(error, state, f))
                }
            }
        }
        return step.outcome
    }
}

extension String {
    /// A definition error's `at /pointer` moved under `prefix` (for errors of a nested definition).
    func replacingPointer(with prefix: String) -> String {
        let bytes = Array(utf8), marker = Array(" at /".utf8)
        var i = bytes.count - marker.count
        while i >= 0 && !bytes[i..<(i + marker.count)].elementsEqual(marker) { i -= 1 }
        guard i >= 0 else { return self + " at " + prefix }
        let head = String(decoding: bytes[..<i], as: UTF8.self)
        let pointer = String(decoding: bytes[(i + marker.count - 1)...], as: UTF8.self)   // "/…"
        return head + " at " + prefix + (pointer == "/" ? "" : pointer)
    }
}
