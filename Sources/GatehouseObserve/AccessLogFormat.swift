import GatehouseCalendar
import GatehouseJSON
/// Stage access logging: the `accessLogSettings.format` string of an API Gateway stage.
///
/// The format is parsed once, when the stage is loaded, into literal byte runs and variable
/// references; each request then renders a line by appending bytes into one buffer.
///
/// What AWS documents, and what this type therefore does:
/// - Only `$context.` variables exist in access-log formats (not `$input`, `$stageVariables`),
///   and their names are case-sensitive. There is no `${context.x}` brace form in the REST
///   access-logging documentation, so `${...}` is plain text here.
/// - A variable's name is the longest run of `[A-Za-z0-9_.]` after `$context.`, with trailing
///   dots left as text: `$context.status.` is the status followed by `.`. That is how nested
///   names such as `$context.identity.sourceIp` and `$context.authorizer.claims.email` parse.
/// - Values are inserted as-is, without JSON/XML/CSV escaping, as API Gateway does; the format
///   author picks the quoting.
/// - `$context.requestTime` is CLF (`dd/MMM/yyyy:HH:mm:ss +0000`), `$context.requestTimeEpoch`
///   is milliseconds, and `$context.error.messageString` is `$context.error.message` in double
///   quotes.
/// - A variable with no value renders as `-`. The AWS pages checked don't say this; it is what
///   API Gateway's access logs show for absent values (for example `$context.identity.caller`
///   with no IAM auth), and what CLF uses for a missing field. An empty value also renders `-`,
///   so a CSV or CLF line never gets an empty field.
///
/// Why an enum rather than a `(String) -> String?` lookup: the ~35 variables a gateway fills on
/// every request are resolved to `AccessLogVariable` cases at parse time, so rendering does no
/// name hashing or comparing and makes no `String` per variable. The open-ended families
/// (`authorizer.*`, `authorizer.claims.*`, `requestOverride.*`, `responseOverride.*`, anything
/// not listed) keep their name and are looked up by name, which is rare.
public struct AccessLogFormat: Sendable, Equatable {
    public enum Segment: Sendable, Equatable {
        case literal([UInt8])
        case variable(AccessLogVariable)
        /// A `$context.` name that isn't an `AccessLogVariable` case, without the `$context.` prefix.
        case named(String)
    }

    public let format: String
    public let segments: [Segment]

    public init(_ format: String) {
        self.format = format
        self.segments = Self.parse(Array(format.utf8))
    }

    /// The variable names in order of appearance, without the `$context.` prefix.
    public var variables: [String] {
        segments.compactMap {
            switch $0 {
            case .literal: return nil
            case .variable(let v): return v.name
            case .named(let n): return n
            }
        }
    }

    /// AWS rejects an access-log format that has neither `$context.requestId` nor
    /// `$context.extendedRequestId`; configuration loading can use this to do the same.
    public var includesRequestId: Bool {
        segments.contains { $0 == .variable(.requestId) || $0 == .variable(.extendedRequestId) }
    }

    /// Renders one line (no trailing newline) from `values`.
    public func render<V: AccessLogValues>(_ values: V) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(format.utf8.count + 64)
        render(values, into: &out)
        return out
    }

    /// Appends one line (no trailing newline) to `out`, so a caller can reuse a buffer.
    public func render<V: AccessLogValues>(_ values: V, into out: inout [UInt8]) {
        for segment in segments {
            let mark = out.count
            let present: Bool
            switch segment {
            case .literal(let bytes):
                out.append(contentsOf: bytes)
                continue
            case .variable(let v):
                present = values.appendValue(of: v, to: &out)
            case .named(let n):
                present = values.appendValue(named: n, to: &out)
            }
            if !present || out.count == mark {
                out.removeSubrange(mark...)
                out.append(UInt8(ascii: "-"))
            }
        }
    }

    /// Renders with a name lookup (`"identity.sourceIp"`, no `$context.` prefix). Convenient for
    /// tests and tools; the request path should use `render(_: AccessLogValues)`.
    public func render(_ value: (String) -> String?) -> [UInt8] {
        withoutActuallyEscaping(value) { render(ClosureValues(lookup: $0)) }
    }

    private struct ClosureValues: AccessLogValues {
        let lookup: (String) -> String?
        func appendValue(of variable: AccessLogVariable, to out: inout [UInt8]) -> Bool {
            appendValue(named: variable.name, to: &out)
        }
        func appendValue(named name: String, to out: inout [UInt8]) -> Bool {
            guard let v = lookup(name) else { return false }
            out.append(contentsOf: v.utf8)
            return true
        }
    }

    private static let prefix = Array("$context.".utf8)

    private static func isNameByte(_ b: UInt8) -> Bool {
        switch b {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"), UInt8(ascii: "."):
            return true
        default:
            return false
        }
    }

    private static func parse(_ bytes: [UInt8]) -> [Segment] {
        var segments: [Segment] = []
        var literal: [UInt8] = []
        var i = 0
        while i < bytes.count {
            if bytes[i] == UInt8(ascii: "$"), bytes.count - i > prefix.count,
               bytes[i..<(i + prefix.count)].elementsEqual(prefix) {
                let start = i + prefix.count
                var end = start
                while end < bytes.count, isNameByte(bytes[end]) { end += 1 }
                while end > start, bytes[end - 1] == UInt8(ascii: ".") { end -= 1 }
                if end > start {
                    if !literal.isEmpty { segments.append(.literal(literal)); literal = [] }
                    let name = String(decoding: bytes[start..<end], as: UTF8.self)
                    segments.append(AccessLogVariable(name: name).map(Segment.variable) ?? .named(name))
                    i = end
                    continue
                }
            }
            literal.append(bytes[i])
            i += 1
        }
        if !literal.isEmpty { segments.append(.literal(literal)) }
        return segments
    }
}

/// The `$context` variables a gateway knows about on every request, resolved at parse time.
/// `name` is the AWS spelling after `$context.`.
public enum AccessLogVariable: UInt8, CaseIterable, Sendable {
    case requestId, extendedRequestId, requestTime, requestTimeEpoch
    case httpMethod, resourcePath, path, `protocol`, status, responseLength, responseLatency
    case integrationLatency, integrationStatus, integrationErrorMessage
    /// `integration.status`, `integration.latency`, `integration.error`, `integration.requestId`.
    case integrationDotStatus, integrationDotLatency, integrationDotError, integrationDotRequestId
    case identitySourceIp, identityUserAgent, identityCaller, identityUser, identityUserArn
    case identityAccountId, identityApiKey, identityApiKeyId
    case apiId, stage, domainName, domainPrefix, accountId, resourceId
    case errorMessage, errorMessageString, errorResponseType
    case wafResponseCode, xrayTraceId, authorizerPrincipalId

    public var name: String {
        switch self {
        case .requestId: return "requestId"
        case .extendedRequestId: return "extendedRequestId"
        case .requestTime: return "requestTime"
        case .requestTimeEpoch: return "requestTimeEpoch"
        case .httpMethod: return "httpMethod"
        case .resourcePath: return "resourcePath"
        case .path: return "path"
        case .protocol: return "protocol"
        case .status: return "status"
        case .responseLength: return "responseLength"
        case .responseLatency: return "responseLatency"
        case .integrationLatency: return "integrationLatency"
        case .integrationStatus: return "integrationStatus"
        case .integrationErrorMessage: return "integrationErrorMessage"
        case .integrationDotStatus: return "integration.status"
        case .integrationDotLatency: return "integration.latency"
        case .integrationDotError: return "integration.error"
        case .integrationDotRequestId: return "integration.requestId"
        case .identitySourceIp: return "identity.sourceIp"
        case .identityUserAgent: return "identity.userAgent"
        case .identityCaller: return "identity.caller"
        case .identityUser: return "identity.user"
        case .identityUserArn: return "identity.userArn"
        case .identityAccountId: return "identity.accountId"
        case .identityApiKey: return "identity.apiKey"
        case .identityApiKeyId: return "identity.apiKeyId"
        case .apiId: return "apiId"
        case .stage: return "stage"
        case .domainName: return "domainName"
        case .domainPrefix: return "domainPrefix"
        case .accountId: return "accountId"
        case .resourceId: return "resourceId"
        case .errorMessage: return "error.message"
        case .errorMessageString: return "error.messageString"
        case .errorResponseType: return "error.responseType"
        case .wafResponseCode: return "wafResponseCode"
        case .xrayTraceId: return "xrayTraceId"
        case .authorizerPrincipalId: return "authorizer.principalId"
        }
    }

    private static let byName: [String: AccessLogVariable] =
        Dictionary(uniqueKeysWithValues: allCases.map { ($0.name, $0) })

    /// The case for an exact, case-sensitive name after `$context.`, or nil.
    public init?(name: String) {
        guard let v = Self.byName[name] else { return nil }
        self = v
    }
}

/// Supplies variable values by appending their bytes, so rendering allocates nothing per variable.
/// Return false (or append nothing) for "no value"; the renderer then writes `-`.
public protocol AccessLogValues {
    func appendValue(of variable: AccessLogVariable, to out: inout [UInt8]) -> Bool
    /// A name without a case (`authorizer.claims.sub`, `requestOverride.header.x`).
    func appendValue(named name: String, to out: inout [UInt8]) -> Bool
}

/// What the gateway knows about one finished request, as plain stored fields. Strings the
/// gateway already holds are stored by reference, numbers are written as digits directly.
public struct AccessLogRecord: AccessLogValues, Sendable {
    public var requestId: String?
    public var extendedRequestId: String?
    /// Request arrival, milliseconds since the Unix epoch; drives `requestTime` and `requestTimeEpoch`.
    public var requestTimeEpochMillis: Int64?
    public var httpMethod: String?
    /// The resource template, e.g. `/pets/{petId}`.
    public var resourcePath: String?
    /// The request path as received, e.g. `/prod/pets/7`.
    public var path: String?
    /// E.g. `HTTP/1.1`.
    public var protocolName: String?
    public var status: Int?
    public var responseLength: Int?
    public var responseLatencyMillis: Int64?
    /// Serves both `integrationLatency` and `integration.latency`.
    public var integrationLatencyMillis: Int64?
    /// Serves both `integrationStatus` and `integration.status`.
    public var integrationStatus: Int?
    /// Serves both `integrationErrorMessage` and `integration.error`.
    public var integrationError: String?
    public var integrationRequestId: String?
    public var sourceIp: String?
    public var userAgent: String?
    public var caller: String?
    public var user: String?
    public var userArn: String?
    public var identityAccountId: String?
    public var apiKey: String?
    public var apiKeyId: String?
    public var apiId: String?
    public var stage: String?
    public var domainName: String?
    /// Defaults to the first label of `domainName`.
    public var domainPrefix: String?
    public var accountId: String?
    public var resourceId: String?
    public var errorMessage: String?
    public var errorResponseType: String?
    public var wafResponseCode: String?
    public var xrayTraceId: String?
    public var principalId: String?
    /// Everything else by name without `$context.`: `authorizer.claims.sub`, `authorizer.key`,
    /// `requestOverride.header.x`, `responseOverride.status`, ...
    public var extra: [String: String]

    public init() { extra = [:] }

    public func appendValue(of variable: AccessLogVariable, to out: inout [UInt8]) -> Bool {
        switch variable {
        case .requestId: return append(requestId, &out)
        case .extendedRequestId: return append(extendedRequestId, &out)
        case .requestTime:
            guard let t = requestTimeEpochMillis else { return false }
            AccessLogFormat.appendCLFTime(epochMillis: t, to: &out)
            return true
        case .requestTimeEpoch: return append(requestTimeEpochMillis, &out)
        case .httpMethod: return append(httpMethod, &out)
        case .resourcePath: return append(resourcePath, &out)
        case .path: return append(path, &out)
        case .protocol: return append(protocolName, &out)
        case .status: return append(status.map(Int64.init), &out)
        case .responseLength: return append(responseLength.map(Int64.init), &out)
        case .responseLatency: return append(responseLatencyMillis, &out)
        case .integrationLatency, .integrationDotLatency: return append(integrationLatencyMillis, &out)
        case .integrationStatus, .integrationDotStatus: return append(integrationStatus.map(Int64.init), &out)
        case .integrationErrorMessage, .integrationDotError: return append(integrationError, &out)
        case .integrationDotRequestId: return append(integrationRequestId, &out)
        case .identitySourceIp: return append(sourceIp, &out)
        case .identityUserAgent: return append(userAgent, &out)
        case .identityCaller: return append(caller, &out)
        case .identityUser: return append(user, &out)
        case .identityUserArn: return append(userArn, &out)
        case .identityAccountId: return append(identityAccountId, &out)
        case .identityApiKey: return append(apiKey, &out)
        case .identityApiKeyId: return append(apiKeyId, &out)
        case .apiId: return append(apiId, &out)
        case .stage: return append(stage, &out)
        case .domainName: return append(domainName, &out)
        case .domainPrefix:
            if let domainPrefix { return append(domainPrefix, &out) }
            guard let domainName else { return false }
            out.append(contentsOf: domainName.utf8.prefix { $0 != UInt8(ascii: ".") })
            return true
        case .accountId: return append(accountId, &out)
        case .resourceId: return append(resourceId, &out)
        case .errorMessage: return append(errorMessage, &out)
        case .errorMessageString:
            guard let errorMessage, !errorMessage.isEmpty else { return false }
            out.append(UInt8(ascii: "\""))
            out.append(contentsOf: errorMessage.utf8)
            out.append(UInt8(ascii: "\""))
            return true
        case .errorResponseType: return append(errorResponseType, &out)
        case .wafResponseCode: return append(wafResponseCode, &out)
        case .xrayTraceId: return append(xrayTraceId, &out)
        case .authorizerPrincipalId: return append(principalId, &out)
        }
    }

    public func appendValue(named name: String, to out: inout [UInt8]) -> Bool {
        append(extra[name], &out)
    }

    private func append(_ s: String?, _ out: inout [UInt8]) -> Bool {
        guard let s else { return false }
        out.append(contentsOf: s.utf8)
        return true
    }

    private func append(_ n: Int64?, _ out: inout [UInt8]) -> Bool {
        guard let n else { return false }
        appendDecimal(Int(n), to: &out)
        return true
    }
}

extension AccessLogFormat {
    /// `dd/MMM/yyyy:HH:mm:ss +0000` in UTC, the `$context.requestTime` form.
    public static func clfTime(epochMillis: Int64) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(26)
        appendCLFTime(epochMillis: epochMillis, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    private static let months = Array("JanFebMarAprMayJunJulAugSepOctNovDec".utf8)

    /// `dd/MMM/yyyy:HH:mm:ss +0000` for epoch milliseconds (dates from `CivilDate`).
    public static func appendCLFTime(epochMillis: Int64, to out: inout [UInt8]) {
        let msPerDay: Int64 = 86_400_000
        var days = epochMillis / msPerDay
        var msOfDay = epochMillis % msPerDay
        if msOfDay < 0 { msOfDay += msPerDay; days -= 1 }
        let secs = msOfDay / 1000

        let (year, month, day) = CivilDate.fromDays(days)

        appendPadded(day, width: 2, to: &out)
        out.append(UInt8(ascii: "/"))
        let m = Int(month - 1) * 3
        out.append(contentsOf: months[m..<(m + 3)])
        out.append(UInt8(ascii: "/"))
        appendPadded(year, width: 4, to: &out)
        out.append(UInt8(ascii: ":"))
        appendPadded(secs / 3600, width: 2, to: &out)
        out.append(UInt8(ascii: ":"))
        appendPadded(secs / 60 % 60, width: 2, to: &out)
        out.append(UInt8(ascii: ":"))
        appendPadded(secs % 60, width: 2, to: &out)
        out.append(contentsOf: [UInt8(ascii: " "), UInt8(ascii: "+"), 0x30, 0x30, 0x30, 0x30])
    }

    private static func appendPadded(_ n: Int64, width: Int, to out: inout [UInt8]) {
        var digits = 1
        var t = n.magnitude
        while t >= 10 { t /= 10; digits += 1 }
        if n >= 0, digits < width {
            for _ in digits..<width { out.append(UInt8(ascii: "0")) }
        }
        appendDecimal(Int(n), to: &out)
    }
}
