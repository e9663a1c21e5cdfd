import FlinkResources
import FlinkletTesting
import Foundation
import Store
import Testing

/// `get`, `describe`, `events` and `wait` of `FlinkStateSnapshot`s (`flinksnp`): the snapshots
/// read from manifests and the ones the operator took itself (its jobs' savepoint history).
@Suite struct SnapshotCommandsTests {
    /// A state directory with deployment `app` (two savepoints of its own in its history) and two
    /// manifest snapshots: `sp` COMPLETED, `chk` TRIGGER_PENDING after a failure.
    struct Seeded {
        let dir: ScratchDirectory
        let now = Date(timeIntervalSince1970: Date().timeIntervalSince1970.rounded(.down))
        var state: String { dir.path + "/state" }
        let upgradeMillis: Int64
        let periodicMillis: Int64

        init(_ dir: ScratchDirectory) throws {
            self.dir = dir
            upgradeMillis = Int64(now.timeIntervalSince1970 - 7230) * 1000
            periodicMillis = Int64(now.timeIntervalSince1970 - 1230) * 1000
            let store = try Store.open(stateDirectory: dir.path + "/state")
            let app = ResourceID(kind: .flinkDeployment, namespace: "default", name: "app")
            var record = ResourceRecord(id: app, generation: 2, specHash: "h", spec: #"{"job":{"jarURI":"local:///opt/a.jar"}}"#,
                                        file: "manifests/app.yaml", createdAt: now.addingTimeInterval(-91_800))
            try record.setStatus(FlinkDeploymentStatus(jobStatus: JobStatus(state: "RUNNING", savepointInfo: SavepointInfo(savepointHistory: [
                Savepoint(timeStamp: upgradeMillis, location: "file:/s/savepoint-aaaaaa-1", triggerType: .upgrade, formatType: .canonical),
                Savepoint(timeStamp: periodicMillis, location: "file:/s/savepoint-bbbbbb-2", triggerType: .periodic, formatType: .canonical),
            ])), lifecycleState: .stable))
            try store.upsert(record)

            let sp = ResourceID(kind: .flinkStateSnapshot, namespace: "default", name: "sp")
            var snapshot = ResourceRecord(id: sp, generation: 1, specHash: "s",
                                          spec: #"{"jobReference":{"kind":"FlinkDeployment","name":"app"},"savepoint":{}}"#,
                                          file: "manifests/sp.yaml", createdAt: now.addingTimeInterval(-630))
            try snapshot.setStatus(FlinkStateSnapshotStatus(
                state: .completed, triggerId: nil, triggerTimestamp: "2026-12-06T05:00:00Z", resultTimestamp: "2026-12-06T05:00:01Z",
                path: "file:/s/savepoint-cccccc-3", failures: 0, observedGeneration: 1,
                conditions: [Condition(type: "Ready", status: .true, reason: "Completed", message: "savepoint at file:/s/savepoint-cccccc-3",
                                       observedGeneration: 1)]))
            try store.upsert(snapshot)
            try store.recordEvent(EventRecord(key: sp.key, type: .normal, reason: "SavepointCreated", message: "Savepoint sp completed",
                                              firstTimestamp: now.addingTimeInterval(-600)))

            let chk = ResourceID(kind: .flinkStateSnapshot, namespace: "default", name: "chk")
            var checkpoint = ResourceRecord(id: chk, generation: 1, specHash: "c",
                                            spec: #"{"jobReference":{"kind":"FlinkDeployment","name":"app"},"checkpoint":{},"backoffLimit":3}"#,
                                            file: "manifests/chk.yaml", createdAt: now.addingTimeInterval(-1230))  // "20m" (ages away from a boundary)
            try checkpoint.setStatus(FlinkStateSnapshotStatus(state: .triggerPending, error: "declined", failures: 1, observedGeneration: 1))
            try store.upsert(checkpoint)
        }

        func run(_ arguments: [String]) throws -> FlinkletResult {
            try FlinkletBinary.run(arguments + ["--state-dir", state], in: dir.url)
        }
    }

    @Test func getListsSnapshotsWithUpstreamsColumnsTheOperatorsOwnIncluded() throws {
        try withScratchDirectory { dir in
            let seeded = try Seeded(dir)
            let upgrade = RFC3339.string(from: Date(timeIntervalSince1970: Double(seeded.upgradeMillis) / 1000))
            let periodic = RFC3339.string(from: Date(timeIntervalSince1970: Double(seeded.periodicMillis) / 1000))
            for spelling in ["flinksnp", "flinkstatesnapshots", "flinkstatesnapshot", "FlinkStateSnapshot"] {
                let result = try seeded.run(["get", spelling])
                #expect(result.exited && result.status == 0, "\(result)")
                // Cells, as the columns separate them (three spaces or more).
                let cells = result.stdoutLines.map { line in
                    line.components(separatedBy: "   ").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
                }
                #expect(cells == [
                    ["NAME", "PATH", "RESULT TIMESTAMP", "SNAPSHOT STATE", "AGE"],
                    ["chk", "TRIGGER_PENDING", "20m"],
                    ["sp", "file:/s/savepoint-cccccc-3", "2026-12-06T05:00:01Z", "COMPLETED", "10m"],
                    ["app-savepoint-upgrade-\(seeded.upgradeMillis)", "file:/s/savepoint-aaaaaa-1", upgrade, "COMPLETED", "120m"],
                    ["app-savepoint-periodic-\(seeded.periodicMillis)", "file:/s/savepoint-bbbbbb-2", periodic, "COMPLETED", "20m"],
                ], "\(result)")
            }
            let wide = try seeded.run(["get", "flinksnp", "chk", "-o", "wide"])
            #expect(wide.stdoutLines.last?.hasSuffix("FlinkDeployment/app   MANUAL         1          declined") == true, "\(wide)")

            // Every kind at once: one table per set of columns, as kubectl prints them.
            let all = try seeded.run(["get"])
            #expect(all.stdoutLines.first?.hasPrefix("NAME ") == true && all.stdoutLines.contains(""), "\(all)")
            #expect(all.stdoutLines.contains { $0.hasPrefix("flinkstatesnapshot.flink.apache.org/sp ") }, "\(all)")
        }
    }

    @Test func getYAMLHasUpstreamsLabelsAndWaitReadsTheState() throws {
        try withScratchDirectory { dir in
            let seeded = try Seeded(dir)
            let yaml = try seeded.run(["get", "flinksnp/sp", "-o", "yaml"])
            #expect(yaml.status == 0, "\(yaml)")
            for line in ["    job-reference.kind: FlinkDeployment", "    job-reference.name: app", "    snapshot.state: COMPLETED",
                         "    snapshot.trigger-type: MANUAL", "    snapshot.type: SAVEPOINT", "  state: COMPLETED", "kind: FlinkStateSnapshot"] {
                #expect(yaml.stdoutLines.contains(line), "\(line): \(yaml)")
            }
            let own = try seeded.run(["get", "flinksnp", "app-savepoint-upgrade-\(seeded.upgradeMillis)", "-o", "yaml"])
            #expect(own.stdoutLines.contains("    snapshot.trigger-type: UPGRADE"), "\(own)")
            #expect(own.stdoutLines.contains("    flinklet.dev/created-by: operator"), "\(own)")

            let wait = try seeded.run(["wait", "flinksnp/sp", "--for=jsonpath={.status.state}=COMPLETED", "--timeout", "2s"])
            #expect(wait.status == 0, "\(wait)")
            let ready = try seeded.run(["wait", "flinksnp/sp", "--for=condition=Ready", "--timeout", "2s"])
            #expect(ready.status == 0, "\(ready)")
            let own2 = try seeded.run(["wait", "flinksnp/app-savepoint-periodic-\(seeded.periodicMillis)", "--for=condition=Ready", "--timeout", "2s"])
            #expect(own2.status == 0, "\(own2)")
            let pending = try seeded.run(["wait", "flinksnp/chk", "--for=jsonpath={.status.state}=COMPLETED", "--timeout", "300ms"])
            #expect(pending.status != 0, "\(pending)")
        }
    }

    @Test func describeAndEventsShowASnapshot() throws {
        try withScratchDirectory { dir in
            let seeded = try Seeded(dir)
            let describe = try seeded.run(["describe", "flinksnp", "sp"])
            #expect(describe.status == 0, "\(describe)")
            for line in ["Kind:               FlinkStateSnapshot (flink.apache.org/v1beta1)",
                         "Type:               SAVEPOINT (trigger type MANUAL)",
                         "Job Reference:      FlinkDeployment/app",
                         "State:              COMPLETED",
                         "Path:               file:/s/savepoint-cccccc-3"] {
                #expect(describe.stdoutLines.contains(line), "\(line): \(describe)")
            }
            #expect(describe.stdout.contains("SavepointCreated"), "\(describe)")
            let own = try seeded.run(["describe", "flinksnp/app-savepoint-upgrade-\(seeded.upgradeMillis)"])
            #expect(own.stdout.contains("Created By:         the operator"), "\(own)")
            let events = try seeded.run(["events", "flinksnp/sp"])
            #expect(events.stdoutLines.count == 2 && events.stdout.contains("flinkstatesnapshot/sp"), "\(events)")
        }
    }
}
