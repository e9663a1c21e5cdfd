import Foundation
import YAML

/// Renders `apiextensions.k8s.io/v1` CustomResourceDefinitions from `ResourceSchemas`, so the
/// published CRDs can never describe fields the decoder does not accept, or the reverse.
public enum CRD {
    /// The CRD of one kind as a YAML document.
    public static func document(for kind: ResourceKind) -> Node {
        let schema = ResourceSchemas.schema(for: kind)
        var rootProperties: [(String, Node)] = []
        for property in schema.properties ?? [] {
            if property.name == "metadata" {
                rootProperties.append(("metadata", .mapping([("type", .string("object"))])))
            } else {
                rootProperties.append((property.name, openAPI(property.schema, local: property.local)))
            }
        }
        // The schema's own list: `spec` is not in it, since a canary has none (as upstream's CRDs).
        let rootRequired: [String] = if case .object(_, let required) = schema.shape { required } else { [] }
        let openAPIV3Schema = Node.mapping([
            ("description", .string(schema.description)),
            ("type", .string("object")),
            ("required", .sequence(rootRequired.map(Node.string))),
            ("properties", .mapping(rootProperties)),
        ])
        func column(_ name: String, _ type: String, _ path: String, _ description: String) -> Node {
            .mapping([("name", .string(name)), ("type", .string(type)), ("jsonPath", .string(path)), ("description", .string(description))])
        }
        return .mapping([
            ("apiVersion", .string("apiextensions.k8s.io/v1")),
            ("kind", .string("CustomResourceDefinition")),
            ("metadata", .mapping([("name", .string("\(kind.plural).\(FlinkAPI.group)"))])),
            ("spec", .mapping([
                ("group", .string(FlinkAPI.group)),
                ("names", .mapping([
                    ("kind", .string(kind.rawValue)),
                    ("listKind", .string(kind.rawValue + "List")),
                    ("plural", .string(kind.plural)),
                    ("singular", .string(kind.singular)),
                    ("shortNames", .sequence(kind.shortNames.map(Node.string))),
                ])),
                ("scope", .string("Namespaced")),
                ("versions", .sequence([.mapping([
                    ("name", .string(FlinkAPI.version)),
                    ("served", .scalar("true")),
                    ("storage", .scalar("true")),
                    ("subresources", .mapping([("status", .mapping([]))])),
                    ("additionalPrinterColumns", .sequence(kind == .flinkStateSnapshot ? [
                        // Upstream's columns for snapshots.
                        column("Path", "string", ".status.path", "Location of the snapshot"),
                        column("Result Timestamp", "string", ".status.resultTimestamp", "When the snapshot completed or failed"),
                        column("Snapshot State", "string", ".status.state", "State of the snapshot"),
                    ] : [
                        column("Job Status", "string", ".status.jobStatus.state", "Flink job status"),
                        column("Lifecycle State", "string", ".status.lifecycleState", "Lifecycle state of the resource"),
                        column("Age", "date", ".metadata.creationTimestamp", "Time since creation"),
                    ])),
                    ("schema", .mapping([("openAPIV3Schema", openAPIV3Schema)])),
                ])])),
            ])),
        ])
    }

    /// The CRD of one kind as YAML text, as committed in `crds/`.
    public static func yaml(for kind: ResourceKind) -> String {
        let header = "# Generated from Sources/FlinkResources/ResourceSchemas.swift by `flinklet crds`; do not edit.\n"
        // The emitter only fails on invalid events, which a well-formed tree never produces.
        return header + ((try? emitYAML([document(for: kind)])) ?? "")
    }

    public static func fileName(for kind: ResourceKind) -> String { "\(kind.plural).\(FlinkAPI.group).yaml" }

    static func openAPI(_ schema: Schema, local: Property.LocalSupport = .honoured) -> Node {
        var description = schema.description
        switch local {
        case .ignored(let reason): description += (description.isEmpty ? "" : " ") + "Ignored by Flinklet: \(reason)."
        case .managed(let reason): description += (description.isEmpty ? "" : " ") + "Ignored in manifests: \(reason)."
        case .honoured, .partial: break
        }
        var fields: [(String, Node)] = []
        if !description.isEmpty { fields.append(("description", .string(description))) }
        switch schema.shape {
        case .string:
            fields.append(("type", .string("string")))
        case .enumeration(let values):
            fields.append(("type", .string("string")))
            fields.append(("enum", .sequence(values.map(Node.string))))
        case .integer(let minimum, let format):
            fields.append(("type", .string("integer")))
            fields.append(("format", .string(format.rawValue)))
            if let minimum { fields.append(("minimum", .scalar(String(minimum)))) }
        case .number:
            fields.append(("type", .string("number")))
        case .boolean:
            fields.append(("type", .string("boolean")))
        case .intOrString:
            fields.append(("anyOf", .sequence([.mapping([("type", .string("integer"))]), .mapping([("type", .string("string"))])])))
            fields.append(("x-kubernetes-int-or-string", .scalar("true")))
        case .object(let properties, let required):
            fields.append(("type", .string("object")))
            if !required.isEmpty { fields.append(("required", .sequence(required.map(Node.string)))) }
            fields.append(("properties", .mapping(properties.map { ($0.name, openAPI($0.schema, local: $0.local)) })))
        case .map(let value):
            fields.append(("type", .string("object")))
            fields.append(("additionalProperties", openAPI(value)))
        case .array(let item):
            fields.append(("type", .string("array")))
            fields.append(("items", openAPI(item)))
        case .flinkConfiguration, .freeForm:
            fields.append(("type", .string("object")))
            fields.append(("x-kubernetes-preserve-unknown-fields", .scalar("true")))
        }
        return .mapping(fields)
    }
}

/// Output of resources as YAML and JSON, as `get -o yaml|json` prints them.
public enum ResourceOutput {
    /// A node tree of any encodable value, with object keys sorted as kubectl prints them.
    public static func node<T: Encodable>(_ value: T) throws -> Node {
        let data = try JSONEncoding.encoder.encode(value)
        return try JSONEncoding.decoder.decode(JSONValue.self, from: data).node
    }

    public static func yaml<T: Encodable>(_ value: T) throws -> String {
        try emitYAML([node(value)])
    }
}

enum JSONEncoding {
    static var encoder: JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        return e
    }

    static var decoder: JSONDecoder { JSONDecoder() }
}
