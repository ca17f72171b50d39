import Foundation
import GatehouseJSON
import GatehousePolicy
import Testing
@testable import GatehouseModel

/// The seed template, as copied into conf/ (verbatim from shared/seed-scenario).
func seedTemplate() throws -> String {
    let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../conf/account-b.yaml").standardized
    return try String(contentsOf: url, encoding: .utf8)
}

func seedOptions() -> TemplateOptions {
    var o = TemplateOptions()
    o.accountId = "222222222222"
    o.parameterOverrides = ["SourceStateMachineArn": "arn:aws:states:us-east-1:111111111111:stateMachine:SourceStateMachine"]
    return o
}

@Suite struct SeedTemplateTests {
    @Test func seedTemplateLoadsUnchanged() throws {
        let model = try TemplateLoader.load(text: try seedTemplate(), file: "account-b.yaml", options: seedOptions())
        #expect(model.apis.count == 1)
        let api = try #require(model.apis.first)
        #expect(api.name == "StartExecutionAPI")
        #expect(api.stages.map(\.name) == ["dev"])
        let resource = try #require(api.resources.first)
        #expect(resource.path == "/execution")
        let post = try #require(resource.methods["POST"])
        #expect(post.authorization == .awsIAM)
        let integration = try #require(post.integration)
        #expect(integration.type == .aws)
        #expect(integration.serviceAction == AWSServiceAction(region: "us-east-1", service: "states", action: "StartExecution"))
        #expect(integration.credentials == "arn:aws:iam::222222222222:role/ApiGatewayRole")
        #expect(integration.passthroughBehavior == .whenNoMatch)
        #expect(integration.responses.map(\.selectionPattern) == ["default"])
        #expect(integration.responses.first?.statusCode == 200)

        let policy = try #require(api.policy)
        let arn = "\(api.executeApiArnPrefix)/dev/POST/execution"
        let allowed = PolicyRequest(principal: .service("states.amazonaws.com"), action: "execute-api:Invoke", resource: arn,
                                    context: ["aws:SourceArn": ["arn:aws:states:us-east-1:111111111111:stateMachine:SourceStateMachine"]])
        #expect(policy.evaluate(allowed) == .allow)
        var other = allowed
        other.context = ["aws:SourceArn": ["arn:aws:states:us-east-1:111111111111:stateMachine:Other"]]
        #expect(policy.evaluate(other) == .implicitDeny)

        #expect(model.stateMachines.map(\.arn) == ["arn:aws:states:us-east-1:222222222222:stateMachine:DestinationStateMachine"])
        #expect(model.stateMachines.first?.roleArn == "arn:aws:iam::222222222222:role/StepFunctionsRole")
        #expect(model.stateMachines.first?.definition["StartAt"] == .string("Task 1"))
        #expect(model.warnings.isEmpty)
    }

    @Test func missingParameterIsRefusedWithCloudFormationsMessage() throws {
        #expect {
            try TemplateLoader.load(text: try seedTemplate(), file: "account-b.yaml", options: TemplateOptions())
        } throws: { e in
            (e as? ConfigError)?.description == "account-b.yaml: Parameters: Parameters: [SourceStateMachineArn] must have values"
        }
    }

    @Test func overrideOfAnUndeclaredParameterIsRefused() throws {
        var o = seedOptions()
        o.parameterOverrides["Nope"] = "x"
        #expect(throws: ConfigError.self) {
            try TemplateLoader.load(text: try seedTemplate(), file: "account-b.yaml", options: o)
        }
    }

    @Test func apiIdIsStableAndShapedLikeAWS() {
        let a = TemplateLoader.apiId(for: "ApiGatewayAPI2", stack: "gatehouse")
        #expect(a == TemplateLoader.apiId(for: "ApiGatewayAPI2", stack: "gatehouse"))
        #expect(a != TemplateLoader.apiId(for: "Other", stack: "gatehouse"))
        #expect(a.count == 10 && a.allSatisfy { $0.isLowercase || $0.isNumber })
    }
}

@Suite struct IntrinsicAndDefinitionTests {
    let base = """
    Parameters:
      Env: { Type: String, Default: dev }
      Names: { Type: CommaDelimitedList, Default: "a,b" }
    Resources:
      Role:
        Type: AWS::IAM::Role
        Properties: { RoleName: my-role }
      Queue:
        Type: AWS::SQS::Queue
      Api:
        Type: AWS::Serverless::Api
        Properties:
          StageName: !Ref Env
          Variables: { v1: !Join ["-", [!Ref Env, !Select [1, !Ref Names]]] }
          DefinitionBody:
            openapi: "3.0.1"
            info: { title: T }
            paths:
              /items/{id}:
                get:
                  x-amazon-apigateway-integration:
                    type: AWS
                    uri: !Sub "arn:${AWS::Partition}:apigateway:${AWS::Region}:states:action/DescribeExecution"
                    credentials: !GetAtt Role.Arn
                    requestTemplates: { application/json: !Sub ["{\\"r\\": \\"${R}\\", \\"lit\\": \\"${!x}\\"}", { R: !Ref Queue }] }
              /{proxy+}:
                x-amazon-apigateway-any-method:
                  security: []
                  x-amazon-apigateway-integration: { type: mock, responses: { default: { statusCode: 204 } } }
    """

    @Test func intrinsicsResolve() throws {
        let model = try TemplateLoader.load(text: base, file: "t.yaml", options: TemplateOptions())
        let api = try #require(model.apis.first)
        #expect(api.stages.first?.name == "dev")
        #expect(api.stages.first?.variables == ["v1": "dev-b"])
        let get = try #require(api.resources.first { $0.path == "/items/{id}" }?.methods["GET"]?.integration)
        #expect(get.uri == "arn:aws:apigateway:us-east-1:states:action/DescribeExecution")
        #expect(get.credentials == "arn:aws:iam::123456789012:role/my-role")
        #expect(get.requestTemplates["application/json"] == #"{"r": "Queue", "lit": "${x}"}"#)
        let any = try #require(api.resources.first { $0.path == "/{proxy+}" })
        #expect(any.segments == [.greedy("proxy")])
        #expect(any.methods["ANY"]?.integration?.type == .mock)
        #expect(model.warnings.contains { $0.contains("Queue (AWS::SQS::Queue)") })
    }

    @Test(arguments: [
        ("{ type: awz }", "unknown integration type \"awz\""),
        ("{ type: aws, uri: nope }", "not an API Gateway service ARN: nope"),
        ("{ type: http, uri: 'http://x', timeoutInMillis: 30000 }", "must be an integer from 50 to 29000"),
        ("{ type: mock, passthroughBehavior: sometimes }", "unknown value \"sometimes\""),
    ])
    func badIntegrationsAreRefusedNamingThePath(_ integration: String, _ reason: String) throws {
        let text = """
        Resources:
          Api:
            Type: AWS::Serverless::Api
            Properties:
              StageName: dev
              DefinitionBody:
                swagger: "2.0"
                paths:
                  /execution:
                    post:
                      x-amazon-apigateway-integration: \(integration)
        """
        #expect {
            try TemplateLoader.load(text: text, file: "account-b.yaml", options: TemplateOptions())
        } throws: { e in
            let d = (e as? ConfigError)?.description ?? ""
            return d.hasPrefix("account-b.yaml: Resources.Api.Properties.DefinitionBody.paths./execution.post.x-amazon-apigateway-integration")
                && d.contains(reason)
        }
    }

    @Test func unresolvedReferenceIsRefused() {
        let text = "Resources:\n  R:\n    Type: AWS::IAM::Role\n    Properties: { RoleName: !Ref Missing }\n  A:\n    Type: AWS::Serverless::Api\n    Properties: { StageName: !Ref Missing, DefinitionBody: { swagger: '2.0', paths: {} } }\n"
        #expect { try TemplateLoader.load(text: text, file: "t.yaml", options: TemplateOptions()) } throws: { e in
            (e as? ConfigError)?.reason == "unresolved reference Missing"
        }
    }

    @Test func jsonTemplateWithRestApiAndStageLoads() throws {
        let text = """
        {"Resources": {
          "Api": {"Type": "AWS::ApiGateway::RestApi", "Properties": {"Body": {"swagger": "2.0", "paths": {"/": {"get": {
             "x-amazon-apigateway-integration": {"type": "mock", "responses": {"default": {"statusCode": "200"}}}}}}}}},
          "Stage": {"Type": "AWS::ApiGateway::Stage", "Properties": {"RestApiId": {"Ref": "Api"}, "StageName": "prod"}},
          "SM": {"Type": "AWS::StepFunctions::StateMachine", "Properties": {"StateMachineName": "sm1",
             "DefinitionString": {"Fn::Sub": "{\\"StartAt\\": \\"A\\", \\"States\\": {\\"A\\": {\\"Type\\": \\"Succeed\\", \\"Comment\\": \\"${AWS::AccountId}\\"}}}"}}}
        }}
        """
        var o = TemplateOptions()
        o.accountId = "333333333333"
        let model = try TemplateLoader.load(text: text, file: "t.json", options: o)
        #expect(model.apis.first?.stages.map(\.name) == ["prod"])
        #expect(model.stateMachines.first?.arn == "arn:aws:states:us-east-1:333333333333:stateMachine:sm1")
        #expect(model.stateMachines.first?.definition["States"]?["A"]?["Comment"] == .string("333333333333"))
    }
}

@Suite struct CredentialsFileTests {
    @Test func issueExampleLoads() throws {
        let text = """
        credentials:
          - accessKeyId: AKIDSTATESA
            secretAccessKey: states-secret-a
            principal: { service: states.amazonaws.com }
            mayAssertSourceArn: ["arn:aws:states:*:111111111111:stateMachine:*"]
          - accessKeyId: AKIDALICE
            secretAccessKey: alice-secret
            principal: { arn: "arn:aws:iam::222222222222:user/alice" }
            policies:
              - Version: "2012-10-17"
                Statement: [{ Effect: Allow, Action: "execute-api:Invoke", Resource: "*" }]
        roles:
          - { roleArn: "arn:aws:iam::1:role/R", accessKeyId: K, secretAccessKey: S }
        """
        let store = try CredentialStore.load(text: text, file: "c.yaml")
        #expect(store.callers["AKIDSTATESA"]?.principal == .service("states.amazonaws.com"))
        #expect(store.callers["AKIDSTATESA"]?.mayAssertSourceArn == ["arn:aws:states:*:111111111111:stateMachine:*"])
        #expect(store.callers["AKIDALICE"]?.principal == .arn("arn:aws:iam::222222222222:user/alice"))
        let alicePolicy = try #require(store.callers["AKIDALICE"]?.policies.first)
        #expect(alicePolicy.evaluate(PolicyRequest(principal: .aws(arn: "arn:aws:iam::222222222222:user/alice"),
                                                   action: "execute-api:Invoke", resource: "arn:aws:execute-api:x", context: [:])) == .allow)
        #expect(store.roles["arn:aws:iam::1:role/R"]?.accessKeyId == "K")
    }

    @Test(arguments: [
        ("credentials:\n  - { secretAccessKey: s, principal: { service: x } }", "credentials[0]: accessKeyId is missing"),
        ("credentials:\n  - { accessKeyId: a, secretAccessKey: s }", "credentials[0].principal: needs `service` or `arn`"),
        ("credentials:\n  - { accessKeyId: a, secretAccessKey: s, principal: { arn: nope } }", "credentials[0].principal.arn: not an ARN: nope"),
    ])
    func badEntriesAreRefused(_ text: String, _ message: String) {
        #expect { try CredentialStore.load(text: text, file: "c.yaml") } throws: { e in
            (e as? ConfigError)?.description == "c.yaml: \(message)"
        }
    }
}
