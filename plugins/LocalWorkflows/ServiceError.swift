import GatehouseJSON

/// One error answer of the Step Functions JSON 1.0 API: always HTTP 400, with the Coral
/// `__type` the SDKs read the error code from.
struct ServiceError: Error, Equatable {
    var type: String
    var message: String?
    /// Coral's own serialization faults spell the member `Message`; the service's errors and
    /// validation errors spell it `message` (as DynamoDB, the other Coral JSON 1.0 service, does).
    var messageKey = "message"
    /// The HTTP status: 400 for every client fault, 500 for the service's own.
    var status = 400

    /// The service could not do what was asked (its store refused a write): nothing was done.
    static func internalFailure(_ message: String) -> ServiceError {
        ServiceError(type: "com.amazon.coral.service#InternalFailure", message: message, status: 500)
    }

    /// A Step Functions model error: every one shares the old SWF namespace, e.g.
    /// `com.amazonaws.swf.service.v2.model#StateMachineDoesNotExist`.
    static func service(_ code: String, _ message: String) -> ServiceError {
        ServiceError(type: "com.amazonaws.swf.service.v2.model#" + code, message: message)
    }

    /// Coral answers an X-Amz-Target it has no operation for with a bare `__type`.
    static let unknownOperation = ServiceError(type: "com.amazon.coral.service#UnknownOperationException")

    /// A body that is not a JSON object: a bare `__type`, as Coral sends for unparseable JSON.
    static let malformedBody = ServiceError(type: "com.amazon.coral.service#SerializationException")

    /// A member of the wrong JSON type, with the Jackson-derived text Coral sends
    /// (`NUMBER_VALUE cannot be converted to String`).
    static func serialization(_ message: String) -> ServiceError {
        ServiceError(type: "com.amazon.coral.service#SerializationException", message: message, messageKey: "Message")
    }

    /// Coral's model-constraint failure: `1 validation error detected: <v>` or
    /// `2 validation errors detected: <v1>; <v2>`.
    static func validation(_ violations: [String]) -> ServiceError {
        let noun = violations.count == 1 ? "error" : "errors"
        return ServiceError(
            type: "com.amazon.coral.validate#ValidationException",
            message: "\(violations.count) validation \(noun) detected: " + violations.joined(separator: "; "))
    }

    static func invalidArn(_ detail: String) -> ServiceError {
        .service("InvalidArn", "Invalid Arn: '\(detail)'")
    }

    static func stateMachineDoesNotExist(_ arn: String) -> ServiceError {
        .service("StateMachineDoesNotExist", "State Machine Does Not Exist: '\(arn)'")
    }

    static func executionDoesNotExist(_ arn: String) -> ServiceError {
        .service("ExecutionDoesNotExist", "Execution Does Not Exist: '\(arn)'")
    }

    var body: [UInt8] {
        var members: [(String, Wire)] = [("__type", .string(type))]
        if let message { members.append((messageKey, .string(message))) }
        return Wire.object(members).serialized()
    }
}

/// The members of one request body, read the way Coral deserializes them: absent and `null`
/// are the same, unknown members are ignored, and a member of the wrong JSON type is a
/// SerializationException before any constraint is looked at.
struct RequestMembers {
    let object: JSONObject

    func string(_ key: String) throws(ServiceError) -> String? {
        switch object[key] {
        case nil, .null?: return nil
        case .string(let s)?: return s
        case let other?: throw .serialization(Self.mismatch(other, "String", "java.lang.String"))
        }
    }

    func integer(_ key: String) throws(ServiceError) -> Int? {
        switch object[key] {
        case nil, .null?: return nil
        case .int(let n)?: return Int(clamping: n)
        // Jackson coerces a fractional number to an integer by truncation.
        case .double(let d)? where d.isFinite: return Int(d.rounded(.towardZero))
        case let other?: throw .serialization(Self.mismatch(other, "Integer", "java.lang.Integer"))
        }
    }

    func boolean(_ key: String) throws(ServiceError) -> Bool? {
        switch object[key] {
        case nil, .null?: return nil
        case .bool(let b)?: return b
        case let other?: throw .serialization(Self.mismatch(other, "Boolean", "java.lang.Boolean"))
        }
    }

    private static func mismatch(_ value: JSONValue, _ javaType: String, _ javaClass: String) -> String {
        switch value {
        case .bool(true): return "TRUE_VALUE cannot be converted to \(javaType)"
        case .bool(false): return "FALSE_VALUE cannot be converted to \(javaType)"
        case .int: return "NUMBER_VALUE cannot be converted to \(javaType)"
        case .double: return "DECIMAL_VALUE cannot be converted to \(javaType)"
        case .string: return "STRING_VALUE cannot be converted to \(javaType)"
        case .array: return "Unrecognized collection type class \(javaClass)"
        case .object, .null: return "Start of structure or map found where not expected"
        }
    }
}

/// Collects Coral model-constraint violations in member order, so one request reports all of
/// them in a single ValidationException as the service does.
struct Constraints {
    private(set) var violations: [String] = []

    mutating func required(_ value: String?, _ member: String) {
        if value == nil { violations.append("Value null at '\(member)' failed to satisfy constraint: Member must not be null") }
    }

    /// Length in UTF-16 code units, as Java's `String.length()` counts it.
    mutating func length(_ value: String?, _ member: String, min: Int, max: Int) {
        guard let value else { return }
        let n = value.utf16.count
        if n < min {
            violations.append("Value '\(value)' at '\(member)' failed to satisfy constraint: Member must have length greater than or equal to \(min)")
        } else if n > max {
            violations.append("Value '\(value)' at '\(member)' failed to satisfy constraint: Member must have length less than or equal to \(max)")
        }
    }

    /// A sensitive member's size in UTF-8 bytes; the value is withheld from the message.
    mutating func sensitiveSize(_ value: String?, _ member: String, maxBytes: Int) {
        guard let value, value.utf8.count > maxBytes else { return }
        violations.append("Value at '\(member)' failed to satisfy constraint: Member must have size less than or equal to \(maxBytes) bytes in UTF-8 encoding")
    }

    mutating func range(_ value: Int?, _ member: String, min: Int, max: Int) {
        guard let value else { return }
        if value < min {
            violations.append("Value '\(value)' at '\(member)' failed to satisfy constraint: Member must have value greater than or equal to \(min)")
        } else if value > max {
            violations.append("Value '\(value)' at '\(member)' failed to satisfy constraint: Member must have value less than or equal to \(max)")
        }
    }

    mutating func oneOf(_ value: String?, _ member: String, _ allowed: [String]) {
        guard let value, !allowed.contains(value) else { return }
        violations.append("Value '\(value)' at '\(member)' failed to satisfy constraint: Member must satisfy enum value set: [\(allowed.joined(separator: ", "))]")
    }

    mutating func ascii(_ value: String?, _ member: String) {
        guard let value, !value.unicodeScalars.allSatisfy(\.isASCII) else { return }
        violations.append("Value '\(value)' at '\(member)' failed to satisfy constraint: Member must satisfy regular expression pattern: \\p{ASCII}*")
    }

    func check() throws(ServiceError) {
        if !violations.isEmpty { throw .validation(violations) }
    }
}

/// The form of a Step Functions ARN: `arn:<partition>:states:<region>:<account>:<type>:<names>`.
enum StatesArn {
    /// Checks that `text` is an ARN of resource type `expected` followed by `names` names (a
    /// state machine ARN may carry a version or alias qualifier), with the InvalidArn wording
    /// the service uses: `Invalid ARN prefix: <arn>` when it does not start with `arn:`, and
    /// `Resource type not valid in this context: <type>` for another kind of resource.
    static func check(_ text: String, expecting expected: String, names count: ClosedRange<Int>) throws(ServiceError) {
        guard text.hasPrefix("arn:") else { throw .invalidArn("Invalid ARN prefix: \(text)") }
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count >= 6, parts[2] == "states", !parts[1].isEmpty, !parts[3].isEmpty, !parts[4].isEmpty else {
            throw .invalidArn(text)
        }
        guard parts[5] == expected else { throw .invalidArn("Resource type not valid in this context: \(parts[5])") }
        let names = parts[6...]
        guard count.contains(names.count), names.allSatisfy({ !$0.isEmpty }) else { throw .invalidArn(text) }
    }
}
