import GatehouseJSON

/// The five operations. Each checks its request in the order the service does: Coral's model
/// constraints first (one ValidationException listing every violation), then the ARN's form,
/// then whether the resource exists, then the operation's own rules.
extension WorkflowEngine {
    static let statusValues = ["RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED", "PENDING_REDRIVE"]
    static let defaultPageSize = 100

    func startExecution(_ request: RequestMembers, now: Double) throws(ServiceError) -> Wire {
        let machineArn = try request.string("stateMachineArn")
        let name = try request.string("name")
        let input = try request.string("input")
        let traceHeader = try request.string("traceHeader")
        var constraints = Constraints()
        constraints.required(machineArn, "stateMachineArn")
        constraints.length(machineArn, "stateMachineArn", min: 1, max: 256)
        constraints.length(name, "name", min: 1, max: 80)
        constraints.sensitiveSize(input, "input", maxBytes: 262_144)
        constraints.length(traceHeader, "traceHeader", min: 0, max: 256)
        constraints.ascii(traceHeader, "traceHeader")
        try constraints.check()
        guard let machineArn else { preconditionFailure("required() admits no null stateMachineArn") }
        let machine = try stateMachine(machineArn)

        // Observed on AWS: an unknown state machine is reported before a bad name or input.
        let executionName = name ?? Self.randomUUID()
        guard Self.isValidName(executionName) else {
            throw .service("InvalidName", "Invalid Name: '\(executionName)'")
        }
        let inputText = input ?? "{}"
        let parsedInput: JSONValue
        do {
            parsedInput = try JSONValue.parse(inputText)
        } catch {
            throw .service("InvalidExecutionInput", "Invalid State Machine Execution Input: '\(error)'")
        }

        let executionArn = "arn:\(partition):states:\(region):\(accountId):execution:\(machine.name):\(executionName)"
        if let existing = executions[executionArn] {
            // StartExecution is idempotent for Standard workflows only while the first
            // execution is open and the input is identical; otherwise the name is taken.
            guard existing.status == .running, existing.input == inputText else {
                throw .service("ExecutionAlreadyExists", "Execution Already Exists: '\(executionArn)'")
            }
            return Self.startResponse(existing)
        }

        let startDate = Self.millis(now)
        let context = ExecutionContext(
            executionArn: executionArn, name: executionName, input: parsedInput, roleArn: machine.roleArn,
            startDate: startDate, stateMachineArn: machine.arn, stateMachineName: machine.name)
        let record = ExecutionRecord(
            arn: executionArn, stateMachineArn: machine.arn, name: executionName, input: inputText,
            startDate: startDate, sequence: nextSequence,
            run: ExecutionRun(definition: machine.parsed, document: machine.definition, context: context, inputText: inputText))
        nextSequence += 1
        executions[executionArn] = record
        // Acknowledged only once kept: a store that refuses the write undoes the start.
        guard persist(execution: executionArn) else {
            executions[executionArn] = nil
            throw .internalFailure("The execution could not be recorded; it was not started.")
        }
        if pruned.remove(executionArn) != nil {
            // The name was used by an execution since forgotten: its ARN is still listed.
            executionsByMachine[machine.arn]?.removeAll { $0 == executionArn }
        }
        executionsByMachine[machine.arn, default: []].append(executionArn)
        pending.append(executionArn)
        return Self.startResponse(record)
    }

    /// StartSyncExecution, for EXPRESS machines: the execution starts here and the host
    /// answers the caller once it has closed (`syncResponse`); this answer only names it.
    func startSyncExecution(_ request: RequestMembers, now: Double) throws(ServiceError) -> Wire {
        guard try stateMachine(try requiredArn(request, "stateMachineArn")).type == "EXPRESS" else {
            throw .service("StateMachineTypeNotSupported", "This operation is not supported by this type of state machine")
        }
        return try startExecution(request, now: now)
    }

    /// The answer to StartSyncExecution once its execution has closed, from DescribeExecution's.
    public static func syncResponse(_ d: JSONValue) -> [UInt8] {
        var members: [(String, Wire)] = []
        for key in ["executionArn", "stateMachineArn", "name"] { if let v = d[key] { members.append((key, .json(v))) } }
        if let v = d["startDate"]?.doubleValue { members.append(("startDate", .date(v))) }
        if let v = d["stopDate"]?.doubleValue { members.append(("stopDate", .date(v))) }
        for key in ["status", "error", "cause", "input", "inputDetails", "output", "outputDetails"] {
            if let v = d[key] { members.append((key, .json(v))) }
        }
        let millis = max(0, Int64(((d["stopDate"]?.doubleValue ?? 0) - (d["startDate"]?.doubleValue ?? 0)) * 1000))
        members.append(("billingDetails", .object([
            ("billedMemoryUsedInMB", .json(.int(64))),
            ("billedDurationInMilliseconds", .json(.int(max(100, (millis + 99) / 100 * 100)))),
        ])))
        return Wire.object(members).serialized()
    }

    /// The one member of a request that names a resource by ARN: required, 1 to 256 long.
    private func requiredArn(_ request: RequestMembers, _ member: String) throws(ServiceError) -> String {
        let arn = try request.string(member)
        var constraints = Constraints()
        constraints.required(arn, member)
        constraints.length(arn, member, min: 1, max: 256)
        try constraints.check()
        guard let arn else { preconditionFailure("required() admits no null ARN") }
        return arn
    }

    func describeExecution(_ request: RequestMembers) throws(ServiceError) -> Wire {
        let arn = try requiredArn(request, "executionArn")
        try StatesArn.check(arn, expecting: "execution", names: 2...2)
        guard let e = executions[arn] else { throw .executionDoesNotExist(arn) }

        var members: [(String, Wire)] = [
            ("executionArn", .string(e.arn)),
            ("stateMachineArn", .string(e.stateMachineArn)),
            ("name", .string(e.name)),
            ("status", .string(e.status.rawValue)),
            ("startDate", .date(e.startDate)),
        ]
        if let stop = e.stopDate { members.append(("stopDate", .date(stop))) }
        members.append(("input", .string(e.input)))
        members.append(("inputDetails", .object([("included", .json(.bool(true)))])))
        if let output = e.output {
            members.append(("output", .string(output)))
            members.append(("outputDetails", .object([("included", .json(.bool(true)))])))
        }
        if let error = e.error { members.append(("error", .string(error))) }
        if let cause = e.cause { members.append(("cause", .string(cause))) }
        return .object(members)
    }

    func getExecutionHistory(_ request: RequestMembers) throws(ServiceError) -> Wire {
        let arn = try request.string("executionArn")
        let maxResults = try request.integer("maxResults")
        let nextToken = try request.string("nextToken")
        let reverse = try request.boolean("reverseOrder") ?? false
        let includeData = try request.boolean("includeExecutionData") ?? true
        var constraints = Constraints()
        constraints.required(arn, "executionArn")
        constraints.length(arn, "executionArn", min: 1, max: 256)
        constraints.range(maxResults, "maxResults", min: 0, max: 1000)
        constraints.length(nextToken, "nextToken", min: 1, max: 3096)
        try constraints.check()
        guard let arn else { preconditionFailure("required() admits no null ARN") }
        try StatesArn.check(arn, expecting: "execution", names: 2...2)
        guard let e = executions[arn] else { throw .executionDoesNotExist(arn) }
        let scope = "h\(e.sequence)" + (reverse ? "r" : "")
        // Positions count from the first event returned in this order.
        let start = try nextToken.map { t throws(ServiceError) in try Self.decodeToken(t, scope: scope) + 1 } ?? 0
        let all = e.events
        let limit = maxResults.flatMap { $0 == 0 ? nil : $0 } ?? Self.defaultPageSize
        let end = min(all.count, start + limit)
        // Positions in the order asked for, read from the history without copying it.
        let page = start < end ? (start..<end).map { all[reverse ? all.count - 1 - $0 : $0] } : []
        var members: [(String, Wire)] = [("events", .array(page.map { $0.wire(includeData: includeData) }))]
        if end < all.count {
            members.append(("nextToken", .string(Self.encodeToken(scope: scope, position: end - 1))))
        }
        return .object(members)
    }

    func listExecutions(_ request: RequestMembers) throws(ServiceError) -> Wire {
        let machineArn = try request.string("stateMachineArn")
        let mapRunArn = try request.string("mapRunArn")
        let statusFilter = try request.string("statusFilter")
        let maxResults = try request.integer("maxResults")
        let nextToken = try request.string("nextToken")
        var constraints = Constraints()
        constraints.length(machineArn, "stateMachineArn", min: 1, max: 256)
        constraints.oneOf(statusFilter, "statusFilter", Self.statusValues)
        constraints.range(maxResults, "maxResults", min: 0, max: 1000)
        constraints.length(nextToken, "nextToken", min: 1, max: 1024)
        try constraints.check()
        guard let machineArn else {
            // The engine runs no Map states, so no map run can exist.
            if let mapRunArn { throw .service("ResourceNotFound", "Resource not found: '\(mapRunArn)'") }
            throw ServiceError(type: "com.amazon.coral.validate#ValidationException", message: "Must provide a StateMachine ARN or a MapRun ARN")
        }
        let machine = try stateMachine(machineArn)
        let after = try nextToken.map { t throws(ServiceError) in try Self.decodeToken(t, scope: "e\(machine.index)") }

        let matching = (executionsByMachine[machine.arn] ?? []).reversed().lazy
            .compactMap { self.executions[$0] }
            .filter { statusFilter == nil || $0.status.rawValue == statusFilter }
            .filter { e in after.map { e.sequence < $0 } ?? true }
        let limit = maxResults.flatMap { $0 == 0 ? nil : $0 } ?? Self.defaultPageSize
        var page: [ExecutionRecord] = []
        var more = false
        for e in matching {
            if page.count == limit {
                more = true
                break
            }
            page.append(e)
        }
        let items: [Wire] = page.map { e in
            var item: [(String, Wire)] = [
                ("executionArn", .string(e.arn)),
                ("stateMachineArn", .string(e.stateMachineArn)),
                ("name", .string(e.name)),
                ("status", .string(e.status.rawValue)),
                ("startDate", .date(e.startDate)),
            ]
            if let stop = e.stopDate { item.append(("stopDate", .date(stop))) }
            return .object(item)
        }
        var members: [(String, Wire)] = [("executions", .array(items))]
        if more, let last = page.last {
            members.append(("nextToken", .string(Self.encodeToken(scope: "e\(machine.index)", position: last.sequence))))
        }
        return .object(members)
    }

    func describeStateMachine(_ request: RequestMembers) throws(ServiceError) -> Wire {
        let m = try stateMachine(try requiredArn(request, "stateMachineArn"))
        var members: [(String, Wire)] = [
            ("stateMachineArn", .string(m.arn)),
            ("name", .string(m.name)),
            ("status", .string("ACTIVE")),
            ("definition", .string(m.definition.jsonText)),
        ]
        if let role = m.roleArn { members.append(("roleArn", .string(role))) }
        members.append(("type", .string(m.type)))
        members.append(("creationDate", .date(m.creationDate)))
        // The service reports logging and X-Ray tracing even when both are off.
        members.append(("loggingConfiguration", .object([("level", .string("OFF")), ("includeExecutionData", .json(.bool(false)))])))
        members.append(("tracingConfiguration", .object([("enabled", .json(.bool(false)))])))
        return .object(members)
    }

    func listStateMachines(_ request: RequestMembers) throws(ServiceError) -> Wire {
        let maxResults = try request.integer("maxResults")
        let nextToken = try request.string("nextToken")
        var constraints = Constraints()
        constraints.range(maxResults, "maxResults", min: 0, max: 1000)
        constraints.length(nextToken, "nextToken", min: 1, max: 1024)
        try constraints.check()
        // The token names the registration index of the last machine returned, so a page stays
        // stable when machines are created or deleted between calls.
        let after = try nextToken.map { t throws(ServiceError) in try Self.decodeToken(t, scope: "m") } ?? -1
        let limit = maxResults.flatMap { $0 == 0 ? nil : $0 } ?? Self.defaultPageSize
        let remaining = machineOrder.compactMap { machines[$0] }.filter { $0.index > after }
        let page = remaining.prefix(limit)
        let items: [Wire] = page.map { m in
            .object([
                ("stateMachineArn", .string(m.arn)),
                ("name", .string(m.name)),
                ("type", .string(m.type)),
                ("creationDate", .date(m.creationDate)),
            ])
        }
        var members: [(String, Wire)] = [("stateMachines", .array(items))]
        if remaining.count > limit, let last = page.last {
            members.append(("nextToken", .string(Self.encodeToken(scope: "m", position: last.index))))
        }
        return .object(members)
    }

    /// Deletes a state machine. Its executions stay readable, and one still RUNNING goes on to
    /// its end (the service lets them finish too). Deleting a machine that is not there succeeds.
    func deleteStateMachine(_ request: RequestMembers) throws(ServiceError) -> Wire {
        let arn = try requiredArn(request, "stateMachineArn")
        try StatesArn.check(arn, expecting: "stateMachine", names: 1...1)
        machines[arn] = nil
        machineOrder.removeAll { $0 == arn }
        executionsByMachine[arn] = nil
        persist(machine: arn)
        return .object([])
    }

    /// Replaces a state machine's definition and/or role. Executions already started keep the
    /// definition they started with.
    func updateStateMachine(_ request: RequestMembers, now: Double) throws(ServiceError) -> Wire {
        let arn = try request.string("stateMachineArn")
        let definition = try request.string("definition")
        let roleArn = try request.string("roleArn")
        var constraints = Constraints()
        constraints.required(arn, "stateMachineArn")
        constraints.length(arn, "stateMachineArn", min: 1, max: 256)
        constraints.sensitiveSize(definition, "definition", maxBytes: 1_048_576)
        constraints.length(roleArn, "roleArn", min: 1, max: 256)
        try constraints.check()
        guard let arn else { preconditionFailure("required() admits no null ARN") }
        var machine = try stateMachine(arn)
        let hasLogging = request.object["loggingConfiguration"] != nil, hasTracing = request.object["tracingConfiguration"] != nil
        guard definition != nil || roleArn != nil || hasLogging || hasTracing else {
            throw .service("MissingRequiredParameter", "Either the definition, the role ARN, the LoggingConfiguration, or the TracingConfiguration must be specified")
        }
        if let roleArn {
            guard roleArn.hasPrefix("arn:"), roleArn.split(separator: ":", omittingEmptySubsequences: false).count >= 6 else {
                throw .invalidArn("Invalid ARN prefix: \(roleArn)")
            }
            machine.roleArn = roleArn
        }
        if let definition {
            let document: JSONValue
            do {
                document = try JSONValue.parse(definition)
            } catch {
                throw .service("InvalidDefinition", "Invalid State Machine Definition: 'INVALID_JSON_DESCRIPTION: \(error)'")
            }
            do {
                machine.parsed = try StateMachineDefinition(document)
            } catch {
                throw .service("InvalidDefinition", "Invalid State Machine Definition: '\(error.message)'")
            }
            machine.definition = document
        }
        let updateDate = Self.millis(now)
        machine.updateDate = updateDate
        machines[arn] = machine
        persist(machine: arn)
        return .object([("updateDate", .date(updateDate))])
    }

    /// The service's own 500 InternalFailure body, for a host that could not keep a call's changes.
    public static func internalFailure(_ message: String) -> [UInt8] {
        ServiceError.internalFailure(message).body
    }

    /// Undoes a StartExecution whose write was lost (a group commit that failed): the
    /// execution is gone, as if it had never been started. (What it did meanwhile, in memory, is
    /// dropped with it.)
    public func forget(executionArn arn: String) {
        guard let record = executions.removeValue(forKey: arn) else { return }
        pending.removeAll { $0 == arn }
        dispatchQueue.removeAll { $0 == arn }
        waiting[arn] = nil
        executionsByMachine[record.stateMachineArn]?.removeAll { $0 == arn }
    }

    /// The execution ARN a task token names (for a host that routes calls by account).
    public static func executionArn(ofTaskToken token: String) -> String? {
        ExecutionRun.readTaskToken(token)?.executionArn
    }

    /// The RUNNING execution and call a task token names, or the service's refusal: a token
    /// that is no token at all is InvalidToken; one whose task has ended (or whose execution
    /// closed) is TaskTimedOut, as AWS answers a token used twice.
    private func callbackTarget(_ token: String) throws(ServiceError) -> (arn: String, call: Int) {
        guard let (arn, call) = ExecutionRun.readTaskToken(token) else {
            // (The message text is ours: AWS's was not found recorded.)
            throw .service("InvalidToken", "Invalid Token: '\(token)'")
        }
        guard let run = executions[arn]?.run, run.isWaiting(call: call, token: token) else {
            // The text of a real answer to a token whose task had ended.
            throw .service("TaskTimedOut", "Task Timed Out: 'Provided task does not exist anymore'")
        }
        return (arn, call)
    }

    /// The `taskToken` member of SendTask*, with its constraints added to the call's.
    private func taskToken(_ request: RequestMembers, _ constraints: inout Constraints) throws(ServiceError) -> String? {
        let token = try request.string("taskToken")
        constraints.required(token, "taskToken")
        constraints.length(token, "taskToken", min: 1, max: 2048)
        return token
    }

    /// SendTaskSuccess (`success`) or SendTaskFailure: ends a callback task as TaskSucceeded
    /// with `output`, or TaskFailed with `error` and `cause` (then Retry and Catch).
    func sendTaskResult(_ request: RequestMembers, success: Bool, now: Double) throws(ServiceError) -> Wire {
        var constraints = Constraints()
        let token = try taskToken(request, &constraints)
        let result: TaskResult
        if success {
            let output = try request.string("output")
            constraints.required(output, "output")
            constraints.sensitiveSize(output, "output", maxBytes: ExecutionRun.payloadLimit)
            try constraints.check()
            let value: JSONValue
            do {
                value = try JSONValue.parse(output ?? "")
            } catch {
                throw .service("InvalidOutput", "Invalid Output: '\(error)'")
            }
            result = .success(value)
        } else {
            let error = try request.string("error")
            let cause = try request.string("cause")
            constraints.length(error, "error", min: 0, max: 256)
            constraints.sensitiveSize(cause, "cause", maxBytes: 32_768)
            try constraints.check()
            result = .failure(error: error ?? "", cause: cause ?? "")
        }
        guard let token else { preconditionFailure("required() admits no null token") }
        let (arn, call) = try callbackTarget(token)
        completeTask(executionArn: arn, taskId: call, result: result, now: now)
        return .object([])
    }

    /// SendTaskHeartbeat: the callback task's HeartbeatSeconds clock starts again.
    func sendTaskHeartbeat(_ request: RequestMembers, now: Double) throws(ServiceError) -> Wire {
        var constraints = Constraints()
        let token = try taskToken(request, &constraints)
        try constraints.check()
        guard let token else { preconditionFailure("required() admits no null token") }
        let (arn, call) = try callbackTarget(token)
        guard var record = executions[arn], var run = record.run else { return .object([]) }
        run.heartbeat(call: call, now: now)
        record.run = run
        executions[arn] = record
        wake(arn, run)          // the next wake time moves with it
        persist(execution: arn)
        return .object([])
    }

    /// Stops a RUNNING execution: ABORTED, with ExecutionAborted (the error and cause given)
    /// in its history. Stopping one that has already closed changes nothing.
    func stopExecution(_ request: RequestMembers, now: Double) throws(ServiceError) -> Wire {
        let arn = try request.string("executionArn")
        let error = try request.string("error")
        let cause = try request.string("cause")
        var constraints = Constraints()
        constraints.required(arn, "executionArn")
        constraints.length(arn, "executionArn", min: 1, max: 256)
        constraints.length(error, "error", min: 0, max: 256)
        constraints.sensitiveSize(cause, "cause", maxBytes: 32_768)
        try constraints.check()
        guard let arn else { preconditionFailure("required() admits no null ARN") }
        try StatesArn.check(arn, expecting: "execution", names: 2...2)
        guard var record = executions[arn] else { throw .executionDoesNotExist(arn) }
        if var run = record.run {
            let stopDate = max(record.startDate, Self.millis(now))
            run.abort(error: error, cause: cause, now: stopDate)
            close(&record, run, .aborted, stopDate: stopDate, error: error, cause: cause)
            executions[arn] = record
            persist(execution: arn)
        }
        return .object([("stopDate", .date(record.stopDate ?? Self.millis(now)))])
    }

    func createStateMachine(_ request: RequestMembers, now: Double) throws(ServiceError) -> Wire {
        let name = try request.string("name")
        let definition = try request.string("definition")
        let roleArn = try request.string("roleArn")
        let type = try request.string("type")
        var constraints = Constraints()
        constraints.required(name, "name")
        constraints.length(name, "name", min: 1, max: 80)
        constraints.required(definition, "definition")
        constraints.sensitiveSize(definition, "definition", maxBytes: 1_048_576)
        constraints.required(roleArn, "roleArn")
        constraints.length(roleArn, "roleArn", min: 1, max: 256)
        constraints.oneOf(type, "type", ["STANDARD", "EXPRESS"])
        try constraints.check()
        guard let name, let definition, let roleArn else { preconditionFailure("required() admits no null member") }
        guard Self.isValidName(name) else { throw .service("InvalidName", "Invalid Name: '\(name)'") }
        guard roleArn.hasPrefix("arn:"), roleArn.split(separator: ":", omittingEmptySubsequences: false).count >= 6 else {
            throw .invalidArn("Invalid ARN prefix: \(roleArn)")
        }
        let document: JSONValue
        do {
            document = try JSONValue.parse(definition)
        } catch {
            throw .service("InvalidDefinition", "Invalid State Machine Definition: 'INVALID_JSON_DESCRIPTION: \(error)'")
        }
        let machineType = type ?? "STANDARD"
        let arn: String
        do {
            arn = try register(name: name, definition: document, roleArn: roleArn, type: machineType, creationDate: now)
        } catch {
            if error.message.hasPrefix("State Machine Already Exists") {
                throw .service("StateMachineAlreadyExists", error.message)
            }
            throw .service("InvalidDefinition", "Invalid State Machine Definition: '\(error.message)'")
        }
        guard let machine = machines[arn] else { preconditionFailure("a registered machine is stored") }
        return .object([("stateMachineArn", .string(arn)), ("creationDate", .date(machine.creationDate))])
    }

    /// The registered state machine `arn` names, after checking the ARN's form.
    private func stateMachine(_ arn: String) throws(ServiceError) -> RegisteredStateMachine {
        try StatesArn.check(arn, expecting: "stateMachine", names: 1...2)
        guard let machine = machines[arn] else { throw .stateMachineDoesNotExist(arn) }
        return machine
    }

    private static func startResponse(_ e: ExecutionRecord) -> Wire {
        .object([("executionArn", .string(e.arn)), ("startDate", .date(e.startDate))])
    }

    /// Page tokens are opaque to callers; they name the listing (`scope`) and the position of
    /// the last item returned, so a page stays stable while new executions start.
    private static func encodeToken(scope: String, position: Int) -> String {
        "LW1.\(scope).\(position)"
    }

    private static func decodeToken(_ token: String, scope: String) throws(ServiceError) -> Int {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0] == "LW1", parts[1] == scope, let position = Int(parts[2]), position >= 0 else {
            throw .service("InvalidToken", "Invalid Token: '\(token)'")
        }
        return position
    }
}
