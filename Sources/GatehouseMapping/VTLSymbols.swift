

/// Variable names interned to small integers when a template is parsed, so rendering reads and
/// writes variables by array index instead of hashing a name at every reference.
enum VTLSymbols {
    /// The loop's own names come first, with fixed ids: constants, read without a lazy
    /// global's initialisation check on every lookup.
    private static let table = Locked<[String: Int]>(["foreach": foreach, "velocityCount": velocityCount, "velocityHasNext": velocityHasNext])

    static func id(_ name: String) -> Int {
        table.withLock { t in
            if let id = t[name] { return id }
            let id = t.count
            t[name] = id
            return id
        }
    }

    static let foreach = 0
    static let velocityCount = 1
    static let velocityHasNext = 2
    /// The names every render sets, interned once (not looked up under the lock per render).
    static let input = id("input")
    static let util = id("util")
    static let context = id("context")
    static let stageVariables = id("stageVariables")
    /// What a block macro's body is to the macro.
    static let bodyContent = id("bodyContent")
}
