import Foundation
import Logging
import Runtime
import Testing
@testable import Observability

@Suite struct ScrapeTargetsTests {
    func pod(_ name: String, role: String, port: Int?, phase: PodPhase = .running) -> PodStatus {
        var labels = ["flinklet.dev/owner": "FlinkDeployment/default/app", "flinklet.dev/role": role]
        if let port { labels["flinklet.dev/metrics-port"] = String(port) }
        return PodStatus(name: "default/\(name)", phase: phase, specHash: "h", labels: labels)
    }

    @Test func liveJVMsWithAReporterAreListedWithTheirResourceAndRole() {
        let targets = ScrapeTargets.podTargets([
            pod("app-taskmanager-1-0", role: "taskmanager", port: 21_002),
            pod("app-jobmanager-0", role: "jobmanager", port: 21_000),
            pod("app-taskmanager-2-0", role: "taskmanager", port: 21_001, phase: .pending),  // not up: not scraped
            pod("app-submitter", role: "submitter", port: nil),
        ])
        #expect(targets == [
            ScrapeTarget(targets: ["127.0.0.1:21000"], labels: ["namespace": "default", "name": "app", "kind": "FlinkDeployment", "role": "jobmanager", "pod": "app-jobmanager-0"]),
            ScrapeTarget(targets: ["127.0.0.1:21002"], labels: ["namespace": "default", "name": "app", "kind": "FlinkDeployment", "role": "taskmanager", "pod": "app-taskmanager-1-0"]),
        ])
    }

    @Test func theFileIsWrittenAtomicallyAndOnlyWhenTargetsChange() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("targets-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = ScrapeTargets.path(stateDirectory: directory)
        let writer = ScrapeTargetsWriter(path: path, operatorAddress: { "127.0.0.1:8085" }, logger: Logger(label: "test") { _ in SwiftLogNoOpLogHandler() },
                                         pods: { [pod("app-jobmanager-0", role: "jobmanager", port: 21_000)] })
        let first = await writer.refresh(previous: nil)
        let decoded = try JSONDecoder().decode([ScrapeTarget].self, from: Data(contentsOf: URL(fileURLWithPath: path)))
        #expect(decoded.map(\.targets) == [["127.0.0.1:8085"], ["127.0.0.1:21000"]])
        #expect(decoded[0].labels == ["namespace": "flinklet-system", "name": "flinklet", "kind": "Operator", "role": "operator"])
        try FileManager.default.removeItem(atPath: path)
        _ = await writer.refresh(previous: first)  // unchanged: not rewritten
        #expect(!FileManager.default.fileExists(atPath: path))
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory + "/prometheus").isEmpty, "no temporary file left")
    }
}
