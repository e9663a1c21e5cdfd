import FlinkResources
import Foundation
import Logging
import Manifests
import Planning
import Runtime
import Store

/// The operator: manifests in, pods out, status recorded — until cancelled.
///
/// Guarantees:
/// - One operator per state directory (the store's lock); a second fails at once.
/// - Pods outlive it: cancelling `run()` stops the workers and the watchers, never a pod. On
///   start, pods recorded by an earlier run are adopted (pid and process start time must match),
///   and every resource is reconciled once, so changes made while it was down are applied.
/// - Every key is reconciled by one worker at a time; manifest changes and pod events wake the
///   key at once, ahead of periodic requeues; failed reconciles retry with backoff.
public struct Operator: Sendable {
    public struct Configuration: Sendable {
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

    public let configuration: Configuration
    public let planner: any ResourcePlanner
    /// The Flink side (REST, jars, distribution); nil when the planner runs plain pods.
    public let flink: FlinkBackend?
    public let logger: Logger
    /// Builds the process driver; tests and benchmarks pass their own.
    public let makeDriver: @Sendable (Logger) -> any ProcessDriver & RunnableDriver
    /// Called after every reconcile with its key, how long it took and how it ended (for
    /// measurements; it must return quickly).
    public var onReconcile: (@Sendable (ResourceID, Duration, Bool) -> Void)?

    public init(configuration: Configuration, planner: any ResourcePlanner, flink: FlinkBackend? = nil, logger: Logger,
                makeDriver: @escaping @Sendable (Logger) -> any ProcessDriver & RunnableDriver = { LocalProcessDriver(logger: $0) }) {
        var configuration = configuration
        // Pods run in their own directories: the paths they are given must be absolute.
        configuration.stateDirectory = URL(fileURLWithPath: configuration.stateDirectory).standardizedFileURL.path
        self.configuration = configuration
        self.planner = planner
        self.flink = flink
        self.logger = logger
        self.makeDriver = makeDriver
    }

    public func run() async throws {
        let stateDirectory = StateDirectory(path: configuration.stateDirectory)
        let lock = try stateDirectory.lockForOperator()
        defer { lock.release() }
        let store = try Store.open(stateDirectory: configuration.stateDirectory)
        let driver = makeDriver(logger)

        // Adopt what an earlier run left running; forget what is gone.
        let rows = try store.pods()
        let records = rows.compactMap { try? JSONDecoder().decode(PodRecord.self, from: $0.spec) }
        let adopted = await driver.adopt(records)
        // A lost JobManager stays on record, so its resource sees it lost (and recovers its job
        // under a new id, with fresh TaskManagers) instead of starting a second incarnation of
        // the same job next to TaskManagers that registered with the first. Other lost pods are
        // forgotten and started again as missing.
        for status in adopted where status.reason == PodStatus.Reason.lost && status.labels[PodLabels.role] != "jobmanager" {
            _ = try store.deletePod(name: status.name)
        }
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
                                    layout: PodLayout(stateDirectory: configuration.stateDirectory), flink: flink, logger: logger,
                                    wake: { await queue.add($0) })

        // List the manifests before any reconcile, then reconcile every resource recorded by an
        // earlier run once (changed or deleted while we were down?). Until a listing succeeds,
        // or while the directory reads as empty within its grace, no absence counts as deletion.
        await source.relist()
        for record in stored { await queue.add(record.id) }

        let workers = configuration.workers
        let requeueInterval = configuration.requeueInterval
        let logger = self.logger
        let onReconcile = self.onReconcile
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await driver.run() }
            group.addTask { try await source.run() }
            group.addTask { await queue.runTimers() }
            group.addTask {
                // Cancellation (SIGINT/SIGTERM) becomes a queue shutdown, which releases the workers.
                while !Task.isCancelled { try? await Task.sleep(for: .seconds(3600)) }
                await queue.shutDown()
            }
            group.addTask {
                for await id in source.changes { await queue.add(id) }
            }
            group.addTask {
                for await event in driver.events {
                    guard let owner = event.status.labels[PodLabels.owner], let id = ResourceID(key: owner) else { continue }
                    if case .started(let status) = event, status.restartCount > 0 {
                        // A restart by the driver gives the pod a new process: record it, or a
                        // later operator would adopt the old pid (gone), call the pod lost and
                        // start a duplicate. (First starts are recorded by the reconciler.)
                        await Self.persistRecord(of: event.status.name, owner: owner, driver: driver, store: store, logger: logger)
                    }
                    await queue.add(id)
                }
            }
            for worker in 0..<workers {
                group.addTask {
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
            // Runs until cancelled (SIGINT/SIGTERM): then everything stops, pods keep running.
            do {
                try await group.next()
            } catch {
                await queue.shutDown()
                throw error
            }
            await queue.shutDown()
            group.cancelAll()
        }
    }
}

extension Operator {
    static func persistRecord(of pod: String, owner: String, driver: any ProcessDriver, store: Store, logger: Logger) async {
        guard let record = await driver.records().first(where: { $0.name == pod }) else { return }
        do {
            try store.savePod(try Reconciler.row(for: record, owner: owner))
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
