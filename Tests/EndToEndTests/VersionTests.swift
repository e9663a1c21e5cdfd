import FlinkResources
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Flink versions side by side: each resource runs the distribution its `flinkVersion` names; one
/// that is not installed starts nothing (a `FlinkNotInstalled` condition and event) until it is,
/// without restarting the operator; a version change moves the job through a savepoint. Needs
/// Flink 1.20 and 2.3 (`hack/install-flink.sh 1.20 2.3 && hack/build-counter-job.sh`).
@Suite(.serialized, .enabled(if: E2E.available)) struct VersionTests {
    static func homes() throws -> (old: String, new: String) {
        let old = try #require(E2E.flinkHome("1.20"), "Flink 1.20 is not installed: run hack/install-flink.sh 1.20 && hack/build-counter-job.sh")
        let new = try #require(E2E.flinkHome("2.3"), "Flink 2.3 is not installed: run hack/install-flink.sh 2.3 && hack/build-counter-job.sh")
        return (old, new)
    }

    @Test func aVersionThatIsNotInstalledStartsNothingUntilItIsInstalledThenItsApplicationRuns() async throws {
        let (old, new) = try Self.homes()
        let world = try Cluster("version-missing")
        defer { world.tearDown() }
        try world.startOperator(distributions: [new])
        let operatorPid = try #require(world.operatorProcess?.pid)
        try world.apply("legacy.yaml", E2E.deployment(name: "legacy", mode: "application",
                                                      args: ["--rate", "20", "--keys", "4", "--output", world.output + "/legacy.out"],
                                                      flinkVersion: "v1_20"))
        try world.apply("current.yaml", E2E.deployment(name: "current", mode: "application",
                                                       args: ["--rate", "20", "--keys", "4", "--output", world.output + "/current.out"]))
        let message = "Flink 1.20 is not installed: run hack/install-flink.sh 1.20"
        #expect(world.waitUntil(timeout: 30) {
            world.deployment("legacy")?.conditions?.contains { $0.type == "Stalled" && $0.status == .true && $0.reason == "FlinkNotInstalled" && $0.message == message } == true
        }, "\(world.summary(.flinkDeployment, "legacy"))")
        #expect(world.deployment("legacy")?.error == message)
        #expect(world.events(.flinkDeployment, "legacy").contains { $0.reason == "FlinkNotInstalled" && $0.message == message })
        // Other resources are unaffected: the 2.3 application runs meanwhile.
        try #require(LifecycleTests.waitRunning(world, "current"), "\(world.summary(.flinkDeployment, "current"))")
        #expect(world.processes(containing: "legacy-").isEmpty, "nothing started for the version that is not installed")
        #expect(world.deployment("legacy")?.jobStatus?.jobId == nil)
        world.delete("current.yaml")
        #expect(world.waitUntil(timeout: 40) { world.processes().isEmpty })

        // Installed while the operator runs: picked up by its next reconcile, no restart.
        try world.install(old)
        try #require(LifecycleTests.waitRunning(world, "legacy", timeout: 150), "\(world.summary(.flinkDeployment, "legacy"))")
        #expect(world.operatorProcess?.pid == operatorPid, "the same operator")
        #expect(world.deployment("legacy")?.clusterInfo?["flink-version"] == "1.20.5")
        let jobManager = try #require(world.processes(containing: "legacy-jobmanager-0").first)
        let cmdline = String(decoding: ((try? Data(contentsOf: URL(fileURLWithPath: "/proc/\(jobManager)/cmdline"))) ?? Data()).map { $0 == 0 ? 32 : $0 }, as: UTF8.self)
        #expect(cmdline.contains("/.flink/flink-1.20.5/lib/flink-dist-1.20.5.jar"), "the JobManager runs Flink 1.20: \(cmdline.suffix(300))")
        #expect(world.waitUntil(timeout: 20) { world.lineCount("legacy.out") > 40 }, "the 1.20 job counts")
        #expect(LifecycleTests.continues(world.counts("legacy.out"), replay: 0) == nil, "\(LifecycleTests.continues(world.counts("legacy.out"), replay: 0) ?? "")")
        world.evidence("legacy.out", "Flink 1.20 installed while the operator ran, application RUNNING")
        world.delete("legacy.yaml")
        #expect(world.waitUntil(timeout: 40) { world.processes().isEmpty })
    }

    /// The manifest says `last-state`, but a version change never restores from a checkpoint:
    /// the 1.20 job is stopped with a savepoint and the 2.3 job continues every key's count
    /// exactly (a checkpoint restore would count some records again).
    @Test func aFlinkVersionUpgradeFrom1_20To2_3GoesThroughASavepointAndKeepsEveryCount() async throws {
        let (old, new) = try Self.homes()
        let world = try Cluster("version-upgrade")
        defer { world.tearDown() }
        try world.startOperator(distributions: [old, new])
        func manifest(_ version: String, tag: String) -> String {
            E2E.deployment(name: "app", mode: "application", args: ["--rate", "50", "--keys", "4", "--tag", tag, "--output", world.output + "/app.out"],
                           upgradeMode: "last-state", flinkVersion: version)
        }
        let first = try await LifecycleTests.deployRunning(world, "app", manifest("v1_20", tag: "flink-1.20"))
        #expect(world.deployment("app")?.clusterInfo?["flink-version"] == "1.20.5")

        let started = Date()
        try world.apply("app.yaml", manifest("v2_3", tag: "flink-2.3"))
        try #require(LifecycleTests.waitRunning(world, "app", jobIdNot: first, timeout: 150), "\(world.summary(.flinkDeployment, "app"))")
        let seconds = Date().timeIntervalSince(started)
        #expect(world.waitUntil(timeout: 20) { world.lines("app.out").contains { $0.last == "flink-2.3" } })
        let upgraded = try #require(world.deployment("app"))
        #expect(upgraded.clusterInfo?["flink-version"] == "2.3.0")
        let savepoint = try #require(upgraded.jobStatus?.upgradeSavepointPath)
        #expect(savepoint.contains("/savepoints/"), "restored from the upgrade's savepoint, not a checkpoint: \(savepoint)")
        #expect(upgraded.jobStatus?.savepointInfo?.savepointHistory?.last?.triggerType == .upgrade)
        let events = world.events(.flinkDeployment, "app").map(\.reason)
        #expect(events.contains("SavepointCreated") && !events.contains("Cancel"), "\(events)")
        let tags = world.lines("app.out").compactMap { $0.count == 3 ? $0[2] : nil }
        #expect(tags.firstIndex(of: "flink-2.3").map { index in !tags[index...].contains("flink-1.20") } == true, "1.20 never writes after 2.3 started")
        let jobManager = try #require(world.processes(containing: "app-jobmanager-0").first)
        let cmdline = String(decoding: ((try? Data(contentsOf: URL(fileURLWithPath: "/proc/\(jobManager)/cmdline"))) ?? Data()).map { $0 == 0 ? 32 : $0 }, as: UTF8.self)
        #expect(cmdline.contains("flink-dist-2.3.0.jar"), "the new JobManager runs Flink 2.3")
        try await Task.sleep(for: .seconds(2))
        let counts = world.counts("app.out")
        #expect(counts.count == 4, "every key counted: \(counts.keys.sorted())")
        #expect(LifecycleTests.continues(counts, replay: 0) == nil, "\(LifecycleTests.continues(counts, replay: 0) ?? "")")
        world.evidence("app.out", String(format: "Flink 1.20 -> 2.3, savepoint upgrade (manifest: last-state), manifest change to RUNNING %.1f s", seconds))
        world.delete("app.yaml")
        #expect(world.waitUntil(timeout: 40) { world.processes().isEmpty })
    }

    /// A broken upgrade from 1.20 to 2.3 is rolled back to the last stable spec, version and all:
    /// the 1.20 job runs again on 1.20's distribution with 1.20's `/opt/flink` jar (not the
    /// manifest's 2.3 one), from the savepoint the upgrade took, and every count continues.
    @Test func aBrokenUpgradeTo2_3IsRolledBackTo1_20WithItsOwnJarAndState() async throws {
        let (old, new) = try Self.homes()
        let world = try Cluster("version-rollback")
        defer { world.tearDown() }
        try world.startOperator(distributions: [old, new])
        func manifest(_ version: String, entryClass: String = "dev.flinklet.examples.CounterJob") -> String {
            E2E.deployment(name: "app", mode: "application", args: ["--rate", "50", "--keys", "4", "--tag", "flink-%v", "--output", world.output + "/app.out"],
                           extraConfiguration: ["kubernetes.operator.deployment.rollback.enabled": "true",
                                                "kubernetes.operator.deployment.readiness.timeout": "15s"],
                           upgradeMode: "savepoint", flinkVersion: version)
                .replacingOccurrences(of: "entryClass: dev.flinklet.examples.CounterJob", with: "entryClass: \(entryClass)")
        }
        _ = try await LifecycleTests.deployRunning(world, "app", manifest("v1_20"))
        #expect(world.waitUntil(timeout: 20) { world.deployment("app")?.reconciliationStatus?.lastStableSpec != nil })
        try await Task.sleep(for: .seconds(2))

        try world.apply("app.yaml", manifest("v2_3", entryClass: "dev.flinklet.examples.NoSuchJob"))
        let rolledBack = world.waitUntil(timeout: 150) {
            world.deployment("app")?.lifecycleState == .rolledBack && world.deployment("app")?.jobStatus?.state == "RUNNING"
        }
        try #require(rolledBack, "\(world.summary(.flinkDeployment, "app"))")
        #expect(world.events(.flinkDeployment, "app").contains { $0.reason == "Rollback" })
        let before = world.lineCount("app.out")
        #expect(world.waitUntil(timeout: 20) { world.lineCount("app.out") > before + 20 })
        let jobManager = try #require(world.processes(containing: "app-jobmanager-0").first)
        let cmdline = Self.commandLine(jobManager)
        #expect(cmdline.contains("flink-dist-1.20.5.jar"), "the rolled-back JobManager runs Flink 1.20")
        #expect(cmdline.contains("flink-1.20.5/usrlib/flinklet-counter-job.jar") && !cmdline.contains("flink-2.3.0/usrlib"),
                "with 1.20's jar: \(cmdline)")
        #expect(world.deployment("app")?.clusterInfo?["flink-version"] == "1.20.5")
        let tags = Set(world.lines("app.out").compactMap { $0.count == 3 ? $0[2] : nil })
        #expect(tags == ["flink-1.20.5"], "only 1.20 ever ran the job: \(tags)")
        #expect(LifecycleTests.continues(world.counts("app.out"), replay: 0) == nil, "\(LifecycleTests.continues(world.counts("app.out"), replay: 0) ?? "")")
        world.evidence("app.out", "broken upgrade 1.20 -> 2.3 rolled back to 1.20 (its own jar and distribution)")
        world.delete("app.yaml")
        #expect(world.waitUntil(timeout: 40) { world.processes().isEmpty })
    }

    /// A session cluster on Flink 2.2 runs a session job (its jar from 2.2's `/opt/flink`), and a
    /// per-job cluster on 1.20 submits with 1.20's Flink client, next to 2.3 installed.
    @Test func aSessionJobRunsOnItsSessionClustersVersionAndAPerJobClusterOn1_20Submits() async throws {
        let (old, new) = try Self.homes()
        let middle = try #require(E2E.flinkHome("2.2"), "Flink 2.2 is not installed: run hack/install-flink.sh 2.2 && hack/build-counter-job.sh")
        let world = try Cluster("version-modes")
        defer { world.tearDown() }
        try world.startOperator(distributions: [old, middle, new])
        try world.apply("session.yaml", """
            apiVersion: flink.apache.org/v1beta1
            kind: FlinkDeployment
            metadata:
              name: session
            spec:
              flinkVersion: v2_2
              mode: session
              flinkConfiguration:
                taskmanager.numberOfTaskSlots: "2"
              jobManager:
                resource:
                  memory: 768m
              taskManager:
                replicas: 1
                resource:
                  memory: 1024m

            """)
        try world.apply("job.yaml", """
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
                args: ["--rate", "40", "--keys", "4", "--output", "\(world.output)/session.out"]
                parallelism: 1

            """)
        let running = world.waitUntil(timeout: 150) {
            world.sessionJob("counter")?.jobStatus?.state == "RUNNING" && world.lineCount("session.out") > 20
        }
        try #require(running, "\(world.summary(.flinkSessionJob, "counter"))\n\(world.summary(.flinkDeployment, "session"))")
        #expect(world.deployment("session")?.clusterInfo?["flink-version"] == "2.2.1")
        let jobManager = try #require(world.processes(containing: "session-jobmanager-0").first)
        #expect(Self.commandLine(jobManager).contains("flink-dist-2.2.1.jar"), "the session cluster runs Flink 2.2")
        world.evidence("session.out", "session job on a Flink 2.2 session cluster")
        world.delete("job.yaml")
        #expect(world.waitUntil(timeout: 60) { world.record(.flinkSessionJob, "counter") == nil })
        world.delete("session.yaml")
        #expect(world.waitUntil(timeout: 40) { world.processes().isEmpty })

        try world.apply("perjob.yaml", E2E.deployment(name: "perjob", mode: "per-job",
                                                      args: ["--rate", "40", "--keys", "4", "--output", world.output + "/perjob.out"],
                                                      flinkVersion: "v1_20"))
        try #require(LifecycleTests.waitRunning(world, "perjob", timeout: 150), "\(world.summary(.flinkDeployment, "perjob"))")
        #expect(world.deployment("perjob")?.clusterInfo?["flink-version"] == "1.20.5")
        #expect(world.waitUntil(timeout: 20) { world.lineCount("perjob.out") > 20 })
        let submitterLog = (try? String(contentsOfFile: world.state + "/pods/default/perjob/perjob-submitter/log", encoding: .utf8)) ?? ""
        #expect(submitterLog.contains("1.20.5") || submitterLog.contains("flink-1.20.5"), "the client of Flink 1.20 submitted: \(submitterLog.suffix(400))")
        world.evidence("perjob.out", "per-job cluster on Flink 1.20")
        world.delete("perjob.yaml")
        #expect(world.waitUntil(timeout: 40) { world.processes().isEmpty })
    }

    static func commandLine(_ pid: Int32) -> String {
        String(decoding: ((try? Data(contentsOf: URL(fileURLWithPath: "/proc/\(pid)/cmdline"))) ?? Data()).map { $0 == 0 ? 32 : $0 }, as: UTF8.self)
    }

    /// A session cluster's version change moves its session job by itself: the job (last-state)
    /// is stopped with a savepoint while the 2.2 cluster keeps running, the cluster restarts on
    /// 2.3, and the job resumes there from the savepoint. The job's own output names the Flink
    /// that runs it (`--tag flink-%v`): every count continues from 2.2.1 to 2.3.0.
    @Test func aSessionClustersVersionChangeMovesItsJobThroughASavepoint() async throws {
        let (_, new) = try Self.homes()
        let middle = try #require(E2E.flinkHome("2.2"), "Flink 2.2 is not installed: run hack/install-flink.sh 2.2 && hack/build-counter-job.sh")
        let world = try Cluster("version-session")
        defer { world.tearDown() }
        try world.startOperator(distributions: [middle, new])
        func session(_ version: String) -> String {
            """
            apiVersion: flink.apache.org/v1beta1
            kind: FlinkDeployment
            metadata:
              name: session
            spec:
              flinkVersion: \(version)
              mode: session
              flinkConfiguration:
                taskmanager.numberOfTaskSlots: "2"
              jobManager:
                resource:
                  memory: 768m
              taskManager:
                replicas: 1
                resource:
                  memory: 1024m

            """
        }
        let job = """
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
                args: ["--rate", "40", "--keys", "4", "--tag", "flink-%v", "--output", "\(world.output)/session.out"]
                parallelism: 1
                upgradeMode: last-state

            """
        try world.apply("session.yaml", session("v2_2"))
        try world.apply("job.yaml", job)
        try #require(world.waitUntil(timeout: 150) { world.sessionJob("counter")?.jobStatus?.state == "RUNNING" && world.lineCount("session.out") > 20 },
                     "\(world.summary(.flinkSessionJob, "counter"))")
        #expect(world.lines("session.out").allSatisfy { $0.last == "flink-2.2.1" }, "the job says which Flink runs it")
        let jobManager = try #require(world.processes(containing: "session-jobmanager-0").first)
        let firstJobId = try #require(world.sessionJob("counter")?.jobStatus?.jobId)

        // Only the cluster's manifest changes: its job makes way, then moves with it.
        try world.apply("session.yaml", session("v2_3"))
        let changed = Date()
        #expect(world.waitUntil(timeout: 180) { world.lines("session.out").contains { $0.last == "flink-2.3.0" } },
                "\(world.summary(.flinkDeployment, "session"))\n\(world.summary(.flinkSessionJob, "counter"))")
        let seconds = Date().timeIntervalSince(changed)
        #expect(world.waitUntil(timeout: 30) {
            world.sessionJob("counter")?.conditions?.contains { $0.type == "Ready" && $0.status == .true } == true
        }, "\(world.summary(.flinkSessionJob, "counter"))")
        let newJobManager = try #require(world.processes(containing: "session-jobmanager-0").first)
        #expect(newJobManager != jobManager)
        #expect(Self.commandLine(newJobManager).contains("flink-dist-2.3.0.jar"))
        #expect(world.deployment("session")?.clusterInfo?["flink-version"] == "2.3.0")
        #expect(world.events(.flinkDeployment, "session").contains { $0.reason == "SessionJobsRunning" }, "the cluster said it waits for its job")
        #expect(world.events(.flinkSessionJob, "counter").contains { $0.reason == "FlinkVersionChange" })
        let status = world.sessionJob("counter")?.jobStatus
        #expect(status?.jobId != firstJobId)
        #expect(status?.upgradeSavepointPath?.contains("/savepoints/") == true,
                "resumed from the savepoint taken on 2.2 (last-state is not kept across versions): \(status?.upgradeSavepointPath ?? "")")
        try await Task.sleep(for: .seconds(2))
        let tags = world.lines("session.out").compactMap(\.last)
        #expect(tags.firstIndex(of: "flink-2.3.0").map { index in !tags[index...].contains("flink-2.2.1") } == true, "2.2 never writes after 2.3 started")
        let counts = world.counts("session.out")
        #expect(LifecycleTests.continues(counts, replay: 0) == nil, "\(LifecycleTests.continues(counts, replay: 0) ?? "")")
        world.evidence("session.out", String(format: "session cluster 2.2 -> 2.3 (only its manifest changed), its last-state job moved through a savepoint, manifest change to the first 2.3 record %.1f s", seconds))
        world.delete("job.yaml")
        #expect(world.waitUntil(timeout: 60) { world.record(.flinkSessionJob, "counter") == nil })
        world.delete("session.yaml")
        #expect(world.waitUntil(timeout: 40) { world.processes().isEmpty })
    }
}
