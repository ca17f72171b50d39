/// The common upstream answer read in one pass: a whole `HTTP/1.1` response in one read, framed
/// by `Content-Length`, with plain header lines. http-parser reads such a response a byte at a
/// time through five callbacks (callgrind: 9,000 of a proxied request's 50,000 instructions);
/// this finds its lines with a scan for CR.
///
/// It accepts only what http-parser would read the same way, and declines (nil) everything
/// else, which then goes to http-parser from its first byte: interim and bodiless statuses,
/// `Transfer-Encoding`, a missing, repeated or malformed `Content-Length`, `Upgrade`,
/// `Proxy-Connection` (which http-parser reads as `Connection`), a `Connection` other than
/// `keep-alive` or `close`, folded or malformed lines, trailing
/// whitespace in a value (http-parser keeps it; declining keeps the two from having to agree
/// on it), a head over 8 KiB, a body over `maxBody`, and bytes before or after the response.
struct QuickResponse {
    var status: Int
    /// `Name: value\r\n` lines, leading whitespace of values dropped, as the parser path builds them.
    var rawHeaders: [UInt8]
    var body: [UInt8]
    var keepAlive: Bool

    static let maxHead = 8192

    static func parse(_ u: UnsafeRawBufferPointer, maxBody: Int) -> QuickResponse? {
        let n = u.count
        guard let base = u.baseAddress else { return nil }
        let p = base.assumingMemoryBound(to: UInt8.self)
        // Status line: `HTTP/1.1 ddd[ reason]\r\n`.
        guard n >= 14, u[0] == 0x48, u[1] == 0x54, u[2] == 0x54, u[3] == 0x50, u[4] == 0x2F,
              u[5] == 0x31, u[6] == 0x2E, u[7] == 0x31, u[8] == 0x20 else { return nil }
        var status = 0
        for i in 9..<12 {
            let d = u[i]
            guard d >= 0x30 && d <= 0x39 else { return nil }
            status = status * 10 + Int(d - 0x30)
        }
        guard status >= 200 && status <= 599 && status != 204 && status != 304 else { return nil }
        var i = 12
        if u[i] == 0x20 {
            while i < n && u[i] != 0x0D && u[i] != 0x0A { i += 1 }
        }
        guard i + 1 < n, u[i] == 0x0D, u[i + 1] == 0x0A else { return nil }
        i += 2
        let headStart = i

        // Header lines up to the empty line.
        var contentLength = -1
        var keepAlive = true
        // Every line written `name: value` (one space), as servers do: the block is then copied
        // as it came.
        var asSent = true
        while true {
            guard i + 1 < n, i - headStart <= maxHead else { return nil }
            if u[i] == 0x0D {
                guard u[i + 1] == 0x0A else { return nil }
                i += 2
                break
            }
            // The name: token characters up to the colon.
            let nameStart = i
            while i < n && HTTPRequestParser.isTokenChar(u[i]) { i += 1 }
            guard i < n, i > nameStart, u[i] == 0x3A else { return nil }
            let name = nameStart..<i
            i += 1
            while i < n && (u[i] == 0x20 || u[i] == 0x09) { i += 1 }
            let valueStart = i
            if valueStart != name.upperBound + 2 || u[name.upperBound + 1] != 0x20 { asSent = false }
            // To the CR (a bare LF or another control byte in a value declines).
            i = ByteScan.firstCRorLF(p, from: i, to: n)
            guard ByteScan.isFieldValue(p, from: valueStart, to: i), i + 1 < n, u[i] == 0x0D, u[i + 1] == 0x0A else { return nil }
            if i > valueStart, u[i - 1] == 0x20 || u[i - 1] == 0x09 { return nil }
            let value = valueStart..<i
            i += 2
            switch name.count {
            case 14 where asciiLowercaseEquals(UnsafeRawBufferPointer(rebasing: u[name]), "content-length"):
                guard contentLength < 0, !value.isEmpty, value.count <= 15 else { return nil }
                var length = 0
                for k in value {
                    guard u[k] >= 0x30 && u[k] <= 0x39 else { return nil }
                    length = length * 10 + Int(u[k] - 0x30)
                }
                contentLength = length
            case 17 where asciiLowercaseEquals(UnsafeRawBufferPointer(rebasing: u[name]), "transfer-encoding"):
                return nil
            case 7 where asciiLowercaseEquals(UnsafeRawBufferPointer(rebasing: u[name]), "upgrade"):
                return nil
            case 16 where asciiLowercaseEquals(UnsafeRawBufferPointer(rebasing: u[name]), "proxy-connection"):
                return nil  // http-parser reads it as Connection
            case 10 where asciiLowercaseEquals(UnsafeRawBufferPointer(rebasing: u[name]), "connection"):
                if asciiLowercaseEquals(UnsafeRawBufferPointer(rebasing: u[value]), "close") {
                    keepAlive = false
                } else if !asciiLowercaseEquals(UnsafeRawBufferPointer(rebasing: u[value]), "keep-alive") {
                    return nil
                }
            default:
                break
            }
        }
        guard contentLength >= 0, contentLength <= maxBody, i + contentLength == n else { return nil }

        let raw: [UInt8]
        if asSent {
            raw = [UInt8](UnsafeRawBufferPointer(rebasing: u[headStart..<(i - 2)]))
        } else {
            raw = rebuilt(UnsafeRawBufferPointer(rebasing: u[headStart..<(i - 2)]))
        }
        let body = [UInt8](UnsafeRawBufferPointer(rebasing: u[i..<n]))
        return QuickResponse(status: status, rawHeaders: raw, body: body, keepAlive: keepAlive)
    }

    /// The header lines as `name: value\r\n`, when some were not sent that way (`head` holds
    /// lines that `parse` accepted, each ending in CRLF).
    static func rebuilt(_ head: UnsafeRawBufferPointer) -> [UInt8] {
        .writing(capacity: head.count * 2) { w in
            var i = 0
            while i < head.count {
                let nameStart = i
                while head[i] != 0x3A { i += 1 }
                w.write(UnsafeRawBufferPointer(rebasing: head[nameStart..<i]))
                w.write(": ")
                i += 1
                while head[i] == 0x20 || head[i] == 0x09 { i += 1 }
                let valueStart = i
                while head[i] != 0x0D { i += 1 }
                w.write(UnsafeRawBufferPointer(rebasing: head[valueStart..<i]))
                w.write("\r\n")
                i += 2
            }
        }
    }


}
