import ArgumentParser
import GatehouseCore
import GatehouseHTTP
import GatehouseJSON
import GatehouseLoop
import GatehouseModel
import HTTPIntegration
import LocalWorkflows
import Mock
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
        var credentials = config.inlineCredentials
        if let path = config.credentialsPath {
            let fromFile = try CredentialStore.load(text: try readTextFile(path), file: path)
            for (k, v) in fromFile.callers { credentials.callers[k] = v }
            for (k, v) in fromFile.roles { credentials.roles[k] = v }
        }
        return LoadedGateway(config: config, model: model, credentials: credentials)
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

    func run() throws {
        let loaded: LoadedGateway
        do {
            loaded = try LoadedGateway.load(options)
        } catch {
            stderrLine("error: \(error)")
            throw ExitCode(2)
        }
        let config = loaded.config
        for w in loaded.model.warnings { stderrLine("warning: \(w)") }

        let loop = try EventLoop()
        let engine = WorkflowEngine(region: config.template.region, accountId: config.template.accountId)
        for sm in loaded.model.stateMachines {
            do {
                try engine.register(name: sm.name, definition: sm.definition, roleArn: sm.roleArn, type: sm.type)
            } catch {
                // Not fatal: the APIs still serve, and an external --states-endpoint may run it.
                stderrLine("warning: state machine \(sm.logicalId) is not run by the embedded engine: \(error)")
            }
        }
        let endpoint: StatesEndpoint
        do {
            endpoint = try config.statesEndpoint.map { (u) throws(ConfigError) in try StatesEndpoint.parse(u) }
                ?? .inProcess(EmbeddedStates(engine: engine))
        } catch {
            stderrLine("error: \(error)")
            throw ExitCode(2)
        }
        let keys = CredentialChain(roles: loaded.credentials.roles, environment: environment())
        let plugins: [IntegrationPlugin] = [
            StepFunctionsPlugin(endpoint: endpoint, keys: keys),
            HTTPIntegrationPlugin(pool: HTTPClientPool(loop: loop)),
            MockPlugin(),
        ]
        let gateway = Gateway(model: loaded.model, credentials: loaded.credentials, plugins: plugins, loop: loop)

        for line in loaded.routeLines(pluginName: { gateway.plugin(for: $0)?.name ?? "none" }) { print(line) }
        for sm in loaded.model.stateMachines { print("stateMachine arn=\(sm.arn)") }
        print("states endpoint=\(config.statesEndpoint ?? "embedded")")

        var limits = HTTPLimits()
        limits.headerTimeoutMillis = config.headerTimeoutMillis
        limits.idleTimeoutMillis = config.idleTimeoutMillis
        let server = try HTTPServer(loop: loop, host: config.listenHost, port: config.listenPort, limits: limits, handler: gateway)
        print("listening on http://\(config.listenHost):\(server.port)")
        fflush(nil)

        let stop = { server.close(); loop.stop() }
        let sigterm = LoopSignal(loop: loop, signal: SIGTERM, stop)
        let sigint = LoopSignal(loop: loop, signal: SIGINT, stop)
        loop.run()
        sigterm.close()
        sigint.close()
        loop.closeAll()
        print("stopped")
    }
}

struct Validate: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Load a configuration, print its routes, and exit.")

    @OptionGroup var options: GatewayOptions

    func run() throws {
        do {
            let loaded = try LoadedGateway.load(options)
            for w in loaded.model.warnings { stderrLine("warning: \(w)") }
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

/// The embedded engine behind the in-process Step Functions endpoint. Executions advance on
/// the loop's next turn, so a caller sees RUNNING before SUCCEEDED as it would on AWS.
final class EmbeddedStates: InProcessAWSService {
    let engine: WorkflowEngine
    var timer: LoopTimer?

    init(engine: WorkflowEngine) {
        self.engine = engine
    }

    static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec / 1_000_000) / 1000
    }

    func handle(target: String, body: [UInt8], loop: EventLoop, done: @escaping (Int, [UInt8]) -> Void) {
        let (status, out) = engine.handle(target: target, body: body, now: EmbeddedStates.now())
        if timer == nil {
            let t = LoopTimer(loop: loop)
            t.unref()
            timer = t
        }
        timer?.schedule(after: 0) { [engine] in engine.runPending(now: EmbeddedStates.now()) }
        done(status, out)
    }
}
