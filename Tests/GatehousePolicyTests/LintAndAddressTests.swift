import GatehousePolicy
import Testing

@Suite struct LintTests {
    func warnings(_ statement: String) throws -> [String] {
        try ResourcePolicy(json: #"{"Version": "2012-10-17", "Statement": [\#(statement)]}"#)
            .expandingExecuteApiShorthand(apiArnPrefix: apiArn)
            .warnings(apiArnPrefix: apiArn)
    }

    @Test func cleanPolicyHasNoWarnings() throws {
        #expect(try warnings(#"{"Effect": "Allow", "Principal": "*", "Action": "execute-api:Invoke", "Resource": "execute-api:/*", "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}, "ArnLike": {"aws:SourceArn": "arn:aws:states:*:*:stateMachine:*"}}}"#) == [])
    }

    @Test func unknownConditionKey() throws {
        let w = try warnings(#"{"Effect": "Allow", "Principal": "*", "Action": "execute-api:Invoke", "Resource": "execute-api:/*", "Condition": {"StringEquals": {"aws:SorceArn": "x"}}}"#)
        #expect(w.count == 1 && w[0].contains("aws:SorceArn") && w[0].contains("unknown condition key"))
    }

    @Test func keyGatehouseNeverSets() throws {
        let w = try warnings(#"{"Effect": "Allow", "Principal": "*", "Action": "execute-api:Invoke", "Resource": "execute-api:/*", "Condition": {"StringEquals": {"aws:SourceVpce": "vpce-1"}}}"#)
        #expect(w.count == 1 && w[0].contains("never sets aws:SourceVpce"))
    }

    @Test func operatorThatCannotApply() throws {
        let w = try warnings(#"{"Effect": "Allow", "Principal": "*", "Action": "execute-api:Invoke", "Resource": "execute-api:/*", "Condition": {"StringLike": {"aws:SourceIp": "10.*"}}}"#)
        #expect(w.count == 1 && w[0].contains("IpAddress"))
    }

    @Test func statementsThatNeverMatch() throws {
        let other = try warnings(#"{"Effect": "Allow", "Principal": "*", "Action": "execute-api:Invoke", "Resource": "arn:aws:execute-api:us-east-1:222222222222:otherapi/*"}"#)
        #expect(other.contains { $0.contains("no Resource matches") })
        let account = try warnings(#"{"Effect": "Allow", "Principal": "*", "Action": "execute-api:Invoke", "Resource": "arn:aws:execute-api:us-east-1:111111111111:abc123/*"}"#)
        #expect(account.contains { $0.contains("no Resource matches") })
        let action = try warnings(#"{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "*"}"#)
        #expect(action.contains { $0.contains("does not cover execute-api:Invoke") })
        let denyOnly = try warnings(#"{"Effect": "Deny", "Principal": "*", "Action": "execute-api:Invoke", "Resource": "execute-api:/*"}"#)
        #expect(denyOnly.contains { $0.contains("no Allow statement") })
        // Wildcards that can reach the API are fine.
        #expect(try warnings(#"{"Effect": "Allow", "Principal": "*", "Action": "execute-api:*", "Resource": "arn:aws:execute-api:*:*:abc123/*/GET/*"}"#) == [])
        #expect(try warnings(#"{"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "arn:aws:execute-api:*"}"#) == [])
    }
}

@Suite struct AddressTests {
    @Test func trustedProxyPicksTheRightmostUntrustedAddress() throws {
        let set = try AddressSet.parse(["10.0.0.0/8", "::1"]).get()
        // An untrusted peer: its X-Forwarded-For is ignored.
        #expect(set.clientAddress(peer: "203.0.113.9", forwardedFor: "1.2.3.4") == "203.0.113.9")
        // A trusted peer: the right-most address that is not a trusted proxy.
        #expect(set.clientAddress(peer: "10.0.0.1", forwardedFor: "1.2.3.4, 198.51.100.7") == "198.51.100.7")
        #expect(set.clientAddress(peer: "10.0.0.1", forwardedFor: "1.2.3.4, 198.51.100.7, 10.9.9.9") == "198.51.100.7")
        #expect(set.clientAddress(peer: "::1", forwardedFor: "2001:db8::7") == "2001:db8::7")
        // No header, or garbage in it: the last address that could be read.
        #expect(set.clientAddress(peer: "10.0.0.1", forwardedFor: nil) == "10.0.0.1")
        #expect(set.clientAddress(peer: "10.0.0.1", forwardedFor: "evil, 10.1.1.1") == "10.1.1.1")
        // An empty set trusts nobody.
        #expect(AddressSet().clientAddress(peer: "10.0.0.1", forwardedFor: "1.2.3.4") == "10.0.0.1")
    }

    @Test func badEntriesAreNamed() {
        guard case .failure(let e) = AddressSet.parse(["10.0.0.0/8", "10.0.0.0/40"]) else {
            Issue.record("expected a failure")
            return
        }
        #expect(e.entry == "10.0.0.0/40")
    }

    @Test func contextKeysAreCaseInsensitiveAndEmptyMeansAbsent() {
        var c = PolicyContext()
        c["AWS:SourceIP"] = ["1.2.3.4"]
        #expect(c[.sourceIp] == ["1.2.3.4"])
        #expect(c["aws:sourceip"] == ["1.2.3.4"])
        c["Custom:Key"] = []
        #expect(c["custom:key"] == nil)
        c["Custom:Key"] = ["v"]
        #expect(c["CUSTOM:KEY"] == ["v"])
    }
}
