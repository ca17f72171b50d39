// The one error type of the TLS layer, worded by OpenSSL itself.

import COpenSSL

/// A failed TLS operation. `detail` is OpenSSL's own text: the thread's error queue, plus the
/// X.509 verify result when it was certificate checking that failed.
public struct TLSError: Error, Sendable, CustomStringConvertible {
    public var operation: String
    public var detail: String

    public init(operation: String, detail: String) {
        self.operation = operation
        self.detail = detail
    }

    public var description: String { "TLS \(operation): \(detail)" }

    /// An error from the calling thread's OpenSSL error queue, which this empties.
    static func fromQueue(_ operation: String, fallback: String = "no OpenSSL error recorded") -> TLSError {
        let queued = drainQueue()
        return TLSError(operation: operation, detail: queued.isEmpty ? fallback : queued)
    }

    /// Every queued error, oldest first, joined with "; ". Empty if the queue was empty.
    static func drainQueue() -> String {
        var messages: [String] = []
        while true {
            var data: UnsafePointer<CChar>?
            var flags: Int32 = 0
            let code = ERR_get_error_all(nil, nil, nil, &data, &flags)
            if code == 0 { break }
            var text = withUnsafeTemporaryAllocation(of: CChar.self, capacity: 256) { buffer in
                ERR_error_string_n(code, buffer.baseAddress, buffer.count)
                return String(cString: buffer.baseAddress!)
            }
            // The attached text names things like the file fopen failed on.
            if flags & ERR_TXT_STRING != 0, let data, data.pointee != 0 {
                text += " (\(String(cString: data)))"
            }
            messages.append(text)
        }
        return messages.joined(separator: "; ")
    }
}
