import GatehouseJSON
import GatehousePolicy

/// A method's authorization type, as API Gateway names it.
public enum AuthorizationType: String, Sendable {
    case none = "NONE"
    case awsIAM = "AWS_IAM"
}

/// The integration types of `x-amazon-apigateway-integration.type`.
public enum IntegrationType: String, Sendable {
    case aws
    case awsProxy = "aws_proxy"
    case http
    case httpProxy = "http_proxy"
    case mock
}

/// What happens to a request body whose Content-Type has no request template.
public enum PassthroughBehavior: String, Sendable {
    case whenNoMatch = "when_no_match"
    case whenNoTemplates = "when_no_templates"
    case never
}

/// One entry of an integration's `responses`: chosen by `selectionPattern` (the map key;
/// `default` when no other matches).
public struct IntegrationResponseSpec: Sendable {
    public var selectionPattern: String
    public var statusCode: Int
    public var responseTemplates: [String: String]
    public var responseParameters: [String: String]
    /// `responseParameters` checked at load: method response header ← source expression.
    public var headerMappings: [(header: String, source: String)] = []
    public var contentHandling: ContentHandling?
}

/// `contentHandling` on an integration or integration response.
public enum ContentHandling: String, Sendable {
    case convertToText = "CONVERT_TO_TEXT"
    case convertToBinary = "CONVERT_TO_BINARY"
}

/// An AWS service action addressed by `arn:aws:apigateway:{region}:{service}:action/{Action}`.
public struct AWSServiceAction: Sendable, Equatable {
    public var region: String
    public var service: String
    public var action: String
}

/// Where a `requestParameters` entry reads from or writes to: `path`, `querystring`, `header`,
/// `multivaluequerystring`, `multivalueheader`.
public enum ParameterPlace: String, Sendable {
    case path, querystring, header, multivaluequerystring, multivalueheader
}

/// The source side of a `requestParameters` entry, parsed once at load.
public enum ParameterSource: Sendable, Equatable {
    case literal(String)
    case stageVariable(String)
    case context(String)
    case methodRequest(ParameterPlace, String)

    /// nil for an expression API Gateway would refuse.
    public init?(expression e: String) {
        if e.count >= 2, e.hasPrefix("'"), e.hasSuffix("'") {
            self = .literal(String(e.dropFirst().dropLast()))
        } else if e.hasPrefix("stageVariables."), e.count > "stageVariables.".count {
            self = .stageVariable(String(e.dropFirst("stageVariables.".count)))
        } else if e.hasPrefix("context."), e.count > "context.".count {
            self = .context(String(e.dropFirst("context.".count)))
        } else {
            let parts = e.split(separator: ".", maxSplits: 3)
            guard parts.count == 4, parts[0] == "method", parts[1] == "request",
                  let place = ParameterPlace(rawValue: String(parts[2])), !parts[3].isEmpty else { return nil }
            self = .methodRequest(place, String(parts[3]))
        }
    }
}

/// One `requestParameters` entry: `integration.request.{place}.{name}` ← source.
public struct ParameterMappingEntry: Sendable {
    public var place: ParameterPlace
    public var name: String
    public var source: ParameterSource

    /// nil for a destination API Gateway would refuse.
    public init?(destination d: String, source: ParameterSource) {
        let parts = d.split(separator: ".", maxSplits: 3)
        guard parts.count == 4, parts[0] == "integration", parts[1] == "request",
              let place = ParameterPlace(rawValue: String(parts[2])), !parts[3].isEmpty else { return nil }
        self.place = place
        self.name = String(parts[3])
        self.source = source
    }
}

/// A method's integration with its backend. A class, fixed once loaded: every request that
/// reaches the method refers to it, and copying a struct of a dozen strings and tables cost
/// two dozen reference-count operations per hand-over (perf).
public final class Integration: Sendable {
    public let type: IntegrationType
    public let uri: String
    public let httpMethod: String
    /// The role API Gateway assumes to call an AWS service.
    public let credentials: String?
    public let passthroughBehavior: PassthroughBehavior
    public let requestTemplates: [String: String]
    public let requestParameters: [String: String]
    /// `requestParameters` parsed, in destination order (so requests are the same run to run).
    public let parameterMappings: [ParameterMappingEntry]
    public let responses: [IntegrationResponseSpec]
    public let timeoutMillis: Int
    /// Set for `aws` integrations that call a service action.
    public let serviceAction: AWSServiceAction?
    public let contentHandling: ContentHandling?

    public init(type: IntegrationType, uri: String, httpMethod: String, credentials: String?,
                passthroughBehavior: PassthroughBehavior, requestTemplates: [String: String],
                requestParameters: [String: String], parameterMappings: [ParameterMappingEntry] = [],
                responses: [IntegrationResponseSpec], timeoutMillis: Int, serviceAction: AWSServiceAction?,
                contentHandling: ContentHandling? = nil) {
        self.type = type
        self.uri = uri
        self.httpMethod = httpMethod
        self.credentials = credentials
        self.passthroughBehavior = passthroughBehavior
        self.requestTemplates = requestTemplates
        self.requestParameters = requestParameters
        self.parameterMappings = parameterMappings
        self.responses = responses
        self.timeoutMillis = timeoutMillis
        self.serviceAction = serviceAction
        self.contentHandling = contentHandling
    }
}

/// One HTTP method on a resource.
public struct MethodSpec: Sendable {
    public var httpMethod: String
    public var authorization: AuthorizationType
    public var apiKeyRequired: Bool
    /// nil when the definition gave none; such a method answers 500, as an undeployable
    /// method would never be reached on AWS.
    public var integration: Integration?
}

/// A segment of a resource path.
public enum PathSegment: Sendable, Equatable {
    case literal(String)
    case parameter(String)
    /// `{name+}`: matches the rest of the path.
    case greedy(String)
}

/// A resource (path) and its methods.
public struct ResourceSpec: Sendable {
    public var path: String
    public var segments: [PathSegment]
    /// Keyed by upper-case method name, `ANY` included.
    public var methods: [String: MethodSpec]
}

/// A deployed stage.
public struct StageSpec: Sendable {
    public var name: String
    public var variables: [String: String]
    /// `AccessLogSetting.Format`: the stage's access log line in `$context` variables.
    public var accessLogFormat: String?
    /// `MethodSettings` throttles: resource path (decoded from `~1`; `/*` for all) and method
    /// (`*` for all).
    public var methodThrottles: [(resourcePath: String, httpMethod: String, throttle: ThrottleSpec)] = []

    public init(name: String, variables: [String: String], accessLogFormat: String? = nil) {
        self.name = name
        self.variables = variables
        self.accessLogFormat = accessLogFormat
    }

    /// The throttle for a method: the setting for its resource and method, else the stage-wide
    /// `/*` `*` one.
    public func throttle(resourcePath: String, httpMethod: String) -> ThrottleSpec? {
        var wildcard: ThrottleSpec?
        for t in methodThrottles {
            if t.resourcePath == resourcePath && (t.httpMethod == httpMethod || t.httpMethod == "*") { return t.throttle }
            if t.resourcePath == "/*" && t.httpMethod == "*" { wildcard = t.throttle }
        }
        return wildcard
    }
}

/// A REST API as Gatehouse serves it.
public struct RestApiSpec: Sendable {
    public var logicalId: String
    public var id: String
    public var name: String
    public var region: String
    public var accountId: String
    public var stages: [StageSpec]
    public var resources: [ResourceSpec]
    public var policy: ResourcePolicy?
    /// `x-amazon-apigateway-binary-media-types`: request Content-Types treated as binary.
    public var binaryMediaTypes: [String] = []

    /// `arn:aws:execute-api:{region}:{account}:{apiId}`, the prefix of every method ARN.
    public var executeApiArnPrefix: String { "arn:aws:execute-api:\(region):\(accountId):\(id)" }
}

/// A state machine declared by the template.
public struct StateMachineSpec: Sendable {
    public var logicalId: String
    public var name: String
    public var arn: String
    public var definition: JSONValue
    public var roleArn: String?
    public var type: String
}

/// Everything a template declares that Gatehouse runs.
public struct GatewayModel: Sendable {
    public var apis: [RestApiSpec] = []
    public var stateMachines: [StateMachineSpec] = []
    /// Things declared but not run (unknown resource types, ignored properties).
    public var warnings: [String] = []
    /// API keys and usage plans the template declares.
    public var usage = UsageConfig()

    public init() {}
}
