import CoreMetrics
import FlinkResources
import Foundation
import Runtime
import Synchronization

/// The operator's metrics (names: `MetricNames`), recorded through swift-metrics into the
/// factory given (the Prometheus exporter in `flinklet run`, an in-memory one in tests; never
/// the global bootstrap).
///
/// Contract:
/// - Every method returns at once: no I/O, no awaiting (it is called from reconciles and the
///   work queue); a lock guards the few dictionaries it keeps.
/// - Status-derived gauges (resources per lifecycle state, job state, JobManager deployment
///   status) and counters (savepoints and checkpoints triggered, completed, failed) come from
///   `statusRecorded`: the first status seen of a resource sets its baseline; later ones are
///   compared with the previous. `resourceForgotten` takes it out of every gauge.
/// - A metric name always has the same label names (Prometheus's exposition requires it).
public final class OperatorMetrics: Sendable {
    /// The result of one reconcile.
    public enum ReconcileResult: String, Sendable, CaseIterable {
        case success
        case failed
    }

    private let factory: any MetricsFactory
    private let state: Mutex<State>

    /// A resource's reconcile counters. `failed` and `retries` appear with the first failure
    /// (most resources never fail: two series per resource instead of four keeps a scrape of
    /// 1,000 resources half the size).
    private struct ResourceCounters {
        var started: Counter
        var finished: Counter
        var failed: Counter?
        var retries: Counter?
    }

    /// What is remembered of a resource between statuses.
    private struct Remembered {
        var gaugeKeys: [GaugeKey] = []
        var tracker = LifecycleTracker()
        var savepointTrigger: String?
        var lastSavepoint: Savepoint?
        var checkpointTrigger: String?
        var lastCheckpoint: Checkpoint?
    }

    private struct GaugeKey: Hashable {
        var name: String
        var namespace: String
        var kind: ResourceKind
    }

    private struct State {
        var counters: [ResourceID: ResourceCounters] = [:]
        var timers: [String: CoreMetrics.Timer] = [:]
        var gauges: [GaugeKey: Gauge] = [:]
        var counts: [GaugeKey: Int] = [:]
        var resources: [ResourceID: Remembered] = [:]
        var namespaceCounters: [String: Counter] = [:]
        var podCounters: [String: Counter] = [:]
    }

    private let queueDepth: Gauge
    private let queueWait: CoreMetrics.Timer
    private let queueRetries: Counter
    private let queueAdds: Counter

    public init(factory: any MetricsFactory) {
        self.factory = factory
        self.state = Mutex(State())
        let queue = [("name", "flinklet")]
        queueDepth = Gauge(label: MetricNames.workQueueDepth, dimensions: queue, factory: factory)
        queueWait = CoreMetrics.Timer(label: MetricNames.workQueueWaitSeconds, dimensions: queue, factory: factory)
        queueRetries = Counter(label: MetricNames.workQueueRetries, dimensions: queue, factory: factory)
        queueAdds = Counter(label: MetricNames.workQueueAdds, dimensions: queue, factory: factory)
        queueDepth.record(0)
    }

    static func resourceDimensions(_ id: ResourceID) -> [(String, String)] {
        [("resourcens", id.namespace), ("resourcename", id.name), ("resourcetype", id.kind.rawValue)]
    }

    static func namespaceDimensions(_ namespace: String, _ kind: ResourceKind) -> [(String, String)] {
        [("resourcens", namespace), ("resourcetype", kind.rawValue)]
    }

    // MARK: Reconciles

    /// A reconcile of `id` begins; `isRetry` when it follows a failed one.
    public func reconcileStarted(_ id: ResourceID, isRetry: Bool) {
        resourceCounters(id).started.increment()
        if isRetry { failureCounter(id, \.retries, MetricNames.reconciliationsRetries).increment() }
    }

    /// A reconcile of `id` ended after `duration`.
    public func reconcileEnded(_ id: ResourceID, duration: Duration, result: ReconcileResult) {
        if result == .success {
            resourceCounters(id).finished.increment()
        } else {
            failureCounter(id, \.failed, MetricNames.reconciliationsFailed).increment()
        }
        timer(MetricNames.reconcileSeconds, Self.namespaceDimensions(id.namespace, id.kind) + [("result", result.rawValue)])
            .recordNanoseconds(Self.nanoseconds(duration))
    }

    private func resourceCounters(_ id: ResourceID) -> ResourceCounters {
        state.withLock { state in
            if let existing = state.counters[id] { return existing }
            let dimensions = Self.resourceDimensions(id)
            let made = ResourceCounters(
                started: Counter(label: MetricNames.reconciliations, dimensions: dimensions, factory: factory),
                finished: Counter(label: MetricNames.reconciliationsFinished, dimensions: dimensions, factory: factory))
            state.counters[id] = made
            return made
        }
    }

    private func failureCounter(_ id: ResourceID, _ field: WritableKeyPath<ResourceCounters, Counter?>, _ name: String) -> Counter {
        _ = resourceCounters(id)
        return state.withLock { state in
            if let existing = state.counters[id]?[keyPath: field] { return existing }
            let made = Counter(label: name, dimensions: Self.resourceDimensions(id), factory: factory)
            state.counters[id]?[keyPath: field] = made
            return made
        }
    }

    // MARK: The work queue

    /// Keys waiting in the queue (not being reconciled, not waiting for a timer).
    public func queueDepth(_ depth: Int) { queueDepth.record(depth) }
    /// A key was handed to a worker after waiting `wait` in the queue.
    public func queueWaited(_ wait: Duration) { queueWait.recordNanoseconds(Self.nanoseconds(wait)) }
    /// A key was queued again with backoff after a failure.
    public func queueRetried() { queueRetries.increment() }
    /// A key was added to the queue.
    public func queueAdded() { queueAdds.increment() }

    // MARK: Statuses

    /// The status recorded for `id` at `now` (after a reconcile). Updates the per-state gauges,
    /// lifecycle timings and snapshot counters.
    public func statusRecorded(_ id: ResourceID, status: AnyResourceStatus, at now: Date) {
        let common = status.common
        var keys: [GaugeKey] = [GaugeKey(name: MetricNames.resources, namespace: id.namespace, kind: id.kind)]
        if let lifecycle = common.lifecycleState {
            keys.append(GaugeKey(name: MetricNames.lifecycleStateCount(lifecycle.rawValue), namespace: id.namespace, kind: id.kind))
        }
        if let job = common.jobStatus?.state, !job.isEmpty, job.allSatisfy({ $0.isLetter || $0 == "_" }) {
            keys.append(GaugeKey(name: MetricNames.jobStatusCount(job), namespace: id.namespace, kind: id.kind))
        }
        if case .deployment(let deployment) = status, let jm = deployment.jobManagerDeploymentStatus {
            keys.append(GaugeKey(name: MetricNames.jobManagerDeploymentStatusCount(jm.rawValue), namespace: id.namespace, kind: id.kind))
        }
        let savepoint = common.jobStatus?.savepointInfo
        let checkpoint = common.jobStatus?.checkpointInfo
        var timings: [(String, Duration)] = []
        var snapshotEvents: [(SnapshotKind, SnapshotEvent)] = []
        state.withLock { state in
            let isNew = state.resources[id] == nil
            var remembered = state.resources[id] ?? Remembered()
            if remembered.gaugeKeys != keys {
                for key in remembered.gaugeKeys { state.counts[key, default: 0] -= 1 }
                for key in keys { state.counts[key, default: 0] += 1 }
                for key in Set(remembered.gaugeKeys).union(keys) {
                    gauge(key, in: &state).record(state.counts[key, default: 0])
                }
                remembered.gaugeKeys = keys
            }
            if let lifecycle = common.lifecycleState {
                let update = remembered.tracker.update(lifecycle, at: now)
                for (transition, duration) in update.transitions {
                    timings.append((MetricNames.lifecycleTransitionSeconds(transition), duration))
                }
                for (left, duration) in update.stateTimes {
                    timings.append((MetricNames.lifecycleStateSeconds(left.rawValue), duration))
                }
            }
            if !isNew {
                snapshotEvents += Self.snapshotEvents(kind: .savepoint, previousTrigger: remembered.savepointTrigger, trigger: savepoint?.triggerId,
                                                      completed: remembered.lastSavepoint != savepoint?.lastSavepoint && savepoint?.lastSavepoint != nil)
                snapshotEvents += Self.snapshotEvents(kind: .checkpoint, previousTrigger: remembered.checkpointTrigger, trigger: checkpoint?.triggerId,
                                                      completed: remembered.lastCheckpoint != checkpoint?.lastCheckpoint && checkpoint?.lastCheckpoint != nil)
            }
            remembered.savepointTrigger = savepoint?.triggerId
            remembered.lastSavepoint = savepoint?.lastSavepoint
            remembered.checkpointTrigger = checkpoint?.triggerId
            remembered.lastCheckpoint = checkpoint?.lastCheckpoint
            state.resources[id] = remembered
        }
        let dimensions = Self.namespaceDimensions(id.namespace, id.kind)
        for (name, duration) in timings {
            timer(name, dimensions).recordNanoseconds(Self.nanoseconds(duration))
        }
        for (kind, event) in snapshotEvents {
            snapshotCounter(event, kind: kind, namespace: id.namespace, resourceKind: id.kind).increment()
        }
    }

    /// Savepoint/checkpoint events between two statuses: a new trigger id is a trigger; a new
    /// last snapshot is a completion; a trigger that went away with no new snapshot failed
    /// (or was abandoned, which counts as failed, as upstream's ABANDONED snapshots do).
    static func snapshotEvents(kind: SnapshotKind, previousTrigger: String?, trigger: String?, completed: Bool) -> [(SnapshotKind, SnapshotEvent)] {
        var events: [(SnapshotKind, SnapshotEvent)] = []
        if let trigger, !trigger.isEmpty, trigger != previousTrigger { events.append((kind, .triggered)) }
        if completed {
            events.append((kind, .completed))
        } else if let previousTrigger, !previousTrigger.isEmpty, trigger != previousTrigger {
            events.append((kind, .failed))
        }
        return events
    }

    /// `id` is gone (deleted and forgotten): it leaves every gauge; its counters are dropped.
    public func resourceForgotten(_ id: ResourceID) {
        let dropped: ResourceCounters? = state.withLock { state in
            if let remembered = state.resources.removeValue(forKey: id) {
                for key in remembered.gaugeKeys {
                    state.counts[key, default: 0] -= 1
                    gauge(key, in: &state).record(state.counts[key, default: 0])
                }
            }
            return state.counters.removeValue(forKey: id)
        }
        if let dropped {
            for counter in [dropped.started, dropped.finished, dropped.failed, dropped.retries].compactMap({ $0 }) { counter.destroy() }
        }
    }

    // MARK: Pods

    /// A pod's process was restarted by the driver (`restartCount` > 0 after a start).
    public func podRestarted(namespace: String, pod: String) {
        podCounter(MetricNames.podRestarts, namespace: namespace, pod: pod).increment()
    }

    /// A pod was killed for exceeding its memory limit.
    public func podOOMKilled(namespace: String, pod: String) {
        podCounter(MetricNames.podOOMKills, namespace: namespace, pod: pod).increment()
    }

    /// Pods by phase right now (every phase is written, zeros included).
    public func podPhases(_ counts: [String: Int]) {
        for phase in ["Pending", "Running", "Succeeded", "Failed", "Unknown"] {
            let gauge = state.withLock { state in
                let key = GaugeKey(name: MetricNames.podPhase + "/" + phase, namespace: "", kind: .flinkDeployment)
                if let existing = state.gauges[key] { return existing }
                let made = Gauge(label: MetricNames.podPhase, dimensions: [("phase", phase)], factory: factory)
                state.gauges[key] = made
                return made
            }
            gauge.record(counts[phase, default: 0])
        }
    }

    private let usageGauges = Mutex<[String: (cpu: Gauge, memory: Gauge)]>([:])

    /// The pods the driver runs now: their count per phase and, for each pod the driver samples
    /// (those with a memory limit: every Flink JVM), CPU seconds and resident memory. Series of
    /// pods that are gone are removed. Called before each scrape.
    public func podsSampled(_ pods: [PodStatus]) {
        podPhases(Dictionary(grouping: pods, by: \.phase.rawValue).mapValues(\.count))
        var live: [String: (namespace: String, pod: String, cpu: Double, memory: Int64)] = [:]
        for status in pods {
            guard let cpu = status.cpuSeconds, let memory = status.residentBytes else { continue }
            let parts = status.name.split(separator: "/", maxSplits: 1).map(String.init)
            let (namespace, pod) = parts.count == 2 ? (parts[0], parts[1]) : ("", status.name)
            live[status.name] = (namespace, pod, cpu, memory)
        }
        let factory = self.factory
        let (current, gone) = usageGauges.withLock { gauges in
            var gone: [(cpu: Gauge, memory: Gauge)] = []
            for name in gauges.keys where live[name] == nil { gone.append(gauges.removeValue(forKey: name)!) }
            for (name, sample) in live where gauges[name] == nil {
                let labels = [("namespace", sample.namespace), ("pod", sample.pod)]
                gauges[name] = (Gauge(label: MetricNames.podCPUSeconds, dimensions: labels, factory: factory),
                                Gauge(label: MetricNames.podMemoryWorkingSet, dimensions: labels, factory: factory))
            }
            return (gauges, gone)
        }
        for (name, sample) in live {
            current[name]?.cpu.record(sample.cpu)
            current[name]?.memory.record(sample.memory)
        }
        for gauges in gone {
            gauges.cpu.destroy()
            gauges.memory.destroy()
        }
    }

    // MARK: The operator process

    private let processGauges = Mutex<[String: Gauge]>([:])

    /// Samples this process (`/proc/self`): CPU seconds, resident memory, open and maximum
    /// descriptors, start time. Called before each scrape.
    public func sampleProcess() {
        guard let sample = ProcessSample.current() else { return }
        let values: [(String, Double)] = [
            (MetricNames.processCPUSeconds, sample.cpuSeconds),
            (MetricNames.processResidentMemory, Double(sample.residentBytes)),
            (MetricNames.processOpenFDs, Double(sample.openDescriptors)),
            (MetricNames.processMaxFDs, Double(sample.maxDescriptors)),
            (MetricNames.processStartTime, sample.startTime),
        ]
        for (name, value) in values {
            let gauge = processGauges.withLock { gauges in
                if let existing = gauges[name] { return existing }
                let made = Gauge(label: name, dimensions: [], factory: factory)
                gauges[name] = made
                return made
            }
            gauge.record(value)
        }
    }

    // MARK: Helpers

    private func gauge(_ key: GaugeKey, in state: inout State) -> Gauge {
        if let existing = state.gauges[key] { return existing }
        let made = Gauge(label: key.name, dimensions: Self.namespaceDimensions(key.namespace, key.kind), factory: factory)
        state.gauges[key] = made
        return made
    }

    private func timer(_ name: String, _ dimensions: [(String, String)]) -> CoreMetrics.Timer {
        let key = name + "|" + dimensions.map { "\($0.0)=\($0.1)" }.joined(separator: ",")
        return state.withLock { state in
            if let existing = state.timers[key] { return existing }
            let made = CoreMetrics.Timer(label: name, dimensions: dimensions, factory: factory)
            state.timers[key] = made
            return made
        }
    }

    private func snapshotCounter(_ event: SnapshotEvent, kind: SnapshotKind, namespace: String, resourceKind: ResourceKind) -> Counter {
        let key = "\(event.rawValue)|\(kind.rawValue)|\(namespace)|\(resourceKind.rawValue)"
        return state.withLock { state in
            if let existing = state.namespaceCounters[key] { return existing }
            let made = Counter(label: MetricNames.snapshots(event),
                               dimensions: Self.namespaceDimensions(namespace, resourceKind) + [("snapshot", kind.rawValue)], factory: factory)
            state.namespaceCounters[key] = made
            return made
        }
    }

    private func podCounter(_ name: String, namespace: String, pod: String) -> Counter {
        let key = name + "|" + namespace + "|" + pod
        return state.withLock { state in
            if let existing = state.podCounters[key] { return existing }
            let made = Counter(label: name, dimensions: [("namespace", namespace), ("pod", pod)], factory: factory)
            state.podCounters[key] = made
            return made
        }
    }

    static func nanoseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
