import ArgumentParser
import GatehouseJSON
import GatehouseLoop
import GatehouseModel
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// `gatehouse demo`: the seed scenario end to end on one machine. Both stacks are served (account
/// A's state machine, account B's API and state machine); A runs with the blog's input and
/// calls B's API through `apigateway:invoke` (AuthType RESOURCE_POLICY), which starts B's state
/// machine; then A', a copy of A whose ARN B's resource policy does not name, gets ApiGateway.403.
struct Demo: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the seed scenario end to end: A calls B's API and starts B; A' is refused (ApiGateway.403).")

    @Option(help: "The conf file naming both stacks.")
    var conf = "conf/seed.yaml"

    @Option(help: "Seconds to wait for each execution.")
    var timeout: Double = 30

    func run() throws {
        let options: GatewayOptions
        do {
            options = try GatewayOptions.parse(["--conf", conf, "--listen", "127.0.0.1:0"])
        } catch {
            stderrLine("error: \(error)")
            throw ExitCode(2)
        }
        let outcome = Mutex<Int32>(1)
        let threads = Mutex<[WorkerThread]>([])
        let wait = timeout
        try Serve.serve(options, workers: 2, accessLog: "off", adminListen: nil, statesListen: nil) { running in
            let t = WorkerThread {
                let code = DemoScript(running: running, timeout: wait).run()
                outcome.withLock { $0 = code }
                kill(getpid(), SIGTERM)
            }
            threads.withLock { $0.append(t) }
        }
        for t in threads.withLock({ $0 }) { t.join() }
        let code = outcome.withLock { $0 }
        if code != 0 { throw ExitCode(code) }
    }
}

/// The demo's steps, on their own thread while the gateway serves.
struct DemoScript {
    let running: Serve.Running
    let timeout: Double

    static let seedBody = #"{"someKey":"someValue"}"#

    func say(_ line: String) {
        print(line)
        fflush(nil)
    }

    func call(_ operation: String, _ members: [(String, JSONValue)]) -> JSONValue? {
        let body = JSONValue.object(JSONObject(members)).serialized()
        let (status, out) = running.engine.handle(target: "AWSStepFunctions." + operation, body: body, now: EmbeddedStates.now())
        running.driver.kick()
        guard status == 200 else {
            say("   \(operation) failed: \(String(decoding: out, as: UTF8.self))")
            return nil
        }
        return try? JSONValue.parse(out)
    }

    /// Starts an execution and waits for it to close; returns DescribeExecution's answer.
    func runToEnd(_ machineArn: String, name: String, input: JSONValue) -> JSONValue? {
        guard let started = call("StartExecution", [("stateMachineArn", .string(machineArn)), ("name", .string(name)),
                                                    ("input", .string(input.jsonText))]),
              let arn = started["executionArn"]?.stringValue else { return nil }
        return waitFor(arn)
    }

    func waitFor(_ executionArn: String) -> JSONValue? {
        let deadline = EmbeddedStates.now() + timeout
        while EmbeddedStates.now() < deadline {
            if let d = call("DescribeExecution", [("executionArn", .string(executionArn))]), d["status"]?.stringValue != "RUNNING" {
                return d
            }
            usleep(50_000)
        }
        say("   \(executionArn) still RUNNING after \(timeout) s")
        return nil
    }

    func show(_ label: String, _ d: JSONValue) {
        say("   \(label): \(d["status"]?.stringValue ?? "?")  \(d["executionArn"]?.stringValue ?? "")")
        if let output = d["output"]?.stringValue { say("   \(label) output: \(output)") }
        if let error = d["error"]?.stringValue { say("   \(label) error: \(error)") }
        if let cause = d["cause"]?.stringValue { say("   \(label) cause: \(cause)") }
    }

    /// 0 when B's execution SUCCEEDED and A' failed with ApiGateway.403.
    func run() -> Int32 {
        let machines = running.model.stateMachines
        guard let a = machines.first(where: { $0.logicalId == "SourceStateMachine" }),
              let b = machines.first(where: { $0.logicalId == "DestinationStateMachine" }),
              let api = running.model.apis.first else {
            say("demo: the conf must serve account A's SourceStateMachine and account B's API and DestinationStateMachine")
            return 2
        }
        let apiUrl = "\(api.id).execute-api.\(api.region).amazonaws.com"
        let input = JSONValue.object(JSONObject([
            ("ApiUrl", .string(apiUrl)), ("stateMachineArn", .string(b.arn)), ("body", .string(Self.seedBody)),
        ]))
        say("== Account A starts \(a.arn)")
        say("   input: \(input.jsonText)")
        guard let runA = runToEnd(a.arn, name: "demo-\(getpid())", input: input) else { return 1 }
        show("A", runA)

        var bSucceeded = false
        if let output = runA["output"]?.stringValue.flatMap({ try? JSONValue.parse($0) }),
           let bArn = output["ResponseBody"]?["executionArn"]?.stringValue {
            say("== Account B: the execution A's call started")
            if let runB = waitFor(bArn) {
                show("B", runB)
                bSucceeded = runB["status"]?.stringValue == "SUCCEEDED"
            }
        } else {
            say("   A's output names no execution of B")
        }

        // A': the same definition under another name, so another ARN, in account A.
        let primeName = a.name + "Prime"
        say("== A' (\(primeName)): the same definition; B's resource policy does not name its ARN")
        var primeArn = ""
        if let created = call("CreateStateMachine", [
            ("name", .string(primeName)), ("definition", .string(a.definition.jsonText)),
            ("roleArn", .string(a.roleArn ?? "arn:aws:iam::\(SharedEngine.account(of: a.arn) ?? "111111111111"):role/demo")),
        ]) {
            primeArn = created["stateMachineArn"]?.stringValue ?? ""
        }
        var refused = false
        if !primeArn.isEmpty, let runPrime = runToEnd(primeArn, name: "demo-\(getpid())", input: input) {
            show("A'", runPrime)
            refused = runPrime["status"]?.stringValue == "FAILED" && runPrime["error"]?.stringValue == "ApiGateway.403"
        }
        let ok = bSucceeded && refused
        say(ok ? "demo: ok (B SUCCEEDED; A' failed with ApiGateway.403)"
               : "demo: FAILED (expected B SUCCEEDED and A' ApiGateway.403)")
        return ok ? 0 : 1
    }
}
