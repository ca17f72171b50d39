import GatehouseCore
import GatehouseJSON
import GatehouseLoop
import GatehouseModel

/// MOCK integrations: no backend. The integration request (what the request template
/// rendered) names the status in `{"statusCode": N}`; the integration response chosen for that
/// status supplies the body. Without a `statusCode` the status is 200.
public final class MockPlugin: IntegrationPlugin {
    public let name = "mock"
    /// The last request body and its status: a MOCK's request template usually renders the
    /// same bytes every time, so the JSON is parsed once (this plugin lives on one loop).
    private var last: (body: [UInt8], status: Int)?

    public init() {}

    public func accepts(_ integration: Integration) -> Bool {
        integration.type == .mock
    }

    public func invoke(_ call: IntegrationCall, loop: EventLoop,
                       done: @escaping (Result<IntegrationOutcome, IntegrationFailure>) -> Void) {
        let status: Int
        if let last, last.body == call.body {
            status = last.status
        } else {
            status = MockPlugin.status(call.body)
            last = (call.body, status)
        }
        done(.success(IntegrationOutcome(status: status, body: [])))
    }

    /// `statusCode` from the rendered request; a body that is not a JSON object with an
    /// integer status there gives 200.
    static func status(_ body: [UInt8]) -> Int {
        guard !body.isEmpty, let v = try? JSONValue.parse(body) else { return 200 }
        switch v["statusCode"] {
        case .int(let n)?: return (100...599).contains(n) ? Int(n) : 200
        case .string(let s)?: return Int(s).flatMap { (100...599).contains($0) ? $0 : nil } ?? 200
        default: return 200
        }
    }
}
