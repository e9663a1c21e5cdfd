import FlinkResources
import Foundation
import Logging
import Manifests
import Observability
import Reconciliation
import Runtime
import ServiceLifecycle
import Store

/// An operator, started: what it holds, and its long-running parts.
public struct OperatorRunning: Sendable {
    /// The state directory's lock: release it once the services have stopped.
    public let lock: OperatorLock
    /// The process driver the services supervise (for on-demand figures: pods by phase).
    public let driver: any ProcessDriver
    /// In start order; a `ServiceGroup` stops them in reverse: the queue's timers, the
    /// workers (after their reconciles end), the feeds, the watcher, the pod supervision. Pods
    /// keep running. One that ends by itself (the closed queue's timers, say) shuts the
    /// group down gracefully.
    public let services: [ServiceGroupConfiguration.ServiceConfiguration]
    /// The operator's Store (status, events, revisions), for readers in the same process.
    public let store: Store
    /// The manifest directory as the operator reads it.
    public let source: DirectorySource
}

/// What an operator watches and how it works.
public struct OperatorConfiguration: Sendable {
    public var manifests: String
    public var stateDirectory: String = StateDirectory.defaultPath
    public var recursive = false
    public var resync: Duration = .seconds(10)
    public var emptyGrace: Duration = .seconds(30)
    public var allowEmpty = false
    public var workers = 4
    /// Periodic requeue of every resource, as a safety net for missed wake-ups.
    public var requeueInterval: Duration = .seconds(60)

    public init(manifests: String) { self.manifests = manifests }
}

/// The operator: manifests in, pods out, status recorded — until cancelled. `Backend` is its
/// domain side (`FlinkBackend` for Flink clusters, `NoBackend` for the command engine).
///
/// Guarantees:
/// - One operator per state directory (the store's lock); a second fails at once.
/// - Pods outlive it: cancelling `run()` stops the workers and the watchers, never a pod. On
///   start, pods recorded by an earlier run are adopted (pid and process start time must match),
///   and every resource is reconciled once, so changes made while it was down are applied.
/// - Every key is reconciled by one worker at a time; manifest changes and pod events wake the
///   key at once, ahead of periodic requeues; failed reconciles retry with backoff.
public struct Operator<Backend: ReconcilerBackend>: Sendable {
    public typealias Configuration = OperatorConfiguration

    public let configuration: Configuration
    public let planner: Reconciler<Backend>.Planner
    /// The domain side (observation and its steps).
    public let backend: Backend
    public let logger: Logger
    /// Builds the process driver; tests and benchmarks pass their own.
    public let makeDriver: @Sendable (Logger) -> any ProcessDriver & RunnableDriver
    /// Called after every reconcile with its key, how long it took and how it ended (for
    /// measurements; it must return quickly).
    public var onReconcile: (@Sendable (ResourceID, Duration, Bool) -> Void)?
    /// Records reconciles, the work queue, statuses and pod events (nil: none).
    public var metrics: OperatorMetrics?
    /// Hears which services run, answers liveness probes, and tracks readiness (nil: none).
    public var health: OperatorHealth?

    /// `makeDriver` nil: a `LocalProcessDriver` with `driverConfiguration` that marks every pod
    /// with the state directory (its `marker` is always the operator's: a pod the driver starts
    /// unmarked could be orphaned by a lost database).
    public init(configuration: Configuration, planner: Reconciler<Backend>.Planner, backend: Backend, logger: Logger,
                driverConfiguration: LocalProcessDriver.Configuration = LocalProcessDriver.Configuration(),
                makeDriver: (@Sendable (Logger) -> any ProcessDriver & RunnableDriver)? = nil) {
        var configuration = configuration
        // Pods run in their own directories: the paths they are given must be absolute.
        configuration.stateDirectory = URL(fileURLWithPath: configuration.stateDirectory).standardizedFileURL.path
        self.configuration = configuration
        self.planner = planner
        self.backend = backend
        self.logger = logger
        var driverConfiguration = driverConfiguration
        driverConfiguration.marker = PodMarker(stateDirectory: configuration.stateDirectory)
        self.makeDriver = makeDriver ?? { [driverConfiguration] in LocalProcessDriver(configuration: driverConfiguration, logger: $0) }
    }

    /// Runs until cancelled (its own `ServiceGroup`; `services()` gives the parts to run in a
    /// group of the caller's, e.g. with signal handling).
    public func run() async throws {
        let running = try await start()
        defer { running.lock.release() }
        try await ServiceGroup(configuration: ServiceGroupConfiguration(services: running.services, logger: logger)).run()
    }

    public typealias Running = OperatorRunning

    /// Takes the state directory, adopts the pods an earlier run left, lists the manifests and
    /// queues every recorded resource; returns the services to run.
    public func start() async throws -> Running {
        let stateDirectory = StateDirectory(path: configuration.stateDirectory)
        let lock = try stateDirectory.lockForOperator()
        if let mode = lock.tightenedFrom {
            logger.notice("state directory was readable by other users: made private (chmod 700, state.db 600)",
                          metadata: ["state.directory": "\(configuration.stateDirectory)", "state.mode": "\(String(mode, radix: 8))"])
        }
        do {
            let (services, driver, store, source) = try await prepare()
            return Running(lock: lock, driver: driver, services: services.map { service in
                ServiceGroupConfiguration.ServiceConfiguration(service: service, successTerminationBehavior: .gracefullyShutdownGroup)
            }, store: store, source: source)
        } catch {
            lock.release()
            throw error
        }
    }

    private func prepare() async throws -> ([any Service], any ProcessDriver, Store, DirectorySource) {
        // Processes started under this state directory (marked in their environment) that the
        // state database does not know would be duplicated by the first reconcile: refuse.
        let marker = PodMarker(stateDirectory: configuration.stateDirectory)
        let store: Store
        do {
            store = try Store.open(stateDirectory: configuration.stateDirectory)
        } catch {
            let live = marker.scan()
            if !live.isEmpty { throw RecoveryNeeded(stateDirectory: marker.stateDirectory, manifests: configuration.manifests, processes: live, cause: "\(error)") }
            throw error
        }
        let driver = try await adoptRecordedPods(store: store, marker: marker)

        var sourceConfiguration = DirectorySource.Configuration(directory: configuration.manifests)
        sourceConfiguration.recursive = configuration.recursive
        sourceConfiguration.resync = configuration.resync
        sourceConfiguration.state.emptyGrace = configuration.emptyGrace
        sourceConfiguration.state.allowEmpty = configuration.allowEmpty
        sourceConfiguration.removalNotes = RemovalNotes.directory(stateDirectory: configuration.stateDirectory)
        // Their keys only: the records (specs, statuses) are read one at a time by reconciles.
        let stored = try store.resourceIDs()
        sourceConfiguration.state.knownBeforeFirstScan = stored.count
        // An invalid manifest read first keeps the version that ran (not "never valid").
        sourceConfiguration.state.lastValid = { [store] id in try store.resource(id.key)?.resource }
        let source = DirectorySource(configuration: sourceConfiguration, logger: logger)
        let metrics = self.metrics
        let health = self.health
        let queue = WorkQueue<ResourceID, ContinuousClock>(clock: ContinuousClock(), observer: metrics.map { metrics in
            WorkQueueObserver(added: { metrics.queueAdded() }, waited: { metrics.queueWaited($0) },
                              retried: { metrics.queueRetried() }, depth: { metrics.queueDepth($0) })
        })
        var reconciler = Reconciler(source: source, store: store, driver: driver, planner: planner,
                                    layout: PodLayout(stateDirectory: configuration.stateDirectory), backend: backend, logger: logger,
                                    wake: { await queue.add($0) })
        reconciler.metrics = metrics
        if let health {
            // Adopted above, before any service runs.
            health.addReadinessCheck("pods-adopted") { nil }
            health.addReadinessCheck("manifests-listed") {
                await source.hasListed ? nil : "the manifest directory has not been listed yet"
            }
            health.addProbe("work-queue") { _ = await queue.count }
            health.addProbe("pod-driver") { _ = await driver.records().count }
        }

        // List the manifests before any reconcile, then reconcile every resource recorded by an
        // earlier run once (changed or deleted while we were down?). Until a listing succeeds,
        // or while the directory reads as empty within its grace, no absence counts as deletion.
        await source.relist()
        for id in stored { await queue.add(id) }

        let logger = self.logger
        let workers = ReconcileWorkers(count: configuration.workers, queue: queue, reconciler: reconciler,
                                       requeueInterval: configuration.requeueInterval, onReconcile: onReconcile,
                                       metrics: metrics, health: health, logger: logger)
        let services: [any Service] = [
            ServiceTask("pod-supervision") { try await cancelWhenGracefulShutdown { try await driver.run() } },
            ServiceTask("manifest-watch") { try await cancelWhenGracefulShutdown { try await source.run() } },
            ServiceTask("manifest-changes") {
                for await id in source.changes.cancelOnGracefulShutdown() { await queue.add(id) }
            },
            ServiceTask("pod-events") {
                for await event in driver.events.cancelOnGracefulShutdown() {
                    guard let owner = event.status.labels[PodLabels.owner], let id = ResourceID(key: owner) else { continue }
                    switch event {
                    case .started(let status) where status.restartCount > 0:
                        metrics?.podRestarted(namespace: id.namespace, pod: status.name)
                    case .oomKilled(let status):
                        metrics?.podOOMKilled(namespace: id.namespace, pod: status.name)
                    default: break
                    }
                    if case .started(let status) = event, status.restartCount > 0 {
                        // A restart by the driver gives the pod a new process: record it, or a
                        // later operator would adopt the old pid (gone), call the pod lost and
                        // start a duplicate. (First starts are recorded by the reconciler.)
                        await Self.persistRecord(of: event.status.name, owner: owner, driver: driver, store: store, logger: logger)
                    }
                    await queue.add(id)
                }
            },
            workers,
            // Last, so stopped first: the queue's delayed keys matter no more once shutting down,
            // and its timers must not end by themselves when the workers close the queue.
            ServiceTask("work-queue-timers") { await cancelWhenGracefulShutdown { await queue.runTimers() } },
        ]
        guard let health else { return (services, driver, store, source) }
        return (services.map { HealthReportingService(service: $0, health: health) }, driver, store, source)
    }

    /// Makes the driver and adopts what an earlier run left running, forgetting what is gone;
    /// throws `RecoveryNeeded` (before making the driver) next to marked processes the Store
    /// does not know.
    ///
    /// A pod whose resource is on record but whose own record was not written yet (the operator
    /// died between a start, or a restart by the driver, and its record) is re-adopted from its
    /// spec file; any other unknown process stops the start. A record that cannot be decoded is
    /// healed from the spec file the same way; when that cannot be read either, the record
    /// stays, is not adopted, and its resource's reconciles fail (nothing is started next to
    /// its process) until `flinklet recover` or the process ends.
    ///
    /// A function of its own so that the rows and decoded records (about 1 MB for 1,000 pods)
    /// are released before the manifests are first read: held across that listing they raised
    /// the start's peak heap, which glibc's arenas keep resident afterwards. Each record is
    /// decoded once.
    private func adoptRecordedPods(store: Store, marker: PodMarker) async throws -> any ProcessDriver & RunnableDriver {
        var decoded = try Self.decodedPods(store.pods())
        var unknown: [MarkedProcess] = []
        var healed = false
        for orphan in ProcessRecovery.orphans(marker: marker, recorded: decoded.filter { (try? $0.record.get()) != nil }.map(\.row)) {
            guard let record = orphan.record, let owner = orphan.owner, try store.resource(owner) != nil else {
                if !RecoveryNeeded.unknown(orphan.processes, recorded: decoded.map(\.row)).isEmpty { unknown += orphan.processes }
                continue
            }
            try store.savePod(try PodRecords.row(for: record, owner: owner))
            healed = true
            logger.warning("re-adopting a pod the state database had not recorded yet", metadata: [
                "pod.name": "\(orphan.pod)", "pod.pid": "\(record.pid)", "resource.key": "\(owner)",
            ])
        }
        if !unknown.isEmpty {
            throw RecoveryNeeded(stateDirectory: marker.stateDirectory, manifests: configuration.manifests, processes: unknown,
                                 cause: decoded.isEmpty ? "the state database records no pod" : "the state database does not record them")
        }
        if healed { decoded = try Self.decodedPods(store.pods()) }
        let driver = makeDriver(logger)
        var records: [PodRecord] = []
        records.reserveCapacity(decoded.count)
        for (row, record) in decoded {
            switch record {
            case .success(let record):
                records.append(record)
            case .failure(let error):
                logger.error("a recorded pod cannot be decoded and is not adopted", metadata: [
                    "pod.name": "\(row.name)", "pod.pid": "\(row.pid)", "resource.key": "\(row.owner)", "error": "\(error)",
                ])
            }
        }
        decoded = []
        let adopted = await driver.adopt(records)
        // A lost pod stays on record: its resource's planner sees it lost and decides (a Flink
        // JobManager's job is recovered under a new id with fresh TaskManagers, never started
        // again next to TaskManagers that registered with the first incarnation).
        logger.info("adopted pods", metadata: ["pods.adopted": "\(adopted.filter { $0.reason != PodStatus.Reason.lost }.count)",
                                               "pods.lost": "\(adopted.filter { $0.reason == PodStatus.Reason.lost }.count)"])
        return driver
    }

    /// Each row with its record, or why it cannot be decoded.
    private static func decodedPods(_ rows: [PodRecordRow]) -> [(row: PodRecordRow, record: Result<PodRecord, any Error>)] {
        let decoder = JSONDecoder()
        return rows.map { row in (row, Result { try decoder.decode(PodRecord.self, from: row.spec) }) }
    }
}

/// Runs a service and tells `health` while it runs: a part that ended while the operator runs
/// fails `/healthz`.
struct HealthReportingService: Service, CustomStringConvertible {
    let service: any Service
    let health: OperatorHealth
    var description: String { "\(service)" }

    func run() async throws {
        health.serviceStarted(description)
        defer { health.serviceEnded(description) }
        try await service.run()
    }
}

/// A long-running part of the operator as a `Service`, named for the group's logs.
struct ServiceTask: Service, CustomStringConvertible {
    let description: String
    let body: @Sendable () async throws -> Void

    init(_ name: String, _ body: @escaping @Sendable () async throws -> Void) {
        self.description = name
        self.body = body
    }

    func run() async throws { try await body() }
}

/// The workers: each takes a key from the queue and reconciles it, one worker per key at a
/// time. On graceful shutdown the queue closes: every reconcile under way ends normally, then
/// the workers return.
struct ReconcileWorkers<Backend: ReconcilerBackend>: Service, CustomStringConvertible {
    let count: Int
    let queue: WorkQueue<ResourceID, ContinuousClock>
    let reconciler: Reconciler<Backend>
    let requeueInterval: Duration
    let onReconcile: (@Sendable (ResourceID, Duration, Bool) -> Void)?
    let metrics: OperatorMetrics?
    let health: OperatorHealth?
    let logger: Logger
    var description: String { "reconcile-workers" }

    /// Canaries are reconciled at least this often, so readiness (a successful reconcile of each
    /// within a minute) holds while they are healthy.
    static var canaryRequeue: Duration { .seconds(30) }

    func run() async throws {
        let queue = self.queue
        await withTaskGroup(of: Void.self) { closer in
            closer.addTask {
                // Graceful shutdown or cancellation closes the queue: the workers drain and return.
                try? await gracefulShutdown()
                await queue.shutDown()
            }
            await withTaskGroup(of: Void.self) { workers in
                for worker in 0..<count { workers.addTask { await work(worker) } }
            }
            closer.cancelAll()
        }
    }

    private func work(_ worker: Int) async {
        var logger = logger
        logger[metadataKey: "worker"] = "\(worker)"
        while let id = await queue.next() {
            let began = ContinuousClock.now
            if let metrics { metrics.reconcileStarted(id, isRetry: await queue.failureCount(id) > 0) }
            let isCanary = health == nil ? false : await reconciler.source.object(id)?.resource?.metadata.isCanary == true
            do {
                let action = try await reconciler.reconcile(id)
                let took = ContinuousClock.now - began
                onReconcile?(id, took, true)
                metrics?.reconcileEnded(id, duration: took, result: .success)
                health?.reconciled(id, isCanary: isCanary, succeeded: true)
                switch action {
                case .requeue(let delay): await queue.addAfter(id, isCanary ? min(delay, Self.canaryRequeue) : delay)
                case .awaitChange: await queue.addAfter(id, isCanary ? min(requeueInterval, Self.canaryRequeue) : requeueInterval)
                }
                await queue.forget(id)
            } catch {
                let took = ContinuousClock.now - began
                onReconcile?(id, took, false)
                metrics?.reconcileEnded(id, duration: took, result: .failed)
                health?.reconciled(id, isCanary: isCanary, succeeded: false)
                let delay = await queue.addRateLimited(id)
                logger.error("reconcile failed; retrying", metadata: [
                    "resource.key": "\(id.key)", "error": "\(error)", "retry.in": "\(delay)",
                ])
            }
            await queue.done(id)
        }
    }
}

extension Operator {
    static func persistRecord(of pod: String, owner: String, driver: any ProcessDriver, store: Store, logger: Logger) async {
        guard let record = await driver.records().first(where: { $0.name == pod }) else { return }
        do {
            try store.savePod(try PodRecords.row(for: record, owner: owner))
        } catch {
            logger.error("cannot record a restarted pod", metadata: ["pod.name": "\(pod)", "error": "\(error)"])
        }
    }
}

/// A driver with a supervision loop to run alongside the operator.
public protocol RunnableDriver: Sendable {
    func run() async throws
}

extension LocalProcessDriver: RunnableDriver {}

extension ResourceID {
    /// Parses a key written by `key`: `Kind/namespace/name`.
    public init?(key: String) {
        let parts = key.split(separator: "/", maxSplits: 2).map(String.init)
        guard parts.count == 3, let kind = ResourceKind(rawValue: parts[0]) else { return nil }
        self.init(kind: kind, namespace: parts[1], name: parts[2])
    }
}
