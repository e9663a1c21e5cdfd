import FlinkResources
import Foundation
import Logging
import Manifests
import Observability
import Reconciliation
import Runtime
import Store

/// Reconciles one resource: observe → plan → execute → record (architecture.md).
///
/// Guarantees: level-based — it never asks why it runs, so running it again is always safe;
/// it never runs two reconciles of one key at once (the work queue sees to that); each step's
/// effect is persisted (pod records, events) as soon as it happens, so an operator that dies
/// mid-way resumes from what is recorded. A failed step ends the reconcile with an error, and
/// the queue retries with backoff.
public struct Reconciler<Backend: ReconcilerBackend>: Sendable {
    public typealias Planner = any ResourcePlanner<Backend.Observation, Backend.Action, Backend.Status>
    public let source: DirectorySource
    public let store: Store
    public let driver: any ProcessDriver
    public let planner: Planner
    public let layout: PodLayout
    /// The domain side (observation and its steps).
    public let backend: Backend
    public let logger: Logger
    public let now: @Sendable () -> Date
    /// Queues another resource for a reconcile (a plan's `wake`, after its status is recorded).
    public let wake: @Sendable (ResourceID) async -> Void
    /// Hears every status recorded and every resource forgotten (nil: no metrics).
    public var metrics: OperatorMetrics?

    public init(source: DirectorySource, store: Store, driver: any ProcessDriver, planner: Planner,
                layout: PodLayout, backend: Backend, logger: Logger, now: @escaping @Sendable () -> Date = { Date() },
                wake: @escaping @Sendable (ResourceID) async -> Void = { _ in }) {
        self.source = source
        self.store = store
        self.driver = driver
        self.planner = planner
        self.layout = layout
        self.backend = backend
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
        var unknown: [PodRecordRow] = []
        for row in try store.pods(owner: id.key) {
            if let status = await driver.status(row.name) {
                pods.append(status)
            } else if ProcessInfoReader.stat(pid: row.pid).map({ $0.startTicks == row.processStartTicks && !$0.isZombie }) != true {
                // Stopped and forgotten by the driver, and its process is gone: so goes its record.
                _ = try store.deletePod(name: row.name)
            } else {
                // A record the driver does not know whose process lives (one it could not adopt):
                // kept, so the process is never forgotten.
                unknown.append(row)
            }
        }
        if !unknown.isEmpty {
            // Planning without it would see the pod missing and start a second one next to it.
            throw UnknownLivePods(key: id.key, pods: unknown.map { ($0.name, $0.pid) })
        }
        if desired == nil, record == nil, pods.isEmpty { return .awaitChange }
        if desired == nil, await source.holdsDeletions {
            // Not listed yet, or the directory reads as empty within its grace: absence is not
            // deletion. Look again shortly.
            return .requeue(after: .seconds(1))
        }

        // The generation counts spec changes of valid versions, and survives restarts.
        if let desired, let resource = desired.resource, let specHash = desired.specHash {
            let metadata = ResourceMetadata(labels: resource.metadata.labels, annotations: resource.metadata.annotations)
            if var existing = record {
                // The spec hash says whether the spec changed; encode it only then.
                if existing.specHash != specHash || existing.file != desired.file || existing.resourceMetadata != metadata
                    || existing.metadata == nil || existing.deletedAt != nil {
                    if existing.specHash != specHash {
                        existing.generation += 1
                        existing.specHash = specHash
                        existing.spec = try ResourceRecord.json(resource.specJSON)
                    }
                    existing.file = desired.file
                    try existing.setMetadata(metadata)
                    existing.deletedAt = nil
                    existing.updatedAt = now()
                    record = try store.upsert(existing)
                }
            } else {
                var created = try ResourceRecord.firstSeen(id: id, resource: resource, specHash: specHash, file: desired.file, now: now())
                try created.setMetadata(metadata)
                record = try store.upsert(created)
            }
        } else if let desired, record == nil {
            // Named but never valid: keep a record (generation 0) so get/describe can show why.
            record = try store.upsert(ResourceRecord(id: id, generation: 0, specHash: "", spec: "{}", file: desired.file, createdAt: now()))
        } else if desired == nil, var existing = record, existing.deletedAt == nil {
            // Its manifest is gone: the resource is being deleted until it is torn down and forgotten.
            existing.deletedAt = now()
            existing.updatedAt = now()
            record = try store.upsert(existing)
        }

        let source = self.source
        let observation = try await backend.observe(ObservationContext(
            id: id, desired: desired, record: record, pods: pods, layout: layout, store: store, now: now(),
            isDefined: { await source.object($0)?.resource != nil }))

        // 2. Plan.
        let previous = try record.flatMap { try PodRecords.status(of: $0) }
        let input = PlanInputOf<Backend.Observation>(
            id: id, uid: record?.uid ?? "", resource: desired?.resource, isDefined: desired != nil, generation: record?.generation ?? 0,
            validationErrors: desired?.diagnostics.filter(\.isError).map(\.description) ?? [],
            pods: pods.map(PodRecords.observed), conditions: previous?.conditions ?? [], domain: observation, now: now())
        let plan = planner.plan(input)

        // 3. Execute, recording each effect as it happens. A write-ahead plan commits its status
        // first (an upgrade is on record before anything stops).
        if plan.writeAhead, var ahead = record {
            try Self.setStatus(&ahead, plan: plan)
            ahead.updatedAt = now()
            record = try store.upsert(ahead)
        }
        // Outcomes of this plan's steps, folded over its status again when it is recorded last.
        var outcomes: [Backend.Outcome] = []
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
                    // The pod's own files (a rendered configuration may hold a keystore's
                    // password) are this user's alone, whatever the process's umask.
                    let privateDirectory: [FileAttributeKey: Any] = [.posixPermissions: 0o700]
                    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: privateDirectory)
                    for (path, content) in podPlan.files.sorted(by: { $0.key < $1.key }) {
                        let file = directory + "/" + path
                        try FileManager.default.createDirectory(atPath: (file as NSString).deletingLastPathComponent, withIntermediateDirectories: true,
                                                                attributes: privateDirectory)
                        try Data(content.utf8).write(to: URL(fileURLWithPath: file), options: .atomic)
                        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: file)
                    }
                    let started = try await driver.start(spec)
                    try store.savePod(try PodRecords.row(for: started, owner: id.key))
                    logger.info("started pod", metadata: ["pod.name": "\(spec.name)", "pod.pid": "\(started.pid)"])
                } catch {
                    // The start's error is the one to report, also when the event cannot be
                    // recorded (a full disk fails both).
                    do {
                        try recordEvent(type: .warning, reason: "FailedStart", message: "pod \(podPlan.name): \(error)", for: id)
                    } catch let eventError {
                        logger.error("cannot record an event", metadata: ["event.reason": "FailedStart", "error": "\(eventError)"])
                    }
                    throw error
                }
            case .event(let type, let reason, let message):
                try recordEvent(type: type, reason: reason, message: message, for: id)
            case .domain(let action):
                logger.info("action", metadata: ["action": "\(action)"])
                let result = try await backend.execute(action, for: id, logger: logger)
                for event in result.events {
                    try recordEvent(type: event.type, reason: event.reason, message: event.message, for: id)
                }
                if let outcome = result.outcome, var current = record {
                    outcomes.append(outcome)
                    try current.setStatus(backend.reduce(try current.typedStatus(), outcome: outcome))
                    record = try store.upsert(current)
                }
                if let error = result.error { throw error }
            case .removeDirectories(let paths):
                for path in paths where FileManager.default.fileExists(atPath: path) {
                    do {
                        try FileManager.default.removeItem(atPath: path)
                    } catch {
                        logger.warning("cannot remove a directory", metadata: ["path": "\(path)", "error": "\(error)"])
                    }
                }
            case .leasePorts(let count):
                try backend.leasePorts(owner: id.key, count: count, store: store)
            case .admit(let gate, let holder, let force):
                guard let slots = backend.gate(gate) else { continue }
                if force {
                    await slots.hold(holder)
                } else if !(await slots.tryAcquire(holder)) {
                    // Taken since the plan saw it free: stop here; the next reconcile plans again.
                    logger.info("no free admission slot; planning again", metadata: ["gate": "\(gate)"])
                    return .requeue(after: .seconds(1))
                }
            case .release(let gate, let holder):
                await backend.gate(gate)?.release(holder)
            case .forget:
                for gate in backend.gates { await backend.gate(gate)?.release(id.key) }
                _ = try store.deleteResource(id.key)
                try store.releasePorts(owner: id.key)
                metrics?.resourceForgotten(id)
                logger.info("resource deleted")
                return .awaitChange
            }
        }

        // 4. Record the status the plan describes (a write only when it changed).
        if var record {
            let before = record.status
            var status = try Self.setStatus(&record, plan: plan)
            // What the steps did (a refused request, say) is newer than what the plan foresaw.
            if !outcomes.isEmpty {
                for outcome in outcomes { status = backend.reduce(status, outcome: outcome) }
                try record.setStatus(status)
            }
            if record.status != before {
                record.updatedAt = now()
                _ = try store.upsert(record)
            }
            metrics?.statusRecorded(id, status: status, at: now())
        }
        for other in plan.wake { await wake(other) }
        return plan.next
    }

    private func recordEvent(type: EventKind, reason: String, message: String, for id: ResourceID) throws {
        _ = try store.recordEvent(EventRecord(key: id.key, type: type == .warning ? .warning : .normal, reason: reason,
                                              message: message, firstTimestamp: now()))
    }

    /// Records the status `plan` describes (the reducer decides it; this only stores it).
    @discardableResult
    static func setStatus(_ record: inout ResourceRecord, plan: ResourcePlan<Backend.Action, Backend.Status>) throws -> AnyResourceStatus {
        let status = StatusReducer.reduce(try record.typedStatus(), plan: plan)
        try record.setStatus(status)
        if let spec = status.common.reconciliationStatus?.lastReconciledSpec { record.lastReconciledSpec = spec }
        return status
    }
}

/// A reconcile's refusal: pods recorded for the resource whose processes live, but which the
/// driver does not supervise (their records could not be adopted). Nothing is planned for the
/// resource until they are adopted (`flinklet recover`) or gone.
public struct UnknownLivePods: Error, Sendable, CustomStringConvertible {
    public var key: String
    public var pods: [(name: String, pid: Int32)]

    public var description: String {
        let list = pods.map { "\($0.name) (pid \($0.pid))" }.joined(separator: ", ")
        return "\(key): recorded pods \(list) are alive but not supervised (their records could not be adopted); "
            + "nothing is started or stopped for this resource until they are: run `flinklet recover` or stop them"
    }
}

extension ResourceRecord {
    /// The record a reconcile creates for a valid resource it sees for the first time
    /// (generation 1, no status yet).
    public static func firstSeen(id: ResourceID, resource: FlinkResource, specHash: String, file: String?, now: Date) throws -> ResourceRecord {
        ResourceRecord(id: id, generation: 1, specHash: specHash, spec: try ResourceRecord.json(resource.specJSON), file: file, createdAt: now)
    }
}

extension FlinkResource {
    /// The spec as stored: the JSON `status.reconciliationStatus.lastReconciledSpec` uses too.
    var specJSON: AnySpec {
        switch self {
        case .deployment(let d): .deployment(d.spec)
        case .sessionJob(let j): .sessionJob(j.spec)
        case .snapshot(let s): .snapshot(s.spec)
        }
    }
}

/// Either kind's spec, encoded as the spec itself.
enum AnySpec: Encodable {
    case deployment(FlinkDeploymentSpec)
    case sessionJob(FlinkSessionJobSpec)
    case snapshot(FlinkStateSnapshotSpec)

    func encode(to encoder: any Encoder) throws {
        switch self {
        case .deployment(let spec): try spec.encode(to: encoder)
        case .sessionJob(let spec): try spec.encode(to: encoder)
        case .snapshot(let spec): try spec.encode(to: encoder)
        }
    }
}
