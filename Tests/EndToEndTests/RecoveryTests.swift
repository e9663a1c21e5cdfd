import FlinkResources
import FlinkletTesting
import Foundation
import Runtime
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A lost state database orphans nothing: with an application running, the operator is killed
/// (SIGKILL) and `state.db*` removed. A new `flinklet run` must not start a second JobManager
/// next to the live one: it refuses, naming the processes; `flinklet recover` stops the orphaned
/// cluster and rebuilds the deployment from its checkpoints, and the next `flinklet run`
/// redeploys the job from the newest checkpoint: per key, the counts continue.
@Suite(.serialized, .enabled(if: E2E.available)) struct RecoveryTests {
    @Test func aLostStateDatabaseStartsNoSecondJobManagerAndRecoverRestoresTheJobFromItsNewestCheckpoint() async throws {
        let world = try Cluster("recover")
        defer { world.tearDown() }
        try world.startOperator()
        try world.apply("app.yaml", E2E.deployment(name: "app", mode: "application",
                                                   args: ["--rate", "40", "--keys", "4", "--output", world.output + "/app.out"],
                                                   upgradeMode: "last-state"))
        let running = world.waitUntil(timeout: 120) {
            world.deployment("app")?.jobStatus?.state == "RUNNING" && world.lineCount("app.out") > 0
        }
        try #require(running, "\(world.summary(.flinkDeployment, "app"))")
        let jobId = try #require(world.deployment("app")?.jobStatus?.jobId)
        let checkpoints = world.state + "/clusters/default/app/checkpoints/" + jobId
        try #require(Self.awaitCheckpoint(after: 5, of: "app.out", in: checkpoints, world: world), "no checkpoint of \(jobId) in \(checkpoints)")
        let jobManagers = world.processes(containing: "app-jobmanager-0")
        #expect(jobManagers.count == 1)
        // Every JVM carries the marker in its environment (`cat /proc/PID/environ`).
        let canonicalState = PodMarker.canonical(world.state)
        for pid in world.processes() {
            let environment = ProcessInfoReader.environment(pid: pid)
            #expect(environment?[PodMarker.stateDirectoryVariable] == canonicalState, "pid \(pid) is marked")
            #expect(environment?[PodMarker.podVariable]?.hasPrefix("default/app-") == true, "pid \(pid) names its pod")
        }

        // The operator dies and its database is lost; the cluster lives on.
        world.killOperator()
        for suffix in ["", "-wal", "-shm"] { unlink(world.state + "/state.db" + suffix) }
        let pods = world.processes()

        // A new operator refuses to start, naming the processes, and starts nothing.
        try world.startOperator()
        let refused = world.waitUntil(timeout: 30) { world.operatorLog().contains("refusing to start") }
        #expect(refused, "\(world.operatorLog().suffix(3000))")
        #expect(world.operatorLog().contains("default/app-jobmanager-0"), "the refusal names the pods")
        #expect(world.operatorLog().contains("flinklet recover"), "the refusal names the way out")
        try await Task.sleep(for: .seconds(3))
        #expect(world.processes(containing: "app-jobmanager-0") == jobManagers, "no second JobManager")
        #expect(world.processes() == pods, "nothing started, nothing stopped")
        world.killOperator()

        // `flinklet recover` stops the orphaned cluster and rebuilds the deployment.
        let recover = try ChildProcess.collect([E2E.executable.path, "recover", "--manifests", world.manifests, "--state-dir", world.state,
                                                "--grace", "20"])
        print("e2e transcript: $ flinklet recover --manifests \(world.manifests) --state-dir \(world.state) --grace 20\n"
              + recover.standardOutput + recover.standardError)
        #expect(recover.status == 0, "\(recover.standardOutput)\(recover.standardError)")
        #expect(recover.standardOutput.contains("stopped pod default/app-jobmanager-0"))
        #expect(recover.standardOutput.contains("rebuilt flinkdeployment/app"))
        #expect(world.processes().isEmpty, "the orphaned cluster is stopped: \(world.processes())")
        let linesBefore = world.counts("app.out")  // the old job writes no more

        // The next operator redeploys the job from its newest checkpoint, once.
        try world.startOperator()
        var most = 0
        let recovered = world.waitUntil(timeout: 150) {
            most = max(most, world.processes(containing: "app-jobmanager-0").count)
            guard let status = world.deployment("app"), status.jobStatus?.state == "RUNNING", status.jobStatus?.jobId != jobId else { return false }
            // Every key past where the old job stopped: the recovered job runs, not only replays.
            let counts = world.counts("app.out")
            return linesBefore.allSatisfy { key, before in (counts[key]?.last ?? 0) > (before.max() ?? 0) + 5 }
        }
        try #require(recovered, "\(world.summary(.flinkDeployment, "app"))")
        #expect(most <= 1, "at most one JobManager at any time")
        let events = world.events(.flinkDeployment, "app")
        let recovery = events.first { $0.reason == "RecoverDeployment" }
        #expect(recovery?.message.contains("chk-") == true, "redeployed from a checkpoint: \(events.map { "\($0.reason): \($0.message)" })")
        print("e2e transcript: event \(recovery?.reason ?? "none"): \(recovery?.message ?? "")")
        // Per key, the counts after the recovery continue from the checkpoint: they never start
        // over at 1, and no count of the new job is above the old job's highest + the replay.
        let after = world.counts("app.out")
        for (key, before) in linesBefore {
            let resumed = Array((after[key] ?? []).dropFirst(before.count))
            #expect(!resumed.isEmpty, "\(key) has output after the recovery")
            if let first = resumed.first, let high = before.max() {
                #expect(first > 1 && first <= high + 1, "\(key) resumes at \(first) after \(high): from the checkpoint, not from empty state")
                print("e2e transcript: \(key): old job up to \(high), recovered job resumes at \(first) and reaches \(resumed.max() ?? first)")
            }
        }
        #expect(LifecycleTests.continues(after, replay: 600) == nil, "\(LifecycleTests.continues(after, replay: 600) ?? "")")
        #expect(LifecycleTests.oneWriterAfterEachFallBack(after) == nil, "\(LifecycleTests.oneWriterAfterEachFallBack(after) ?? "")")
        world.evidence("app.out", "state database lost, recovered")
    }
    /// The same with a session cluster and a session job: the session cluster restarts empty,
    /// and the session job is resubmitted from its own job's newest checkpoint.
    @Test func aLostStateDatabaseRecoversASessionJobFromItsNewestCheckpoint() async throws {
        let world = try Cluster("recover-session")
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
                upgradeMode: last-state

            """)
        let running = world.waitUntil(timeout: 150) {
            world.sessionJob("counter")?.jobStatus?.state == "RUNNING" && world.lineCount("session.out") > 0
        }
        try #require(running, "\(world.summary(.flinkSessionJob, "counter"))")
        let jobId = try #require(world.sessionJob("counter")?.jobStatus?.jobId)
        let checkpoints = world.state + "/clusters/default/session/checkpoints/" + jobId
        try #require(Self.awaitCheckpoint(after: 5, of: "session.out", in: checkpoints, world: world), "no checkpoint of \(jobId) in \(checkpoints)")

        world.killOperator()
        for suffix in ["", "-wal", "-shm"] { unlink(world.state + "/state.db" + suffix) }
        try world.startOperator()
        #expect(world.waitUntil(timeout: 30) { world.operatorLog().contains("refusing to start") }, "\(world.operatorLog().suffix(3000))")
        #expect(world.processes(containing: "session-jobmanager-0").count == 1, "no second JobManager")
        world.killOperator()

        let recover = try ChildProcess.collect([E2E.executable.path, "recover", "--manifests", world.manifests, "--state-dir", world.state,
                                                "--grace", "20"])
        print("e2e transcript (session): $ flinklet recover ...\n" + recover.standardOutput + recover.standardError)
        #expect(recover.status == 0, "\(recover.standardOutput)\(recover.standardError)")
        #expect(recover.standardOutput.contains("rebuilt flinksessionjob/counter"), "\(recover.standardOutput)")
        #expect(world.processes().isEmpty, "the orphaned session cluster is stopped: \(world.processes())")
        let linesBefore = world.counts("session.out")

        try world.startOperator()
        var most = 0
        let recovered = world.waitUntil(timeout: 180) {
            most = max(most, world.processes(containing: "session-jobmanager-0").count)
            guard let status = world.sessionJob("counter"), status.jobStatus?.state == "RUNNING", status.jobStatus?.jobId != jobId else { return false }
            let counts = world.counts("session.out")
            return linesBefore.allSatisfy { key, before in (counts[key]?.last ?? 0) > (before.max() ?? 0) + 5 }
        }
        try #require(recovered, "\(world.summary(.flinkSessionJob, "counter"))")
        #expect(most <= 1, "at most one session JobManager at any time")
        let recovery = world.events(.flinkSessionJob, "counter").first { $0.reason == "RecoverDeployment" }
        #expect(recovery?.message.contains("\(jobId)/chk-") == true, "redeployed from its own checkpoint: \(recovery?.message ?? "no event")")
        print("e2e transcript (session): event \(recovery?.reason ?? "none"): \(recovery?.message ?? "")")
        let after = world.counts("session.out")
        for (key, before) in linesBefore {
            let resumed = Array((after[key] ?? []).dropFirst(before.count))
            if let first = resumed.first, let high = before.max() {
                #expect(first > 1 && first <= high + 1, "\(key) resumes at \(first) after \(high): from the checkpoint, not from empty state")
                print("e2e transcript (session): \(key): old job up to \(high), recovered job resumes at \(first) and reaches \(resumed.max() ?? first)")
            }
        }
        #expect(LifecycleTests.continues(after, replay: 600) == nil, "\(LifecycleTests.continues(after, replay: 600) ?? "")")
        world.evidence("session.out", "state database lost, session job recovered")
    }

    /// Waits until every key of `output` counted past `count`, then for a checkpoint in
    /// `directory` completed after that: a job restored from it resumes above `count`. (The
    /// first checkpoint alone can precede the first records: a session job's resumed at 1 after
    /// counting to 9, and the test read that as empty state.)
    static func awaitCheckpoint(after count: Int, of output: String, in directory: String, world: Cluster) -> Bool {
        guard world.waitUntil(timeout: 60, { let counts = world.counts(output); return counts.count == 4 && counts.values.allSatisfy { ($0.last ?? 0) > count } })
        else { return false }
        let since = Date()
        return world.waitUntil(timeout: 60) {
            ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).contains { name in
                guard name.hasPrefix("chk-"),
                      let modified = (try? FileManager.default.attributesOfItem(atPath: "\(directory)/\(name)/_metadata"))?[.modificationDate] as? Date
                else { return false }
                return modified > since
            }
        }
    }
}
