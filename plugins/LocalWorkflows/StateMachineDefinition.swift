import GatehouseJSON

/// A state machine definition the embedded engine refused, with the reason in the
/// `CODE: detail at /json/pointer` shape of Step Functions' own definition diagnostics.
public struct WorkflowDefinitionError: Error, Sendable, CustomStringConvertible {
    public var message: String

    public init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}

/// An Amazon States Language document checked once at registration and then only read: the
/// states the embedded engine can run (Pass, Task, Choice, Wait, Parallel, Map, Succeed, Fail), their transitions and paths.
struct StateMachineDefinition: Sendable {
    let startAt: String
    let states: [String: State]
    /// The whole execution's time limit (top-level TimeoutSeconds): past it, TIMED_OUT.
    var timeoutSeconds: Int?

    /// A path field: its absence means `$`, and an explicit `null` means "none", which ASL gives
    /// its own meaning per field (`{}` for InputPath/OutputPath, "keep the input" for ResultPath).
    enum PathSetting: Equatable, Sendable {
        case path(JSONPath)
        case null
    }

    struct State: Sendable {
        let name: String
        let kind: Kind
        /// The state to go to next; nil for a terminal state and for a Choice (whose rules name
        /// their own).
        let next: String?

        /// Every state this one can go to.
        var targets: [String] {
            switch kind {
            case .choice(let c): return c.targets
            case .task(let t): return (next.map { [$0] } ?? []) + t.targets
            case .parallel(let p): return (next.map { [$0] } ?? []) + p.flow.catchers.map(\.next)
            case .map(let m): return (next.map { [$0] } ?? []) + m.flow.catchers.map(\.next)
            default: return next.map { [$0] } ?? []
            }
        }

        /// Whether an execution can end here.
        var isTerminal: Bool {
            switch kind {
            case .succeed, .fail: return true
            case .choice: return false
            case .pass, .wait, .task, .parallel, .map: return next == nil
            }
        }
    }

    enum Kind: Sendable {
        /// The prefix of the state's history event types (`PassStateEntered`).
        var typeName: String {
            switch self {
            case .pass: return "Pass"
            case .succeed: return "Succeed"
            case .fail: return "Fail"
            case .choice: return "Choice"
            case .wait: return "Wait"
            case .task: return "Task"
            case .parallel: return "Parallel"
            case .map: return "Map"
            }
        }

        var isMap: Bool {
            if case .map = self { return true }
            return false
        }

        /// A Parallel's or Map's InputPath, Parameters, result paths, Retry and Catch.
        var compositeFlow: CompositeFlow? {
            switch self {
            case .parallel(let p): return p.flow
            case .map(let m): return m.flow
            default: return nil
            }
        }

        case pass(Pass)
        case succeed(inputPath: PathSetting, outputPath: PathSetting)
        case fail(error: String?, cause: String?)
        case choice(ChoiceState)
        case wait(Wait)
        case task(TaskState)
        case parallel(ParallelState)
        case map(MapState)
    }

    /// A Wait state: how long, from one of four fields; InputPath and OutputPath.
    struct Wait: Sendable {
        enum Duration: Sendable {
            case seconds(Int64)
            case timestamp(Timestamp)
            case secondsPath(JSONPath)
            case timestampPath(JSONPath)
        }
        var duration: Duration
        var inputPath: PathSetting
        var outputPath: PathSetting
    }

    /// Step Functions' longest wait: a year (a Standard execution's whole life), in seconds.
    static let maxWaitSeconds: Int64 = 31_536_000

    struct Pass: Sendable {
        var inputPath: PathSetting
        var parameters: PayloadTemplate?
        var result: JSONValue?
        var resultPath: PathSetting
        var outputPath: PathSetting
    }

    /// ASL fields that exist but this engine does not implement yet; refused rather than ignored
    /// so a definition never runs differently here than on AWS.
    private static let laterFields: Set<String> = ["Assign", "Output", "Arguments", "QueryLanguage", "ErrorPath", "CausePath"]
    private static let fieldsByType: [String: Set<String>] = [
        "Pass": ["Type", "Comment", "Next", "End", "InputPath", "OutputPath", "ResultPath", "Parameters", "Result"],
        "Succeed": ["Type", "Comment", "InputPath", "OutputPath"],
        "Fail": ["Type", "Comment", "Error", "Cause"],
        "Choice": ["Type", "Comment", "Choices", "Default", "InputPath", "OutputPath"],
        "Wait": ["Type", "Comment", "Next", "End", "InputPath", "OutputPath", "Seconds", "Timestamp", "SecondsPath", "TimestampPath"],
        "Task": ["Type", "Comment", "Next", "End", "InputPath", "OutputPath", "ResultPath", "Parameters", "ResultSelector", "Resource",
                 "TimeoutSeconds", "HeartbeatSeconds", "TimeoutSecondsPath", "HeartbeatSecondsPath", "Retry", "Catch"],
        "Parallel": ["Type", "Comment", "Next", "End", "InputPath", "OutputPath", "ResultPath", "Parameters", "ResultSelector", "Branches",
                     "Retry", "Catch"],
        "Map": ["Type", "Comment", "Next", "End", "InputPath", "OutputPath", "ResultPath", "Parameters", "ResultSelector", "ItemsPath",
                "ItemSelector", "ItemProcessor", "Iterator", "MaxConcurrency", "Retry", "Catch"],
    ]

    init(_ document: JSONValue) throws(WorkflowDefinitionError) {
        guard case .object(let top) = document else {
            throw WorkflowDefinitionError("SCHEMA_VALIDATION_FAILED: The definition must be a JSON object at /")
        }
        for key in top.keys where !["StartAt", "States", "Comment", "Version", "TimeoutSeconds", "QueryLanguage"].contains(key) {
            throw WorkflowDefinitionError("SCHEMA_VALIDATION_FAILED: Field '\(key)' is not supported at /")
        }
        if let language = top["QueryLanguage"], language != .string("JSONPath") {
            throw WorkflowDefinitionError("UNSUPPORTED_FEATURE: QueryLanguage \(language.jsonText) is not supported yet by the embedded engine (JSONPath only) at /QueryLanguage")
        }
        let missing = ["StartAt", "States"].filter { top[$0] == nil }
        if !missing.isEmpty {
            throw WorkflowDefinitionError("SCHEMA_VALIDATION_FAILED: These fields are required: [\(missing.joined(separator: ", "))] at /")
        }
        guard case .string(let startAt) = top["StartAt"] else {
            throw WorkflowDefinitionError("SCHEMA_VALIDATION_FAILED: The value for the field 'StartAt' must be a STRING at /StartAt")
        }
        guard case .object(let stateObjects) = top["States"] else {
            throw WorkflowDefinitionError("SCHEMA_VALIDATION_FAILED: The value for the field 'States' must be an OBJECT at /States")
        }
        var states: [String: State] = [:]
        for (name, body) in stateObjects.members {
            states[name] = try Self.state(name, body)
        }
        guard states[startAt] != nil else {
            throw WorkflowDefinitionError("MISSING_TRANSITION_TARGET: Missing 'StartAt' target: \(startAt) at /StartAt")
        }
        for name in stateObjects.keys {
            guard let state = states[name] else { continue }
            if let next = state.next, states[next] == nil {
                throw WorkflowDefinitionError("MISSING_TRANSITION_TARGET: Missing 'Next' target: \(next) at /States/\(name)/Next")
            }
            if case .choice(let c) = state.kind {
                for (i, rule) in c.rules.enumerated() where states[rule.next] == nil {
                    throw WorkflowDefinitionError("MISSING_TRANSITION_TARGET: Missing 'Next' target: \(rule.next) at /States/\(name)/Choices/\(i)/Next")
                }
                if let d = c.defaultNext, states[d] == nil {
                    throw WorkflowDefinitionError("MISSING_TRANSITION_TARGET: Missing 'Default' target: \(d) at /States/\(name)/Default")
                }
            }
            var catchers: [Catcher] = []
            switch state.kind {
            case .task(let t): catchers = t.catchers
            case .parallel(let p): catchers = p.flow.catchers
            case .map(let m): catchers = m.flow.catchers
            default: break
            }
            for (i, c) in catchers.enumerated() where states[c.next] == nil {
                throw WorkflowDefinitionError("MISSING_TRANSITION_TARGET: Missing 'Next' target: \(c.next) at /States/\(name)/Catch/\(i)/Next")
            }
        }
        // Step Functions refuses states nothing transitions to, and workflows without an end.
        var reached: Set<String> = [startAt]
        var frontier = [startAt]
        while let name = frontier.popLast() {
            for target in states[name]?.targets ?? [] where reached.insert(target).inserted {
                frontier.append(target)
            }
        }
        for name in stateObjects.keys where !reached.contains(name) {
            throw WorkflowDefinitionError("MISSING_TRANSITION_TARGET: State \"\(name)\" is not reachable. at /States/\(name)")
        }
        if !states.values.contains(where: \.isTerminal) {
            throw WorkflowDefinitionError("MISSING_END_STATE: Workflow has no terminal state at /")
        }
        if let t = top["TimeoutSeconds"] {
            guard let n = TaskCompiler.integer(t), n >= 1, n <= TaskCompiler.maxInteger else {
                throw WorkflowDefinitionError("SCHEMA_VALIDATION_FAILED: The value for the field 'TimeoutSeconds' must be an INTEGER from 1 to \(TaskCompiler.maxInteger) at /TimeoutSeconds")
            }
            timeoutSeconds = n
        }
        self.startAt = startAt
        self.states = states
    }

    private static func state(_ name: String, _ body: JSONValue) throws(WorkflowDefinitionError) -> State {
        let at = "/States/\(name)"
        if name.isEmpty || name.utf16.count > 80 {
            throw WorkflowDefinitionError("SCHEMA_VALIDATION_FAILED: State names must be 1 to 80 characters long at \(at)")
        }
        guard case .object(let fields) = body else {
            throw WorkflowDefinitionError("SCHEMA_VALIDATION_FAILED: The value for the field '\(name)' must be an OBJECT at \(at)")
        }
        guard let typeValue = fields["Type"] else {
            throw WorkflowDefinitionError("SCHEMA_VALIDATION_FAILED: These fields are required: [Type] at \(at)")
        }
        guard case .string(let type) = typeValue else {
            throw WorkflowDefinitionError("SCHEMA_VALIDATION_FAILED: The value for the field 'Type' must be a STRING at \(at)/Type")
        }
        guard let allowed = fieldsByType[type] else {
            throw WorkflowDefinitionError("SCHEMA_VALIDATION_FAILED: '\(type)' is not a valid state type at \(at)/Type")
        }
        for key in fields.keys where !allowed.contains(key) {
            if laterFields.contains(key) {
                throw WorkflowDefinitionError("UNSUPPORTED_FEATURE: Field '\(key)' is not supported yet by the embedded engine at \(at)")
            }
            throw WorkflowDefinitionError("SCHEMA_VALIDATION_FAILED: Field '\(key)' is not supported at \(at)")
        }
        if let comment = fields["Comment"], comment.stringValue == nil {
            throw WorkflowDefinitionError("SCHEMA_VALIDATION_FAILED: The value for the field 'Comment' must be a STRING at \(at)/Comment")
        }
        switch type {
        case "Pass":
            let pass = Pass(
                inputPath: try path(fields, "InputPath", at),
                parameters: try fields["Parameters"].map { v throws(WorkflowDefinitionError) in
                    try PayloadTemplate.compile(v, at: at + "/Parameters")
                },
                result: fields["Result"],
                resultPath: try path(fields, "ResultPath", at),
                outputPath: try path(fields, "OutputPath", at))
            return State(name: name, kind: .pass(pass), next: try transition(fields, name, at))
        case "Choice":
            let choice = ChoiceState(
                rules: try ChoiceCompiler.rules(fields["Choices"], at: at),
                defaultNext: try text(fields, "Default", at),
                inputPath: try path(fields, "InputPath", at),
                outputPath: try path(fields, "OutputPath", at))
            return State(name: name, kind: .choice(choice), next: nil)
        case "Parallel":
            let p = try CompositeCompiler.parallel(fields, at: at) { key throws(WorkflowDefinitionError) in try path(fields, key, at) }
            return State(name: name, kind: .parallel(p), next: try transition(fields, name, at))
        case "Map":
            let m = try CompositeCompiler.map(fields, at: at) { key throws(WorkflowDefinitionError) in try path(fields, key, at) }
            return State(name: name, kind: .map(m), next: try transition(fields, name, at))
        case "Task":
            let task = try TaskCompiler.task(fields, at: at) { key throws(WorkflowDefinitionError) in try path(fields, key, at) }
            return State(name: name, kind: .task(task), next: try transition(fields, name, at))
        case "Wait":
            let wait = Wait(duration: try waitDuration(fields, at), inputPath: try path(fields, "InputPath", at),
                            outputPath: try path(fields, "OutputPath", at))
            return State(name: name, kind: .wait(wait), next: try transition(fields, name, at))
        case "Succeed":
            return State(name: name, kind: .succeed(inputPath: try path(fields, "InputPath", at), outputPath: try path(fields, "OutputPath", at)), next: nil)
        default:
            return State(name: name, kind: .fail(error: try text(fields, "Error", at), cause: try text(fields, "Cause", at)), next: nil)
        }
    }

    /// Exactly one of Seconds, Timestamp, SecondsPath and TimestampPath.
    private static func waitDuration(_ fields: JSONObject, _ at: String) throws(WorkflowDefinitionError) -> Wait.Duration {
        let given = ["Seconds", "Timestamp", "SecondsPath", "TimestampPath"].filter { fields[$0] != nil }
        guard given.count == 1 else {
            throw WorkflowDefinitionError("SCHEMA_VALIDATION_FAILED: A Wait state must have exactly one of 'Seconds', 'Timestamp', 'SecondsPath' or 'TimestampPath' at \(at)")
        }
        let key = given[0], value = fields[key]!, here = "\(at)/\(key)"
        switch key {
        case "Seconds":
            guard let seconds = value.exactInteger, seconds >= 0, seconds <= maxWaitSeconds else {
                throw WorkflowDefinitionError("SCHEMA_VALIDATION_FAILED: The value for the field 'Seconds' must be an INTEGER from 0 to \(maxWaitSeconds) at \(here)")
            }
            return .seconds(seconds)
        case "Timestamp":
            guard case .string(let text) = value, let t = Timestamp(text) else {
                throw WorkflowDefinitionError("SCHEMA_VALIDATION_FAILED: The value for the field 'Timestamp' must be a valid RFC3339 timestamp at \(here)")
            }
            return .timestamp(t)
        default:
            guard case .string(let text) = value else {
                throw WorkflowDefinitionError("SCHEMA_VALIDATION_FAILED: The value for the field '\(key)' must be a STRING at \(here)")
            }
            guard let p = JSONPath(text) else { throw WorkflowDefinitionError(JSONPath.unsupported(key, at: here)) }
            guard p.isDefinite else { throw WorkflowDefinitionError(JSONPath.notReference(key, at: here)) }
            return key == "SecondsPath" ? .secondsPath(p) : .timestampPath(p)
        }
    }

    /// `Next`, or nil for `"End": true`; a non-terminal state needs exactly one of the two.
    private static func transition(_ fields: JSONObject, _ name: String, _ at: String) throws(WorkflowDefinitionError) -> String? {
        let end = fields["End"]
        if let end, end != .bool(true), end != .bool(false) {
            throw WorkflowDefinitionError("SCHEMA_VALIDATION_FAILED: The value for the field 'End' must be a BOOLEAN at \(at)/End")
        }
        switch (fields["Next"], end == .bool(true)) {
        case (nil, true):
            return nil
        case (.string(let next)?, false):
            return next
        case (_?, true):
            throw WorkflowDefinitionError("SCHEMA_VALIDATION_FAILED: Only one of 'Next' or 'End' can be set at \(at)")
        case (_?, false):
            throw WorkflowDefinitionError("SCHEMA_VALIDATION_FAILED: The value for the field 'Next' must be a STRING at \(at)/Next")
        case (nil, false):
            throw WorkflowDefinitionError("MISSING_TRANSITION_TARGET: State \"\(name)\" must have either 'Next' or 'End': true at \(at)")
        }
    }

    static func path(_ fields: JSONObject, _ key: String, _ at: String) throws(WorkflowDefinitionError) -> PathSetting {
        switch fields[key] {
        case nil: return .path(.root)
        case .null?: return .null
        case .string(let text)?:
            // Context paths belong in Parameters; the I/O path fields address the effective input.
            guard let path = JSONPath(text), !path.isContext else {
                throw WorkflowDefinitionError(JSONPath.unsupported(key, at: "\(at)/\(key)"))
            }
            // Where ASL wants a Reference Path, a path must name one node.
            if (key == "ResultPath" || key == "ItemsPath") && !path.isDefinite {
                throw WorkflowDefinitionError(JSONPath.notReference(key, at: "\(at)/\(key)"))
            }
            return .path(path)
        default:
            throw WorkflowDefinitionError("SCHEMA_VALIDATION_FAILED: The value for the field '\(key)' must be a STRING at \(at)/\(key)")
        }
    }

    private static func text(_ fields: JSONObject, _ key: String, _ at: String) throws(WorkflowDefinitionError) -> String? {
        switch fields[key] {
        case nil: return nil
        case .string(let s)?: return s
        default: throw WorkflowDefinitionError("SCHEMA_VALIDATION_FAILED: The value for the field '\(key)' must be a STRING at \(at)/\(key)")
        }
    }
}
