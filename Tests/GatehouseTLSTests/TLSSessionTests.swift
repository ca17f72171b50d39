import COpenSSL
import Foundation
@testable import GatehouseTLS
import Testing

/// A client and a server session joined in memory.
final class Link {
    let client: TLSSession
    let server: TLSSession
    var atClient: [UInt8] = []  // plaintext the client has received
    var atServer: [UInt8] = []  // plaintext the server has received

    enum Side: Equatable { case client, server }
    struct Failure: Error { let side: Side; let error: TLSError }

    init(client: TLSSession, server: TLSSession) {
        self.client = client
        self.server = server
    }

    convenience init(clientContext: TLSContext? = nil, serverName: String? = "localhost") throws {
        let clientContext = try clientContext ?? TLSContext.client(caFile: TestCertificates.caFile)
        try self.init(client: TLSSession(context: clientContext, serverName: serverName),
                      server: TLSSession(context: Fixtures.serverContext))
    }

    /// Starts the client and moves ciphertext both ways, `chunk` bytes per receive call, until
    /// neither side has anything to send.
    func run(chunk: Int = .max) throws(Failure) {
        do throws(TLSError) { try client.start() } catch { throw Failure(side: .client, error: error) }
        while client.hasOutbound || server.hasOutbound {
            try deliver(client.takeOutbound(), to: .server, chunk: chunk)
            try deliver(server.takeOutbound(), to: .client, chunk: chunk)
        }
    }

    func deliver(_ bytes: [UInt8], to side: Side, chunk: Int = .max) throws(Failure) {
        let session = side == .client ? client : server
        var offset = 0
        while offset < bytes.count {
            let end = offset + min(chunk, bytes.count - offset)
            let error = bytes[offset..<end].withUnsafeBytes { piece -> TLSError? in
                do throws(TLSError) {
                    if side == .client { try session.receive(piece, into: &atClient) }
                    else { try session.receive(piece, into: &atServer) }
                } catch { return error }
                return nil
            }
            if let error { throw Failure(side: side, error: error) }
            // Everything fed was consumed: the input BIO never keeps a backlog.
            #expect(session.peerClosed || session.bufferedCiphertext == 0)
            offset = end
        }
    }
}

enum Fixtures {
    static let serverContext: TLSContext = try! .server(certificateChainFile: TestCertificates.serverChainFile,
                                                        privateKeyFile: TestCertificates.serverKeyFile)

    static func bytes(_ count: Int, seed: UInt64 = 1) -> [UInt8] {
        var state = seed
        return (0..<count).map { _ in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return UInt8(truncatingIfNeeded: state >> 33)
        }
    }
}

extension TLSSession {
    func send(_ bytes: [UInt8]) throws(TLSError) {
        let error = bytes.withUnsafeBytes { buffer -> TLSError? in
            do throws(TLSError) { try send(buffer) } catch { return error }
            return nil
        }
        if let error { throw error }
    }

    func receive(_ bytes: [UInt8]) throws(TLSError) -> [UInt8] {
        var plaintext: [UInt8] = []
        let error = bytes.withUnsafeBytes { buffer -> TLSError? in
            do throws(TLSError) { try receive(buffer, into: &plaintext) } catch { return error }
            return nil
        }
        if let error { throw error }
        return plaintext
    }
}

@Suite struct HandshakeAndData {
    @Test func handshakeCompletesWithTLS13() throws {
        let link = try Link()
        #expect(!link.client.isHandshakeComplete && !link.server.isHandshakeComplete)
        try link.run()
        #expect(link.client.isHandshakeComplete && link.server.isHandshakeComplete)
        #expect(link.client.protocolVersion == "TLSv1.3")
        #expect(link.server.protocolVersion == "TLSv1.3")
        #expect(link.client.alpnProtocol == nil)
        #expect(!link.client.hasOutbound && link.client.takeOutbound().isEmpty)
    }

    @Test func dataBothWays() throws {
        let link = try Link()
        try link.run()
        try link.client.send(Array("GET / HTTP/1.1\r\n\r\n".utf8))
        try link.run()
        #expect(link.atServer == Array("GET / HTTP/1.1\r\n\r\n".utf8))
        try link.server.send(Array("HTTP/1.1 204 No Content\r\n\r\n".utf8))
        try link.run()
        #expect(link.atClient == Array("HTTP/1.1 204 No Content\r\n\r\n".utf8))
    }

    @Test func oneMegabyteEachWay() throws {
        let link = try Link()
        try link.run()
        let up = Fixtures.bytes(1 << 20, seed: 7), down = Fixtures.bytes(1 << 20, seed: 8)
        try link.client.send(up)
        try link.server.send(down)
        try link.run(chunk: 65_536)
        #expect(link.atServer == up)
        #expect(link.atClient == down)
    }

    @Test func oneByteAtATime() throws {
        let link = try Link()
        try link.run(chunk: 1)
        #expect(link.client.isHandshakeComplete && link.server.isHandshakeComplete)
        // Several full 16 KB records plus a ragged end, every byte its own receive call.
        let up = Fixtures.bytes(70_001, seed: 3), down = Fixtures.bytes(40_000, seed: 4)
        try link.client.send(up)
        try link.server.send(down)
        try link.run(chunk: 1)
        #expect(link.atServer == up)
        #expect(link.atClient == down)
    }

    @Test func oddChunkSizes() throws {
        let link = try Link()
        try link.run(chunk: 7)
        let up = Fixtures.bytes(300_000, seed: 5)
        try link.client.send(up)
        try link.run(chunk: 16_389)
        #expect(link.atServer == up)
    }

    @Test func sendBeforeHandshakeIsHeldAndFlushed() throws {
        let link = try Link()
        try link.client.send(Array("early client".utf8))
        try link.server.send(Array("early server".utf8))
        try link.run()
        #expect(link.atServer == Array("early client".utf8))
        #expect(link.atClient == Array("early server".utf8))
    }

    @Test func tls12StillNegotiates() throws {
        let context = try TLSContext.client(caFile: TestCertificates.caFile)
        context.setProtocolVersions(min: TLS1_2_VERSION, max: TLS1_2_VERSION)
        let link = try Link(clientContext: context)
        try link.run(chunk: 3)
        #expect(link.client.protocolVersion == "TLSv1.2")
        #expect(link.server.protocolVersion == "TLSv1.2")
        try link.client.send(Fixtures.bytes(50_000))
        try link.run()
        #expect(link.atServer == Fixtures.bytes(50_000))
    }

    @Test(arguments: [(["h2", "http/1.1"], "http/1.1"), (["h2"], nil), ([], nil)] as [([String], String?)])
    func alpn(offer: [String], expected: String?) throws {
        let context = try TLSContext.client(caFile: TestCertificates.caFile)
        if !offer.isEmpty { context.setALPNOffer(offer) }
        let link = try Link(clientContext: context)
        try link.run()
        #expect(link.client.alpnProtocol == expected)
        #expect(link.server.alpnProtocol == expected)
    }
}

@Suite struct Verification {
    @Test func ipLiteralMatchesIPAddressSAN() throws {
        let link = try Link(serverName: "127.0.0.1")
        try link.run()
        #expect(link.client.isHandshakeComplete)
    }

    @Test func wrongHostnameIsRefused() throws {
        let link = try Link(serverName: "wrong.example")
        let failure = #expect(throws: Link.Failure.self) { try link.run() }
        #expect(failure?.side == .client)
        let detail = failure?.error.detail ?? ""
        #expect(detail.contains("certificate verify failed"))
        #expect(detail.contains("hostname mismatch"))
        #expect(detail.contains("wrong.example"))
        #expect(!link.client.isHandshakeComplete)
        // The client queued an alert; the server fails on it too.
        #expect(link.client.hasOutbound)
        let serverFailure = #expect(throws: Link.Failure.self) {
            try link.deliver(link.client.takeOutbound(), to: .server)
        }
        #expect(serverFailure?.side == .server)
        #expect(serverFailure?.error.detail.contains("alert") == true)
    }

    @Test(arguments: ["127.0.0.2", "[127.0.0.2]", "::1", "[::1]"])
    func wrongIPAddressIsRefused(serverName: String) throws {
        let link = try Link(serverName: serverName)
        let failure = #expect(throws: Link.Failure.self) { try link.run() }
        #expect(failure?.error.detail.contains("IP address mismatch") == true)
    }

    @Test func untrustedCAIsRefused() throws {
        let link = try Link(clientContext: TLSContext.client())  // system trust store only
        let failure = #expect(throws: Link.Failure.self) { try link.run() }
        #expect(failure?.side == .client)
        #expect(failure?.error.detail.contains("unable to get local issuer certificate") == true)
    }

    @Test func optOutAcceptsAnyCertificate() throws {
        let link = try Link(clientContext: TLSContext.client(verifyPeer: false), serverName: "wrong.example")
        try link.run()
        #expect(link.client.isHandshakeComplete)
        // A later failure is not blamed on the certificate check that was switched off.
        let failure = #expect(throws: Link.Failure.self) { try link.deliver([0x17, 0x03, 0x03, 0x00, 0x20] + Fixtures.bytes(32), to: .client) }
        #expect(failure?.error.detail.contains("certificate") == false)
        let unnamed = try Link(clientContext: TLSContext.client(verifyPeer: false), serverName: nil)
        try unnamed.run()
        #expect(unnamed.client.isHandshakeComplete)
    }

    @Test func verifyingClientNeedsAServerName() throws {
        let context = try TLSContext.client(caFile: TestCertificates.caFile)
        #expect(throws: TLSError.self) { try TLSSession(context: context) }
    }

    @Test func tls11ClientIsRefused() throws {
        let context = try TLSContext.client(caFile: TestCertificates.caFile)
        context.setSecurityLevel(0)
        context.setProtocolVersions(min: TLS1_1_VERSION, max: TLS1_1_VERSION)
        let link = try Link(clientContext: context)
        let failure = #expect(throws: Link.Failure.self) { try link.run() }
        #expect(failure?.side == .server)
        #expect(failure?.error.detail.contains("unsupported protocol") == true)
        let clientFailure = #expect(throws: Link.Failure.self) {
            try link.deliver(link.server.takeOutbound(), to: .client)
        }
        #expect(clientFailure?.error.detail.contains("protocol version") == true)
    }

    @Test func missingFilesAreNamed() {
        let missing = "/nonexistent/gatehouse.pem"
        let error = #expect(throws: TLSError.self) {
            try TLSContext.server(certificateChainFile: missing, privateKeyFile: TestCertificates.serverKeyFile)
        }
        #expect(error?.description.contains(missing) == true)
        #expect(throws: TLSError.self) { try TLSContext.client(caFile: missing) }
    }
}

@Suite struct Closing {
    @Test func closeNotifyIsSeen() throws {
        let link = try Link()
        try link.run()
        try link.client.send(Array("last words".utf8))
        link.client.shutdown()
        #expect(throws: TLSError.self) { try link.client.send(Array("more".utf8)) }
        try link.run()
        #expect(link.atServer == Array("last words".utf8))
        #expect(link.server.peerClosed)
        #expect(!link.client.peerClosed)
        // Half-close: the server may still answer, then close in turn.
        try link.server.send(Array("bye".utf8))
        link.server.shutdown()
        try link.run()
        #expect(link.atClient == Array("bye".utf8))
        #expect(link.client.peerClosed)
        // Anything after close_notify is dropped, not buffered or decrypted.
        #expect(try link.server.receive(Fixtures.bytes(100_000)).isEmpty)
    }

    @Test func shutdownBeforeHandshakeSendsNothing() throws {
        let context = try TLSContext.client(caFile: TestCertificates.caFile)
        let session = try TLSSession(context: context, serverName: "localhost")
        session.shutdown()
        #expect(!session.hasOutbound)
    }
}

@Suite struct Garbage {
    @Test func plainHTTPFailsOnTheFirstByte() throws {
        let server = try TLSSession(context: Fixtures.serverContext)
        let error = #expect(throws: TLSError.self) { _ = try server.receive(Array("G".utf8)) }
        #expect(error?.detail.contains("plain HTTP") == true)
        #expect(!server.hasOutbound)
        // Dead from now on; more input is not buffered.
        #expect(throws: TLSError.self) { _ = try server.receive(Fixtures.bytes(1 << 20)) }
    }

    @Test func wholeHTTPRequestFails() throws {
        let server = try TLSSession(context: Fixtures.serverContext)
        #expect(throws: TLSError.self) { _ = try server.receive(Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8)) }
    }

    @Test func oversizedRecordFailsOnItsHeader() throws {
        let server = try TLSSession(context: Fixtures.serverContext)
        let error = #expect(throws: TLSError.self) { _ = try server.receive([0x16, 0x03, 0x01, 0xFF, 0xFF]) }
        #expect(error != nil)
    }

    @Test func handshakeRecordOfJunkFails() throws {
        let server = try TLSSession(context: Fixtures.serverContext)
        let record: [UInt8] = [0x16, 0x03, 0x01, 0x00, 0x40] + Fixtures.bytes(64)
        #expect(throws: TLSError.self) { _ = try server.receive(record) }
    }

    @Test func junkToAClientFails() throws {
        let client = try TLSSession(context: TLSContext.client(verifyPeer: false))
        try client.start()
        _ = client.takeOutbound()
        #expect(throws: TLSError.self) { _ = try client.receive(Array("HTTP/1.1 400 Bad Request\r\n".utf8)) }
    }

    @Test func corruptedApplicationRecordFails() throws {
        let link = try Link()
        try link.run()
        try link.client.send(Fixtures.bytes(1000))
        var record = link.client.takeOutbound()
        record[record.count - 20] ^= 0x01
        let failure = #expect(throws: Link.Failure.self) { try link.deliver(record, to: .server) }
        #expect(failure?.error.detail.contains("bad record mac") == true)
        #expect(throws: TLSError.self) { try link.server.send(Array("x".utf8)) }
    }
}

@Suite struct Lifetimes {
    /// Many full sessions; under `--sanitize=address` LeakSanitizer reports anything not freed.
    /// GATEHOUSE_TLS_ROUNDS raises the count (2000 for the leak check).
    @Test func manyHandshakes() throws {
        let rounds = Int(ProcessInfo.processInfo.environment["GATEHOUSE_TLS_ROUNDS"] ?? "") ?? 50
        let clientContext = try TLSContext.client(caFile: TestCertificates.caFile)
        for round in 0..<rounds {
            let link = try Link(clientContext: clientContext)
            try link.run()
            try link.client.send(Fixtures.bytes(100, seed: UInt64(round)))
            link.client.shutdown()
            try link.run()
            #expect(link.server.peerClosed)
            // And a failing one, which takes the error paths.
            let bad = try Link(clientContext: clientContext, serverName: "wrong.example")
            #expect(throws: Link.Failure.self) { try bad.run() }
        }
        // Contexts too: each server context made and dropped.
        for _ in 0..<(rounds / 10) {
            _ = try TLSContext.server(certificateChainFile: TestCertificates.serverChainFile,
                                      privateKeyFile: TestCertificates.serverKeyFile)
            _ = try TLSContext.client(caFile: TestCertificates.caFile)
        }
    }
}
