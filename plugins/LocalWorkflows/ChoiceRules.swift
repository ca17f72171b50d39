import GatehouseCalendar
import GatehouseJSON

/// A Choice state's rules, compiled once at registration (ASL, JSONPath query language).
struct ChoiceState: Sendable {
    struct Rule: Sendable {
        let condition: ChoiceCondition
        let next: String
    }

    let rules: [Rule]
    let defaultNext: String?
    let inputPath: StateMachineDefinition.PathSetting
    let outputPath: StateMachineDefinition.PathSetting

    /// Every state this Choice can go to.
    var targets: [String] { rules.map(\.next) + (defaultNext.map { [$0] } ?? []) }

    /// The state to go to for `input` (the effective input, after InputPath).
    func next(for input: JSONValue, context: JSONValue) throws(StateFailure) -> String {
        for rule in rules where try rule.condition.holds(input, context: context) {
            return rule.next
        }
        guard let defaultNext else {
            // The error name is ASL's; the cause text is this engine's own (AWS's exact cause
            // is not documented, and no AWS account was at hand to observe it).
            throw StateFailure(error: "States.NoChoiceMatched",
                               cause: "No Choice rule matched the input \(input.jsonText) and the state has no Default.")
        }
        return defaultNext
    }
}

/// One condition of a Choice rule: a comparison of the value at `Variable`, or a Boolean
/// combination of nested conditions.
indirect enum ChoiceCondition: Sendable {
    case and([ChoiceCondition])
    case or([ChoiceCondition])
    case not(ChoiceCondition)
    case compare(variable: JSONPath, op: ChoiceOperator, operand: Operand)

    enum Operand: Sendable {
        case value(JSONValue)
        /// The `…Path` form: the operand is read from the input when the rule runs.
        case path(JSONPath)
    }

    func holds(_ input: JSONValue, context: JSONValue) throws(StateFailure) -> Bool {
        switch self {
        case .and(let all):
            for c in all where try !c.holds(input, context: context) { return false }
            return true
        case .or(let any):
            for c in any where try c.holds(input, context: context) { return true }
            return false
        case .not(let c):
            return try !c.holds(input, context: context)
        case .compare(let variable, let op, let operand):
            let value = variable.evaluate(variable.isContext ? context : input)
            if op == .isPresent {
                guard case .value(.bool(let expected)) = operand else { return false }
                return (value != nil) == expected
            }
            guard let value else { throw Self.invalidPath(variable) }
            let other: JSONValue
            switch operand {
            case .value(let v):
                other = v
            case .path(let p):
                guard let v = p.evaluate(p.isContext ? context : input) else { throw Self.invalidPath(p) }
                other = v
            }
            return op.compare(value, other)
        }
    }

    /// A condition path that names nothing in the input is a runtime error (except IsPresent).
    static func invalidPath(_ path: JSONPath) -> StateFailure {
        StateFailure(error: "States.Runtime",
                     cause: "Invalid path '\(path.text)': The choice state's condition path references an invalid value.")
    }
}

/// The comparison operators of a Choice rule (their `…Path` forms share the operator).
enum ChoiceOperator: String, Sendable {
    case stringEquals = "StringEquals"
    case stringLessThan = "StringLessThan"
    case stringGreaterThan = "StringGreaterThan"
    case stringLessThanEquals = "StringLessThanEquals"
    case stringGreaterThanEquals = "StringGreaterThanEquals"
    case stringMatches = "StringMatches"
    case numericEquals = "NumericEquals"
    case numericLessThan = "NumericLessThan"
    case numericGreaterThan = "NumericGreaterThan"
    case numericLessThanEquals = "NumericLessThanEquals"
    case numericGreaterThanEquals = "NumericGreaterThanEquals"
    case booleanEquals = "BooleanEquals"
    case timestampEquals = "TimestampEquals"
    case timestampLessThan = "TimestampLessThan"
    case timestampGreaterThan = "TimestampGreaterThan"
    case timestampLessThanEquals = "TimestampLessThanEquals"
    case timestampGreaterThanEquals = "TimestampGreaterThanEquals"
    case isNull = "IsNull"
    case isPresent = "IsPresent"
    case isNumeric = "IsNumeric"
    case isString = "IsString"
    case isBoolean = "IsBoolean"
    case isTimestamp = "IsTimestamp"

    /// Whether the operator has a `…Path` form (the type tests do not; StringMatches does not).
    var hasPathForm: Bool {
        switch self {
        case .stringMatches, .isNull, .isPresent, .isNumeric, .isString, .isBoolean, .isTimestamp: return false
        default: return true
        }
    }

    enum OperandKind { case string, number, boolean, timestamp }

    /// What a literal operand must be.
    var operandKind: OperandKind {
        switch self {
        case .stringEquals, .stringLessThan, .stringGreaterThan, .stringLessThanEquals, .stringGreaterThanEquals, .stringMatches:
            return .string
        case .numericEquals, .numericLessThan, .numericGreaterThan, .numericLessThanEquals, .numericGreaterThanEquals:
            return .number
        case .timestampEquals, .timestampLessThan, .timestampGreaterThan, .timestampLessThanEquals, .timestampGreaterThanEquals:
            return .timestamp
        case .booleanEquals, .isNull, .isPresent, .isNumeric, .isString, .isBoolean, .isTimestamp:
            return .boolean
        }
    }

    /// `value` (at Variable) against `other` (the operand). A value of the wrong type makes a
    /// comparison false, not an error.
    func compare(_ value: JSONValue, _ other: JSONValue) -> Bool {
        switch self {
        case .stringEquals, .stringLessThan, .stringGreaterThan, .stringLessThanEquals, .stringGreaterThanEquals:
            guard case .string(let a) = value, case .string(let b) = other else { return false }
            // Java's String.compareTo: UTF-16 code units.
            let order: Int = a.utf16.elementsEqual(b.utf16) ? 0 : (a.utf16.lexicographicallyPrecedes(b.utf16) ? -1 : 1)
            return holds(order)
        case .stringMatches:
            guard case .string(let a) = value, case .string(let pattern) = other else { return false }
            return Self.wildcardMatches(Array(a.unicodeScalars), Array(pattern.unicodeScalars))
        case .numericEquals, .numericLessThan, .numericGreaterThan, .numericLessThanEquals, .numericGreaterThanEquals:
            guard let a = Self.number(value), let b = Self.number(other) else { return false }
            return holds(a == b ? 0 : (a < b ? -1 : 1))
        case .booleanEquals:
            guard case .bool(let a) = value, case .bool(let b) = other else { return false }
            return a == b
        case .timestampEquals, .timestampLessThan, .timestampGreaterThan, .timestampLessThanEquals, .timestampGreaterThanEquals:
            guard case .string(let a) = value, case .string(let b) = other,
                  let ta = Timestamp(a), let tb = Timestamp(b) else { return false }
            return holds(ta == tb ? 0 : (ta < tb ? -1 : 1))
        case .isNull, .isPresent, .isNumeric, .isString, .isBoolean, .isTimestamp:
            guard case .bool(let expected) = other else { return false }
            return typeTest(value) == expected
        }
    }

    private func typeTest(_ value: JSONValue) -> Bool {
        switch (self, value) {
        case (.isNull, .null), (.isNumeric, .int), (.isNumeric, .double), (.isString, .string), (.isBoolean, .bool): return true
        case (.isTimestamp, .string(let s)): return Timestamp(s) != nil
        case (.isPresent, _): return true
        default: return false
        }
    }

    /// Whether an ordering result (-1, 0, 1) satisfies this operator.
    private func holds(_ order: Int) -> Bool {
        switch self {
        case .stringEquals, .numericEquals, .timestampEquals: return order == 0
        case .stringLessThan, .numericLessThan, .timestampLessThan: return order < 0
        case .stringGreaterThan, .numericGreaterThan, .timestampGreaterThan: return order > 0
        case .stringLessThanEquals, .numericLessThanEquals, .timestampLessThanEquals: return order <= 0
        case .stringGreaterThanEquals, .numericGreaterThanEquals, .timestampGreaterThanEquals: return order >= 0
        default: return false
        }
    }

    private static func number(_ v: JSONValue) -> Double? {
        switch v {
        case .int(let n): return Double(n)
        case .double(let d): return d
        default: return nil
        }
    }

    /// StringMatches: `*` matches any run of characters; `\*` is a literal star and `\\` a
    /// literal backslash. Iterative, with one backtrack point (no exponential cases).
    static func wildcardMatches(_ s: [Unicode.Scalar], _ pattern: [Unicode.Scalar]) -> Bool {
        // Tokens: a literal scalar or a star.
        var tokens: [Unicode.Scalar?] = []
        var i = 0
        while i < pattern.count {
            if pattern[i] == "\\", i + 1 < pattern.count, pattern[i + 1] == "*" || pattern[i + 1] == "\\" {
                tokens.append(pattern[i + 1])
                i += 2
            } else if pattern[i] == "*" {
                tokens.append(nil)
                i += 1
            } else {
                tokens.append(pattern[i])
                i += 1
            }
        }
        var si = 0, ti = 0
        var star = -1, mark = 0
        while si < s.count {
            if ti < tokens.count, let t = tokens[ti], t == s[si] {
                si += 1
                ti += 1
            } else if ti < tokens.count, tokens[ti] == nil {
                star = ti
                mark = si
                ti += 1
            } else if star >= 0 {
                ti = star + 1
                mark += 1
                si = mark
            } else {
                return false
            }
        }
        while ti < tokens.count, tokens[ti] == nil { ti += 1 }
        return ti == tokens.count
    }
}

/// An RFC 3339 timestamp as Step Functions accepts it (`2016-03-14T01:59:00Z`, with optional
/// fractional seconds and a `Z` or `±hh:mm` offset; an uppercase `T`), compared as an instant.
struct Timestamp: Comparable, Sendable {
    /// Seconds since the epoch, and nanoseconds within the second.
    let seconds: Int64
    let nanos: Int64

    init?(_ text: String) {
        let b = Array(text.utf8)
        func digits(_ at: Int, _ count: Int) -> Int64? {
            guard at + count <= b.count else { return nil }
            var n: Int64 = 0
            for k in at..<(at + count) {
                guard b[k] >= 0x30 && b[k] <= 0x39 else { return nil }
                n = n * 10 + Int64(b[k] - 0x30)
            }
            return n
        }
        guard b.count >= 20, let year = digits(0, 4), b[4] == 0x2D, let month = digits(5, 2), b[7] == 0x2D,
              let day = digits(8, 2), b[10] == 0x54, let hour = digits(11, 2), b[13] == 0x3A,
              let minute = digits(14, 2), b[16] == 0x3A, let second = digits(17, 2) else { return nil }
        guard (1...12).contains(month), day >= 1, day <= Self.daysIn(month: month, year: year),
              hour <= 23, minute <= 59, second <= 59 else { return nil }
        var i = 19
        var nanos: Int64 = 0
        if i < b.count, b[i] == 0x2E {
            i += 1
            let start = i
            while i < b.count, b[i] >= 0x30 && b[i] <= 0x39 { i += 1 }
            guard i > start, i - start <= 9 else { return nil }
            for k in start..<i { nanos = nanos * 10 + Int64(b[k] - 0x30) }
            for _ in 0..<(9 - (i - start)) { nanos *= 10 }
        }
        guard i < b.count else { return nil }
        var offset: Int64 = 0
        if b[i] == 0x5A {
            i += 1
        } else if b[i] == 0x2B || b[i] == 0x2D {
            guard let oh = digits(i + 1, 2), i + 3 < b.count, b[i + 3] == 0x3A, let om = digits(i + 4, 2),
                  oh <= 23, om <= 59 else { return nil }
            offset = (oh * 3600 + om * 60) * (b[i] == 0x2D ? -1 : 1)
            i += 6
        } else {
            return nil
        }
        guard i == b.count else { return nil }
        seconds = CivilDate.days(year: year, month: month, day: day) * 86_400 + hour * 3600 + minute * 60 + second - offset
        self.nanos = nanos
    }

    static func < (a: Timestamp, b: Timestamp) -> Bool {
        (a.seconds, a.nanos) < (b.seconds, b.nanos)
    }

    static func daysIn(month: Int64, year: Int64) -> Int64 {
        switch month {
        case 2: return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }
}

/// Checks and compiles a Choice state's `Choices` at registration, with definition errors in
/// the engine's `CODE: detail at /pointer` shape.
enum ChoiceCompiler {
    static func rules(_ value: JSONValue?, at state: String) throws(WorkflowDefinitionError) -> [ChoiceState.Rule] {
        guard let value else {
            throw WorkflowDefinitionError("SCHEMA_VALIDATION_FAILED: These fields are required: [Choices] at \(state)")
        }
        guard case .array(let items) = value else {
            throw WorkflowDefinitionError("SCHEMA_VALIDATION_FAILED: The value for the field 'Choices' must be an ARRAY at \(state)/Choices")
        }
        guard !items.isEmpty else {
            throw WorkflowDefinitionError("SCHEMA_VALIDATION_FAILED: The field 'Choices' must have at least one Choice Rule at \(state)/Choices")
        }
        var rules: [ChoiceState.Rule] = []
        for (i, item) in items.enumerated() {
            let at = "\(state)/Choices/\(i)"
            let (condition, next) = try rule(item, at: at, topLevel: true)
            guard let next else { preconditionFailure("a top-level rule is compiled with its Next") }
            rules.append(ChoiceState.Rule(condition: condition, next: next))
        }
        return rules
    }

    /// One rule: a comparison (`Variable` and one operator), or `And`/`Or`/`Not`. Only a
    /// top-level rule has (and must have) `Next`; the depth of nesting is bounded.
    static func rule(_ value: JSONValue, at: String, topLevel: Bool, depth: Int = 0) throws(WorkflowDefinitionError) -> (ChoiceCondition, String?) {
        guard depth < 32 else {
            throw WorkflowDefinitionError("SCHEMA_VALIDATION_FAILED: Choice Rules are nested too deeply at \(at)")
        }
        guard case .object(let fields) = value else {
            throw WorkflowDefinitionError("SCHEMA_VALIDATION_FAILED: A Choice Rule must be an OBJECT at \(at)")
        }
        var next: String?
        if topLevel {
            switch fields["Next"] {
            case .string(let n)?: next = n
            case nil: throw WorkflowDefinitionError("SCHEMA_VALIDATION_FAILED: These fields are required: [Next] at \(at)")
            default: throw WorkflowDefinitionError("SCHEMA_VALIDATION_FAILED: The value for the field 'Next' must be a STRING at \(at)/Next")
            }
        } else if fields["Next"] != nil {
            throw WorkflowDefinitionError("SCHEMA_VALIDATION_FAILED: Field 'Next' is not supported in a nested Choice Rule at \(at)")
        }
        let combinators = ["And", "Or", "Not"].filter { fields[$0] != nil }
        let comparisons = fields.keys.filter { operatorOf($0) != nil }
        for key in fields.keys where key != "Next" && key != "Comment" && key != "Variable"
            && !combinators.contains(key) && operatorOf(key) == nil {
            throw WorkflowDefinitionError("SCHEMA_VALIDATION_FAILED: Field '\(key)' is not supported at \(at)")
        }
        guard combinators.count + comparisons.count == 1 else {
            throw WorkflowDefinitionError("SCHEMA_VALIDATION_FAILED: A Choice Rule must have exactly one of And, Or, Not or a comparison operator at \(at)")
        }
        if let combinator = combinators.first {
            if fields["Variable"] != nil {
                throw WorkflowDefinitionError("SCHEMA_VALIDATION_FAILED: Field 'Variable' is not supported with '\(combinator)' at \(at)")
            }
            let here = "\(at)/\(combinator)"
            if combinator == "Not" {
                return (.not(try rule(fields["Not"]!, at: here, topLevel: false, depth: depth + 1).0), next)
            }
            guard case .array(let items)? = fields[combinator], !items.isEmpty else {
                throw WorkflowDefinitionError("SCHEMA_VALIDATION_FAILED: The value for the field '\(combinator)' must be a non-empty ARRAY at \(here)")
            }
            var conditions: [ChoiceCondition] = []
            for (i, item) in items.enumerated() {
                conditions.append(try rule(item, at: "\(here)/\(i)", topLevel: false, depth: depth + 1).0)
            }
            return (combinator == "And" ? .and(conditions) : .or(conditions), next)
        }
        guard case .string(let variableText)? = fields["Variable"] else {
            throw WorkflowDefinitionError(fields["Variable"] == nil
                ? "SCHEMA_VALIDATION_FAILED: These fields are required: [Variable] at \(at)"
                : "SCHEMA_VALIDATION_FAILED: The value for the field 'Variable' must be a STRING at \(at)/Variable")
        }
        guard let variable = JSONPath(variableText) else {
            throw WorkflowDefinitionError(JSONPath.unsupported("Variable", at: "\(at)/Variable"))
        }
        let key = comparisons[0]
        let (op, isPath) = operatorOf(key)!
        let operandValue = fields[key]!
        let here = "\(at)/\(key)"
        if isPath {
            guard case .string(let text) = operandValue else {
                throw WorkflowDefinitionError("SCHEMA_VALIDATION_FAILED: The value for the field '\(key)' must be a STRING at \(here)")
            }
            guard let path = JSONPath(text) else { throw WorkflowDefinitionError(JSONPath.unsupported(key, at: here)) }
            return (.compare(variable: variable, op: op, operand: .path(path)), next)
        }
        let fits: Bool
        switch (op.operandKind, operandValue) {
        case (.string, .string), (.number, .int), (.number, .double), (.boolean, .bool): fits = true
        case (.timestamp, .string(let t)):
            guard Timestamp(t) != nil else {
                throw WorkflowDefinitionError("SCHEMA_VALIDATION_FAILED: The value for the field '\(key)' must be a valid RFC3339 timestamp at \(here)")
            }
            fits = true
        default: fits = false
        }
        guard fits else {
            let kind: String
            switch op.operandKind {
            case .string, .timestamp: kind = "STRING"
            case .number: kind = "NUMBER"
            case .boolean: kind = "BOOLEAN"
            }
            throw WorkflowDefinitionError("SCHEMA_VALIDATION_FAILED: The value for the field '\(key)' must be a \(kind) at \(here)")
        }
        return (.compare(variable: variable, op: op, operand: .value(operandValue)), next)
    }

    /// The operator a rule's key names, and whether it is the `…Path` form.
    static func operatorOf(_ key: String) -> (ChoiceOperator, Bool)? {
        if let op = ChoiceOperator(rawValue: key) { return (op, false) }
        if key.hasSuffix("Path"), let op = ChoiceOperator(rawValue: String(key.dropLast(4))), op.hasPathForm { return (op, true) }
        return nil
    }
}
