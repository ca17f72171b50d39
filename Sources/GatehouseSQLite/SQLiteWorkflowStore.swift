import CSQLite
import GatehouseJSON
import LocalWorkflows

/// The embedded engine's store in one SQLite file: a row per state machine and per execution,
/// each a JSON snapshot replaced whole when it is written. Gatehouse commits in groups
/// (`openGroup`/`commitGroup`): many calls' and a driver turn's writes share one transaction,
/// and no call is answered before it. WAL journal with `synchronous=NORMAL`:
/// a write is in the file (the OS's cache) before the engine acknowledges it, so a killed process
/// loses nothing it acknowledged; a power cut may lose the last transactions (`synchronous=FULL`,
/// conf `statesDatabaseSync: full`, closes that too, at a cost per write). The engine calls it
/// under its own lock, one call at a time (and the connection is opened fully serialized).
public final class SQLiteWorkflowStore: WorkflowStore, @unchecked Sendable {
    private var db: OpaquePointer?
    private var saveMachine: OpaquePointer?
    private var deleteMachine: OpaquePointer?
    private var saveExecution: OpaquePointer?
    private var deleteExecution: OpaquePointer?

    public init(path: String, fullSync: Bool = false) throws(StoreError) {
        guard sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, nil) == SQLITE_OK else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? "cannot open"
            sqlite3_close(db)
            db = nil
            throw StoreError("\(path): \(message)")
        }
        sqlite3_busy_timeout(db, 5000)
        try exec("PRAGMA journal_mode=WAL")
        try exec("PRAGMA synchronous=\(fullSync ? "FULL" : "NORMAL")")
        try exec("CREATE TABLE IF NOT EXISTS machines (arn TEXT PRIMARY KEY, snapshot TEXT NOT NULL)")
        try exec("CREATE TABLE IF NOT EXISTS executions (arn TEXT PRIMARY KEY, sequence INTEGER NOT NULL, snapshot TEXT NOT NULL)")
        saveMachine = try prepare("INSERT OR REPLACE INTO machines (arn, snapshot) VALUES (?1, ?2)")
        deleteMachine = try prepare("DELETE FROM machines WHERE arn = ?1")
        saveExecution = try prepare("INSERT OR REPLACE INTO executions (arn, sequence, snapshot) VALUES (?1, ?2, ?3)")
        deleteExecution = try prepare("DELETE FROM executions WHERE arn = ?1")
    }

    deinit {
        for s in [saveMachine, deleteMachine, saveExecution, deleteExecution] { sqlite3_finalize(s) }
        sqlite3_close(db)
    }

    private var lastError: String { db.map { String(cString: sqlite3_errmsg($0)) } ?? "closed" }

    private func exec(_ sql: String) throws(StoreError) {
        guard sqlite3_exec(db, sql, nil, nil, nil) == SQLITE_OK else { throw StoreError("\(sql): \(lastError)") }
    }

    private func prepare(_ sql: String) throws(StoreError) -> OpaquePointer? {
        var statement: OpaquePointer?
        guard sqlite3_prepare_v2(db, sql, -1, &statement, nil) == SQLITE_OK else { throw StoreError("\(sql): \(lastError)") }
        return statement
    }

    private enum Binding {
        case text(String)
        case integer(Int)
    }

    /// Binds the parameters to a prepared statement and runs it once.
    private func run(_ statement: OpaquePointer?, _ values: [Binding]) throws(StoreError) {
        sqlite3_reset(statement)
        sqlite3_clear_bindings(statement)
        // SQLITE_TRANSIENT: SQLite copies the text before the call returns.
        let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
        for (i, v) in values.enumerated() {
            let index = Int32(i + 1)
            switch v {
            case .integer(let n): sqlite3_bind_int64(statement, index, Int64(n))
            case .text(let text): sqlite3_bind_text(statement, index, text, -1, transient)
            }
        }
        let rc = sqlite3_step(statement)
        sqlite3_reset(statement)
        guard rc == SQLITE_DONE else { throw StoreError(lastError) }
    }

    public func save(machine arn: String, _ snapshot: JSONValue) throws(StoreError) {
        try run(saveMachine, [.text(arn), .text(snapshot.jsonText)])
    }

    public func delete(machine arn: String) throws(StoreError) {
        try run(deleteMachine, [.text(arn)])
    }

    public func save(execution arn: String, sequence: Int, _ snapshot: JSONValue) throws(StoreError) {
        try run(saveExecution, [.text(arn), .integer(sequence), .text(snapshot.jsonText)])
    }

    /// Whether a group transaction (`openGroup`) is open.
    private var groupOpen = false

    public func openGroup() {
        // If BEGIN fails, the saves still run, each in its own transaction (committed at once).
        if !groupOpen { groupOpen = sqlite3_exec(db, "BEGIN IMMEDIATE", nil, nil, nil) == SQLITE_OK }
    }

    public func commitGroup() -> Bool {
        guard groupOpen else { return true }
        groupOpen = false
        if sqlite3_exec(db, "COMMIT", nil, nil, nil) != SQLITE_OK {
            sqlite3_exec(db, "ROLLBACK", nil, nil, nil)
            return false
        }
        return true
    }

    public func batch(_ body: () -> Void) -> Bool {
        // Inside an open group the saves join it; its commit is the host's.
        if groupOpen {
            body()
            return true
        }
        // If BEGIN fails, the saves still run, each in its own transaction.
        let began = sqlite3_exec(db, "BEGIN IMMEDIATE", nil, nil, nil) == SQLITE_OK
        body()
        guard began else { return true }
        if sqlite3_exec(db, "COMMIT", nil, nil, nil) != SQLITE_OK {
            sqlite3_exec(db, "ROLLBACK", nil, nil, nil)
            return false
        }
        return true
    }

    public func delete(execution arn: String) throws(StoreError) {
        try run(deleteExecution, [.text(arn)])
    }

    public func load() throws(StoreError) -> (machines: [JSONValue], executions: [JSONValue]) {
        (try rows("SELECT snapshot FROM machines"), try rows("SELECT snapshot FROM executions ORDER BY sequence"))
    }

    private func rows(_ sql: String) throws(StoreError) -> [JSONValue] {
        let statement = try prepare(sql)
        defer { sqlite3_finalize(statement) }
        var out: [JSONValue] = []
        while true {
            let rc = sqlite3_step(statement)
            if rc == SQLITE_DONE { break }
            guard rc == SQLITE_ROW, let text = sqlite3_column_text(statement, 0) else { throw StoreError("\(sql): \(lastError)") }
            let bytes = Array(UnsafeBufferPointer(start: text, count: Int(sqlite3_column_bytes(statement, 0))))
            guard let value = try? JSONValue.parse(bytes) else { throw StoreError("\(sql): a row is not JSON") }
            out.append(value)
        }
        return out
    }
}
