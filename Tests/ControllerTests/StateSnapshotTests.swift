import FlinkClient
import FlinkletTesting
import FlinkResources
import Foundation
import Planning
import Reconciliation
import Store
import Testing
@testable import Controller
import Engine

/// `FlinkStateSnapshot` against the fakes: the reconciler with the Flink planner and backend, a
/// fake Flink REST API (error injection), the in-memory driver and a manual clock.
@Suite struct StateSnapshotTests {
    /// An application deployment `app` whose job runs with all its tasks; returns its job id and port.
    static func runningApp(_ world: FlinkWorld) async throws -> (jobId: String, port: Int) {
        let (jobId, port) = try await world.applicationWithJob(vertices: .running)
        try await world.reconcile(.flinkDeployment, "app")
        let state = try world.store.resource("FlinkDeployment/default/app")?.deploymentStatus()?.jobStatus?.state
        #expect(state == "RUNNING")
        return (jobId, port)
    }

    static func snapshot(_ name: String, kind: String = "FlinkDeployment", job: String = "app", body: String = "savepoint: {}",
                         backoffLimit: Int? = nil) -> String {
        """
        apiVersion: flink.apache.org/v1beta1
        kind: FlinkStateSnapshot
        metadata:
          name: \(name)
        spec:
          jobReference:
            kind: \(kind)
            name: \(job)
          \(body)
        """ + (backoffLimit.map { "\n  backoffLimit: \($0)\n" } ?? "\n")
    }

    static func status(_ world: FlinkWorld, _ name: String) throws -> FlinkStateSnapshotStatus {
        try #require(try world.store.resource("FlinkStateSnapshot/default/\(name)")?.snapshotStatus())
    }

    @Test func aSavepointIsTriggeredUnderARecordedIdFollowedAndCompleted() async throws {
        let world = try FlinkWorld()
        let (jobId, port) = try await Self.runningApp(world)
        await world.rest.holdSavepoints(true)
        try await world.write("sp.yaml", Self.snapshot("sp"))
        let first = try await world.reconcile(.flinkStateSnapshot, "sp")
        var status = try Self.status(world, "sp")
        #expect(status.state == .inProgress)
        let triggerId = try #require(status.triggerId)
        #expect(SnapshotTrigger.isTriggerId(triggerId))
        #expect(await world.rest.operations(port: port) == [triggerId: jobId], "Flink got the recorded trigger id")
        #expect(first != .awaitChange, "followed by polling, never waited for")

        // Still in progress: polled, nothing sent again.
        try await world.reconcile(.flinkStateSnapshot, "sp")
        #expect(try Self.status(world, "sp").state == .inProgress)
        #expect(await world.rest.count(.triggerSavepoint) == 1)

        await world.rest.holdSavepoints(false)
        let last = try await world.reconcile(.flinkStateSnapshot, "sp")
        status = try Self.status(world, "sp")
        #expect(status.state == .completed)
        let path = try #require(status.path)
        #expect(path.hasPrefix(world.root + "/state/clusters/default/app/savepoints/savepoint-"), "the job's savepoint directory: \(path)")
        #expect(FileManager.default.fileExists(atPath: path + "/_metadata"))
        #expect(status.resultTimestamp != nil && status.error == nil && status.triggerId == nil)
        #expect(last == .awaitChange)
        #expect(status.conditions?.contains { $0.type == "Ready" && $0.status == .true } == true)
        let events = try world.events(.flinkStateSnapshot, "sp")
        #expect(events.map(\.reason) == ["SnapshotTriggered", "SavepointCreated"], "\(events.map(\.reason))")

        // Done: later reconciles do nothing.
        try await world.reconcile(.flinkStateSnapshot, "sp")
        #expect(await world.rest.count(.triggerSavepoint) == 1)
    }

    @Test func aFailedSavepointIsRetriedWithBackoffUntilTheLimit() async throws {
        let world = try FlinkWorld()
        _ = try await Self.runningApp(world)
        await world.rest.failSavepoints(cause: "java.io.IOException: disk full", times: 5)
        try await world.write("sp.yaml", Self.snapshot("sp", backoffLimit: 1))
        try await world.reconcile(.flinkStateSnapshot, "sp")
        let retry = try await world.reconcile(.flinkStateSnapshot, "sp")
        var status = try Self.status(world, "sp")
        #expect(status.state == .triggerPending, "retried: backoffLimit 1 allows one retry")
        #expect(status.failures == 1)
        #expect(status.error?.contains("disk full") == true)
        #expect(retry == .requeue(after: .seconds(10)), "upstream's backoff: 10 s after the first failure")

        // Within the backoff: nothing is sent.
        world.clock.advance(by: .seconds(5))
        try await world.reconcile(.flinkStateSnapshot, "sp")
        #expect(await world.rest.count(.triggerSavepoint) == 1)

        world.clock.advance(by: .seconds(6))
        try await world.reconcile(.flinkStateSnapshot, "sp")
        #expect(await world.rest.count(.triggerSavepoint) == 2)
        #expect(try Self.status(world, "sp").triggerId != nil)
        try await world.reconcile(.flinkStateSnapshot, "sp")
        status = try Self.status(world, "sp")
        #expect(status.state == .failed, "two failures > backoffLimit 1")
        #expect(status.failures == 2)
        #expect(status.conditions?.contains { $0.type == "Stalled" && $0.status == .true } == true)

        world.clock.advance(by: .seconds(3600))
        #expect(try await world.reconcile(.flinkStateSnapshot, "sp") == .awaitChange)
        #expect(await world.rest.count(.triggerSavepoint) == 2, "FAILED for good")
        let warnings = try world.events(.flinkStateSnapshot, "sp").filter { $0.type == .warning }
        #expect(warnings.map(\.reason) == ["SavepointError", "SavepointError"], "\(warnings.map(\.message))")
        #expect(warnings.last?.message.contains("is not retried") == true)
    }

    @Test func aRefusedRequestCountsAsAFailureAndIsRetried() async throws {
        let world = try FlinkWorld()
        _ = try await Self.runningApp(world)
        await world.rest.failNext(.triggerSavepoint, with: .http(status: 409, errors: ["job is being stopped"]))
        try await world.write("sp.yaml", Self.snapshot("sp"))
        try await world.reconcile(.flinkStateSnapshot, "sp")
        var status = try Self.status(world, "sp")
        #expect(status.state == .triggerPending, "backoffLimit -1: retried")
        #expect(status.failures == 1 && status.error?.contains("job is being stopped") == true)
        #expect(try world.events(.flinkStateSnapshot, "sp").contains { $0.reason == "SavepointError" && $0.message.contains("refused") })
        try await world.reconcile(.flinkStateSnapshot, "sp")
        #expect(await world.rest.count(.triggerSavepoint) == 1, "not before the backoff")
        world.clock.advance(by: .seconds(11))
        try await world.reconcile(.flinkStateSnapshot, "sp")
        try await world.reconcile(.flinkStateSnapshot, "sp")
        status = try Self.status(world, "sp")
        #expect(status.state == .completed && status.failures == 1)

        // With backoffLimit 0, a refusal is final at once.
        await world.rest.failNext(.triggerSavepoint, with: .http(status: 409, errors: ["no"]))
        try await world.write("once.yaml", Self.snapshot("once", backoffLimit: 0))
        try await world.reconcile(.flinkStateSnapshot, "once")
        #expect(try Self.status(world, "once").state == .failed)
        world.clock.advance(by: .seconds(60))
        #expect(try await world.reconcile(.flinkStateSnapshot, "once") == .awaitChange)
        #expect(try Self.status(world, "once").state == .failed)
    }

    @Test func aSnapshotOfAMissingOrStoppedJobIsAbandoned() async throws {
        let world = try FlinkWorld()
        try await world.write("nobody.yaml", Self.snapshot("nobody", job: "ghost"))
        try await world.reconcile(.flinkStateSnapshot, "nobody")
        var status = try Self.status(world, "nobody")
        #expect(status.state == .abandoned)
        #expect(status.error == "spec.jobReference: flinkdeployment.flink.apache.org \"ghost\" not found: nothing to take the savepoint nobody of")
        #expect(try world.events(.flinkStateSnapshot, "nobody").map(\.reason) == ["SnapshotAbandoned"])

        // A deployment whose job does not run (yet).
        try await world.write("app.yaml", FlinkWorld.deployment("app", mode: "application"))
        try await world.reconcile(.flinkDeployment, "app")
        try await world.write("early.yaml", Self.snapshot("early"))
        try await world.reconcile(.flinkStateSnapshot, "early")
        status = try Self.status(world, "early")
        #expect(status.state == .abandoned)
        #expect(status.error?.contains("is not running") == true, "\(status.error ?? "")")
        #expect(await world.rest.count(.triggerSavepoint) == 0)
    }

    @Test func anExistingSavepointIsRegisteredWhenItsMetadataIsThere() async throws {
        let world = try FlinkWorld()
        let directory = world.root + "/outside/savepoint-0123ab-cafe"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try Data("m".utf8).write(to: URL(fileURLWithPath: directory + "/_metadata"))
        let exists = """
            apiVersion: flink.apache.org/v1beta1
            kind: FlinkStateSnapshot
            metadata:
              name: old
            spec:
              savepoint:
                alreadyExists: true
                path: file:\(directory)
            """
        try await world.write("old.yaml", exists)
        try await world.reconcile(.flinkStateSnapshot, "old")
        let status = try Self.status(world, "old")
        #expect(status.state == .completed && status.path == "file:\(directory)")
        #expect(await world.rest.calls.isEmpty, "nothing is triggered")

        let missing = exists.replacingOccurrences(of: "name: old", with: "name: gone")
            .replacingOccurrences(of: "savepoint-0123ab-cafe", with: "savepoint-nothing-here") + "\n  backoffLimit: 0\n"
        try await world.write("gone.yaml", missing)
        try await world.reconcile(.flinkStateSnapshot, "gone")
        let gone = try Self.status(world, "gone")
        #expect(gone.state == .failed)
        #expect(gone.error == "spec.savepoint.path: no savepoint at file:\(world.root)/outside/savepoint-nothing-here: file:\(world.root)/outside/savepoint-nothing-here/_metadata does not exist")
    }

    @Test func deletingACompletedSavepointDisposesOfItsDirectoryOnlyWhenAskedTo() async throws {
        let world = try FlinkWorld()
        _ = try await Self.runningApp(world)
        try await world.write("keep.yaml", Self.snapshot("keep", body: "savepoint: {disposeOnDelete: false}"))
        try await world.write("drop.yaml", Self.snapshot("drop"))
        for name in ["keep", "drop"] {
            try await world.reconcile(.flinkStateSnapshot, name)
            try await world.reconcile(.flinkStateSnapshot, name)
        }
        let kept = try #require(try Self.status(world, "keep").path)
        let dropped = try #require(try Self.status(world, "drop").path)
        #expect(kept != dropped)

        await world.remove("keep.yaml")
        await world.remove("drop.yaml")
        #expect(try await world.reconcile(.flinkStateSnapshot, "keep") == .awaitChange)
        #expect(try await world.reconcile(.flinkStateSnapshot, "drop") == .awaitChange)
        #expect(FileManager.default.fileExists(atPath: kept + "/_metadata"))
        #expect(!FileManager.default.fileExists(atPath: dropped), "the savepoint's directory is gone")
        #expect(try world.store.resource("FlinkStateSnapshot/default/drop") == nil)
        #expect(try world.store.resource("FlinkStateSnapshot/default/keep") == nil)
    }

    @Test func aSnapshotDeletedWhileInProgressIsDisposedOfOnceItCompletes() async throws {
        let world = try FlinkWorld()
        _ = try await Self.runningApp(world)
        await world.rest.holdSavepoints(true)
        try await world.write("sp.yaml", Self.snapshot("sp"))
        try await world.reconcile(.flinkStateSnapshot, "sp")
        await world.remove("sp.yaml")
        #expect(try await world.reconcile(.flinkStateSnapshot, "sp") == .requeue(after: .seconds(1)), "waits for the savepoint in progress")
        #expect(try world.store.resource("FlinkStateSnapshot/default/sp") != nil)
        await world.rest.holdSavepoints(false)
        #expect(try await world.reconcile(.flinkStateSnapshot, "sp") == .awaitChange)
        #expect(try world.store.resource("FlinkStateSnapshot/default/sp") == nil)
        let directory = world.root + "/state/clusters/default/app/savepoints"
        let left = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        #expect(left.isEmpty, "the savepoint that completed after the deletion was disposed of: \(left)")
    }

    @Test func anOperatorRestartBetweenTheRecordAndTheRequestSendsTheSameTrigger() async throws {
        let world = try FlinkWorld()
        let (jobId, port) = try await Self.runningApp(world)
        try await world.write("sp.yaml", Self.snapshot("sp"))
        // The request is lost (the operator dies as it sends it): the trigger is on record.
        await world.rest.failNext(.triggerSavepoint, with: .unreachable(port: port, reason: "connection reset"))
        await #expect(throws: FlinkRESTError.self) { try await world.reconcile(.flinkStateSnapshot, "sp") }
        let recorded = try Self.status(world, "sp")
        let triggerId = try #require(recorded.triggerId)
        #expect(recorded.state == .inProgress)
        #expect(await world.rest.operations(port: port).isEmpty)

        // The next reconcile knows only what the store says (the reconciler keeps nothing, as a
        // restarted operator): Flink does not know the trigger, so it is sent again, as is.
        try await world.reconcile(.flinkStateSnapshot, "sp")
        #expect(await world.rest.operations(port: port) == [triggerId: jobId])
        try await world.reconcile(.flinkStateSnapshot, "sp")
        let status = try Self.status(world, "sp")
        #expect(status.state == .completed && status.failures == nil)
        #expect(await world.rest.count(.triggerSavepoint) == 2, "the lost request and the same one again")
    }

    @Test func aSavepointThatCompletedWhileItsJobManagerWentAwayIsFoundOnDisk() async throws {
        let world = try FlinkWorld()
        let (jobId, port) = try await Self.runningApp(world)
        await world.rest.holdSavepoints(true)
        try await world.write("sp.yaml", Self.snapshot("sp"))
        try await world.reconcile(.flinkStateSnapshot, "sp")
        // The JobManager is gone before anyone polled; the savepoint it wrote is in the directory.
        await world.rest.removeCluster(port: port)
        try await world.reconcile(.flinkStateSnapshot, "sp")
        #expect(try Self.status(world, "sp").state == .inProgress, "Flink cannot say and nothing is on disk: still in progress")
        let written = world.root + "/state/clusters/default/app/savepoints/savepoint-\(jobId.prefix(6))-0123456789ab"
        try FileManager.default.createDirectory(atPath: written, withIntermediateDirectories: true)
        try Data("m".utf8).write(to: URL(fileURLWithPath: written + "/_metadata"))
        try await world.reconcile(.flinkStateSnapshot, "sp")
        let status = try Self.status(world, "sp")
        #expect(status.state == .completed && status.path == "file:" + written)
    }

    @Test func aCheckpointSnapshotOfASessionJobCompletesWithItsPath() async throws {
        let world = try FlinkWorld()
        try await world.write("session.yaml", FlinkWorld.deployment("session", mode: "session"))
        try await world.write("job.yaml", FlinkWorld.sessionJob())
        try await world.reconcile(.flinkDeployment, "session")
        try await world.clusterUp("session")
        try await world.reconcile(.flinkDeployment, "session")
        try await world.reconcile(.flinkSessionJob, "counter")
        let jobId = try world.firstJobId("FlinkSessionJob/default/counter")
        _ = await world.rest.setVertexStatus(port: try world.restPort("session"), jobId: jobId, .running)
        try await world.reconcile(.flinkSessionJob, "counter")

        try await world.write("chk.yaml", Self.snapshot("chk", kind: "FlinkSessionJob", job: "counter", body: "checkpoint: {}"))
        try await world.reconcile(.flinkStateSnapshot, "chk")
        #expect(await world.rest.count(.triggerCheckpoint) == 1)
        try await world.reconcile(.flinkStateSnapshot, "chk")
        let status = try Self.status(world, "chk")
        #expect(status.state == .completed)
        #expect(status.path?.hasSuffix("/\(jobId)/chk-1") == true, "\(status.path ?? "")")
        #expect(try world.events(.flinkStateSnapshot, "chk").contains { $0.reason == "CheckpointCreated" })
    }

    @Test func theOperatorsOwnSavepointsAreListedAsCompletedSnapshots() async throws {
        let world = try FlinkWorld()
        _ = try await Self.runningApp(world)
        try await world.write("app.yaml", FlinkWorld.deployment("app", mode: "application") + "\n    savepointTriggerNonce: 7\n")
        try await world.reconcile(.flinkDeployment, "app")
        try await world.reconcile(.flinkDeployment, "app")
        let record = try #require(try world.store.resource("FlinkDeployment/default/app"))
        let savepoint = try #require(try record.deploymentStatus()?.jobStatus?.savepointInfo?.lastSavepoint)
        let listed = try world.store.resourcesWithOperatorSnapshots().filter { $0.kind == .flinkStateSnapshot }
        #expect(listed.map(\.name) == ["app-savepoint-manual-\(savepoint.timeStamp)"])
        let snapshot = try #require(listed.first)
        #expect(try snapshot.snapshotStatus()?.state == .completed)
        #expect(try snapshot.snapshotStatus()?.path == savepoint.location)
        #expect(OperatorSnapshots.triggerType(of: snapshot) == .manual)
        #expect(try world.store.resourceOrOperatorSnapshot(snapshot.key)?.uid == snapshot.uid, "found by name, with a stable uid")
        #expect(try world.store.resource(snapshot.key) == nil, "never a record of its own")
        #expect(!FileManager.default.fileExists(atPath: world.root + "/manifests/\(snapshot.name).yaml"), "never a manifest")

        // Upstream's switch turns the listing off for the resource.
        try await world.write("app.yaml", FlinkWorld.deployment("app", mode: "application").replacingOccurrences(
            of: "spec:\n", with: "spec:\n  flinkConfiguration:\n    kubernetes.operator.snapshot.resource.enabled: \"false\"\n") + "\n    savepointTriggerNonce: 7\n")
        try await world.reconcile(.flinkDeployment, "app")
        #expect(try world.store.resourcesWithOperatorSnapshots().filter { $0.kind == .flinkStateSnapshot }.isEmpty)
    }
}

/// `flinklet recover` rebuilds a deployment whose record is lost from its snapshots on disk,
/// and the operator then redeploys it from the newest one.
@Suite struct FlinkRecoveryTests {
    static func snapshot(_ path: String, age: TimeInterval) throws {
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: path + "/_metadata", contents: Data("x".utf8))
        try FileManager.default.setAttributes([.modificationDate: Date().addingTimeInterval(-age)], ofItemAtPath: path + "/_metadata")
    }

    @Test func aLostDeploymentIsRebuiltFromItsNewestSnapshotAndRedeployedFromIt() async throws {
        let world = try FlinkWorld()
        try await world.write("app.yaml", FlinkWorld.deployment("app", mode: "application"))
        let cluster = world.root + "/state/clusters/default/app"
        let older = String(repeating: "a", count: 32), newer = String(repeating: "b", count: 32)
        try Self.snapshot("\(cluster)/checkpoints/\(older)/chk-9", age: 600)
        try Self.snapshot("\(cluster)/checkpoints/\(newer)/chk-3", age: 30)
        try Self.snapshot("\(cluster)/checkpoints/\(newer)/chk-4", age: 10)
        try FileManager.default.createDirectory(atPath: "\(cluster)/checkpoints/\(newer)/chk-5", withIntermediateDirectories: true)  // incomplete
        try Self.snapshot("\(cluster)/savepoints/savepoint-bbbbbb-000001", age: 120)
        try Self.snapshot("\(cluster)/savepoints/savepoint-aaaaaa-000002", age: 700)

        let id = ResourceID(kind: .flinkDeployment, namespace: "default", name: "app")
        let desired = try #require(await world.source.object(id))
        let (record, summary) = try #require(try FlinkRecovery.rebuild(desired, stateDirectory: world.root + "/state", now: Date()))
        let status = try #require(try record.deploymentStatus())
        #expect(status.jobStatus?.jobId == newer, "the job of the newest checkpoint")
        #expect(status.jobStatus?.upgradeSavepointPath == "file://\(cluster)/checkpoints/\(newer)/chk-4", "the newest complete snapshot")
        #expect(status.jobStatus?.savepointInfo?.savepointHistory?.map(\.location)
                == ["file:\(cluster)/savepoints/savepoint-aaaaaa-000002", "file:\(cluster)/savepoints/savepoint-bbbbbb-000001"])
        #expect(status.reconciliationStatus?.state == .deployed)
        #expect(record.specHash == desired.specHash && record.generation == 1, "the manifest's spec: no spurious upgrade")
        #expect(summary.contains("chk-4"))

        // The operator redeploys it from there: a JobManager restoring from chk-4, not empty state.
        _ = try world.store.upsert(record)
        try await world.reconcile(.flinkDeployment, "app")
        let jobManagers = await world.pods(role: .jobManager)
        #expect(jobManagers.count == 1)
        let pod = world.root + "/state/pods/default/app/app-jobmanager-0"
        let rendered = try FileManager.default.subpathsOfDirectory(atPath: pod).compactMap { try? String(contentsOfFile: "\(pod)/\($0)", encoding: .utf8) }
        let argv = try #require(await world.driver.records().first { $0.name == "default/app-jobmanager-0" }?.spec.argv)
        #expect(rendered.contains { $0.contains("\(newer)/chk-4") } || argv.contains { $0.contains("\(newer)/chk-4") },
                "the JobManager restores from the newest checkpoint")
    }

    @Test func aDeploymentWithoutSnapshotsIsLeftToStartAsNew() async throws {
        let world = try FlinkWorld()
        try await world.write("app.yaml", FlinkWorld.deployment("app", mode: "application"))
        let desired = try #require(await world.source.object(ResourceID(kind: .flinkDeployment, namespace: "default", name: "app")))
        #expect(try FlinkRecovery.rebuild(desired, stateDirectory: world.root + "/state", now: Date()) == nil)
        try await world.write("session.yaml", FlinkWorld.deployment("session", mode: "session"))
        let session = try #require(await world.source.object(ResourceID(kind: .flinkDeployment, namespace: "default", name: "session")))
        #expect(try FlinkRecovery.rebuild(session, stateDirectory: world.root + "/state", now: Date()) == nil, "a session cluster has no job state")
    }

    /// A session job's checkpoints lie among every session job's in its session cluster's
    /// directory: the journal of the jobs it was submitted under picks its own.
    @Test func aLostSessionJobIsRebuiltFromItsOwnJobsCheckpointsInTheSessionClusterDirectory() async throws {
        let world = try FlinkWorld()
        try await world.write("session.yaml", FlinkWorld.deployment("session", mode: "session"))
        try await world.write("job.yaml", """
            apiVersion: flink.apache.org/v1beta1
            kind: FlinkSessionJob
            metadata:
              name: counter
            spec:
              deploymentName: session
              job:
                jarURI: local:///opt/flink/usrlib/job.jar
                entryClass: dev.Example
                parallelism: 1
            """)
        let state = world.root + "/state"
        let mine = String(repeating: "d", count: 32), earlier = String(repeating: "e", count: 32), other = String(repeating: "f", count: 32)
        try Self.snapshot("\(state)/clusters/default/session/checkpoints/\(mine)/chk-5", age: 20)
        try Self.snapshot("\(state)/clusters/default/session/checkpoints/\(other)/chk-9", age: 5)  // another session job's, newer
        let journal = "\(state)/clusters/default/counter"
        try FlinkRecovery.recordJob(earlier, clusterDirectory: journal)
        try FlinkRecovery.recordJob(mine, clusterDirectory: journal)
        try FlinkRecovery.recordJob(mine, clusterDirectory: journal)  // a retried submission: once
        #expect(try String(contentsOfFile: journal + "/job-ids", encoding: .utf8) == "\(earlier)\n\(mine)\n")

        let objects = await world.source.objects
        let id = ResourceID(kind: .flinkSessionJob, namespace: "default", name: "counter")
        let desired = try #require(objects[id])
        let (record, _) = try #require(try FlinkRecovery.rebuild(desired, stateDirectory: state, now: Date(), objects: objects))
        let status = try #require(try record.sessionJobStatus())
        #expect(status.jobStatus?.jobId == mine)
        #expect(status.jobStatus?.upgradeSavepointPath == "file://\(state)/clusters/default/session/checkpoints/\(mine)/chk-5", "its own, not the newer one of another job")
        #expect(status.reconciliationStatus?.state == .deployed)
        unlink(journal + "/job-ids")
        #expect(try FlinkRecovery.rebuild(desired, stateDirectory: state, now: Date(), objects: objects) == nil,
                "without the journal its checkpoints cannot be told from another job's")
    }

    @Test func aSessionJobSubmissionIsJournaledBeforeItIsSent() async throws {
        let world = try FlinkWorld()
        try await world.write("session.yaml", FlinkWorld.deployment("session", mode: "session"))
        try await world.reconcile(.flinkDeployment, "session")
        try await world.clusterUp("session")
        try await world.reconcile(.flinkDeployment, "session")
        try await world.write("job.yaml", """
            apiVersion: flink.apache.org/v1beta1
            kind: FlinkSessionJob
            metadata:
              name: counter
            spec:
              deploymentName: session
              job:
                jarURI: local:///opt/flink/usrlib/job.jar
                entryClass: dev.Example
                parallelism: 1
            """)
        try await world.reconcile(.flinkSessionJob, "counter")
        let jobId = try #require(try world.store.resource("FlinkSessionJob/default/counter")?.sessionJobStatus()?.jobStatus?.jobId)
        #expect(try FlinkRecovery.lastJob(clusterDirectory: world.root + "/state/clusters/default/counter") == jobId)
    }

    @Test func anUnreadableCheckpointDirectoryIsAnErrorNotNoSnapshots() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("recover-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: root) }
        _ = FileManager.default.createFile(atPath: root + "/checkpoints", contents: Data("not a directory".utf8))
        #expect(throws: (any Error).self) { try FlinkRecovery.snapshots(checkpointDirectory: root + "/checkpoints", savepointDirectory: root + "/none") }
        #expect(try FlinkRecovery.snapshots(checkpointDirectory: root + "/missing", savepointDirectory: root + "/none").newest == nil)
    }
}
