/// Flink configuration from a manifest: dotted keys to string values, as Flink reads them.
///
/// Manifests may write it flat (`execution.checkpointing.interval: 10s`) or nested YAML
/// (`execution: {checkpointing: {interval: 10s}}`); both flatten to the same entries. Values are
/// kept as their text (`2` stays `"2"`, `true` stays `"true"`); a list of scalars becomes
/// Flink's list syntax, items joined by `;`.
public struct FlinkConfiguration: Sendable, Hashable, Codable, ExpressibleByDictionaryLiteral, Sequence {
    public private(set) var entries: [String: String]

    public init(_ entries: [String: String] = [:]) { self.entries = entries }
    public init(dictionaryLiteral elements: (String, String)...) {
        self.entries = Dictionary(elements, uniquingKeysWith: { _, last in last })
    }

    public subscript(key: String) -> String? {
        get { entries[key] }
        set { entries[key] = newValue }
    }

    public var keys: [String] { entries.keys.sorted() }
    public var isEmpty: Bool { entries.isEmpty }

    /// Entries in key order, so rendered configuration files are deterministic.
    public func makeIterator() -> IndexingIterator<[(key: String, value: String)]> {
        entries.sorted { $0.key < $1.key }.map { (key: $0.key, value: $0.value) }.makeIterator()
    }

    /// Entries whose key starts with `prefix` (e.g. `kubernetes.operator.`).
    public func entries(withPrefix prefix: String) -> [String: String] {
        entries.filter { $0.key.hasPrefix(prefix) }
    }

    public init(from decoder: any Decoder) throws {
        entries = try decoder.singleValueContainer().decode([String: String].self)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(entries)
    }
}
