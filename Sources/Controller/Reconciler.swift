import FlinkResources
import Foundation
import Logging
import Manifests
import Planning
import Runtime
import Store

/// Labels Flinklet puts on every pod it starts, to find a resource's pods and what they run.
public enum PodLabels {
    /// The resource key (`FlinkDeployment/default/app`) that owns the pod.
    public static let owner = "flinklet.dev/owner"
    /// The pod's role (`jobmanager`, `taskmanager`, ...).
    public static let role = "flinklet.dev/role"
    /// The `planHash` of the `PodPlan` the pod was started from.
    public static let planHash = "flinklet.dev/plan-hash"
}

/// Where a resource's pods keep their files: `<state-dir>/pods/<namespace>/<name>/<pod>/`.
public struct PodLayout: Sendable {
    public let stateDirectory: String

    public init(stateDirectory: String) { self.stateDirectory = stateDirectory }

    /// `<state-dir>/pods/<namespace>/<name>`: the directory of all the resource's pods.
    public func directory(of id: ResourceID) -> String {
        "\(stateDirectory)/pods/\(id.namespace)/\(id.name)"
    }

    public func directory(of id: ResourceID, pod: String) -> String {
        directory(of: id) + "/" + pod
    }

    /// The driver's name for a pod: unique across namespaces, as kubectl writes it.
    public func runtimeName(of id: ResourceID, pod: String) -> String { "\(id.namespace)/\(pod)" }

    /// The `PodSpec` that runs `plan`: its working directory, log and tmp directory under the
    /// state directory, and the labels that tie it to its resource.
    public func spec(for plan: PodPlan, of id: ResourceID) -> PodSpec {
        let directory = directory(of: id, pod: plan.name)
        var spec = PodSpec(name: runtimeName(of: id, pod: plan.name), argv: plan.argv, workingDirectory: directory,
                           logPath: directory + "/log")
        spec.environment = plan.environment
        spec.memoryLimitBytes = plan.memoryLimitBytes
        spec.restartPolicy = switch plan.restartPolicy {
        case .always: .always
        case .onFailure: .onFailure
        case .never: .never
        }
        spec.readiness = plan.readiness.map { readiness in
            switch readiness {
            case .httpGet(let port, let path): .httpGet(port: port, path: path)
            case .logLine(let line): .logLine(line)
            }
        }
        spec.terminationGracePeriod = plan.terminationGracePeriod
        spec.tmpDirectory = directory + "/tmp"
        spec.labels = [PodLabels.owner: id.key, PodLabels.role: plan.role.rawValue, PodLabels.planHash: plan.planHash]
        return spec
    }
}

/// Reconciles one resource: observe → plan → execute → record (architecture.md).
///
/// Guarantees: level-based — it never asks why it runs, so running it again is always safe;
/// it never runs two reconciles of one key at once (the work queue sees to that); each step's
/// effect is persisted (pod records, events) as soon as it happens, so an operator that dies
/// mid-way resumes from what is recorded. A failed step ends the reconcile with an error, and
/// the queue retries with backoff.
public struct Reconciler: Sendable {
    public let source: DirectorySource
    public let store: Store
    public let driver: any ProcessDriver
    public let planner: any ResourcePlanner
    public let layout: PodLayout
    /// The Flink side (observation and REST steps); nil for planners that run plain pods.
    public let flink: FlinkBackend?
    public let logger: Logger
    public let now: @Sendable () -> Date
    /// Queues another resource for a reconcile (a plan's `wake`, after its status is recorded).
    public let wake: @Sendable (ResourceID) async -> Void

    public init(source: DirectorySource, store: Store, driver: any ProcessDriver, planner: any ResourcePlanner,
                layout: PodLayout, flink: FlinkBackend? = nil, logger: Logger, now: @escaping @Sendable () -> Date = { Date() },
                wake: @escaping @Sendable (ResourceID) async -> Void = { _ in }) {
        self.source = source
        self.store = store
        self.driver = driver
        self.planner = planner
        self.layout = layout
        self.flink = flink
        self.logger = logger
        self.now = now
        self.wake = wake
    }

    public func reconcile(_ id: ResourceID) async throws -> ReconcileAction {
        var logger = self.logger
        logger[metadataKey: "resource.key"] = "\(id.key)"

        // 1. Observe.
        let desired = await source.object(id)
        var record = try store.resource(id.key)
        // This resource's pods, by the names recorded for it (the store indexes them by owner):
        // never a scan of every pod the driver runs.
        var pods: [PodStatus] = []
        for row in try store.pods(owner: id.key) {
            if let status = await driver.status(row.name) {
                pods.append(status)
            } else if ProcessInfoReader.stat(pid: row.pid).map({ $0.startTicks == row.processStartTicks && !$0.isZombie }) != true {
                // Stopped and forgotten by the driver, and its process is gone: so goes its record.
                _ = try store.deletePod(name: row.name)
            } else {
                // A record the driver does not know whose process lives (one it could not adopt):
                // kept, so the process is never forgotten.
                logger.warning("a recorded pod's process lives but the driver does not know it", metadata: ["pod.name": "\(row.name)", "pod.pid": "\(row.pid)"])
            }
        }
        if desired == nil, record == nil, pods.isEmpty { return .awaitChange }
        if desired == nil, await source.holdsDeletions {
            // Not listed yet, or the directory reads as empty within its grace: absence is not
            // deletion. Look again shortly.
            return .requeue(after: .seconds(1))
        }

        // The generation counts spec changes of valid versions, and survives restarts.
        if let desired, let resource = desired.resource, let specHash = desired.specHash {
            if var existing = record {
                // The spec hash says whether the spec changed; encode it only then.
                if existing.specHash != specHash || existing.file != desired.file {
                    if existing.specHash != specHash {
                        existing.generation += 1
                        existing.specHash = specHash
                    }
                    existing.spec = try ResourceRecord.json(resource.specJSON)
                    existing.file = desired.file
                    existing.updatedAt = now()
                    record = try store.upsert(existing)
                }
            } else {
                record = try store.upsert(ResourceRecord(id: id, generation: 1, specHash: specHash,
                                                         spec: try ResourceRecord.json(resource.specJSON), file: desired.file, createdAt: now()))
            }
        } else if let desired, record == nil {
            // Named but never valid: keep a record (generation 0) so get/describe can show why.
            record = try store.upsert(ResourceRecord(id: id, generation: 0, specHash: "", spec: "{}", file: desired.file, createdAt: now()))
        }

        var observation: FlinkObservation?
        if let flink {
            let source = self.source
            observation = try await flink.observe(id, desired: desired, record: record, pods: pods, layout: layout, store: store, now: now(),
                                              isDefined: { await source.object($0)?.resource != nil })
        }

        // 2. Plan.
        let previous = record.flatMap { try? Self.status(of: $0) }
        let input = PlanInput(
            id: id, resource: desired?.resource, isDefined: desired != nil, generation: record?.generation ?? 0,
            validationErrors: desired?.diagnostics.filter(\.isError).map(\.description) ?? [],
            pods: pods.map(Self.observed), conditions: previous?.conditions ?? [], flink: observation, now: now())
        let plan = planner.plan(input)

        // 3. Execute, recording each effect as it happens. A write-ahead plan commits its status
        // first (an upgrade is on record before anything stops).
        if plan.flinkStatus?.writeAhead == true, var ahead = record {
            try Self.setStatus(&ahead, kind: id.kind, plan: plan)
            ahead.updatedAt = now()
            record = try store.upsert(ahead)
        }
        for step in plan.steps {
            switch step {
            case .stopPod(let name, let reason):
                // Asked, not waited for: the pod's `.stopped` event wakes the resource once it is gone.
                let runtimeName = layout.runtimeName(of: id, pod: name)
                logger.info("stopping pod", metadata: ["pod.name": "\(runtimeName)", "reason": "\(reason)"])
                await driver.terminate(runtimeName)
            case .startPod(let podPlan):
                let spec = layout.spec(for: podPlan, of: id)
                do {
                    let directory = layout.directory(of: id, pod: podPlan.name)
                    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
                    for (path, content) in podPlan.files.sorted(by: { $0.key < $1.key }) {
                        let file = directory + "/" + path
                        try FileManager.default.createDirectory(atPath: (file as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
                        try Data(content.utf8).write(to: URL(fileURLWithPath: file), options: .atomic)
                    }
                    let started = try await driver.start(spec)
                    try store.savePod(try Self.row(for: started, owner: id.key))
                    logger.info("started pod", metadata: ["pod.name": "\(spec.name)", "pod.pid": "\(started.pid)"])
                } catch {
                    try recordEvent(Step.event(type: .warning, reason: "FailedStart", message: "pod \(podPlan.name): \(error)"), for: id)
                    throw error
                }
            case .event:
                try recordEvent(step, for: id)
            case .flink(let action):
                guard let flink else { continue }
                logger.info("flink action", metadata: ["action": "\(action)"])
                let outcome = try await flink.execute(action, logger: logger)
                for event in outcome.events {
                    try recordEvent(.event(type: event.warning ? .warning : .normal, reason: event.reason, message: event.message), for: id)
                }
                if outcome.refusedTrigger, var current = record {
                    try current.setStatus(StatusReducer.reduce(try current.typedStatus(), outcome: .snapshotTriggerRefused))
                    record = try store.upsert(current)
                }
            case .disposeSavepoints(let savepoints):
                // The plan's status, recorded ahead, no longer lists them.
                for savepoint in savepoints {
                    // Only Flinklet's own savepoints are deleted from disk; others only leave the history.
                    guard let path = FlinkBackend.localPath(savepoint.location), path.hasPrefix(layout.stateDirectory + "/"),
                          !path.contains("/../") else { continue }
                    try? FileManager.default.removeItem(atPath: path)
                }
                try recordEvent(.event(type: .normal, reason: "SavepointDisposed",
                                       message: "Disposed \(savepoints.count) savepoint(s) beyond the history's limits: \(savepoints.map(\.location).joined(separator: ", "))"), for: id)
            case .removeDirectories(let paths):
                for path in paths where FileManager.default.fileExists(atPath: path) {
                    do {
                        try FileManager.default.removeItem(atPath: path)
                    } catch {
                        logger.warning("cannot remove a directory", metadata: ["path": "\(path)", "error": "\(error)"])
                    }
                }
            case .leasePorts(let count):
                guard let flink else { continue }
                _ = try flink.leasePorts(owner: id.key, count: count, store: store)
            case .fetchArtifact(let uri, let directory):
                guard let flink else { continue }
                do {
                    _ = try await flink.artifacts.resolve(uri, artifactsDirectory: directory)
                } catch {
                    try recordEvent(.event(type: .warning, reason: "JarNotFound", message: "\(error)"), for: id)
                    throw error
                }
            case .admit(let gate, let holder, let force):
                guard let flink else { continue }
                if force {
                    await flink.gate(gate).hold(holder)
                } else if !(await flink.gate(gate).tryAcquire(holder)) {
                    // Taken since the plan saw it free: stop here; the next reconcile plans again.
                    logger.info("no free admission slot; planning again", metadata: ["gate": "\(gate.rawValue)"])
                    return .requeue(after: .seconds(1))
                }
            case .release(let gate, let holder):
                await flink?.gate(gate).release(holder)
            case .forget:
                for gate in AdmissionGate.allCases { await flink?.gate(gate).release(id.key) }
                _ = try store.deleteResource(id.key)
                try store.releasePorts(owner: id.key)
                logger.info("resource deleted")
                return .awaitChange
            }
        }

        // 4. Record the status the plan describes (a write only when it changed).
        if var record {
            let before = record.status
            try Self.setStatus(&record, kind: id.kind, plan: plan)
            if record.status != before {
                record.updatedAt = now()
                _ = try store.upsert(record)
            }
        }
        for other in plan.wake { await wake(other) }
        return plan.next
    }

    private func recordEvent(_ step: Step, for id: ResourceID) throws {
        guard case .event(let type, let reason, let message) = step else { return }
        _ = try store.recordEvent(EventRecord(key: id.key, type: type == .warning ? .warning : .normal, reason: reason,
                                              message: message, firstTimestamp: now()))
    }

    static func observed(_ pod: PodStatus) -> ObservedPod {
        let phase: ObservedPod.Phase = switch pod.phase {
        case .pending: .pending
        case .running: .running
        case .succeeded: .succeeded
        case .failed: .failed
        }
        return ObservedPod(name: String(pod.name.split(separator: "/", maxSplits: 1).last ?? Substring(pod.name)),
                           phase: phase, ready: pod.ready, planHash: pod.labels[PodLabels.planHash] ?? "",
                           restartCount: pod.restartCount, reason: pod.reason, exitCode: pod.exitCode, startedAt: pod.startedAt)
    }

    static func row(for record: PodRecord, owner: String) throws -> PodRecordRow {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return PodRecordRow(name: record.name, owner: owner, pid: record.pid, pgid: record.pgid,
                            processStartTicks: record.processStartTicks, specHash: record.spec.specHash,
                            spec: try encoder.encode(record), startedAt: record.startedAt)
    }

    /// The record's status, whatever its kind (nil when it has none yet).
    static func status(of record: ResourceRecord) throws -> (any ResourceStatus)? {
        try record.status.map { try JSONDecoder().decode(record.kind.statusType, from: Data($0.utf8)) }
    }

    /// Records the status `plan` describes (the reducer decides it; this only stores it).
    static func setStatus(_ record: inout ResourceRecord, kind: ResourceKind, plan: Plan) throws {
        try record.setStatus(StatusReducer.reduce(try record.typedStatus(), plan: plan))
        if let reconciliation = plan.flinkStatus?.reconciliation { record.lastReconciledSpec = reconciliation.lastReconciledSpec }
    }
}

extension FlinkResource {
    /// The spec as stored: the JSON `status.reconciliationStatus.lastReconciledSpec` uses too.
    var specJSON: AnySpec {
        switch self {
        case .deployment(let d): .deployment(d.spec)
        case .sessionJob(let j): .sessionJob(j.spec)
        }
    }
}

/// Either kind's spec, encoded as the spec itself.
enum AnySpec: Encodable {
    case deployment(FlinkDeploymentSpec)
    case sessionJob(FlinkSessionJobSpec)

    func encode(to encoder: any Encoder) throws {
        switch self {
        case .deployment(let spec): try spec.encode(to: encoder)
        case .sessionJob(let spec): try spec.encode(to: encoder)
        }
    }
}
