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

    /// `execution.checkpointing.interval` of a `last-state` FlinkDeployment whose configuration
    /// sets none. Upstream requires no interval either (it restores from whatever its HA
    /// metadata holds); here the job must checkpoint for `last-state` to mean anything. Flink
    /// applies a job's own `enableCheckpointing(...)` over it.
    public static let defaultLastStateCheckpointInterval = "30s"

    /// Whether the configuration turns high availability on: `high-availability.type` (or its
    /// legacy name `high-availability`, which Flink reads when the type is unset) names anything
    /// but `none`. Flinklet never runs it; see `withoutHighAvailability`.
    public var highAvailability: Bool {
        let type = entries["high-availability.type"] ?? entries["high-availability"] ?? "none"
        return !(type.isEmpty || type.lowercased() == "none")
    }

    /// The configuration without its high-availability keys when it turns high availability
    /// on (upstream manifests set Kubernetes HA); unchanged otherwise.
    public var withoutHighAvailability: FlinkConfiguration {
        guard highAvailability else { return self }
        return FlinkConfiguration(entries.filter { !($0.key == "high-availability" || $0.key.hasPrefix("high-availability.")) })
    }

    public init(from decoder: any Decoder) throws {
        entries = try decoder.singleValueContainer().decode([String: String].self)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(entries)
    }
}
