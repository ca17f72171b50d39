import GatehousePolicy
import GatehouseJSON
#if canImport(Glibc)
import Glibc
#endif

/// Everything `gatehouse serve` needs, from flags or from a conf file.
public struct GatewayConfig: Sendable {
    public var templatePath: String?
    public var template = TemplateOptions()
    /// More templates served side by side, each as its own stack in its own account (conf
    /// `stacks`: `template`, `accountId`, `stackName`, `parameterOverrides`), e.g. both
    /// halves of a cross-account scenario.
    public var stacks: [Stack] = []

    public struct Stack: Sendable {
        public var templatePath: String
        public var options: TemplateOptions
    }
    public var credentialsPath: String?
    public var listenHost = "127.0.0.1"
    public var listenPort = 8080
    /// Step Functions endpoint URL; nil means the embedded engine.
    public var statesEndpoint: String?
    /// Callers' and roles' keys given inline in the conf file.
    public var inlineCredentials = CredentialStore()
    /// Milliseconds a client has to send a request head (conf `limits.headerTimeoutMillis`).
    public var headerTimeoutMillis: UInt64 = 10_000
    /// Milliseconds an idle keep-alive connection is kept (conf `limits.idleTimeoutMillis`).
    public var idleTimeoutMillis: UInt64 = 60_000
    /// Milliseconds SIGTERM waits for requests in flight before closing what is left
    /// (conf `limits.drainTimeoutMillis`).
    public var drainTimeoutMillis: UInt64 = 10_000
    /// Worker threads, one loop each (conf `workers`; default: the number of cores).
    public var workers: Int?
    /// HOST:PORT of the admin listener serving `/metrics` (conf `adminListen`); none if nil.
    public var adminListen: String?
    /// HOST:PORT of the embedded engine's own Step Functions API listener (conf `statesListen`,
    /// flag `--states-listen`); none if nil.
    public var statesListen: String?
    /// Where a Task's `apigateway:invoke` sends a host (conf `apiEndpoints`:
    /// `{apiId}.execute-api.{region}.amazonaws.com: http://HOST:PORT`); by default such hosts
    /// go to this Gatehouse's own listener.
    public var apiEndpoints: [String: String] = [:]
    /// An SQLite file keeping the embedded engine's machines and executions across restarts
    /// (conf `statesDatabase`, flag `--states-db`); none: in memory only. `statesDatabaseSync:
    /// full` makes each write survive a power cut too (the default survives a killed process).
    public var statesDatabase: String?
    public var statesDatabaseFullSync = false
    /// How many closed executions each account keeps (conf `statesRetainClosed`); the oldest
    /// beyond it are forgotten, as AWS forgets them after 90 days.
    public var statesRetainClosed = 10_000
    /// Where access log lines go: `stdout`, `off`, or a file path (conf `accessLog.destination`).
    public var accessLogDestination = "stdout"
    /// The `$context` format used where a stage sets none (conf `accessLog.format`).
    public var accessLogFormat: String?
    /// A TLS listener (conf `tls.listen`, `tls.certificateFile`, `tls.privateKeyFile`).
    public var tlsListen: String?
    public var tlsCertificateFile: String?
    public var tlsPrivateKeyFile: String?
    /// API keys, usage plans and the account throttle (conf `apiKeys`, `usagePlans`, `throttle`).
    public var usage = UsageConfig()
    /// Extra CA certificates (PEM) trusted for HTTPS upstreams, besides the system store
    /// (conf `upstreamCAFile`).
    public var upstreamCAFile: String?
    /// Proxies trusted to name the client in `X-Forwarded-For` for `aws:SourceIp`
    /// (conf `trustedProxies`: addresses or CIDR blocks). Empty: the socket's peer is the client.
    public var trustedProxies = AddressSet()
    public var trustedProxyEntries: [String] = []

    public init() {}

    /// Parses `HOST:PORT` (or `[v6]:PORT`, or `PORT`).
    public mutating func setListen(_ s: String, file: String = "--listen") throws(ConfigError) {
        var host = listenHost
        var portText = s
        if let colon = s.lastIndex(of: ":") {
            host = String(s[..<colon]).trimmingBrackets()
            portText = String(s[s.index(after: colon)...])
        }
        guard let port = Int(portText), (0...65535).contains(port) else {
            throw ConfigError(file: file, path: "", reason: "not HOST:PORT: \(s)")
        }
        listenHost = host.isEmpty ? "0.0.0.0" : host
        listenPort = port
    }

    /// Reads a conf file (YAML). Paths inside it are relative to the file's folder.
    public static func load(path: String) throws(ConfigError) -> GatewayConfig {
        let root = try YAMLLoader.load(try readTextFile(path), file: path)
        guard case .object(let o) = root else { throw ConfigError(file: path, path: "", reason: "not a mapping") }
        let known: Set<String> = ["template", "parameterOverrides", "region", "accountId", "listen",
                                  "credentials", "credentialsFile", "statesEndpoint", "roles", "stackName", "limits",
                                  "workers", "adminListen", "statesListen", "apiEndpoints", "statesDatabase", "statesDatabaseSync", "statesRetainClosed", "accessLog", "tls", "upstreamCAFile", "trustedProxies",
                                  "apiKeys", "usagePlans", "throttle", "stacks"]
        for k in o.keys where !known.contains(k) {
            throw ConfigError(file: path, path: k, reason: "unknown setting (known: \(known.sorted().joined(separator: ", ")))")
        }
        let dir = path.contains("/") ? String(path[..<path.lastIndex(of: "/")!]) : "."
        func rel(_ p: String) -> String { p.hasPrefix("/") ? p : "\(dir)/\(p)" }
        var c = GatewayConfig()
        if let t = confText(o["template"]) { c.templatePath = rel(t) }
        if let r = confText(o["region"]) { c.template.region = r }
        if let a = confText(o["accountId"]) { c.template.accountId = a }
        if let s = confText(o["stackName"]) { c.template.stackName = s }
        if let l = confText(o["listen"]) { try c.setListen(l, file: path) }
        if let e = confText(o["statesEndpoint"]) { c.statesEndpoint = e }
        if let f = confText(o["credentialsFile"]) { c.credentialsPath = rel(f) }
        for (k, v) in o["parameterOverrides"]?.objectValue?.members ?? [] {
            guard let s = confText(v) else { throw ConfigError(file: path, path: "parameterOverrides.\(k)", reason: "expected a string") }
            c.template.parameterOverrides[k] = s
        }
        if let list = o["stacks"] {
            guard case .array(let entries) = list else { throw ConfigError(file: path, path: "stacks", reason: "expected a list") }
            for (i, e) in entries.enumerated() {
                let at = "stacks[\(i)]"
                guard case .object(let s) = e else { throw ConfigError(file: path, path: at, reason: "expected a mapping") }
                // One region for every stack: the embedded engine serves one (see `region`).
                for k in s.keys where !["template", "accountId", "stackName", "parameterOverrides"].contains(k) {
                    throw ConfigError(file: path, path: "\(at).\(k)", reason: "unknown setting (known: accountId, parameterOverrides, stackName, template; the region is the conf's)")
                }
                guard let t = confText(s["template"]) else { throw ConfigError(file: path, path: at, reason: "template is missing") }
                var options = c.template
                options.parameterOverrides = [:]
                if let a = confText(s["accountId"]) { options.accountId = a }
                options.stackName = confText(s["stackName"]) ?? "stack\(i + 1)"
                for (k, v) in s["parameterOverrides"]?.objectValue?.members ?? [] {
                    guard let text = confText(v) else { throw ConfigError(file: path, path: "\(at).parameterOverrides.\(k)", reason: "expected a string") }
                    options.parameterOverrides[k] = text
                }
                c.stacks.append(Stack(templatePath: rel(t), options: options))
            }
        }
        for (k, v) in o["limits"]?.objectValue?.members ?? [] {
            guard case .int(let n) = v, n > 0 else {
                throw ConfigError(file: path, path: "limits.\(k)", reason: "expected a positive integer")
            }
            switch k {
            case "headerTimeoutMillis": c.headerTimeoutMillis = UInt64(n)
            case "idleTimeoutMillis": c.idleTimeoutMillis = UInt64(n)
            case "drainTimeoutMillis": c.drainTimeoutMillis = UInt64(n)
            default: throw ConfigError(file: path, path: "limits.\(k)", reason: "unknown limit (known: drainTimeoutMillis, headerTimeoutMillis, idleTimeoutMillis)")
            }
        }
        if let w = o["workers"] {
            guard case .int(let n) = w, n >= 1, n <= 256 else {
                throw ConfigError(file: path, path: "workers", reason: "expected an integer from 1 to 256")
            }
            c.workers = Int(n)
        }
        if let a = confText(o["adminListen"]) { c.adminListen = a }
        if let a = confText(o["statesListen"]) { c.statesListen = a }
        if let d = confText(o["statesDatabase"]) { c.statesDatabase = rel(d) }
        if let r = o["statesRetainClosed"] {
            guard case .int(let n) = r, n >= 1 else { throw ConfigError(file: path, path: "statesRetainClosed", reason: "expected a positive integer") }
            c.statesRetainClosed = Int(n)
        }
        if let sync = confText(o["statesDatabaseSync"]) {
            guard sync == "normal" || sync == "full" else { throw ConfigError(file: path, path: "statesDatabaseSync", reason: "expected normal or full") }
            c.statesDatabaseFullSync = sync == "full"
        }
        if let m = o["apiEndpoints"] {
            guard case .object(let entries) = m else { throw ConfigError(file: path, path: "apiEndpoints", reason: "expected a mapping of hosts to URLs") }
            for (host, url) in entries.members {
                guard let u = confText(url) else { throw ConfigError(file: path, path: "apiEndpoints.\(host)", reason: "expected a URL") }
                c.apiEndpoints[host] = u
            }
        }
        if let ca = confText(o["upstreamCAFile"]) { c.upstreamCAFile = rel(ca) }
        if let tp = o["trustedProxies"] {
            guard case .array(let items) = tp else {
                throw ConfigError(file: path, path: "trustedProxies", reason: "expected a list of addresses or CIDR blocks")
            }
            let entries = items.compactMap(confText)
            switch AddressSet.parse(entries) {
            case .success(let set):
                c.trustedProxies = set
                c.trustedProxyEntries = entries
            case .failure(let e):
                throw ConfigError(file: path, path: "trustedProxies", reason: "not an IPv4/IPv6 address or CIDR block: \(e.entry)")
            }
        }
        for (k, v) in o["accessLog"]?.objectValue?.members ?? [] {
            guard let t = confText(v) else { throw ConfigError(file: path, path: "accessLog.\(k)", reason: "expected a string") }
            switch k {
            case "destination": c.accessLogDestination = t == "stdout" || t == "off" ? t : rel(t)
            case "format": c.accessLogFormat = t
            default: throw ConfigError(file: path, path: "accessLog.\(k)", reason: "unknown setting (known: destination, format)")
            }
        }
        for (k, v) in o["tls"]?.objectValue?.members ?? [] {
            guard let t = confText(v) else { throw ConfigError(file: path, path: "tls.\(k)", reason: "expected a string") }
            switch k {
            case "listen": c.tlsListen = t
            case "certificateFile": c.tlsCertificateFile = rel(t)
            case "privateKeyFile": c.tlsPrivateKeyFile = rel(t)
            default: throw ConfigError(file: path, path: "tls.\(k)", reason: "unknown setting (known: certificateFile, listen, privateKeyFile)")
            }
        }
        if c.tlsListen != nil && (c.tlsCertificateFile == nil || c.tlsPrivateKeyFile == nil) {
            throw ConfigError(file: path, path: "tls", reason: "listen needs certificateFile and privateKeyFile")
        }
        try c.inlineCredentials.merge(root, file: path, path: "")
        c.usage = try UsageConfig.load(root, file: path)
        return c
    }
}

extension String {
    func trimmingBrackets() -> String {
        hasPrefix("[") && hasSuffix("]") ? String(dropFirst().dropLast()) : self
    }
}

/// Reads a whole UTF-8 text file, with a `ConfigError` that names it on failure.
public func readTextFile(_ path: String) throws(ConfigError) -> String {
    guard let f = fopen(path, "rb") else {
        throw ConfigError(file: path, path: "", reason: String(cString: strerror(errno)))
    }
    defer { fclose(f) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = fread(&chunk, 1, chunk.count, f)
        if n <= 0 { break }
        bytes.append(contentsOf: chunk[0..<n])
        if bytes.count > 64 * 1024 * 1024 {
            throw ConfigError(file: path, path: "", reason: "larger than 64 MiB")
        }
    }
    return String(decoding: bytes, as: UTF8.self)
}
