// Epoch seconds <-> the two date forms SigV4 uses, without Foundation.

import GatehouseCalendar

enum AmzDate {
    /// `YYYYMMDDTHHMMSSZ` for epoch seconds.
    static func format(_ epoch: Int64) -> String {
        let days = floorDiv(epoch, 86_400)
        let secondOfDay = epoch - days * 86_400
        let (y, m, d) = CivilDate.fromDays(days)
        var out = [UInt8]()
        out.reserveCapacity(16)
        appendDigits(&out, y, width: 4)
        appendDigits(&out, m, width: 2)
        appendDigits(&out, d, width: 2)
        out.append(UInt8(ascii: "T"))
        appendDigits(&out, secondOfDay / 3600, width: 2)
        appendDigits(&out, secondOfDay / 60 % 60, width: 2)
        appendDigits(&out, secondOfDay % 60, width: 2)
        out.append(UInt8(ascii: "Z"))
        return String(decoding: out, as: UTF8.self)
    }

    /// Parses ISO 8601 basic format, `YYYYMMDDTHHMMSSZ`, strictly.
    static func parseBasic(_ s: String) -> Int64? {
        let b = Array(s.utf8)
        guard b.count == 16, b[8] == UInt8(ascii: "T"), b[15] == UInt8(ascii: "Z") else { return nil }
        guard let year = number(b, 0, 4), let month = number(b, 4, 2), let day = number(b, 6, 2),
              let hour = number(b, 9, 2), let minute = number(b, 11, 2), let second = number(b, 13, 2)
        else { return nil }
        return assemble(year: year, month: month, day: day, hour: hour, minute: minute, second: second)
    }

    private static let monthNames = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]

    /// Parses an HTTP date in RFC 1123 form (`Sun, 06 Nov 1994 08:49:37 GMT`); the weekday may be absent.
    static func parseHTTPDate(_ s: String) -> Int64? {
        var parts = s.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        if let first = parts.first, first.hasSuffix(",") { parts.removeFirst() }
        guard parts.count == 5, parts[4] == "GMT" || parts[4] == "UTC" else { return nil }
        let dayBytes = Array(parts[0].utf8), yearBytes = Array(parts[2].utf8), timeBytes = Array(parts[3].utf8)
        guard (1...2).contains(dayBytes.count), let day = number(dayBytes, 0, dayBytes.count),
              let monthIndex = monthNames.firstIndex(of: asciiLowercased(parts[1])),
              yearBytes.count == 4, let year = number(yearBytes, 0, 4),
              timeBytes.count == 8, timeBytes[2] == UInt8(ascii: ":"), timeBytes[5] == UInt8(ascii: ":"),
              let hour = number(timeBytes, 0, 2), let minute = number(timeBytes, 3, 2), let second = number(timeBytes, 6, 2)
        else { return nil }
        return assemble(year: year, month: Int64(monthIndex + 1), day: day, hour: hour, minute: minute, second: second)
    }

    /// Describes a duration the way AWS does in its expiry messages: `5 min`, or `90 sec`.
    static func describe(seconds: Int64) -> String {
        seconds % 60 == 0 ? "\(seconds / 60) min" : "\(seconds) sec"
    }

    // MARK: private

    private static func assemble(year: Int64, month: Int64, day: Int64, hour: Int64, minute: Int64, second: Int64) -> Int64? {
        guard (1...12).contains(month), day >= 1, day <= daysInMonth(year: year, month: month),
              hour < 24, minute < 60, second < 61
        else { return nil }
        return CivilDate.days(year: year, month: month, day: day) * 86_400 + hour * 3600 + minute * 60 + min(second, 59)
    }

    private static func daysInMonth(year: Int64, month: Int64) -> Int64 {
        switch month {
        case 2:
            let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
            return leap ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    private static func number(_ b: [UInt8], _ start: Int, _ count: Int) -> Int64? {
        var n: Int64 = 0
        for i in start..<(start + count) {
            let c = b[i]
            guard c >= 0x30 && c <= 0x39 else { return nil }
            n = n * 10 + Int64(c - 0x30)
        }
        return n
    }

    private static func appendDigits(_ out: inout [UInt8], _ value: Int64, width: Int) {
        var digits = [UInt8](repeating: UInt8(ascii: "0"), count: width)
        var v = value < 0 ? 0 : value
        var i = width - 1
        while i >= 0 {
            digits[i] = UInt8(ascii: "0") + UInt8(v % 10)
            v /= 10
            i -= 1
        }
        out.append(contentsOf: digits)
    }

    private static func floorDiv(_ a: Int64, _ b: Int64) -> Int64 {
        let q = a / b
        return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q
    }
}
