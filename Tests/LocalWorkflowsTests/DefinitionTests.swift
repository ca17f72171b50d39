import GatehouseJSON
import LocalWorkflows
import Testing

@Suite struct DefinitionTests {
    func refusal(_ definition: String, name: String = "m", type: String = "STANDARD") -> String? {
        let engine = WorkflowEngine(region: Fixture.region, accountId: Fixture.account)
        do {
            try engine.register(name: name, definition: Fixture.json(definition), roleArn: nil, type: type)
            return nil
        } catch {
            return error.description
        }
    }

    @Test(arguments: [
        ("[]", "SCHEMA_VALIDATION_FAILED: The definition must be a JSON object at /"),
        (#"{"Comment":"x"}"#, "SCHEMA_VALIDATION_FAILED: These fields are required: [StartAt, States] at /"),
        (#"{"StartAt":"P","States":{},"Extra":1}"#, "SCHEMA_VALIDATION_FAILED: Field 'Extra' is not supported at /"),
        (#"{"StartAt":1,"States":{}}"#, "SCHEMA_VALIDATION_FAILED: The value for the field 'StartAt' must be a STRING at /StartAt"),
        (#"{"StartAt":"P","States":[]}"#, "SCHEMA_VALIDATION_FAILED: The value for the field 'States' must be an OBJECT at /States"),
        (#"{"StartAt":"P","States":{}}"#, "MISSING_TRANSITION_TARGET: Missing 'StartAt' target: P at /StartAt"),
        (#"{"StartAt":"P","States":{"P":{"End":true}}}"#, "SCHEMA_VALIDATION_FAILED: These fields are required: [Type] at /States/P"),
        (#"{"StartAt":"P","States":{"P":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:1:function:f","End":true}}}"#,
         "UNSUPPORTED_FEATURE: Resource 'arn:aws:lambda:us-east-1:1:function:f' is not supported yet by the embedded engine (it runs arn:aws:states:::apigateway:invoke[.waitForTaskToken], states:startExecution[.sync[:2]|.waitForTaskToken] and http:invoke) at /States/P/Resource"),
        (#"{"StartAt":"P","States":{"P":{"Type":"Parallel","Branches":[],"End":true}}}"#,
         "SCHEMA_VALIDATION_FAILED: The value for the field 'Branches' must be a non-empty ARRAY at /States/P/Branches"),
        (#"{"StartAt":"P","States":{"P":{"Type":"Nap","End":true}}}"#, "SCHEMA_VALIDATION_FAILED: 'Nap' is not a valid state type at /States/P/Type"),
        (#"{"StartAt":"P","States":{"P":{"Type":"Pass","Retry":[],"End":true}}}"#, "SCHEMA_VALIDATION_FAILED: Field 'Retry' is not supported at /States/P"),
        (#"{"StartAt":"P","States":{"P":{"Type":"Pass","Assign":{},"End":true}}}"#, "UNSUPPORTED_FEATURE: Field 'Assign' is not supported yet by the embedded engine at /States/P"),
        (#"{"StartAt":"P","States":{"P":{"Type":"Pass"}}}"#, #"MISSING_TRANSITION_TARGET: State "P" must have either 'Next' or 'End': true at /States/P"#),
        (#"{"StartAt":"P","States":{"P":{"Type":"Pass","Next":"P","End":true}}}"#, "SCHEMA_VALIDATION_FAILED: Only one of 'Next' or 'End' can be set at /States/P"),
        (#"{"StartAt":"P","States":{"P":{"Type":"Pass","Next":"Q"}}}"#, "MISSING_TRANSITION_TARGET: Missing 'Next' target: Q at /States/P/Next"),
        (#"{"StartAt":"P","States":{"P":{"Type":"Succeed"},"Q":{"Type":"Succeed"}}}"#, #"MISSING_TRANSITION_TARGET: State "Q" is not reachable. at /States/Q"#),
        (#"{"StartAt":"P","States":{"P":{"Type":"Pass","Next":"Q"},"Q":{"Type":"Pass","Next":"P"}}}"#, "MISSING_END_STATE: Workflow has no terminal state at /"),
        (#"{"StartAt":"P","States":{"P":{"Type":"Succeed","Next":"P"}}}"#, "SCHEMA_VALIDATION_FAILED: Field 'Next' is not supported at /States/P"),
        (#"{"StartAt":"P","States":{"P":{"Type":"Fail","Error":5}}}"#, "SCHEMA_VALIDATION_FAILED: The value for the field 'Error' must be a STRING at /States/P/Error"),
        (#"{"StartAt":"P","States":{"P":{"Type":"Pass","InputPath":"$..a","End":true}}}"#,
         "SCHEMA_VALIDATION_FAILED: The value for the field 'InputPath' must be a valid JSONPath; the embedded engine supports $, $.a.b, $['a'], $.a[0], $.a[-1], $.a[*] and $.a.* at /States/P/InputPath"),
        (#"{"StartAt":"P","States":{"P":{"Type":"Pass","ResultPath":"$.a[*]","End":true}}}"#,
         "SCHEMA_VALIDATION_FAILED: The value for the field 'ResultPath' must be a reference path (one node, no wildcard) at /States/P/ResultPath"),
        (#"{"StartAt":"P","States":{"P":{"Type":"Pass","ResultPath":"a.b","End":true}}}"#,
         "SCHEMA_VALIDATION_FAILED: The value for the field 'ResultPath' must be a valid JSONPath; the embedded engine supports $, $.a.b, $['a'], $.a[0], $.a[-1], $.a[*] and $.a.* at /States/P/ResultPath"),
        (#"{"StartAt":"P","States":{"P":{"Type":"Pass","Parameters":{"x":{"y.$":3}},"End":true}}}"#,
         "SCHEMA_VALIDATION_FAILED: The value for the field 'y.$' must be a STRING that contains a JSONPath at /States/P/Parameters/x/y.$"),
        (#"{"StartAt":"P","States":{"P":{"Type":"Pass","Parameters":{"y.$":"States.Format('{}', $.a"},"End":true}}}"#,
         "SCHEMA_VALIDATION_FAILED: The value for the field 'y.$' must be a valid JSONPath or a valid intrinsic function call (missing ')' in States.Format) at /States/P/Parameters/y.$"),
        (#"{"QueryLanguage":"JSONata","StartAt":"P","States":{"P":{"Type":"Succeed"}}}"#,
         #"UNSUPPORTED_FEATURE: QueryLanguage "JSONata" is not supported yet by the embedded engine (JSONPath only) at /QueryLanguage"#),
    ])
    func invalidDefinitions(definition: String, expected: String) {
        #expect(refusal(definition) == expected)
    }

    @Test(arguments: [
        ("a b", "STANDARD", "Invalid Name: 'a b'"),
        ("", "STANDARD", "Invalid Name: ''"),
        (String(repeating: "m", count: 81), "STANDARD", "Invalid Name: '\(String(repeating: "m", count: 81))'"),
        ("m", "standard", "Invalid state machine type 'standard' (expected STANDARD or EXPRESS)"),
    ])
    func invalidNameOrType(name: String, type: String, expected: String) {
        #expect(refusal(Fixture.passDefinition, name: name, type: type) == expected)
    }

    @Test func validDefinitionsRegister() {
        #expect(refusal(Fixture.passDefinition) == nil)
        #expect(refusal(#"{"Comment":"c","Version":"1.0","TimeoutSeconds":30,"QueryLanguage":"JSONPath","StartAt":"F","States":{"F":{"Type":"Fail","Comment":"x","Error":"E","Cause":"C"}}}"#) == nil)
    }

    @Test func reRegisteringIsIdempotentOnlyForIdenticalSettings() throws {
        let engine = WorkflowEngine(region: "eu-west-1", accountId: "111122223333")
        let definition = Fixture.json(Fixture.passDefinition)
        let arn = try engine.register(name: "m", definition: definition, roleArn: "r")
        #expect(arn == "arn:aws:states:eu-west-1:111122223333:stateMachine:m")
        #expect(try engine.register(name: "m", definition: definition, roleArn: "r") == arn)
        #expect(throws: WorkflowDefinitionError.self) {
            try engine.register(name: "m", definition: definition, roleArn: "other")
        }
        #expect(engine.stateMachineArns == [arn])
    }

    @Test(arguments: [("cn-north-1", "aws-cn"), ("us-gov-west-1", "aws-us-gov"), ("ap-south-1", "aws")])
    func arnPartitionFollowsTheRegion(region: String, partition: String) throws {
        let engine = WorkflowEngine(region: region, accountId: "1")
        #expect(try engine.register(name: "m", definition: Fixture.json(Fixture.passDefinition), roleArn: nil) == "arn:\(partition):states:\(region):1:stateMachine:m")
    }
}
