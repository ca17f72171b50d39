/// The parsed form of a template: Velocity 1.7's language as API Gateway runs it. Text and
/// references, the nodes rendering meets most, are held inline (copying one retains one
/// object); the rest are boxed, which keeps every node one word and a tag.
enum VTLNode {
    /// Literal text, as the bytes it writes (kept by the template's arena: copying a text
    /// node costs no reference counting).
    case text(VTLText)
    case reference(VTLReference)
    /// `\$ref` with `count` backslashes before it.
    indirect case escapedReference(Int, VTLReference)
    indirect case set(VTLReference, VTLExpr)
    indirect case ifChain([(VTLExpr, [VTLNode])], [VTLNode]?)
    indirect case foreach(Int, VTLExpr, [VTLNode])
    case breakLoop
    case stop
    indirect case macroCall(String, [VTLExpr], String)
    /// `#@name(args) body #end`: the macro's name, arguments, body and the source.
    indirect case blockMacroCall(String, [VTLExpr], [VTLNode], String)
    indirect case define(Int, [VTLNode])
    indirect case evaluate(VTLExpr)
}

/// Bytes of a template's text, owned by its `VTLTextArena`.
struct VTLText {
    let start: UnsafePointer<UInt8>
    let count: Int
    var buffer: UnsafeBufferPointer<UInt8> { UnsafeBufferPointer(start: start, count: count) }
}

/// Owns the text of a template's nodes, which point into it: the template holds its arena,
/// and so does whatever a render lets escape that can still reach the nodes (a `#define`
/// block). Written while parsing, read-only after.
final class VTLTextArena: @unchecked Sendable {
    private var blocks: [UnsafeMutablePointer<UInt8>] = []

    func store(_ bytes: [UInt8]) -> VTLText {
        let p = UnsafeMutablePointer<UInt8>.allocate(capacity: max(bytes.count, 1))
        p.initialize(from: bytes, count: bytes.count)
        blocks.append(p)
        return VTLText(start: UnsafePointer(p), count: bytes.count)
    }

    deinit {
        for p in blocks { p.deallocate() }
    }
}

/// A class: rendering reaches a reference on every use, and a struct here would be copied
/// (three strings and an array retained and released) each time.
final class VTLReference {
    enum Part {
        case property(String)
        case method(String, [VTLExpr])
        case index(VTLExpr)
    }
    /// The root name, interned (VTLSymbols).
    let rootID: Int
    let parts: [Part]
    /// The reference as written, e.g. `$!{a.b}`: what an unrendered reference prints.
    let source: String

    /// `$foreach.hasNext` and its kin, recognised once here so a loop reads them without
    /// comparing names on every iteration.
    let loopProperty: ForeachScope.Property?

    init(rootID: Int, parts: [Part], source: String) {
        self.rootID = rootID
        self.parts = parts
        self.source = source
        if rootID == VTLSymbols.foreach, parts.count == 1, case .property(let name) = parts[0] {
            loopProperty = ForeachScope.Property(rawValue: name)
        } else {
            loopProperty = nil
        }
    }
}

/// An expression. References and numbers, the operands rendering meets most, are held inline;
/// the rest are boxed, which keeps every expression one word and a tag.
enum VTLExpr {
    case reference(VTLReference)
    indirect case string(String)
    indirect case interpolated([VTLNode])
    case int(Int)
    indirect case bigInt(String)
    case double(Double)
    case bool(Bool)
    indirect case list([VTLExpr])
    indirect case map([(VTLExpr, VTLExpr)])
    indirect case range(VTLExpr, VTLExpr)
    indirect case not(VTLExpr)
    indirect case binary(VTLOperator, VTLExpr, VTLExpr)
    /// `a + b`, with each operand's literal text: Velocity 1.7 concatenates a String with the
    /// literal of an operand that is null (`$nope.foo() + 'x'` is "$nope.foo()x").
    indirect case plus(VTLExpr, VTLExpr, String, String)
}

/// A binary operator (`and`, `eq`, … are spellings of the same ones).
enum VTLOperator {
    case or, and, equal, notEqual, less, lessOrEqual, greater, greaterOrEqual
    case plus, minus, times, divide, remainder
}

struct VTLMacro {
    /// Parameter names, interned.
    var params: [Int]
    var body: [VTLNode]
}

/// A template that could not be parsed, with Velocity-style position.
public struct VTLParseError: Error, CustomStringConvertible {
    public var message: String
    public var line: Int
    public var column: Int
    public var description: String { "\(message) at line \(line), column \(column)" }
}

/// The states of Velocity 1.7's lexer that outlast a token at block level. Its lexer keeps a
/// stack of states and pops it unevenly: a `$` pops only a finished plain reference, so a `$`
/// straight after `$a.b` (left in the after-a-dot state) buries that state under the new
/// reference, and the lexer returns to it when the new reference ends, or when a directive or
/// comment that began there ends. Back in it, a `(` opens a method's arguments (a `'` there
/// starts a string literal that must close; spaces, `,` and `)` are parse errors) and `##` is
/// not a comment. Velocity's behaviour, recorded against its 1.7 engine in
/// Tests/GatehouseMappingTests (LexerStateTests) and the differential corpus.
enum LexState {
    /// Plain text.
    case text
    /// After `$name`, `$name[i]` or a method call's `)`: the next character ends the reference.
    case reference
    /// After `.name` (or `.name[i]`): a `(` here opens arguments.
    case refModifier
    /// Inside the arguments opened at block level: only words, numbers, strings and
    /// references read as text; anything else is an error.
    case refArgs
}

/// A recursive-descent parser over the template's UTF-8 bytes.
struct VTLParser {
    let b: [UInt8]
    var i = 0
    var macros: [String: VTLMacro] = [:]
    /// What the template reads: root names, and `root.member` for the first member — so a
    /// caller builds only the objects a template can reach. `#evaluate` can reach anything.
    var reads: Set<String> = []
    var dynamic = false
    /// Nesting of blocks and expressions. A template can come from a request (`#evaluate`), so
    /// nesting is bounded rather than left to the stack.
    var depth = 0
    /// Velocity 1.7's lexer state between block-level tokens, where it changes what the text
    /// after a reference means (see `LexState`), and the states it returns to.
    var lexState: LexState = .text
    var lexStack: [LexState] = []
    /// Where the last expression parsed reads in the source, as Velocity's node literal: a
    /// reference as written, a parenthesised expression without its parentheses, an arithmetic
    /// node from after its operator through the blanks after its right operand.
    var lastLiteral: Range<Int> = 0..<0
    static let maxDepth = 200

    mutating func enter() throws(VTLParseError) {
        depth += 1
        if depth > VTLParser.maxDepth { throw error("the template nests deeper than \(VTLParser.maxDepth)") }
    }

    static let directiveNames: Set<String> = [
        "set", "if", "elseif", "else", "end", "foreach", "break", "stop", "macro", "define", "evaluate",
        "include", "parse",
    ]

    /// Where the nodes' text is kept (shared with the parsers of interpolated strings).
    var arena: VTLTextArena

    init(_ text: String, arena: VTLTextArena = VTLTextArena()) {
        b = Array(text.utf8)
        self.arena = arena
    }

    func error(_ message: String, at pos: Int? = nil) -> VTLParseError {
        let p = min(pos ?? i, b.count)
        var line = 1, col = 1
        for k in 0..<p {
            if b[k] == 0x0A { line += 1; col = 1 } else { col += 1 }
        }
        return VTLParseError(message: message, line: line, column: col)
    }

    // MARK: - template level

    mutating func parseTemplate() throws(VTLParseError) -> [VTLNode] {
        let (nodes, term) = try parseBlock(until: [])
        if let term { throw error("unexpected #\(term)") }
        return nodes
    }

    /// Parses nodes until one of the block keywords in `until` (`end`, `else`, `elseif`);
    /// returns the keyword met (its directive already consumed, its condition not).
    mutating func parseBlock(until: Set<String>) throws(VTLParseError) -> ([VTLNode], String?) {
        try enter()
        defer { depth -= 1 }
        var nodes: [VTLNode] = []
        var text: [UInt8] = []
        // Where the current text run began after the last non-text token (reference,
        // directive, comment): spaces and tabs there start a new token, and before #set they
        // belong to the directive (Velocity 1.7's lexer).
        var runStart = 0
        func flush() {
            if !text.isEmpty {
                nodes.append(.text(arena.store(text)))
                text = []
            }
            runStart = 0
        }
        while i < b.count {
            let c = b[i]
            if c == 0x24 {  // $
                beginReference()
                if let ref = try parseReference() {
                    flush()
                    nodes.append(.reference(ref))
                    endReference(ref)
                    if takeBraceAfterReference(&text) { runStart = text.count }
                    continue
                }
                // Velocity's lexer cannot end on a lone $.
                if i == b.count - 1 { throw error("Lexical error: encountered <EOF>", at: b.count) }
                text.append(c)
                i += 1
                if b[i] == 0x21 {  // `$!` is one token
                    text.append(0x21)
                    i += 1
                } else if b[i] == 0x5B {
                    // `$[` is text: no reference began, so no index follows one.
                    lexPop()
                }
                continue
            }
            if c == 0x5C {  // backslashes
                var n = 0
                while i + n < b.count && b[i + n] == 0x5C { n += 1 }
                let save = i
                i += n
                if i < b.count && b[i] == 0x24 {
                    // `\$a` is lexed as a reference token: it pops and pushes as `$` does.
                    let state = (lexState, lexStack.count)
                    beginReference()
                    if let ref = try parseReference() {
                        flush()
                        nodes.append(.escapedReference(n, ref))
                        endReference(ref)
                        if takeBraceAfterReference(&text) { runStart = text.count }
                        continue
                    }
                    (lexState, _) = state
                    lexStack.removeSubrange(state.1...)
                }
                i = save
                if try readInState(&text) { continue }
                i = save + n
                if i < b.count && b[i] == 0x23, let word = directiveWord(at: i) {
                    let known = isDirective(word.name)
                    if n % 2 == 1 && !known {
                        // `\#word` with an odd count is one escaped-directive token for any word:
                        // printed as written, and what follows it is plain text.
                        text.append(contentsOf: repeatElement(0x5C, count: n))
                        text.append(contentsOf: b[i..<word.end])
                        i = word.end
                        runStart = text.count
                        continue
                    }
                    if known {
                        // \#directive: half the backslashes, then the directive as text (odd) or live (even).
                        text.append(contentsOf: repeatElement(0x5C, count: n / 2))
                        if n % 2 == 1 {
                            text.append(contentsOf: b[i..<word.end])
                            i = word.end
                            runStart = text.count
                            continue
                        }
                        // Even: fall through to the directive below with the backslashes written.
                        continue
                    }
                }
                if i == b.count - 1 && (b[i] == 0x23 || b[i] == 0x24) {
                    throw error("Lexical error: encountered <EOF>", at: b.count)
                }
                text.append(contentsOf: repeatElement(0x5C, count: n))
                continue
            }
            if c == 0x23 {  // #
                let next: UInt8 = i + 1 < b.count ? b[i + 1] : 0
                if next == 0x23 {  // ## comment, through the end of the line
                    switch lexState {
                    case .refModifier:
                        // Not a comment in this state: the first # pops it as a directive's would,
                        // the second starts a directive if a name follows; else both are text.
                        lexPop()
                        if let word = directiveWord(at: i + 1),
                           isDirective(word.name) {
                            i += 1
                        } else {
                            text.append(0x23)
                            i += 1
                        }
                        continue
                    case .refArgs:
                        throw error("Encountered \"##\" in a method's arguments", at: i)
                    case .reference:
                        lexPop()
                    case .text:
                        break
                    }
                    i += 2
                    while i < b.count && b[i] != 0x0A && b[i] != 0x0D { i += 1 }
                    if i < b.count && b[i] == 0x0D { i += 1 }
                    if i < b.count && b[i] == 0x0A { i += 1 }
                    runStart = text.count
                    continue
                }
                if next == 0x2A {  // #* block comment *#
                    guard let end = find([0x2A, 0x23], from: i + 2) else { throw error("unterminated comment") }
                    i = end + 2
                    runStart = text.count
                    continue
                }
                if next == 0x5B && i + 2 < b.count && b[i + 2] == 0x5B {  // #[[ literal ]]#
                    guard let end = find([0x5D, 0x5D, 0x23], from: i + 3) else { throw error("unterminated #[[") }
                    text.append(contentsOf: b[(i + 3)..<end])
                    i = end + 3
                    runStart = text.count
                    continue
                }
                if let word = directiveWord(at: i) {
                    let name = word.name
                    // Spaces before #set that start a token belong to the directive.
                    if name == "set" && runStart <= text.count
                        && text[runStart...].allSatisfy({ $0 == 0x20 || $0 == 0x09 }) {
                        text.removeSubrange(runStart...)
                    } else if name == "set", case .reference(let r)? = nodes.last, r.source.hasSuffix(")") || r.source.hasSuffix("]") {
                        // After `$a.b()` or `$a[0]`, one word of text is still the reference's
                        // token to Velocity's lexer, so the spaces after it go with #set.
                        var k = 0
                        while k < text.count && (isAlpha(text[k]) || isDigit(text[k]) || text[k] == 0x5F) { k += 1 }
                        if k > 0 && text[k...].allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { text.removeSubrange(k...) }
                    }
                    // A directive pops a reference's state once (#set never does).
                    if name != "set" && (lexState == .reference || lexState == .refModifier) { lexPop() }
                    if until.contains(name) || (name == "end" || name == "else" || name == "elseif") {
                        guard until.contains(name) else { throw error("#\(name) without a matching block", at: i) }
                        flush()
                        i = word.end
                        if name != "elseif" { eatNewline() }
                        return (nodes, name)
                    }
                    if let node = try parseDirective(name, word: word) {
                        flush()
                        if case .text(let t) = node { text.append(contentsOf: t.buffer) } else { nodes.append(node) }
                        runStart = text.count
                        continue
                    }
                    // `#word` that is not a directive here: text.
                    text.append(contentsOf: b[i..<word.end])
                    i = word.end
                    continue
                }
                if lexState == .refArgs { throw error("Lexical error: encountered \"#\" in a method's arguments", at: i) }
                // Nor on a lone #.
                if i == b.count - 1 { throw error("Lexical error: encountered <EOF>", at: b.count) }
                _ = try readInState(&text)
                text.append(c)
                i += 1
                continue
            }
            if try readInState(&text) { continue }
            text.append(c)
            i += 1
        }
        flush()
        return (nodes, nil)
    }

    // MARK: - lexer state

    mutating func lexPop() {
        lexState = lexStack.popLast() ?? .text
    }

    /// A `$` (or `\\$`): it pops a finished plain reference, then pushes the state it is in.
    mutating func beginReference() {
        if lexState == .reference { lexPop() }
        lexStack.append(lexState)
        lexState = .reference
    }

    /// A } straight after a reference is a token of its own in Velocity's lexer (it pops), so
    /// spaces after it start a new token (before #set, eaten). True when one was taken.
    mutating func takeBraceAfterReference(_ text: inout [UInt8]) -> Bool {
        guard i < b.count && b[i] == 0x7D && lexState != .text && lexState != .refArgs else { return false }
        text.append(0x7D)
        i += 1
        lexPop()
        return true
    }

    /// The state a reference leaves: `}` pops; `.name` (indexes after it aside) leaves the
    /// after-a-dot state; anything else (a name, an index, a call's `)`) the reference state.
    mutating func endReference(_ ref: VTLReference) {
        if ref.source.utf8.last == 0x7D {
            lexPop()
            return
        }
        lexState = .reference
        for part in ref.parts.reversed() {
            if case .index = part { continue }
            if case .property = part { lexState = .refModifier }
            break
        }
    }

    /// Reads the character at `i` in the lexer's state; true when that consumed it (text, in
    /// `text`), false when it is plain text to the caller. A state the character ends is
    /// popped first, and the character read again in the state below.
    mutating func readInState(_ text: inout [UInt8]) throws(VTLParseError) -> Bool {
        let c = b[i]
        while true {
            switch lexState {
            case .text:
                return false
            case .reference, .refModifier:
                // Spaces before #set belong to its token, which does not pop.
                if c == 0x20 || c == 0x09 {
                    var k = i
                    while k < b.count && (b[k] == 0x20 || b[k] == 0x09) { k += 1 }
                    if k < b.count && b[k] == 0x23, directiveWord(at: k)?.name == "set" { return false }
                }
                if lexState == .reference && (isAlpha(c) || c == 0x5F) {
                    // After a call's `)` or an index's `]`, a word is a reference of its own to
                    // Velocity's parser, named by the word: it prints the word, and `.name` parts
                    // after it (an empty call included) print nothing.
                    while i < b.count && (isAlpha(b[i]) || isDigit(b[i]) || b[i] == 0x5F || b[i] == 0x2D) {
                        text.append(b[i])
                        i += 1
                    }
                    while i + 1 < b.count && b[i] == 0x2E && (isAlpha(b[i + 1]) || b[i + 1] == 0x5F) {
                        i += 1
                        while i < b.count && (isAlpha(b[i]) || isDigit(b[i]) || b[i] == 0x5F || b[i] == 0x2D) { i += 1 }
                        lexState = .refModifier
                        if i + 1 < b.count && b[i] == 0x28 && b[i + 1] == 0x29 {
                            i += 2
                            lexState = .reference
                        }
                    }
                    return true
                }
                // A [ in either state opens an index, which at block level belongs to no
                // reference (after a comment, a #set or a call's `)`, too).
                if c == 0x5B { throw error("Encountered \"[\": an index here belongs to no reference", at: i) }
                if lexState == .refModifier {
                    if c == 0x28 {  // ( opens arguments
                        text.append(c)
                        i += 1
                        lexState = .refArgs
                        return true
                    }
                    if isAlpha(c) || c == 0x5F || c == 0x7B {
                        // A bare word is a reference of its own name to the parser; { is text.
                        text.append(c)
                        i += 1
                        while c != 0x7B && i < b.count && (isAlpha(b[i]) || isDigit(b[i]) || b[i] == 0x5F || b[i] == 0x2D) {
                            text.append(b[i])
                            i += 1
                        }
                        return true
                    }
                }
                lexPop()
            case .refArgs:
                try readInArguments(&text)
                return true
            }
        }
    }

    /// A character in arguments opened at block level (Velocity parses them as text): words,
    /// numbers and closed string literals are written as they stand; `.name` switches back to
    /// the after-a-dot state; anything else is an error.
    mutating func readInArguments(_ text: inout [UInt8]) throws(VTLParseError) {
        let c = b[i]
        let start = i
        if c == 0x22 || c == 0x27 {
            var k = i + 1
            while k < b.count && b[k] != c { k += 1 }
            guard k < b.count else { throw error("Lexical error: encountered <EOF> in a string literal", at: b.count) }
            i = k + 1
        } else if isDigit(c) || (c == 0x2D && i + 1 < b.count && isDigit(b[i + 1])) {
            i += 1
            while i < b.count && isDigit(b[i]) { i += 1 }
        } else if isAlpha(c) || c == 0x5F {
            while i < b.count && (isAlpha(b[i]) || isDigit(b[i]) || b[i] == 0x5F || b[i] == 0x2D) { i += 1 }
            let word = b[start..<i]
            if word.elementsEqual("true".utf8) || word.elementsEqual("false".utf8) {
                throw error("Encountered \"\(String(decoding: word, as: UTF8.self))\" in a method's arguments", at: start)
            }
        } else if c == 0x2E && i + 1 < b.count && (isAlpha(b[i + 1]) || b[i + 1] == 0x5F) {
            // `.name`: the word before it and this one make one reference to the parser, which
            // prints only the first; the state is the after-a-dot one again.
            i += 1
            while i < b.count && (isAlpha(b[i]) || isDigit(b[i]) || b[i] == 0x5F || b[i] == 0x2D) { i += 1 }
            lexState = .refModifier
            return
        } else {
            throw error("Encountered \"\(String(decoding: [c], as: UTF8.self))\" in a method's arguments", at: i)
        }
        text.append(contentsOf: b[start..<i])
    }

    /// Whether `#name` is a directive or a macro defined so far (else it is text).
    func isDirective(_ name: String) -> Bool {
        VTLParser.directiveNames.contains(name) || macros[name] != nil
    }

    /// `#name` or `#{name}` at `p`: the name and where it ends.
    func directiveWord(at p: Int) -> (name: String, end: Int, braced: Bool)? {
        var k = p + 1
        var braced = false
        if k < b.count && b[k] == 0x7B { braced = true; k += 1 }
        let start = k
        // Velocity 1.7 reads `@` and `_` as letters of a directive's name: `#else@` is a
        // directive named "else@" (unknown, so text), not `#else` and "@".
        guard k < b.count, isAlpha(b[k]) || b[k] == 0x40 || b[k] == 0x5F else { return nil }
        while k < b.count && (isAlpha(b[k]) || isDigit(b[k]) || b[k] == 0x5F || b[k] == 0x40) { k += 1 }
        let name = String(decoding: b[start..<k], as: UTF8.self)
        if braced {
            guard k < b.count && b[k] == 0x7D else { return nil }
            k += 1
        }
        return (name, k, braced)
    }

    /// Spaces or tabs, then one line break: eaten after a directive, as Velocity 1.7 does.
    mutating func eatNewline() {
        var k = i
        while k < b.count && (b[k] == 0x20 || b[k] == 0x09) { k += 1 }
        if k < b.count && b[k] == 0x0A { i = k + 1; return }
        if k < b.count && b[k] == 0x0D {
            i = k + 1
            if i < b.count && b[i] == 0x0A { i += 1 }
        }
    }

    func find(_ needle: [UInt8], from: Int) -> Int? {
        guard needle.count > 0, b.count >= needle.count else { return nil }
        var k = from
        while k + needle.count <= b.count {
            if b[k] == needle[0] && Array(b[k..<(k + needle.count)]) == needle { return k }
            k += 1
        }
        return nil
    }

    // MARK: - directives

    /// The directive at `word`, or nil when `#name` is just text here.
    mutating func parseDirective(_ name: String, word: (name: String, end: Int, braced: Bool)) throws(VTLParseError) -> VTLNode? {
        let start = i
        switch name {
        case "set":
            i = word.end
            guard openParen(lineBreaks: false) else {
                // `#set` then a line break then `(` is no #set to Velocity: a call of "set".
                return try parseMacroCall(name, start: start)
            }
            skipSpace()
            guard i < b.count, b[i] == 0x24, let lhs = try parseReference() else { throw error("#set needs a reference before =") }
            skipSpace()
            guard i < b.count, b[i] == 0x3D else { throw error("#set needs =") }
            i += 1
            let rhs = try parseExpression()
            try closeParen("#set")
            eatNewline()
            return .set(lhs, rhs)
        case "if":
            i = word.end
            guard openParen() else { i = start; return nil }
            let cond = try parseExpression()
            try closeParen("#if")
            eatNewline()
            var branches: [(VTLExpr, [VTLNode])] = []
            var elseBody: [VTLNode]?
            var current = cond
            while true {
                let (body, term) = try parseBlock(until: ["elseif", "else", "end"])
                branches.append((current, body))
                guard let term else { throw error("#if without #end", at: start) }
                if term == "end" { break }
                if term == "else" {
                    let (eb, t2) = try parseBlock(until: ["end"])
                    guard t2 == "end" else { throw error("#else without #end", at: start) }
                    elseBody = eb
                    break
                }
                // elseif
                guard openParen() else { throw error("#elseif needs a condition") }
                current = try parseExpression()
                try closeParen("#elseif")
                eatNewline()
            }
            return .ifChain(branches, elseBody)
        case "foreach":
            i = word.end
            guard openParen() else { i = start; return nil }
            skipSpace()
            guard i < b.count, b[i] == 0x24, let v = try parseReference(), v.parts.isEmpty else {
                throw error("#foreach needs a loop variable")
            }
            skipSpace()
            // Velocity 1.7 takes any word here ("in" by convention); with none, the loop
            // never runs.
            let hasWord = identifier() != nil
            let parsedIterable = try parseExpression()
            let iterable: VTLExpr = hasWord ? parsedIterable : .list([])
            try closeParen("#foreach")
            eatNewline()
            let (body, term) = try parseBlock(until: ["end"])
            guard term == "end" else { throw error("#foreach without #end", at: start) }
            return .foreach(v.rootID, iterable, body)
        case "break":
            i = word.end
            return .breakLoop
        case "stop":
            i = word.end
            return .stop
        case "macro":
            i = word.end
            guard openParen() else { i = start; return nil }
            skipSpace()
            guard let macroName = identifier() else { throw error("#macro needs a name") }
            var params: [Int] = []
            while true {
                skipSpace()
                if i < b.count && b[i] == 0x2C { i += 1; continue }
                if i < b.count && b[i] == 0x24, let p = try parseReference(), p.parts.isEmpty {
                    params.append(p.rootID)
                    continue
                }
                break
            }
            try closeParen("#macro")
            eatNewline()
            let (body, term) = try parseBlock(until: ["end"])
            guard term == "end" else { throw error("#macro without #end", at: start) }
            // Velocity 1.7: the first definition of a name wins.
            if macros[macroName] == nil { macros[macroName] = VTLMacro(params: params, body: body) }
            return .text(arena.store([]))   // defined: nothing to render here
        case "define":
            i = word.end
            guard openParen() else { i = start; return nil }
            skipSpace()
            guard i < b.count, b[i] == 0x24, let v = try parseReference(), v.parts.isEmpty else {
                throw error("#define needs a reference")
            }
            try closeParen("#define")
            eatNewline()
            let (body, term) = try parseBlock(until: ["end"])
            guard term == "end" else { throw error("#define without #end", at: start) }
            return .define(v.rootID, body)
        case "evaluate":
            dynamic = true
            i = word.end
            guard openParen() else { i = start; return nil }
            let e = try parseExpression()
            try closeParen("#evaluate")
            eatNewline()
            return .evaluate(e)
        case "include", "parse":
            i = word.end
            guard openParen() else { i = start; return nil }
            throw error("#\(name) is not available: templates cannot read files")
        default:
            i = word.end
            return try parseMacroCall(name, start: start)
        }
    }

    /// `#name( args )` at `start` (`i` after the name): a macro call. `#@name( args ) … #end`
    /// is a block macro call, whose body the macro reads as `$bodyContent`. A defined macro
    /// may be called without parentheses; any other `#name` without them is text (nil).
    mutating func parseMacroCall(_ name: String, start: Int) throws(VTLParseError) -> VTLNode? {
        let block = name.utf8.first == 0x40
        let macroName = block ? String(name.dropFirst()) : name
        guard openParen() else {
            if !block, macros[name] != nil { return .macroCall(name, [], "#" + name) }
            i = start
            return nil
        }
        var args: [VTLExpr] = []
        while true {
            skipSpace()
            if i < b.count && b[i] == 0x29 { break }
            if i < b.count && b[i] == 0x2C { i += 1; continue }
            args.append(try parsePrimary())
        }
        try closeParen("#\(name)")
        let sourceEnd = i
        if block {
            let (body, term) = try parseBlock(until: ["end"])
            guard term == "end" else { throw error("#\(name) without #end", at: start) }
            // An undefined block macro prints as written, body and #end included.
            return .blockMacroCall(macroName, args, body, String(decoding: b[start..<i], as: UTF8.self))
        }
        eatNewline()
        // An undefined macro prints as written, line break included.
        let source = String(decoding: b[start..<sourceEnd], as: UTF8.self)
        let eaten = String(decoding: b[sourceEnd..<i], as: UTF8.self)
        return .macroCall(name, args, source + eaten)
    }

    /// Optional blanks then `(`: spaces, tabs and line breaks, as Velocity 1.7 allows between a
    /// directive's name and its arguments (only spaces and tabs for #set).
    mutating func openParen(lineBreaks: Bool = true) -> Bool {
        var k = i
        while k < b.count && (b[k] == 0x20 || b[k] == 0x09 || (lineBreaks && (b[k] == 0x0A || b[k] == 0x0D))) { k += 1 }
        guard k < b.count && b[k] == 0x28 else { return false }
        i = k + 1
        return true
    }

    mutating func closeParen(_ what: String) throws(VTLParseError) {
        skipSpace()
        guard i < b.count, b[i] == 0x29 else { throw error("\(what): expected )") }
        i += 1
    }

    mutating func skipSpace() {
        while i < b.count && (b[i] == 0x20 || b[i] == 0x09 || b[i] == 0x0A || b[i] == 0x0D) { i += 1 }
    }

    mutating func matchWord(_ w: String) -> Bool {
        let u = Array(w.utf8)
        guard i + u.count <= b.count, Array(b[i..<(i + u.count)]) == u else { return false }
        if i + u.count < b.count && (isAlpha(b[i + u.count]) || isDigit(b[i + u.count]) || b[i + u.count] == 0x5F) { return false }
        i += u.count
        return true
    }

    mutating func identifier() -> String? {
        guard i < b.count, isAlpha(b[i]) || b[i] == 0x5F else { return nil }
        let start = i
        i += 1
        while i < b.count && (isAlpha(b[i]) || isDigit(b[i]) || b[i] == 0x5F || b[i] == 0x2D) { i += 1 }
        return String(decoding: b[start..<i], as: UTF8.self)
    }

    // MARK: - references

    /// `$name…`, `$!name…`, `${…}`, `$!{…}` at `i`; nil (and `i` unchanged) when `$` does
    /// not start a reference here.
    mutating func parseReference() throws(VTLParseError) -> VTLReference? {
        let start = i
        guard i < b.count, b[i] == 0x24 else { return nil }
        var k = i + 1
        if k < b.count && b[k] == 0x21 { k += 1 }   // `$!`: silent (a null prints nothing either way)
        var formal = false
        if k < b.count && b[k] == 0x7B { formal = true; k += 1 }
        i = k
        guard let root = identifier() else { i = start; return nil }
        var parts: [VTLReference.Part] = []
        while i < b.count {
            if b[i] == 0x2E, i + 1 < b.count, isAlpha(b[i + 1]) || b[i + 1] == 0x5F {
                let save = i
                i += 1
                let name = identifier()!
                if i < b.count && b[i] == 0x28 {
                    let paren = i
                    i += 1
                    var args: [VTLExpr] = []
                    while true {
                        skipSpace()
                        guard i < b.count else {
                            // An unclosed call at the end reads as a property and text (with an
                            // argument read already, Velocity's parser fails instead).
                            if !args.isEmpty { throw error("Encountered <EOF> in the arguments of \(name)", at: i) }
                            i = paren
                            parts.append(.property(name))
                            break
                        }
                        if b[i] == 0x29 { i += 1; parts.append(.method(name, args)); break }
                        if !args.isEmpty {
                            guard b[i] == 0x2C else { throw error("expected , or ) in the arguments of \(name)") }
                            i += 1
                            skipSpace()
                        }
                        if i < b.count && b[i] == 0x23 {
                            // A directive inside the arguments: the call is no call to Velocity's
                            // parser, but `.name` and text whose "(" opened arguments (the
                            // block level reads on in that state).
                            i = paren
                            parts.append(.property(name))
                            break
                        }
                        args.append(try parsePrimary())
                    }
                    if i == paren { break }
                } else {
                    parts.append(.property(name))
                }
                continue
            }
            if b[i] == 0x5B {
                // A [ straight after a reference opens an index to Velocity's lexer: what is not
                // one is an error, never text.
                let save = i
                i += 1
                skipSpace()
                if i + 1 < b.count && b[i] == 0x23 && b[i + 1] == 0x23 {
                    throw error("Lexical error: encountered \"##\" in an index", at: i)
                }
                guard let index = try? parsePrimary() else { throw error("Encountered a bad index", at: save) }
                skipSpace()
                guard i < b.count, b[i] == 0x5D else { throw error("Encountered a bad index: expected ]", at: i) }
                i += 1
                parts.append(.index(index))
                continue
            }
            break
        }
        if formal {
            guard i < b.count, b[i] == 0x7D else { throw error("expected } to close ${", at: i) }
            i += 1
        }
        let source = String(decoding: b[start..<i], as: UTF8.self)
        reads.insert(root)
        switch parts.first {
        case .property(let m)?, .method(let m, _)?: reads.insert(root + "." + m)
        default: break
        }
        return VTLReference(rootID: VTLSymbols.id(root), parts: parts, source: source)
    }

    // MARK: - expressions

    mutating func parseExpression() throws(VTLParseError) -> VTLExpr {
        try parseOr()
    }

    mutating func parseOr() throws(VTLParseError) -> VTLExpr {
        var left = try parseAnd()
        while true {
            skipSpace()
            if match("||") || matchWord("or") { left = .binary(.or, left, try parseAnd()) } else { return left }
        }
    }

    mutating func parseAnd() throws(VTLParseError) -> VTLExpr {
        var left = try parseEquality()
        while true {
            skipSpace()
            if match("&&") || matchWord("and") { left = .binary(.and, left, try parseEquality()) } else { return left }
        }
    }

    mutating func parseEquality() throws(VTLParseError) -> VTLExpr {
        var left = try parseRelational()
        while true {
            skipSpace()
            if match("==") || matchWord("eq") { left = .binary(.equal, left, try parseRelational()) }
            else if match("!=") || matchWord("ne") { left = .binary(.notEqual, left, try parseRelational()) }
            else { return left }
        }
    }

    mutating func parseRelational() throws(VTLParseError) -> VTLExpr {
        var left = try parseAdditive()
        while true {
            skipSpace()
            if match("<=") || matchWord("le") { left = .binary(.lessOrEqual, left, try parseAdditive()) }
            else if match(">=") || matchWord("ge") { left = .binary(.greaterOrEqual, left, try parseAdditive()) }
            else if match("<") || matchWord("lt") { left = .binary(.less, left, try parseAdditive()) }
            else if match(">") || matchWord("gt") { left = .binary(.greater, left, try parseAdditive()) }
            else { return left }
        }
    }

    mutating func parseAdditive() throws(VTLParseError) -> VTLExpr {
        var left = try parseMultiplicative()
        while true {
            let leftLiteral = lastLiteral
            skipSpace()
            if match("+") {
                let opEnd = i
                let right = try parseMultiplicative()
                left = .plus(left, right, literal(leftLiteral), literal(lastLiteral))
                endArithmetic(opEnd)
            } else if i < b.count && b[i] == 0x2D && !(i + 1 < b.count && b[i + 1] == 0x2D) {
                i += 1
                let opEnd = i
                left = .binary(.minus, left, try parseMultiplicative())
                endArithmetic(opEnd)
            } else { return left }
        }
    }

    mutating func parseMultiplicative() throws(VTLParseError) -> VTLExpr {
        var left = try parseUnary()
        while true {
            skipSpace()
            let op: VTLOperator
            if match("*") { op = .times }
            else if match("/") { op = .divide }
            else if match("%") { op = .remainder }
            else { return left }
            let opEnd = i
            left = .binary(op, left, try parseUnary())
            endArithmetic(opEnd)
        }
    }

    /// An arithmetic node's literal: from after its operator through the blanks that follow
    /// its right operand (where Velocity's parser node begins and ends).
    mutating func endArithmetic(_ opEnd: Int) {
        skipSpace()
        lastLiteral = opEnd..<i
    }

    func literal(_ r: Range<Int>) -> String {
        String(decoding: b[r.clamped(to: 0..<b.count)], as: UTF8.self)
    }

    mutating func parseUnary() throws(VTLParseError) -> VTLExpr {
        try enter()
        defer { depth -= 1 }
        skipSpace()
        if i < b.count && b[i] == 0x21 && !(i + 1 < b.count && b[i + 1] == 0x3D) {
            i += 1
            return .not(try parseUnary())
        }
        if matchWord("not") { return .not(try parseUnary()) }
        return try parsePrimary()
    }

    mutating func match(_ s: String) -> Bool {
        let u = Array(s.utf8)
        guard i + u.count <= b.count, Array(b[i..<(i + u.count)]) == u else { return false }
        i += u.count
        return true
    }

    mutating func parsePrimary() throws(VTLParseError) -> VTLExpr {
        try enter()
        defer { depth -= 1 }
        skipSpace()
        guard i < b.count else { throw error("unexpected end of template in an expression") }
        let c = b[i]
        switch c {
        case 0x28:  // ( expr )
            i += 1
            let inner = i
            let e = try parseExpression()
            skipSpace()
            guard i < b.count, b[i] == 0x29 else { throw error("expected )") }
            lastLiteral = inner..<i
            i += 1
            return e
        case 0x22, 0x27:
            return try parseString()
        case 0x24:
            let start = i
            guard let r = try parseReference() else { throw error("expected a reference") }
            lastLiteral = start..<i
            return .reference(r)
        case 0x5B:
            return try parseListOrRange()
        case 0x7B:
            return try parseMap()
        default:
            if isDigit(c) || (c == 0x2D && i + 1 < b.count && isDigit(b[i + 1])) { return try parseNumber() }
            if matchWord("true") { return .bool(true) }
            if matchWord("false") { return .bool(false) }
            throw error("unexpected character '\(String(decoding: [c], as: UTF8.self))' in an expression")
        }
    }

    mutating func parseNumber() throws(VTLParseError) -> VTLExpr {
        let start = i
        if b[i] == 0x2D { i += 1 }
        while i < b.count && isDigit(b[i]) { i += 1 }
        var isFloat = false
        if i + 1 < b.count && b[i] == 0x2E && isDigit(b[i + 1]) {
            isFloat = true
            i += 1
            while i < b.count && isDigit(b[i]) { i += 1 }
        }
        if i < b.count && (b[i] == 0x65 || b[i] == 0x45) {
            var k = i + 1
            if k < b.count && (b[k] == 0x2B || b[k] == 0x2D) { k += 1 }
            if k < b.count && isDigit(b[k]) {
                isFloat = true
                i = k
                while i < b.count && isDigit(b[i]) { i += 1 }
            }
        }
        let text = String(decoding: b[start..<i], as: UTF8.self)
        if isFloat { return .double(Double(text) ?? 0) }
        if let n = Int(text) { return .int(n) }
        return .bigInt(text)
    }

    /// `"…"` (interpolated when it holds `$` or `#`; `""` is a quote) or `'…'` (literal;
    /// `''` is a quote).
    mutating func parseString() throws(VTLParseError) -> VTLExpr {
        let q = b[i]
        let start = i
        i += 1
        var content: [UInt8] = []
        while true {
            guard i < b.count else { throw error("unterminated string", at: start) }
            if b[i] == q {
                if i + 1 < b.count && b[i + 1] == q { content.append(q); i += 2; continue }
                i += 1
                break
            }
            content.append(b[i])
            i += 1
        }
        let s = String(decoding: content, as: UTF8.self)
        if q == 0x22 && (content.contains(0x24) || content.contains(0x23)) {
            var sub = VTLParser(s, arena: arena)
            sub.macros = macros
            let nodes = try sub.parseTemplate()
            for (k, m) in sub.macros where macros[k] == nil { macros[k] = m }
            reads.formUnion(sub.reads)
            dynamic = dynamic || sub.dynamic
            return .interpolated(nodes)
        }
        return .string(s)
    }

    mutating func parseListOrRange() throws(VTLParseError) -> VTLExpr {
        i += 1  // [
        skipSpace()
        if i < b.count && b[i] == 0x5D { i += 1; return .list([]) }
        let first = try parsePrimary()
        skipSpace()
        if match("..") {
            let last = try parsePrimary()
            skipSpace()
            guard i < b.count, b[i] == 0x5D else { throw error("expected ] after a range") }
            i += 1
            return .range(first, last)
        }
        var items = [first]
        while true {
            skipSpace()
            guard i < b.count else { throw error("unterminated list") }
            if b[i] == 0x5D { i += 1; return .list(items) }
            guard b[i] == 0x2C else { throw error("expected , or ] in a list") }
            i += 1
            items.append(try parsePrimary())
        }
    }

    mutating func parseMap() throws(VTLParseError) -> VTLExpr {
        i += 1  // {
        var pairs: [(VTLExpr, VTLExpr)] = []
        while true {
            skipSpace()
            guard i < b.count else { throw error("unterminated map") }
            if b[i] == 0x7D { i += 1; return .map(pairs) }
            if !pairs.isEmpty {
                guard b[i] == 0x2C else { throw error("expected , or } in a map") }
                i += 1
            }
            let k = try parsePrimary()
            skipSpace()
            guard i < b.count, b[i] == 0x3A else { throw error("expected : in a map") }
            i += 1
            let v = try parsePrimary()
            pairs.append((k, v))
        }
    }
}

@inline(__always) func isAlpha(_ c: UInt8) -> Bool { (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) }
@inline(__always) func isDigit(_ c: UInt8) -> Bool { c >= 0x30 && c <= 0x39 }
