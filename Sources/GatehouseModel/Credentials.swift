import GatehouseCalendar
import GatehouseJSON
import GatehousePolicy

/// Who a caller is once its signature verifies.
public enum CallerPrincipal: Sendable, Equatable {
    /// An AWS service acting for a resource (e.g. `states.amazonaws.com`).
    case service(String)
    /// An IAM user or role ARN.
    case arn(String)
}

/// One access key the gateway accepts, from the credentials file.
public final class CallerCredential: Sendable {
    public let accessKeyId: String
    public let secretAccessKey: String
    public let sessionToken: String?
    public let principal: CallerPrincipal
    /// ARN patterns (`*` and `?` wildcards) this key may assert in `X-Amz-Source-Arn`.
    public let mayAssertSourceArn: [String]
    /// Identity policies attached to the principal.
    public let policies: [ResourcePolicy]
    /// When temporary credentials stop working (epoch seconds), from `expiration`.
    public let expiration: Int64?
    /// The principal's tags (`aws:PrincipalTag/KEY`), from `tags`.
    public let tags: [String: String]
    /// `aws:userid` (`AIDA…` for a user, `AROA…:session` for a role session), from `userId`.
    public let userId: String?

    public init(accessKeyId: String, secretAccessKey: String, sessionToken: String?, principal: CallerPrincipal,
                mayAssertSourceArn: [String], policies: [ResourcePolicy], expiration: Int64?,
                tags: [String: String] = [:], userId: String? = nil) {
        self.accessKeyId = accessKeyId
        self.secretAccessKey = secretAccessKey
        self.sessionToken = sessionToken
        self.principal = principal
        self.mayAssertSourceArn = mayAssertSourceArn
        self.policies = policies
        self.expiration = expiration
        self.tags = tags
        self.userId = userId
    }
}

/// Keys the gateway signs with when an integration names a `credentials` role.
public struct RoleCredential: Sendable {
    public var roleArn: String
    public var accessKeyId: String
    public var secretAccessKey: String
    public var sessionToken: String?
}

/// The credentials file: callers' keys and integration roles' keys.
public struct CredentialStore: Sendable {
    public var callers: [String: CallerCredential] = [:]
    public var roles: [String: RoleCredential] = [:]

    public init() {}

    public static func load(text: String, file: String) throws(ConfigError) -> CredentialStore {
        let root = try YAMLLoader.load(text, file: file)
        var store = CredentialStore()
        try store.merge(root, file: file, path: "")
        return store
    }

    /// Adds the `credentials:` and `roles:` lists of `root` (a credentials file or a conf file).
    public mutating func merge(_ root: JSONValue, file: String, path: String) throws(ConfigError) {
        func fail(_ at: String, _ reason: String) -> ConfigError {
            ConfigError(file: file, path: path.isEmpty ? at : "\(path).\(at)", reason: reason)
        }
        if let list = root["credentials"] {
            guard case .array(let entries) = list else { throw fail("credentials", "expected a list") }
            for (i, e) in entries.enumerated() {
                let at = "credentials[\(i)]"
                guard let id = confText(e["accessKeyId"]), !id.isEmpty else { throw fail(at, "accessKeyId is missing") }
                guard let secret = confText(e["secretAccessKey"]), !secret.isEmpty else { throw fail(at, "secretAccessKey is missing") }
                let principal: CallerPrincipal
                if let s = e["principal"]?["service"]?.stringValue {
                    principal = .service(s)
                } else if let a = e["principal"]?["arn"]?.stringValue {
                    guard a.hasPrefix("arn:"), a.split(separator: ":", omittingEmptySubsequences: false).count >= 6 else {
                        throw fail("\(at).principal.arn", "not an ARN: \(a)")
                    }
                    principal = .arn(a)
                } else {
                    throw fail("\(at).principal", "needs `service` or `arn`")
                }
                var patterns: [String] = []
                if let m = e["mayAssertSourceArn"] {
                    guard case .array(let items) = m else { throw fail("\(at).mayAssertSourceArn", "expected a list") }
                    patterns = items.compactMap(\.stringValue)
                }
                var policies: [ResourcePolicy] = []
                for (k, doc) in (e["policies"]?.arrayValue ?? []).enumerated() {
                    do {
                        policies.append(try ResourcePolicy(document: doc, kind: .identity))
                    } catch {
                        throw fail("\(at).policies[\(k)]", error.description)
                    }
                }
                if callers[id] != nil { throw fail(at, "accessKeyId \(id) is listed twice") }
                var expiration: Int64?
                if let x = confText(e["expiration"]) {
                    guard let t = CredentialStore.parseISO8601(x) else {
                        throw fail("\(at).expiration", "expected an ISO 8601 UTC time like 2026-11-25T12:00:00Z, got \(x)")
                    }
                    expiration = t
                }
                var tags: [String: String] = [:]
                if let t = e["tags"] {
                    guard case .object(let o) = t else { throw fail("\(at).tags", "expected a mapping of tag keys to values") }
                    for (k, v) in o.members {
                        guard let text = confText(v) else { throw fail("\(at).tags.\(k)", "expected a string") }
                        tags[k] = text
                    }
                }
                callers[id] = CallerCredential(accessKeyId: id, secretAccessKey: secret,
                                               sessionToken: confText(e["sessionToken"]), principal: principal,
                                               mayAssertSourceArn: patterns, policies: policies, expiration: expiration,
                                               tags: tags, userId: confText(e["userId"]))
            }
        }
        if let list = root["roles"] {
            guard case .array(let entries) = list else { throw fail("roles", "expected a list") }
            for (i, e) in entries.enumerated() {
                let at = "roles[\(i)]"
                guard let arn = confText(e["roleArn"]) else { throw fail(at, "roleArn is missing") }
                guard let id = confText(e["accessKeyId"]), let secret = confText(e["secretAccessKey"]) else {
                    throw fail(at, "accessKeyId and secretAccessKey are required")
                }
                roles[arn] = RoleCredential(roleArn: arn, accessKeyId: id, secretAccessKey: secret,
                                            sessionToken: confText(e["sessionToken"]))
            }
        }
    }

    /// `YYYY-MM-DDTHH:MM:SSZ` (optionally with fractional seconds) → epoch seconds.
    static func parseISO8601(_ text: String) -> Int64? {
        let b = Array(text.utf8)
        guard b.count >= 20, b[4] == 0x2D, b[7] == 0x2D, b[10] == 0x54, b[13] == 0x3A, b[16] == 0x3A,
              b.last == 0x5A else { return nil }
        func num(_ r: Range<Int>) -> Int64? {
            var n: Int64 = 0
            for i in r { guard b[i] >= 0x30 && b[i] <= 0x39 else { return nil }; n = n * 10 + Int64(b[i] - 0x30) }
            return n
        }
        guard let y = num(0..<4), let mo = num(5..<7), let d = num(8..<10), let h = num(11..<13),
              let mi = num(14..<16), let s = num(17..<19), (1...12).contains(mo), (1...31).contains(d),
              h < 24, mi < 60, s < 61 else { return nil }
        return CivilDate.days(year: y, month: mo, day: d) * 86_400 + h * 3600 + mi * 60 + min(s, 59)
    }

}
