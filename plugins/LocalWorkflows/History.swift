import GatehouseJSON

/// One event of an execution's history, in the shape GetExecutionHistory returns: id, the id
/// of the event it follows, a timestamp, a type, and one `…EventDetails` member.
struct HistoryEvent: Sendable {
    let id: Int
    let previousEventId: Int
    let timestamp: Double
    let type: String
    let detailsKey: String
    let details: [(String, JSONValue)]

    static let notTruncated = JSONValue.object(JSONObject([("truncated", .bool(false))]))

    /// The event as the API writes it; without `includeExecutionData`, inputs and outputs
    /// (and their `…Details`) are left out.
    func wire(includeData: Bool) -> Wire {
        let kept = includeData ? details : details.filter { !["input", "output", "inputDetails", "outputDetails"].contains($0.0) }
        var members: [(String, Wire)] = [
            ("timestamp", .date(timestamp)),
            ("type", .string(type)),
            ("id", .json(.int(Int64(id)))),
            ("previousEventId", .json(.int(Int64(previousEventId)))),
        ]
        // Some events carry no details (ParallelStateStarted, MapStateSucceeded…).
        if !detailsKey.isEmpty { members.append((detailsKey, .object(kept.map { ($0.0, Wire.json($0.1)) }))) }
        return .object(members)
    }
}

extension HistoryEvent {
    func snapshot() -> JSONValue {
        .object(JSONObject([
            ("id", .int(Int64(id))), ("previousEventId", .int(Int64(previousEventId))), ("timestamp", .double(timestamp)),
            ("type", .string(type)), ("detailsKey", .string(detailsKey)), ("details", .object(JSONObject(details))),
        ]))
    }

    init?(snapshot s: JSONValue) {
        guard let id = s["id"]?.doubleValue, let previous = s["previousEventId"]?.doubleValue, let ts = s["timestamp"]?.doubleValue,
              let type = s["type"]?.stringValue, let key = s["detailsKey"]?.stringValue, let details = s["details"]?.objectValue else { return nil }
        self.init(id: Int(id), previousEventId: Int(previous), timestamp: ts, type: type, detailsKey: key,
                  details: details.members.map { ($0.key, $0.value) })
    }
}
