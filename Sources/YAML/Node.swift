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
/// `a` are equal strings, `1` and `"1"` are not. The value is resolved once, when the scalar is
/// made.
public struct Scalar: Sendable, Hashable {
    public let text: String
    public let style: ScalarStyle
    /// An explicit tag such as `!!str` or `tag:yaml.org,2002:int`, normalised to the long form.
    public let tag: String?
    /// The resolution without a copy of the text, so copying a scalar retains one string, not two.
    private let kind: Kind

    private enum Kind: Hashable {
        case null, bool(Bool), int(Int64), intOverflow, float(Double), string
    }

    public init(_ text: String, style: ScalarStyle = .plain, tag: String? = nil) {
        self.text = text
        self.style = style
        self.tag = tag
        switch ResolvedScalar(text: text, style: style, tag: tag) {
        case .null: kind = .null
        case .bool(let b): kind = .bool(b)
        case .int(let i?): kind = .int(i)
        case .int(nil): kind = .intOverflow
        case .float(let f): kind = .float(f)
        case .string: kind = .string
        }
    }

    /// The value under the YAML core schema (plus YAML 1.1 booleans such as `yes`/`off`),
    /// resolved once when the scalar was made.
    public var resolved: ResolvedScalar {
        switch kind {
        case .null: .null
        case .bool(let b): .bool(b)
        case .int(let i): .int(i)
        case .intOverflow: .int(nil)
        case .float(let f): .float(f)
        case .string: .string(text)
        }
    }

    /// True when the scalar resolves to null; cheaper than matching `resolved`.
    public var isNull: Bool { kind == .null }

    public static func == (lhs: Scalar, rhs: Scalar) -> Bool {
        guard lhs.tag == rhs.tag else { return false }
        switch (lhs.kind, rhs.kind) {
        case (.float(let a), .float(let b)) where a.isNaN && b.isNaN: return true
        case (.intOverflow, .intOverflow): return lhs.text == rhs.text  // too large to compare as numbers
        case (.string, .string): return lhs.text == rhs.text
        case (let a, let b): return a == b
        }
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(tag)
        switch kind {
        case .float(let f) where f.isNaN: hasher.combine("nan")
        case .string, .intOverflow: hasher.combine(kind); hasher.combine(text)
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
        return Node.value(forKey: key, in: pairs)
    }

    /// The pair whose key is `key`, so callers can point at the key's own position.
    public func pair(_ key: String) -> Pair? {
        guard case .mapping(let pairs) = content else { return nil }
        for i in pairs.indices where pairs[i].key.isScalar(key) { return pairs[i] }
        return nil
    }

    /// Looks a key up in mapping pairs without copying the pairs it passes over (index-based,
    /// so each element is borrowed, not retained): this runs for every field of every manifest.
    @inlinable
    public static func value(forKey key: String, in pairs: [Pair]) -> Node? {
        for i in pairs.indices where pairs[i].key.isScalar(key) { return pairs[i].value }
        return nil
    }

    /// True when this node is a scalar whose text is `text`.
    @inlinable
    public func isScalar(_ text: String) -> Bool {
        if case .scalar(let s) = content { return s.text == text }
        return false
    }

    /// The node resolved under the YAML core schema (plus YAML 1.1 booleans such as `yes`/`off`,
    /// which Kubernetes tooling also reads as booleans).
    public var resolved: ResolvedScalar? { scalar?.resolved }

    public var isNull: Bool { scalar?.isNull ?? false }

    /// What a person would call this node's type, for messages: "string", "integer", "mapping", ...
    public var kindDescription: String {
        switch content {
        case .sequence: return "array"
        case .mapping: return "object"
        case .scalar(let s):
            switch s.resolved {
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
        self = scalar.resolved
    }

    init(text: String, style: ScalarStyle, tag: String?) {
        if let tag {
            switch tag {
            case Tag.str: self = .string(text)
            case Tag.null: self = .null
            case Tag.bool: self = Self.bool(text).map { .bool($0) } ?? .string(text)
            case Tag.int: self = Self.int(text).map { .int($0) } ?? .string(text)
            case Tag.float: self = Self.float(text).map { .float($0) } ?? .string(text)
            default: self = .string(text)
            }
        } else if style != .plain {
            self = .string(text)
        } else {
            self = Self.plain(text)
        }
    }

    /// Resolves a plain scalar, looking at its first byte to skip checks that cannot match:
    /// most scalars in a manifest are words and are known to be strings after one comparison.
    static func plain(_ text: String) -> ResolvedScalar {
        guard let first = text.utf8.first else { return .null }
        switch first {
        case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."):
            if let i = int(text) { return .int(i) }
            if let f = float(text) { return .float(f) }
            return .string(text)
        case UInt8(ascii: "~"):
            return text.utf8.count == 1 ? .null : .string(text)
        case UInt8(ascii: "n"), UInt8(ascii: "N"):
            if text == "null" || text == "Null" || text == "NULL" { return .null }
            return bool(text).map { .bool($0) } ?? .string(text)
        case UInt8(ascii: "t"), UInt8(ascii: "T"), UInt8(ascii: "f"), UInt8(ascii: "F"),
             UInt8(ascii: "y"), UInt8(ascii: "Y"), UInt8(ascii: "o"), UInt8(ascii: "O"):
            return bool(text).map { .bool($0) } ?? .string(text)
        default:
            return .string(text)
        }
    }

    static func bool(_ text: String) -> Bool? {
        guard text.utf8.count <= 5 else { return nil }
        switch text {
        case "true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON": return true
        case "false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF": return false
        default: return nil
        }
    }

    /// Decimal, `0x` hexadecimal and `0o` octal integers. Returns `.some(nil)` for a well-formed
    /// integer that overflows 64 bits, so callers can say "too large" rather than "not a number".
    static func int(_ text: String) -> Int64?? {
        var bytes = Substring(text).utf8[...]
        var negative = false
        if let first = bytes.first, first == UInt8(ascii: "-") || first == UInt8(ascii: "+") {
            negative = first == UInt8(ascii: "-")
            bytes = bytes.dropFirst()
        }
        var radix: UInt64 = 10
        if bytes.starts(with: "0x".utf8) { radix = 16; bytes = bytes.dropFirst(2) }
        else if bytes.starts(with: "0o".utf8) { radix = 8; bytes = bytes.dropFirst(2) }
        guard !bytes.isEmpty else { return nil }
        var magnitude: UInt64 = 0
        var overflow = false
        for byte in bytes {
            let digit: UInt64
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt64(byte - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt64(byte - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt64(byte - UInt8(ascii: "A") + 10)
            default: return nil
            }
            guard digit < radix else { return nil }
            let (m1, o1) = magnitude.multipliedReportingOverflow(by: radix)
            let (m2, o2) = m1.addingReportingOverflow(digit)
            overflow = overflow || o1 || o2
            magnitude = m2
        }
        if overflow { return .some(nil) }
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
        let bytes = Array(text.utf8)
        var i = 0
        func digits() -> Int {
            let start = i
            while i < bytes.count, bytes[i] >= UInt8(ascii: "0"), bytes[i] <= UInt8(ascii: "9") { i += 1 }
            return i - start
        }
        if i < bytes.count, bytes[i] == UInt8(ascii: "-") || bytes[i] == UInt8(ascii: "+") { i += 1 }
        var sawDigit = digits() > 0
        if i < bytes.count, bytes[i] == UInt8(ascii: ".") {
            i += 1
            if digits() > 0 { sawDigit = true }
        }
        guard sawDigit else { return nil }
        if i < bytes.count, bytes[i] == UInt8(ascii: "e") || bytes[i] == UInt8(ascii: "E") {
            i += 1
            if i < bytes.count, bytes[i] == UInt8(ascii: "-") || bytes[i] == UInt8(ascii: "+") { i += 1 }
            guard digits() > 0 else { return nil }
        }
        guard i == bytes.count else { return nil }
        return Double(text)
    }
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
