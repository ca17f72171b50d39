/// One call's answer held until what the call changed is on disk (group commit).
public struct HeldAnswer<Reply> {
    public let status: Int
    public let body: [UInt8]
    /// The execution a StartExecution created, and its engine: undone if its row is lost.
    public let started: (engine: WorkflowEngine, arn: String)?
    /// Whom to answer (the host's).
    public let reply: Reply
    /// Commits lost while it waited.
    public var lost = 0

    public init(status: Int, body: [UInt8], started: (engine: WorkflowEngine, arn: String)?, reply: Reply) {
        self.status = status
        self.body = body
        self.started = started
        self.reply = reply
    }
}

/// Group commit for engines sharing one store whose `deferWrites` is on: what changed since the
/// last commit is written (each execution and machine once, as it is now) and committed in one
/// transaction, and the held answers are then given - or not, by these rules:
/// - a start whose row did not reach the disk (the commit was lost, or the store refused that
///   row) is undone, before it has run, and answered 500;
/// - any other call waits for the next commit when this one was lost, since its change, kept in
///   memory, is written again; after `patience` lost commits it is answered 500;
/// - a refused row is written again at the next commits (`flushRefused` gives it up after three).
public enum GroupCommit {
    public static let patience = 3

    public struct Outcome<Reply> {
        /// The answers to give now: `failed` ones get 500 InternalFailure.
        public var answered: [(answer: HeldAnswer<Reply>, failed: Bool)] = []
        /// The answers that wait for the next commit.
        public var held: [HeldAnswer<Reply>] = []
        /// Whether the transaction committed.
        public var committed = true
        /// Rows the store refused in a commit that went through.
        public var refused = 0
    }

    public static func commit<Reply>(_ store: WorkflowStore, engines: [WorkflowEngine], held: [HeldAnswer<Reply>]) -> Outcome<Reply> {
        var out = Outcome<Reply>()
        var refused = Set<String>()
        if engines.contains(where: \.hasUnwrittenChanges) {
            store.openGroup()
            for e in engines { refused.formUnion(e.flushWrites()) }
            out.committed = store.commitGroup()
        }
        for var h in held {
            if let s = h.started, !out.committed || refused.contains(s.arn) {
                s.engine.forget(executionArn: s.arn)
                out.answered.append((h, true))
            } else if out.committed {
                out.answered.append((h, false))
            } else if h.lost + 1 >= patience {
                out.answered.append((h, true))
            } else {
                h.lost += 1
                out.held.append(h)
            }
        }
        if out.committed {
            for e in engines { e.flushRefused(refused) }
            out.refused = refused.count
        } else {
            for e in engines { e.flushLost() }
        }
        return out
    }
}
