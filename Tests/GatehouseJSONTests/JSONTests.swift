import Testing
@testable import GatehouseJSON

@Suite struct JSONParsingTests {
    @Test func roundTripKeepsKeyOrderAndIntegers() throws {
        let text = #"{"z":1,"a":[true,false,null],"m":{"k":"v"},"d":1.5,"neg":-3}"#
        let v = try JSONValue.parse(text)
        #expect(v.jsonText == text)
        #expect(v["z"] == .int(1))
        #expect(v["d"] == .double(1.5))
    }

    @Test func escapesAndSurrogatePairsDecode() throws {
        let v = try JSONValue.parse(#""a\"b\\c\n\u00e9\ud83d\ude00""#)
        #expect(v == .string("a\"b\\c\né😀"))
        #expect(JSONValue.quoted("a\"b\n\u{1}") == #""a\"b\n\u0001""#)
    }

    @Test(arguments: ["", "{", "[1,]", "{\"a\" 1}", "01", "1.", "tru", "\"\u{1}\"", "[1] x", "-", "\"abc"])
    func malformedTextIsRefused(_ text: String) {
        #expect(throws: JSONParseError.self) { try JSONValue.parse(text) }
    }

    @Test func deepNestingIsRefusedNotRecursed() {
        let deep = String(repeating: "[", count: 100_000)
        #expect(throws: JSONParseError.self) { try JSONValue.parse(deep) }
    }

    @Test func objectSetReplacesInPlaceAndRemoves() {
        var o = JSONObject([("a", .int(1)), ("b", .int(2))])
        o["a"] = .int(3)
        o["c"] = .null
        o["b"] = nil
        #expect(o.keys == ["a", "c"])
        #expect(JSONValue.object(o).jsonText == #"{"a":3,"c":null}"#)
    }
}
