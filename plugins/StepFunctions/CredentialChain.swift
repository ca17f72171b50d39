import GatehouseModel
import GatehouseSigV4
#if canImport(Glibc)
import Glibc
#endif

/// The keys an integration signs with: the role's keys from the credentials file, else the
/// standard AWS chain (environment variables, then the shared credentials file and profile).
/// Resolved once at start; the request path only reads.
public struct CredentialChain: Sendable {
    let roles: [String: RoleCredential]
    let fallback: SigV4Credentials?

    public init(roles: [String: RoleCredential], environment: [String: String]) {
        self.roles = roles
        fallback = CredentialChain.standardChain(environment)
    }

    public func credentials(forRole role: String?) -> SigV4Credentials? {
        if let role, let r = roles[role] {
            return SigV4Credentials(accessKeyId: r.accessKeyId, secretAccessKey: r.secretAccessKey, sessionToken: r.sessionToken)
        }
        return fallback
    }

    /// Where the fallback keys came from, for the start-up log.
    public var fallbackDescription: String {
        fallback.map { "AWS credential chain (\($0.accessKeyId))" } ?? "none"
    }

    static func standardChain(_ env: [String: String]) -> SigV4Credentials? {
        if let id = env["AWS_ACCESS_KEY_ID"], let secret = env["AWS_SECRET_ACCESS_KEY"], !id.isEmpty {
            return SigV4Credentials(accessKeyId: id, secretAccessKey: secret, sessionToken: env["AWS_SESSION_TOKEN"])
        }
        let file = env["AWS_SHARED_CREDENTIALS_FILE"] ?? (env["HOME"].map { "\($0)/.aws/credentials" } ?? "")
        guard !file.isEmpty, let text = try? readTextFile(file) else { return nil }
        let profile = env["AWS_PROFILE"] ?? "default"
        var section = ""
        var values: [String: String] = [:]
        for rawLine in text.split(whereSeparator: { $0 == "\n" || $0 == "\r" }) {
            let line = rawLine.trimmingSpaces()
            if line.hasPrefix("#") || line.hasPrefix(";") || line.isEmpty { continue }
            if line.hasPrefix("[") && line.hasSuffix("]") {
                section = String(line.dropFirst().dropLast()).trimmingSpaces()
                continue
            }
            guard section == profile, let eq = line.firstIndex(of: "=") else { continue }
            values[String(line[..<eq]).trimmingSpaces()] = String(line[line.index(after: eq)...]).trimmingSpaces()
        }
        guard let id = values["aws_access_key_id"], let secret = values["aws_secret_access_key"] else { return nil }
        return SigV4Credentials(accessKeyId: id, secretAccessKey: secret, sessionToken: values["aws_session_token"])
    }
}
