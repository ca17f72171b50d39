import ArgumentParser
import GatehouseHTTP
import GatehouseLoop
import GatehouseModel
import GatehouseSigV4
#if canImport(Glibc)
import Glibc
#endif

/// A SigV4-signing HTTP client (like awscurl), so a user can call an AWS_IAM API from a shell,
/// including as a service acting for a source ARN.
struct Curl: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Send a SigV4-signed request and print the response.")

    @Option(name: [.customShort("X"), .long], help: "HTTP method.")
    var request: String = "GET"

    @Option(name: [.customShort("d"), .long], help: "Request body (@FILE reads a file).")
    var data: String?

    @Option(name: [.customShort("H"), .long], help: "Extra header, 'Name: value' (repeatable).")
    var header: [String] = []

    @Option(help: "Access key id (default: $AWS_ACCESS_KEY_ID).")
    var accessKey: String?

    @Option(help: "Secret access key (default: $AWS_SECRET_ACCESS_KEY).")
    var secretKey: String?

    @Option(help: "Session token (default: $AWS_SESSION_TOKEN).")
    var sessionToken: String?

    @Option(help: "Region of the signature scope.")
    var region: String = "us-east-1"

    @Option(help: "Service of the signature scope.")
    var service: String = "execute-api"

    @Option(help: "Assert this source ARN (signed X-Amz-Source-Arn), as a service acting for a resource.")
    var sourceArn: String?

    @Option(help: "Assert this source account (signed X-Amz-Source-Account).")
    var sourceAccount: String?

    @Flag(name: [.customShort("i"), .long], help: "Print the status line and headers too.")
    var include = false

    @Flag(help: "Send the request unsigned.")
    var unsigned = false

    @Argument(help: "http(s)://HOST:PORT/PATH")
    var url: String

    func run() throws {
        guard let u = HTTPURL(url) else { throw ValidationError("not an http(s)://HOST[:PORT]/PATH URL: \(url)") }
        var body: [UInt8] = []
        if let d = data {
            if d.hasPrefix("@") {
                guard let f = fopen(String(d.dropFirst()), "rb") else { throw ValidationError("cannot read \(d.dropFirst())") }
                defer { fclose(f) }
                var buf = [UInt8](repeating: 0, count: 65536)
                while true {
                    let n = fread(&buf, 1, buf.count, f)
                    if n <= 0 { break }
                    body += buf[0..<n]
                }
            } else {
                body = Array(d.utf8)
            }
        }
        var headers: [(String, String)] = [("Host", u.hostHeader)]
        if !body.isEmpty { headers.append(("Content-Type", "application/json")) }
        for h in header {
            guard let colon = h.firstIndex(of: ":") else { throw ValidationError("header needs 'Name: value': \(h)") }
            headers.append((String(h[..<colon]), String(h[h.index(after: colon)...]).trimmingSpaces()))
        }
        if let s = sourceArn { headers.append(("X-Amz-Source-Arn", s)) }
        if let s = sourceAccount { headers.append(("X-Amz-Source-Account", s)) }
        let env = environment()
        var req = SigV4Request(method: request.uppercased(), path: u.path, query: u.query, headers: headers.map { SigV4Header(name: $0.0, value: $0.1) }, body: body)
        if !unsigned {
            guard let id = accessKey ?? env["AWS_ACCESS_KEY_ID"], let secret = secretKey ?? env["AWS_SECRET_ACCESS_KEY"] else {
                throw ValidationError("no credentials: pass --access-key/--secret-key or set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY")
            }
            let creds = SigV4Credentials(accessKeyId: id, secretAccessKey: secret, sessionToken: sessionToken ?? env["AWS_SESSION_TOKEN"])
            SigV4Signer(credentials: creds, region: region, service: service).sign(&req, date: Int64(time(nil)))
        }
        let loop = try EventLoop()
        var outcome: Result<HTTPClientResponse, HTTPClientError>?
        let pool = HTTPClientPool(loop: loop)
        pool.send(HTTPClientRequest(
            host: u.host, port: u.port, method: req.method, target: u.target,
            headers: HTTPHeaders(req.headers.map { ($0.name, $0.value) }), body: body, isTLS: u.isTLS)) {
            outcome = $0
            pool.closeIdle()
        }
        loop.run()
        switch outcome {
        case .success(let r)?:
            if include {
                print("HTTP/1.1 \(r.status) \(HTTPResponse.reason(r.status))")
                for (n, v) in r.headers.fields { print("\(n): \(v)") }
                print("")
            }
            print(String(decoding: r.body, as: UTF8.self))
        case .failure(let e)?:
            stderrLine("error: \(e)")
            throw ExitCode(7)
        case nil:
            throw ExitCode(7)
        }
    }
}
