@testable import GatehouseMapping
import Testing

/// Unit checks of the pieces the differential test exercises end to end, with Java's and
/// Jayway's answers written down.
@Suite struct JavaFormattingTests {
    @Test(arguments: [
        (1.5, "1.5"), (1.0, "1.0"), (100.0, "100.0"), (0.001, "0.001"), (1e-4, "1.0E-4"), (1e7, "1.0E7"),
        (12345678.9, "1.23456789E7"), (-0.0, "-0.0"), (0.1 + 0.2, "0.30000000000000004"), (1e21, "1.0E21"),
        (9999999.0, "9999999.0"), (-2.5e-5, "-2.5E-5"),
    ])
    func javaDoubleToString(_ c: (Double, String)) {
        #expect(javaDouble(c.0) == c.1)
    }

    @Test func escapeJavaScriptAsCommonsLang26() {
        #expect(UtilObject.escapeJavaScript("it's \"q\" / \\ \n\t é ☃") == "it\\'s \\\"q\\\" \\/ \\\\ \\n\\t \\u00E9 \\u2603")
        #expect(UtilObject.escapeJavaScript("\u{01}") == "\\u0001")
    }

    @Test func urlEncodingAsJava() throws {
        #expect(UtilObject.urlEncode("a b+c&d=e/f~*._-") == "a+b%2Bc%26d%3De%2Ff%7E*._-")
        #expect(try UtilObject.urlDecode("a+b%20c%C3%A9") == "a b cé")
        #expect(throws: VTLRenderError.self) { try UtilObject.urlDecode("100%") }
    }

    @Test func jsonTextAsJsonSmart() {
        let v = VTLJSONParser.parse(#"{"a":"x/y\u2028","b":[1,2.50,true,null],"c":{"d":-0.0},"e":123456789012345678901234567890}"#)!
        #expect(jsonText(v) == #"{"a":"x/y\u2028","b":[1,2.5,true,null],"c":{"d":-0.0},"e":123456789012345678901234567890}"#)
        #expect(v.javaString == #"{a=x/y"# + "\u{2028}" + #", b=[1,2.5,true,null], c={d=-0.0}, e=123456789012345678901234567890}"#)
    }
}

@Suite struct JSONPathTests {
    func read(_ path: String) throws -> String? {
        let doc = VTLJSONParser.parse(#"{"a":{"b":[{"x":1},{"x":2},{"x":3}],"s":"str"},"n":null,"l":[10,20,30]}"#)!
        return try JSONPath.compile(path).read(doc).map(jsonText)
    }

    @Test func definitePaths() throws {
        #expect(try read("$.a.b[1].x") == "2")
        #expect(try read("a.s") == #""str""#)
        #expect(try read("$['a']['s']") == #""str""#)
        #expect(try read("$.n") == "null")
        #expect(try read("$.missing") == nil)
        #expect(try read("$.l[5]") == nil)
        #expect(try read("$.l[-1]") == nil)   // Jayway 2.0: no negative index
        #expect(try read("$.a.s.deeper") == nil)
    }

    @Test func indefinitePaths() throws {
        #expect(try read("$.a.b[*].x") == "[1,2,3]")
        #expect(try read("$..x") == "[1,2,3]")
        #expect(try read("$.l[0:2]") == "[10,20]")
        #expect(try read("$.a.b[?(@.x > 1)].x") == "[2,3]")
        #expect(try read("$.a.b[?(@.x == 2 || @.x == 3)]") == #"[{"x":2},{"x":3}]"#)
        #expect(try read("$.missing[*]") == "[]")
    }

    @Test func jaywayErrors() {
        #expect(throws: JSONPath.Failure.self) { try read("$.a[0]") }          // index on an object
        #expect(throws: JSONPath.Failure.self) { try read("$.a.s[?(@.x)]") }   // filter on a primitive
        #expect(throws: JSONPath.Failure.self) { try JSONPath.compile("$[\"a\"]") }
    }
}

@Suite struct RenderLimitsTests {
    func render(_ t: String, limits: VTLLimits = VTLLimits()) throws -> String {
        try renderMapping(try VTLTemplate(t), MappingInput(body: #"{"a": 1}"#), limits: limits).output
    }

    @Test func foreachStopsAtTheLimit() throws {
        #expect(try render("#foreach($i in [1..1500])#set($n = $i)#end$n") == "1000")
    }

    @Test func outputLimit() {
        var l = VTLLimits()
        l.outputBytes = 100
        #expect(throws: VTLRenderError.self) { try render("#foreach($i in [1..500])xxxxxxxxxx#end", limits: l) }
    }

    @Test func templateSizeLimit() {
        #expect(throws: VTLParseError.self) { try VTLTemplate(String(repeating: "x", count: VTLTemplate.maxTemplateBytes + 1)) }
    }

    @Test func recursionIsBounded() {
        #expect(throws: VTLRenderError.self) { try render("#macro(r)#r()#end#r()") }
    }
}
