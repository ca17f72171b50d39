import ArgumentParser
import GatehouseCore
import GatehouseHTTP
import GatehouseJSON
import GatehouseLoop
import GatehouseMapping
import GatehouseModel
import GatehouseSQLite
import HTTPIntegration
import LocalWorkflows
import Mock
import GatehouseObserve
import GatehouseTLS
import StepFunctions
#if canImport(Glibc)
import Glibc
#endif

/// Settings shared by `serve` and `validate`: a conf file, then flags on top of it.
struct GatewayOptions: ParsableArguments {
    @Option(help: "A conf file (YAML) holding the settings below; flags override it.")
    var conf: String?

    @Option(help: "The SAM or CloudFormation template (YAML or JSON).")
    var template: String?

    @Option(parsing: .upToNextOption, help: "Template parameter values, as KEY=VALUE.")
    var parameterOverrides: [String] = []

    @Option(help: "The region the stack runs in (default us-east-1).")
    var region: String?

    @Option(help: "The account id the stack runs in (default 123456789012).")
    var accountId: String?

    @Option(help: "The credentials file (YAML): callers' keys and integration roles' keys.")
    var credentials: String?

    @Option(help: "HOST:PORT to listen on (default 127.0.0.1:8080; port 0 picks a free one).")
    var listen: String?

    @Option(help: "A Step Functions endpoint URL; default: the embedded engine.")
    var statesEndpoint: String?

    func resolve() throws(ConfigError) -> GatewayConfig {
        var c = try conf.map { (p) throws(ConfigError) in try GatewayConfig.load(path: p) } ?? GatewayConfig()
        if let t = template { c.templatePath = t }
        if let r = region { c.template.region = r }
        if let a = accountId { c.template.accountId = a }
        if let f = credentials { c.credentialsPath = f }
        if let l = listen { try c.setListen(l) }
        if let e = statesEndpoint { c.statesEndpoint = e }
        for kv in parameterOverrides {
            guard let eq = kv.firstIndex(of: "="), eq != kv.startIndex else {
                throw ConfigError(file: "--parameter-overrides", path: "", reason: "expected KEY=VALUE, got \(kv)")
            }
            c.template.parameterOverrides[String(kv[..<eq])] = String(kv[kv.index(after: eq)...])
        }
        return c
    }
}

/// A loaded configuration: the model and the keys, validated once.
struct LoadedGateway {
    var config: GatewayConfig
    var model: GatewayModel
    var credentials: CredentialStore

    static func load(_ options: GatewayOptions) throws(ConfigError) -> LoadedGateway {
        let config = try options.resolve()
        var model = GatewayModel()
        if let path = config.templatePath {
            model = try TemplateLoader.load(text: try readTextFile(path), file: path, options: config.template)
        }
        // Further stacks, each in its own account: their APIs and state machines side by side.
        for stack in config.stacks {
            let m = try TemplateLoader.load(text: try readTextFile(stack.templatePath), file: stack.templatePath, options: stack.options)
            let taken = Set(model.apis.map(\.id))
            if let clash = m.apis.first(where: { taken.contains($0.id) }) {
                throw ConfigError(file: stack.templatePath, path: "", reason: "API id \(clash.id) is already served by another stack (give the stack another stackName)")
            }
            model.apis += m.apis
            model.stateMachines += m.stateMachines
            model.warnings += m.warnings
            model.usage.keys += m.usage.keys
            model.usage.plans += m.usage.plans
        }
        var credentials = config.inlineCredentials
        if let path = config.credentialsPath {
            let fromFile = try CredentialStore.load(text: try readTextFile(path), file: path)
            for (k, v) in fromFile.callers { credentials.callers[k] = v }
            for (k, v) in fromFile.roles { credentials.roles[k] = v }
        }
        return LoadedGateway(config: config, model: model, credentials: credentials)
    }

    /// The conf file's keys and plans with the template's.
    var usage: UsageConfig {
        var u = config.usage
        u.keys += model.usage.keys
        u.plans += model.usage.plans
        return u
    }

    /// One line per route, for the start-up log and `validate`.
    func routeLines(pluginName: (Integration) -> String) -> [String] {
        var lines: [String] = []
        for api in model.apis {
            for stage in api.stages {
                for resource in api.resources {
                    for (method, spec) in resource.methods.sorted(by: { $0.key < $1.key }) {
                        var integration = "none"
                        if let i = spec.integration {
                            integration = i.serviceAction.map { "\(i.type.rawValue):\($0.service):\($0.action)" }
                                ?? "\(i.type.rawValue):\(i.uri)"
                            integration += " plugin=\(pluginName(i))"
                        }
                        lines.append("route api=\(api.id) stage=\(stage.name) method=\(method) path=\(resource.path) auth=\(spec.authorization.rawValue)\(spec.apiKeyRequired ? "+API_KEY" : "") integration=\(integration)")
                    }
                }
            }
        }
        return lines
    }
}

func environment() -> [String: String] {
    var env: [String: String] = [:]
    var p = environ
    while let entry = p.pointee {
        let s = String(cString: entry)
        if let eq = s.firstIndex(of: "=") { env[String(s[..<eq])] = String(s[s.index(after: eq)...]) }
        p += 1
    }
    return env
}

func stderrLine(_ s: String) {
    let line = Array((s + "\n").utf8)
    _ = line.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
}

struct Serve: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Serve the APIs of a template.")

    @OptionGroup var options: GatewayOptions

    @Option(help: "Worker threads, one event loop each (default: the number of cores).")
    var workers: Int?

    @Option(help: "Access log: stdout, off, or a file path (default stdout).")
    var accessLog: String?

    @Option(help: "HOST:PORT of the admin listener serving /metrics.")
    var adminListen: String?

    @Option(help: "HOST:PORT of the embedded engine's Step Functions API (AWS JSON 1.0), for the AWS CLI and SDKs.")
    var statesListen: String?

    @Option(help: "An SQLite file keeping the embedded engine's machines and executions across restarts.")
    var statesDb: String?

    func run() throws {
        try Self.serve(options, workers: workers, accessLog: accessLog, adminListen: adminListen, statesListen: statesListen,
                       statesDatabase: statesDb)
    }

    /// What a caller of `serve` gets once every listener is up.
    struct Running {
        let model: GatewayModel
        let engine: SharedEngine
        let driver: EngineDriver
    }

    /// Serves until SIGTERM or SIGINT; `ready` runs (on the main thread) once every listener is up.
    static func serve(_ options: GatewayOptions, workers: Int?, accessLog: String?, adminListen: String?, statesListen: String?,
                      statesDatabase: String? = nil, ready: ((Running) -> Void)? = nil) throws {
        let loaded: LoadedGateway
        do {
            loaded = try LoadedGateway.load(options)
        } catch {
            stderrLine("error: \(error)")
            throw ExitCode(2)
        }
        var config = loaded.config
        if let w = workers {
            guard (1...256).contains(w) else { stderrLine("error: --workers must be from 1 to 256"); throw ExitCode(2) }
            config.workers = w
        }
        if let a = accessLog { config.accessLogDestination = a }
        if let a = adminListen { config.adminListen = a }
        if let a = statesListen { config.statesListen = a }
        for w in loaded.model.warnings { stderrLine("warning: \(w)") }

        if let d = statesDatabase { config.statesDatabase = d }
        let engine = SharedEngine(region: config.template.region, accountId: config.template.accountId, retainClosed: config.statesRetainClosed)
        if let path = config.statesDatabase {
            do {
                try engine.attach(try SQLiteWorkflowStore(path: path, fullSync: config.statesDatabaseFullSync))
                print("states store=\(path)")
            } catch {
                stderrLine("error: states store: \(error)")
                throw ExitCode(2)
            }
        }
        engine.register(loaded.model.stateMachines)
        if let e = config.statesEndpoint, (try? StatesEndpoint.parse(e)) == nil {
            do { _ = try StatesEndpoint.parse(e) } catch { stderrLine("error: \(error)") }
            throw ExitCode(2)
        }

        // Observers shared by every worker.
        let writer: LogWriter?
        switch config.accessLogDestination {
        case "off": writer = nil
        case "stdout": writer = LogWriter(fd: 1)
        default:
            let fd = open(config.accessLogDestination, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
            guard fd >= 0 else {
                stderrLine("error: access log \(config.accessLogDestination): \(String(cString: strerror(errno)))")
                throw ExitCode(2)
            }
            writer = LogWriter(fd: fd)
        }
        let metrics = MetricsRegistry()
        if let writer {
            metrics.registerCounter(name: "gatehouse_access_log_lines_dropped_total",
                                    help: "Access log lines dropped because the log destination fell behind.") { writer.droppedLines }
        }
        let observers = GatewayObservers(writer: writer, defaultFormat: config.accessLogFormat, metrics: metrics)

        for line in loaded.routeLines(pluginName: pluginName) { print(line) }
        for sm in loaded.model.stateMachines { print("stateMachine arn=\(sm.arn)") }
        print("states endpoint=\(config.statesEndpoint ?? "embedded")")

        // Listening sockets first (SO_REUSEPORT, one per worker), so a bind error stops the
        // start and every worker shares the port port 0 picked.
        let count = config.workers ?? Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))
        let sockets: [ReusePortSocket]
        do {
            sockets = try ReusePortSocket.bindGroup(host: config.listenHost, port: config.listenPort, count: count)
        } catch {
            stderrLine("error: \(error)")
            throw ExitCode(2)
        }
        let port = sockets[0].port

        var serverTLS: TLSContext?
        var tlsSockets: [ReusePortSocket] = []
        var clientTLS: TLSContext?
        do {
            // Only with an extra CA file (so a bad one is refused at start): otherwise each
            // pool loads the system trust store at its first https upstream, not every start.
            if let ca = config.upstreamCAFile { clientTLS = try TLSContext.client(caFile: ca) }
            if let listen = config.tlsListen, let cert = config.tlsCertificateFile, let key = config.tlsPrivateKeyFile {
                serverTLS = try TLSContext.server(certificateChainFile: cert, privateKeyFile: key)
                var at = GatewayConfig()
                try at.setListen(listen, file: "tls.listen")
                tlsSockets = try ReusePortSocket.bindGroup(host: at.listenHost, port: at.listenPort, count: count)
            }
        } catch {
            stderrLine("error: \(error)")
            throw ExitCode(2)
        }

        // The main loop: the engine driver, the admin and states listeners, signals.
        let loop = try EventLoop()
        let driver = EngineDriver(engine: engine, loop: loop, invoker: TaskInvoker(
            pool: HTTPClientPool(loop: loop, tls: clientTLS), credentials: loaded.credentials,
            local: (config.listenHost == "0.0.0.0" ? "127.0.0.1" : config.listenHost, port), endpointMap: config.apiEndpoints))
        let shared = WorkerShared(config: config, engine: engine, driver: driver, observers: observers, metrics: metrics,
                                  serverTLS: serverTLS, clientTLS: clientTLS,
                                  limiter: UsageLimiter(accountThrottle: config.usage.accountThrottle))
        let pool = WorkerPool(shared: shared,
                              snapshot: Snapshot(model: loaded.model, credentials: loaded.credentials, usage: loaded.usage,
                                                 trustedProxies: loaded.config.trustedProxies),
                              sockets: sockets, tlsSockets: tlsSockets)
        do {
            try pool.start()
        } catch {
            stderrLine("error: \(error)")
            throw ExitCode(2)
        }
        var admin: HTTPServer?
        if let a = config.adminListen {
            do {
                var c = GatewayConfig()
                try c.setListen(a, file: "adminListen")
                admin = try HTTPServer(loop: loop, host: c.listenHost, port: c.listenPort, handler: AdminHandler(metrics: metrics))
                print("admin listening on http://\(c.listenHost):\(admin!.port)")
                fflush(nil)
            } catch {
                stderrLine("error: admin listener: \(error)")
                pool.stop(drainMillis: 0)
                throw ExitCode(2)
            }
        }
        var statesServer: HTTPServer?
        if let a = config.statesListen {
            do {
                var c = GatewayConfig()
                try c.setListen(a, file: "statesListen")
                statesServer = try HTTPServer(loop: loop, host: c.listenHost, port: c.listenPort,
                                              handler: StatesAPIHandler(engine: EmbeddedStates(engine: engine, driver: driver), loop: loop))
                print("states API listening on http://\(c.listenHost):\(statesServer!.port)")
                fflush(nil)
            } catch {
                stderrLine("error: states listener: \(error)")
                admin?.close()
                pool.stop(drainMillis: 0)
                throw ExitCode(2)
            }
        }

        if let t = tlsSockets.first {
            print("listening on https://\(config.tlsListen.map { $0.split(separator: ":").dropLast().joined(separator: ":") } ?? ""):\(t.port)")
        }
        print("listening on http://\(config.listenHost):\(port) workers=\(count)")
        fflush(nil)
        ready?(Running(model: loaded.model, engine: engine, driver: driver))


        let stop = {
            admin?.close()
            statesServer?.close()
            pool.stop(drainMillis: config.drainTimeoutMillis)
            loop.stop()
        }
        let sigterm = LoopSignal(loop: loop, signal: SIGTERM, stop)
        let sigint = LoopSignal(loop: loop, signal: SIGINT, stop)
        let sighup = LoopSignal(loop: loop, signal: SIGHUP) {
            // Reload: a bad configuration is refused and the old one keeps serving.
            do {
                let next = try LoadedGateway.load(options)
                engine.register(next.model.stateMachines)
                driver.kick()          // the machines' writes are committed on its turn
                driver.invoker.credentials = next.credentials
                pool.reload(Snapshot(model: next.model, credentials: next.credentials, usage: next.usage,
                                             trustedProxies: next.config.trustedProxies))
                print("reloaded routes=\(next.routeLines(pluginName: pluginName).count)")
            } catch {
                print("reload refused: \(error)")
            }
            fflush(nil)
        }
        // The loop stays up until a signal stops it (the keep-alive timer holds it open).
        let keepAlive = LoopTimer(loop: loop)
        keepAlive.schedule(after: 3_600_000, repeat: 3_600_000) {}
        loop.run()
        keepAlive.close()
        driver.close()
        sigterm.close()
        sigint.close()
        sighup.close()
        pool.join()
        loop.closeAll()
        writer?.flushAndStop()
        print("stopped")
        fflush(nil)
    }
}

struct Validate: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Load a configuration, print its routes, and exit.")

    @OptionGroup var options: GatewayOptions

    func run() throws {
        do {
            let loaded = try LoadedGateway.load(options)
            for w in loaded.model.warnings { stderrLine("warning: \(w)") }
            for w in templateWarnings(loaded.model) { stderrLine("warning: \(w)") }
            for (id, c) in loaded.credentials.callers.sorted(by: { $0.key < $1.key }) {
                for (k, p) in c.policies.enumerated() {
                    for w in p.warnings() { stderrLine("warning: credentials \(id) policies[\(k)]: \(w)") }
                }
            }
            for line in loaded.routeLines(pluginName: pluginName) { print(line) }
            for sm in loaded.model.stateMachines { print("stateMachine arn=\(sm.arn)") }
        } catch {
            stderrLine("error: \(error)")
            throw ExitCode(2)
        }
    }
}

/// The plugin that serves an integration, by name, without building the plugins.
func pluginName(_ i: Integration) -> String {
    switch i.type {
    case .http, .httpProxy: return "http"
    case .mock: return "mock"
    case .aws, .awsProxy: return i.serviceAction?.service == "states" ? "states" : "none"
    }
}

/// Mapping templates that do not parse: API Gateway accepts them and answers 500 when they
/// run, so `validate` says so beforehand.
func templateWarnings(_ model: GatewayModel) -> [String] {
    var out: [String] = []
    for api in model.apis {
        for resource in api.resources {
            for (method, spec) in resource.methods.sorted(by: { $0.key < $1.key }) {
                guard let integration = spec.integration else { continue }
                let at = "api \(api.id) \(method) \(resource.path)"
                for (type, text) in integration.requestTemplates.sorted(by: { $0.key < $1.key }) {
                    do { _ = try VTLTemplate(text) } catch {
                        out.append("\(at): request template \(type) does not parse (\(error)); the method answers 500")
                    }
                }
                for r in integration.responses {
                    for (type, text) in r.responseTemplates.sorted(by: { $0.key < $1.key }) {
                        do { _ = try VTLTemplate(text) } catch {
                            out.append("\(at): response template \(type) for \(r.selectionPattern) does not parse (\(error)); the method answers 500")
                        }
                    }
                }
            }
        }
    }
    return out
}
