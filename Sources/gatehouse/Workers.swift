import GatehouseCore
import GatehouseHTTP
import GatehouseJSON
import GatehouseLoop
import GatehouseModel
import GatehousePolicy
import GatehouseObserve
import GatehouseTLS
import HTTPIntegration
import LocalWorkflows
import Mock
import StepFunctions
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// One immutable configuration: what a reload swaps in whole.
struct Snapshot: Sendable {
    var model: GatewayModel
    var credentials: CredentialStore
    var usage: UsageConfig
    var trustedProxies = AddressSet()
}

/// The embedded workflow engine, one per account, shared by every worker behind one lock (its
/// calls are short and in memory).
final class SharedEngine: Sendable {
    private struct Accounts: ~Copyable {
        let region: String
        let defaultAccount: String
        var engines: [String: WorkflowEngine] = [:]
        var store: WorkflowStore?
        let retainClosed: Int
        /// The store's rows, read once at start; accounts made later have none in it.
        var loaded: (machines: [JSONValue], executions: [JSONValue]) = ([], [])
        /// Answers waiting for the next commit (`commit`), and the executions they started.
        var waiting: [HeldAnswer<@Sendable (Int, [UInt8]) -> Void>] = []
        /// The driver has stopped (`close`): calls commit themselves.
        var closed = false

        /// The account's engine, made on first use (restored from the store, if there is one).
        mutating func engine(_ account: String) -> WorkflowEngine {
            if let e = engines[account] { return e }
            let e = WorkflowEngine(region: region, accountId: account)
            e.closedExecutionLimit = retainClosed
            if let store {
                do { try e.attach(store, loaded: loaded) } catch { stderrLine("warning: states store: \(error)") }
                // Written at the driver's commit, before any call they cover is answered.
                e.deferWrites = true
            }
            engines[account] = e
            return e
        }
    }

    private let accounts: Mutex<Accounts>

    init(region: String, accountId: String, retainClosed: Int = 10_000) {
        accounts = Mutex(Accounts(region: region, defaultAccount: accountId, retainClosed: retainClosed))
    }

    /// Keeps every account's machines and executions in `store` from now on, after restoring
    /// what it holds (call before registering the templates' machines, which replace stored ones).
    func attach(_ store: WorkflowStore) throws(StoreError) {
        let (machines, executions) = try store.load()
        let accountsInStore = Set((machines + executions).compactMap { $0["arn"]?.stringValue.flatMap(Self.account(of:)) })
        accounts.withLock { a in
            a.store = store
            a.loaded = (machines, executions)
            for account in accountsInStore.sorted() { _ = a.engine(account) }
            a.loaded = ([], [])
            for e in a.engines.values { e.deferWrites = true }
        }
    }

    /// Saves the store refused so far, in every account.
    var storeFaults: Int {
        accounts.withLock { a in a.engines.values.reduce(0) { $0 + $1.storeFaults } }
    }

    /// The account field of an ARN (`arn:aws:states:us-east-1:111111111111:…`).
    static func account(of arn: String) -> String? {
        let parts = arn.split(separator: ":", omittingEmptySubsequences: false)
        return parts.count > 4 && !parts[4].isEmpty ? String(parts[4]) : nil
    }

    /// Registers the template's state machines, each in its ARN's account; one the engine cannot
    /// run is a warning, not fatal (the APIs still serve, and an external endpoint may run it).
    func register(_ machines: [StateMachineSpec]) {
        accounts.withLock { a in
            for sm in machines {
                do {
                    _ = try a.engine(Self.account(of: sm.arn) ?? a.defaultAccount)
                        .register(name: sm.name, definition: sm.definition, roleArn: sm.roleArn, type: sm.type, replacing: true)
                } catch {
                    stderrLine("warning: state machine \(sm.logicalId) is not run by the embedded engine: \(error)")
                }
            }
        }
    }

    /// One call whose answer waits for the store (group commit). With a store, an engine only
    /// marks what a call changes; the call is answered once the driver has written and committed
    /// it (`commit`, on the driver's thread: `reply` runs then). A start whose row is lost is
    /// undone and answered 500 InternalFailure; any other call waits for the next commit, since
    /// its changes, kept in memory, are written again. A call that changed nothing while nothing
    /// waits to be committed, or any call without a store, is answered at once (the answer is
    /// returned; `reply` never runs).
    func handle(target: String, body: [UInt8], now: Double, whenCommitted reply: @escaping @Sendable (Int, [UInt8]) -> Void) -> (Int, [UInt8])? {
        let (answer, answered): ((Int, [UInt8])?, Answered) = accounts.withLock { a in
            guard a.store != nil else { return (Self.route(&a, target: target, body: body, now: now), []) }
            let (engine, created, changed, (status, out)) = Self.routed(&a, target: target, body: body, now: now)
            // A read (or an idempotent repeat) may show what is not on disk yet: it waits too.
            guard changed || !a.waiting.isEmpty || a.engines.values.contains(where: \.hasUnwrittenChanges) else {
                return ((status, out), [])
            }
            let started: (WorkflowEngine, String)? = created ? (try? JSONValue.parse(out))?["executionArn"]?.stringValue.map { (engine, $0) } : nil
            a.waiting.append(HeldAnswer(status: status, body: out, started: started, reply: reply))
            // After the driver has stopped (shutdown), nobody else will commit: do it here.
            guard a.closed else { return (nil, []) }
            return (nil, Self.commitLocked(&a).answered)
        }
        Self.answer(answered)
        return answer
    }

    /// Writes and commits what changed since the last commit and answers the calls that waited
    /// for it (the driver, at the start and end of each turn). False when the commit was lost.
    @discardableResult
    func commit() -> Bool {
        let (answered, ok) = accounts.withLock { a in Self.commitLocked(&a) }
        Self.answer(answered)
        return ok
    }

    /// The driver has stopped: from now on each call that changes something commits itself.
    func close() {
        let (answered, _) = accounts.withLock { a in
            a.closed = true
            return Self.commitLocked(&a)
        }
        Self.answer(answered)
    }

    /// The answers of a commit (no engine in them: they leave the lock): a `failed` one is
    /// answered 500.
    private typealias Answered = [(reply: Reply, status: Int, body: [UInt8], failed: Bool)]
    private typealias Reply = @Sendable (Int, [UInt8]) -> Void

    private static func commitLocked(_ a: inout Accounts) -> (answered: Answered, ok: Bool) {
        guard let store = a.store else { return ([], true) }
        let outcome = GroupCommit.commit(store, engines: Array(a.engines.values), held: a.waiting)
        a.waiting = outcome.held
        if !outcome.committed {
            stderrLine("warning: states store: a commit failed; it is made again (starts it held were undone and answered 500)")
        } else if outcome.refused > 0 {
            stderrLine("warning: states store: \(outcome.refused) row(s) refused; they are written again at the next commit")
        }
        return (outcome.answered.map { ($0.answer.reply, $0.answer.status, $0.answer.body, $0.failed) }, outcome.committed)
    }

    private static func answer(_ answered: Answered) {
        guard !answered.isEmpty else { return }
        let failure = WorkflowEngine.internalFailure("The call's changes could not be recorded; nothing was started.")
        for w in answered { w.failed ? w.reply(500, failure) : w.reply(w.status, w.body) }
    }

    /// One AWS JSON 1.0 call, answered by the account its `stateMachineArn` or `executionArn`
    /// names (AWS knows the account from the caller's keys; here the ARNs say it) - for
    /// CreateStateMachine, its `roleArn`'s - else by the default account. What it writes joins an
    /// open group (committed by the driver's turn), for callers on the driver's own loop.
    func handle(target: String, body: [UInt8], now: Double) -> (Int, [UInt8]) {
        let (answer, answered): ((Int, [UInt8]), Answered) = accounts.withLock { a in
            let answer = Self.route(&a, target: target, body: body, now: now)
            // After the driver has stopped, nobody else will commit what it changed.
            return (answer, a.closed ? Self.commitLocked(&a).answered : [])
        }
        Self.answer(answered)
        return answer
    }

    /// Whether the driver has stopped (shutdown).
    var isClosed: Bool { accounts.withLock { a in a.closed } }

    private static func route(_ a: inout Accounts, target: String, body: [UInt8], now: Double) -> (Int, [UInt8]) {
        routed(&a, target: target, body: body, now: now).answer
    }

    /// The call answered by its account's engine, with whether it created an execution and
    /// whether it changed anything to write.
    private static func routed(_ a: inout Accounts, target: String, body: [UInt8], now: Double)
        -> (engine: WorkflowEngine, created: Bool, changed: Bool, answer: (Int, [UInt8])) {
        var account: String?
        if let members = (try? JSONValue.parse(body))?.objectValue {
            for key in ["stateMachineArn", "executionArn", "roleArn"] {
                if let arn = members[key]?.stringValue, let a = Self.account(of: arn) { account = a; break }
            }
            // SendTask*: the token names its execution.
            if account == nil, let token = members["taskToken"]?.stringValue, let arn = WorkflowEngine.executionArn(ofTaskToken: token) {
                account = Self.account(of: arn)
            }
        }
        // Only CreateStateMachine opens a new account; a call naming an account with no
        // engine is answered by the default one (which does not know the resource), so
        // reads with made-up ARNs cannot make engines.
        var chosen = account ?? a.defaultAccount
        if a.engines[chosen] == nil && target != "AWSStepFunctions.CreateStateMachine" { chosen = a.defaultAccount }
        let engine = a.engine(chosen)
        let (started, changes) = (engine.executionsStarted, engine.changes)
        let r = engine.handle(target: target, body: body, now: now)
        return (engine, engine.executionsStarted > started, engine.changes > changes, (r.status, r.body))
    }

    /// Advances what is due in every account and takes the Task calls waiting to be made;
    /// returns them, and when the engine is next due.
    func advance(now: Double) -> (next: Double?, requests: [TaskRequest]) {
        accounts.withLock { a in
            var next: Double?
            var requests: [TaskRequest] = []
            for e in a.engines.values {
                e.runPending(now: now)
                requests += e.takeTaskRequests(now: now)
                if let t = e.nextWakeTime { next = min(next ?? t, t) }
            }
            return (next, requests)
        }
    }

    func submitted(_ r: TaskRequest, output: JSONValue, now: Double) {
        accounts.withLock { a in
            a.engines[r.accountId]?.taskSubmitted(executionArn: r.executionArn, taskId: r.taskId, token: r.token, output: output, now: now)
        }
    }

    /// Forgets each account's oldest closed executions beyond its limit.
    func pruneClosed() {
        accounts.withLock { a in for e in a.engines.values { e.pruneClosed() } }
    }

    func completeTask(_ r: TaskRequest, _ result: TaskResult, now: Double) {
        accounts.withLock { a in
            a.engines[r.accountId]?.completeTask(executionArn: r.executionArn, taskId: r.taskId, token: r.token, result: result, now: now)
        }
    }
}

/// The in-process Step Functions endpoint: a call is answered at once, and the engine driver
/// (on the main loop) advances the executions on its next turn, so a caller sees RUNNING before
/// SUCCEEDED as it would on AWS.
final class EmbeddedStates: InProcessAWSService, @unchecked Sendable {
    let engine: SharedEngine
    let driver: EngineDriver

    init(engine: SharedEngine, driver: EngineDriver) {
        self.engine = engine
        self.driver = driver
    }

    static func now() -> Double {
        Double(RequestId.epochMillis()) / 1000
    }

    func handle(target: String, body: [UInt8], loop: EventLoop, done: @escaping (Int, [UInt8]) -> Void) {
        // With a store the answer comes once the driver has committed the call's writes (group
        // commit), through this loop's mailbox.
        let mailbox = replies(on: loop)
        nextReplyId += 1
        let id = nextReplyId
        let answer: (Int, [UInt8])?
        if target == "AWSStepFunctions.StartSyncExecution" {
            // Answered when its (EXPRESS) execution has ended, which the driver sees; once it
            // has stopped (shutdown), nobody would.
            guard !engine.isClosed else {
                return done(500, WorkflowEngine.internalFailure("The service is shutting down; nothing was started."))
            }
            answer = engine.handle(target: target, body: body, now: EmbeddedStates.now())
        } else {
            answer = engine.handle(target: target, body: body, now: EmbeddedStates.now()) { status, out in
                mailbox.post(Reply(id: id, status: status, body: out))
            }
        }
        if let (status, out) = answer {
            // (A StartSyncExecution's watch is posted before the driver's kick.)
            answered(target: target, status: status, out: out, loop: loop, done: done)
        } else {
            waiting[id] = (target, done)
        }
        driver.kick()
    }

    private func answered(target: String, status: Int, out: [UInt8], loop: EventLoop, done: @escaping (Int, [UInt8]) -> Void) {
        // StartSyncExecution from a worker (an API's integration): the driver watches the
        // execution on the main loop, and its description comes back to this loop to answer.
        if target == "AWSStepFunctions.StartSyncExecution", status == 200, loop !== driver.loop,
           let arn = (try? JSONValue.parse(out))?["executionArn"]?.stringValue {
            let mailbox = replies(on: loop)
            nextReplyId += 1
            let id = nextReplyId
            waiting[id] = ("", done)
            driver.watch(arn) { d in mailbox.post(Reply(id: id, status: 200, body: WorkflowEngine.syncResponse(d))) }
            return
        }
        done(status, out)
    }

    /// Answers waiting on this loop (this object is one worker's, or the states listener's).
    private struct Reply: Sendable {
        let id: Int
        let status: Int
        let body: [UInt8]
    }
    /// Calls waiting for their answer: the operation ("" once it has been given, for a
    /// StartSyncExecution waiting for its execution's end) and whom to answer.
    private var waiting: [Int: (target: String, done: (Int, [UInt8]) -> Void)] = [:]
    private var nextReplyId = 0
    private var mailbox: LoopMailbox<Reply>?

    private func replies(on loop: EventLoop) -> LoopMailbox<Reply> {
        if let mailbox { return mailbox }
        let box = LoopMailbox<Reply>(loop: loop) { [weak self] r in
            guard let self, let w = self.waiting.removeValue(forKey: r.id) else { return }
            self.answered(target: w.target, status: r.status, out: r.body, loop: loop, done: w.done)
        }
        mailbox = box
        return box
    }
}

/// What every worker shares: settings, the engine, the observers.
struct WorkerShared: Sendable {
    var config: GatewayConfig
    var engine: SharedEngine
    var driver: EngineDriver
    var observers: GatewayObservers
    var metrics: MetricsRegistry
    /// The TLS listener's context (certificate and key), if there is one.
    var serverTLS: TLSContext?
    /// Verifies HTTPS upstreams (system store plus `upstreamCAFile`).
    var clientTLS: TLSContext?
    /// Throttles and quotas, shared by every worker and kept across reloads.
    var limiter: UsageLimiter
}

/// Messages the main thread sends a worker.
enum WorkerMessage: Sendable {
    case reload(Snapshot)
    case drain(millis: UInt64)
}

/// One worker thread: its own loop, listener (SO_REUSEPORT socket), plugins and gateway.
final class Worker: @unchecked Sendable {
    let index: Int
    let shared: WorkerShared
    let socket: ReusePortSocket
    let tlsSocket: ReusePortSocket?
    private let ready = Mutex<Result<LoopMailbox<WorkerMessage>, LoopError>?>(nil)
    private var thread: WorkerThread?

    init(index: Int, shared: WorkerShared, socket: ReusePortSocket, tlsSocket: ReusePortSocket?) {
        self.index = index
        self.shared = shared
        self.socket = socket
        self.tlsSocket = tlsSocket
    }

    /// Starts the thread and waits until it listens (or failed to).
    func start(_ snapshot: Snapshot) throws(LoopError) -> LoopMailbox<WorkerMessage> {
        thread = WorkerThread { [self] in self.main(snapshot) }
        while true {
            if let r = ready.withLock({ $0 }) { return try r.get() }
            usleep(1000)
        }
    }

    /// Waits for the thread, then drops it (its body holds this worker: a cycle until then).
    func join() {
        thread?.join()
        thread = nil
    }

    private func main(_ first: Snapshot) {
        let loop: EventLoop
        do {
            loop = try EventLoop()
        } catch {
            ready.withLock { $0 = .failure(error) }
            return
        }
        let config = shared.config
        let states: StatesEndpoint
        if let e = config.statesEndpoint, let remote = try? StatesEndpoint.parse(e) {
            states = remote
        } else {
            states = .inProcess(EmbeddedStates(engine: shared.engine, driver: shared.driver))
        }
        let keys = CredentialChain(roles: first.credentials.roles, environment: environment())
        let pool = HTTPClientPool(loop: loop, tls: shared.clientTLS)
        let plugins: [IntegrationPlugin] = [
            StepFunctionsPlugin(endpoint: states, keys: keys, pool: pool),
            HTTPIntegrationPlugin(pool: pool),
            MockPlugin(),
        ]
        let observers = shared.observers
        func gateway(_ s: Snapshot) -> Gateway {
            Gateway(model: s.model, credentials: s.credentials, plugins: plugins, loop: loop, observers: observers,
                    usage: s.usage, limiter: shared.limiter, trustedProxies: s.trustedProxies)
        }
        var limits = HTTPLimits()
        limits.headerTimeoutMillis = config.headerTimeoutMillis
        limits.idleTimeoutMillis = config.idleTimeoutMillis
        let slot = HandlerSlot(gateway(first))
        var servers: [HTTPServer] = []
        do {
            servers.append(try HTTPServer(loop: loop, fd: socket.fd, port: socket.port, limits: limits, slot: slot))
            if let t = tlsSocket, let context = shared.serverTLS {
                servers.append(try HTTPServer(loop: loop, fd: t.fd, port: t.port, limits: limits, slot: slot, tls: context))
            }
        } catch {
            ready.withLock { $0 = .failure(error) }
            return
        }
        var draining = servers.count
        var drainStarted = false
        let deadline = LoopTimer(loop: loop)
        let mailbox = LoopMailbox<WorkerMessage>(loop: loop) { message in
            switch message {
            case .reload(let s):
                // Connections pick the new gateway up at their next request; requests in
                // flight finish on the one they started with.
                slot.current = gateway(s)
            case .drain(let millis):
                // SIGTERM and SIGINT together post two drains: the first one counts.
                guard !drainStarted else { return }
                drainStarted = true
                for server in servers {
                    server.drain {
                        draining -= 1
                        if draining == 0 { loop.stop() }
                    }
                }
                deadline.schedule(after: millis) {
                    for server in servers { server.closeAllConnections() }
                    loop.stop()
                }
            }
        }
        ready.withLock { $0 = .success(mailbox) }
        loop.run()
        deadline.close()
        mailbox.close()
        for server in servers {
            server.close()
            server.closeAllConnections()
        }
        pool.closeIdle()
        loop.closeAll()
    }
}

/// The workers as one: start, reload, stop, join.
final class WorkerPool {
    let shared: WorkerShared
    let first: Snapshot
    let sockets: [ReusePortSocket]
    let tlsSockets: [ReusePortSocket]
    private var workers: [Worker] = []
    private var mailboxes: [LoopMailbox<WorkerMessage>] = []

    init(shared: WorkerShared, snapshot: Snapshot, sockets: [ReusePortSocket], tlsSockets: [ReusePortSocket]) {
        self.shared = shared
        self.first = snapshot
        self.sockets = sockets
        self.tlsSockets = tlsSockets
    }

    func start() throws(LoopError) {
        for (i, s) in sockets.enumerated() {
            let w = Worker(index: i, shared: shared, socket: s, tlsSocket: i < tlsSockets.count ? tlsSockets[i] : nil)
            mailboxes.append(try w.start(first))
            workers.append(w)
        }
    }

    func reload(_ s: Snapshot) {
        for m in mailboxes { m.post(.reload(s)) }
    }

    /// Every worker stops accepting and drains, for at most `drainMillis`.
    func stop(drainMillis: UInt64) {
        for m in mailboxes { m.post(.drain(millis: drainMillis)) }
    }

    func join() {
        for w in workers { w.join() }
    }
}

/// The admin listener: `/metrics` in Prometheus text format; everything else 404.
final class AdminHandler: HTTPRequestHandler {
    let metrics: MetricsRegistry

    init(metrics: MetricsRegistry) {
        self.metrics = metrics
    }

    func handle(_ request: HTTPRequest, responder: HTTPResponder) {
        var h = HTTPHeaders()
        if request.path == "/metrics" && (request.method == "GET" || request.method == "HEAD") {
            h.add("Content-Type", MetricsRegistry.contentType)
            responder.respond(HTTPResponse(status: 200, headers: h, body: Array(metrics.exposition().utf8)))
        } else {
            h.add("Content-Type", "application/json")
            responder.respond(HTTPResponse(status: 404, headers: h, body: Array(#"{"message":"Not Found"}"#.utf8)))
        }
    }
}

/// The embedded engine's own Step Functions endpoint: AWS JSON 1.0 (`POST /` with
/// `X-Amz-Target: AWSStepFunctions.<Operation>`), as the AWS CLI and SDKs call it. It checks no
/// signature: it stands for a local endpoint such as Step Functions Local, not for AWS.
final class StatesAPIHandler: HTTPRequestHandler {
    let engine: EmbeddedStates
    let loop: EventLoop
    private var ids = RequestIdGenerator()

    init(engine: EmbeddedStates, loop: EventLoop) {
        self.engine = engine
        self.loop = loop
    }

    func handle(_ request: HTTPRequest, responder: HTTPResponder) {
        var h = HTTPHeaders()
        h.add("x-amzn-RequestId", ids.make())
        guard request.method == "POST" else {
            h.add("Content-Type", "application/json")
            return responder.respond(HTTPResponse(status: 404, headers: h, body: Array(#"{"message":"Not Found"}"#.utf8)))
        }
        h.add("Content-Type", "application/x-amz-json-1.0")
        let target = request.headers["X-Amz-Target"] ?? ""
        engine.handle(target: target, body: request.body, loop: loop) { [engine] status, body in
            // StartSyncExecution is answered when its (EXPRESS) execution has closed.
            if target == "AWSStepFunctions.StartSyncExecution", status == 200,
               let arn = (try? JSONValue.parse(body))?["executionArn"]?.stringValue {
                engine.driver.nested.whenClosed(arn) { d in
                    responder.respond(HTTPResponse(status: 200, headers: h, body: WorkflowEngine.syncResponse(d)))
                }
                return
            }
            responder.respond(HTTPResponse(status: status, headers: h, body: body))
        }
    }
}
