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

    /// The direct writer's fast path (at most four decimals, under 10^7) must print exactly
    /// what the general conversion prints: prices, near misses (0.1 + 0.2), negatives, powers
    /// of ten, the range's edges, and a sweep of random doubles of every shape.
    @Test func directDoubleWriterAgreesWithJavaDouble() {
        var values: [Double] = [0.99, 4.49, 11.49, -7.25, 0.05, 0.001, 0.0011, 0.0001, 12.0, 1e7, 9999999.9999,
                                9999999.99999, 0.1 + 0.2, 1.0 / 3.0, 123.4567, 123.45678, -0.5, 1e-3, 2.675, 0.3]
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<20_000 {
            let whole = Double(Int.random(in: 0..<10_000_000, using: &rng))
            let k = Int.random(in: 0...6, using: &rng)
            var p = 1.0
            for _ in 0..<k { p *= 10 }
            values.append((whole / p) * (Bool.random(using: &rng) ? 1 : -1))
            values.append(Double(bitPattern: UInt64.random(in: 0...UInt64.max, using: &rng)))
            values.append(Double.random(in: 1e-3..<1e7, using: &rng))
        }
        var mismatches: [String] = []
        for v in values where v.isFinite {
            var out: [UInt8] = []
            appendJavaDouble(v, to: &out)
            let direct = String(decoding: out, as: UTF8.self)
            if direct != javaDouble(v) { mismatches.append("\(v.bitPattern): \(direct) vs \(javaDouble(v))") }
        }
        #expect(mismatches.isEmpty, "\(mismatches.prefix(10))")
    }

    /// json-smart keeps long decimals as BigDecimal; these are Java's toString of each (recorded
    /// from the oracle).
    @Test(arguments: [
        ("0.30000000000000001", "0.30000000000000001"), ("1.23456789012345678e5", "123456.789012345678"),
        ("-12345678901234567.5", "-12345678901234567.5"), ("0.00000000000000001", "1E-17"),
        ("1.0000000000000000000e-10", "1.0000000000000000000E-10"), ("12345678901234567e+5", "1.2345678901234567E+21"),
        ("-0.000000000000000000", "0E-18"), ("1.5000000000000000000", "1.5000000000000000000"),
    ])
    func bigDecimalToString(_ c: (String, String)) {
        #expect(bigDecimalText(c.0) == c.1)
        if case .map(let m)? = VTLJSONParser.parse(#"{"x": \#(c.0)}"#) {
            #expect(jsonText(m.get("x")!) == c.1)
        } else {
            Issue.record("did not parse")
        }
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

    /// Records reuse the previous record's keys; the reuse must never change what is read:
    /// escaped keys, a nested object between records, fewer or more keys, repeated keys.
    @Test(arguments: [
        (#"[{"a":1,"b":2},{"a":3,"b":4}]"#, #"[{"a":1,"b":2},{"a":3,"b":4}]"#),
        (#"[{"a":1,"b":2},{"a":3}]"#, #"[{"a":1,"b":2},{"a":3}]"#),
        (#"[{"a":1},{"a":3,"b":4}]"#, #"[{"a":1},{"a":3,"b":4}]"#),
        (#"[{"a":{"x":1},"b":2},{"a":{"x":5},"b":6}]"#, #"[{"a":{"x":1},"b":2},{"a":{"x":5},"b":6}]"#),
        (#"[{"x":0},{"a":{"x":1},"x":2}]"#, #"[{"x":0},{"a":{"x":1},"x":2}]"#),
        (#"[{"a\\":1},{"a\\":2}]"#, #"[{"a\\":1},{"a\\":2}]"#),
        (#"[{"a\"":1},{"a\"":2}]"#, #"[{"a\"":1},{"a\"":2}]"#),
        (#"[{"a":1},{"\u0061":2},{"a":3}]"#, #"[{"a":1},{"a":2},{"a":3}]"#),
        (#"[{"k":1,"k":2},{"k":3,"k":4}]"#, #"[{"k":2},{"k":4}]"#),
        (#"[{"a":1,"b":2},{"b":3,"a":4}]"#, #"[{"a":1,"b":2},{"b":3,"a":4}]"#),
    ])
    func recordsShareKeys(_ c: (String, String)) {
        #expect(VTLJSONParser.parse(c.0).map(jsonText) == c.1)
    }

    /// A parse that fails midway (values left on the scratch stacks) reports no document.
    @Test(arguments: [#"[{"a":1},{"a":"#, #"{"a":[1,2,{"b":tru}]}"#, #"[{"a":1},{"a" 2}]"#, #"{"a":1} x"#, #"[{"ab":1},{"a"#])
    func brokenDocuments(_ text: String) {
        #expect(VTLJSONParser.parse(text) == nil)
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

    /// Jayway 2.0's comparisons across types (recorded from the oracle; the corpus holds more).
    @Test(arguments: [
        (#"{"x":"abc"}"#, "@.x > 1", true), (#"{"x":"10"}"#, "@.x < 9", true), (#"{"x":"1.0"}"#, "@.x == 1", false),
        (#"{"x":"true"}"#, "@.x == true", true), (#"{"x":"null"}"#, "@.x == null", true), (#"{"x":1}"#, "@.x == '1'", true),
        (#"{"x":1.0}"#, "@.x == '1.00'", true), (#"{"x":false}"#, "@.x == 1", true), (#"{"x":true}"#, "@.x > 1", true),
        (#"{"x":null}"#, "@.x >= null", false), (#"{"x":{"k":1}}"#, "@.x != 1", false), (#"{"x":{"k":1}}"#, "@.x > null", true),
        (#"{"x":[1]}"#, "@.x == @.x", true), (#"{"y":1}"#, "@.x != 1", false), (#"{"x":1}"#, "1 == @.x", false),
        (#"{"x":1,"y":"1"}"#, "@.x == @.y", true), (#"{"x":"1","y":1}"#, "@.x == @.y", false), (#"{"x":true}"#, "@.x =~ /tr.e/", true),
        (#"{"x":12345678901234567891}"#, "@.x > 12345678901234567890", true),
    ])
    func filterComparisonsAcrossTypes(_ c: (String, String, Bool)) throws {
        let doc = VTLJSONParser.parse("[" + c.0 + "]")!
        let found = try JSONPath.compile("$[?(\(c.1))]").read(doc).map(jsonText)
        #expect(found == (c.2 ? "[" + c.0 + "]" : "[]"), "\(c.0) \(c.1)")
    }

    @Test func aNumberAgainstTextThatIsNoNumberFailsTheRead() {
        // Java's NumberFormatException, which API Gateway does not catch.
        let doc = VTLJSONParser.parse(#"[{"x":2}]"#)!
        #expect(throws: JSONPath.Failure.self) { try JSONPath.compile("$[?(@.x > 'b')]").read(doc) }
        #expect(throws: JSONPath.Failure.self) { try JSONPath.compile("$[?(@.x == true)]").read(doc) }
        #expect(throws: JSONPath.Failure.self) { try JSONPath.compile("$[?(@.x =~ 'b')]").read(doc) }
    }

    @Test func exactDecimals() {
        #expect(ExactDecimal("1")!.compare(ExactDecimal("1.000")!) == 0)
        #expect(ExactDecimal("100")!.compare(ExactDecimal("1e2")!) == 0)
        #expect(ExactDecimal("-0.0")!.compare(ExactDecimal("0")!) == 0)
        #expect(ExactDecimal(".5")!.compare(ExactDecimal("0.49999999999999999999")!) == 1)
        #expect(ExactDecimal("-2")!.compare(ExactDecimal("-10")!) == 1)
        #expect(ExactDecimal("b") == nil)
        #expect(ExactDecimal("") == nil)
        #expect(ExactDecimal("1e") == nil)
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

/// Templates can come from a request (`#evaluate($input.body)`), so nothing in one may take the
/// process down: deep nesting is a parse error, self-containing values print and compare in
/// bounded depth, and random damage to real templates only ever gives output or an error.
@Suite struct HostileTemplateTests {
    func render(_ t: String, body: String = #"{"a": 1}"#) -> Result<String, Error> {
        do {
            return .success(try renderMapping(try VTLTemplate(t), MappingInput(body: body)).output)
        } catch {
            return .failure(error)
        }
    }

    @Test func deepNestingIsAParseError() {
        for t in ["#if(" + String(repeating: "(", count: 100_000), "#set($x = " + String(repeating: "(", count: 50_000) + "1",
                  String(repeating: "#if(true)", count: 20_000), "#set($x = " + String(repeating: "[", count: 50_000),
                  String(repeating: "#foreach($i in [1])", count: 20_000)] {
            guard case .failure = render(t) else {
                Issue.record("expected a parse error")
                continue
            }
        }
    }

    @Test func deepJSONPathFilterIsAnError() {
        let path = "$.a[?(" + String(repeating: "(", count: 10_000) + "@.x" + String(repeating: ")", count: 10_000) + ")]"
        guard case .failure = render("$input.json('\(path)')") else {
            Issue.record("expected an error")
            return
        }
    }

    @Test func selfContainingValuesAreBounded() throws {
        let out = try render("#set($m = {})#set($m.self = $m)#set($l = [])#set($ok = $l.add($l))$m $l $input.json('$')#if($m == $m)eq#end").get()
        #expect(out.hasPrefix("{self={self="))
        #expect(out.contains("…"))
    }

    @Test func evaluateOfARequestBodyIsBounded() {
        let body = ##"{"t": "#evaluate($input.path('$.t'))"}"##
        guard case .failure = render("#evaluate($input.path('$.t'))", body: body) else {
            Issue.record("expected the nesting limit")
            return
        }
    }

    @Test func randomDamageGivesOutputOrAnError() {
        var rng = SystemRandomNumberGenerator()
        var seed: UInt64 = 0x9E3779B97F4A7C15
        func next() -> UInt64 {   // deterministic: the same damage every run
            seed ^= seed << 13; seed ^= seed >> 7; seed ^= seed << 17
            return seed
        }
        _ = rng
        let bases = [
            "#set($b = $input.path('$'))#foreach($x in [1..3])$x#if($foreach.hasNext),#end#end {\"a\": $input.json('$.a')}",
            "#macro(m $p)[$p]#end#m($b)#define($d)D#end$d #evaluate('$b') $util.escapeJavaScript($input.body)",
            "${a.b(1, 'x')}[$!c] \\$d #* c *# ## e\n#if($a == 1 && !$b || $c < 2.5)x#elseif($d)y#else z#end",
        ]
        let alphabet = Array("$#(){}[]'\"\\!.,@*+-/%=<>&| \n\tazAZ019".utf8)
        for _ in 0..<3000 {
            var t = Array(bases[Int(next() % UInt64(bases.count))].utf8)
            for _ in 0..<Int(next() % 6 + 1) {
                let pos = Int(next() % UInt64(t.count + 1))
                switch next() % 3 {
                case 0: t.insert(alphabet[Int(next() % UInt64(alphabet.count))], at: pos)
                case 1: if pos < t.count { t.remove(at: pos) }
                default: if pos < t.count { t[pos] = alphabet[Int(next() % UInt64(alphabet.count))] }
                }
            }
            _ = render(String(decoding: t, as: UTF8.self))   // must return, whatever it returns
        }
    }
}

/// Velocity 1.7's lexer states where they change a template's meaning, each answer recorded
/// from the 1.7 engine (the oracle in ../shared/oracle/vtl); the differential corpus holds these
/// and more. `nil` stands for "Velocity refuses the template".
@Suite struct LexerStateTests {
    func render(_ t: String) -> String? {
        try? renderMapping(try VTLTemplate(t), MappingInput(body: #"{"a": 1}"#)).output
    }

    @Test(arguments: [
        // A `$` straight after `$a.b` buries the after-a-dot state; "(" meets it again.
        ("$a.empty$l('", nil), (#"$a.empty\$l('"#, nil), ("$a.b$c(x", "(x"), ("$a.empty$l(", "true("),
        ("$a.empty$l()", nil), ("$a.b$c( ", nil), ("$a.b$c(,", nil), ("$a.b$c('x'", "('x'"),
        ("$a$l('", "('"), ("${a.b}$l('", "('"), ("$a.b()[0]$l('", "('"), ("$a.empty $l('", "true ('"),
        ("$a.b$c x('", " x('"), ("$a.b$!('", nil), ("$a.b$ ('", "$ ('"),
        // It outlasts directives and references that begin while it is buried.
        ("$a.b$c#if(true)$d#end('", nil), ("$a.b$c#if(true)x#end('", "x('"), ("#if(true)$a.b$c.d()(#end,", nil),
        ("#if(true)$a.b $c.d()(#end,", " (,"), ("$a.b #set($x = 1)('", nil), ("$a#set($x = 1)('", "('"),
        // "##" is no comment in the after-a-dot state.
        ("$a.b## c\nX", "## c\nX"), ("$a.b## $a.empty x\nX", "## true x\nX"), ("$a## c\nX", "X"),
        ("#if(false)#else$a.b$c.d()#end\n## c\n(", "## c\n("), ("$a.b##if(true)x#end", "x"), ("$a.b##", nil),
        ("$a[## c\n]", nil),
        // `@` belongs to a directive's name.
        ("#if(true)x#else@(#end", nil), ("#if(true)x#else@y#end", "x#else@y"), ("#if(false)x#else@y#end", ""),
        ("#else@", "#else@"), ("#if(true)x#end@\n#end", "x#end@\n"), ("#if(true)x#else @(#end", "x"),
        // Escaped unknown directives, block macros, blanks before "(".
        ("\\#l('", "\\#l('"), ("\\\\#l('", nil), ("\\#if('", "#if('"),
        ("#@foo($a.empty 'q')x#end y", "#@foo($a.empty 'q')x#end y"),
        ("#macro(foo $p)[$p|$bodyContent]#end#@foo('P')x#end", "[P|x]"),
        ("#if\n(true)x#end", "x"), ("#set\n($x = 1)$x", nil), ("#macro(foo)F#end#foo\nx", "F\nx"),
        // A directive in a call's arguments ends the call; a call cut off after a comma.
        ("#if(true)$a.b(#end \n", "("), ("#if(true)$a.b(#end,", nil), ("$a.b($n,", nil),
        // A [ after a reference is an index or an error; an index in the buried state is one.
        ("$a.b[x", nil), ("$a[]", nil), ("$a.b$c#if(true)[x]#end", nil), ("$a.b#macro(mm)[x]#end", ""),
        ("$a#* c *#[0]", nil), ("$a#[[x]]#[0]", nil), ("$a.b()#* c *#[0]", nil), ("$a#set($x=1)[0]", nil),
        ("$a #set($x = 1)(\"x", "(\"x"), ("x$[0]", "x$[0]"), ("$a$[0]", "$[0]"),
        // A String + null concatenates the null operand's literal.
        ("#set($r = $nope.foo() + 'x')$r", "$nope.foo()x"), ("#set($r = ([] - 1) + '')$r", "[] - 1"),
        ("#set($r = [] - 1 + '')[$r]", "[ 1 ]"), ("#set($r = 1 + $nope.foo())[$r]", "[]"),
    ] as [(String, String?)])
    func asVelocity17(_ c: (String, String?)) {
        #expect(render(c.0) == c.1, "\(c.0)")
    }
}

/// Text nodes point into their template's arena: a `#define` block that escapes the render (into
/// `$context.requestOverride`) keeps the template's text alive after the template is gone.
@Suite struct TemplateTextLifetimeTests {
    @Test func aDefineBlockOutlivesItsTemplate() throws {
        let input = MappingInput(body: "{}")
        var overrides: VTLMap?
        do {
            let t = try VTLTemplate("#define($d)hello from a block#end#set($context.requestOverride.header.X = $d)ok")
            let r = try renderMapping(t, input)
            #expect(r.output == "ok")
            overrides = r.overrides
        }
        // Allocate and free text of other templates meanwhile, to reuse freed memory if any.
        for k in 0..<50 { _ = try VTLTemplate(String(repeating: "garbage \(k) ", count: 20)) }
        guard case .map(let request)? = overrides?.get("requestOverride"),
              case .map(let header)? = request.get("header"),
              case .object(let block)? = header.get("X") else {
            Issue.record("the block did not reach the overrides")
            return
        }
        let text = try block.call("toString", [], VTLRenderer())
        #expect(text?.javaString == "hello from a block")
    }

    @Test func evaluatedTemplatesLiveAsLongAsTheRender() throws {
        let t = try VTLTemplate("#evaluate('#macro(m)from a macro#end#define($b)from a block#end')#m() $b")
        #expect(try renderMapping(t, MappingInput(body: "{}")).output == "from a macro from a block")
    }
}
