// SHA-256, HMAC-SHA256 and helpers, on OpenSSL's libcrypto.

import COpenSSL

enum Crypto {
    static let sha256Length = 32

    /// SHA-256 with OpenSSL's low-level `SHA256_*` calls. Through EVP, OpenSSL 3 looks the
    /// algorithm up in its provider store on every digest (`EVP_sha256()`, `HMAC()`), which
    /// callgrind showed costing several times the hashing itself; the low-level calls do not.
    static func sha256(_ bytes: [UInt8]) -> [UInt8] {
        digestArray { out in
            var ctx = SHA256_CTX()
            SHA256_Init(&ctx)
            bytes.withUnsafeBytes { _ = SHA256_Update(&ctx, $0.baseAddress, $0.count) }
            SHA256_Final(out, &ctx)
        }
    }

    /// HMAC-SHA256 (RFC 2104): SHA-256 over the key padded with 0x36, then the data; then
    /// SHA-256 over the key padded with 0x5C, then that inner hash.
    static func hmacSHA256(key: [UInt8], data: [UInt8]) -> [UInt8] {
        let blockSize = 64
        let k = key.count > blockSize ? sha256(key) : key
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: blockSize + sha256Length) { scratch in
            let pad = scratch.baseAddress!, inner = pad + blockSize
            var ctx = SHA256_CTX()
            func keyPad(_ x: UInt8) {
                for i in 0..<blockSize { pad[i] = (i < k.count ? k[i] : 0) ^ x }
            }
            keyPad(0x36)
            SHA256_Init(&ctx)
            SHA256_Update(&ctx, pad, blockSize)
            data.withUnsafeBytes { _ = SHA256_Update(&ctx, $0.baseAddress, $0.count) }
            SHA256_Final(inner, &ctx)
            keyPad(0x5C)
            return digestArray { out in
                SHA256_Init(&ctx)
                SHA256_Update(&ctx, pad, blockSize)
                SHA256_Update(&ctx, inner, sha256Length)
                SHA256_Final(out, &ctx)
            }
        }
    }

    /// A 32-byte digest written by `body`, as an array. Through a stack buffer and `append`:
    /// `[UInt8](repeating:count:)` takes the standard library's unspecialised allocation path
    /// (a run-time type lookup, about 500 instructions, callgrind); `reserveCapacity` and
    /// `append` are specialised for bytes.
    @inline(__always)
    private static func digestArray(_ body: (UnsafeMutablePointer<UInt8>) -> Void) -> [UInt8] {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: sha256Length) { d in
            body(d.baseAddress!)
            var out = [UInt8]()
            out.reserveCapacity(sha256Length)
            out.append(contentsOf: UnsafeBufferPointer(d))
            return out
        }
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
}

enum Hex {
    private static let digits: [UInt8] = Array("0123456789abcdef".utf8)

    @inline(__always)
    static func append(_ b: UInt8, to out: inout [UInt8]) {
        out.append(digits[Int(b >> 4)])
        out.append(digits[Int(b & 0x0F)])
    }

    static func encode(_ bytes: [UInt8]) -> String {
        String(unsafeUninitializedCapacity: bytes.count * 2) { out in
            var o = 0
            for b in bytes {
                out[o] = digits[Int(b >> 4)]
                out[o + 1] = digits[Int(b & 0x0F)]
                o += 2
            }
            return o
        }
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
