import FlinkResources
import Foundation
import Logging
import Manifests
import Reconciliation
import Runtime
import ServiceLifecycle
import Store

/// An operator, started: what it holds, and its long-running parts.
public struct OperatorRunning: Sendable {
    /// The state directory's lock: release it once the services have stopped.
    public let lock: OperatorLock
    /// In start order; a `ServiceGroup` stops them in reverse: the queue's timers, the
    /// workers (after their reconciles end), the feeds, the watcher, the pod supervision. Pods
    /// keep running. One that ends by itself (the closed queue's timers, say) shuts the
    /// group down gracefully.
    public let services: [ServiceGroupConfiguration.ServiceConfiguration]
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

    public init(configuration: Configuration, planner: Reconciler<Backend>.Planner, backend: Backend, logger: Logger,
                makeDriver: @escaping @Sendable (Logger) -> any ProcessDriver & RunnableDriver = { LocalProcessDriver(logger: $0) }) {
        var configuration = configuration
        // Pods run in their own directories: the paths they are given must be absolute.
        configuration.stateDirectory = URL(fileURLWithPath: configuration.stateDirectory).standardizedFileURL.path
        self.configuration = configuration
        self.planner = planner
        self.backend = backend
        self.logger = logger
        self.makeDriver = makeDriver
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
        do {
            let services = try await prepare().map { service in
                ServiceGroupConfiguration.ServiceConfiguration(service: service, successTerminationBehavior: .gracefullyShutdownGroup)
            }
            return Running(lock: lock, services: services)
        } catch {
            lock.release()
            throw error
        }
    }

    private func prepare() async throws -> [any Service] {
        let store = try Store.open(stateDirectory: configuration.stateDirectory)
        let driver = makeDriver(logger)

        // Adopt what an earlier run left running; forget what is gone.
        let rows = try store.pods()
        let records = rows.compactMap { try? JSONDecoder().decode(PodRecord.self, from: $0.spec) }
        let adopted = await driver.adopt(records)
        // A lost pod stays on record: its resource's planner sees it lost and decides (a Flink
        // JobManager's job is recovered under a new id with fresh TaskManagers, never started
        // again next to TaskManagers that registered with the first incarnation).
        logger.info("adopted pods", metadata: ["pods.adopted": "\(adopted.filter { $0.reason != PodStatus.Reason.lost }.count)",
                                               "pods.lost": "\(adopted.filter { $0.reason == PodStatus.Reason.lost }.count)"])

        var sourceConfiguration = DirectorySource.Configuration(directory: configuration.manifests)
        sourceConfiguration.recursive = configuration.recursive
        sourceConfiguration.resync = configuration.resync
        sourceConfiguration.state.emptyGrace = configuration.emptyGrace
        sourceConfiguration.state.allowEmpty = configuration.allowEmpty
        let stored = try store.resources()
        sourceConfiguration.state.knownBeforeFirstScan = stored.count
        let source = DirectorySource(configuration: sourceConfiguration, logger: logger)
        let queue = WorkQueue<ResourceID, ContinuousClock>(clock: ContinuousClock())
        let reconciler = Reconciler(source: source, store: store, driver: driver, planner: planner,
                                    layout: PodLayout(stateDirectory: configuration.stateDirectory), backend: backend, logger: logger,
                                    wake: { await queue.add($0) })

        // List the manifests before any reconcile, then reconcile every resource recorded by an
        // earlier run once (changed or deleted while we were down?). Until a listing succeeds,
        // or while the directory reads as empty within its grace, no absence counts as deletion.
        await source.relist()
        for record in stored { await queue.add(record.id) }

        let logger = self.logger
        let workers = ReconcileWorkers(count: configuration.workers, queue: queue, reconciler: reconciler,
                                       requeueInterval: configuration.requeueInterval, onReconcile: onReconcile, logger: logger)
        return [
            ServiceTask("pod-supervision") { try await cancelWhenGracefulShutdown { try await driver.run() } },
            ServiceTask("manifest-watch") { try await cancelWhenGracefulShutdown { try await source.run() } },
            ServiceTask("manifest-changes") {
                for await id in source.changes.cancelOnGracefulShutdown() { await queue.add(id) }
            },
            ServiceTask("pod-events") {
                for await event in driver.events.cancelOnGracefulShutdown() {
                    guard let owner = event.status.labels[PodLabels.owner], let id = ResourceID(key: owner) else { continue }
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
    let logger: Logger
    var description: String { "reconcile-workers" }

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
            do {
                let action = try await reconciler.reconcile(id)
                onReconcile?(id, ContinuousClock.now - began, true)
                switch action {
                case .requeue(let delay): await queue.addAfter(id, delay)
                case .awaitChange: await queue.addAfter(id, requeueInterval)
                }
                await queue.forget(id)
            } catch {
                onReconcile?(id, ContinuousClock.now - began, false)
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
