/// A structural schema, the subset of OpenAPI v3 that Kubernetes CRDs use.
///
/// One schema per resource kind is the single source of what a manifest may contain: the strict
/// decoder checks manifests against it (unknown fields, types, enums, minimums, required fields),
/// the CRDs in `crds/` are generated from it, and a test keeps the Swift types in step with it.
public struct Schema: Sendable {
    public indirect enum Shape: Sendable {
        case string
        /// A string that must be one of these values.
        case enumeration([String])
        case integer(minimum: Int64?, format: IntegerFormat)
        case number
        case boolean
        /// `x-kubernetes-int-or-string`, used for quantities such as `2Gi` or `1e9`.
        case intOrString
        /// A closed object: keys other than these properties are errors.
        case object([Property], required: [String])
        /// An object with arbitrary string keys and values of one schema.
        case map(Schema)
        case array(Schema)
        /// Flink configuration: a flat map of dotted keys or nested YAML, read as flattened
        /// `key → string` entries.
        case flinkConfiguration
        /// Anything (`x-kubernetes-preserve-unknown-fields`), e.g. a Kubernetes pod template.
        case freeForm
    }

    public enum IntegerFormat: String, Sendable {
        case int32, int64
    }

    public var shape: Shape
    public var description: String

    public init(_ shape: Shape, _ description: String = "") {
        self.shape = shape
        self.description = description
    }

    /// The object's properties, or nil when this is not a closed object.
    public var properties: [Property]? {
        if case .object(let properties, _) = shape { return properties }
        return nil
    }

    public func property(_ name: String) -> Property? {
        properties?.first { $0.name == name }
    }

    /// The schema at a dotted path of property names (`spec.job`), looking through arrays and maps.
    public func schema(at path: [String]) -> Schema? {
        var current = self
        for name in path {
            while true {
                switch current.shape {
                case .array(let item): current = item; continue
                case .map(let value): current = value; continue
                default: break
                }
                break
            }
            guard let next = current.property(name) else { return nil }
            current = next.schema
        }
        return current
    }
}

/// A named field of an object schema.
public struct Property: Sendable {
    /// What Flinklet does with a field it accepts.
    public enum LocalSupport: Sendable, Hashable {
        /// Used as described.
        case honoured
        /// Accepted so upstream manifests load unchanged, but without effect on one machine;
        /// a warning says so when the field is set.
        case ignored(reason: String)
        /// Written by Flinklet (e.g. `status`, `metadata.generation`): a value in a manifest is
        /// dropped with a warning.
        case managed(reason: String)
        /// Honoured in part; the validator explains which parts (e.g. `podTemplate`).
        case partial
    }

    public var name: String
    public var schema: Schema
    public var local: LocalSupport

    public init(_ name: String, _ schema: Schema, local: LocalSupport = .honoured) {
        self.name = name
        self.schema = schema
        self.local = local
    }
}

// MARK: - Builders, so the resource schemas read like the CRD they become

extension Schema {
    public static func string(_ description: String) -> Schema { Schema(.string, description) }
    public static func enumeration(_ values: [String], _ description: String) -> Schema { Schema(.enumeration(values), description) }
    public static func integer(_ description: String, minimum: Int64? = nil, format: IntegerFormat = .int64) -> Schema {
        Schema(.integer(minimum: minimum, format: format), description)
    }
    public static func number(_ description: String) -> Schema { Schema(.number, description) }
    public static func boolean(_ description: String) -> Schema { Schema(.boolean, description) }
    public static func intOrString(_ description: String) -> Schema { Schema(.intOrString, description) }
    public static func object(_ description: String, required: [String] = [], _ properties: [Property]) -> Schema {
        Schema(.object(properties, required: required), description)
    }
    public static func map(_ description: String, of value: Schema = Schema(.string)) -> Schema { Schema(.map(value), description) }
    public static func array(_ description: String, of item: Schema) -> Schema { Schema(.array(item), description) }
    public static func freeForm(_ description: String) -> Schema { Schema(.freeForm, description) }
}
