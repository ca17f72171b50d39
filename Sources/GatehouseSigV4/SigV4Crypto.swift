// SHA-256, HMAC-SHA256 and helpers, on OpenSSL's libcrypto.

import COpenSSL

enum Crypto {
    static let sha256Length = 32

    /// One byte to point at when the input is empty (OpenSSL wants a valid pointer).
    private static let emptyInput: [UInt8] = [0]

    /// SHA-256 fetched from the default provider once. `EVP_sha256()` in OpenSSL 3 makes every
    /// digest look the algorithm up again (callgrind: about a third of the verifier's time);
    /// a fetched `EVP_MD` is reference-counted and safe to share between threads.
    nonisolated(unsafe) private static let md: OpaquePointer = {
        guard let m = EVP_MD_fetch(nil, "SHA256", nil) else { fatalError("OpenSSL has no SHA256") }
        return m
    }()

    static func sha256(_ bytes: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: sha256Length)
        var outLength: UInt32 = 0
        let ok: Int32 = withNonEmptyPointer(bytes) { data, count in
            out.withUnsafeMutableBufferPointer { outBuffer in
                EVP_Digest(data, count, outBuffer.baseAddress, &outLength, md, nil)
            }
        }
        precondition(ok == 1 && outLength == UInt32(sha256Length), "EVP_Digest(SHA-256) failed")
        return out
    }

    /// HMAC-SHA256 (RFC 2104) as two SHA-256 passes over the padded key and the data, on the
    /// fetched digest: OpenSSL 3's one-shot `HMAC()` fetches the MAC and the digest on every
    /// call, which cost more than the hashing itself.
    static func hmacSHA256(key: [UInt8], data: [UInt8]) -> [UInt8] {
        let blockSize = 64
        var k = key.count > blockSize ? sha256(key) : key
        k.append(contentsOf: repeatElement(0, count: blockSize - k.count))
        var pad = [UInt8](repeating: 0, count: blockSize)
        guard let ctx = EVP_MD_CTX_new() else { fatalError("EVP_MD_CTX_new failed") }
        defer { EVP_MD_CTX_free(ctx) }
        var inner = [UInt8](repeating: 0, count: sha256Length)
        var out = [UInt8](repeating: 0, count: sha256Length)
        var length: UInt32 = 0
        for i in 0..<blockSize { pad[i] = k[i] ^ 0x36 }
        var ok = EVP_DigestInit_ex(ctx, md, nil) == 1
        ok = ok && pad.withUnsafeBytes { EVP_DigestUpdate(ctx, $0.baseAddress, blockSize) } == 1
        ok = ok && withNonEmptyPointer(data) { EVP_DigestUpdate(ctx, $0, $1) } == 1
        ok = ok && inner.withUnsafeMutableBufferPointer { EVP_DigestFinal_ex(ctx, $0.baseAddress, &length) } == 1
        for i in 0..<blockSize { pad[i] = k[i] ^ 0x5C }
        ok = ok && EVP_DigestInit_ex(ctx, md, nil) == 1
        ok = ok && pad.withUnsafeBytes { EVP_DigestUpdate(ctx, $0.baseAddress, blockSize) } == 1
        ok = ok && inner.withUnsafeBytes { EVP_DigestUpdate(ctx, $0.baseAddress, sha256Length) } == 1
        ok = ok && out.withUnsafeMutableBufferPointer { EVP_DigestFinal_ex(ctx, $0.baseAddress, &length) } == 1
        precondition(ok && length == UInt32(sha256Length), "HMAC(SHA-256) failed")
        return out
    }

    /// Compares two byte strings in time that depends only on their lengths.
    static func constantTimeEquals(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        if a.isEmpty { return true }
        return a.withUnsafeBytes { x in
            b.withUnsafeBytes { y in
                CRYPTO_memcmp(x.baseAddress, y.baseAddress, x.count) == 0
            }
        }
    }

    private static func withNonEmptyPointer<R>(_ bytes: [UInt8], _ body: (UnsafeRawPointer, Int) -> R) -> R {
        if bytes.isEmpty {
            return emptyInput.withUnsafeBytes { body($0.baseAddress!, 0) }
        }
        return bytes.withUnsafeBytes { body($0.baseAddress!, $0.count) }
    }
}

enum Hex {
    private static let digits: [UInt8] = Array("0123456789abcdef".utf8)

    static func encode(_ bytes: [UInt8]) -> String {
        var out = [UInt8]()
        out.reserveCapacity(bytes.count * 2)
        for b in bytes {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}

enum Base64 {
    private static let alphabet: [UInt8] = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    static func encode(_ bytes: [UInt8]) -> String {
        var out = [UInt8]()
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var i = 0
        while i + 3 <= bytes.count {
            let n = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2])
            out.append(alphabet[Int(n >> 18 & 63)])
            out.append(alphabet[Int(n >> 12 & 63)])
            out.append(alphabet[Int(n >> 6 & 63)])
            out.append(alphabet[Int(n & 63)])
            i += 3
        }
        let rest = bytes.count - i
        if rest == 1 {
            let n = UInt32(bytes[i]) << 16
            out.append(alphabet[Int(n >> 18 & 63)])
            out.append(alphabet[Int(n >> 12 & 63)])
            out.append(UInt8(ascii: "="))
            out.append(UInt8(ascii: "="))
        } else if rest == 2 {
            let n = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8
            out.append(alphabet[Int(n >> 18 & 63)])
            out.append(alphabet[Int(n >> 12 & 63)])
            out.append(alphabet[Int(n >> 6 & 63)])
            out.append(UInt8(ascii: "="))
        }
        return String(decoding: out, as: UTF8.self)
    }
}
