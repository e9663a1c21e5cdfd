import FlinkResources
import Foundation

/// `/openapi/v2` and `/openapi/v3` for our kinds, from the same schema as `crds/`
/// (`CRD.document(for:)`), so `kubectl explain` and kubectl's validation read what the
/// decoder enforces.
enum OpenAPI {
    static let objectMetaName = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"

    static func schemaName(_ kind: ResourceKind) -> String { "org.apache.flink.\(FlinkAPI.version).\(kind.rawValue)" }

    /// The kind's `openAPIV3Schema` with `metadata` pointing at ObjectMeta and its
    /// group-version-kind, refs written with `refPrefix`.
    static func schema(_ kind: ResourceKind, refPrefix: String) -> JSONValue {
        let crd = JSONValue(CRD.document(for: kind))
        guard case .array(let versions)? = crd["spec"]?["versions"], var schema = versions.first?["schema"]?["openAPIV3Schema"] else {
            return .object([:])
        }
        var properties = schema["properties"]?.objectValue ?? [:]
        properties["metadata"] = .object(["allOf": .array([.object(["$ref": .string(refPrefix + objectMetaName)])]),
                                          "description": .string("Standard object's metadata.")])
        properties["apiVersion"] = .object(["type": .string("string"), "description": .string("APIVersion: \(FlinkAPI.apiVersion).")])
        properties["kind"] = .object(["type": .string("string"), "description": .string("Kind: \(kind.rawValue).")])
        schema[field: "properties"] = .object(properties)
        schema[field: "x-kubernetes-group-version-kind"] = .array([gvk(kind)])
        return schema
    }

    static func gvk(_ kind: ResourceKind) -> JSONValue {
        .object(["group": .string(FlinkAPI.group), "version": .string(FlinkAPI.version), "kind": .string(kind.rawValue)])
    }

    static var objectMeta: JSONValue {
        func string(_ d: String) -> JSONValue { .object(["type": .string("string"), "description": .string(d)]) }
        let map: JSONValue = .object(["type": .string("object"), "additionalProperties": .object(["type": .string("string"), "default": .string("")])])
        return .object([
            "description": .string("ObjectMeta is metadata that all persisted resources must have."),
            "type": .string("object"),
            "properties": .object([
                "name": string("Name must be unique within a namespace."),
                "namespace": string("Namespace defines the space within which each name must be unique; `default` when empty."),
                "labels": map, "annotations": map,
                "uid": string("UID is the unique in time and space value for this object. Set by the server."),
                "resourceVersion": string("An opaque value that represents the internal version of this object. Set by the server."),
                "generation": .object(["type": .string("integer"), "format": .string("int64"),
                                       "description": .string("A sequence number representing a specific generation of the desired state.")]),
                "creationTimestamp": string("When this object was created. Set by the server."),
                "deletionTimestamp": string("When this resource will be deleted. Set by the server."),
            ]),
        ])
    }

    static let fieldValidation: JSONValue = .object([
        "name": .string("fieldValidation"), "in": .string("query"), "schema": .object(["type": .string("string")]),
        "description": .string("Ignore, Warn or Strict: what to do with unknown or duplicate fields."),
    ])
    static let dryRun: JSONValue = .object([
        "name": .string("dryRun"), "in": .string("query"), "schema": .object(["type": .string("string")]),
        "description": .string("All: check the request and answer it without writing anything."),
    ])

    /// The paths of one kind, with the operations and the query parameters kubectl looks for
    /// (`fieldValidation`, `dryRun`) before it relies on the server's validation.
    static func paths(_ kind: ResourceKind, v2: Bool) -> [String: JSONValue] {
        let prefix = "/apis/\(FlinkAPI.group)/\(FlinkAPI.version)"
        func operation(_ id: String, parameters: [JSONValue] = []) -> JSONValue {
            var op: [String: JSONValue] = [
                "operationId": .string(id + kind.rawValue), "tags": .array([.string("flinkApacheOrg_v1beta1")]),
                "x-kubernetes-group-version-kind": gvk(kind),
                "responses": .object(["200": .object(["description": .string("OK")])]),
            ]
            if !parameters.isEmpty {
                op["parameters"] = .array(v2 ? parameters.map { p in
                    var p = p
                    p[field: "schema"] = nil
                    p[field: "type"] = .string("string")
                    p[field: "uniqueItems"] = .bool(true)
                    return p
                } : parameters)
            }
            return .object(op)
        }
        let writes = [fieldValidation, dryRun]
        let items = [
            "get": operation("listNamespaced"), "post": operation("createNamespaced", parameters: writes),
            "delete": operation("deleteCollectionNamespaced", parameters: [dryRun]),
        ]
        let item = [
            "get": operation("readNamespaced"), "put": operation("replaceNamespaced", parameters: writes),
            "patch": operation("patchNamespaced", parameters: writes), "delete": operation("deleteNamespaced", parameters: [dryRun]),
        ]
        let status = [
            "get": operation("readNamespacedStatus"), "put": operation("replaceNamespacedStatus", parameters: writes),
            "patch": operation("patchNamespacedStatus", parameters: writes),
        ]
        return [
            "\(prefix)/\(kind.plural)": .object(["get": operation("listForAllNamespaces")]),
            "\(prefix)/namespaces/{namespace}/\(kind.plural)": .object(items),
            "\(prefix)/namespaces/{namespace}/\(kind.plural)/{name}": .object(item),
            "\(prefix)/namespaces/{namespace}/\(kind.plural)/{name}/status": .object(status),
        ]
    }

    /// OpenAPI 3.0 for `apis/flink.apache.org/v1beta1`.
    static func v3Group() -> JSONValue {
        var schemas: [String: JSONValue] = [objectMetaName: objectMeta]
        var paths: [String: JSONValue] = [:]
        for kind in ResourceKind.allCases {
            schemas[schemaName(kind)] = schema(kind, refPrefix: "#/components/schemas/")
            paths.merge(Self.paths(kind, v2: false)) { $1 }
        }
        return .object([
            "openapi": .string("3.0.0"),
            "info": .object(["title": .string("Flinklet"), "version": .string("v1.\(Discovery.kubernetesMinor).0")]),
            "paths": .object(paths),
            "components": .object(["schemas": .object(schemas)]),
        ])
    }

    /// OpenAPI 3.0 for `api/v1`: no paths of ours beyond namespaces and events, which kubectl
    /// knows compiled in.
    static func v3Core() -> JSONValue {
        .object([
            "openapi": .string("3.0.0"),
            "info": .object(["title": .string("Flinklet"), "version": .string("v1.\(Discovery.kubernetesMinor).0")]),
            "paths": .object([:]),
            "components": .object(["schemas": .object([objectMetaName: objectMeta])]),
        ])
    }

    static let v3GroupPath = "apis/\(FlinkAPI.group)/\(FlinkAPI.version)"

    /// `/openapi/v3`: where each group-version's document is, with a hash so clients cache it.
    static func v3Index(hash: String) -> JSONValue {
        .object(["paths": .object([
            v3GroupPath: .object(["serverRelativeURL": .string("/openapi/v3/\(v3GroupPath)?hash=\(hash)")]),
            "api/v1": .object(["serverRelativeURL": .string("/openapi/v3/api/v1?hash=\(hash)")]),
        ])])
    }

    /// Swagger 2.0 (`/openapi/v2`): v3's schemas with `anyOf` dropped (v2 has none; the
    /// `x-kubernetes-int-or-string` mark stays, as the API server converts them).
    static func v2() -> JSONValue {
        var definitions: [String: JSONValue] = [objectMetaName: objectMeta]
        var paths: [String: JSONValue] = [:]
        for kind in ResourceKind.allCases {
            definitions[schemaName(kind)] = withoutAnyOf(schema(kind, refPrefix: "#/definitions/"))
            paths.merge(Self.paths(kind, v2: true)) { $1 }
        }
        return .object([
            "swagger": .string("2.0"),
            "info": .object(["title": .string("Flinklet"), "version": .string("v1.\(Discovery.kubernetesMinor).0")]),
            "paths": .object(paths),
            "definitions": .object(definitions),
        ])
    }

    static func withoutAnyOf(_ value: JSONValue) -> JSONValue {
        switch value {
        case .object(var object):
            object["anyOf"] = nil
            return .object(object.mapValues(withoutAnyOf))
        case .array(let items): return .array(items.map(withoutAnyOf))
        default: return value
        }
    }
}
