import Testing
@testable import GatehouseHTTP

/// The eight-bytes-at-a-time scans must answer exactly as the plain byte loops they replace.
@Suite struct ByteScanTests {
    static func naiveFirstCRorLF(_ b: [UInt8], _ from: Int, _ to: Int) -> Int {
        var i = from
        while i < to && b[i] != 0x0D && b[i] != 0x0A { i += 1 }
        return i
    }

    static func naiveIsFieldValue(_ b: [UInt8], _ from: Int, _ to: Int) -> Bool {
        b[from..<to].allSatisfy { $0 >= 0x20 && $0 != 0x7F || $0 == 0x09 }
    }

    /// Bytes that sit at the edges of the tests: controls, CR, LF, tab, space, DEL, high bytes,
    /// and ones whose subtraction borrows.
    static let alphabet: [UInt8] = [0x00, 0x01, 0x09, 0x0A, 0x0D, 0x1F, 0x20, 0x21, 0x41, 0x7E, 0x7F, 0x80, 0x9F, 0xA0, 0xFF]

    @Test func agreesWithByteLoops() {
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<20_000 {
            let count = Int.random(in: 0...40, using: &rng)
            // Mostly ordinary text, with a few edge bytes.
            let bytes: [UInt8] = (0..<count).map { _ in
                Int.random(in: 0..<6, using: &rng) == 0 ? Self.alphabet.randomElement(using: &rng)! : UInt8.random(in: 0x20...0x7E, using: &rng)
            }
            let from = Int.random(in: 0...count, using: &rng)
            let to = Int.random(in: from...count, using: &rng)
            bytes.withUnsafeBufferPointer { u in
                let p = u.baseAddress ?? UnsafePointer(bitPattern: 8)!
                #expect(ByteScan.firstCRorLF(p, from: from, to: to) == Self.naiveFirstCRorLF(bytes, from, to), "\(bytes) \(from)..<\(to)")
                #expect(ByteScan.isFieldValue(p, from: from, to: to) == Self.naiveIsFieldValue(bytes, from, to), "\(bytes) \(from)..<\(to)")
            }
        }
    }

    @Test func findsEachPositionInAWord() {
        for position in 0..<24 {
            for mark: UInt8 in [0x0D, 0x0A] {
                var bytes = [UInt8](repeating: 0x61, count: 24)
                bytes[position] = mark
                bytes.withUnsafeBufferPointer { u in
                    #expect(ByteScan.firstCRorLF(u.baseAddress!, from: 0, to: 24) == position)
                }
            }
            for bad: UInt8 in [0x00, 0x0A, 0x1F, 0x7F] {
                var bytes = [UInt8](repeating: 0xC3, count: 24)   // high bytes are allowed
                bytes[position] = bad
                bytes.withUnsafeBufferPointer { u in
                    #expect(!ByteScan.isFieldValue(u.baseAddress!, from: 0, to: 24))
                }
            }
        }
    }
}
