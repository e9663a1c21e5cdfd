import FlinkClient
import FlinkletTesting
import FlinkResources
import Foundation
import Logging
import Manifests
import Planning
import Reconciliation
import Runtime
import Store
import Synchronization
import Testing
@testable import Controller
import Engine

/// The reconciler with the Flink planner, observer and REST steps, against fakes: an in-memory
/// process driver and a fake Flink REST API. No JVM starts.
final class FlinkWorld: @unchecked Sendable {
    let root: String
    let store: Store
    let source: DirectorySource
    let clock = ManualClock()
    let driver: InMemoryProcessDriver
    let rest = FakeFlinkREST()
    let reconciler: Reconciler<FlinkBackend>
    let backend: FlinkBackend
    /// Every wake-up the reconciler asked for, with the session clusters whose recorded status
    /// was Ready at that moment.
    let wakes = WakeLog()

    init(maxSubmissions: Int = 2, maxClusterStarts: Int = 100, jar: Bool = true) throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("flinklet-flink-\(UUID().uuidString.prefix(8))").path
        for directory in ["manifests", "state", "flink/lib", "flink/usrlib"] {
            try FileManager.default.createDirectory(atPath: root + "/" + directory, withIntermediateDirectories: true)
        }
        if jar { try Data("jar".utf8).write(to: URL(fileURLWithPath: root + "/flink/usrlib/job.jar")) }
        store = try Store.open(stateDirectory: root + "/state")
        driver = InMemoryProcessDriver(clock: clock)
        let logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
        var configuration = DirectorySource.Configuration(directory: root + "/manifests")
        configuration.watch = false
        configuration.state.allowEmpty = true
        source = DirectorySource(configuration: configuration, logger: logger)
        let distribution = FlinkDistribution(home: root + "/flink", version: "2.3.0", java: "/usr/bin/java",
                                             classpath: [root + "/flink/lib/flink-dist-2.3.0.jar"], jvmOptions: [])
        var backend = FlinkBackend(distribution: .success(distribution), rest: rest, stateDirectory: root + "/state",
                                   maxConcurrentSubmissions: maxSubmissions, maxConcurrentClusterStarts: maxClusterStarts)
        backend.portRange = 41_000...41_999
        self.backend = backend
        reconciler = Reconciler(source: source, store: store, driver: driver, planner: FlinkPlanner(),
                                layout: PodLayout(stateDirectory: root + "/state"), backend: backend, logger: logger,
                                now: { [clock] in clock.currentDate },
                                wake: { [store, wakes] id in
                                    let ready = ((try? store.resources(kind: .flinkDeployment)) ?? []).filter { record in
                                        (try? record.deploymentStatus())??.conditions?.contains { $0.type == "Ready" && $0.status == .true } == true
                                    }.map(\.name)
                                    wakes.entries.withLock { $0.append((id, ready)) }
                                })
    }

    deinit { try? FileManager.default.removeItem(atPath: root) }

    func write(_ file: String, _ text: String) async throws {
        await rest.writeSnapshotFiles(true)  // savepoints and checkpoints exist on disk, as Flink leaves them
        try text.write(toFile: root + "/manifests/" + file, atomically: true, encoding: .utf8)
        _ = await source.relist()
    }

    func remove(_ file: String) async {
        unlink(root + "/manifests/" + file)
        _ = await source.relist()
    }

    /// One reconcile, as the work queue runs it: an immediate requeue (ports leased, a jar
    /// fetched) runs again at once.
    @discardableResult
    func reconcile(_ kind: ResourceKind, _ name: String) async throws -> ReconcileAction {
        var action = try await reconciler.reconcile(ResourceID(kind: kind, namespace: "default", name: name))
        for _ in 0..<10 where action == .requeue(after: .zero) {
            action = try await reconciler.reconcile(ResourceID(kind: kind, namespace: "default", name: name))
        }
        return action
    }

    func pods(role: PodRole) async -> [PodStatus] {
        await driver.pods().filter { $0.labels[PodLabels.role] == role.rawValue && ($0.phase == .running || $0.phase == .pending) }
    }

    /// The id of a resource's first job: derived from its key and its uid (its incarnation).
    func firstJobId(_ key: String) throws -> String {
        let uid = try #require(try store.resource(key)?.uid)
        return FlinkCluster.jobId(key: "\(key)@\(uid)", generation: 1)
    }

    func restPort(_ name: String) throws -> Int { try #require(try store.ports(owner: "FlinkDeployment/default/\(name)").first) }

    func events(_ kind: ResourceKind, _ name: String) throws -> [EventRecord] {
        try store.events(for: ResourceID(kind: kind, namespace: "default", name: name).key)
    }

    /// An application deployment `name`, deployed, its cluster up and its first job listed by
    /// Flink with every vertex `vertices` (RUNNING: every task runs); its job id and REST port.
    func applicationWithJob(_ name: String = "app", manifest: String? = nil, vertices: ExecutionState) async throws -> (jobId: String, port: Int) {
        try await write("\(name).yaml", manifest ?? Self.deployment(name, mode: "application"))
        try await reconcile(.flinkDeployment, name)
        try await clusterUp(name)
        let jobId = try firstJobId("FlinkDeployment/default/\(name)")
        let port = try restPort(name)
        await rest.addJob(port: port, jobId: jobId)
        _ = await rest.setVertexStatus(port: port, jobId: jobId, vertices)
        return (jobId, port)
    }

    /// Marks a deployment's JobManager ready and its cluster answering with its TaskManagers.
    func clusterUp(_ name: String, taskManagers: Int = 1) async throws {
        await driver.setReady(name: "default/\(name)-jobmanager-0", true)
        await rest.addCluster(port: try restPort(name), taskManagers: taskManagers, slots: 1)
    }

    static func deployment(_ name: String, mode: String, jar: String = "local:///opt/flink/usrlib/job.jar") -> String {
        """
        apiVersion: flink.apache.org/v1beta1
        kind: FlinkDeployment
        metadata:
          name: \(name)
        spec:
          flinkVersion: v2_3
          mode: \(mode)
          jobManager:
            resource:
              memory: 768m
          taskManager:
            resource:
              memory: 1024m
        \(mode == "session" ? "" : """
          job:
            jarURI: \(jar)
            entryClass: dev.Example
            parallelism: 1
        """)
        """
    }

    /// A session job named `counter` on session cluster `session`.
    static func sessionJob(entryClass: String = "dev.Example", args: [String]? = nil, parallelism: Int? = nil) -> String {
        """
        apiVersion: flink.apache.org/v1beta1
        kind: FlinkSessionJob
        metadata:
          name: counter
        spec:
          deploymentName: session
          job:
            jarURI: local:///opt/flink/usrlib/job.jar
            entryClass: \(entryClass)

        """
            + (args.map { "    args: [\($0.map { "\"\($0)\"" }.joined(separator: ", "))]\n" } ?? "")
            + (parallelism.map { "    parallelism: \($0)\n" } ?? "")
    }
}

final class WakeLog: Sendable {
    let entries = Mutex<[(id: ResourceID, readyClusters: [String])]>([])
}

@Suite struct FlinkReconcilerTests {
    @Test func aBurstOfPerJobDeploymentsRunsAtMostTwoClientsAtOnce() async throws {
        let world = try FlinkWorld(maxSubmissions: 2)
        let names = (0..<5).map { "batch-\($0)" }
        for name in names { try await world.write("\(name).yaml", FlinkWorld.deployment(name, mode: "per-job")) }
        for name in names { try await world.reconcile(.flinkDeployment, name) }
        #expect(await world.pods(role: .jobManager).count == 5)
        // Two clients start with their clusters (they retry until REST answers); the others
        // wait for a slot, and then for their cluster to answer without the job.
        let first = await world.pods(role: .submitter).map(\.name)
        #expect(first.count == 2, "\(first)")

        for name in names { try await world.clusterUp(name) }
        for name in names { try await world.reconcile(.flinkDeployment, name) }
        #expect(Set(await world.pods(role: .submitter).map(\.name)) == Set(first))
        let waiting = try #require(names.first { name in !first.contains("default/\(name)-submitter") })
        let status = try #require(try world.store.resource("FlinkDeployment/default/\(waiting)")?.deploymentStatus())
        #expect(status.conditions?.contains { $0.reason == "WaitingForSubmissionSlot" } == true)

        // One client finishes (its job now on its cluster): the next one may start.
        let done = try #require(first.first)
        let doneName = String(done.dropFirst("default/".count).dropLast("-submitter".count))
        let generationOne = try world.firstJobId("FlinkDeployment/default/\(doneName)")
        await world.rest.addJob(port: try world.restPort(doneName), jobId: generationOne)
        await world.driver.simulateExit(name: done, code: 0)
        try await world.reconcile(.flinkDeployment, doneName)
        for name in names { try await world.reconcile(.flinkDeployment, name) }
        let second = await world.pods(role: .submitter).map(\.name)
        #expect(second.count == 2 && !second.contains(done), "\(second)")
    }

    @Test func aBurstOfDeploymentsStartsAtMostTwoClustersAtOnce() async throws {
        let world = try FlinkWorld(maxClusterStarts: 2)
        let names = (0..<4).map { "app-\($0)" }
        for name in names { try await world.write("\(name).yaml", FlinkWorld.deployment(name, mode: "application")) }
        for name in names { try await world.reconcile(.flinkDeployment, name) }
        let first = await world.pods(role: .jobManager).map(\.name)
        #expect(first.count == 2, "\(first)")
        #expect(await world.pods(role: .taskManager).count == 2, "a waiting cluster starts none of its pods")
        let waiting = try #require(names.first { name in !first.contains("default/\(name)-jobmanager-0") })
        let status = try #require(try world.store.resource("FlinkDeployment/default/\(waiting)")?.deploymentStatus())
        #expect(status.conditions?.contains { $0.reason == "WaitingForStartSlot" } == true)

        // Ready but its TaskManager not yet registered: still starting.
        let up = String(try #require(first.first).dropFirst("default/".count).dropLast("-jobmanager-0".count))
        await world.driver.setReady(name: "default/\(up)-jobmanager-0", true)
        await world.rest.addCluster(port: try world.restPort(up), taskManagers: 0, slots: 0)
        for name in names { try await world.reconcile(.flinkDeployment, name) }
        #expect(await world.pods(role: .jobManager).count == 2)
        // Every TaskManager registered: the slot goes to the next cluster.
        try await world.clusterUp(up)
        try await world.reconcile(.flinkDeployment, up)
        for name in names { try await world.reconcile(.flinkDeployment, name) }
        #expect(await world.pods(role: .jobManager).count == 3)
    }

    @Test func aMissingJarIsAnEventWithThePathAndNoPodStarts() async throws {
        let world = try FlinkWorld(jar: false)
        try await world.write("app.yaml", FlinkWorld.deployment("app", mode: "application"))
        try await world.reconcile(.flinkDeployment, "app")
        #expect(await world.driver.pods().isEmpty)
        let events = try world.events(.flinkDeployment, "app")
        #expect(events.count == 1)
        #expect(events.first?.reason == "JarNotFound")
        #expect(events.first?.message == "jar \"local:///opt/flink/usrlib/job.jar\" not found: \(world.root)/flink/usrlib/job.jar does not exist")
        try await world.reconcile(.flinkDeployment, "app")
        #expect(try world.events(.flinkDeployment, "app").first?.count == 1, "not repeated on every reconcile")
    }

    /// A jar or a checkpoint directory another local user could change starts nothing: the
    /// resource is Stalled with the path, why, and the fix; fixed, it starts.
    @Test func aJarOrCheckpointDirectoryOthersMayChangeStartsNothing() async throws {
        let world = try FlinkWorld()
        let usrlib = world.root + "/flink/usrlib"
        #expect(chmod(usrlib, 0o777) == 0)
        try await world.write("app.yaml", FlinkWorld.deployment("app", mode: "application"))
        try await world.reconcile(.flinkDeployment, "app")
        #expect(await world.driver.pods().isEmpty)
        var status = try #require(try world.store.resource("FlinkDeployment/default/app")?.deploymentStatus())
        #expect(status.conditions?.first { $0.type == "Stalled" }?.reason == "UnsafeJar")
        #expect(status.error == "spec.job.jarURI: jar \"local:///opt/flink/usrlib/job.jar\" is not run: \(usrlib) is writable by everyone (mode 777), "
            + "so another user could replace it and run their code as this user; fix: chmod go-w \(usrlib); a running job keeps running")
        #expect(chmod(usrlib, 0o755) == 0)

        let shared = world.root + "/shared"
        #expect(mkdir(shared, 0o777) == 0 && chmod(shared, 0o777) == 0)
        let manifest = FlinkWorld.deployment("app", mode: "application")
            .replacingOccurrences(of: "spec:\n", with: "spec:\n  flinkConfiguration:\n    execution.checkpointing.dir: file://\(shared)/checkpoints\n")
        try await world.write("app.yaml", manifest)
        try await world.reconcile(.flinkDeployment, "app")
        #expect(await world.driver.pods().isEmpty)
        status = try #require(try world.store.resource("FlinkDeployment/default/app")?.deploymentStatus())
        #expect(status.conditions?.first { $0.type == "Stalled" }?.reason == "UnsafeDirectory")
        #expect(status.error == "spec.flinkConfiguration[execution.checkpointing.dir]: checkpoint directory \(shared)/checkpoints is not used: "
            + "\(shared) is writable by everyone (mode 777), so another user could change the state a job restores from; fix: chmod go-w \(shared)")

        #expect(chmod(shared, 0o700) == 0)
        try await world.reconcile(.flinkDeployment, "app")
        #expect(await world.pods(role: .jobManager).count == 1, "fixed: the cluster starts")
    }

    /// The world's jar holds "jar": its SHA-256.
    static let jarDigest = "0163f1eea7894350060624d315234d40c508ab251ba121714e234503045faadd"

    static func pinned(_ manifest: String, _ digest: String) -> String {
        manifest.replacingOccurrences(of: "metadata:\n  name: app\n", with: "metadata:\n  name: app\n  annotations:\n    flinklet.dev/jar-sha256: \"\(digest)\"\n")
    }

    @Test func aJarNotMatchingItsPinStartsNothingAndSaysSoAsAnEventAndACondition() async throws {
        let world = try FlinkWorld()
        let wrong = String(repeating: "0", count: 64)
        try await world.write("app.yaml", Self.pinned(FlinkWorld.deployment("app", mode: "application"), wrong))
        try await world.reconcile(.flinkDeployment, "app")
        #expect(await world.driver.pods().isEmpty)
        let events = try world.events(.flinkDeployment, "app")
        let message = "metadata.annotations[flinklet.dev/jar-sha256]: jar \"local:///opt/flink/usrlib/job.jar\" does not match the pinned checksum: its SHA-256 is \(Self.jarDigest), the pin is \(wrong); nothing is started with it (a running job keeps running): pin the jar's checksum or name the pinned jar"
        #expect(events.map(\.reason) == ["JarChecksumMismatch"])
        #expect(events.first?.type == .warning)
        #expect(events.first?.message == message)
        let status = try #require(try world.store.resource("FlinkDeployment/default/app")?.deploymentStatus())
        #expect(status.conditions?.contains { $0.type == "Stalled" && $0.status == .true && $0.reason == "JarChecksumMismatch" && $0.message == message } == true)
        #expect(status.error == message)
        try await world.reconcile(.flinkDeployment, "app")
        #expect(try world.events(.flinkDeployment, "app").first?.count == 1, "not repeated on every reconcile")
    }

    @Test func aJarMatchingItsPinRunsAndAPinChangedToAnotherChecksumLeavesTheRunningClusterAlone() async throws {
        let world = try FlinkWorld()
        try await world.write("app.yaml", Self.pinned(FlinkWorld.deployment("app", mode: "application"), Self.jarDigest.uppercased()))
        try await world.reconcile(.flinkDeployment, "app")
        #expect(await world.pods(role: .jobManager).count == 1)
        try await world.clusterUp("app")
        try await world.reconcile(.flinkDeployment, "app")
        let running = await world.driver.pods().filter { $0.phase == .running }.map(\.name).sorted()
        #expect(running.count == 2)

        // The jar is rebuilt in place and the pin now names another build: nothing restarts.
        try await world.write("app.yaml", Self.pinned(FlinkWorld.deployment("app", mode: "application")
            .replacingOccurrences(of: "parallelism: 1", with: "parallelism: 2"), String(repeating: "f", count: 64)))
        try await world.reconcile(.flinkDeployment, "app")
        #expect(await world.driver.pods().filter { $0.phase == .running }.map(\.name).sorted() == running)
        #expect(try world.events(.flinkDeployment, "app").contains { $0.reason == "JarChecksumMismatch" })
    }

    @Test func aSessionJobWhoseJarDoesNotMatchItsPinIsNotSubmittedAndAMatchingOneIs() async throws {
        let world = try FlinkWorld()
        try await world.write("session.yaml", FlinkWorld.deployment("session", mode: "session"))
        func job(_ digest: String) -> String {
            FlinkWorld.sessionJob(parallelism: 1).replacingOccurrences(
                of: "  name: counter\n", with: "  name: counter\n  annotations: {flinklet.dev/jar-sha256: \"\(digest)\"}\n")
        }
        try await world.write("job.yaml", job(String(repeating: "e", count: 64)))
        try await world.reconcile(.flinkDeployment, "session")
        try await world.clusterUp("session")
        try await world.reconcile(.flinkDeployment, "session")
        try await world.reconcile(.flinkSessionJob, "counter")
        #expect(await world.rest.count(.runJar) == 0)
        let events = try world.events(.flinkSessionJob, "counter")
        #expect(events.map(\.reason) == ["JarChecksumMismatch"])
        #expect(events.first?.message.contains("its SHA-256 is \(Self.jarDigest), the pin is \(String(repeating: "e", count: 64))") == true)

        try await world.write("job.yaml", job(Self.jarDigest))
        try await world.reconcile(.flinkSessionJob, "counter")
        #expect(await world.rest.submissions.map(\.jobId) == [try world.firstJobId("FlinkSessionJob/default/counter")])
    }

    @Test func aSessionJobIsSubmittedOnceWithItsJobIdAndRetriesNeverStartASecondCopy() async throws {
        let world = try FlinkWorld()
        try await world.write("session.yaml", FlinkWorld.deployment("session", mode: "session"))
        try await world.write("job.yaml", FlinkWorld.sessionJob(args: ["--rate", "5"], parallelism: 1))
        try await world.reconcile(.flinkDeployment, "session")
        try await world.reconcile(.flinkSessionJob, "counter")
        #expect(await world.rest.count(.runJar) == 0, "waits for its session cluster")

        try await world.clusterUp("session")
        try await world.reconcile(.flinkDeployment, "session")
        // The first run request fails the way a timed-out one that went through would be retried.
        await world.rest.failNext(.runJar, with: .unreachable(port: try world.restPort("session"), reason: "timed out"))
        await #expect(throws: FlinkRESTError.self) { try await world.reconcile(.flinkSessionJob, "counter") }
        try await world.reconcile(.flinkSessionJob, "counter")
        let jobId = try world.firstJobId("FlinkSessionJob/default/counter")
        let submissions = await world.rest.submissions
        #expect(submissions.map(\.jobId) == [jobId])
        #expect(submissions.first?.submission.programArgs == ["--rate", "5"])
        #expect(await world.rest.jarIds(port: try world.restPort("session")).isEmpty, "the uploaded jar is deleted after the run")

        #expect(await world.rest.count(.runJar) == 2, "the failed request and its retry")

        // Observed running: nothing more is submitted.
        try await world.reconcile(.flinkSessionJob, "counter")
        #expect(await world.rest.count(.runJar) == 2)

        // A listing that fails is not an absent job: nothing is submitted until it is seen.
        await world.rest.failNext(.jobs, with: .unreachable(port: try world.restPort("session"), reason: "timed out"))
        try await world.reconcile(.flinkSessionJob, "counter")
        #expect(await world.rest.count(.runJar) == 2)

        // A submission Flink refuses as a duplicate of its own job id went through before.
        let again = try await world.backend.execute(.submit(rest: .http(try world.restPort("session")), jar: world.root + "/flink/usrlib/job.jar",
                                                            Planning.JobSubmission(jobId: jobId, entryClass: "dev.Example", args: [], parallelism: 1)),
                                                    for: ResourceID(kind: .flinkSessionJob, namespace: "default", name: "counter"), logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
        #expect(again.events.isEmpty, "no SubmitFailed event")
        #expect(await world.rest.submissions.count == 1)

        // Deleting the cluster first is refused while the job exists.
        await world.remove("session.yaml")
        try await world.reconcile(.flinkDeployment, "session")
        #expect(try world.events(.flinkDeployment, "session").contains { $0.reason == "CleanupFailed" })
        #expect(await world.pods(role: .jobManager).count == 1)

        // Deleting the job cancels it, then forgets it; then the cluster goes.
        await world.remove("job.yaml")
        try await world.reconcile(.flinkSessionJob, "counter")
        #expect(await world.rest.state(port: try world.restPort("session"), jobId: jobId) == .canceled)
        try await world.reconcile(.flinkSessionJob, "counter")
        #expect(try world.store.resource("FlinkSessionJob/default/counter") == nil)
        try await world.reconcile(.flinkDeployment, "session")
        #expect(await world.pods(role: .jobManager).isEmpty)
        try await world.reconcile(.flinkDeployment, "session")  // its pods are gone: forgotten
        #expect(try world.store.resource("FlinkDeployment/default/session") == nil)
        #expect(try world.store.ports(owner: "FlinkDeployment/default/session").isEmpty, "ports released")
    }

    @Test func aSessionClusterThatBecomesReadyWakesItsSessionJobsOnceItsStatusIsRecorded() async throws {
        let world = try FlinkWorld()
        try await world.write("session.yaml", FlinkWorld.deployment("session", mode: "session"))
        try await world.write("job.yaml", FlinkWorld.sessionJob())
        try await world.reconcile(.flinkDeployment, "session")
        try await world.reconcile(.flinkSessionJob, "counter")
        try await world.reconcile(.flinkDeployment, "session")
        #expect(world.wakes.entries.withLock { $0.isEmpty }, "not ready yet: nothing to wake")

        try await world.clusterUp("session")
        try await world.reconcile(.flinkDeployment, "session")
        let woken = world.wakes.entries.withLock { $0 }
        #expect(woken.map(\.id) == [ResourceID(kind: .flinkSessionJob, namespace: "default", name: "counter")])
        #expect(woken.first?.readyClusters == ["session"], "woken after the Ready status is recorded, which the session job reads")

        try await world.reconcile(.flinkDeployment, "session")
        #expect(world.wakes.entries.withLock { $0.count } == 1, "still ready: no more wake-ups")
    }

    @Test func flinksOwnMessageReachesTheEventWhenASubmissionIsRefused() async throws {
        let world = try FlinkWorld()
        try await world.write("session.yaml", FlinkWorld.deployment("session", mode: "session"))
        try await world.write("job.yaml", FlinkWorld.sessionJob(entryClass: "dev.Missing"))
        try await world.reconcile(.flinkDeployment, "session")
        try await world.clusterUp("session")
        try await world.reconcile(.flinkDeployment, "session")
        await world.rest.failNext(.runJar, with: .http(status: 400, errors: ["Could not execute application.; caused by: java.lang.ClassNotFoundException: dev.Missing"]))
        // The reconcile fails (the work queue retries it with a growing backoff) after saying why.
        await #expect(throws: SubmissionRefused.self) { try await world.reconcile(.flinkSessionJob, "counter") }
        let events = try world.events(.flinkSessionJob, "counter")
        #expect(events.contains { $0.type == .warning && $0.reason == "SubmitFailed" && $0.message.contains("ClassNotFoundException: dev.Missing") },
                "\(events.map(\.message))")
        let key = ResourceID(kind: .flinkSessionJob, namespace: "default", name: "counter").key
        #expect(try world.store.resource(key)?.typedStatus().common.error?.contains("ClassNotFoundException: dev.Missing") == true)
        // Accepted on the next attempt: the job runs and the error is gone.
        try await world.reconcile(.flinkSessionJob, "counter")
        #expect(await world.rest.count(.runJar) == 2)
        #expect(try world.store.resource(key)?.typedStatus().common.error == nil)
    }
}

@Suite struct OperatorPathTests {
    /// Pods run in their own directories: a relative state directory (the default `.flinklet`)
    /// handed to them would resolve inside each pod's directory (found with `hack/run.sh`).
    @Test func theStateDirectoryIsMadeAbsolute() {
        var configuration = OperatorConfiguration(manifests: "manifests")
        configuration.stateDirectory = ".flinklet"
        let backend = FlinkBackend(distribution: .failure(FlinkHomeError(message: "none")), rest: FakeFlinkREST(), stateDirectory: "/tmp/none")
        let flinklet = Operator(configuration: configuration, planner: FlinkPlanner(), backend: backend, logger: Logger(label: "test"))
        #expect(flinklet.configuration.stateDirectory == FileManager.default.currentDirectoryPath + "/.flinklet")
    }
}

@Suite struct JobStartObservationTests {
    /// Flink caches `GET /jobs/{id}` for `web.refresh-interval`: asked while the tasks deploy, it
    /// would keep saying so after they run. The overview's task counts are asked first.
    @Test func aJobsVerticesAreAskedForOnlyOnceTheOverviewCountsEveryTaskRunning() async throws {
        let world = try FlinkWorld()
        let (jobId, port) = try await world.applicationWithJob(vertices: .deploying)
        try await world.reconcile(.flinkDeployment, "app")
        try await world.reconcile(.flinkDeployment, "app")
        #expect(await world.rest.count(.jobs) >= 2)
        #expect(await world.rest.count(.job) == 0, "no job details while the overview counts tasks not running")
        #expect(try world.store.resource("FlinkDeployment/default/app")?.deploymentStatus()?.lifecycleState != .stable)

        _ = await world.rest.setVertexStatus(port: port, jobId: jobId, .running)
        try await world.reconcile(.flinkDeployment, "app")
        #expect(await world.rest.count(.job) >= 1, "confirmed by the vertices once every task runs")
        #expect(try world.store.resource("FlinkDeployment/default/app")?.deploymentStatus()?.lifecycleState == .stable)
    }
}

@Suite struct ManualSavepointTests {
    @Test func aNonceTakesASavepointOnceAndAFailedOneIsAnEventNotARestorePoint() async throws {
        let world = try FlinkWorld()
        func manifest(nonce: Int?) -> String {
            FlinkWorld.deployment("app", mode: "application") + (nonce.map { "\n    savepointTriggerNonce: \($0)\n    upgradeMode: savepoint" } ?? "\n    upgradeMode: savepoint")
        }
        _ = try await world.applicationWithJob(manifest: manifest(nonce: nil), vertices: .running)
        try await world.reconcile(.flinkDeployment, "app")
        #expect(await world.rest.count(.triggerSavepoint) == 0)

        try await world.write("app.yaml", manifest(nonce: 1))
        try await world.reconcile(.flinkDeployment, "app")
        try await world.reconcile(.flinkDeployment, "app")
        #expect(await world.rest.count(.triggerSavepoint) == 1, "once per nonce")
        var info = try #require(try world.store.resource("FlinkDeployment/default/app")?.deploymentStatus()?.jobStatus?.savepointInfo)
        #expect(info.savepointHistory?.count == 1 && info.lastSavepoint?.triggerType == .manual && info.lastSavepoint?.triggerNonce == 1)
        #expect(await world.driver.pods().filter { $0.phase == .running }.count == 2, "a nonce change restarts nothing")

        // Flink reports COMPLETED with a failure cause: an error, not a savepoint.
        await world.rest.failSavepoints(cause: "java.io.IOException: disk full")
        try await world.write("app.yaml", manifest(nonce: 2))
        try await world.reconcile(.flinkDeployment, "app")
        try await world.reconcile(.flinkDeployment, "app")
        #expect(await world.rest.count(.triggerSavepoint) == 2, "a failed nonce is not retried in a loop")
        info = try #require(try world.store.resource("FlinkDeployment/default/app")?.deploymentStatus()?.jobStatus?.savepointInfo)
        #expect(info.savepointHistory?.count == 1, "never recorded as a restore point")
        let events = try world.events(.flinkDeployment, "app")
        #expect(events.contains { $0.type == .warning && $0.reason == "SavepointError" && $0.message.contains("disk full") }, "\(events.map(\.message))")
    }
}

@Suite struct WarmUpgradeTests {
    /// Two savepoint upgrades in a row: each starts the new job's TaskManager first, takes a
    /// new savepoint only once it is up, and starts the new JobManager from that savepoint —
    /// never from the one the running job itself started from.
    @Test func eachUpgradeTakesItsOwnSavepointOnceTheNewTaskManagersAreUp() async throws {
        let world = try FlinkWorld()
        let key = "FlinkDeployment/default/app"
        func manifest(_ tag: String) -> String {
            FlinkWorld.deployment("app", mode: "application").replacingOccurrences(of: "parallelism: 1", with: "parallelism: 1\n    args: [\"--tag\", \"\(tag)\"]")
                + "\n    upgradeMode: savepoint"
        }
        try await world.write("app.yaml", manifest("v1"))
        try await world.reconcile(.flinkDeployment, "app")
        try await world.clusterUp("app")
        let port = try world.restPort("app")
        var jobId = try world.firstJobId(key)
        var restored: [String] = []
        for tag in ["v2", "v3"] {
            await world.rest.addJob(port: port, jobId: jobId)
            _ = await world.rest.setVertexStatus(port: port, jobId: jobId, .running)
            try await world.reconcile(.flinkDeployment, "app")
            let oldTaskManagers = Set(await world.pods(role: .taskManager).map(\.name))
            let oldJobManager = try #require(await world.pods(role: .jobManager).first)

            try await world.write("app.yaml", manifest(tag))
            try await world.reconcile(.flinkDeployment, "app")
            let standby = Set(await world.pods(role: .taskManager).map(\.name)).subtracting(oldTaskManagers)
            #expect(standby.count == 1, "\(tag): the new job's TaskManager starts beside the old job")
            #expect(await world.rest.count(.stopWithSavepoint) == restored.count, "\(tag): no savepoint before it is up")
            try await world.reconcile(.flinkDeployment, "app")
            #expect(await world.pods(role: .jobManager).first?.pid == oldJobManager.pid, "\(tag): the old job keeps running meanwhile")

            for name in standby { await world.driver.setReady(name: name, true) }
            try await world.reconcile(.flinkDeployment, "app")  // the savepoint is asked for, on record first
            #expect(await world.rest.count(.stopWithSavepoint) == restored.count + 1)
            let trigger = try #require(SnapshotTrigger(try world.store.resource(key)?.deploymentStatus()?.jobStatus?.savepointInfo))
            #expect(await world.rest.operations(port: port)[trigger.id] == jobId, "\(tag): Flink runs the operation under the recorded id")
            // Stopping processes take their grace period, as real ones do.
            await world.driver.holdTerminations()
            try await world.reconcile(.flinkDeployment, "app")  // it completed: committed, and the old pods are asked to stop
            #expect(await world.pods(role: .jobManager).first?.reason == "Terminating")
            // Never a wait and never a start under a name still taken (the driver would throw podTerminating).
            try await world.reconcile(.flinkDeployment, "app")
            #expect(await world.pods(role: .jobManager).first?.pid == oldJobManager.pid, "\(tag): the new JobManager waits for the old one to be gone")
            await world.driver.holdTerminations(false)
            #expect(await world.driver.finishTerminations().count == 2, "\(tag): the old JobManager and TaskManager")
            try await world.reconcile(.flinkDeployment, "app")  // woken by .stopped: the new JobManager starts from it
            let path = try #require(try world.store.resource(key)?.deploymentStatus()?.jobStatus?.upgradeSavepointPath)
            #expect(!restored.contains(path), "\(tag): a new savepoint, not the one the old job started from")
            #expect(Set(await world.pods(role: .taskManager).map(\.name)) == standby, "\(tag): the old TaskManager stopped, the warm one kept")
            let jobManager = try #require(await world.pods(role: .jobManager).first)
            #expect(jobManager.pid != oldJobManager.pid)
            jobId = JobLifecycle.nextJobId(key: "\(key)@\(try #require(try world.store.resource(key)?.uid))", previous: jobId)
            #expect(try world.store.resource(key)?.deploymentStatus()?.jobStatus?.jobId == jobId)
            restored.append(path)
            try await world.clusterUp("app")
        }
        #expect(Set(restored).count == 2)
    }
}

@Suite struct TaskManagerRegistrationTests {
    @Test func aTaskManagerHasRegisteredOnlyIfItsCurrentProcessSaidSo() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("tm-\(UUID().uuidString.prefix(8)).log").path
        defer { unlink(path) }
        let banner = "2026-12-06 03:50:32,547 INFO  org.apache.flink.runtime.taskexecutor.TaskManagerRunner      [] -  Starting TaskManager (Version: 2.3.0)\n"
        let registered = "2026-12-06 03:50:40,986 INFO  org.apache.flink.runtime.taskexecutor.TaskExecutor           [] - Successful registration at resource manager pekko.tcp://flink@127.0.0.1:18012/user/rpc/resourcemanager_*\n"
        try (banner + "2026-12-06 03:50:33,000 INFO  x [] - Connecting to ResourceManager\n").write(toFile: path, atomically: true, encoding: .utf8)
        #expect(FlinkBackend.hasRegistered(logPath: path) == false, "warm: started, not registered")
        try (banner + registered).write(toFile: path, atomically: true, encoding: .utf8)
        #expect(FlinkBackend.hasRegistered(logPath: path) == true)
        try (banner + registered + banner).write(toFile: path, atomically: true, encoding: .utf8)
        #expect(FlinkBackend.hasRegistered(logPath: path) == false, "a registration of an earlier process of the pod does not count")
    }

    /// A log that cannot be read is no evidence that the TaskManager did not register: unknown,
    /// so it restarts with a new JobManager rather than meet it.
    @Test func anUnreadableLogIsUnknownNotUnregistered() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tm-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        #expect(FlinkBackend.hasRegistered(logPath: directory + "/missing.log") == false, "no log: nothing logged")
        #expect(FlinkBackend.hasRegistered(logPath: directory) == nil, "a directory where the log should be cannot be read")
    }
}

@Suite struct CheckpointDirectoryTests {
    /// A job id's checkpoint directory may hold checkpoints this job did not write (an earlier
    /// run under the same id): only those written since the job started count, newest first.
    @Test func onlyCheckpointsWrittenSinceTheJobStartedCount() async throws {
        let world = try FlinkWorld()
        let directory = world.root + "/checkpoints"
        let job = directory + "/j"
        for (name, age) in [("chk-50", 3_600.0), ("chk-2", 60.0), ("chk-3", 30.0)] {
            try FileManager.default.createDirectory(atPath: "\(job)/\(name)", withIntermediateDirectories: true)
            let metadata = "\(job)/\(name)/_metadata"
            _ = FileManager.default.createFile(atPath: metadata, contents: Data("x".utf8))
            try FileManager.default.setAttributes([.modificationDate: Date().addingTimeInterval(-age)], ofItemAtPath: metadata)
        }
        let started = Int64(Date().addingTimeInterval(-120).timeIntervalSince1970 * 1000)
        let found = try await world.backend.latestCheckpoint(jobId: "j", rest: nil, directory: directory, notBefore: started)
        #expect(found?.path == "file://\(job)/chk-3", "the newest written since the start, not the highest number")
        let any = try await world.backend.latestCheckpoint(jobId: "j", rest: nil, directory: directory)
        #expect(any?.path == "file://\(job)/chk-3")
        let none = try await world.backend.latestCheckpoint(jobId: "j", rest: nil, directory: directory,
                                                            notBefore: Int64(Date().timeIntervalSince1970 * 1000))
        #expect(none == nil)
        #expect(try await world.backend.latestCheckpoint(jobId: "never-ran", rest: nil, directory: directory) == nil,
                "no directory: no checkpoint")
    }

    /// A job directory that exists but cannot be listed is not "no checkpoint": a lost job would
    /// be redeployed from an older snapshot or from empty state. The observation throws.
    @Test func anUnreadableCheckpointDirectoryIsAnErrorNotNoCheckpoint() async throws {
        let world = try FlinkWorld()
        let directory = world.root + "/checkpoints"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: directory + "/j", contents: Data("not a directory".utf8))
        await #expect(throws: SnapshotDirectoryUnreadable.self) {
            _ = try await world.backend.latestCheckpoint(jobId: "j", rest: nil, directory: directory)
        }
    }

    /// Likewise a savepoint directory: a pending stop-with-savepoint is never taken for gone
    /// because its directory could not be listed.
    @Test func anUnreadableSavepointDirectoryIsAnErrorNotNoSavepoint() async throws {
        let world = try FlinkWorld()
        let file = world.root + "/savepoints"
        _ = FileManager.default.createFile(atPath: file, contents: Data("not a directory".utf8))
        #expect(throws: SnapshotDirectoryUnreadable.self) { try FlinkBackend.savepointOnDisk(jobId: "abcdef", directory: file, notBefore: 0) }
        #expect(try FlinkBackend.savepointOnDisk(jobId: "abcdef", directory: world.root + "/none", notBefore: 0) == nil)
        var job = JobStatus(jobId: "abcdef0123")
        job.savepointInfo = SavepointInfo(triggerId: String(repeating: "a", count: 32), triggerTimestamp: 1, triggerType: .upgrade)
        await #expect(throws: SnapshotDirectoryUnreadable.self) {
            _ = try await world.backend.pendingSnapshot(of: job, rest: nil, directory: file)
        }
    }
}
