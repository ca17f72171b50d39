import GatehouseCalendar
import GatehouseJSON

/// A response body under construction. Step Functions prints timestamps as bare JSON numbers in
/// Java's `Double.toString` form (`1.486772644911E9`), which `JSONValue` cannot express, so
/// response bodies are built from this small tree and written once.
indirect enum Wire {
    case json(JSONValue)
    /// Epoch seconds, printed the way the Java service prints them.
    case date(Double)
    case object([(String, Wire)])
    case array([Wire])

    static func string(_ s: String) -> Wire { .json(.string(s)) }

    func serialized() -> [UInt8] {
        var out: [UInt8] = []
        write(into: &out)
        return out
    }

    private func write(into out: inout [UInt8]) {
        switch self {
        case .json(let v): v.write(into: &out)
        case .date(let d): out.append(contentsOf: WorkflowEngine.javaDouble(d).utf8)
        case .object(let members):
            out.append(UInt8(ascii: "{"))
            for (k, (key, value)) in members.enumerated() {
                if k > 0 { out.append(UInt8(ascii: ",")) }
                JSONValue.writeString(key, into: &out)
                out.append(UInt8(ascii: ":"))
                value.write(into: &out)
            }
            out.append(UInt8(ascii: "}"))
        case .array(let items):
            out.append(UInt8(ascii: "["))
            for (k, item) in items.enumerated() {
                if k > 0 { out.append(UInt8(ascii: ",")) }
                item.write(into: &out)
            }
            out.append(UInt8(ascii: "]"))
        }
    }
}

extension WorkflowEngine {
    /// Formats `d` as Java's `Double.toString` does, which is how Step Functions prints epoch
    /// timestamps: the shortest digits that read back as `d`, in plain decimal form with at least
    /// one fractional digit for 10^-3 <= |d| < 10^7 (`1486.5`, `3.0`), and otherwise as
    /// `d.dddE<n>` (`1.486772644911E9`, `1.7640612E9`, `1.0E-4`).
    public static func javaDouble(_ d: Double) -> String {
        if d.isNaN { return "NaN" }
        if d.isInfinite { return d < 0 ? "-Infinity" : "Infinity" }
        if d == 0 { return d.sign == .minus ? "-0.0" : "0.0" }
        // Swift's description also prints the shortest round-tripping digits; only the layout
        // differs, so take its digits and decimal exponent and lay them out Java's way.
        let (digits, pointAt) = decimalDigits(abs(d))
        let sign = d < 0 ? "-" : ""
        let magnitude = abs(d)
        if magnitude >= 1e-3, magnitude < 1e7 {
            if pointAt <= 0 {
                return sign + "0." + String(repeating: "0", count: -pointAt) + digits
            }
            if pointAt >= digits.count {
                return sign + digits + String(repeating: "0", count: pointAt - digits.count) + ".0"
            }
            let cut = digits.index(digits.startIndex, offsetBy: pointAt)
            return sign + digits[..<cut] + "." + digits[cut...]
        }
        let head = digits.prefix(1)
        let tail = digits.dropFirst()
        return sign + head + "." + (tail.isEmpty ? "0" : tail) + "E" + String(pointAt - 1)
    }

    /// The significant digits of a positive finite `d` (no leading or trailing zeros) and the
    /// position of the decimal point relative to the first digit: value = 0.digits × 10^pointAt.
    private static func decimalDigits(_ d: Double) -> (String, Int) {
        let text = d.description
        var mantissa = Substring(text)
        var exponent = 0
        if let e = text.firstIndex(where: { $0 == "e" || $0 == "E" }) {
            mantissa = text[..<e]
            exponent = Int(text[text.index(after: e)...]) ?? 0
        }
        let intPart: Substring
        let fracPart: Substring
        if let dot = mantissa.firstIndex(of: ".") {
            intPart = mantissa[..<dot]
            fracPart = mantissa[mantissa.index(after: dot)...]
        } else {
            intPart = mantissa
            fracPart = ""
        }
        var all = Array(intPart + fracPart)
        var pointAt = intPart.count + exponent
        while let first = all.first, first == "0" {
            all.removeFirst()
            pointAt -= 1
        }
        while let last = all.last, last == "0" { all.removeLast() }
        return (String(all), pointAt)
    }

    /// A random version 4 UUID in lowercase, the form Step Functions gives unnamed executions.
    static func randomUUID() -> String {
        var rng = SystemRandomNumberGenerator()
        var bytes = (0..<16).map { _ in UInt8.random(in: 0...255, using: &rng) }
        bytes[6] = (bytes[6] & 0x0F) | 0x40
        bytes[8] = (bytes[8] & 0x3F) | 0x80
        let hex = Array("0123456789abcdef")
        var out = ""
        for (i, b) in bytes.enumerated() {
            if i == 4 || i == 6 || i == 8 || i == 10 { out.append("-") }
            out.append(hex[Int(b >> 4)])
            out.append(hex[Int(b & 0x0F)])
        }
        return out
    }

    /// `seconds` since the epoch as the ISO 8601 text of the context object's timestamps
    /// (`$$.Execution.StartTime`), e.g. `2019-03-26T20:14:13.192Z`.
    static func isoTimestamp(_ seconds: Double) -> String {
        let millis = Int64((seconds * 1000).rounded())
        let days = millis >= 0 ? millis / 86_400_000 : (millis - 86_399_999) / 86_400_000
        let msOfDay = millis - days * 86_400_000
        let (year, month, day) = CivilDate.fromDays(days)
        func pad(_ n: Int64, _ width: Int) -> String {
            let s = String(n)
            return String(repeating: "0", count: max(0, width - s.count)) + s
        }
        let h = msOfDay / 3_600_000
        let m = msOfDay / 60_000 % 60
        let s = msOfDay / 1000 % 60
        let ms = msOfDay % 1000
        return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))T\(pad(h, 2)):\(pad(m, 2)):\(pad(s, 2)).\(pad(ms, 3))Z"
    }
}
