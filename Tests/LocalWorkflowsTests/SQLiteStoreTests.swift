import GatehouseJSON
import GatehouseSQLite
@testable import LocalWorkflows
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The SQLite store: what one engine saves in a file, a second engine (a restart) reads back.
@Suite struct SQLiteStoreTests {
    func temporaryPath() -> String {
        var template = Array("/tmp/gatehouse-store-XXXXXX".utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        close(fd)
        return String(cString: template)
    }

    @Test func roundTripsMachinesAndExecutions() throws {
        let path = temporaryPath()
        defer { for suffix in ["", "-wal", "-shm"] { unlink(path + suffix) } }
        let definition = #"{"StartAt":"W","States":{"W":{"Type":"Wait","Seconds":5,"End":true}}}"#
        do {
            let e = WorkflowEngine(region: Fixture.region, accountId: Fixture.account)
            try e.attach(try SQLiteWorkflowStore(path: path))
            #expect(e.call("CreateStateMachine", #"{"name":"m","roleArn":"arn:aws:iam::123456789012:role/r","definition":\#(JSONValue.quoted(definition))}"#).status == 200)
            for i in 0..<50 {
                #expect(e.call("StartExecution", #"{"stateMachineArn":"\#(Fixture.smPrefix)m","name":"e\#(i)","input":"{\"i\":\#(i)}"}"#).status == 200)
            }
            e.runPending(now: Fixture.now)
            #expect(e.storeFaults == 0)
        }
        let again = WorkflowEngine(region: Fixture.region, accountId: Fixture.account)
        try again.attach(try SQLiteWorkflowStore(path: path))
        let listed = Fixture.json(again.call("ListExecutions", #"{"stateMachineArn":"\#(Fixture.smPrefix)m","maxResults":1000}"#).body)
        #expect(listed["executions"]?.arrayValue?.count == 50)
        again.runPending(now: Fixture.now + 5)
        let d = Fixture.json(again.call("DescribeExecution", #"{"executionArn":"\#(Fixture.execPrefix)m:e7"}"#).body)
        #expect(d["status"] == .string("SUCCEEDED"))
        #expect(d["output"] == .string(#"{"i":7}"#))
    }

    @Test func anUnwritablePathIsRefused() {
        #expect(throws: StoreError.self) { _ = try SQLiteWorkflowStore(path: "/nonexistent-dir/x.db") }
    }
}
