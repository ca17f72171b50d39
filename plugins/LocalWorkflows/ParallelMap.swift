import GatehouseJSON

/// A Parallel state: its branches (each a state machine of its own), data flow and error
/// handling. Branches run one after the other, inline (see `StateMachineDefinition.inlineOnly`).
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
    let flow: CompositeFlow
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
        guard definition.inlineOnly else {
            throw WorkflowDefinitionError("UNSUPPORTED_FEATURE: Task and Wait states, and Retry on a nested Parallel or Map, inside Parallel and Map states are not supported yet by the embedded engine at \(at)")
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
        // Checked, then not needed: iterations run one after the other.
        if let v = fields["MaxConcurrency"], (TaskCompiler.integer(v) ?? -1) < 0 {
            throw WorkflowDefinitionError("SCHEMA_VALIDATION_FAILED: The value for the field 'MaxConcurrency' must be a non-negative INTEGER at \(at)/MaxConcurrency")
        }
        // A Map's legacy `Parameters` is what `ItemSelector` now is: each iteration's input.
        let selectorKey = fields["ItemSelector"] != nil ? "ItemSelector" : "Parameters"
        let selector = try fields[selectorKey].map { v throws(WorkflowDefinitionError) in try PayloadTemplate.compile(v, at: at + "/" + selectorKey) }
        var rest = fields
        rest["Parameters"] = nil
        return MapState(processor: try nested(fields[processorKey], at: "\(at)/\(processorKey)", what: processorKey),
                        itemsPath: try path("ItemsPath"), itemSelector: selector,
                        flow: try flow(rest, at: at, path: path))
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
