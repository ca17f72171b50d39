import GatehouseJSON

/// A Task state as checked at registration: the resource it calls, its data flow (InputPath,
/// Parameters, ResultSelector, ResultPath, OutputPath), its time limits, and its error handling
/// (Retry, Catch).
struct TaskState: Sendable {
    let resource: TaskResource
    let inputPath: StateMachineDefinition.PathSetting
    let parameters: PayloadTemplate?
    let resultSelector: PayloadTemplate?
    let resultPath: StateMachineDefinition.PathSetting
    let outputPath: StateMachineDefinition.PathSetting
    let timeoutSeconds: Int?
    let heartbeatSeconds: Int?
    /// TimeoutSecondsPath and HeartbeatSecondsPath: the limits read from the effective input
    /// when the call is scheduled.
    let timeoutPath: JSONPath?
    let heartbeatPath: JSONPath?
    let retriers: [Retrier]
    let catchers: [Catcher]

    var targets: [String] { catchers.map(\.next) }
}

/// The service integrations the embedded engine runs.
struct TaskResource: Sendable, Equatable {
    /// The resource ARN as written.
    let arn: String
    /// As the history names it: `apigateway` and `invoke` for `arn:aws:states:::apigateway:invoke`.
    let resourceType: String
    let resource: String

    static let supported: Set<String> = [
        "apigateway:invoke", "states:startExecution", "states:startExecution.sync", "states:startExecution.sync:2", "http:invoke",
        "apigateway:invoke.waitForTaskToken", "states:startExecution.waitForTaskToken",
    ]

    /// The callback pattern (`.waitForTaskToken`): the call hands `$$.Task.Token` to someone who
    /// ends the task later with SendTaskSuccess or SendTaskFailure (and keeps it alive with
    /// SendTaskHeartbeat, when the state has HeartbeatSeconds).
    var isCallback: Bool { resource.hasSuffix(Self.callbackSuffix) }
    static let callbackSuffix = ".waitForTaskToken"

    /// The ARN of the call to make: without `.waitForTaskToken`.
    var callArn: String { isCallback ? String(arn.dropLast(Self.callbackSuffix.count)) : arn }

    /// Nil when the ARN is not an optimized integration this engine runs.
    init?(_ arn: String) {
        let prefix = "arn:aws:states:::"
        guard arn.hasPrefix(prefix) else { return nil }
        let rest = String(arn.dropFirst(prefix.count))
        guard Self.supported.contains(rest), let colon = rest.firstIndex(of: ":") else { return nil }
        self.arn = arn
        resourceType = String(rest[..<colon])
        resource = String(rest[rest.index(after: colon)...])
    }
}

/// One Retry entry: which errors it retries, how often, and how long it waits between tries.
struct Retrier: Sendable {
    enum Jitter: String, Sendable { case full = "FULL", none = "NONE" }

    let errorEquals: [String]
    let intervalSeconds: Int
    let maxAttempts: Int
    let backoffRate: Double
    let maxDelaySeconds: Int?
    let jitter: Jitter

    /// The wait before retry number `attempt` (0 for the first): IntervalSeconds × BackoffRate^attempt,
    /// at most MaxDelaySeconds; with FULL jitter, a random share of it.
    func delay(attempt: Int, random: Double) -> Double {
        var d = Double(intervalSeconds)
        for _ in 0..<attempt { d *= backoffRate }
        if let cap = maxDelaySeconds { d = min(d, Double(cap)) }
        // Never past a year (a Standard execution's whole life): a huge BackoffRate stays finite.
        d = min(d, Double(StateMachineDefinition.maxWaitSeconds))
        return jitter == .full ? d * random : d
    }
}

/// One Catch entry: the errors it handles, the state to go to, and where the error goes.
struct Catcher: Sendable {
    let errorEquals: [String]
    let next: String
    let resultPath: StateMachineDefinition.PathSetting
}

enum ErrorMatch {
    /// Whether an ErrorEquals list names `error`: exactly; through `States.ALL` (every error but
    /// the terminal `States.Runtime` and `States.DataLimitExceeded`, which nothing catches); or
    /// through `States.TaskFailed` (every error but those and `States.Timeout`).
    /// A heartbeat that did not come in time is `States.Timeout`, which `States.HeartbeatTimeout`
    /// also names ("only available inside the Catch and Retry fields", the developer guide).
    static func matches(_ names: [String], _ error: String, heartbeat: Bool = false) -> Bool {
        let terminal = error == "States.Runtime" || error == "States.DataLimitExceeded"
        return names.contains { n in
            n == error || (n == "States.ALL" && !terminal) || (n == "States.TaskFailed" && !terminal && error != "States.Timeout")
                || (heartbeat && n == "States.HeartbeatTimeout")
        }
    }
}

/// Checks and compiles a Task state's fields.
enum TaskCompiler {
    static let maxInteger = 99_999_999

    static func task(_ fields: JSONObject, at: String,
                     path: (String) throws(WorkflowDefinitionError) -> StateMachineDefinition.PathSetting) throws(WorkflowDefinitionError) -> TaskState {
        guard case .string(let arn)? = fields["Resource"] else {
            throw WorkflowDefinitionError(fields["Resource"] == nil
                ? "SCHEMA_VALIDATION_FAILED: These fields are required: [Resource] at \(at)"
                : "SCHEMA_VALIDATION_FAILED: The value for the field 'Resource' must be a STRING at \(at)/Resource")
        }
        guard let resource = TaskResource(arn) else {
            throw WorkflowDefinitionError("UNSUPPORTED_FEATURE: Resource '\(arn)' is not supported yet by the embedded engine "
                + "(it runs arn:aws:states:::apigateway:invoke[.waitForTaskToken], states:startExecution[.sync[:2]|.waitForTaskToken] and http:invoke) at \(at)/Resource")
        }
        let timeout = try positive(fields, "TimeoutSeconds", at)
        let heartbeat = try positive(fields, "HeartbeatSeconds", at)
        let timeoutPath = try referencePath(fields, "TimeoutSecondsPath", at)
        let heartbeatPath = try referencePath(fields, "HeartbeatSecondsPath", at)
        for (fixed, path) in [("TimeoutSeconds", "TimeoutSecondsPath"), ("HeartbeatSeconds", "HeartbeatSecondsPath")]
        where fields[fixed] != nil && fields[path] != nil {
            throw WorkflowDefinitionError("SCHEMA_VALIDATION_FAILED: Only one of '\(fixed)' or '\(path)' can be set at \(at)")
        }
        if let timeout, let heartbeat, heartbeat >= timeout {
            throw WorkflowDefinitionError("SCHEMA_VALIDATION_FAILED: HeartbeatSeconds must be smaller than TimeoutSeconds at \(at)/HeartbeatSeconds")
        }
        return TaskState(
            resource: resource,
            inputPath: try path("InputPath"),
            parameters: try fields["Parameters"].map { v throws(WorkflowDefinitionError) in try PayloadTemplate.compile(v, at: at + "/Parameters") },
            resultSelector: try fields["ResultSelector"].map { v throws(WorkflowDefinitionError) in try PayloadTemplate.compile(v, at: at + "/ResultSelector") },
            resultPath: try path("ResultPath"),
            outputPath: try path("OutputPath"),
            timeoutSeconds: timeout,
            heartbeatSeconds: heartbeat,
            timeoutPath: timeoutPath,
            heartbeatPath: heartbeatPath,
            retriers: try retriers(fields["Retry"], at: at + "/Retry"),
            catchers: try catchers(fields["Catch"], at: at + "/Catch"))
    }

    private static func positive(_ fields: JSONObject, _ key: String, _ at: String) throws(WorkflowDefinitionError) -> Int? {
        guard let v = fields[key] else { return nil }
        guard let n = integer(v), n >= 1, n <= maxInteger else {
            throw WorkflowDefinitionError("SCHEMA_VALIDATION_FAILED: The value for the field '\(key)' must be an INTEGER from 1 to \(maxInteger) at \(at)/\(key)")
        }
        return n
    }

    private static func referencePath(_ fields: JSONObject, _ key: String, _ at: String) throws(WorkflowDefinitionError) -> JSONPath? {
        guard let v = fields[key] else { return nil }
        let here = "\(at)/\(key)"
        guard case .string(let text) = v else {
            throw WorkflowDefinitionError("SCHEMA_VALIDATION_FAILED: The value for the field '\(key)' must be a STRING at \(here)")
        }
        guard let p = JSONPath(text) else { throw WorkflowDefinitionError(JSONPath.unsupported(key, at: here)) }
        guard p.isDefinite else { throw WorkflowDefinitionError(JSONPath.notReference(key, at: here)) }
        return p
    }

    static func integer(_ v: JSONValue) -> Int? {
        v.exactInteger.flatMap { Int(exactly: $0) }
    }

    /// ErrorEquals: a non-empty list of names; `States.ALL` only alone and in the last entry.
    private static func errorEquals(_ value: JSONValue?, at: String, isLast: Bool) throws(WorkflowDefinitionError) -> [String] {
        guard case .array(let items)? = value, !items.isEmpty else {
            throw WorkflowDefinitionError(value == nil
                ? "SCHEMA_VALIDATION_FAILED: These fields are required: [ErrorEquals] at \(at)"
                : "SCHEMA_VALIDATION_FAILED: The value for the field 'ErrorEquals' must be a non-empty ARRAY of STRINGs at \(at)/ErrorEquals")
        }
        var names: [String] = []
        for item in items {
            guard case .string(let s) = item else {
                throw WorkflowDefinitionError("SCHEMA_VALIDATION_FAILED: The value for the field 'ErrorEquals' must be a non-empty ARRAY of STRINGs at \(at)/ErrorEquals")
            }
            names.append(s)
        }
        if names.contains("States.ALL") && (names.count > 1 || !isLast) {
            throw WorkflowDefinitionError("SCHEMA_VALIDATION_FAILED: States.ALL must appear alone in ErrorEquals, and only in the last entry at \(at)/ErrorEquals")
        }
        return names
    }

    private static func entries(_ value: JSONValue?, _ key: String, at: String) throws(WorkflowDefinitionError) -> [JSONObject] {
        guard let value else { return [] }
        guard case .array(let items) = value else {
            throw WorkflowDefinitionError("SCHEMA_VALIDATION_FAILED: The value for the field '\(key)' must be an ARRAY at \(at)")
        }
        var out: [JSONObject] = []
        for (i, item) in items.enumerated() {
            guard case .object(let o) = item else {
                throw WorkflowDefinitionError("SCHEMA_VALIDATION_FAILED: Each entry of '\(key)' must be an OBJECT at \(at)/\(i)")
            }
            out.append(o)
        }
        return out
    }

    static func retriers(_ value: JSONValue?, at: String) throws(WorkflowDefinitionError) -> [Retrier] {
        let list = try entries(value, "Retry", at: at)
        var out: [Retrier] = []
        for (i, o) in list.enumerated() {
            let here = "\(at)/\(i)"
            for key in o.keys where !["ErrorEquals", "IntervalSeconds", "MaxAttempts", "BackoffRate", "MaxDelaySeconds", "JitterStrategy", "Comment"].contains(key) {
                throw WorkflowDefinitionError("SCHEMA_VALIDATION_FAILED: Field '\(key)' is not supported at \(here)")
            }
            let names = try errorEquals(o["ErrorEquals"], at: here, isLast: i == list.count - 1)
            func int(_ key: String, _ min: Int, _ fallback: Int) throws(WorkflowDefinitionError) -> Int {
                guard let v = o[key] else { return fallback }
                guard let n = integer(v), n >= min, n <= maxInteger else {
                    throw WorkflowDefinitionError("SCHEMA_VALIDATION_FAILED: The value for the field '\(key)' must be an INTEGER from \(min) to \(maxInteger) at \(here)/\(key)")
                }
                return n
            }
            let interval = try int("IntervalSeconds", 1, 1)
            let attempts = try int("MaxAttempts", 0, 3)
            let maxDelay: Int? = o["MaxDelaySeconds"] == nil ? nil : try int("MaxDelaySeconds", 1, 0)
            var backoff = 2.0
            if let v = o["BackoffRate"] {
                guard let d = v.doubleValue, d >= 1.0 else {
                    throw WorkflowDefinitionError("SCHEMA_VALIDATION_FAILED: The value for the field 'BackoffRate' must be a NUMBER of at least 1.0 at \(here)/BackoffRate")
                }
                backoff = d
            }
            var jitter = Retrier.Jitter.none
            if let v = o["JitterStrategy"] {
                guard case .string(let s) = v, let j = Retrier.Jitter(rawValue: s) else {
                    throw WorkflowDefinitionError("SCHEMA_VALIDATION_FAILED: The value for the field 'JitterStrategy' must be FULL or NONE at \(here)/JitterStrategy")
                }
                jitter = j
            }
            out.append(Retrier(errorEquals: names, intervalSeconds: interval, maxAttempts: attempts, backoffRate: backoff,
                               maxDelaySeconds: maxDelay, jitter: jitter))
        }
        return out
    }

    static func catchers(_ value: JSONValue?, at: String) throws(WorkflowDefinitionError) -> [Catcher] {
        let list = try entries(value, "Catch", at: at)
        var out: [Catcher] = []
        for (i, o) in list.enumerated() {
            let here = "\(at)/\(i)"
            for key in o.keys where !["ErrorEquals", "Next", "ResultPath", "Comment"].contains(key) {
                throw WorkflowDefinitionError("SCHEMA_VALIDATION_FAILED: Field '\(key)' is not supported at \(here)")
            }
            let names = try errorEquals(o["ErrorEquals"], at: here, isLast: i == list.count - 1)
            guard case .string(let next)? = o["Next"] else {
                throw WorkflowDefinitionError("SCHEMA_VALIDATION_FAILED: These fields are required: [Next] at \(here)")
            }
            out.append(Catcher(errorEquals: names, next: next, resultPath: try StateMachineDefinition.path(o, "ResultPath", here)))
        }
        return out
    }
}
