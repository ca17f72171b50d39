/// The global condition keys Gatehouse knows. The ones the gateway fills in for API Gateway
/// requests have a slot in `PolicyContext`, so a condition on them is an array index rather
/// than a string hash per evaluation.
public enum GlobalKey: Int, Sendable, CaseIterable {
    case sourceIp, sourceArn, sourceAccount, sourceOwner
    case principalArn, principalAccount, principalType, principalServiceName, principalOrgId, principalIsAWSService
    case userid, username, currentTime, epochTime, secureTransport, userAgent, referer
    case tokenIssueTime, multiFactorAuthPresent, multiFactorAuthAge, requestedRegion
    case sourceVpc, sourceVpce, vpcSourceIp, viaAWSService, calledVia, tagKeys

    /// The key as IAM documents it (`aws:SourceIp`).
    public var name: String {
        switch self {
        case .sourceIp: return "aws:SourceIp"
        case .sourceArn: return "aws:SourceArn"
        case .sourceAccount: return "aws:SourceAccount"
        case .sourceOwner: return "aws:SourceOwner"
        case .principalArn: return "aws:PrincipalArn"
        case .principalAccount: return "aws:PrincipalAccount"
        case .principalType: return "aws:PrincipalType"
        case .principalServiceName: return "aws:PrincipalServiceName"
        case .principalOrgId: return "aws:PrincipalOrgID"
        case .principalIsAWSService: return "aws:PrincipalIsAWSService"
        case .userid: return "aws:userid"
        case .username: return "aws:username"
        case .currentTime: return "aws:CurrentTime"
        case .epochTime: return "aws:EpochTime"
        case .secureTransport: return "aws:SecureTransport"
        case .userAgent: return "aws:UserAgent"
        case .referer: return "aws:Referer"
        case .tokenIssueTime: return "aws:TokenIssueTime"
        case .multiFactorAuthPresent: return "aws:MultiFactorAuthPresent"
        case .multiFactorAuthAge: return "aws:MultiFactorAuthAge"
        case .requestedRegion: return "aws:RequestedRegion"
        case .sourceVpc: return "aws:SourceVpc"
        case .sourceVpce: return "aws:SourceVpce"
        case .vpcSourceIp: return "aws:VpcSourceIp"
        case .viaAWSService: return "aws:ViaAWSService"
        case .calledVia: return "aws:CalledVia"
        case .tagKeys: return "aws:TagKeys"
        }
    }

    static let byLowercasedName: [String: GlobalKey] = {
        var m: [String: GlobalKey] = [:]
        for k in allCases { m[k.name.lowercased()] = k }
        return m
    }()

    /// The key for a name, ignoring case (IAM condition key names are case-insensitive).
    public init?(name: String) {
        guard let k = GlobalKey.byLowercasedName[name.lowercased()] else { return nil }
        self = k
    }

    /// The bit for this key in a `KeySet`.
    var bit: UInt64 { 1 << UInt64(rawValue) }
}

/// A condition key as a policy names it, resolved once at load.
enum KeyRef: Sendable, Equatable, Hashable {
    case global(GlobalKey)
    /// Any other key, lowercased (`aws:principaltag/team`, `execute-api:viadomainarn`, …).
    case other(String)

    init(_ name: String) {
        if let g = GlobalKey(name: name) { self = .global(g) } else { self = .other(name.lowercased()) }
    }

    var name: String {
        switch self {
        case .global(let g): return g.name
        case .other(let s): return s
        }
    }
}

/// Which global keys a policy refers to (in a condition or a policy variable), so the gateway
/// fills in only those that cost something to compute (the time, headers).
public struct KeySet: Sendable, Equatable {
    var bits: UInt64 = 0
    public init() {}
    public func contains(_ key: GlobalKey) -> Bool { bits & key.bit != 0 }
    mutating func insert(_ key: GlobalKey) { bits |= key.bit }
    public mutating func formUnion(_ other: KeySet) { bits |= other.bits }
}

/// The request context: condition keys and their values. Key names are case-insensitive;
/// a key with no values is absent.
public struct PolicyContext: Sendable, ExpressibleByDictionaryLiteral {
    private var slots: [[String]?]
    private var extra: [String: [String]]

    public init() {
        slots = []
        extra = [:]
    }

    public init(_ values: [String: [String]]) {
        self.init()
        for (k, v) in values { self[k, default: []].append(contentsOf: v) }
    }

    public init(dictionaryLiteral elements: (String, [String])...) {
        self.init()
        for (k, v) in elements { self[k, default: []].append(contentsOf: v) }
    }

    public subscript(key: GlobalKey) -> [String]? {
        get {
            let i = key.rawValue
            guard i < slots.count, let v = slots[i], !v.isEmpty else { return nil }
            return v
        }
        set {
            let i = key.rawValue
            if slots.count <= i {
                if newValue == nil { return }
                slots.append(contentsOf: repeatElement(nil, count: GlobalKey.allCases.count - slots.count))
            }
            slots[i] = newValue
        }
    }

    public subscript(key: String) -> [String]? {
        get { self[KeyRef(key)] }
        set {
            switch KeyRef(key) {
            case .global(let g): self[g] = newValue
            case .other(let s): extra[s] = newValue
            }
        }
    }

    public subscript(key: String, default value: [String]) -> [String] {
        get { self[key] ?? value }
        set { self[key] = newValue }
    }

    subscript(ref: KeyRef) -> [String]? {
        switch ref {
        case .global(let g): return self[g]
        case .other(let s):
            guard let v = extra[s], !v.isEmpty else { return nil }
            return v
        }
    }

    /// Every key present, by its documented name for global keys and lowercased otherwise.
    public var entries: [(key: String, values: [String])] {
        var out: [(String, [String])] = []
        for k in GlobalKey.allCases { if let v = self[k] { out.append((k.name, v)) } }
        for (k, v) in extra.sorted(by: { $0.key < $1.key }) where !v.isEmpty { out.append((k, v)) }
        return out
    }
}
