#if canImport(Glibc)
import Glibc
#endif
import GatehouseJSON

/// JSON read straight into template values, as json-smart reads it for Jayway: objects keep
/// their order, whole numbers are Integer/Long (BigInteger, kept as digits, beyond 64 bits),
/// numbers with a fraction or exponent are Double.
struct VTLJSONParser {
    /// The text's bytes, borrowed for the parse (reads are checked against `b.count` by hand,
    /// so the buffer's unchecked subscript is safe and keeps bounds checks out of the loop).
    let b: UnsafeBufferPointer<UInt8>
    var i = 0
    var depth = 0
    /// The last object's keys: sibling objects (an array of records) usually share them, and
    /// then share one array (whose keys are known to be distinct).
    var lastKeys: [String] = []
    /// Their bytes end to end, and where each ends, to compare with the text without building
    /// a string.
    var lastKeyBytes: [UInt8] = []
    var lastKeyEnds: [Int] = []
    /// Scratch stacks: a container's members collect here and are moved out once, at their
    /// final size, instead of growing an array per container.
    let valueStack: ScratchStack<VTLValue>
    let keyStack: ScratchStack<String>

    init(b: UnsafeBufferPointer<UInt8>, scratch: ParseScratch) {
        self.b = b
        valueStack = scratch.values
        keyStack = scratch.keys
    }

    struct Failure: Error {}

    static func parse(_ text: String) -> VTLValue? {
        var text = text
        let scratch = ParseScratch.current()
        defer { scratch.clear() }
        return text.withUTF8 { bytes in
            var p = VTLJSONParser(b: bytes, scratch: scratch)
            guard let v = try? p.value() else { return nil }
            p.space()
            return p.i == p.b.count ? v : nil
        }
    }

    @inline(__always)
    mutating func space() {
        while i < b.count && (b[i] == 0x20 || b[i] == 0x09 || b[i] == 0x0A || b[i] == 0x0D) { i += 1 }
    }

    mutating func value() throws(Failure) -> VTLValue {
        space()
        guard i < b.count else { throw Failure() }
        switch b[i] {
        case 0x7B:
            depth += 1
            defer { depth -= 1 }
            if depth > 512 { throw Failure() }
            i += 1
            space()
            if i < b.count && b[i] == 0x7D { i += 1; return .map(VTLMap()) }
            let base = valueStack.count
            let keyBase = keyStack.count
            // The previous object's keys, as they were when this one began (a nested object
            // replaces them meanwhile). While every key matches them in order, none is pushed.
            let known = lastKeys, knownBytes = lastKeyBytes, knownEnds = lastKeyEnds
            var count = 0
            var allReused = true
            while true {
                space()
                guard i < b.count, b[i] == 0x22 else { throw Failure() }
                if allReused && count < known.count
                    && skipKey(knownBytes, from: count == 0 ? 0 : knownEnds[count - 1], to: knownEnds[count]) {
                    // reused: known[count]
                } else {
                    if allReused {
                        allReused = false
                        for k in 0..<count { keyStack.push(known[k]) }
                    }
                    keyStack.push(try string())
                }
                count += 1
                space()
                guard i < b.count, b[i] == 0x3A else { throw Failure() }
                i += 1
                let v = try value()
                valueStack.push(v)
                space()
                guard i < b.count else { throw Failure() }
                if b[i] == 0x2C { i += 1; continue }
                if b[i] == 0x7D {
                    i += 1
                    let vals = valueStack.popArray(from: base)
                    if allReused && count == known.count {
                        return .map(VTLMap(distinctKeys: known, values: vals))
                    }
                    let keys = allReused ? Array(known[0..<count]) : keyStack.popArray(from: keyBase)
                    let map = VTLMap(keys: keys, values: vals)
                    // Only distinct keys are shared (a repeated key collapses in the map).
                    lastKeys = map.count == keys.count ? keys : []
                    lastKeyBytes.removeAll(keepingCapacity: true)
                    lastKeyEnds.removeAll(keepingCapacity: true)
                    for key in lastKeys {
                        lastKeyBytes.append(contentsOf: key.utf8)
                        lastKeyEnds.append(lastKeyBytes.count)
                    }
                    return .map(map)
                }
                throw Failure()
            }
        case 0x5B:
            depth += 1
            defer { depth -= 1 }
            if depth > 512 { throw Failure() }
            i += 1
            space()
            if i < b.count && b[i] == 0x5D { i += 1; return .list(VTLList([], jsonArray: true)) }
            let base = valueStack.count
            while true {
                let v = try value()
                valueStack.push(v)
                space()
                guard i < b.count else { throw Failure() }
                if b[i] == 0x2C { i += 1; continue }
                if b[i] == 0x5D {
                    i += 1
                    return .list(VTLList(valueStack.popArray(from: base), jsonArray: true))
                }
                throw Failure()
            }
        case 0x22:
            return .string(try string())
        case 0x74:
            try literal(0x74, 0x72, 0x75, 0x65)   // true
            return .bool(true)
        case 0x66:
            i += 1
            try literal(0x61, 0x6C, 0x73, 0x65)   // (f)alse
            return .bool(false)
        case 0x6E:
            try literal(0x6E, 0x75, 0x6C, 0x6C)   // null
            return .null
        default:
            return try number()
        }
    }

    /// Whether the string at the cursor is exactly `key[from..<to]` written without escapes; if
    /// so the cursor moves past it. Records in an array repeat their keys: this reuses the
    /// previous record's key instead of building the same string again.
    @inline(__always)
    mutating func skipKey(_ key: [UInt8], from: Int, to: Int) -> Bool {
        let start = i + 1
        let end = start + (to - from)
        guard end < b.count, b[end] == 0x22 else { return false }
        var k = from
        var j = start
        while k < to {
            let c = b[j]
            guard c == key[k], c != 0x5C, c != 0x22, c >= 0x20 else { return false }
            k += 1
            j += 1
        }
        i = end + 1
        return true
    }

    /// Four given bytes at the cursor.
    @inline(__always)
    mutating func literal(_ c0: UInt8, _ c1: UInt8, _ c2: UInt8, _ c3: UInt8) throws(Failure) {
        guard i + 4 <= b.count, b[i] == c0, b[i + 1] == c1, b[i + 2] == c2, b[i + 3] == c3 else { throw Failure() }
        i += 4
    }

    /// A number, read in one pass: the digits accumulate into an integer as they are scanned.
    /// Whole numbers of up to 18 digits are Int; a decimal without exponent and with at most
    /// 15 significant digits is that integer divided by an exact power of ten (Clinger's fast
    /// path, correctly rounded); anything else goes through the text.
    mutating func number() throws(Failure) -> VTLValue {
        let start = i
        var negative = false
        if i < b.count && b[i] == 0x2D { negative = true; i += 1 }
        var m: UInt64 = 0
        var significant = 0
        var scale = 0
        let intStart = i
        while i < b.count {
            let d = b[i] &- 0x30
            if d > 9 { break }
            if m != 0 || d != 0 { significant += 1 }
            if significant <= 18 { m = m &* 10 &+ UInt64(d) }
            i += 1
        }
        guard i > intStart else { throw Failure() }
        var isFloat = false
        var exponent = false
        if i < b.count && b[i] == 0x2E {
            isFloat = true
            i += 1
            let f = i
            while i < b.count {
                let d = b[i] &- 0x30
                if d > 9 { break }
                if m != 0 || d != 0 { significant += 1 }
                if significant <= 18 { m = m &* 10 &+ UInt64(d); scale += 1 }
                i += 1
            }
            guard i > f else { throw Failure() }
        }
        if i < b.count && (b[i] == 0x65 || b[i] == 0x45) {
            isFloat = true
            exponent = true
            i += 1
            if i < b.count && (b[i] == 0x2B || b[i] == 0x2D) { i += 1 }
            let e = i
            while i < b.count && isDigit(b[i]) { i += 1 }
            guard i > e else { throw Failure() }
        }
        if !isFloat && significant <= 18 { return .int(negative ? -Int(m) : Int(m)) }
        if isFloat && i - start > 18 {
            // json-smart keeps a decimal written in more than 18 characters exact (BigDecimal).
            return .bigDecimal(bigDecimalText(String(decoding: UnsafeBufferPointer(rebasing: b[start..<i]), as: UTF8.self)))
        }
        if isFloat && !exponent && significant <= 15 && scale <= 22 {
            let v = Double(m) / powerOfTen(scale)
            return .double(negative ? -v : v)
        }
        let text = String(decoding: UnsafeBufferPointer(rebasing: b[start..<i]), as: UTF8.self)
        if isFloat { return .double(Double(text) ?? 0) }
        if let n = Int(text) { return .int(n) }
        return .bigInt(text)
    }

    /// 10^e for 0 ≤ e ≤ 22, each exactly representable; a loop of exact products.
    @inline(__always)
    func powerOfTen(_ e: Int) -> Double {
        var p = 1.0
        for _ in 0..<e { p *= 10 }
        return p
    }

    mutating func string() throws(Failure) -> String {
        do { return try JSONStringLiteral.decode(b, at: &i) } catch { throw Failure() }
    }
}

/// The parser's scratch stacks, one pair per thread and kept between parses (a parse of a
/// request body then allocates only the values it returns). A parse that fails leaves its
/// partial members behind; `clear` drops them, and gives back room a huge body grew.
final class ParseScratch {
    let values = ScratchStack<VTLValue>()
    let keys = ScratchStack<String>()

    func clear() {
        values.drop(from: 0)
        keys.drop(from: 0)
        values.shrink(above: 4096)
        keys.shrink(above: 4096)
    }

    private static let key: pthread_key_t = {
        var k = pthread_key_t()
        pthread_key_create(&k) { p in
            if let p { Unmanaged<ParseScratch>.fromOpaque(p).release() }
        }
        return k
    }()

    /// This thread's scratch.
    static func current() -> ParseScratch {
        if let p = pthread_getspecific(key) { return Unmanaged<ParseScratch>.fromOpaque(p).takeUnretainedValue() }
        let s = ParseScratch()
        pthread_setspecific(key, Unmanaged.passRetained(s).toOpaque())
        return s
    }
}

/// A growable stack whose top run is moved out into an array without copying each element
/// (no retain and release per value, as slicing and removing would cost).
final class ScratchStack<Element> {
    private var base: UnsafeMutablePointer<Element>
    private var capacity: Int
    private(set) var count = 0

    /// Nothing is allocated until the first push: most request bodies are small, and a
    /// parse of `{"a":1}` should not pay for room it never uses.
    init() {
        capacity = 0
        base = UnsafeMutablePointer(bitPattern: MemoryLayout<Element>.alignment)!
    }

    deinit {
        base.deinitialize(count: count)
        if capacity > 0 { base.deallocate() }
    }

    @inline(__always)
    func push(_ e: Element) {
        if count == capacity { grow() }
        (base + count).initialize(to: e)
        count += 1
    }

    private func grow() {
        let newCapacity = max(16, capacity * 2)
        let bigger = UnsafeMutablePointer<Element>.allocate(capacity: newCapacity)
        bigger.moveInitialize(from: base, count: count)
        if capacity > 0 { base.deallocate() }
        base = bigger
        capacity = newCapacity
    }

    /// The elements from `start` to the top, moved into an array; the stack shrinks to `start`.
    func popArray(from start: Int) -> [Element] {
        let n = count - start
        // Not Array(unsafeUninitializedCapacity:): that allocates through the runtime's generic
        // path, which looks the storage class up dynamically on every call; reserveCapacity is
        // specialised here. Each element is moved (no retain, no release).
        var a: [Element] = []
        a.reserveCapacity(n)
        for k in start..<count { a.append((base + k).move()) }
        count = start
        return a
    }

    func drop(from start: Int) {
        (base + start).deinitialize(count: count - start)
        count = start
    }

    /// Gives the room back when it grew past `limit` elements (the stack must be empty).
    func shrink(above limit: Int) {
        guard count == 0, capacity > limit else { return }
        base.deallocate()
        capacity = 0
        base = UnsafeMutablePointer(bitPattern: MemoryLayout<Element>.alignment)!
    }
}

/// The body parse on its own (for the benchmark's breakdown).
public func parseBodyForBench(_ text: String) -> VTLValue {
    VTLJSONParser.parse(text) ?? .null
}
