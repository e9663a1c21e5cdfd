import YAML

/// Implemented by decoders that read YAML nodes, so types such as `JSONValue` can take the node
/// whole instead of probing it value by value.
protocol NodeDecoding {
    var node: Node { get }
}

/// Decodes `Decodable` types from a YAML node tree by the scalars' resolved types: an `Int`
/// needs an integer, a `Bool` a boolean; a `String` takes any scalar's text.
///
/// Used on trees that `SchemaChecker` has already checked, so a failure here means the schema
/// and the Swift types disagree — a bug that the schema agreement tests catch. For speed it
/// keeps no coding path (errors name the expected and found types only).
public struct NodeDecoder {
    public init() {}

    public func decode<T: Decodable>(_ type: T.Type, from node: Node) throws -> T {
        try T(from: NodeDecoderImpl(node: node, codingPath: []))
    }
}

private struct NodeDecoderImpl: Decoder, NodeDecoding {
    let node: Node
    let codingPath: [any CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        guard let pairs = node.mapping else {
            throw DecodingError.typeMismatch([String: Any].self, .init(codingPath: codingPath, debugDescription: "expected object, got \(node.kindDescription)"))
        }
        return KeyedDecodingContainer(KeyedContainer(pairs: pairs, codingPath: codingPath))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        guard let items = node.sequence else {
            throw DecodingError.typeMismatch([Any].self, .init(codingPath: codingPath, debugDescription: "expected array, got \(node.kindDescription)"))
        }
        return UnkeyedContainer(items: items, codingPath: codingPath)
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer {
        SingleValueContainer(node: node, codingPath: codingPath)
    }
}

private struct IndexKey: CodingKey {
    var stringValue: String
    var intValue: Int?
    init(_ index: Int) { stringValue = "[\(index)]"; intValue = index }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { self.init(intValue) }
}

/// Looks keys up by scanning the mapping's pairs: objects in manifests have few keys, and a scan
/// of short strings is cheaper than hashing them into a dictionary first.
private struct KeyedContainer<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let pairs: [Node.Pair]
    let codingPath: [any CodingKey]

    var allKeys: [Key] { pairs.compactMap { $0.key.scalar.flatMap { Key(stringValue: $0.text) } } }
    func contains(_ key: Key) -> Bool { lookup(key) != nil }

    private func lookup(_ key: Key) -> Node? {
        Node.value(forKey: key.stringValue, in: pairs)
    }

    private func node(_ key: Key) throws -> Node {
        guard let node = lookup(key) else {
            throw DecodingError.keyNotFound(key, .init(codingPath: codingPath, debugDescription: "no value for \(key.stringValue)"))
        }
        return node
    }

    func decodeNil(forKey key: Key) throws -> Bool { lookup(key)?.isNull ?? true }

    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
        try SingleValueContainer(node: node(key), codingPath: codingPath).decode(type)
    }

    /// One lookup instead of the default's three (contains, decodeNil, decode). The protocol has
    /// a separate requirement per primitive type, so each forwards to `present`.
    private func present<T: Decodable>(_ type: T.Type, _ key: Key) throws -> T? {
        guard let node = lookup(key), !node.isNull else { return nil }
        return try SingleValueContainer(node: node, codingPath: codingPath).decode(type)
    }

    func decodeIfPresent<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T? { try present(type, key) }
    func decodeIfPresent(_ type: String.Type, forKey key: Key) throws -> String? { try present(type, key) }
    func decodeIfPresent(_ type: Int.Type, forKey key: Key) throws -> Int? { try present(type, key) }
    func decodeIfPresent(_ type: Int64.Type, forKey key: Key) throws -> Int64? { try present(type, key) }
    func decodeIfPresent(_ type: Bool.Type, forKey key: Key) throws -> Bool? { try present(type, key) }
    func decodeIfPresent(_ type: Double.Type, forKey key: Key) throws -> Double? { try present(type, key) }

    func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws -> KeyedDecodingContainer<NestedKey> {
        try NodeDecoderImpl(node: node(key), codingPath: codingPath).container(keyedBy: type)
    }

    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
        try NodeDecoderImpl(node: node(key), codingPath: codingPath).unkeyedContainer()
    }

    func superDecoder() throws -> any Decoder { NodeDecoderImpl(node: Node(.mapping([])), codingPath: codingPath) }
    func superDecoder(forKey key: Key) throws -> any Decoder { try NodeDecoderImpl(node: node(key), codingPath: codingPath) }
}

private struct UnkeyedContainer: UnkeyedDecodingContainer {
    let items: [Node]
    let codingPath: [any CodingKey]
    var currentIndex = 0

    init(items: [Node], codingPath: [any CodingKey]) {
        self.items = items
        self.codingPath = codingPath
    }

    var count: Int? { items.count }
    var isAtEnd: Bool { currentIndex >= items.count }

    private mutating func next() throws -> (Node, [any CodingKey]) {
        guard !isAtEnd else {
            throw DecodingError.valueNotFound(Any.self, .init(codingPath: codingPath, debugDescription: "array has only \(items.count) items"))
        }
        defer { currentIndex += 1 }
        return (items[currentIndex], codingPath)
    }

    mutating func decodeNil() throws -> Bool {
        guard !isAtEnd, items[currentIndex].isNull else { return false }
        currentIndex += 1
        return true
    }

    mutating func decode<T: Decodable>(_ type: T.Type) throws -> T {
        let (node, path) = try next()
        return try SingleValueContainer(node: node, codingPath: path).decode(type)
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws -> KeyedDecodingContainer<NestedKey> {
        let (node, path) = try next()
        return try NodeDecoderImpl(node: node, codingPath: path).container(keyedBy: type)
    }

    mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer {
        let (node, path) = try next()
        return try NodeDecoderImpl(node: node, codingPath: path).unkeyedContainer()
    }

    mutating func superDecoder() throws -> any Decoder {
        let (node, path) = try next()
        return NodeDecoderImpl(node: node, codingPath: path)
    }
}

private struct SingleValueContainer: SingleValueDecodingContainer {
    let node: Node
    let codingPath: [any CodingKey]

    func decodeNil() -> Bool { node.isNull }

    private func mismatch<T>(_ type: T.Type, _ expected: String) -> DecodingError {
        DecodingError.typeMismatch(type, .init(codingPath: codingPath, debugDescription: "expected \(expected), got \(node.kindDescription)"))
    }

    func decode(_ type: String.Type) throws -> String {
        guard let scalar = node.scalar else { throw mismatch(type, "string") }
        return scalar.text
    }

    func decode(_ type: Bool.Type) throws -> Bool {
        guard case .bool(let b)? = node.resolved else { throw mismatch(type, "boolean") }
        return b
    }

    func decode(_ type: Double.Type) throws -> Double {
        switch node.resolved {
        case .int(let i?)?: return Double(i)
        case .float(let d)?: return d
        default: throw mismatch(type, "number")
        }
    }

    func decode(_ type: Float.Type) throws -> Float { Float(try decode(Double.self)) }

    private func integer<T: FixedWidthInteger>(_ type: T.Type) throws -> T {
        guard case .int(let i?)? = node.resolved else { throw mismatch(type, "integer") }
        guard let value = T(exactly: i) else {
            throw DecodingError.dataCorrupted(.init(codingPath: codingPath, debugDescription: "\(i) does not fit in \(T.self)"))
        }
        return value
    }

    func decode(_ type: Int.Type) throws -> Int { try integer(type) }
    func decode(_ type: Int8.Type) throws -> Int8 { try integer(type) }
    func decode(_ type: Int16.Type) throws -> Int16 { try integer(type) }
    func decode(_ type: Int32.Type) throws -> Int32 { try integer(type) }
    func decode(_ type: Int64.Type) throws -> Int64 { try integer(type) }
    func decode(_ type: UInt.Type) throws -> UInt { try integer(type) }
    func decode(_ type: UInt8.Type) throws -> UInt8 { try integer(type) }
    func decode(_ type: UInt16.Type) throws -> UInt16 { try integer(type) }
    func decode(_ type: UInt32.Type) throws -> UInt32 { try integer(type) }
    func decode(_ type: UInt64.Type) throws -> UInt64 { try integer(type) }

    func decode<T: Decodable>(_ type: T.Type) throws -> T {
        // Metadata comparisons, not dynamic casts: this runs for every field of every manifest.
        if T.self == String.self { return try decode(String.self) as! T }
        if T.self == Int.self { return try decode(Int.self) as! T }
        if T.self == Int64.self { return try decode(Int64.self) as! T }
        if T.self == Bool.self { return try decode(Bool.self) as! T }
        if T.self == Double.self { return try decode(Double.self) as! T }
        return try T(from: NodeDecoderImpl(node: node, codingPath: codingPath))
    }
}
