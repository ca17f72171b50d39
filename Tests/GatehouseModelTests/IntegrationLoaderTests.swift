import Testing
@testable import GatehouseModel

/// A SAM API with one GET /items/{id} method whose integration is `integration` (YAML, indented
/// for its place).
private func template(_ integration: String) -> String {
    """
    Resources:
      Api:
        Type: AWS::Serverless::Api
        Properties:
          StageName: test
          DefinitionBody:
            swagger: "2.0"
            info: {title: t, version: "1"}
            paths:
              /items/{id}:
                get:
                  x-amazon-apigateway-integration:
    \(integration.split(separator: "\n").map { "                  " + $0 }.joined(separator: "\n"))
    """
}

private func load(_ integration: String) throws -> Integration? {
    let model = try TemplateLoader.load(text: template(integration), file: "t.yaml", options: TemplateOptions())
    return model.apis.first?.resources.first { $0.path == "/items/{id}" }?.methods["GET"]?.integration
}

@Suite struct IntegrationLoaderTests {
    @Test func httpIntegrationWithParametersLoads() throws {
        let i = try #require(try load("""
            type: http
            httpMethod: GET
            uri: "http://example.com/items/{id}"
            connectionType: INTERNET
            timeoutInMillis: 500
            requestParameters:
              integration.request.path.id: method.request.path.id
              integration.request.header.X-Static: "'v'"
              integration.request.querystring.q: method.request.multivaluequerystring.q
              integration.request.header.X-Color: stageVariables.color
              integration.request.header.X-Id: context.requestId
            """))
        #expect(i.type == .http && i.timeoutMillis == 500)
        // Parsed once, in destination order.
        #expect(i.parameterMappings.map { "\($0.place.rawValue).\($0.name)" } == [
            "header.X-Color", "header.X-Id", "header.X-Static", "path.id", "querystring.q",
        ])
        #expect(i.parameterMappings.map(\.source) == [
            .stageVariable("color"), .context("requestId"), .literal("v"),
            .methodRequest(.path, "id"), .methodRequest(.multivaluequerystring, "q"),
        ])
    }

    @Test(arguments: [
        ("type: http\nuri: http://x/\nrequestParameters:\n  integration.request.path.id: method.request.paths.id",
         "Invalid mapping expression specified: method.request.paths.id"),
        ("type: http\nuri: http://x/\nrequestParameters:\n  integration.request.body.id: method.request.path.id",
         "Invalid mapping expression specified: integration.request.body.id"),
        ("type: http\nuri: http://x/\ntimeoutInMillis: 30000", "must be an integer from 50 to 29000"),
        ("type: http\nuri: http://x/\ntimeoutInMillis: 49", "must be an integer from 50 to 29000"),
        ("type: http_proxy\nuri: http://x/\nconnectionType: VPC_LINK", "VPC_LINK is not supported"),
        ("type: http", "uri is missing"),
    ])
    func refusedAtLoad(_ integration: String, _ message: String) {
        #expect {
            _ = try load(integration)
        } throws: { e in
            "\(e)".contains(message)
        }
    }
}

@Suite struct MethodSettingsTests {
    @Test func cloudFormationPathEscapesAreDecoded() {
        #expect("/~1pets~1{id}".replacingTildeOne() == "/pets/{id}")
        #expect("/~1open".replacingTildeOne() == "/open")
        #expect("/".replacingTildeOne() == "/")
    }

    @Test func aMethodSettingBeatsTheStageWideOne() {
        var stage = StageSpec(name: "dev", variables: [:])
        stage.methodThrottles = [("/*", "*", ThrottleSpec(rateLimit: 100, burstLimit: 10)),
                                 ("/pets", "GET", ThrottleSpec(rateLimit: 1, burstLimit: 1))]
        #expect(stage.throttle(resourcePath: "/pets", httpMethod: "GET")?.rateLimit == 1)
        #expect(stage.throttle(resourcePath: "/pets", httpMethod: "POST")?.rateLimit == 100)
        #expect(StageSpec(name: "x", variables: [:]).throttle(resourcePath: "/", httpMethod: "GET") == nil)
    }
}
