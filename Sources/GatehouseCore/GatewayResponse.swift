import GatehouseHTTP
import GatehouseJSON

/// Every way a request can fail before or in its integration, each mapped to exactly one of
/// API Gateway's gateway response types (status, body, `x-amzn-ErrorType`) in `response`.
public enum GatewayError: Error, Sendable, Equatable {
    /// MISSING_AUTHENTICATION_TOKEN: unknown stage, resource or method, or an unsigned call to
    /// an AWS_IAM method. AWS answers 403 here, not 404.
    case missingAuthenticationToken
    /// A signature problem, with SigV4's error type and message.
    case signature(status: Int, errorType: String, message: String)
    /// ACCESS_DENIED from the resource policy.
    case accessDenied(caller: String, resourceArn: String, explicitDeny: Bool)
    /// A caller-asserted source the key may not assert (Gatehouse's own check).
    case sourceNotPermitted(String)
    /// UNSUPPORTED_MEDIA_TYPE (passthrough behaviour NEVER).
    case unsupportedMediaType
    /// INTEGRATION_FAILURE / configuration errors: AWS's generic 500.
    case internalServerError
    /// INTEGRATION_TIMEOUT.
    case integrationTimeout
    /// An HTTP upstream refused or reset the connection, or answered with garbage.
    case badGateway
    /// API key missing, unknown, disabled or not in a usage plan for the stage.
    case forbidden
    /// THROTTLED: a token bucket (account, usage plan) is empty.
    case tooManyRequests
    /// QUOTA_EXCEEDED: the usage plan's quota for this period is used up.
    case limitExceeded

    /// The gateway response type (`$context.error.responseType`).
    public var responseType: String {
        switch self {
        case .missingAuthenticationToken: return "MISSING_AUTHENTICATION_TOKEN"
        case .signature(_, let t, _): return t == "InvalidSignatureException" ? "INVALID_SIGNATURE" : "DEFAULT_4XX"
        case .accessDenied, .sourceNotPermitted: return "ACCESS_DENIED"
        case .unsupportedMediaType: return "UNSUPPORTED_MEDIA_TYPE"
        case .internalServerError, .badGateway: return "INTEGRATION_FAILURE"
        case .integrationTimeout: return "INTEGRATION_TIMEOUT"
        case .forbidden: return "INVALID_API_KEY"
        case .tooManyRequests: return "THROTTLED"
        case .limitExceeded: return "QUOTA_EXCEEDED"
        }
    }

    /// The message of the response body (`$context.error.message`).
    public var message: String {
        let body = response(requestId: "").body
        if case .object(let o)? = try? JSONValue.parse(body), let m = (o["message"] ?? o["Message"])?.stringValue { return m }
        return ""
    }

    public func response(requestId: String) -> HTTPResponse {
        let status: Int, type: String, body: String
        switch self {
        case .missingAuthenticationToken:
            (status, type, body) = (403, "MissingAuthenticationTokenException", #"{"message":"Missing Authentication Token"}"#)
        case .signature(let s, let t, let m):
            (status, type, body) = (s, t, "{\"message\":\(JSONValue.quoted(m))}")
        case .accessDenied(let caller, let arn, let explicit):
            // The policy denial body uses a capital `Message` and masks the API's account to
            // its last four digits, as API Gateway prints it.
            let text = "User: \(caller) is not authorized to perform: execute-api:Invoke on resource: \(GatewayError.maskAccount(arn))"
                + (explicit ? " with an explicit deny" : "")
            (status, type, body) = (403, "AccessDeniedException", "{\"Message\":\(JSONValue.quoted(text))}")
        case .sourceNotPermitted(let m):
            (status, type, body) = (403, "AccessDeniedException", "{\"message\":\(JSONValue.quoted(m))}")
        case .unsupportedMediaType:
            (status, type, body) = (415, "UnsupportedMediaTypeException", #"{"message":"Unsupported Media Type"}"#)
        case .internalServerError:
            (status, type, body) = (500, "InternalServerErrorException", #"{"message": "Internal server error"}"#)
        case .forbidden:
            (status, type, body) = (403, "ForbiddenException", #"{"message":"Forbidden"}"#)
        case .tooManyRequests:
            (status, type, body) = (429, "TooManyRequestsException", #"{"message":"Too Many Requests"}"#)
        case .limitExceeded:
            (status, type, body) = (429, "LimitExceededException", #"{"message":"Limit Exceeded"}"#)
        case .badGateway:
            (status, type, body) = (502, "InternalServerErrorException", #"{"message": "Internal server error"}"#)
        case .integrationTimeout:
            (status, type, body) = (504, "InternalServerErrorException", #"{"message": "Endpoint request timed out"}"#)
        }
        var h = HTTPHeaders()
        h.add("Content-Type", "application/json")
        h.add("x-amzn-RequestId", requestId)
        h.add("x-amzn-ErrorType", type)
        return HTTPResponse(status: status, headers: h, body: Array(body.utf8))
    }

    /// `arn:aws:execute-api:us-east-1:222222222222:x/…` → `arn:aws:execute-api:us-east-1:********2222:x/…`.
    static func maskAccount(_ arn: String) -> String {
        var parts = arn.split(separator: ":", maxSplits: 5, omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 6, parts[4].count > 4 else { return arn }
        parts[4] = String(repeating: "*", count: parts[4].count - 4) + parts[4].suffix(4)
        return parts.joined(separator: ":")
    }
}
