/// Writes a message head into an array allocated once at a size worked out beforehand.
///
/// `Array.append(contentsOf:)` pays a capacity and uniqueness check and a copy loop set-up on
/// every call, which for the twenty-odd short pieces of a head came to more instructions than
/// the bytes themselves (callgrind: 3,400 a proxied request). Here a piece is a bounds check
/// and a `memcpy`. Writing past the size given is a programming error and stops the process,
/// as an array index out of range would.
public struct ByteWriter: ~Copyable {
    private let base: UnsafeMutablePointer<UInt8>
    private let capacity: Int
    public private(set) var count = 0

    fileprivate init(base: UnsafeMutablePointer<UInt8>, capacity: Int) {
        self.base = base
        self.capacity = capacity
    }

    @inline(__always)
    private mutating func reserve(_ n: Int) -> UnsafeMutablePointer<UInt8> {
        precondition(n <= capacity - count, "ByteWriter: written past the size worked out for it")
        let p = base + count
        count += n
        return p
    }

    @inline(__always)
    public mutating func write(_ byte: UInt8) {
        reserve(1).pointee = byte
    }

    @inline(__always)
    public mutating func write(_ bytes: UnsafeBufferPointer<UInt8>) {
        guard let src = bytes.baseAddress, bytes.count > 0 else { return }
        reserve(bytes.count).update(from: src, count: bytes.count)
    }

    @inline(__always)
    public mutating func write(_ bytes: UnsafeRawBufferPointer) {
        write(bytes.assumingMemoryBound(to: UInt8.self))
    }

    @inline(__always)
    public mutating func write(_ s: StaticString) {
        s.withUTF8Buffer { write($0) }
    }

    @inline(__always)
    public mutating func write(_ s: String) {
        // `withUTF8` is the cheap way in (callgrind: a third of `withContiguousStorageIfAvailable`'s
        // cost on short strings); it copies only a string that is not contiguous UTF-8.
        var s = s
        s.withUTF8 { write($0) }
    }

    public mutating func write(_ bytes: [UInt8]) {
        bytes.withUnsafeBufferPointer { write($0) }
    }

    /// A header value with CR, LF and NUL left out, so that no value can split the message.
    @inline(__always)
    public mutating func writeFieldValue(_ s: String) {
        var s = s
        s.withUTF8 { v in
            if !v.contains(where: { $0 == 0x0D || $0 == 0x0A || $0 == 0 }) { return write(v) }
            for b in v where b != 0x0D && b != 0x0A && b != 0 { write(b) }
        }
    }

    /// The decimal digits of a non-negative number.
    public mutating func writeDecimal(_ n: Int) {
        precondition(n >= 0)
        var digits = 1
        var v = n
        while v >= 10 { v /= 10; digits += 1 }
        let p = reserve(digits)
        v = n
        for i in stride(from: digits - 1, through: 0, by: -1) {
            p[i] = UInt8(48 + v % 10)
            v /= 10
        }
    }

    /// Room a decimal number takes at most.
    public static let maxDecimalBytes = 20
}

extension Array where Element == UInt8 {
    /// An array of at most `capacity` bytes, written by `body`.
    ///
    /// Written into a scratch buffer and then copied: `init(unsafeUninitializedCapacity:)` goes
    /// through the standard library's unspecialised array allocation, which looks the storage
    /// type up at run time (about 500 instructions a call, callgrind), where `reserveCapacity`
    /// and `append` are specialised for bytes; the copy costs a few dozen.
    public static func writing(capacity: Int, _ body: (inout ByteWriter) -> Void) -> [UInt8] {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: Swift.max(capacity, 1)) { scratch in
            var w = ByteWriter(base: scratch.baseAddress!, capacity: capacity)
            body(&w)
            var out = [UInt8]()
            out.reserveCapacity(w.count)
            out.append(contentsOf: UnsafeBufferPointer(start: scratch.baseAddress!, count: w.count))
            return out
        }
    }
}
