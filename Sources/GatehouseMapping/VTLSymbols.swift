

/// Variable names interned to small integers when a template is parsed, so rendering reads and
/// writes variables by array index instead of hashing a name at every reference.
enum VTLSymbols {
    private static let table = Locked<[String: Int]>([:])

    static func id(_ name: String) -> Int {
        table.withLock { t in
            if let id = t[name] { return id }
            let id = t.count
            t[name] = id
            return id
        }
    }

    static let foreach = id("foreach")
    static let velocityCount = id("velocityCount")
    static let velocityHasNext = id("velocityHasNext")
}
