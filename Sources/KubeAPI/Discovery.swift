import FlinkResources
import Foundation

/// What the API serves, as discovery documents: the legacy form (`/api`, `/api/v1`, `/apis`,
/// `/apis/flink.apache.org/v1beta1`) and the aggregated form (`apidiscovery.k8s.io/v2`) that
/// kubectl asks for first.
enum Discovery {
    /// The version `/version` reports: the Kubernetes API level this server imitates.
    static let kubernetesMinor = "32"
    static let categories = ["all", "flink"]
    static let writeVerbs = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]

    struct Resource {
        var plural: String
        var singular: String
        var kind: String
        var shortNames: [String]
        var verbs: [String]
        var categories: [String]
        var hasStatus: Bool
    }

    static var flinkResources: [Resource] {
        ResourceKind.allCases.map { kind in
            Resource(plural: kind.plural, singular: kind.singular, kind: kind.rawValue, shortNames: kind.shortNames,
                     verbs: writeVerbs, categories: categories, hasStatus: true)
        }
    }

    static let coreResources: [Resource] = [
        Resource(plural: "namespaces", singular: "namespace", kind: "Namespace", shortNames: ["ns"], verbs: ["get", "list"],
                 categories: [], hasStatus: false),
        Resource(plural: "events", singular: "event", kind: "Event", shortNames: ["ev"], verbs: ["get", "list"],
                 categories: [], hasStatus: false),
    ]

    static func version() -> JSONValue {
        .object([
            "major": .string("1"), "minor": .string(kubernetesMinor), "gitVersion": .string("v1.\(kubernetesMinor).0-flinklet"),
            "gitCommit": .string(""), "gitTreeState": .string("clean"), "buildDate": .string("1970-01-01T00:00:00Z"),
            "goVersion": .string("swift"), "compiler": .string("swift"), "platform": .string("linux/amd64"),
        ])
    }

    static func apiVersions(server: String) -> JSONValue {
        .object([
            "kind": .string("APIVersions"), "versions": .array([.string("v1")]),
            "serverAddressByClientCIDRs": .array([.object(["clientCIDR": .string("0.0.0.0/0"), "serverAddress": .string(server)])]),
        ])
    }

    static var groupVersion: JSONValue {
        .object(["groupVersion": .string(FlinkAPI.apiVersion), "version": .string(FlinkAPI.version)])
    }

    static func group() -> JSONValue {
        .object([
            "kind": .string("APIGroup"), "apiVersion": .string("v1"), "name": .string(FlinkAPI.group),
            "versions": .array([groupVersion]), "preferredVersion": groupVersion,
        ])
    }

    static func groupList() -> JSONValue {
        var group = group().objectValue!
        group["kind"] = nil
        group["apiVersion"] = nil
        return .object(["kind": .string("APIGroupList"), "apiVersion": .string("v1"), "groups": .array([.object(group)])])
    }

    static func resourceList(groupVersion: String, resources: [Resource]) -> JSONValue {
        var items: [JSONValue] = []
        for r in resources {
            var item: [String: JSONValue] = [
                "name": .string(r.plural), "singularName": .string(r.singular), "namespaced": .bool(r.kind != "Namespace"),
                "kind": .string(r.kind), "verbs": .array(r.verbs.map(JSONValue.string)),
            ]
            if !r.shortNames.isEmpty { item["shortNames"] = .array(r.shortNames.map(JSONValue.string)) }
            if !r.categories.isEmpty { item["categories"] = .array(r.categories.map(JSONValue.string)) }
            items.append(.object(item))
            if r.hasStatus {
                items.append(.object([
                    "name": .string(r.plural + "/status"), "singularName": .string(""), "namespaced": .bool(true),
                    "kind": .string(r.kind), "verbs": .array(["get", "patch", "update"].map(JSONValue.string)),
                ]))
            }
        }
        return .object(["kind": .string("APIResourceList"), "apiVersion": .string("v1"), "groupVersion": .string(groupVersion),
                        "resources": .array(items)])
    }

    // MARK: Aggregated discovery (apidiscovery.k8s.io/v2)

    static let aggregatedContentType = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"

    /// True when the Accept header asks for the aggregated form (kubectl 1.30+ does, first).
    static func wantsAggregated(_ accept: String) -> Bool {
        accept.split(separator: ",").contains { part in
            let parameters = Set(part.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) })
            return parameters.contains("as=APIGroupDiscoveryList") && parameters.contains("g=apidiscovery.k8s.io") && parameters.contains("v=v2")
        }
    }

    static func aggregated(core: Bool) -> JSONValue {
        let group = core ? "" : FlinkAPI.group
        let version = core ? "v1" : FlinkAPI.version
        let resources = (core ? coreResources : flinkResources).map { r -> JSONValue in
            let kind: JSONValue = .object(["group": .string(group), "version": .string(version), "kind": .string(r.kind)])
            var item: [String: JSONValue] = [
                "resource": .string(r.plural), "responseKind": kind, "scope": .string(r.kind == "Namespace" ? "Cluster" : "Namespaced"),
                "singularResource": .string(r.singular), "verbs": .array(r.verbs.map(JSONValue.string)),
            ]
            if !r.shortNames.isEmpty { item["shortNames"] = .array(r.shortNames.map(JSONValue.string)) }
            if !r.categories.isEmpty { item["categories"] = .array(r.categories.map(JSONValue.string)) }
            if r.hasStatus {
                item["subresources"] = .array([.object([
                    "subresource": .string("status"), "responseKind": kind,
                    "verbs": .array(["get", "patch", "update"].map(JSONValue.string)),
                ])])
            }
            return .object(item)
        }
        return .object([
            "kind": .string("APIGroupDiscoveryList"), "apiVersion": .string("apidiscovery.k8s.io/v2"), "metadata": .object([:]),
            "items": .array([.object([
                "metadata": .object(["name": .string(group), "creationTimestamp": .null]),
                "versions": .array([.object(["version": .string(version), "resources": .array(resources), "freshness": .string("Current")])]),
            ])]),
        ])
    }
}
