import FlinkResources
import Foundation
@testable import KubeAPI
import Logging
import Manifests
import Store
import Testing

/// Requests answered in process: access, discovery, OpenAPI, tables.
struct KubeAPIServerTests {
    static func withServer<T>(_ body: (KubeAPIServer, Store) async throws -> T) async throws -> T {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("flinklet-kubeapi-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        try FileManager.default.createDirectory(atPath: root + "/manifests", withIntermediateDirectories: true)
        let store = try Store.open(stateDirectory: root + "/state")
        let source = DirectorySource(configuration: .init(directory: root + "/manifests"), logger: Logger(label: "test"))
        let server = KubeAPIServer(store: store, source: source, manifests: root + "/manifests", token: "secret", logger: Logger(label: "test"))
        return try await body(server, store)
    }

    static func get(_ server: KubeAPIServer, _ path: String, token: String? = "secret", accept: String = "application/json",
                    query: [String: String] = [:]) async -> (Int, JSONValue?, [(name: String, value: String)]) {
        var headers = ["Accept": accept]
        if let token { headers["Authorization"] = "Bearer \(token)" }
        let response = await server.handle(APIRequest(method: "GET", path: path, query: query, headers: headers))
        guard case .bytes(let bytes) = response.body else { return (response.status, nil, response.headers) }
        return (response.status, JSONText.parse(bytes), response.headers)
    }

    @Test func everyRequestNeedsTheToken() async throws {
        try await Self.withServer { server, _ in
            #expect(await Self.get(server, "/api", token: nil).0 == 401)
            #expect(await Self.get(server, "/api", token: "wrong").0 == 401)
            #expect(await Self.get(server, "/api").0 == 200)
        }
    }

    @Test func discoveryNamesTheKindsWithShortNamesCategoriesAndVerbs() async throws {
        try await Self.withServer { server, _ in
            let (status, list, _) = await Self.get(server, "/apis/flink.apache.org/v1beta1")
            #expect(status == 200)
            guard case .array(let resources)? = list?["resources"] else { Issue.record("no resources"); return }
            let deployments = resources.first { $0["name"]?.stringValue == "flinkdeployments" }
            #expect(deployments?["shortNames"] == .array(ResourceKind.flinkDeployment.shortNames.map(JSONValue.string)))
            #expect(deployments?["categories"] == .array([.string("all"), .string("flink")]))
            #expect(deployments?["verbs"]?.stringValue == nil && deployments?["namespaced"] == .bool(true))
            #expect(resources.contains { $0["name"]?.stringValue == "flinkdeployments/status" })

            let (_, aggregated, headers) = await Self.get(server, "/apis", accept: "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json")
            #expect(headers.contains { $0.name == "Content-Type" && $0.value == Discovery.aggregatedContentType })
            #expect(aggregated?["kind"]?.stringValue == "APIGroupDiscoveryList")
        }
    }

    @Test func openAPIDescribesTheSpecFromTheCRDSchema() async throws {
        try await Self.withServer { server, _ in
            let (_, index, _) = await Self.get(server, "/openapi/v3")
            let url = index?["paths"]?["apis/flink.apache.org/v1beta1"]?["serverRelativeURL"]?.stringValue
            #expect(url?.hasPrefix("/openapi/v3/apis/flink.apache.org/v1beta1?hash=") == true)
            let (_, document, _) = await Self.get(server, "/openapi/v3/apis/flink.apache.org/v1beta1")
            let schema = document?["components"]?["schemas"]?["org.apache.flink.v1beta1.FlinkDeployment"]
            #expect(schema?["properties"]?["spec"]?["properties"]?["job"]?["properties"]?["upgradeMode"]?["enum"]
                    == .array(["stateless", "savepoint", "last-state"].map(JSONValue.string)))
            #expect(schema?["x-kubernetes-group-version-kind"] != nil)
            let (_, v2, _) = await Self.get(server, "/openapi/v2")
            #expect(v2?["definitions"]?["org.apache.flink.v1beta1.FlinkDeployment"] != nil)
        }
    }

    @Test func aTableHasFlinkletGetsColumnsAndAListItsRevision() async throws {
        try await Self.withServer { server, store in
            var record = ResourceRecord(id: ResourceID(kind: .flinkDeployment, namespace: "default", name: "web"), specHash: "h",
                                        spec: #"{"mode":"session"}"#, status: #"{"lifecycleState":"STABLE","jobStatus":{"state":"RUNNING"}}"#)
            try record.setMetadata(ResourceMetadata(labels: ["team": "a"], annotations: nil))
            try store.upsert(record)
            let (_, table, _) = await Self.get(server, "/apis/flink.apache.org/v1beta1/namespaces/default/flinkdeployments",
                                               accept: "application/json;as=Table;v=v1;g=meta.k8s.io,application/json")
            guard case .array(let columns)? = table?["columnDefinitions"], case .array(let rows)? = table?["rows"] else {
                Issue.record("not a table: \(String(describing: table))")
                return
            }
            #expect(columns.filter { $0["priority"] == .int(0) }.compactMap { $0["name"]?.stringValue }
                    == ["Name", "Job Status", "Lifecycle State", "Ready", "Age"])
            #expect(rows.first?["cells"]?.objectValue == nil)
            guard case .array(let cells)? = rows.first?["cells"] else { return }
            #expect(Array(cells.prefix(4)) == [.string("web"), .string("RUNNING"), .string("STABLE"), .string("Unknown")])

            let (_, list, _) = await Self.get(server, "/apis/flink.apache.org/v1beta1/flinkdeployments", query: ["labelSelector": "team=b"])
            #expect(list?["items"] == .array([]))
            #expect(list?["metadata"]?["resourceVersion"] == .string("1"))
            let (status, _, _) = await Self.get(server, "/apis/flink.apache.org/v1beta1/flinkdeployments", query: ["fieldSelector": "spec.x=1"])
            #expect(status == 400)
        }
    }
}

/// Writes checked as the operator reads manifests, without writing (`dryRun=All`).
struct KubeAPIWriteTests {
    static func post(_ server: KubeAPIServer, _ body: String, query: [String: String]) async -> APIResponse {
        await server.handle(APIRequest(method: "POST", path: "/apis/flink.apache.org/v1beta1/namespaces/default/flinkdeployments",
                                       query: query, headers: ["Authorization": "Bearer secret", "Content-Type": "application/json"],
                                       body: Array(body.utf8)))
    }

    static let withUnknownField = #"{"apiVersion":"flink.apache.org/v1beta1","kind":"FlinkDeployment","metadata":{"name":"x"},"spec":{"flinkVersion":"v2_3","mode":"session","colour":"blue"}}"#

    static func json(_ response: APIResponse) -> JSONValue? {
        guard case .bytes(let bytes) = response.body else { return nil }
        return JSONText.parse(bytes)
    }

    @Test func fieldValidationStrictRefusesAnUnknownFieldWarnWarnsIgnoreDropsIt() async throws {
        try await KubeAPIServerTests.withServer { server, _ in
            let strict = await Self.post(server, Self.withUnknownField, query: ["dryRun": "All", "fieldValidation": "Strict"])
            #expect(strict.status == 422)
            guard case .array(let causes)? = Self.json(strict)?["details"]?["causes"] else { Issue.record("no causes"); return }
            #expect(causes.first?["field"] == .string("spec.colour"))

            let warn = await Self.post(server, Self.withUnknownField, query: ["dryRun": "All", "fieldValidation": "Warn"])
            #expect(warn.status == 201)
            #expect(warn.headers.contains { $0.name == "Warning" && $0.value.contains("unknown field \\\"spec.colour\\\"") }, "\(warn.headers)")
            #expect(Self.json(warn)?["spec"]?["colour"] == nil)

            let ignore = await Self.post(server, Self.withUnknownField, query: ["dryRun": "All", "fieldValidation": "Ignore"])
            #expect(ignore.status == 201 && !ignore.headers.contains { $0.name == "Warning" })
        }
    }

    @Test func anInvalidObjectIs422WithOneCausePerDiagnostic() async throws {
        try await KubeAPIServerTests.withServer { server, _ in
            let body = #"{"apiVersion":"flink.apache.org/v1beta1","kind":"FlinkDeployment","metadata":{"name":"x"},"spec":{"flinkVersion":"v2_3","job":{"jarURI":"local:///x.jar","upgradeMode":"savepiont","parallelism":0}}}"#
            let response = await Self.post(server, body, query: ["dryRun": "All"])
            #expect(response.status == 422)
            let status = Self.json(response)
            #expect(status?["reason"] == .string("Invalid") && status?["details"]?["kind"] == .string("FlinkDeployment"))
            guard case .array(let causes)? = status?["details"]?["causes"] else { Issue.record("no causes"); return }
            #expect(Set(causes.compactMap { $0["field"]?.stringValue }) == ["spec.job.upgradeMode", "spec.job.parallelism"])
            #expect(causes.contains { $0["reason"] == .string("FieldValueNotSupported") })
        }
    }

    @Test func aNameThatDiffersFromTheURLIsABadRequest() async throws {
        try await KubeAPIServerTests.withServer { server, _ in
            let response = await server.handle(APIRequest(
                method: "PUT", path: "/apis/flink.apache.org/v1beta1/namespaces/default/flinkdeployments/y",
                headers: ["Authorization": "Bearer secret"], body: Array(Self.withUnknownField.utf8)))
            #expect(response.status == 404, "y does not exist")
            let strategic = await server.handle(APIRequest(
                method: "PATCH", path: "/apis/flink.apache.org/v1beta1/namespaces/default/flinkdeployments/y",
                headers: ["Authorization": "Bearer secret", "Content-Type": "application/strategic-merge-patch+json"], body: Array("{}".utf8)))
            #expect(strategic.status == 415, "no strategic merge patch for custom resources")
        }
    }
}
