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

    /// Strings with escapes are decoded in place after a plain prefix; the text around each
    /// escape, lone surrogates and every short escape must come out exactly.
    @Test(arguments: [
        (#""plain prefix\tthen \"quoted\" and \/ \b\f\r""#, "plain prefix\tthen \"quoted\" and / \u{8}\u{C}\r"),
        (#""\u0041\u00e9\u20ac\ud83d\ude00z""#, "Aé€😀z"),
        (#""x\ud800y""#, "x\u{FFFD}y"),
        (#""x\ud800\u0041y""#, "x\u{FFFD}Ay"),
        (#""\\""#, "\\"),
        (#""é\n☃""#, "é\n☃"),
    ])
    func escapedStrings(_ c: (String, String)) throws {
        #expect(try JSONValue.parse(c.0) == .string(c.1))
        // And back: what is written parses to the same text.
        #expect(try JSONValue.parse(JSONValue.quoted(c.1)) == .string(c.1))
    }

    @Test func everyControlByteIsEscaped() throws {
        let all = String(decoding: (0..<0x20).map { UInt8($0) } + [0x22, 0x5C, 0x41], as: UTF8.self)
        let q = JSONValue.quoted(all)
        #expect(q.hasPrefix(#""\u0000\u0001"#))
        #expect(q.contains(#"\b\t\n\u000b\f\r\u000e"#))
        #expect(q.hasSuffix(#"\u001f\"\\A""#))
        #expect(try JSONValue.parse(q) == .string(all))
    }

    @Test(arguments: [#""a\"b"#, #""a\qb""#, #""a\nb"#, "\"a\\n\u{1}b\"", #""a\u12""#, #""a\n\"#])
    func brokenEscapedStringsAreRefused(_ text: String) {
        #expect(throws: JSONParseError.self) { try JSONValue.parse(text) }
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
