// Shared OpenSSL configuration (SSL_CTX) for many TLS sessions.

import COpenSSL

/// An OpenSSL `SSL_CTX`: certificates, trust and protocol limits shared by many sessions.
///
/// Sendable because after the factory returns the `SSL_CTX` is only read (`SSL_new` takes its own
/// reference and OpenSSL locks the shared session cache). The internal setters below are for
/// tests and must not be used once sessions exist.
public final class TLSContext: @unchecked Sendable {
    let ctx: OpaquePointer
    let isServer: Bool
    let verifiesPeer: Bool

    private init(ctx: OpaquePointer, isServer: Bool, verifiesPeer: Bool) {
        self.ctx = ctx
        self.isServer = isServer
        self.verifiesPeer = verifiesPeer
    }

    deinit { SSL_CTX_free(ctx) }

    /// Server side: PEM certificate chain (leaf first) and PEM private key; TLS 1.2 minimum;
    /// selects ALPN "http/1.1" when the client offers it and no ALPN otherwise.
    public static func server(certificateChainFile: String, privateKeyFile: String) throws(TLSError) -> TLSContext {
        let context = try make(server: true, verifiesPeer: false)
        let ctx = context.ctx
        guard SSL_CTX_use_certificate_chain_file(ctx, certificateChainFile) == 1 else {
            throw .fromQueue("load certificate chain \(certificateChainFile)")
        }
        guard SSL_CTX_use_PrivateKey_file(ctx, privateKeyFile, SSL_FILETYPE_PEM) == 1 else {
            throw .fromQueue("load private key \(privateKeyFile)")
        }
        guard SSL_CTX_check_private_key(ctx) == 1 else {
            throw .fromQueue("private key \(privateKeyFile) does not match certificate \(certificateChainFile)")
        }
        SSL_CTX_set_options(ctx, SSLOption.cipherServerPreference)
        SSL_CTX_set_alpn_select_cb(ctx, selectHTTP11, nil)
        return context
    }

    /// Client side: TLS 1.2 minimum. With `verifyPeer` the chain must lead to the system trust
    /// store or to a certificate in `caFile`; `verifyPeer: false` is an explicit opt-out that
    /// accepts any certificate (and ignores `caFile`).
    public static func client(caFile: String? = nil, verifyPeer: Bool = true) throws(TLSError) -> TLSContext {
        let context = try make(server: false, verifiesPeer: verifyPeer)
        let ctx = context.ctx
        if verifyPeer {
            guard SSL_CTX_set_default_verify_paths(ctx) == 1 else { throw .fromQueue("load system trust store") }
            if let caFile, SSL_CTX_load_verify_locations(ctx, caFile, nil) != 1 {
                throw .fromQueue("load CA file \(caFile)")
            }
        }
        SSL_CTX_set_verify(ctx, verifyPeer ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, nil)
        return context
    }

    private static func make(server: Bool, verifiesPeer: Bool) throws(TLSError) -> TLSContext {
        ERR_clear_error()
        guard let ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method()) else {
            throw .fromQueue("SSL_CTX_new")
        }
        // Owned from here on: a later throw frees it through deinit.
        let context = TLSContext(ctx: ctx, isServer: server, verifiesPeer: verifiesPeer)
        guard SSL_CTX_ctrl(ctx, SSL_CTRL_SET_MIN_PROTO_VERSION, Int(TLS1_2_VERSION), nil) == 1 else {
            throw .fromQueue("set minimum protocol version")
        }
        // Idle keep-alive connections then hold no OpenSSL record buffers (about 34 KB each).
        _ = SSL_CTX_ctrl(ctx, SSL_CTRL_MODE, Int(SSL_MODE_RELEASE_BUFFERS), nil)
        // TLS 1.2 renegotiation is a CPU-exhaustion lever for the peer and nothing here needs it.
        SSL_CTX_set_options(ctx, SSLOption.noRenegotiation)
        return context
    }

    // MARK: Test hooks (reachable with @testable import)

    /// Limits the protocol range; `0` leaves an end open. For tests that play an old peer.
    func setProtocolVersions(min: Int32, max: Int32) {
        _ = SSL_CTX_ctrl(ctx, SSL_CTRL_SET_MIN_PROTO_VERSION, Int(min), nil)
        _ = SSL_CTX_ctrl(ctx, SSL_CTRL_SET_MAX_PROTO_VERSION, Int(max), nil)
    }

    /// TLS 1.0/1.1 sign handshakes with SHA-1, which OpenSSL 3 permits only at security level 0;
    /// tests that play such a client lower it.
    func setSecurityLevel(_ level: Int32) {
        SSL_CTX_set_security_level(ctx, level)
    }

    /// Client ALPN offer, in preference order.
    func setALPNOffer(_ protocols: [String]) {
        var wire: [UInt8] = []
        for name in protocols {
            wire.append(UInt8(name.utf8.count))
            wire.append(contentsOf: name.utf8)
        }
        // Returns 0 on success, unlike most of OpenSSL.
        let failed = SSL_CTX_set_alpn_protos(ctx, wire, UInt32(wire.count))
        precondition(failed == 0, "SSL_CTX_set_alpn_protos failed")
    }
}

/// SSL_OP_* bits. ssl.h spells them `SSL_OP_BIT(n)`, a macro Swift cannot import; the bit
/// numbers are part of OpenSSL 3's stable ABI.
private enum SSLOption {
    static let cipherServerPreference: UInt64 = 1 << 22  // SSL_OP_CIPHER_SERVER_PREFERENCE
    static let noRenegotiation: UInt64 = 1 << 30         // SSL_OP_NO_RENEGOTIATION
}

private let http11: [UInt8] = Array("http/1.1".utf8)

/// Picks "http/1.1" from the client's length-prefixed ALPN list. `out` points into the client's
/// list, which OpenSSL copies before the buffer goes away. NOACK lets the handshake go on without
/// ALPN rather than failing it.
private let selectHTTP11: SSL_CTX_alpn_select_cb_func = { _, out, outLength, offered, offeredLength, _ in
    guard let out, let outLength, let offered else { return SSL_TLSEXT_ERR_NOACK }
    let list = UnsafeBufferPointer(start: offered, count: Int(offeredLength))
    var index = 0
    while index < list.count {
        let length = Int(list[index])
        let start = index + 1
        guard start + length <= list.count else { break }
        if list[start..<start + length].elementsEqual(http11) {
            out.pointee = offered + start
            outLength.pointee = UInt8(length)
            return SSL_TLSEXT_ERR_OK
        }
        index = start + length
    }
    return SSL_TLSEXT_ERR_NOACK
}
