import FlinkletTesting
import Foundation
import Logging
import Testing
import FlinkResources
import Planning
import Reconciliation
import Runtime
import Store
@testable import Controller
import Engine
import Synchronization

/// A manifest directory, a state directory and an operator running on them, with real pods.
final class OperatorHarness: @unchecked Sendable {
    let root: String
    var manifests: String { root + "/manifests" }
    var stateDirectory: String { root + "/state" }
    private var task: Task<Void, any Error>?

    init() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("flinklet-operator-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: root + "/manifests", withIntermediateDirectories: true)
    }

    var configuration: Operator.Configuration {
        var configuration = OperatorConfiguration(manifests: manifests)
        configuration.stateDirectory = stateDirectory
        configuration.resync = .seconds(3600)  // inotify must do the work
        configuration.workers = 2
        return configuration
    }

    func makeOperator() -> Operator<NoBackend> {
        Operator(configuration: configuration, planner: CommandPods.planner, backend: NoBackend(),
                 logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
    }

    func start() {
        let flinklet = makeOperator()
        task = Task { try await flinklet.run() }
    }

    /// Stops the operator (not the pods), as SIGTERM would.
    func stopOperator() async {
        task?.cancel()
        _ = try? await task?.value
        task = nil
    }

    func write(_ name: String, command: String, replicas: Int = 1, extraSpec: String = "") throws {
        let text = """
            apiVersion: flink.apache.org/v1beta1
            kind: FlinkDeployment
            metadata:
              name: \(name)
              annotations:
                flinklet.dev/command: "\(command)"
                flinklet.dev/replicas: "\(replicas)"
            spec:
              flinkVersion: v2_3
              mode: session
            \(extraSpec)
            """
        let temp = manifests + "/.\(name).tmp"
        try text.write(toFile: temp, atomically: false, encoding: .utf8)
        rename(temp, manifests + "/\(name).yaml")
    }

    func remove(_ name: String) throws { try FileManager.default.removeItem(atPath: manifests + "/\(name).yaml") }

    func store() throws -> Store { try Store.open(stateDirectory: stateDirectory, readOnly: true) }

    func record(_ name: String) -> ResourceRecord? {
        try? store().resource(ResourceID(kind: .flinkDeployment, namespace: "default", name: name).key)
    }

    func status(_ name: String) -> FlinkDeploymentStatus? { try? record(name)?.deploymentStatus() }

    func ready(_ name: String) -> Bool {
        status(name)?.conditions?.contains { $0.type == "Ready" && $0.status == .true } ?? false
    }

    /// Pids of the resource's pods as recorded, alive or not.
    func pids(_ name: String) -> [Int32] {
        ((try? store().pods(owner: ResourceID(kind: .flinkDeployment, namespace: "default", name: name).key)) ?? []).map(\.pid).sorted()
    }

    /// Live pods (process-group leaders) whose command line mentions `marker`. Leaders only: a
    /// shell's child between fork and exec briefly shows the shell's command line too.
    static func processes(marker: String) -> [Int32] {
        ProcessInfoReader.allProcesses().filter { stat in
            guard !stat.isZombie, stat.pgid == stat.pid, let cmdline = try? Data(contentsOf: URL(fileURLWithPath: "/proc/\(stat.pid)/cmdline")) else { return false }
            return String(decoding: cmdline.map { $0 == 0 ? 32 : $0 }, as: UTF8.self).contains(marker)
        }.map(\.pid).sorted()
    }

    func cleanUp() async {
        await stopOperator()
        // Leave no pod behind: stop every recorded group.
        for pod in (try? store().pods()) ?? [] where ProcessInfoReader.stat(pid: pod.pid)?.startTicks == pod.processStartTicks {
            kill(-pod.pgid, SIGKILL)
        }
        try? FileManager.default.removeItem(atPath: root)
    }
}

@Suite(.serialized) struct OperatorTests {
    @Test func aManifestBecomesRunningPodsAndAReadyStatus() async throws {
        let h = try OperatorHarness()
        h.start()
        let marker = "flinklet-test-\(UUID().uuidString.prefix(8))"
        try h.write("app", command: "sleep 300; : \(marker)", replicas: 2)
        #expect(await eventually { h.ready("app") && h.pids("app").count == 2 && OperatorHarness.processes(marker: marker).count == 2 })
        let pids = h.pids("app")
        #expect(OperatorHarness.processes(marker: marker) == pids)
        for pid in pids { #expect(ProcessInfoReader.stat(pid: pid)?.pgid == pid, "each pod is its own process group") }
        #expect(h.status("app")?.observedGeneration == 1)
        #expect(h.status("app")?.lifecycleState == .stable)
        #expect(try h.store().events(for: "FlinkDeployment/default/app").map(\.reason) == ["Started"])
        await h.cleanUp()
        #expect(await eventually { OperatorHarness.processes(marker: marker).isEmpty })
    }

    @Test func aSpecChangeBumpsTheGenerationAndACommandChangeReplacesThePod() async throws {
        let h = try OperatorHarness()
        defer { Task { await h.cleanUp() } }
        h.start()
        try h.write("app", command: "exec sleep 301")
        #expect(await eventually { h.ready("app") })
        let before = h.pids("app")
        try h.write("app", command: "exec sleep 301", extraSpec: "  flinkConfiguration: {a.b: c}")
        #expect(await eventually { h.record("app")?.generation == 2 && h.status("app")?.observedGeneration == 2 })
        #expect(h.pids("app") == before, "the pod template did not change")
        try h.write("app", command: "exec sleep 302", extraSpec: "  flinkConfiguration: {a.b: c}")
        #expect(await eventually { h.ready("app") && h.pids("app") != before && h.pids("app").count == 1 })
        #expect(ProcessInfoReader.stat(pid: before[0]) == nil || ProcessInfoReader.stat(pid: before[0])!.isZombie, "the old pod is gone")
        await h.cleanUp()
    }

    @Test func anInvalidEditKeepsThePodsRunningAndRecordsTheError() async throws {
        let h = try OperatorHarness()
        h.start()
        try h.write("app", command: "exec sleep 303")
        #expect(await eventually { h.ready("app") })
        let before = h.pids("app")
        try h.write("app", command: "exec sleep 304", extraSpec: "  taskManager: {replicas: 0}")
        #expect(await eventually { h.status("app")?.error?.contains("spec.taskManager.replicas: Invalid value: 0") == true })
        #expect(h.pids("app") == before)
        #expect(try h.store().events(for: "FlinkDeployment/default/app").contains { $0.reason == "ValidationError" && $0.type == .warning })
        await h.cleanUp()
    }

    @Test func deletingTheManifestStopsEveryPodAndForgetsTheResource() async throws {
        let h = try OperatorHarness()
        h.start()
        let marker = "flinklet-test-\(UUID().uuidString.prefix(8))"
        try h.write("app", command: "sleep 305; : \(marker)-app", replicas: 2)
        try h.write("other", command: "sleep 306; : \(marker)-other")
        // Ready can come before a pod has exec'd its command (until then its command line is
        // the spawner's): /proc is asked until both show theirs.
        #expect(await eventually { h.ready("app") && h.ready("other") && OperatorHarness.processes(marker: marker + "-app").count == 2 })
        #expect(await eventually { OperatorHarness.processes(marker: marker + "-other").count == 1 })
        try h.remove("app")
        #expect(await eventually { h.record("app") == nil && OperatorHarness.processes(marker: marker + "-app").isEmpty })
        #expect(OperatorHarness.processes(marker: marker + "-other").count == 1, "another resource is untouched")
        #expect(h.ready("other"))
        await h.cleanUp()
    }

    @Test func aRestartedOperatorAdoptsThePodsAndStartsNoDuplicates() async throws {
        let h = try OperatorHarness()
        h.start()
        let marker = "flinklet-test-\(UUID().uuidString.prefix(8))"
        try h.write("app", command: "sleep 307; : \(marker)", replicas: 3)
        // Recorded pids and /proc agree once every pod has exec'd its command (between spawn and
        // exec a pod's command line is not yet its own).
        #expect(await eventually { h.ready("app") && h.pids("app").count == 3 && OperatorHarness.processes(marker: marker).count == 3 })
        let before = OperatorHarness.processes(marker: marker)
        #expect(before.count == 3)
        await h.stopOperator()
        #expect(OperatorHarness.processes(marker: marker) == before, "pods outlive the operator")
        h.start()
        try await Task.sleep(for: .milliseconds(500))
        #expect(await eventually { h.ready("app") })
        #expect(OperatorHarness.processes(marker: marker) == before, "the same processes, none added")
        #expect(h.pids("app") == before)
        // Generations persist: a spec change after the restart counts on from the stored one.
        let generation = try #require(h.record("app")?.generation)
        try h.write("app", command: "sleep 307; : \(marker)", replicas: 3, extraSpec: "  flinkConfiguration: {x: y}")
        #expect(await eventually { h.record("app")?.generation == generation + 1 })
        await h.cleanUp()
    }

    /// A restart that finds the manifest directory empty (an unmounted volume, a checkout in
    /// progress) deletes nothing within the grace: the store's resources keep their pods.
    @Test func aRestartOnAnEmptyManifestDirectoryDeletesNothingWithinTheGrace() async throws {
        let h = try OperatorHarness()
        h.start()
        let marker = "flinklet-test-\(UUID().uuidString.prefix(8))"
        try h.write("app", command: "sleep 311; : \(marker)", replicas: 2)
        #expect(await eventually { h.ready("app") && h.pids("app").count == 2 && OperatorHarness.processes(marker: marker).count == 2 })
        let before = OperatorHarness.processes(marker: marker)
        await h.stopOperator()
        try h.remove("app")
        h.start()
        try await Task.sleep(for: .seconds(2))
        #expect(OperatorHarness.processes(marker: marker) == before, "no pod stopped")
        #expect(h.record("app") != nil, "the resource is still recorded")
        await h.cleanUp()
    }

    @Test func aPodRestartedByTheDriverIsRecordedSoTheNextOperatorAdoptsIt() async throws {
        let h = try OperatorHarness()
        h.start()
        let marker = "flinklet-test-\(UUID().uuidString.prefix(8))"
        try h.write("app", command: "sleep 309; : \(marker)")
        #expect(await eventually { h.ready("app") && h.pids("app").count == 1 })
        let first = h.pids("app")[0]
        kill(-first, SIGKILL)  // the pod dies behind the operator's back
        #expect(await eventually(timeout: .seconds(10)) {
            let now = OperatorHarness.processes(marker: marker)
            return now.count == 1 && now != [first] && h.pids("app") == now
        }, "restarted after its backoff, and the new process recorded")
        let second = OperatorHarness.processes(marker: marker)
        await h.stopOperator()
        h.start()
        try await Task.sleep(for: .milliseconds(500))
        #expect(await eventually { h.ready("app") })
        #expect(OperatorHarness.processes(marker: marker) == second, "adopted, not lost and started twice")
        await h.cleanUp()
    }

    @Test func aSecondOperatorOnTheSameStateDirectoryIsRefused() async throws {
        let h = try OperatorHarness()
        h.start()
        try h.write("app", command: "exec sleep 308")
        #expect(await eventually { h.ready("app") })
        await #expect(throws: StoreError.self) { try await h.makeOperator().run() }
        do {
            try await h.makeOperator().run()
        } catch {
            #expect("\(error)".hasPrefix("another flinklet is running with state dir \(h.stateDirectory) (pid \(getpid()))"))
        }
        await h.cleanUp()
    }

    @Test func aCrashingPodStallsTheResourceAndIsRestarted() async throws {
        let h = try OperatorHarness()
        h.start()
        try h.write("app", command: "exit 3")
        #expect(await eventually(timeout: .seconds(10)) {
            h.status("app")?.conditions?.contains { $0.type == "Stalled" && $0.reason == "CrashLoopBackOff" } == true
        })
        #expect(h.status("app")?.error == "pod app-main-0 is CrashLoopBackOff")
        await h.cleanUp()
    }

    /// The state database is lost while pods run: the pods carry the state directory in their
    /// environment, so a new operator finds them and refuses to start (it would start a second
    /// copy of each next to the first), naming every pod.
    @Test func anOperatorWhoseDatabaseIsLostRefusesToStartNextToItsLivePods() async throws {
        let h = try OperatorHarness()
        h.start()
        let marker = "flinklet-test-\(UUID().uuidString.prefix(8))"
        try h.write("app", command: "sleep 300; : \(marker)", replicas: 2)
        #expect(await eventually { h.ready("app") && h.pids("app").count == 2 })
        let pids = h.pids("app")
        await h.stopOperator()
        for suffix in ["", "-wal", "-shm"] { unlink(h.stateDirectory + "/state.db" + suffix) }
        defer { for pid in pids { kill(-pid, SIGKILL) } }

        do {
            try await h.makeOperator().run()
            Issue.record("the operator started next to pods its database does not know")
        } catch let error as RecoveryNeeded {
            #expect(Set(error.processes.filter(\.isGroupLeader).map(\.pid)) == Set(pids))
            #expect(Set(error.processes.map(\.pod)) == ["default/app-main-0", "default/app-main-1"])
            #expect("\(error)".contains("refusing to start"))
            #expect("\(error)".contains("flinklet recover --manifests \(h.manifests) --state-dir \(h.stateDirectory)"))
        }
        #expect(OperatorHarness.processes(marker: marker) == pids, "nothing started, nothing stopped")

        // Once the pods are on record again (what `flinklet recover` does), the operator adopts
        // them and starts no duplicate.
        let store = try Store.open(stateDirectory: h.stateDirectory)
        let orphans = ProcessRecovery.orphans(marker: PodMarker(stateDirectory: h.stateDirectory), recorded: try store.pods())
        #expect(orphans.map(\.pod) == ["default/app-main-0", "default/app-main-1"])
        for orphan in orphans {
            let record = try #require(orphan.record, "the pod's spec file is readable")
            #expect(orphan.owner == "FlinkDeployment/default/app")
            try store.savePod(try PodRecords.row(for: record, owner: try #require(orphan.owner)))
        }
        h.start()
        #expect(await eventually { h.ready("app") })
        try await Task.sleep(for: .milliseconds(500))
        #expect(OperatorHarness.processes(marker: marker) == pids, "adopted, none started")
        await h.cleanUp()
    }

    /// The operator died between starting a pod and recording it (or a restart of it): its
    /// resource is on record, its spec file names it, so the next operator re-adopts it by
    /// itself, and starts no second one.
    @Test func aPodStartedButNotYetRecordedIsReadoptedNotDuplicated() async throws {
        let h = try OperatorHarness()
        h.start()
        let marker = "flinklet-test-\(UUID().uuidString.prefix(8))"
        try h.write("app", command: "sleep 300; : \(marker)", replicas: 2)
        #expect(await eventually { h.ready("app") && h.pids("app").count == 2 })
        let pids = h.pids("app")
        await h.stopOperator()
        do {
            let store = try Store.open(stateDirectory: h.stateDirectory)
            _ = try store.deletePod(name: "default/app-main-1")
        }
        h.start()
        #expect(await eventually { h.pids("app") == pids }, "the unrecorded pod is on record again")
        #expect(await eventually { h.ready("app") })
        try await Task.sleep(for: .milliseconds(500))
        #expect(OperatorHarness.processes(marker: marker) == pids, "re-adopted, none started")
        await h.cleanUp()
    }

    /// A manifest made invalid while the operator was down keeps the version that ran, as an
    /// invalid edit does while it runs: the pods stay managed (not "never valid", not orphaned),
    /// the invalid text's other changes are not applied, and the error is said.
    @Test func anInvalidManifestAfterARestartKeepsTheVersionThatRan() async throws {
        let h = try OperatorHarness()
        h.start()
        let marker = "flinklet-test-\(UUID().uuidString.prefix(8))"
        try h.write("app", command: "sleep 300; : \(marker)", replicas: 1)
        #expect(await eventually { h.ready("app") && h.pids("app").count == 1 })
        let pids = h.pids("app")
        await h.stopOperator()
        try h.write("app", command: "sleep 300; : \(marker)", replicas: 2, extraSpec: "  taskManager:\n    replicas: 0")
        h.start()
        #expect(await eventually {
            h.status("app")?.conditions?.contains { $0.reason == "InvalidSpec" } == false
                && (h.record("app").map { (try? h.store().events(for: $0.key)) ?? [] } ?? []).contains { $0.message.contains("spec.taskManager.replicas") }
        }, "\(String(describing: h.status("app")?.conditions))")
        #expect(h.status("app")?.lifecycleState != .created, "not read as never valid")
        #expect(h.ready("app"))
        try await Task.sleep(for: .milliseconds(500))
        #expect(h.pids("app") == pids && OperatorHarness.processes(marker: marker) == pids, "the pod that ran is adopted and kept; the invalid text's second replica is not started")
        await h.cleanUp()
    }

    /// A pod record that cannot be decoded is healed from the spec file the pod was started with.
    @Test func aPodRecordThatCannotBeDecodedIsHealedFromThePodsSpecFile() async throws {
        let h = try OperatorHarness()
        h.start()
        let marker = "flinklet-test-\(UUID().uuidString.prefix(8))"
        try h.write("app", command: "sleep 300; : \(marker)")
        #expect(await eventually { h.ready("app") && h.pids("app").count == 1 })
        let pids = h.pids("app")
        await h.stopOperator()
        do {
            let store = try Store.open(stateDirectory: h.stateDirectory)
            var row = try #require(try store.pods().first)
            row.spec = Data("{not json".utf8)
            try store.savePod(row)
        }
        h.start()
        #expect(await eventually { (try? h.store().pods().allSatisfy(PodRecords.isDecodable)) == true }, "the record is rewritten")
        #expect(await eventually { h.ready("app") })
        try await Task.sleep(for: .milliseconds(300))
        #expect(OperatorHarness.processes(marker: marker) == pids, "adopted, none started")
        await h.cleanUp()
    }

    /// A pod record that cannot be decoded (nor healed) is not dropped: its process lives, the driver does
    /// not know it, and its resource's reconciles fail instead of starting a second pod.
    @Test func aPodRecordThatCannotBeDecodedStartsNoSecondPod() async throws {
        let h = try OperatorHarness()
        h.start()
        let marker = "flinklet-test-\(UUID().uuidString.prefix(8))"
        try h.write("app", command: "sleep 300; : \(marker)")
        #expect(await eventually { h.ready("app") && h.pids("app").count == 1 })
        let pids = h.pids("app")
        await h.stopOperator()
        do {
            let store = try Store.open(stateDirectory: h.stateDirectory)
            var row = try #require(try store.pods().first)
            row.spec = Data("{not json".utf8)
            try store.savePod(row)
        }
        // Nor can it be healed from the pod's spec file.
        unlink(PodMarker(stateDirectory: h.stateDirectory).specPath(of: "default/app-main-0"))
        defer { for pid in pids { kill(-pid, SIGKILL) } }

        let failed = Counter()
        var flinklet = h.makeOperator()
        flinklet.onReconcile = { id, _, succeeded in if id.name == "app" && !succeeded { failed.increment() } }
        let task = Task { try await flinklet.run() }
        #expect(await eventually { failed.value >= 2 }, "the resource's reconciles fail while its pod is unknown")
        #expect(OperatorHarness.processes(marker: marker) == pids, "no second pod next to the unknown one")
        task.cancel()
        _ = try? await task.value
        await h.cleanUp()
    }
}

/// A thread-safe count, for callbacks.
final class Counter: Sendable {
    private let count = Mutex(0)
    func increment() { count.withLock { $0 += 1 } }
    var value: Int { count.withLock { $0 } }
}
