import GatehouseJSON

/// Why rendering stopped with an error (AWS answers 500 for these).
public struct VTLRenderError: Error, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Limits as API Gateway has them.
public struct VTLLimits: Sendable {
    /// `#foreach` stops after this many iterations (API Gateway's quota: 1000).
    public var foreachIterations = 1000
    /// The rendered output may not grow past this (API Gateway's payload limit: 10 MB).
    public var outputBytes = 10 * 1024 * 1024
    /// Nesting of macros, #evaluate and #define renders.
    public var depth = 64

    public init() {}
}

/// A parsed template, cached and reused: parsing happens once per template text.
public final class VTLTemplate: @unchecked Sendable {
    let nodes: [VTLNode]
    let macros: [String: VTLMacro]
    /// The nodes' text.
    let arena: VTLTextArena
    public let source: String
    /// Whether the template can read `input.params`, `context`, `stageVariables` (what the
    /// parser saw it name; `#evaluate` can reach anything): a render builds only those.
    public let readsParams: Bool
    public let readsContext: Bool
    public let readsStageVariables: Bool

    /// API Gateway's mapping template size limit.
    public static let maxTemplateBytes = 300 * 1024

    public init(_ source: String) throws(VTLParseError) {
        if source.utf8.count > VTLTemplate.maxTemplateBytes {
            throw VTLParseError(message: "the mapping template is larger than \(VTLTemplate.maxTemplateBytes) bytes", line: 1, column: 1)
        }
        var p = VTLParser(source)
        nodes = try p.parseTemplate()
        macros = p.macros
        arena = p.arena
        self.source = source
        let reads = p.reads, dynamic = p.dynamic
        func can(_ name: String) -> Bool { dynamic || reads.contains(name) }
        readsParams = can("input.params")
        readsContext = can("context")
        readsStageVariables = can("stageVariables")
    }
}

/// Control flow out of nested rendering.
enum VTLFlow: Error {
    case breakLoop
    case stop
    case fail(VTLRenderError)
}

/// Renders templates against a context. One renderer per render (it holds the variables).
public final class VTLRenderer {
    /// Top-level variables (`$input`, `$util`, `$context`, `$stageVariables`, #set names), by
    /// interned name.
    ///
    /// A slot says whether it is set rather than holding an optional: the runtime destroys an
    /// array of optionals element by element through the generic `Optional` witness (about 160
    /// instructions each, callgrind), and a render's slots run to the highest name interned.
    var slots: [Slot] = []
    struct Slot {
        var value: VTLValue
        var isSet: Bool
    }
    var macros: [String: VTLMacro] = [:]
    var out: [UInt8] = []
    let limits: VTLLimits
    var depth = 0
    var foreachStack: [ForeachScope] = []
    /// The templates this render has rendered (the one given and any `#evaluate` parsed): their
    /// nodes' text must outlive what refers to it.
    var templates: [VTLTemplate] = []

    public init(limits: VTLLimits = VTLLimits()) {
        self.limits = limits
    }

    @inline(__always)
    func get(_ id: Int) -> VTLValue? {
        id < slots.count && slots[id].isSet ? slots[id].value : nil
    }

    @inline(__always)
    func set(_ id: Int, _ value: VTLValue?) {
        if id >= slots.count {
            if value == nil { return }
            slots.append(contentsOf: repeatElement(Slot(value: .null, isSet: false), count: id + 1 - slots.count))
        }
        slots[id] = value.map { Slot(value: $0, isSet: true) } ?? Slot(value: .null, isSet: false)
    }

    /// Renders `template`; `#stop` ends it early without an error.
    public func render(_ template: VTLTemplate) throws(VTLRenderError) -> String {
        templates.append(template)
        for (k, m) in template.macros where macros[k] == nil { macros[k] = m }
        out.removeAll(keepingCapacity: true)
        // Output is usually about the template's size: room for twice that saves most regrowth.
        out.reserveCapacity(min(2 * template.source.utf8.count, limits.outputBytes))
        do throws(VTLFlow) {
            try renderNodes(template.nodes)
        } catch {
            switch error {
            case .stop: break
            case .breakLoop: break   // #break outside a loop ends the template, as Velocity 1.7 does
            case .fail(let e): throw e
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    // MARK: - nodes

    func write(_ s: String) throws(VTLFlow) {
        // The bytes at once (a copy, not a walk over the view); a small string's are spilled
        // to the stack first.
        var s = s
        s.withUTF8 { out.append(contentsOf: $0) }
        try checkOutputLimit()
    }

    @inline(__always)
    func checkOutputLimit() throws(VTLFlow) {
        if out.count > limits.outputBytes {
            throw VTLFlow.fail(VTLRenderError("the rendered template is larger than \(limits.outputBytes) bytes"))
        }
    }

    func renderNodes(_ nodes: [VTLNode]) throws(VTLFlow) {
        for node in nodes { try renderNode(node) }
    }

    func renderNode(_ node: VTLNode) throws(VTLFlow) {
        switch node {
        case .text(let t):
            out.append(contentsOf: t.buffer)
            try checkOutputLimit()
        case .reference(let r):
            let v = try evaluate(r)
            // API Gateway renders a null reference as empty text (not its source, as stock
            // Velocity does).
            switch v {
            case .null: return
            case .string(let s): try write(s)
            case .int(let n):
                // Digits straight into the output, without a String.
                appendDecimal(n, to: &out)
                try checkOutputLimit()
            case .double(let d):
                appendJavaDouble(d, to: &out)
                try checkOutputLimit()
            default: try write(try display(v))
            }
        case .escapedReference(let n, let r):
            let v = try evaluate(r)
            if case .null = v {
                try write(String(repeating: "\\", count: n) + r.source)
                return
            }
            try write(String(repeating: "\\", count: n / 2))
            if n % 2 == 1 { try write(r.source) } else { try write(try display(v)) }
        case .set(let lhs, let rhs):
            let v = try evaluate(rhs)
            if case .null = v { return }   // directive.set.null.allowed = false
            try assign(lhs, v)
        case .ifChain(let branches, let elseBody):
            for (cond, body) in branches where try truth(cond) {
                try renderNodes(body)
                return
            }
            if let elseBody { try renderNodes(elseBody) }
        case .foreach(let name, let iterable, let body):
            try renderForeach(name, iterable, body)
        case .breakLoop:
            throw VTLFlow.breakLoop
        case .stop:
            throw VTLFlow.stop
        case .macroCall(let name, let args, let source):
            guard let m = macros[name] else {
                try write(source)
                return
            }
            try callMacro(m, args)
        case .blockMacroCall(let name, let args, let body, let source):
            guard let m = macros[name] else {
                try write(source)
                return
            }
            // The body, rendered where the macro reads `$bodyContent`.
            let id = VTLSymbols.bodyContent
            let saved = get(id)
            set(id, .object(DefineBlock(body: body, owners: templates)))
            defer { set(id, saved) }
            try callMacro(m, args)
        case .define(let name, let body):
            set(name, .object(DefineBlock(body: body, owners: templates)))
        case .evaluate(let e):
            let v = try evaluate(e)
            if case .null = v { return }
            let text = v.javaString
            let t: VTLTemplate
            do { t = try VTLTemplate(text) } catch {
                throw VTLFlow.fail(VTLRenderError("#evaluate: \(error)"))
            }
            for (k, m) in t.macros where macros[k] == nil { macros[k] = m }
            // Its macros and blocks may be used after it is rendered: it lives as long as the render.
            templates.append(t)
            try nested { () throws(VTLFlow) in try renderNodes(t.nodes) }
        }
    }

    /// How a value is written: Java's toString, with `#define` blocks rendered in place.
    func display(_ v: VTLValue) throws(VTLFlow) -> String {
        if case .object(let o) = v, let block = o as? DefineBlock {
            return try renderToString(block.body)
        }
        return v.javaString
    }

    func nested(_ body: () throws(VTLFlow) -> Void) throws(VTLFlow) {
        depth += 1
        defer { depth -= 1 }
        if depth > limits.depth { throw VTLFlow.fail(VTLRenderError("templates nest deeper than \(limits.depth)")) }
        try body()
    }

    func renderToString(_ nodes: [VTLNode]) throws(VTLFlow) -> String {
        let saved = out
        out = []
        defer { out = saved }
        try nested { () throws(VTLFlow) in try renderNodes(nodes) }
        return String(decoding: out, as: UTF8.self)
    }

    func renderForeach(_ name: Int, _ iterable: VTLExpr, _ body: [VTLNode]) throws(VTLFlow) {
        let collection = try evaluate(iterable)
        let items: [VTLValue]
        switch collection {
        case .list(let l): items = l.items
        case .map(let m): items = m.entries.map(\.1)   // a Map iterates its values
        default: items = []
        }
        let saved = get(name)
        let scope = ForeachScope(parent: foreachStack.last)
        foreachStack.append(scope)
        defer {
            foreachStack.removeLast()
            set(name, saved)
        }
        let count = min(items.count, limits.foreachIterations)
        var index = 0
        while index < count {
            scope.index = index
            scope.hasNext = index + 1 < count
            // Straight from the array into the variable's slot: one retain, no copy between.
            if name < slots.count { slots[name] = Slot(value: items[index], isSet: true) } else { set(name, items[index]) }
            do throws(VTLFlow) {
                try renderNodes(body)
            } catch {
                if case .breakLoop = error { break }
                throw error
            }
            index += 1
        }
    }

    func callMacro(_ m: VTLMacro, _ args: [VTLExpr]) throws(VTLFlow) {
        var values: [VTLValue] = []
        for a in args { values.append(try evaluate(a)) }
        var saved: [(Int, VTLValue?)] = []
        for (k, p) in m.params.enumerated() {
            saved.append((p, get(p)))
            set(p, k < values.count ? values[k] : nil)
        }
        defer { for (p, v) in saved { set(p, v) } }
        try nested { () throws(VTLFlow) in
            do throws(VTLFlow) {
                try renderNodes(m.body)
            } catch {
                if case .breakLoop = error { return }
                throw error
            }
        }
    }

    // MARK: - references

    /// An undefined top-level name reads as "" (API Gateway: a missing value equals "").
    func lookup(_ id: Int) -> VTLValue {
        if id <= VTLSymbols.velocityHasNext, let s = foreachStack.last {
            // The loop's own names, without a variable write per iteration.
            if id == VTLSymbols.foreach { return .object(s) }
            if id == VTLSymbols.velocityCount { return .int(s.index + 1) }
            return .bool(s.hasNext)
        }
        return get(id) ?? .string("")
    }

    func evaluate(_ r: VTLReference) throws(VTLFlow) -> VTLValue {
        if let p = r.loopProperty, let s = foreachStack.last { return s.value(p) }
        var v = lookup(r.rootID)
        for part in r.parts {
            switch part {
            case .property(let name):
                v = property(of: v, name)
            case .method(let name, let argExprs):
                var args: [VTLValue] = []
                for a in argExprs { args.append(try evaluate(a)) }
                v = try invoke(v, name, args)
            case .index(let e):
                let key = try evaluate(e)
                v = try index(v, key)
            }
        }
        return v
    }

    /// `$a.b`: a map's entry, else a getter. API Gateway's engine answers "" where Velocity
    /// would find nothing, so a property never reads as null.
    func property(of v: VTLValue, _ name: String) -> VTLValue {
        var result: VTLValue?
        switch v {
        case .map(let m):
            // The common case first: a key that is there, not "class".
            if name.utf8.count == 5 && name == "class" { return .string("class java.util.LinkedHashMap") }
            if let found = m.get(name), !found.isNull { return found }
            return .string("")
        case .object(let o):
            result = o.property(name, self)
        case .string(let s):
            switch name {
            case "empty": result = .bool(s.isEmpty)
            case "bytes": result = .string("[B@0")
            case "class": result = .string("class java.lang.String")
            default: break
            }
        case .list(let l):
            switch name {
            case "empty": result = .bool(l.items.isEmpty)
            case "class": result = .string(l.jsonArray ? "class net.minidev.json.JSONArray" : "class java.util.ArrayList")
            default: break
            }
        default:
            break
        }
        if let r = result, !r.isNull { return r }
        return .string("")
    }

    func index(_ v: VTLValue, _ key: VTLValue) throws(VTLFlow) -> VTLValue {
        switch v {
        case .list(let l):
            guard case .int(let n) = key else { return .null }
            guard n >= 0 && n < l.items.count else {
                throw VTLFlow.fail(VTLRenderError("index \(n) is out of bounds for a list of \(l.items.count)"))
            }
            // `[i]` calls get(i); API Gateway's engine turns a null result into "".
            return l.items[n].isNull ? .string("") : l.items[n]
        case .map(let m):
            return m.get(key.javaString).flatMap { $0.isNull ? nil : $0 } ?? .string("")
        default:
            return .null
        }
    }

    /// `#set($a.b.c = v)`: the last part is set on what the rest evaluates to.
    func assign(_ lhs: VTLReference, _ value: VTLValue) throws(VTLFlow) {
        if lhs.parts.isEmpty {
            set(lhs.rootID, value)
            return
        }
        var target = lookup(lhs.rootID)
        for part in lhs.parts.dropLast() {
            switch part {
            case .property(let name): target = property(of: target, name)
            case .method(let name, let argExprs):
                var args: [VTLValue] = []
                for a in argExprs { args.append(try evaluate(a)) }
                target = try invoke(target, name, args)
            case .index(let e): target = try index(target, try evaluate(e))
            }
        }
        switch (lhs.parts.last!, target) {
        case (.property(let name), .map(let m)):
            m.put(name, value)
        case (.index(let e), .map(let m)):
            m.put(try evaluate(e).javaString, value)
        case (.index(let e), .list(let l)):
            if case .int(let n) = try evaluate(e), n >= 0, n < l.items.count { l.items[n] = value }
        default:
            break   // Velocity logs and moves on
        }
    }

    // MARK: - expressions

    func evaluate(_ e: VTLExpr) throws(VTLFlow) -> VTLValue {
        switch e {
        case .reference(let r): return try evaluate(r)
        case .string(let s): return .string(s)
        case .interpolated(let nodes): return .string(try renderToString(nodes))
        case .int(let n): return .int(n)
        case .bigInt(let s): return .bigInt(s)
        case .double(let d): return .double(d)
        case .bool(let b): return .bool(b)
        case .list(let items):
            var out: [VTLValue] = []
            for x in items { out.append(try evaluate(x)) }
            return .list(VTLList(out))
        case .map(let pairs):
            let m = VTLMap()
            for (k, v) in pairs { m.put(try evaluate(k).javaString, try evaluate(v)) }
            return .map(m)
        case .range(let a, let z):
            guard case .int(let from) = try evaluate(a), case .int(let to) = try evaluate(z) else { return .null }
            let count = abs(to - from) + 1
            if count > 1_000_000 { throw VTLFlow.fail(VTLRenderError("a range of \(count) elements is too large")) }
            let step = from <= to ? 1 : -1
            return .list(VTLList(stride(from: from, through: to, by: step).map { .int($0) }))
        case .not(let x):
            return .bool(!(try truth(x)))
        case .plus(let l, let r, let leftLiteral, let rightLiteral):
            let a = try evaluate(l), z = try evaluate(r)
            // A String with null: the null side's literal text takes its place.
            if case .string = z, a.isNull { return try binary(.plus, .string(leftLiteral), z) }
            if case .string = a, z.isNull { return try binary(.plus, a, .string(rightLiteral)) }
            return try binary(.plus, a, z)
        case .binary(let op, let l, let r):
            switch op {
            case .and:
                guard try truth(l) else { return .bool(false) }
                return .bool(try truth(r))
            case .or:
                if try truth(l) { return .bool(true) }
                return .bool(try truth(r))
            default:
                return try binary(op, try evaluate(l), try evaluate(r))
            }
        }
    }

    /// An expression as a condition, the way Velocity 1.7's nodes evaluate: a reference by
    /// its value (null and false are false), `true`/`false`, comparisons and logic by their
    /// result — and every other literal or arithmetic node is false, so `#if('a')` and
    /// `#if(1 + 1)` are false while `#if(!'a')` is true.
    func truth(_ e: VTLExpr) throws(VTLFlow) -> Bool {
        switch e {
        case .reference(let r): return try evaluate(r).truthy
        case .bool(let b): return b
        case .not(let x): return !(try truth(x))
        case .binary(let op, let l, let r):
            switch op {
            case .and:
                guard try truth(l) else { return false }
                return try truth(r)
            case .or:
                if try truth(l) { return true }
                return try truth(r)
            case .equal, .notEqual, .less, .lessOrEqual, .greater, .greaterOrEqual: return try evaluate(e).truthy
            default: return false
            }
        default:
            return false
        }
    }

    func binary(_ op: VTLOperator, _ a: VTLValue, _ b: VTLValue) throws(VTLFlow) -> VTLValue {
        switch op {
        case .equal: return .bool(VTLRenderer.equals(a, b))
        case .notEqual: return .bool(!VTLRenderer.equals(a, b))
        case .less, .lessOrEqual, .greater, .greaterOrEqual:
            if let c = VTLRenderer.exactCompare(a, b) {
                switch op {
                case .less: return .bool(c < 0)
                case .lessOrEqual: return .bool(c <= 0)
                case .greater: return .bool(c > 0)
                default: return .bool(c >= 0)
                }
            }
            guard let x = a.numberAsDouble, let y = b.numberAsDouble else { return .bool(false) }
            switch op {
            case .less: return .bool(x < y)
            case .lessOrEqual: return .bool(x <= y)
            case .greater: return .bool(x > y)
            default: return .bool(x >= y)
            }
        case .plus:
            if a.isNumber && b.isNumber { return arithmetic(op, a, b) }
            // Velocity 1.7 concatenates when either side is a String; otherwise (true + false,
            // a list + a map) there is no sum.
            if a.isNull || b.isNull { return .null }
            var aString = false, bString = false
            if case .string = a { aString = true }
            if case .string = b { bString = true }
            guard aString || bString else { return .null }
            return .string(a.javaString + b.javaString)
        default:
            guard a.isNumber && b.isNumber else { return .null }
            return arithmetic(op, a, b)
        }
    }

    func arithmetic(_ op: VTLOperator, _ a: VTLValue, _ b: VTLValue) -> VTLValue {
        if case .int(let x) = a, case .int(let y) = b {
            switch op {
            case .plus: let (r, o) = x.addingReportingOverflow(y); return o ? .double(Double(x) + Double(y)) : .int(r)
            case .minus: let (r, o) = x.subtractingReportingOverflow(y); return o ? .double(Double(x) - Double(y)) : .int(r)
            case .times: let (r, o) = x.multipliedReportingOverflow(by: y); return o ? .double(Double(x) * Double(y)) : .int(r)
            case .divide: return y == 0 ? .null : .int(x / y)
            case .remainder: return y == 0 ? .null : .int(x % y)
            default: return .null
            }
        }
        guard let x = a.numberAsDouble, let y = b.numberAsDouble else { return .null }
        switch op {
        case .plus: return .double(x + y)
        case .minus: return .double(x - y)
        case .times: return .double(x * y)
        case .divide: return y == 0 ? .null : .double(x / y)
        case .remainder: return y == 0 ? .null : .double(x.truncatingRemainder(dividingBy: y))
        default: return .null
        }
    }

    /// Velocity 1.7's `==`: numbers by value, same-class values by `equals`, anything else by
    /// comparing their strings (so `'1' == 1`).
    /// Numbers compared exactly when one of them is a BigInteger or BigDecimal (as Velocity's
    /// MathUtils compares them); nil for any other pair.
    static func exactCompare(_ a: VTLValue, _ b: VTLValue) -> Int? {
        switch (a, b) {
        case (.bigInt, _), (.bigDecimal, _), (_, .bigInt), (_, .bigDecimal):
            guard a.isNumber, b.isNumber, let x = ExactDecimal(a.javaString),
                  let y = ExactDecimal(b.javaString) else { return nil }
            return x.compare(y)
        default:
            return nil
        }
    }

    static func equals(_ a: VTLValue, _ b: VTLValue, depth: Int = 0) -> Bool {
        if depth > 256 { return false }   // a self-containing list or map
        if let c = exactCompare(a, b) { return c == 0 }
        if let x = a.numberAsDouble, let y = b.numberAsDouble, a.isNumber, b.isNumber { return x == y }
        switch (a, b) {
        case (.null, .null): return true
        case (.null, _), (_, .null): return false
        case (.string(let x), .string(let y)): return x == y
        case (.bool(let x), .bool(let y)): return x == y
        case (.list(let x), .list(let y)):
            return x.items.count == y.items.count && zip(x.items, y.items).allSatisfy { javaEquals($0, $1, depth: depth + 1) }
        case (.map(let x), .map(let y)):
            return x.count == y.count && x.entries.allSatisfy { k, v in y.get(k).map { javaEquals(v, $0, depth: depth + 1) } ?? false }
        default:
            return a.javaString == b.javaString
        }
    }

    /// Java's `equals` (inside collections): numbers only equal when of the same kind.
    static func javaEquals(_ a: VTLValue, _ b: VTLValue, depth: Int = 0) -> Bool {
        switch (a, b) {
        case (.int(let x), .int(let y)): return x == y
        case (.double(let x), .double(let y)): return x == y
        case (.int, .double), (.double, .int): return false
        default: return equals(a, b, depth: depth)
        }
    }
}

/// `$foreach`: the loop's index, count, hasNext, first, last, parent.
final class ForeachScope: VTLObject {
    let parent: ForeachScope?
    var index = 0
    var hasNext = false

    init(parent: ForeachScope?) { self.parent = parent }

    /// The properties that read the loop's state.
    enum Property: String {
        case index, count, hasNext, first, last
    }

    func value(_ p: Property) -> VTLValue {
        switch p {
        case .index: return .int(index)
        case .count: return .int(index + 1)
        case .hasNext: return .bool(hasNext)
        case .first: return .bool(index == 0)
        case .last: return .bool(!hasNext)
        }
    }

    func property(_ name: String, _ r: VTLRenderer) -> VTLValue? {
        if let p = Property(rawValue: name) { return value(p) }
        switch name {
        case "parent": return parent.map { .object($0) } ?? .null
        case "topmost":
            var s = self
            while let p = s.parent { s = p }
            return .object(s)
        default: return nil
        }
    }

    func call(_ name: String, _ args: [VTLValue], _ r: VTLRenderer) throws -> VTLValue? {
        switch name {
        case "getIndex": return .int(index)
        case "getCount": return .int(index + 1)
        case "hasNext": return .bool(hasNext)
        case "isFirst": return .bool(index == 0)
        case "isLast": return .bool(!hasNext)
        case "getParent": return parent.map { .object($0) } ?? .null
        default: return nil
        }
    }

    func javaString(_ r: VTLRenderer?) -> String { "org.apache.velocity.runtime.directive.ForeachScope" }
    var javaClass: String { "ForeachScope" }
}

/// `#define($name)…#end`: rendered each time it is used.
final class DefineBlock: VTLObject {
    let body: [VTLNode]
    /// The templates whose text the body points into (a block can outlive the render).
    let owners: [VTLTemplate]
    init(body: [VTLNode], owners: [VTLTemplate]) {
        self.body = body
        self.owners = owners
    }
    func property(_ name: String, _ r: VTLRenderer) -> VTLValue? { nil }
    func call(_ name: String, _ args: [VTLValue], _ r: VTLRenderer) throws -> VTLValue? {
        if name == "toString" { return .string((try? r.renderToString(body)) ?? "") }
        return nil
    }
    func javaString(_ r: VTLRenderer?) -> String { (try? r?.renderToString(body)) ?? "" }
    var javaClass: String { "Block" }
}
