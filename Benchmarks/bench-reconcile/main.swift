// Does a slow savepoint hold anything else up? The whole operator (work queue, workers,
// reconciler, FlinkPlanner, the manifest watcher) runs in process against a fake Flink (its
// savepoints held IN_PROGRESS) and in-memory pods (see hack/bench-reconcile.sh):
//
//   1. `--upgrading` application deployments reach RUNNING, then all are upgraded at once
//      (savepoint mode); their savepoints stay in progress for `--hold` seconds;
//   2. meanwhile an unrelated session cluster is created and deleted `--probes` times: the time
//      from its manifest saved to its JobManager started, and from its manifest removed to its
//      record gone (p50/p99, target p99 ≤ 50 ms);
//   3. the savepoints complete; every upgrade finishes.
// Prints the longest single reconcile (target ≤ 100 ms) and how many ran.
//
//   bench-reconcile [--upgrading 8] [--hold 30] [--probes 60] [--workers 4]
import Controller
import Engine
import FlinkClient
import FlinkletTesting
import FlinkResources
import Foundation
import Logging
import Planning
import Reconciliation
import Runtime
import Store
import Synchronization

extension InMemoryProcessDriver: RunnableDriver {
    public func run() async throws {
        while !Task.isCancelled {
            supervise()
            try? await Task.sleep(for: .milliseconds(10))
        }
    }
}

struct Options {
    var upgrading = 8
    var hold = 30
    var probes = 60
    var workers = 4

    init(_ arguments: [String]) {
        var i = 1
        while i + 1 < arguments.count {
            let value = Int(arguments[i + 1])
            switch arguments[i] {
            case "--upgrading": upgrading = value ?? upgrading
            case "--hold": hold = value ?? hold
            case "--probes": probes = value ?? probes
            case "--workers": workers = value ?? workers
            default: break
            }
            i += 2
        }
    }
}

/// Every reconcile's duration, and the longest, by resource.
final class ReconcileLog: Sendable {
    private let state = Mutex<(count: Int, failed: Int, longest: Duration, longestKey: String)>((0, 0, .zero, ""))
    func record(_ id: ResourceID, _ took: Duration, _ ok: Bool) {
        state.withLock { s in
            s.count += 1
            if !ok { s.failed += 1 }
            if took > s.longest { s.longest = took; s.longestKey = id.key }
        }
    }
    var snapshot: (count: Int, failed: Int, longest: Duration, longestKey: String) { state.withLock { $0 } }
}

func millis(_ d: Duration) -> Double { Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) / 1e15 }
func percentile(_ values: [Double], _ p: Double) -> Double {
    let sorted = values.sorted()
    return sorted[min(sorted.count - 1, Int((Double(sorted.count - 1) * p).rounded()))]
}
func fmt(_ x: Double) -> String { String(format: "%.1f", x) }

func deployment(_ name: String, tag: String?) -> String {
    let job = tag.map { tag in
        """
          job:
            jarURI: local:///opt/flink/usrlib/job.jar
            entryClass: dev.flinklet.examples.CounterJob
            args: ["--tag", "\(tag)"]
            parallelism: 1
            upgradeMode: savepoint

        """
    } ?? ""
    return """
        apiVersion: flink.apache.org/v1beta1
        kind: FlinkDeployment
        metadata:
          name: \(name)
        spec:
          flinkVersion: v2_3
          mode: \(tag == nil ? "session" : "application")
          flinkConfiguration:
            taskmanager.numberOfTaskSlots: "1"
          jobManager:
            resource: {memory: 768m}
          taskManager:
            resource: {memory: 1024m}
        \(job)
        """
}

func write(_ directory: String, _ file: String, _ text: String) throws {
    let temporary = "\(directory)/.\(file).tmp"
    try text.write(toFile: temporary, atomically: false, encoding: .utf8)
    rename(temporary, "\(directory)/\(file)")
}

/// Plays Flink for the pods the operator starts: a JobManager's cluster answers on the
/// resource's REST port with the job its argv names RUNNING; every pod becomes ready.
func simulate(driver: InMemoryProcessDriver, rest: FakeFlinkREST, state: String) async {
    var known: Set<String> = []
    while !Task.isCancelled {
        guard let store = try? Store.open(stateDirectory: state, readOnly: true) else {
            try? await Task.sleep(for: .milliseconds(5))
            continue
        }
        for record in await driver.records() {
            let name = record.spec.name
            if await driver.status(name)?.ready == false { await driver.setReady(name: name, true) }
            guard record.spec.labels[PodLabels.role] == "jobmanager", let owner = record.spec.labels[PodLabels.owner],
                  let port = try? store.ports(owner: owner).first else { continue }
            if !known.contains(owner) {
                await rest.addCluster(port: port, taskManagers: 4, slots: 4)
                known.insert(owner)
            }
            if let index = record.spec.argv.firstIndex(of: "--job-id"), index + 1 < record.spec.argv.count {
                let jobId = record.spec.argv[index + 1]
                if await rest.state(port: port, jobId: jobId) == nil {
                    await rest.addJob(port: port, jobId: jobId)
                    _ = await rest.completeCheckpoint(port: port, jobId: jobId)
                }
            }
        }
        try? await Task.sleep(for: .milliseconds(5))
    }
}

func waitUntil(_ timeout: Duration, _ condition: () async -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if await condition() { return true }
        try? await Task.sleep(for: .milliseconds(1))
    }
    return false
}

let options = Options(CommandLine.arguments)
let root = FileManager.default.temporaryDirectory.appendingPathComponent("flinklet-bench-reconcile-\(UUID().uuidString.prefix(8))").path
let manifests = root + "/manifests", state = root + "/state", flinkHome = root + "/flink"
for directory in [manifests, state, flinkHome + "/lib", flinkHome + "/usrlib"] {
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
}
try Data("jar".utf8).write(to: URL(fileURLWithPath: flinkHome + "/usrlib/job.jar"))
defer { try? FileManager.default.removeItem(atPath: root) }

let rest = FakeFlinkREST()
await rest.writeSnapshotFiles(true)
let driver = InMemoryProcessDriver(clock: SystemRuntimeClock())
let distribution = FlinkDistribution(home: flinkHome, version: "2.3.0", java: "/usr/bin/java", classpath: [flinkHome + "/lib/flink-dist-2.3.0.jar"],
                                     jvmOptions: [])
var backend = FlinkBackend(distribution: .success(distribution), rest: rest, stateDirectory: state, maxConcurrentClusterStarts: 100)
backend.portRange = 42_000...44_999
var configuration = OperatorConfiguration(manifests: manifests)
configuration.stateDirectory = state
configuration.workers = options.workers
configuration.allowEmpty = true
let logger = Logger(label: "bench", factory: { _ in SwiftLogNoOpLogHandler() })
var flinklet = Operator(configuration: configuration, planner: FlinkPlanner(), backend: backend, logger: logger, makeDriver: { _ in driver })
let reconciles = ReconcileLog()
flinklet.onReconcile = { reconciles.record($0, $1, $2) }
let operatorTask = Task { try await flinklet.run() }
let simulator = Task { await simulate(driver: driver, rest: rest, state: state) }

func status(_ name: String) -> FlinkDeploymentStatus? {
    guard let store = try? Store.open(stateDirectory: state, readOnly: true),
          let record = try? store.resource("FlinkDeployment/default/\(name)") else { return nil }
    return (try? record.deploymentStatus()) ?? nil
}

print("bench-reconcile: \(options.upgrading) deployments upgrading with savepoints held \(options.hold) s, \(options.probes) unrelated create/delete probes, \(options.workers) workers")
let names = (0..<options.upgrading).map { "app-\($0)" }
for name in names { try write(manifests, "\(name).yaml", deployment(name, tag: "v1")) }
let running = await waitUntil(.seconds(60)) {
    names.allSatisfy { status($0)?.jobStatus?.state == "RUNNING" && status($0)?.lifecycleState == .stable }
}
guard running else { print("FAILED: the deployments never ran"); exit(1) }
let firstJobs = Dictionary(uniqueKeysWithValues: names.map { ($0, status($0)?.jobStatus?.jobId ?? "") })

await rest.holdSavepoints(true)
for name in names { try write(manifests, "\(name).yaml", deployment(name, tag: "v2")) }
let snapshotting = await waitUntil(.seconds(30)) {
    names.allSatisfy { SnapshotTrigger(status($0)?.jobStatus?.savepointInfo) != nil }
}
guard snapshotting else { print("FAILED: the upgrades never asked for their savepoints"); exit(1) }
let holdStart = ContinuousClock.now
print("upgrading: \(names.count) savepoints in progress")

var created: [Double] = [], deleted: [Double] = []
let probeRecord = "FlinkDeployment/default/probe"
for _ in 0..<options.probes {
    let start = ContinuousClock.now
    try write(manifests, "probe.yaml", deployment("probe", tag: nil))
    guard await waitUntil(.seconds(5), { await driver.status("default/probe-jobmanager-0") != nil }) else {
        print("FAILED: the probe's JobManager never started"); exit(1)
    }
    created.append(millis(ContinuousClock.now - start))
    try await Task.sleep(for: .milliseconds(20))
    let removal = ContinuousClock.now
    unlink(manifests + "/probe.yaml")
    guard await waitUntil(.seconds(5), {
        (try? Store.open(stateDirectory: state, readOnly: true).resource(probeRecord)) == nil
    }) else { print("FAILED: the probe was never forgotten"); exit(1) }
    deleted.append(millis(ContinuousClock.now - removal))
    try await Task.sleep(for: .milliseconds(20))
}
let probing = ContinuousClock.now - holdStart
let stillHeld = names.allSatisfy { SnapshotTrigger(status($0)?.jobStatus?.savepointInfo) != nil }
let remaining = Duration.seconds(options.hold) - probing
if remaining > .zero { try await Task.sleep(for: remaining) }
let duringHold = reconciles.snapshot
await rest.holdSavepoints(false)
let upgraded = await waitUntil(.seconds(60)) {
    names.allSatisfy { status($0)?.jobStatus?.state == "RUNNING" && status($0)?.jobStatus?.jobId != firstJobs[$0] && status($0)?.lifecycleState == .stable }
}
let all = reconciles.snapshot
operatorTask.cancel()
simulator.cancel()
_ = try? await operatorTask.value

print("probe create → JobManager started: p50 \(fmt(percentile(created, 0.5))) ms, p99 \(fmt(percentile(created, 0.99))) ms, max \(fmt(created.max() ?? 0)) ms (target p99 ≤ 50 ms)")
print("probe delete → record gone:        p50 \(fmt(percentile(deleted, 0.5))) ms, p99 \(fmt(percentile(deleted, 0.99))) ms, max \(fmt(deleted.max() ?? 0)) ms (target p99 ≤ 50 ms)")
print("savepoints still in progress after the probes (\(fmt(millis(probing) / 1000)) s): \(stillHeld)")
print("reconciles while held: \(duringHold.count) (\(duringHold.failed) failed); longest \(fmt(millis(duringHold.longest))) ms (\(duringHold.longestKey)) (target ≤ 100 ms)")
print("reconciles in all: \(all.count) (\(all.failed) failed); longest \(fmt(millis(all.longest))) ms (\(all.longestKey))")
print("upgrades finished after the savepoints completed: \(upgraded)")
let met = percentile(created, 0.99) <= 50 && percentile(deleted, 0.99) <= 50 && millis(all.longest) <= 100 && upgraded && stillHeld
print(met ? "targets met" : "targets NOT met")
exit(met ? 0 : 1)
