import FlinkletTesting
import FlinkResources
import Foundation
import Planning
import Reconciliation
import Runtime
import Store
import Testing
@testable import Controller
import Engine

/// Each cluster is spoken to in the protocol its JobManager was started with, as its pod record
/// says: plain HTTP for one an earlier Flinklet started without TLS, HTTPS otherwise.
@Suite struct RunningSchemeTests {
    let root = FileManager.default.temporaryDirectory.appendingPathComponent("flinklet-scheme-\(UUID().uuidString.prefix(8))").path
    let app = ResourceID(kind: .flinkDeployment, namespace: "default", name: "app")

    func backend(tls: Bool) -> FlinkBackend {
        var backend = FlinkBackend(distribution: .failure(FlinkHomeError(message: "none")), rest: FakeFlinkREST(), stateDirectory: root)
        if tls { backend.tls = ClusterTLS(keystore: root + "/tls/flinklet.p12", password: "secret") }
        return backend
    }

    func store(jobManagerProbe readiness: ReadinessProbe?) throws -> Store {
        let store = try Store.open(stateDirectory: root)
        _ = try store.leasePorts(owner: app.key, count: 3, range: 20_000...20_099)
        if let readiness {
            var spec = PodSpec(name: "default/app-jobmanager-0", argv: ["java"], workingDirectory: root, logPath: root + "/log")
            spec.readiness = readiness
            spec.labels = [PodLabels.owner: app.key, PodLabels.role: PodRole.jobManager.rawValue]
            try store.savePod(try PodRecords.row(for: PodRecord(spec: spec, pid: 1, pgid: 1, processStartTicks: 1, startedAt: Date()), owner: app.key))
        }
        return store
    }

    @Test func aJobManagerStartedWithoutTLSIsSpokenToOverHTTP() throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        let store = try store(jobManagerProbe: .httpGet(port: 20_000, path: "/overview"))
        #expect(try backend(tls: true).restEndpoint(ofClusterOf: app, store: store) == .http(20_000))
        #expect(try backend(tls: false).restEndpoint(ofClusterOf: app, store: store) == .http(20_000))
    }

    @Test func oneStartedWithTLSOrNoneYetOverHTTPS() throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        #expect(try backend(tls: true).restEndpoint(ofClusterOf: app, store: try store(jobManagerProbe: .httpsGet(port: 20_000, path: "/overview")))
                == .https(20_000))
        try FileManager.default.removeItem(atPath: root)
        #expect(try backend(tls: true).restEndpoint(ofClusterOf: app, store: try store(jobManagerProbe: nil)) == .https(20_000))
        #expect(try backend(tls: true).restEndpoint(ofClusterOf: ResourceID(kind: .flinkDeployment, namespace: "default", name: "none"),
                                                    store: try store(jobManagerProbe: nil)) == nil, "no ports leased")
    }

    @Test func theClientFollowsTheScheme() async throws {
        let secure = FakeFlinkREST(), plain = FakeFlinkREST()
        var b = FlinkBackend(distribution: .failure(FlinkHomeError(message: "none")), rest: secure, stateDirectory: root)
        b.plainREST = plain
        #expect(b.client(.https(1)) as? FakeFlinkREST === secure)
        #expect(b.client(.http(1)) as? FakeFlinkREST === plain)
    }
}
