#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import GatehouseJSON

/// A minimal embedded AWS Step Functions: state machines registered from configuration, and the
/// StartExecution, DescribeExecution, ListExecutions, DescribeStateMachine and ListStateMachines
/// calls of the AWS JSON 1.0 API answered in-process with the service's own bodies and errors.
///
/// Executions advance only in `runPending(now:)`, so between StartExecution and the next call
/// of it an execution is observably RUNNING, as it is on AWS. Use from one thread.
public final class WorkflowEngine {
    let region: String
    let accountId: String
    var machines: [String: RegisteredStateMachine] = [:]
    /// State machine ARNs in registration order.
    var machineOrder: [String] = []
    var nextMachineIndex = 0
    var executions: [String: ExecutionRecord] = [:]
    /// RUNNING executions to advance on the next `runPending`, oldest first.
    var pending: [String] = []
    /// RUNNING executions in a Wait state, by the time the wait ends (epoch seconds).
    var waiting: [String: Double] = [:]

    /// When the earliest Wait state ends, if an execution is waiting: when to call `runPending`.
    /// (At once - `-infinity` - when executions are left over from a pass that hit `passLimit`:
    /// the host should give its loop a turn first, not spin.)
    public var nextWakeTime: Double? { pending.isEmpty ? waiting.values.min() : -Double.infinity }
    /// How many executions one `runPending` advances at most: a pass holds the host's lock, and
    /// a bounded pass lets calls in between (what is left goes in the next pass, at once).
    public var passLimit = 256
    var nextSequence = 0
    /// Each machine's executions' ARNs, oldest first. Kept apart from the machine records: a
    /// copy of a record held while appending here would copy the whole list (CoW) per start.
    var executionsByMachine: [String: [String]] = [:]
    /// Where state is kept across restarts (`attach`); nil keeps it in memory only.
    var store: WorkflowStore?
    /// How many closed executions are kept (in memory and in the store); past it the oldest
    /// closed ones are forgotten, as AWS forgets them after 90 days. Running ones always stay.
    public var closedExecutionLimit = 10_000
    /// Closed executions, oldest first from `closedHead`.
    var closedOrder: [String] = []
    var closedHead = 0
    /// Forgotten executions whose ARNs may still stand in `executionsByMachine` (until the
    /// next compaction): a new start under the same name must not be listed twice.
    var pruned: Set<String> = []
    /// Saves the store refused (outside StartExecution, which fails instead): the host reports them.
    public internal(set) var storeFaults = 0
    /// Group commit: executions' writes wait, each marked once however often it changes, until
    /// the host calls `flushWrites` inside its open transaction and then commits. Only for a host
    /// that answers no call before that commit (an acknowledged start must be on disk).
    public var deferWrites = false
    /// Executions and machines changed or forgotten since the last `flushWrites` (with
    /// `deferWrites`), and what the last flush wrote (written again if its commit is lost).
    var unwritten: Set<String> = []
    var unwrittenMachines: Set<String> = []
    var lastFlushed: (executions: Set<String>, machines: Set<String>) = ([], [])
    /// Rows the store refused, by how many flushes running (`flushRefused`).
    var refusals: [String: Int] = [:]
    /// Counts the changes marked for writing: a host compares it before and after a call to
    /// know whether the call changed anything.
    public internal(set) var changes = 0
    /// How many executions were ever started (a StartExecution that raised it created one; an
    /// idempotent repeat does not).
    public var executionsStarted: Int { nextSequence }

    /// An engine answering for `accountId` in `region`; ARNs are built from both.
    public init(region: String, accountId: String) {
        self.region = region
        self.accountId = accountId
    }

    /// Registers a state machine as `arn:<partition>:states:<region>:<account>:stateMachine:<name>`,
    /// with the current wall-clock time as its creationDate, and returns the ARN. Throws when the
    /// name, type or definition is invalid or names a feature the engine does not run yet.
    /// Registering the same name again with identical settings is a no-op, as CreateStateMachine is.
    @discardableResult
    public func register(name: String, definition: JSONValue, roleArn: String?, type: String = "STANDARD",
                         replacing: Bool = false) throws(WorkflowDefinitionError) -> String {
        try register(name: name, definition: definition, roleArn: roleArn, type: type, creationDate: Self.wallClock(), replacing: replacing)
    }

    /// `register(name:definition:roleArn:type:)` with an explicit creationDate (epoch seconds).
    @discardableResult
    public func register(name: String, definition: JSONValue, roleArn: String?, type: String = "STANDARD", creationDate: Double,
                         replacing: Bool = false) throws(WorkflowDefinitionError) -> String {
        guard !name.isEmpty, name.utf16.count <= 80, Self.isValidName(name) else {
            throw WorkflowDefinitionError("Invalid Name: '\(name)'")
        }
        switch type {
        case "STANDARD": break
        case "EXPRESS": break
        default: throw WorkflowDefinitionError("Invalid state machine type '\(type)' (expected STANDARD or EXPRESS)")
        }
        let arn = "arn:\(partition):states:\(region):\(accountId):stateMachine:\(name)"
        // The same machine again (a template's, restored from the store): checked already.
        if let existing = machines[arn], existing.definition == definition, existing.roleArn == roleArn, existing.type == type {
            return arn
        }
        let parsed = try StateMachineDefinition(definition)
        if var existing = machines[arn] {
            // A template's machine replaces the one a store kept from an earlier run.
            guard replacing else { throw WorkflowDefinitionError("State Machine Already Exists: '\(arn)'") }
            existing.parsed = parsed
            existing.definition = definition
            existing.roleArn = roleArn
            existing.type = type
            machines[arn] = existing
            persist(machine: arn)
            return arn
        }
        machines[arn] = RegisteredStateMachine(
            arn: arn, name: name, index: nextMachineIndex, parsed: parsed, definition: definition,
            roleArn: roleArn, type: type, creationDate: Self.millis(creationDate))
        machineOrder.append(arn)
        nextMachineIndex += 1
        persist(machine: arn)
        return arn
    }

    /// The registered state machines' ARNs, in registration order.
    public var stateMachineArns: [String] { machineOrder }

    /// Answers one AWS JSON 1.0 call. `target` is the X-Amz-Target header
    /// (`AWSStepFunctions.StartExecution`), `body` the request body, `now` the time in epoch
    /// seconds. Returns the HTTP status and the JSON body Step Functions would send.
    public func handle(target: String, body: [UInt8], now: Double) -> (status: Int, body: [UInt8]) {
        // Coral reads the body before it routes on the target, so bad JSON wins over a bad target.
        let members: JSONObject
        if body.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0A || $0 == 0x0D }) {
            members = JSONObject()
        } else if case .object(let object)? = try? JSONValue.parse(body) {
            members = object
        } else {
            return (400, ServiceError.malformedBody.body)
        }
        let request = RequestMembers(object: members)
        let prefix = "AWSStepFunctions."
        guard target.hasPrefix(prefix) else { return (400, ServiceError.unknownOperation.body) }
        do throws(ServiceError) {
            let response: Wire
            switch target.dropFirst(prefix.count) {
            case "CreateStateMachine": response = try createStateMachine(request, now: now)
            case "StartExecution": response = try startExecution(request, now: now)
            case "StartSyncExecution": response = try startSyncExecution(request, now: now)
            case "DescribeExecution": response = try describeExecution(request)
            case "StopExecution": response = try stopExecution(request, now: now)
            case "DeleteStateMachine": response = try deleteStateMachine(request)
            case "UpdateStateMachine": response = try updateStateMachine(request, now: now)
            case "GetExecutionHistory": response = try getExecutionHistory(request)
            case "SendTaskSuccess": response = try sendTaskResult(request, success: true, now: now)
            case "SendTaskFailure": response = try sendTaskResult(request, success: false, now: now)
            case "SendTaskHeartbeat": response = try sendTaskHeartbeat(request, now: now)
            case "ListExecutions": response = try listExecutions(request)
            case "DescribeStateMachine": response = try describeStateMachine(request)
            case "ListStateMachines": response = try listStateMachines(request)
            default: throw ServiceError.unknownOperation
            }
            return (200, response.serialized())
        } catch {
            return (error.status, error.body)
        }
    }

    /// Task calls started executions wait for and the host has not taken yet.
    var dispatchQueue: [String] = []

    /// The calls of Task states waiting to be made, each marked started (TaskStarted) as it is
    /// handed out. The host makes them and reports each with `completeTask`.
    public func takeTaskRequests(now: Double) -> [TaskRequest] {
        let queued = dispatchQueue
        dispatchQueue = []
        var out: [TaskRequest] = []
        for arn in queued {
            guard var record = executions[arn], var run = record.run else { continue }
            let calls = run.dispatch(now: now)
            guard !calls.isEmpty else { continue }
            record.run = run
            executions[arn] = record
            persist(execution: arn)
            // A callback call's heartbeat clock starts now.
            wake(arn, run)
            for (call, submitted) in calls {
                // (A deleted machine's executions still run; its role is then unknown.)
                out.append(TaskRequest(executionArn: arn, taskId: call.id, resource: call.resource.arn, parameters: call.parameters,
                                       stateMachineArn: record.stateMachineArn, roleArn: machines[record.stateMachineArn]?.roleArn,
                                       region: region, accountId: accountId, submitted: submitted, token: call.token,
                                       callResource: call.resource.callArn))
            }
        }
        return out
    }

    /// The answer to a Task call. The execution goes on at the next `runPending`; an answer for
    /// a call that timed out, or for a stopped execution, is ignored.
    /// With `token` (the request's), an answer for an earlier run under the same ARN, whose call
    /// ids started at 1 too, cannot complete this run's call.
    public func completeTask(executionArn: String, taskId: Int, token: String? = nil, result: TaskResult, now: Double) {
        guard var record = executions[executionArn], var run = record.run else { return }
        if let outcome = run.complete(id: taskId, token: token, result: result, now: now) {
            close(&record, run, outcome, now)
        } else {
            record.run = run
            waiting[executionArn] = nil
            pending.append(executionArn)
        }
        executions[executionArn] = record
        persist(execution: executionArn)
    }

    /// A callback-style call (`.sync`) was accepted and the task now waits for its end:
    /// TaskSubmitted, with what the service answered.
    public func taskSubmitted(executionArn: String, taskId: Int, token: String? = nil, output: JSONValue, now: Double) {
        guard var record = executions[executionArn], var run = record.run else { return }
        run.submitted(id: taskId, token: token, output: output, now: now)
        record.run = run
        executions[executionArn] = record
        persist(execution: executionArn)
    }

    /// Records an execution's end.
    private func close(_ record: inout ExecutionRecord, _ run: ExecutionRun, _ outcome: ExecutionRun.Outcome, _ now: Double) {
        switch outcome {
        case .succeeded(let output):
            close(&record, run, .succeeded, stopDate: max(record.startDate, Self.millis(now)), output: output.jsonText)
        case .failed(let error, let cause):
            close(&record, run, .failed, stopDate: max(record.startDate, Self.millis(now)), error: error, cause: cause)
        }
    }

    /// Every way an execution closes (its end, its TimeoutSeconds, StopExecution): the record
    /// takes the run's history and its final fields, and nothing is due for it any more.
    func close(_ record: inout ExecutionRecord, _ run: ExecutionRun, _ status: ExecutionRecord.Status, stopDate: Double,
               output: String? = nil, error: String? = nil, cause: String? = nil) {
        record.history = run.history
        record.run = nil
        record.status = status
        record.stopDate = stopDate
        record.output = output
        record.error = error
        record.cause = cause
        // (A closed execution's ARN left in `pending` or `dispatchQueue` is passed over there.)
        waiting[record.arn] = nil
        closedOrder.append(record.arn)
    }

    /// Forgets the oldest closed executions beyond `closedExecutionLimit`, in one store
    /// transaction. The host calls it after it has looked at the pass's closed executions (a
    /// `.sync` parent or a StartSyncExecution caller still needs its child's description).
    public func pruneClosed() {
        let limit = max(1, closedExecutionLimit)
        guard closedOrder.count - closedHead > limit else { return }
        let body = {
            while self.closedOrder.count - self.closedHead > limit {
                let arn = self.closedOrder[self.closedHead]
                self.closedHead += 1
                // The newest sequence number stays, so a restart does not hand it out again.
                if let e = self.executions[arn], e.run == nil, e.sequence != self.nextSequence - 1 {
                    self.executions[arn] = nil
                    self.pruned.insert(arn)
                    if self.deferWrites {
                        self.unwritten.insert(arn)
                    } else {
                        do { try self.store?.delete(execution: arn) } catch { self.storeFaults += 1 }
                    }
                }
            }
        }
        // (With deferWrites the deletes are only marked: the host's commit writes them.)
        if let store, !deferWrites { if !store.batch(body) { storeFaults += 1 } } else { body() }
        if closedHead > 4096 && closedHead * 2 > closedOrder.count {
            closedOrder.removeFirst(closedHead)
            closedHead = 0
            // The per-machine lists keep only what is still there.
            for (machine, arns) in executionsByMachine { executionsByMachine[machine] = arns.filter { executions[$0] != nil } }
            pruned.removeAll()
        }
    }

    /// Runs every RUNNING execution that is due until it closes (SUCCEEDED or FAILED) at `now`,
    /// or reaches a Wait state that ends later. The gateway calls this on the loop tick after
    /// StartExecution, and again at `nextWakeTime`.
    public func runPending(now: Double) {
        // The saves of one pass are one transaction.
        // (With deferWrites the pass only marks what changed: the host's commit writes it.)
        guard let store, !deferWrites else { return advanceDue(now: now) }
        if !store.batch({ advanceDue(now: now) }) { storeFaults += 1 }
    }

    private func advanceDue(now: Double) {
        let limit = max(1, passLimit)
        // Waits that have ended (and timeouts), earliest first, get at least half of a pass, so a
        // steady stream of new starts cannot hold them back; new starts fill the rest.
        let woken = waiting.filter { $0.value <= now }.sorted { ($0.value, $0.key) < ($1.value, $1.key) }
        let wokenShare = min(woken.count, max(limit / 2, limit - pending.count))
        let take = min(pending.count, limit - wokenShare)
        var due = Array(pending[..<take])
        pending.removeFirst(take)
        for (arn, _) in woken.prefix(wokenShare) {
            waiting[arn] = nil
            due.append(arn)
        }
        for arn in due {
            guard var record = executions[arn], var run = record.run else { continue }
            if let deadline = run.deadline, deadline <= now {
                // Past the definition's TimeoutSeconds: TIMED_OUT, whatever it was doing.
                run.timeOutExecution(now: deadline)
                close(&record, run, .timedOut, stopDate: Self.millis(deadline), error: "States.Timeout")
                executions[arn] = record
                persist(execution: arn)
                continue
            }
            if let outcome = run.advance(now: now) {
                close(&record, run, outcome, now)
            } else {
                record.run = run
                if run.hasUndispatchedCalls && !dispatchQueue.contains(arn) { dispatchQueue.append(arn) }
                wake(arn, run)
            }
            executions[arn] = record
            persist(execution: arn)
        }
    }

    /// Sets when RUNNING execution `arn` is next due: the earliest of what its frames wait for
    /// and its own deadline.
    func wake(_ arn: String, _ run: ExecutionRun) {
        var wake = run.wakeTime
        if let deadline = run.deadline { wake = min(wake ?? deadline, deadline) }
        waiting[arn] = wake
    }

    /// The ARN partition of the engine's region (`aws-cn` in China, `aws-us-gov` in GovCloud).
    var partition: String {
        if region.hasPrefix("cn-") { return "aws-cn" }
        if region.hasPrefix("us-gov-") { return "aws-us-gov" }
        return "aws"
    }

    /// Step Functions keeps timestamps to the millisecond.
    static func millis(_ seconds: Double) -> Double {
        (seconds * 1000).rounded() / 1000
    }

    /// The naming rules Step Functions documents for state machines and executions: no
    /// whitespace, no `< > { } [ ] ? * " # % \ ^ | ~ ` $ & , ; : /`, no control characters
    /// (U+0000–001F, U+007F–009F). Non-ASCII letters are allowed.
    static func isValidName(_ name: String) -> Bool {
        name.unicodeScalars.allSatisfy { u in
            !u.properties.isWhitespace
                && !"<>{}[]?*\"#%\\^|~`$&,;:/".unicodeScalars.contains(u)
                && !(0x00...0x1F).contains(u.value) && !(0x7F...0x9F).contains(u.value)
        }
    }

    private static func wallClock() -> Double {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Double(now.tv_sec) + Double(now.tv_nsec / 1_000_000) / 1000
    }
}

/// A registered state machine: its definition as written and as checked.
struct RegisteredStateMachine {
    let arn: String
    let name: String
    /// Position in registration order (never reused); ListStateMachines pages by it.
    let index: Int
    var parsed: StateMachineDefinition
    var definition: JSONValue
    var roleArn: String?
    var type: String
    let creationDate: Double
    var updateDate: Double?
}

/// One execution as DescribeExecution reports it.
struct ExecutionRecord {
    enum Status: String {
        case running = "RUNNING"
        case succeeded = "SUCCEEDED"
        case failed = "FAILED"
        case aborted = "ABORTED"
        case timedOut = "TIMED_OUT"
    }

    let arn: String
    let stateMachineArn: String
    let name: String
    /// The input text exactly as given, which DescribeExecution echoes back.
    let input: String
    let startDate: Double
    /// Start order across the engine; ListExecutions pages by it.
    let sequence: Int
    var status = Status.running
    var stopDate: Double?
    var output: String?
    var error: String?
    var cause: String?
    /// The interpreter state while RUNNING.
    var run: ExecutionRun?
    /// The history once closed (while RUNNING it is the run's).
    var history: [HistoryEvent] = []

    /// The history so far.
    var events: [HistoryEvent] { run?.history ?? history }
}

/// A Task state's call of its resource, for the host to make.
public struct TaskRequest: Sendable {
    public let executionArn: String
    /// Which call this is; `completeTask` names it back.
    public let taskId: Int
    /// The resource ARN, e.g. `arn:aws:states:::apigateway:invoke`.
    public let resource: String
    /// The state's effective parameters (after InputPath and Parameters).
    public let parameters: JSONValue
    public let stateMachineArn: String
    public let roleArn: String?
    public let region: String
    public let accountId: String
    /// For a `.sync` call made again after a restart: what the service answered the first time
    /// (the child it started), so the host waits on that child rather than starting another.
    public let submitted: JSONValue?
    /// The call's task token (`$$.Task.Token`).
    public let token: String
    /// The call to make: the resource without its `.waitForTaskToken`.
    public let callResource: String

    /// A callback call (`….waitForTaskToken`): the host makes the call and reports what the
    /// service answered with `taskSubmitted` (or a failure with `completeTask`); the task then
    /// waits for SendTaskSuccess or SendTaskFailure.
    public var isCallback: Bool { callResource != resource }
}

/// What a Task call came to: its result, or an error name and cause (Retry and Catch match
/// the name).
public enum TaskResult: Sendable {
    case success(JSONValue)
    case failure(error: String, cause: String)
}
