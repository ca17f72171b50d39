/// An `http[s]://host[:port][/path][?query]` URL taken apart for the client.
public struct HTTPURL: Sendable, Equatable {
    public var host: String
    public var port: Int
    /// Path and query as they go on the request line; at least `/`.
    public var target: String
    /// `https://`: the connection is TLS, verified against `host`.
    public var isTLS: Bool

    public init?(_ url: String) {
        let rest: Substring
        if url.hasPrefix("http://") {
            rest = url.dropFirst("http://".count)
            isTLS = false
        } else if url.hasPrefix("https://") {
            rest = url.dropFirst("https://".count)
            isTLS = true
        } else {
            return nil
        }
        let authority = rest.prefix { $0 != "/" && $0 != "?" }
        var t = String(rest.dropFirst(authority.count))
        if t.isEmpty || t.hasPrefix("?") { t = "/" + t }
        var h = Substring(authority)
        var p = isTLS ? 443 : 80
        if let colon = authority.lastIndex(of: ":"), !authority.hasSuffix("]") {
            guard let n = Int(authority[authority.index(after: colon)...]), (1...65535).contains(n) else { return nil }
            h = authority[..<colon]
            p = n
        }
        if h.hasPrefix("[") && h.hasSuffix("]") { h = h.dropFirst().dropLast() }
        guard !h.isEmpty else { return nil }
        host = String(h)
        port = p
        target = t
    }

    /// The target's path, before any `?`.
    public var path: String {
        guard let q = target.utf8.firstIndex(of: 0x3F) else { return target }
        return String(target[..<q])
    }

    /// The target's raw query after `?`, or "".
    public var query: String {
        guard let q = target.utf8.firstIndex(of: 0x3F) else { return "" }
        return String(target[target.utf8.index(after: q)...])
    }

    /// The `Host` header value for this URL.
    public var hostHeader: String {
        let h = host.contains(":") ? "[\(host)]" : host
        return port == (isTLS ? 443 : 80) ? h : "\(h):\(port)"
    }
}
