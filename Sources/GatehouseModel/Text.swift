import GatehouseJSON

extension StringProtocol {
    /// Without leading and trailing spaces and tabs (header values, INI and conf lines).
    public func trimmingSpaces() -> String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" { s.removeFirst() }
        while let l = s.last, l == " " || l == "\t" { s.removeLast() }
        return String(s)
    }
}

/// A conf value written as a string or a bare number (YAML reads `accountId: 222222222222` as
/// an integer); nil for anything else.
func confText(_ v: JSONValue?) -> String? {
    switch v {
    case .string(let s)?: return s
    case .int(let n)?: return String(n)
    default: return nil
    }
}
