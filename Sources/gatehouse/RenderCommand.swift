import ArgumentParser
import GatehouseJSON
import GatehouseMapping
#if canImport(Glibc)
import Glibc
#endif

/// `gatehouse render`: the template playground, and the differential-test entry. Reads the
/// JSON `../shared/oracle/vtl/` takes and prints what API Gateway would render.
struct RenderCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "render",
        abstract: "Render a mapping template as API Gateway would.",
        discussion: """
        Standard input is one JSON object:
          {"template": "…", "body": "raw body" | null,
           "params": {"path": {…}, "querystring": {…}, "header": {…}},
           "context": {…}, "stageVariables": {…}}
        The rendered text is printed as it is (no newline added); on an error, "ERROR <type>: …"
        goes to standard error and the exit status is 2.
        With --batch, every input line is such an object (with an optional "id") and every output
        line is {"id": …, "output": "…", "error": null} or {"id": …, "output": null, "error": "…"}.
        """)

    @Flag(help: "JSON lines in, JSON lines out.")
    var batch = false

    func run() throws {
        if batch {
            while let line = readLine(strippingNewline: true) {
                if line.allSatisfy({ $0 == " " || $0 == "\t" || $0 == "\r" }) { continue }
                var out = JSONObject()
                var id: JSONValue = .null
                do {
                    let request = try JSONValue.parse(line)
                    id = request["id"] ?? .null
                    let text = try RenderCommand.render(request)
                    out["id"] = id
                    out["output"] = .string(text)
                    out["error"] = .null
                } catch {
                    out["id"] = id
                    out["output"] = .null
                    out["error"] = .string("\(error)")
                }
                print(String(decoding: JSONValue.object(out).serialized(), as: UTF8.self))
            }
            return
        }
        var data: [UInt8] = []
        while let line = readLine(strippingNewline: false) { data += Array(line.utf8) }
        do {
            let request = try JSONValue.parse(data)
            let text = try RenderCommand.render(request)
            let bytes = Array(text.utf8)
            var written = 0
            while written < bytes.count {
                let n = bytes[written...].withUnsafeBytes { write(1, $0.baseAddress, $0.count) }
                if n <= 0 { break }
                written += n
            }
        } catch {
            stderrLine("ERROR \(error)")
            throw ExitCode(2)
        }
    }

    struct RequestError: Error, CustomStringConvertible {
        var description: String
    }

    /// Parsed templates by text: a batch usually renders few templates many times.
    nonisolated(unsafe) static var parsed: [String: VTLTemplate] = [:]

    static func render(_ request: JSONValue) throws -> String {
        guard case .string(let template)? = request["template"] else {
            throw RequestError(description: "request: \"template\" must be a string")
        }
        var body: String?
        switch request["body"] {
        case nil, .null?: body = nil
        case .string(let s)?: body = s
        case let v?: body = String(decoding: v.serialized(), as: UTF8.self)
        }
        var input = MappingInput(body: body)
        func pairs(_ v: JSONValue?) -> [(String, String)] {
            guard case .object(let o)? = v else { return [] }
            return o.members.map { ($0.key, $0.value.stringValue ?? String(decoding: $0.value.serialized(), as: UTF8.self)) }
        }
        input.path = pairs(request["params"]?["path"])
        input.querystring = pairs(request["params"]?["querystring"])
        input.header = pairs(request["params"]?["header"])
        input.stageVariables = pairs(request["stageVariables"])
        if case .object(let c)? = request["context"] { input.context = c }
        let t: VTLTemplate
        if let hit = parsed[template] {
            t = hit
        } else {
            t = try VTLTemplate(template)
            if parsed.count > 1000 { parsed.removeAll() }
            parsed[template] = t
        }
        return try renderMapping(t, input).output
    }
}
