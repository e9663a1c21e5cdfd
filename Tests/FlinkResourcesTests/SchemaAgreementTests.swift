import Foundation
import Testing
import YAML
@testable import FlinkResources

/// The schema, the committed CRDs and the Swift types describe the same fields — so none of
/// them can drift from the others.
@Suite struct SchemaAgreementTests {
    static let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// Kubernetes server-side metadata: accepted in manifests, deliberately not kept.
    static let serverMetadata: Set<String> = ["uid", "resourceVersion", "creationTimestamp", "deletionTimestamp",
                                              "deletionGracePeriodSeconds", "generateName", "finalizers",
                                              "ownerReferences", "managedFields", "selfLink"].reduce(into: []) { $0.insert("metadata." + $1) }

    @Test(arguments: ResourceKind.allCases)
    func committedCRDIsGeneratedFromTheSchema(kind: ResourceKind) throws {
        let url = Self.repositoryRoot.appendingPathComponent("crds").appendingPathComponent(CRD.fileName(for: kind))
        let committed = try String(contentsOf: url, encoding: .utf8)
        #expect(committed == CRD.yaml(for: kind), "crds/\(CRD.fileName(for: kind)) is stale: run `swift run flinklet crds --output-dir crds`")
    }

    @Test func committedFieldReferenceIsGeneratedFromTheSchema() throws {
        let url = Self.repositoryRoot.appendingPathComponent("docs/fields.md")
        let committed = try String(contentsOf: url, encoding: .utf8)
        #expect(committed == FieldReference.markdown(), "docs/fields.md is stale: run `swift run flinklet crds --output-dir crds --reference docs/fields.md`")
    }

    @Test(arguments: ResourceKind.allCases)
    func everyCRDFieldIsInTheSchemaAndBack(kind: ResourceKind) throws {
        let url = Self.repositoryRoot.appendingPathComponent("crds").appendingPathComponent(CRD.fileName(for: kind))
        let documents = try parseYAML(Array(try Data(contentsOf: url)))
        let openAPI = try #require(documents.first?.root?["spec"]?["versions"]?.sequence?.first?["schema"]?["openAPIV3Schema"])
        let crdFields = Self.paths(ofOpenAPI: openAPI)
        let schemaFields = Self.paths(of: ResourceSchemas.schema(for: kind)).filter { !$0.hasPrefix("metadata.") }
        #expect(crdFields.subtracting(schemaFields).sorted() == [], "in the CRD but not in the schema")
        #expect(schemaFields.subtracting(crdFields).sorted() == [], "in the schema but not in the CRD")
    }

    @Test(arguments: ResourceKind.allCases)
    func everySchemaFieldIsInTheSwiftModelAndBack(kind: ResourceKind) throws {
        let schema = ResourceSchemas.schema(for: kind)
        let sample = Self.sample(schema)
        let value: Any = switch kind {
        case .flinkDeployment: try NodeDecoder().decode(FlinkDeployment.self, from: sample)
        case .flinkSessionJob: try NodeDecoder().decode(FlinkSessionJob.self, from: sample)
        case .flinkStateSnapshot: try NodeDecoder().decode(FlinkStateSnapshot.self, from: sample)
        }
        var modelFields: Set<String> = []
        Self.paths(ofModel: value, prefix: "", into: &modelFields)
        let schemaFields = Self.paths(of: schema).subtracting(Self.serverMetadata)
        #expect(modelFields.subtracting(schemaFields).sorted() == [], "in the Swift types but not in the schema")
        #expect(schemaFields.subtracting(modelFields).sorted() == [], "in the schema but not in the Swift types")

        // And every sampled value survives decoding and encoding: nothing is dropped on the way.
        let encoded: Node = switch kind {
        case .flinkDeployment: try ResourceOutput.node(value as! FlinkDeployment)
        case .flinkSessionJob: try ResourceOutput.node(value as! FlinkSessionJob)
        case .flinkStateSnapshot: try ResourceOutput.node(value as! FlinkStateSnapshot)
        }
        var encodedFields: Set<String> = []
        Self.paths(ofNode: encoded, prefix: "", into: &encodedFields)
        #expect(schemaFields.subtracting(encodedFields).sorted() == [], "decoded but lost when encoded")
    }

    // MARK: helpers

    static func join(_ prefix: String, _ name: String) -> String { prefix.isEmpty ? name : prefix + "." + name }

    static func paths(of schema: Schema, prefix: String = "") -> Set<String> {
        var result: Set<String> = []
        func walk(_ schema: Schema, _ prefix: String) {
            switch schema.shape {
            case .object(let properties, _):
                for p in properties {
                    let path = join(prefix, p.name)
                    result.insert(path)
                    walk(p.schema, path)
                }
            case .array(let item):
                if case .object = item.shape { walk(item, prefix + "[]") }
            default:
                break
            }
        }
        walk(schema, prefix)
        return result
    }

    static func paths(ofOpenAPI node: Node) -> Set<String> {
        var result: Set<String> = []
        func walk(_ node: Node, _ prefix: String) {
            if let properties = node["properties"]?.mapping {
                for pair in properties {
                    let path = join(prefix, pair.key.scalar!.text)
                    result.insert(path)
                    if path != "metadata" { walk(pair.value, path) }
                }
            }
            if let items = node["items"], items["properties"] != nil { walk(items, prefix + "[]") }
        }
        walk(node, "")
        return result
    }

    static func paths(ofModel value: Any, prefix: String, into result: inout Set<String>) {
        if value is JSONValue || value is FlinkConfiguration { return }
        let mirror = Mirror(reflecting: value)
        switch mirror.displayStyle {
        case .optional:
            if let child = mirror.children.first { paths(ofModel: child.value, prefix: prefix, into: &result) }
        case .struct:
            for child in mirror.children {
                guard let label = child.label else { continue }
                let path = join(prefix, label)
                result.insert(path)
                paths(ofModel: child.value, prefix: path, into: &result)
            }
        case .collection:
            if let first = mirror.children.first, Mirror(reflecting: first.value).displayStyle == .struct {
                paths(ofModel: first.value, prefix: prefix + "[]", into: &result)
            }
        default:
            break
        }
    }

    static let leafMaps: Set<String> = ["flinkConfiguration", "podTemplate", "labels", "annotations", "logConfiguration", "clusterInfo", "tls"]

    static func paths(ofNode node: Node, prefix: String, into result: inout Set<String>) {
        switch node.content {
        case .mapping(let pairs):
            if let last = prefix.split(separator: ".").last, leafMaps.contains(String(last)) { return }
            for pair in pairs {
                let path = join(prefix, pair.key.scalar!.text)
                result.insert(path)
                paths(ofNode: pair.value, prefix: path, into: &result)
            }
        case .sequence(let items):
            if let first = items.first, first.mapping != nil { paths(ofNode: first, prefix: prefix + "[]", into: &result) }
        case .scalar:
            break
        }
    }

    /// A node with every field of the schema set to a value of the right type.
    static func sample(_ schema: Schema) -> Node {
        switch schema.shape {
        case .string: return .string("x")
        case .enumeration(let values): return .string(values[0])
        case .integer: return .scalar("1")
        case .number: return .scalar("1.5")
        case .boolean: return .scalar("true")
        case .intOrString: return .string("1g")
        case .object(let properties, _): return .mapping(properties.map { ($0.name, sample($0.schema)) })
        case .map(let value): return .mapping([("k", sample(value))])
        case .array(let item): return .sequence([sample(item)])
        case .flinkConfiguration: return .mapping([("a.b", .string("c"))])
        case .freeForm: return .mapping([("k", .string("v"))])
        }
    }
}
