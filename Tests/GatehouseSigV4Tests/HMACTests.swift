import Testing
@testable import GatehouseSigV4

/// HMAC-SHA256 against RFC 4231's test vectors (facts from the RFC): a short key, and a key
/// longer than the 64-byte block, which is hashed first.
@Suite struct HMACTests {
    func hex(_ b: [UInt8]) -> String { Hex.encode(b) }

    @Test func rfc4231Case1() {
        let mac = Crypto.hmacSHA256(key: [UInt8](repeating: 0x0b, count: 20), data: Array("Hi There".utf8))
        #expect(hex(mac) == "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7")
    }

    @Test func rfc4231Case2KeyShorterThanOutput() {
        let mac = Crypto.hmacSHA256(key: Array("Jefe".utf8), data: Array("what do ya want for nothing?".utf8))
        #expect(hex(mac) == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
    }

    @Test func rfc4231Case6KeyLongerThanABlock() {
        let mac = Crypto.hmacSHA256(key: [UInt8](repeating: 0xaa, count: 131),
                                    data: Array("Test Using Larger Than Block-Size Key - Hash Key First".utf8))
        #expect(hex(mac) == "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54")
    }

    @Test func emptyInputs() {
        // HMAC-SHA256 with an empty key and empty message.
        #expect(hex(Crypto.hmacSHA256(key: [], data: [])) == "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad")
        #expect(hex(Crypto.sha256([])) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    }
}
