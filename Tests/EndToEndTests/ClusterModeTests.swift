import FlinkClient
import FlinkResources
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// One scenario per deployment mode, with real Flink 2.3 JVMs and the counter job. Each checks
/// the job's own output and, at the end, that no process of it is left.
@Suite(.serialized, .enabled(if: E2E.available)) struct ClusterModeTests {
    /// Per key, counts go 1, 2, 3, ... with no reset and no gap: one copy of the job ran, and
    /// its state was never lost.
    static func continuous(_ counts: [String: [Int]]) -> Bool {
        !counts.isEmpty && counts.values.allSatisfy { $0 == Array(1...$0.count) }
    }

    @Test func applicationClusterRunsItsJobAndSurvivesAnOperatorKillAndDeletionLeavesNothing() async throws {
        let world = try Cluster("application")
        defer { world.tearDown() }
        try world.startOperator()
        try world.apply("app.yaml", E2E.deployment(name: "app", mode: "application",
                                                   args: ["--rate", "40", "--keys", "4", "--output", world.output + "/app.out"]))
        // A jar that does not exist: a clear error naming the path, and no pods.
        try world.apply("broken.yaml", E2E.deployment(name: "broken", mode: "application", args: [],
                                                      jarURI: "local:///opt/flink/usrlib/no-such-job.jar"))

        let running = world.waitUntil(timeout: 120) {
            world.deployment("app")?.jobStatus?.state == "RUNNING" && world.lineCount("app.out") > 0
        }
        try #require(running, "\(world.summary(.flinkDeployment, "app"))")
        let status = try #require(world.deployment("app"))
        #expect(status.lifecycleState == .stable || status.lifecycleState == .deployed)
        #expect(status.jobManagerDeploymentStatus == .ready)
        #expect(status.clusterInfo?["flink-version"] == "2.3.0")
        let jobId = try #require(status.jobStatus?.jobId)
        #expect(jobId.count == 32)

        let broken = world.events(.flinkDeployment, "broken")
        #expect(broken.contains { $0.type == .warning && $0.reason == "JarNotFound" && $0.message.contains("no-such-job.jar") },
                "\(world.summary(.flinkDeployment, "broken"))")
        #expect(world.processes(containing: "/broken-").isEmpty, "no pod starts without its jar")
        #expect(world.deployment("broken")?.error?.contains("no-such-job.jar") == true)

        // Output grows.
        let before = world.lineCount("app.out")
        try await Task.sleep(for: .seconds(2))
        #expect(world.lineCount("app.out") > before)

        // The operator dies (SIGKILL); the cluster does not. A new operator adopts it.
        let jobManagers = world.processes(containing: "app-jobmanager-0")
        #expect(jobManagers.count == 1)
        let pods = world.processes()
        world.killOperator()
        #expect(world.processes() == pods, "pods outlive a killed operator")
        try world.startOperator()
        #expect(world.waitUntil(timeout: 20) { world.operatorLog().contains("pods.adopted=2") }, "\(world.operatorLog())")
        try await Task.sleep(for: .seconds(3))
        #expect(world.processes() == pods, "the same JobManager and TaskManager, adopted; none started, none lost")
        #expect(world.processes(containing: "app-jobmanager-0") == jobManagers, "no second JobManager")
        let port = try #require(world.restPort("app"))
        let job = try await world.rest.job(port: port, id: jobId)
        #expect(job?.state == .running, "the same job (\(jobId)) still runs")
        let afterRestart = world.lineCount("app.out")
        try await Task.sleep(for: .seconds(2))
        #expect(world.lineCount("app.out") > afterRestart)
        #expect(Self.continuous(world.counts("app.out")), "counts continue per key: \(world.counts("app.out").mapValues { $0.suffix(3) })")

        // Deleting the manifests removes everything: processes, pod directories, ports.
        world.delete("app.yaml")
        world.delete("broken.yaml")
        let gone = world.waitUntil(timeout: 40) {
            world.processes().isEmpty && world.record(.flinkDeployment, "app") == nil && world.record(.flinkDeployment, "broken") == nil
        }
        #expect(gone, "\(world.processes()) \(world.operatorLog().suffix(2000))")
        #expect(!FileManager.default.fileExists(atPath: world.state + "/pods/default/app"))
        #expect(Self.continuous(world.counts("app.out")))
    }

    @Test func sessionClusterRunsASessionJobAndIsNotDeletedWhileTheJobExists() async throws {
        let world = try Cluster("session")
        defer { world.tearDown() }
        try world.startOperator()
        let session = """
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
                replicas: 1
                resource:
                  memory: 1024m

            """
        try world.apply("session.yaml", session)
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
        let running = world.waitUntil(timeout: 120) {
            world.sessionJob("counter")?.jobStatus?.state == "RUNNING" && world.lineCount("session.out") > 0
        }
        try #require(running, "\(world.summary(.flinkSessionJob, "counter"))\n\(world.summary(.flinkDeployment, "session"))")
        let jobId = try #require(world.sessionJob("counter")?.jobStatus?.jobId)
        let port = try #require(world.restPort("session"))
        #expect(world.deployment("session")?.conditions?.contains { $0.type == "Ready" && $0.status == .true } == true)

        // Deleting the cluster while its session job exists is refused (upstream's words).
        let pods = world.processes()
        world.delete("session.yaml")
        #expect(world.waitUntil(timeout: 20) {
            world.events(.flinkDeployment, "session").contains { $0.reason == "CleanupFailed" && $0.message == "The session jobs [counter] should be deleted first" }
        }, "\(world.summary(.flinkDeployment, "session"))")
        #expect(world.processes() == pods, "the session cluster keeps running")
        try world.apply("session.yaml", session)  // the cluster is wanted after all
        try await Task.sleep(for: .seconds(3))
        #expect(world.processes() == pods, "putting the manifest back changes nothing")

        // Deleting the session job cancels its job; the cluster stays up.
        world.delete("job.yaml")
        let cancelled = world.waitUntil(timeout: 30) {
            world.record(.flinkSessionJob, "counter") == nil
        }
        #expect(cancelled, "\(world.operatorLog().suffix(2000))")
        let state = try await world.rest.jobs(port: port).first { $0.id == jobId }?.state
        #expect(state == .canceled || state == .cancelling, "\(String(describing: state))")
        #expect(world.processes() == pods)

        // Now the cluster can go, and nothing of it remains.
        world.delete("session.yaml")
        #expect(world.waitUntil(timeout: 40) { world.processes().isEmpty && world.record(.flinkDeployment, "session") == nil },
                "\(world.processes()) \(world.operatorLog().suffix(2000))")
        #expect(Self.continuous(world.counts("session.out")))
    }

    @Test func perJobClusterRunsABoundedJobToTheEndAndIsTornDown() async throws {
        let world = try Cluster("per-job")
        defer { world.tearDown() }
        try world.startOperator()
        try world.apply("batch.yaml", E2E.deployment(name: "batch", mode: "per-job",
                                                     args: ["--rate", "100", "--keys", "4", "--records", "200", "--output", world.output + "/batch.out"]))
        let finished = world.waitUntil(timeout: 150) { world.deployment("batch")?.jobStatus?.state == "FINISHED" }
        try #require(finished, "\(world.summary(.flinkDeployment, "batch"))")
        #expect(world.events(.flinkDeployment, "batch").contains { $0.reason == "Submit" && $0.message.contains("Flink client") })
        // The cluster is torn down; the outcome stays in the status.
        #expect(world.waitUntil(timeout: 30) { world.processes().isEmpty }, "\(world.processes())")
        let status = try #require(world.deployment("batch"))
        #expect(status.jobStatus?.state == "FINISHED")
        #expect(status.conditions?.contains { $0.type == "Ready" && $0.status == .true && $0.reason == "JobFinished" } == true)
        let counts = world.counts("batch.out")
        #expect(world.lineCount("batch.out") == 200)
        #expect(counts.count == 4 && counts.values.allSatisfy { $0 == Array(1...50) }, "\(counts.mapValues { $0.suffix(2) })")
        // It stays finished: no resubmission.
        try await Task.sleep(for: .seconds(3))
        #expect(world.processes().isEmpty)
        #expect(world.lineCount("batch.out") == 200)

        world.delete("batch.yaml")
        #expect(world.waitUntil(timeout: 20) { world.record(.flinkDeployment, "batch") == nil })
    }
}
