/// A position in a YAML source text. Lines and columns start at 1, as editors and compilers print
/// them; `column` counts Unicode scalars from the start of the line (libyaml's convention).
public struct Mark: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var line: Int
    public var column: Int

    public init(line: Int, column: Int) {
        self.line = line
        self.column = column
    }

    public static func < (lhs: Mark, rhs: Mark) -> Bool {
        (lhs.line, lhs.column) < (rhs.line, rhs.column)
    }

    public var description: String { "\(line):\(column)" }
}

/// How a scalar was written. Only `plain` scalars are resolved to null, booleans and numbers;
/// every quoted or block scalar is a string.
public enum ScalarStyle: Sendable, Hashable {
    case plain, singleQuoted, doubleQuoted, literal, folded
}

/// A scalar's text together with the way it was written, which decides its type.
///
/// Two scalars are equal when they have the same tag and resolve to the same value: `'a'` and
/// `a` are equal strings, `1` and `"1"` are not.
public struct Scalar: Sendable, Hashable {
    public var text: String
    public var style: ScalarStyle
    /// An explicit tag such as `!!str` or `tag:yaml.org,2002:int`, normalised to the long form.
    public var tag: String?

    public init(_ text: String, style: ScalarStyle = .plain, tag: String? = nil) {
        self.text = text
        self.style = style
        self.tag = tag
    }

    public static func == (lhs: Scalar, rhs: Scalar) -> Bool {
        guard lhs.tag == rhs.tag else { return false }
        switch (ResolvedScalar(lhs), ResolvedScalar(rhs)) {
        case (.float(let a), .float(let b)) where a.isNaN && b.isNaN: return true
        case (let a, let b): return a == b
        }
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(tag)
        switch ResolvedScalar(self) {
        case .float(let f) where f.isNaN: hasher.combine("nan")
        case let value: hasher.combine(value)
        }
    }
}

/// A YAML node with the position it was read from.
///
/// Equality and hashing compare content only (tags, scalar text and style, structure), never
/// marks, so a tree that was emitted and parsed again compares equal to the original.
public struct Node: Sendable, Hashable, CustomStringConvertible {
    public enum Content: Sendable, Hashable {
        case scalar(Scalar)
        case sequence([Node])
        /// Entries in source order. Keys are unique (the parser rejects duplicates).
        case mapping([Pair])
    }

    public struct Pair: Sendable, Hashable {
        public var key: Node
        public var value: Node
        public init(key: Node, value: Node) {
            self.key = key
            self.value = value
        }
    }

    public var content: Content
    /// Where the node starts in the source (for an aliased node: where its anchor was defined).
    public var mark: Mark

    public init(_ content: Content, mark: Mark = Mark(line: 0, column: 0)) {
        self.content = content
        self.mark = mark
    }

    public static func scalar(_ text: String, style: ScalarStyle = .plain, mark: Mark = Mark(line: 0, column: 0)) -> Node {
        Node(.scalar(Scalar(text, style: style)), mark: mark)
    }

    public static func sequence(_ items: [Node], mark: Mark = Mark(line: 0, column: 0)) -> Node {
        Node(.sequence(items), mark: mark)
    }

    public static func mapping(_ pairs: [(String, Node)], mark: Mark = Mark(line: 0, column: 0)) -> Node {
        Node(.mapping(pairs.map { Pair(key: .scalar($0.0), value: $0.1) }), mark: mark)
    }

    public static func == (lhs: Node, rhs: Node) -> Bool { lhs.content == rhs.content }
    public func hash(into hasher: inout Hasher) { hasher.combine(content) }

    // MARK: Convenience accessors

    public var scalar: Scalar? {
        if case .scalar(let s) = content { return s }
        return nil
    }

    public var sequence: [Node]? {
        if case .sequence(let items) = content { return items }
        return nil
    }

    public var mapping: [Pair]? {
        if case .mapping(let pairs) = content { return pairs }
        return nil
    }

    /// The value for a string key in a mapping, or nil if this is not a mapping or has no such key.
    public subscript(key: String) -> Node? {
        guard case .mapping(let pairs) = content else { return nil }
        for pair in pairs where pair.key.scalar?.text == key { return pair.value }
        return nil
    }

    /// The pair whose key is `key`, so callers can point at the key's own position.
    public func pair(_ key: String) -> Pair? {
        guard case .mapping(let pairs) = content else { return nil }
        return pairs.first { $0.key.scalar?.text == key }
    }

    /// The node resolved under the YAML core schema (plus YAML 1.1 booleans such as `yes`/`off`,
    /// which Kubernetes tooling also reads as booleans).
    public var resolved: ResolvedScalar? { scalar.map(ResolvedScalar.init) }

    public var isNull: Bool {
        if case .null? = resolved { return true }
        return false
    }

    /// What a person would call this node's type, for messages: "string", "integer", "mapping", ...
    public var kindDescription: String {
        switch content {
        case .sequence: return "array"
        case .mapping: return "object"
        case .scalar(let s):
            switch ResolvedScalar(s) {
            case .null: return "null"
            case .bool: return "boolean"
            case .int: return "integer"
            case .float: return "number"
            case .string: return "string"
            }
        }
    }

    public var description: String {
        switch content {
        case .scalar(let s): return s.style == .plain ? s.text : "\"\(s.text)\""
        case .sequence(let items): return "[" + items.map(\.description).joined(separator: ", ") + "]"
        case .mapping(let pairs): return "{" + pairs.map { "\($0.key): \($0.value)" }.joined(separator: ", ") + "}"
        }
    }
}

/// A scalar's value after tag resolution.
public enum ResolvedScalar: Sendable, Hashable {
    case null
    case bool(Bool)
    /// An integer literal; `nil` when it does not fit in 64 bits.
    case int(Int64?)
    case float(Double)
    case string(String)

    public init(_ scalar: Scalar) {
        if let tag = scalar.tag {
            switch tag {
            case Tag.str: self = .string(scalar.text)
            case Tag.null: self = .null
            case Tag.bool: self = Self.bool(scalar.text).map { .bool($0) } ?? .string(scalar.text)
            case Tag.int: self = Self.int(scalar.text).map { .int($0) } ?? .string(scalar.text)
            case Tag.float: self = Self.float(scalar.text).map { .float($0) } ?? .string(scalar.text)
            default: self = .string(scalar.text)
            }
            return
        }
        guard scalar.style == .plain else {
            self = .string(scalar.text)
            return
        }
        let text = scalar.text
        if text.isEmpty || text == "~" || text == "null" || text == "Null" || text == "NULL" {
            self = .null
        } else if let b = Self.bool(text) {
            self = .bool(b)
        } else if let i = Self.int(text) {
            self = .int(i)
        } else if let f = Self.float(text) {
            self = .float(f)
        } else {
            self = .string(text)
        }
    }

    static func bool(_ text: String) -> Bool? {
        switch text {
        case "true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON": return true
        case "false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF": return false
        default: return nil
        }
    }

    /// Decimal, `0x` hexadecimal and `0o` octal integers. Returns `.some(nil)` for a well-formed
    /// integer that overflows 64 bits, so callers can say "too large" rather than "not a number".
    static func int(_ text: String) -> Int64?? {
        var digits = Substring(text)
        var negative = false
        if let first = digits.first, first == "-" || first == "+" {
            negative = first == "-"
            digits = digits.dropFirst()
        }
        var radix = 10
        if digits.hasPrefix("0x") { radix = 16; digits = digits.dropFirst(2) }
        else if digits.hasPrefix("0o") { radix = 8; digits = digits.dropFirst(2) }
        guard !digits.isEmpty, digits.allSatisfy({ $0.isHexDigit && Int(String($0), radix: radix) != nil }) else {
            return nil
        }
        guard let magnitude = UInt64(digits, radix: radix) else { return .some(nil) }
        if negative {
            if magnitude == UInt64(Int64.max) + 1 { return .some(Int64.min) }
            guard magnitude <= UInt64(Int64.max) else { return .some(nil) }
            return .some(-Int64(magnitude))
        }
        guard magnitude <= UInt64(Int64.max) else { return .some(nil) }
        return .some(Int64(magnitude))
    }

    static func float(_ text: String) -> Double? {
        switch text {
        case ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF": return .infinity
        case "-.inf", "-.Inf", "-.INF": return -.infinity
        case ".nan", ".NaN", ".NAN": return .nan
        default: break
        }
        // Core schema: [-+]? ( \. [0-9]+ | [0-9]+ ( \. [0-9]* )? ) ( [eE] [-+]? [0-9]+ )?
        var sawDigit = false
        var index = text.startIndex
        func advance(while predicate: (Character) -> Bool) -> Int {
            var count = 0
            while index < text.endIndex, predicate(text[index]) {
                index = text.index(after: index)
                count += 1
            }
            return count
        }
        if index < text.endIndex, text[index] == "-" || text[index] == "+" { index = text.index(after: index) }
        if advance(while: \.isASCIIDigit) > 0 { sawDigit = true }
        if index < text.endIndex, text[index] == "." {
            index = text.index(after: index)
            if advance(while: \.isASCIIDigit) > 0 { sawDigit = true }
        }
        guard sawDigit else { return nil }
        if index < text.endIndex, text[index] == "e" || text[index] == "E" {
            index = text.index(after: index)
            if index < text.endIndex, text[index] == "-" || text[index] == "+" { index = text.index(after: index) }
            guard advance(while: \.isASCIIDigit) > 0 else { return nil }
        }
        guard index == text.endIndex else { return nil }
        return Double(text)
    }
}

extension Character {
    var isASCIIDigit: Bool { isASCII && isNumber }
}

/// The long forms of the core schema's tags.
public enum Tag {
    public static let str = "tag:yaml.org,2002:str"
    public static let int = "tag:yaml.org,2002:int"
    public static let float = "tag:yaml.org,2002:float"
    public static let bool = "tag:yaml.org,2002:bool"
    public static let null = "tag:yaml.org,2002:null"
    public static let map = "tag:yaml.org,2002:map"
    public static let seq = "tag:yaml.org,2002:seq"
}
