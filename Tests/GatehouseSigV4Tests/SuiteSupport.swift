import Foundation
import GatehouseSigV4

/// One case folder of the AWS SigV4 test suite (Fixtures/v4/<name>).
struct SuiteCase {
    let name: String
    let directory: URL
    let accessKeyId: String
    let secretAccessKey: String
    let sessionToken: String?
    let region: String
    let service: String
    let timestamp: Int64
    let normalize: Bool
    let signBody: Bool
    let omitSessionToken: Bool
    let expirationInSeconds: Int

    static let root: URL = {
        if let bundled = Bundle.module.url(forResource: "Fixtures", withExtension: nil) {
            let v4 = bundled.appendingPathComponent("v4")
            if FileManager.default.fileExists(atPath: v4.path) { return v4 }
        }
        return URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/v4")
    }()

    /// Every case folder, sorted.
    static let names: [String] = {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: root.path)) ?? []
        return entries.filter { name in
            FileManager.default.fileExists(atPath: root.appendingPathComponent(name).appendingPathComponent("context.json").path)
        }.sorted()
    }()

    static func load(_ name: String) throws -> SuiteCase {
        let directory = root.appendingPathComponent(name)
        let data = try Data(contentsOf: directory.appendingPathComponent("context.json"))
        guard let json = try JSONSerialization.jsonObject(with: data) as? [String: Any],
              let credentials = json["credentials"] as? [String: Any],
              let timestampText = json["timestamp"] as? String,
              let timestamp = SigV4.parseAmzDate(timestampText.replacingOccurrences(of: "-", with: "")
                                                    .replacingOccurrences(of: ":", with: ""))
        else { throw SuiteError.badContext(name) }
        return SuiteCase(
            name: name, directory: directory,
            accessKeyId: credentials["access_key_id"] as? String ?? "",
            secretAccessKey: credentials["secret_access_key"] as? String ?? "",
            sessionToken: credentials["token"] as? String,
            region: json["region"] as? String ?? "",
            service: json["service"] as? String ?? "",
            timestamp: timestamp,
            normalize: json["normalize"] as? Bool ?? true,
            signBody: json["sign_body"] as? Bool ?? false,
            omitSessionToken: json["omit_session_token"] as? Bool ?? false,
            expirationInSeconds: json["expiration_in_seconds"] as? Int ?? 3600)
    }

    func bytes(_ file: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: directory.appendingPathComponent(file)))
    }

    func text(_ file: String) throws -> String {
        String(decoding: try bytes(file), as: UTF8.self)
    }

    func request(_ file: String = "request.txt") throws -> SigV4Request {
        try RawRequest.parse(bytes(file))
    }

    var credentials: SigV4Credentials {
        SigV4Credentials(accessKeyId: accessKeyId, secretAccessKey: secretAccessKey, sessionToken: sessionToken)
    }

    var signer: SigV4Signer {
        SigV4Signer(credentials: credentials, region: region, service: service,
                    doubleEncodePath: true, normalizePath: normalize)
    }

    var verifier: SigV4Verifier {
        let known = credentials
        return SigV4Verifier(service: service, region: region, doubleEncodePath: true, normalizePath: normalize) { key in
            key == known.accessKeyId ? known : nil
        }
    }
}

enum SuiteError: Error {
    case badContext(String)
    case badRequest(String)
}

/// Parses the suite's request files: `METHOD target HTTP/1.1`, `Name:value` lines (a line starting
/// with whitespace continues the previous value, joined by one space as an obs-fold), a blank line, the body.
enum RawRequest {
    static func parse(_ bytes: [UInt8]) throws -> SigV4Request {
        var head = bytes[...]
        var body: [UInt8] = []
        if let split = findBlankLine(bytes) {
            head = bytes[..<split]
            body = Array(bytes[(split + 2)...])
        } else if head.last == 0x0A {
            head = head.dropLast()
        }
        let lines = head.split(separator: 0x0A, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
        guard let requestLine = lines.first,
              let firstSpace = requestLine.firstIndex(of: " "),
              let lastSpace = requestLine.lastIndex(of: " "), firstSpace < lastSpace
        else { throw SuiteError.badRequest("request line") }
        let method = String(requestLine[..<firstSpace])
        let target = String(requestLine[requestLine.index(after: firstSpace)..<lastSpace])
        var path = target, query = ""
        if let q = target.firstIndex(of: "?") {
            path = String(target[..<q])
            query = String(target[target.index(after: q)...])
        }
        var headers: [SigV4Header] = []
        for line in lines.dropFirst() {
            if line.first == " " || line.first == "\t" {
                guard !headers.isEmpty else { throw SuiteError.badRequest("continuation without header") }
                headers[headers.count - 1].value += " " + line
                continue
            }
            guard let colon = line.firstIndex(of: ":") else { throw SuiteError.badRequest("header line \(line)") }
            headers.append(SigV4Header(name: String(line[..<colon]), value: String(line[line.index(after: colon)...])))
        }
        return SigV4Request(method: method, path: path, query: query, headers: headers, body: body)
    }

    private static func findBlankLine(_ bytes: [UInt8]) -> Int? {
        guard bytes.count >= 2 else { return nil }
        for i in 0..<(bytes.count - 1) where bytes[i] == 0x0A && bytes[i + 1] == 0x0A {
            return i
        }
        return nil
    }
}

/// Changes the last character of a string to a different one.
func tweakLast(_ s: String) -> String {
    String(s.dropLast()) + (s.last == "x" ? "y" : "x")
}

/// Changes the last hex digit of a string to a different hex digit.
func flipLastHex(_ s: String) -> String {
    String(s.dropLast()) + (s.last == "0" ? "1" : "0")
}
