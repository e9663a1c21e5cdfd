import FlinkClient
import FlinkResources
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// State survives: upgrades, suspend/resume and a killed JobManager, each proven by the counter
/// job's own output — per key, counts continue across the change and never start over.
@Suite(.serialized, .enabled(if: E2E.available)) struct LifecycleTests {
    /// Per key: starts at 1, never skips a count (no gap), and never falls back further than
    /// `replay` (records processed after the checkpoint a job restored from are counted again;
    /// a savepoint upgrade replays nothing, so `replay: 0` asks for exactly 1, 2, 3, ...).
    static func continues(_ counts: [String: [Int]], replay: Int) -> String? {
        if counts.isEmpty { return "no output" }
        for (key, values) in counts.sorted(by: { $0.key < $1.key }) {
            var high = 0
            for (index, value) in values.enumerated() {
                if index == 0 && value != 1 { return "\(key) starts at \(value)" }
                if value > high + 1 { return "\(key) skips from \(high) to \(value) (line \(index + 1) of the key)" }
                if value <= high - replay || (replay == 0 && value <= high) {
                    return "\(key) falls back from \(high) to \(value) (line \(index + 1) of the key)"
                }
                high = max(high, value)
            }
        }
        return nil
    }

    /// Per key: after a restore from a checkpoint (the count falls back), the counts go up by one
    /// at a time — one copy writes; an old copy still writing would interleave a second sequence.
    static func oneWriterAfterEachFallBack(_ counts: [String: [Int]]) -> String? {
        for (key, values) in counts.sorted(by: { $0.key < $1.key }) {
            for index in values.indices.dropFirst() where values[index] != values[index - 1] + 1 {
                guard values[index] <= values[index - 1] else { continue }  // a gap is `continues`' to report
                let after = values[index...]
                if let jump = zip(after, after.dropFirst()).first(where: { $0.1 != $0.0 + 1 }) {
                    return "\(key): after falling back to \(values[index]) the counts go \(jump.0) → \(jump.1): two copies write"
                }
            }
        }
        return nil
    }

    /// Applies `manifest` as `<name>.yaml`, waits until its job runs and has written for 3 s;
    /// returns the job's id.
    static func deployRunning(_ world: Cluster, _ name: String, _ manifest: String) async throws -> String {
        try world.apply("\(name).yaml", manifest)
        try #require(waitRunning(world, name), "\(world.summary(.flinkDeployment, name))")
        try await Task.sleep(for: .seconds(3))
        return try #require(world.deployment(name)?.jobStatus?.jobId)
    }

    static func waitRunning(_ world: Cluster, _ name: String, jobIdNot old: String? = nil, timeout: TimeInterval = 120) -> Bool {
        world.waitUntil(timeout: timeout) {
            guard let status = world.deployment(name) else { return false }
            return status.jobStatus?.state == "RUNNING" && status.jobStatus?.jobId != old
                && status.conditions?.contains { $0.type == "Running" && $0.status == .true } == true
                && status.reconciliationStatus?.state == .deployed
        }
    }

    @Test func applicationSavepointUpgradeSuspendResumeAndAKilledJobManagerKeepTheCounts() async throws {
        let world = try Cluster("lifecycle")
        defer { world.tearDown() }
        try world.startOperator()
        func manifest(tag: String, state: String = "running") -> String {
            E2E.deployment(name: "app", mode: "application", args: ["--rate", "50", "--keys", "4", "--tag", tag, "--output", world.output + "/app.out"],
                           upgradeMode: "savepoint", state: state)
        }
        let v1 = try await Self.deployRunning(world, "app", manifest(tag: "v1"))

        // 1. Savepoint upgrade: new args (tag v2); the counts continue exactly.
        try world.apply("app.yaml", manifest(tag: "v2"))
        try #require(Self.waitRunning(world, "app", jobIdNot: v1), "\(world.summary(.flinkDeployment, "app"))")
        #expect(world.waitUntil(timeout: 20) { world.lines("app.out").contains { $0.last == "v2" } })
        let upgraded = try #require(world.deployment("app"))
        let savepoint = try #require(upgraded.jobStatus?.upgradeSavepointPath)
        #expect(savepoint.contains("/savepoints/"), "restored from the upgrade's savepoint: \(savepoint)")
        #expect(upgraded.jobStatus?.savepointInfo?.savepointHistory?.last?.triggerType == .upgrade)
        let events = world.events(.flinkDeployment, "app").map(\.reason)
        #expect(events.contains("SpecChanged") && events.contains("SavepointCreated"), "\(events)")
        let tags = world.lines("app.out").compactMap { $0.count == 3 ? $0[2] : nil }
        #expect(tags.firstIndex(of: "v2").map { index in !tags[index...].contains("v1") } == true, "v1 never writes after v2 started: one copy at a time")
        try await Task.sleep(for: .seconds(2))
        #expect(Self.continues(world.counts("app.out"), replay: 0) == nil, "\(Self.continues(world.counts("app.out"), replay: 0) ?? "")")
        world.evidence("app.out", "1. application, savepoint upgrade")

        // An ignore-class change (read only when a job next starts) restarts nothing.
        let jobManagerBefore = world.processes(containing: "app-jobmanager-0")
        try world.apply("app.yaml", manifest(tag: "v2").replacingOccurrences(of: "upgradeMode: savepoint", with: "upgradeMode: savepoint\n    allowNonRestoredState: true"))
        #expect(world.waitUntil(timeout: 20) { (world.record(.flinkDeployment, "app")?.generation ?? 0) >= 3 })
        try await Task.sleep(for: .seconds(3))
        #expect(world.processes(containing: "app-jobmanager-0") == jobManagerBefore, "the JobManager keeps running")
        #expect(world.deployment("app")?.jobStatus?.jobId == upgraded.jobStatus?.jobId, "the same job runs")

        // 3. Suspend: no process left; resume: the counts continue.
        let v2 = try #require(upgraded.jobStatus?.jobId)
        try world.apply("app.yaml", manifest(tag: "v2", state: "suspended"))
        #expect(world.waitUntil(timeout: 60) { world.deployment("app")?.lifecycleState == .suspended && world.processes().isEmpty },
                "\(world.processes()) \(world.summary(.flinkDeployment, "app"))")
        let linesWhileSuspended = world.lineCount("app.out")
        try await Task.sleep(for: .seconds(2))
        #expect(world.lineCount("app.out") == linesWhileSuspended, "nothing runs while suspended")
        try world.apply("app.yaml", manifest(tag: "v2"))
        try #require(Self.waitRunning(world, "app", jobIdNot: v2), "\(world.summary(.flinkDeployment, "app"))")
        #expect(world.waitUntil(timeout: 20) { world.lineCount("app.out") > linesWhileSuspended + 20 })
        #expect(Self.continues(world.counts("app.out"), replay: 0) == nil, "\(Self.continues(world.counts("app.out"), replay: 0) ?? "")")
        world.evidence("app.out", "3. suspend, resume")

        // 4. kill -9 the JobManager: recovered from the latest checkpoint; counts continue.
        try await Task.sleep(for: .seconds(5))  // at least one checkpoint (every 2 s) of the resumed job
        let resumed = try #require(world.deployment("app")?.jobStatus?.jobId)
        let jobManager = try #require(world.processes(containing: "app-jobmanager-0").first)
        kill(-jobManager, SIGKILL)
        try #require(Self.waitRunning(world, "app", jobIdNot: resumed, timeout: 150), "\(world.summary(.flinkDeployment, "app"))")
        #expect(world.events(.flinkDeployment, "app").contains { $0.reason == "RecoverDeployment" })
        let beforeGrowth = world.lineCount("app.out")
        #expect(world.waitUntil(timeout: 20) { world.lineCount("app.out") > beforeGrowth + 20 })
        // Restored from a checkpoint: what was counted after it is counted again (at most a few
        // seconds of input), never from zero.
        #expect(Self.continues(world.counts("app.out"), replay: 600) == nil, "\(Self.continues(world.counts("app.out"), replay: 600) ?? "")")
        world.evidence("app.out", "4. kill -9 JobManager")
        #expect(world.processes(containing: "app-jobmanager-0").count == 1)

        world.delete("app.yaml")
        #expect(world.waitUntil(timeout: 40) { world.processes().isEmpty })
    }

    @Test func lastStateUpgradeChangesParallelismAndTheCountsContinue() async throws {
        let world = try Cluster("last-state")
        defer { world.tearDown() }
        try world.startOperator()
        func manifest(parallelism: Int) -> String {
            E2E.deployment(name: "scaled", mode: "application", args: ["--rate", "50", "--keys", "4", "--output", world.output + "/scaled.out"],
                           parallelism: parallelism, upgradeMode: "last-state", slots: 2)
        }
        try world.apply("scaled.yaml", manifest(parallelism: 1))
        try #require(Self.waitRunning(world, "scaled"), "\(world.summary(.flinkDeployment, "scaled"))")
        try await Task.sleep(for: .seconds(5))  // checkpoints every 2 s
        let first = try #require(world.deployment("scaled")?.jobStatus?.jobId)

        try world.apply("scaled.yaml", manifest(parallelism: 2))
        try #require(Self.waitRunning(world, "scaled", jobIdNot: first), "\(world.summary(.flinkDeployment, "scaled"))")
        let status = try #require(world.deployment("scaled"))
        #expect(status.jobStatus?.upgradeSavepointPath?.contains("/chk-") == true, "restored from the retained checkpoint: \(status.jobStatus?.upgradeSavepointPath ?? "none")")
        let port = try #require(world.restPort("scaled"))
        let details = try await world.rest.job(port: port, id: try #require(status.jobStatus?.jobId))
        #expect(details?.vertices.contains { $0.parallelism == 2 } == true, "the new job runs with parallelism 2")
        let before = world.lineCount("scaled.out")
        #expect(world.waitUntil(timeout: 20) { world.lineCount("scaled.out") > before + 20 })
        #expect(Self.continues(world.counts("scaled.out"), replay: 600) == nil, "\(Self.continues(world.counts("scaled.out"), replay: 600) ?? "")")
        world.evidence("scaled.out", "2. last-state, parallelism 1→2")
        world.delete("scaled.yaml")
        #expect(world.waitUntil(timeout: 40) { world.processes().isEmpty })
    }

    @Test func perJobSavepointUpgradeResubmitsFromTheSavepointWithTheClient() async throws {
        let world = try Cluster("per-job-upgrade")
        defer { world.tearDown() }
        try world.startOperator()
        func manifest(tag: String) -> String {
            E2E.deployment(name: "batch", mode: "per-job", args: ["--rate", "50", "--keys", "4", "--tag", tag, "--output", world.output + "/batch.out"],
                           upgradeMode: "savepoint")
        }
        let v1 = try await Self.deployRunning(world, "batch", manifest(tag: "v1"))

        try world.apply("batch.yaml", manifest(tag: "v2"))
        try #require(Self.waitRunning(world, "batch", jobIdNot: v1), "\(world.summary(.flinkDeployment, "batch"))")
        #expect(world.waitUntil(timeout: 20) { world.lines("batch.out").contains { $0.last == "v2" } })
        let savepoint = try #require(world.deployment("batch")?.jobStatus?.upgradeSavepointPath)
        #expect(savepoint.contains("/savepoints/"), "restored from the upgrade's savepoint: \(savepoint)")
        let tags = world.lines("batch.out").compactMap { $0.count == 3 ? $0[2] : nil }
        #expect(tags.firstIndex(of: "v2").map { index in !tags[index...].contains("v1") } == true, "v1 never writes after v2 started")
        try await Task.sleep(for: .seconds(2))
        #expect(Self.continues(world.counts("batch.out"), replay: 0) == nil, "\(Self.continues(world.counts("batch.out"), replay: 0) ?? "")")
        world.evidence("batch.out", "per-job savepoint upgrade")
        #expect(world.processes(containing: "batch-jobmanager-0").count == 1, "one JobManager")

        world.delete("batch.yaml")
        #expect(world.waitUntil(timeout: 40) { world.processes().isEmpty })
    }

    @Test func sessionJobSavepointUpgradeInsideARunningSessionCluster() async throws {
        let world = try Cluster("session-upgrade")
        defer { world.tearDown() }
        try world.startOperator()
        try world.apply("session.yaml", """
            apiVersion: flink.apache.org/v1beta1
            kind: FlinkDeployment
            metadata:
              name: session
            spec:
              flinkVersion: v2_3
              mode: session
              flinkConfiguration:
                taskmanager.numberOfTaskSlots: "2"
              jobManager:
                resource:
                  memory: 768m
              taskManager:
                resource:
                  memory: 1024m

            """)
        func job(tag: String) -> String {
            """
            apiVersion: flink.apache.org/v1beta1
            kind: FlinkSessionJob
            metadata:
              name: counter
            spec:
              deploymentName: session
              flinkConfiguration:
                execution.checkpointing.interval: 2s
              job:
                jarURI: local:///opt/flink/usrlib/flinklet-counter-job.jar
                entryClass: dev.flinklet.examples.CounterJob
                args: ["--rate", "50", "--keys", "4", "--tag", "\(tag)", "--output", "\(world.output)/session.out"]
                parallelism: 1
                upgradeMode: savepoint

            """
        }
        try world.apply("job.yaml", job(tag: "v1"))
        let running = { (old: String?) in
            world.waitUntil(timeout: 120) {
                let status = world.sessionJob("counter")
                return status?.jobStatus?.state == "RUNNING" && status?.jobStatus?.jobId != old && status?.reconciliationStatus?.state == .deployed
            }
        }
        try #require(running(nil), "\(world.summary(.flinkSessionJob, "counter"))")
        try await Task.sleep(for: .seconds(3))
        let v1 = try #require(world.sessionJob("counter")?.jobStatus?.jobId)
        let clusterPods = world.processes()

        try world.apply("job.yaml", job(tag: "v2"))
        try #require(running(v1), "\(world.summary(.flinkSessionJob, "counter"))")
        #expect(world.waitUntil(timeout: 20) { world.lines("session.out").contains { $0.last == "v2" } })
        try await Task.sleep(for: .seconds(2))
        #expect(world.processes() == clusterPods, "the session cluster stays up through the upgrade")
        #expect(Self.continues(world.counts("session.out"), replay: 0) == nil, "\(Self.continues(world.counts("session.out"), replay: 0) ?? "")")
        world.evidence("session.out", "7. session job savepoint upgrade")
        let port = try #require(world.restPort("session"))
        let states = try await world.rest.jobs(port: port)
        #expect(states.filter { $0.state == .running }.count == 1, "one copy runs: \(states.map { "\($0.id) \($0.state)" })")

        // kill -9 the session cluster's JobManager: the job goes with it (no high availability)
        // and is recovered from its newest checkpoint, never from its first snapshot or from zero.
        try await Task.sleep(for: .seconds(3))  // a checkpoint (every 2 s) of the upgraded job
        let v2 = try #require(world.sessionJob("counter")?.jobStatus?.jobId)
        let jobManager = try #require(world.processes(containing: "session-jobmanager-0").first)
        let taskManagers = world.processes(containing: "session-taskmanager")
        kill(-jobManager, SIGKILL)
        try #require(running(v2), "\(world.summary(.flinkSessionJob, "counter"))")
        #expect(Set(world.processes(containing: "session-taskmanager")).isDisjoint(with: taskManagers), "the TaskManagers restarted with their JobManager")
        #expect(world.events(.flinkSessionJob, "counter").contains { $0.reason == "RecoverDeployment" })
        #expect(world.sessionJob("counter")?.jobStatus?.upgradeSavepointPath?.contains("/chk-") == true,
                "restored from a checkpoint: \(world.sessionJob("counter")?.jobStatus?.upgradeSavepointPath ?? "none")")
        let beforeGrowth = world.lineCount("session.out")
        #expect(world.waitUntil(timeout: 20) { world.lineCount("session.out") > beforeGrowth + 20 })
        #expect(Self.continues(world.counts("session.out"), replay: 600) == nil, "\(Self.continues(world.counts("session.out"), replay: 600) ?? "")")
        #expect(Self.oneWriterAfterEachFallBack(world.counts("session.out")) == nil, "\(Self.oneWriterAfterEachFallBack(world.counts("session.out")) ?? "")")
        world.evidence("session.out", "kill -9 of the session cluster's JobManager")

        world.delete("job.yaml")
        #expect(world.waitUntil(timeout: 30) { world.record(.flinkSessionJob, "counter") == nil })
        world.delete("session.yaml")
        #expect(world.waitUntil(timeout: 40) { world.processes().isEmpty })
    }
}

@Suite(.serialized, .enabled(if: E2E.available)) struct FailureTests {
    @Test func anOperatorKilledBetweenTheSavepointAndTheNewClusterFinishesTheUpgradeFromTheRecordedSavepoint() async throws {
        let world = try Cluster("operator-kill")
        defer { world.tearDown() }
        try world.startOperator()
        func manifest(tag: String) -> String {
            E2E.deployment(name: "app", mode: "application", args: ["--rate", "50", "--keys", "4", "--tag", tag, "--output", world.output + "/app.out"],
                           upgradeMode: "savepoint")
        }
        let v1 = try await LifecycleTests.deployRunning(world, "app", manifest(tag: "v1"))

        try world.apply("app.yaml", manifest(tag: "v2"))
        // SIGKILL the moment the savepoint is on record with the new job's id (write-ahead), as
        // close as the store can be watched to the old pods' stop and the new cluster's start
        // (no hook in the operator: wherever the kill lands, the next operator must finish).
        let committed = world.waitUntil(timeout: 60, interval: 0.005) {
            world.deployment("app")?.jobStatus?.jobId != v1 && world.deployment("app")?.jobStatus?.upgradeSavepointPath != nil
        }
        world.killOperator()
        try #require(committed, "\(world.summary(.flinkDeployment, "app"))")
        let savepoint = try #require(world.deployment("app")?.jobStatus?.upgradeSavepointPath)
        let history = world.deployment("app")?.jobStatus?.savepointInfo?.savepointHistory?.map(\.location) ?? []
        #expect(history.contains(savepoint), "the savepoint is in the history before anything else happens")

        try world.startOperator()
        try #require(LifecycleTests.waitRunning(world, "app", jobIdNot: v1), "\(world.summary(.flinkDeployment, "app"))")
        #expect(world.deployment("app")?.jobStatus?.upgradeSavepointPath == savepoint, "completed from the recorded savepoint")
        #expect(world.waitUntil(timeout: 20) { world.lines("app.out").contains { $0.last == "v2" } })
        try await Task.sleep(for: .seconds(2))
        #expect(LifecycleTests.continues(world.counts("app.out"), replay: 0) == nil, "\(LifecycleTests.continues(world.counts("app.out"), replay: 0) ?? "")")
        world.evidence("app.out", "5. operator SIGKILLed mid-upgrade")
        #expect(world.processes(containing: "app-jobmanager-0").count == 1, "one JobManager")
        world.delete("app.yaml")
        #expect(world.waitUntil(timeout: 40) { world.processes().isEmpty })
    }

    @Test func aBrokenUpgradeIsRolledBackToTheLastStableSpecWithItsState() async throws {
        let world = try Cluster("rollback")
        defer { world.tearDown() }
        try world.startOperator()
        func manifest(tag: String, entryClass: String = "dev.flinklet.examples.CounterJob") -> String {
            E2E.deployment(name: "app", mode: "application", args: ["--rate", "50", "--keys", "4", "--tag", tag, "--output", world.output + "/app.out"],
                           extraConfiguration: ["kubernetes.operator.deployment.rollback.enabled": "true",
                                                "kubernetes.operator.deployment.readiness.timeout": "15s"],
                           upgradeMode: "savepoint")
                .replacingOccurrences(of: "entryClass: dev.flinklet.examples.CounterJob", with: "entryClass: \(entryClass)")
        }
        try world.apply("app.yaml", manifest(tag: "v1"))
        try #require(LifecycleTests.waitRunning(world, "app"), "\(world.summary(.flinkDeployment, "app"))")
        #expect(world.waitUntil(timeout: 20) { world.deployment("app")?.reconciliationStatus?.lastStableSpec != nil })
        try await Task.sleep(for: .seconds(3))

        try world.apply("app.yaml", manifest(tag: "v2", entryClass: "dev.flinklet.examples.NoSuchJob"))
        let rolledBack = world.waitUntil(timeout: 150) {
            world.deployment("app")?.lifecycleState == .rolledBack && world.deployment("app")?.jobStatus?.state == "RUNNING"
        }
        try #require(rolledBack, "\(world.summary(.flinkDeployment, "app"))")
        #expect(world.events(.flinkDeployment, "app").contains { $0.reason == "Rollback" })
        let before = world.lineCount("app.out")
        #expect(world.waitUntil(timeout: 20) { world.lineCount("app.out") > before + 20 })
        let lines = world.lines("app.out")
        #expect(!lines.contains { $0.last == "v2" }, "the broken version never ran")
        #expect(LifecycleTests.continues(world.counts("app.out"), replay: 0) == nil, "\(LifecycleTests.continues(world.counts("app.out"), replay: 0) ?? "")")
        world.evidence("app.out", "6. broken upgrade rolled back")
        world.delete("app.yaml")
        #expect(world.waitUntil(timeout: 40) { world.processes().isEmpty })
    }
}
