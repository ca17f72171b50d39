// One TLS connection over OpenSSL memory BIOs: the caller moves ciphertext to and from the socket.

import COpenSSL

/// One TLS connection, driven entirely by the caller: `receive` what the socket read, write out
/// `takeOutbound()`. No I/O happens here. Not thread-safe; use it from the connection's loop thread.
///
/// After any thrown error the session is dead: later `receive`/`send` calls rethrow that error
/// without buffering anything, so a peer feeding junk cannot make it grow.
public final class TLSSession {
    /// Ciphertext is handed to OpenSSL this many bytes at a time, and drained between pieces, so
    /// the input memory BIO never holds more than about one record however much the caller passes.
    private static let feedChunk = 17 * 1024
    /// Plaintext is encrypted this many bytes at a time with the output BIO drained in between, for
    /// the same reason on the way out (a memory BIO's buffer only ever grows).
    private static let writeChunk = 64 * 1024
    /// Room for one full TLS record's plaintext per SSL_read.
    private static let readChunk = 16 * 1024

    private let context: TLSContext
    private let ssl: OpaquePointer
    private let inBIO: OpaquePointer   // ciphertext from the peer; owned by `ssl`
    private let outBIO: OpaquePointer  // ciphertext for the peer; owned by `ssl`
    private let serverName: String?

    private var outbound: [UInt8] = []
    /// Application bytes sent before the handshake finished.
    private var pending: [UInt8] = []
    private var failure: TLSError?
    private var sawFirstByte = false
    private var shutDown = false

    public private(set) var isHandshakeComplete = false
    /// True after the peer's close_notify; later ciphertext is ignored.
    public private(set) var peerClosed = false

    /// `serverName` (client side only) is sent as SNI and checked against the certificate: as an
    /// IP address if it parses as one (brackets allowed, no SNI then), else as a DNS name. A client
    /// whose context verifies peers must give one; without it any publicly trusted certificate for
    /// any name would pass. Ignored on the server side.
    public init(context: TLSContext, serverName: String? = nil) throws(TLSError) {
        ERR_clear_error()
        guard let ssl = SSL_new(context.ctx) else { throw .fromQueue("SSL_new") }
        let inBIO = BIO_new(BIO_s_mem())
        let outBIO = BIO_new(BIO_s_mem())
        guard let inBIO, let outBIO else {
            BIO_free(inBIO)
            BIO_free(outBIO)
            SSL_free(ssl)
            throw .fromQueue("BIO_new")
        }
        SSL_set_bio(ssl, inBIO, outBIO)  // SSL_free frees both from here on

        var nameToCheck: String?
        if context.isServer {
            SSL_set_accept_state(ssl)
        } else {
            SSL_set_connect_state(ssl)
            if let serverName {
                if let error = Self.setPeerName(ssl, serverName) {
                    SSL_free(ssl)
                    throw error
                }
                nameToCheck = serverName
            } else if context.verifiesPeer {
                SSL_free(ssl)
                throw TLSError(operation: "TLSSession.init",
                               detail: "a client that verifies its peer needs a serverName to check the certificate against")
            }
        }
        self.context = context
        self.ssl = ssl
        self.inBIO = inBIO
        self.outBIO = outBIO
        self.serverName = nameToCheck
    }

    deinit { SSL_free(ssl) }

    private static func setPeerName(_ ssl: OpaquePointer, _ serverName: String) -> TLSError? {
        var name = Substring(serverName)
        if name.hasPrefix("["), name.hasSuffix("]") { name = name.dropFirst().dropLast() }
        let host = String(name)
        // set1_ip_asc answers 1 exactly when `host` parses as an IPv4 or IPv6 literal.
        if X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host) == 1 { return nil }
        ERR_clear_error()
        // "f*.example.com" style wildcards are legal in X.509 but refused by browsers; refuse too.
        SSL_set_hostflags(ssl, UInt32(X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS))
        guard SSL_set1_host(ssl, host) == 1 else { return .fromQueue("set verify hostname \(host)") }
        // SSL_set_tlsext_host_name is a macro over SSL_ctrl; OpenSSL copies the string.
        let sniSet = host.withCString { name in
            SSL_ctrl(ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, Int(TLSEXT_NAMETYPE_host_name), UnsafeMutableRawPointer(mutating: name))
        }
        guard sniSet == 1 else { return .fromQueue("set SNI \(host)") }
        return nil
    }

    // MARK: Driving

    /// Client: starts the handshake, leaving the ClientHello in the outbound buffer. Server: no-op.
    public func start() throws(TLSError) {
        if let failure { throw failure }
        guard !context.isServer, !isHandshakeComplete else { return }
        ERR_clear_error()
        try handshake()
        drainOutBIO()
    }

    /// Feeds ciphertext read from the socket and appends any decrypted application bytes to
    /// `plaintext`. Drives the handshake, flushing bytes `send` buffered once it completes.
    /// Throws on protocol or certificate failure; `takeOutbound()` may then hold an alert.
    public func receive(_ ciphertext: UnsafeRawBufferPointer, into plaintext: inout [UInt8]) throws(TLSError) {
        if let failure { throw failure }
        if peerClosed { return }
        if !sawFirstByte, let first = ciphertext.first {
            sawFirstByte = true
            try checkFirstByte(first)
        }
        var rest = ciphertext
        repeat {
            let piece = UnsafeRawBufferPointer(rebasing: rest.prefix(Self.feedChunk))
            rest = UnsafeRawBufferPointer(rebasing: rest.dropFirst(piece.count))
            if !piece.isEmpty, BIO_write(inBIO, piece.baseAddress, Int32(piece.count)) != Int32(piece.count) {
                throw record(.fromQueue("buffer ciphertext", fallback: "BIO_write failed"))
            }
            ERR_clear_error()
            if !isHandshakeComplete { try handshake() }
            if isHandshakeComplete { try readAll(into: &plaintext) }
            drainOutBIO()
        } while !rest.isEmpty && !peerClosed
    }

    /// Encrypts application bytes into the outbound buffer, or holds them until the handshake
    /// completes.
    public func send(_ plaintext: UnsafeRawBufferPointer) throws(TLSError) {
        if let failure { throw failure }
        guard !shutDown else { throw TLSError(operation: "send", detail: "session already shut down") }
        guard !plaintext.isEmpty else { return }
        if isHandshakeComplete {
            ERR_clear_error()
            try write(plaintext)
        } else {
            pending.append(contentsOf: plaintext)
        }
    }

    /// Ciphertext for the socket, oldest first; empties the buffer.
    public func takeOutbound() -> [UInt8] {
        drainOutBIO()
        guard !outbound.isEmpty else { return [] }
        defer { outbound = [] }
        return outbound
    }

    public var hasOutbound: Bool { !outbound.isEmpty || BIO_ctrl_pending(outBIO) > 0 }

    /// Ciphertext OpenSSL has not yet pulled out of the input BIO; 0 after every `receive` that
    /// did not throw or see close_notify. For tests.
    var bufferedCiphertext: Int { Int(BIO_ctrl_pending(inBIO)) }

    /// Queues our close_notify; `send` refuses afterwards while `receive` goes on working until the
    /// peer's close_notify. Before the handshake completes there is nothing to close: buffered
    /// plaintext is dropped and nothing is sent.
    public func shutdown() {
        guard !shutDown else { return }
        shutDown = true
        pending = []
        guard failure == nil, isHandshakeComplete else { return }
        ERR_clear_error()
        // 0 means "sent, peer's not seen yet", which is all we want; waiting is the caller's choice.
        _ = SSL_shutdown(ssl)
        ERR_clear_error()
        drainOutBIO()
    }

    /// Negotiated protocol, such as "TLSv1.3"; meaningful once the handshake is complete.
    public var protocolVersion: String { String(cString: SSL_get_version(ssl)) }

    /// The ALPN protocol agreed in the handshake, if any.
    public var alpnProtocol: String? {
        var data: UnsafePointer<UInt8>?
        var length: UInt32 = 0
        SSL_get0_alpn_selected(ssl, &data, &length)
        guard let data, length > 0 else { return nil }
        return String(decoding: UnsafeBufferPointer(start: data, count: Int(length)), as: UTF8.self)
    }

    // MARK: Internals

    /// OpenSSL would wait for a whole 5-byte record header before objecting to a plain HTTP request
    /// fed one byte at a time; the first byte already tells. Nothing is queued for the peer, so the
    /// caller is free to answer in plain HTTP.
    private func checkFirstByte(_ byte: UInt8) throws(TLSError) {
        let handshakeRecord: UInt8 = 0x16, alertRecord: UInt8 = 0x15
        // A server may open with an alert (a refused ClientHello); a client never does.
        if byte == handshakeRecord || (!context.isServer && byte == alertRecord) { return }
        var detail = "first byte 0x\(String(byte, radix: 16)) does not start a TLS handshake record"
        if (0x41...0x5A).contains(byte) { detail += " (plain HTTP on a TLS connection?)" }
        throw record(TLSError(operation: "handshake", detail: detail))
    }

    private func handshake() throws(TLSError) {
        let result = SSL_do_handshake(ssl)
        guard result == 1 else {
            let code = SSL_get_error(ssl, result)
            // WANT_WRITE cannot happen (memory BIOs grow) but would mean the same: call again later.
            if code == SSL_ERROR_WANT_READ || code == SSL_ERROR_WANT_WRITE { return }
            throw failed("handshake", code)
        }
        isHandshakeComplete = true
        if !pending.isEmpty {
            let bytes = pending
            pending = []
            // withUnsafeBytes is untyped-rethrows, so the error comes out as a value.
            let error = bytes.withUnsafeBytes { buffer -> TLSError? in
                do throws(TLSError) { try write(buffer) } catch { return error }
                return nil
            }
            if let error { throw error }
        }
    }

    /// SSL_read until OpenSSL wants more ciphertext; it decrypts one record per call.
    private func readAll(into plaintext: inout [UInt8]) throws(TLSError) {
        let code = withUnsafeTemporaryAllocation(byteCount: Self.readChunk, alignment: 1) { buffer -> Int32 in
            while true {
                var count = 0
                guard SSL_read_ex(ssl, buffer.baseAddress, buffer.count, &count) == 1 else {
                    return SSL_get_error(ssl, 0)
                }
                plaintext.append(contentsOf: UnsafeRawBufferPointer(rebasing: buffer[..<count]))
            }
        }
        switch code {
        case SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE: return
        case SSL_ERROR_ZERO_RETURN: peerClosed = true
        default: throw failed("read", code)
        }
    }

    private func write(_ bytes: UnsafeRawBufferPointer) throws(TLSError) {
        var offset = 0
        while offset < bytes.count {
            let count = min(bytes.count - offset, Self.writeChunk)
            var written = 0
            // Without SSL_MODE_ENABLE_PARTIAL_WRITE success means all `count` bytes went.
            guard SSL_write_ex(ssl, bytes.baseAddress! + offset, count, &written) == 1 else {
                throw failed("write", SSL_get_error(ssl, 0))
            }
            offset += written
            drainOutBIO()
        }
    }

    /// Moves ciphertext from the output BIO into `outbound`.
    private func drainOutBIO() {
        let available = Int(BIO_ctrl_pending(outBIO))
        guard available > 0 else { return }
        let bytes = [UInt8](unsafeUninitializedCapacity: available) { buffer, count in
            count = Int(max(0, BIO_read(outBIO, buffer.baseAddress, Int32(available))))
        }
        if outbound.isEmpty { outbound = bytes } else { outbound.append(contentsOf: bytes) }
    }

    /// Builds the error for a failed SSL call and marks the session dead. Keeps any alert OpenSSL
    /// queued for the peer in `outbound`.
    private func failed(_ operation: String, _ code: Int32) -> TLSError {
        var detail = TLSError.drainQueue()
        if detail.isEmpty {
            switch code {
            case SSL_ERROR_ZERO_RETURN: detail = "peer sent close_notify during the handshake"
            case SSL_ERROR_SYSCALL: detail = "unexpected end of data"
            default: detail = "SSL_get_error \(code)"
            }
        }
        // Only while verifying a handshake: with verification off the result is still computed
        // (and may say "mismatch") but means nothing.
        let verify = context.verifiesPeer && !isHandshakeComplete ? SSL_get_verify_result(ssl) : Int(X509_V_OK)
        if verify != X509_V_OK {
            detail += "; certificate verification: \(String(cString: X509_verify_cert_error_string(verify)))"
            if verify == X509_V_ERR_HOSTNAME_MISMATCH || verify == X509_V_ERR_IP_ADDRESS_MISMATCH, let serverName {
                detail += " (expected \(serverName))"
            }
        }
        drainOutBIO()
        return record(TLSError(operation: operation, detail: detail))
    }

    private func record(_ error: TLSError) -> TLSError {
        failure = error
        pending = []
        return error
    }
}
