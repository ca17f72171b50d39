import GatehouseJSON

/// Where the engine keeps state machines and executions across restarts. Saves replace the
/// whole record by ARN; `load` returns everything saved, executions in start order.
public protocol WorkflowStore: AnyObject, Sendable {
    func save(machine arn: String, _ snapshot: JSONValue) throws(StoreError)
    func delete(machine arn: String) throws(StoreError)
    func save(execution arn: String, sequence: Int, _ snapshot: JSONValue) throws(StoreError)
    func delete(execution arn: String) throws(StoreError)
    func load() throws(StoreError) -> (machines: [JSONValue], executions: [JSONValue])
    /// Runs `body`'s saves as one transaction (one commit for many executions' changes);
    /// false when the commit failed (the saves are then lost). Inside an open group, they join it.
    func batch(_ body: () -> Void) -> Bool
    /// Group commit: saves from now on wait in one transaction until `commitGroup`, so many
    /// calls' changes are written with one commit. A host that opens a group answers the calls
    /// it covers only after it has committed.
    func openGroup()
    /// Commits the open group (if any); false when the commit failed (its saves are then lost).
    func commitGroup() -> Bool
}

extension WorkflowStore {
    public func batch(_ body: () -> Void) -> Bool {
        body()
        return true
    }

    public func openGroup() {}

    public func commitGroup() -> Bool { true }
}

public struct StoreError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

extension WorkflowEngine {
    /// Keeps this engine's state in `store` from now on, after restoring what the store holds
    /// for this account: machines, closed executions, and RUNNING ones, which go on where they
    /// were (a Wait ends when it would have; a Task call that was in flight is made again).
    ///
    /// `loaded` is what `store.load()` returned, for a host restoring several accounts from one
    /// store (it reads the store once); nil reads it here.
    public func attach(_ store: WorkflowStore, loaded: (machines: [JSONValue], executions: [JSONValue])? = nil) throws(StoreError) {
        let rows: (machines: [JSONValue], executions: [JSONValue])
        if let loaded { rows = loaded } else { rows = try store.load() }
        let (machineSnapshots, executionSnapshots) = rows
        let prefix = "arn:\(partition):states:\(region):\(accountId):"
        for m in machineSnapshots {
            guard let arn = m["arn"]?.stringValue, arn.hasPrefix(prefix), let machine = RegisteredStateMachine(snapshot: m) else { continue }
            machines[arn] = machine
            nextMachineIndex = max(nextMachineIndex, machine.index + 1)
        }
        machineOrder = machines.values.sorted { $0.index < $1.index }.map(\.arn)
        var closed: [ExecutionRecord] = []
        for e in executionSnapshots {
            guard let arn = e["arn"]?.stringValue, arn.hasPrefix(prefix), var record = ExecutionRecord(snapshot: e) else { continue }
            nextSequence = max(nextSequence, record.sequence + 1)
            if var run = record.run {
                run.redispatchAfterRestart()
                record.run = run
                pending.append(arn)
            } else {
                closed.append(record)
            }
            executions[arn] = record
            executionsByMachine[record.stateMachineArn, default: []].append(arn)
        }
        // Forgotten in the order they closed, as before the restart.
        closedOrder = closed.sorted { ($0.stopDate ?? 0, $0.sequence) < ($1.stopDate ?? 0, $1.sequence) }.map(\.arn)
        closedHead = 0
        self.store = store
    }

    func persist(machine arn: String) {
        guard let store else { return }
        if deferWrites {
            unwrittenMachines.insert(arn)
            changes += 1
            return
        }
        do {
            if let m = machines[arn] { try store.save(machine: arn, m.snapshot()) } else { try store.delete(machine: arn) }
        } catch {
            storeFaults += 1
        }
    }

    /// Saves an execution (or, with `deferWrites`, marks it for `flushWrites`); false when the
    /// store refused it.
    @discardableResult
    func persist(execution arn: String) -> Bool {
        guard let store else { return true }
        if deferWrites {
            unwritten.insert(arn)
            changes += 1
            return true
        }
        guard let e = executions[arn] else { return true }
        do {
            try store.save(execution: arn, sequence: e.sequence, e.snapshot())
            return true
        } catch {
            storeFaults += 1
            return false
        }
    }
}

extension WorkflowEngine {
    /// Whether executions or machines changed since the last `flushWrites`.
    public var hasUnwrittenChanges: Bool { !unwritten.isEmpty || !unwrittenMachines.isEmpty }

    /// With `deferWrites`: writes each machine and execution changed (or forgotten) since the
    /// last flush, once, as it is now - inside the host's open transaction, which it commits
    /// next. Returns the ARNs whose write the store refused (the host then treats the commit
    /// as lost).
    public func flushWrites() -> Set<String> {
        lastFlushed = (unwritten, unwrittenMachines)
        guard let store, hasUnwrittenChanges else { return [] }
        var refused = Set<String>()
        func write(_ arn: String, _ body: () throws(StoreError) -> Void) {
            do { try body() } catch {
                storeFaults += 1
                refused.insert(arn)
            }
        }
        for arn in unwrittenMachines {
            write(arn) { () throws(StoreError) in
                if let m = machines[arn] { try store.save(machine: arn, m.snapshot()) } else { try store.delete(machine: arn) }
            }
        }
        for arn in unwritten {
            write(arn) { () throws(StoreError) in
                if let e = executions[arn] { try store.save(execution: arn, sequence: e.sequence, e.snapshot()) } else { try store.delete(execution: arn) }
            }
        }
        unwrittenMachines.removeAll(keepingCapacity: true)
        unwritten.removeAll(keepingCapacity: true)
        return refused
    }

    /// The last flush's commit was lost: what it wrote is marked again, so the next commit
    /// writes it as it is then.
    public func flushLost() {
        unwritten.formUnion(lastFlushed.executions)
        unwrittenMachines.formUnion(lastFlushed.machines)
        lastFlushed = ([], [])
    }

    /// The last flush committed, but the store refused the rows of `arns`: those of this engine
    /// are marked again; one refused `refusalLimit` times running is given up (counted in
    /// `storeFaults`), so a row the store can never take does not fail every commit after it.
    public func flushRefused(_ arns: Set<String>) {
        if arns.isEmpty && refusals.isEmpty {
            lastFlushed = ([], [])
            return
        }
        for arn in arns where lastFlushed.executions.contains(arn) || lastFlushed.machines.contains(arn) {
            refusals[arn, default: 0] += 1
            guard refusals[arn, default: 0] < Self.refusalLimit else {
                refusals[arn] = nil
                continue
            }
            if lastFlushed.machines.contains(arn) { unwrittenMachines.insert(arn) } else { unwritten.insert(arn) }
        }
        for arn in lastFlushed.executions.union(lastFlushed.machines) where !arns.contains(arn) { refusals[arn] = nil }
        lastFlushed = ([], [])
    }

    static let refusalLimit = 3
}

extension RegisteredStateMachine {
    func snapshot() -> JSONValue {
        .object(JSONObject([
            ("arn", .string(arn)), ("name", .string(name)), ("index", .int(Int64(index))), ("definition", definition),
            ("roleArn", roleArn.map(JSONValue.string) ?? .null), ("type", .string(type)), ("creationDate", .double(creationDate)),
            ("updateDate", updateDate.map(JSONValue.double) ?? .null),
        ]))
    }

    init?(snapshot s: JSONValue) {
        guard let arn = s["arn"]?.stringValue, let name = s["name"]?.stringValue, let index = s["index"]?.doubleValue,
              let definition = s["definition"], let parsed = try? StateMachineDefinition(definition),
              let type = s["type"]?.stringValue, let creationDate = s["creationDate"]?.doubleValue else { return nil }
        self.init(arn: arn, name: name, index: Int(index), parsed: parsed, definition: definition, roleArn: s["roleArn"]?.stringValue,
                  type: type, creationDate: creationDate, updateDate: s["updateDate"]?.doubleValue)
    }
}

extension ExecutionRecord {
    func snapshot() -> JSONValue {
        var o = JSONObject([
            ("arn", .string(arn)), ("stateMachineArn", .string(stateMachineArn)), ("name", .string(name)),
            ("input", .string(input)), ("startDate", .double(startDate)), ("sequence", .int(Int64(sequence))),
            ("status", .string(status.rawValue)),
        ])
        if let stopDate { o["stopDate"] = .double(stopDate) }
        if let output { o["output"] = .string(output) }
        if let error { o["error"] = .string(error) }
        if let cause { o["cause"] = .string(cause) }
        if let run { o["run"] = run.snapshot() } else { o["history"] = .array(history.map { $0.snapshot() }) }
        return .object(o)
    }

    init?(snapshot s: JSONValue) {
        guard let arn = s["arn"]?.stringValue, let machine = s["stateMachineArn"]?.stringValue, let name = s["name"]?.stringValue,
              let input = s["input"]?.stringValue, let startDate = s["startDate"]?.doubleValue, let sequence = s["sequence"]?.doubleValue,
              let status = s["status"]?.stringValue.flatMap(Status.init(rawValue:)) else { return nil }
        var run: ExecutionRun?
        if let r = s["run"] {
            guard let restored = ExecutionRun(snapshot: r) else { return nil }
            run = restored
        }
        self.init(arn: arn, stateMachineArn: machine, name: name, input: input, startDate: startDate, sequence: Int(sequence),
                  status: status, stopDate: s["stopDate"]?.doubleValue, output: s["output"]?.stringValue,
                  error: s["error"]?.stringValue, cause: s["cause"]?.stringValue, run: run,
                  history: s["history"]?.arrayValue?.compactMap(HistoryEvent.init(snapshot:)) ?? [])
    }
}
