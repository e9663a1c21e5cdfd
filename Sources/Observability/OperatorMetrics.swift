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

    /// A resource's reconcile counts (upstream's `JOSDK_Reconciliation_*` per resource).
    ///
    /// Plain integers in this object's state, written into the exposition by
    /// `writeResourceSeries(into:)` at scrape time, not swift-metrics counters: a counter costs
    /// its wrapper, the exporter's object and a pre-encoded label set, several hundred bytes per
    /// series, and 1,000 resources have 2,000 to 4,000 series.
    public struct ReconcileCounts: Sendable, Equatable {
        public var started: UInt64 = 0
        public var finished: UInt64 = 0
        public var failed: UInt64 = 0
        public var retries: UInt64 = 0
        /// `failed` and `retries` are exported from a resource's first failure on (most
        /// resources never fail: two series per resource instead of four keeps a scrape of
        /// 1,000 resources half the size).
        public var hasFailed = false

        public init() {}
    }

    /// What is remembered of a resource between statuses.
    private struct Remembered {
        /// Which per-state gauges count the resource; nil until its first status.
        var counted: Classification?
        var tracker = LifecycleTracker()
        var savepointTrigger: String?
        var lastSavepoint: Savepoint?
        var checkpointTrigger: String?
        var lastCheckpoint: Checkpoint?
    }

    /// The states a status puts a resource in, for the per-state gauges. Enums and short
    /// strings only: remembered per resource (1,000 resources' gauge keys with their metric
    /// names as strings were ~0.4 MB).
    private struct Classification: Equatable {
        var lifecycle: ResourceLifecycleState?
        var jobState: String?
        var jobManager: JobManagerDeploymentStatus?

        init(_ status: AnyResourceStatus) {
            let common = status.common
            lifecycle = common.lifecycleState
            if let job = common.jobStatus?.state, !job.isEmpty, job.allSatisfy({ $0.isLetter || $0 == "_" }) { jobState = job }
            if case .deployment(let deployment) = status { jobManager = deployment.jobManagerDeploymentStatus }
        }

        /// The gauges that count a resource of `id`'s namespace and kind in these states.
        func gaugeKeys(_ id: ResourceID) -> [GaugeKey] {
            var families: [GaugeFamily] = [.resources]
            if let lifecycle { families.append(.lifecycleState(lifecycle)) }
            if let jobState { families.append(.jobStatus(jobState)) }
            if let jobManager { families.append(.jobManagerDeploymentStatus(jobManager)) }
            return families.map { GaugeKey(family: $0, namespace: id.namespace, kind: id.kind) }
        }
    }

    /// A per-namespace-and-kind gauge's metric.
    private enum GaugeFamily: Hashable {
        case resources
        case lifecycleState(ResourceLifecycleState)
        case jobStatus(String)
        case jobManagerDeploymentStatus(JobManagerDeploymentStatus)

        var name: String {
            switch self {
            case .resources: MetricNames.resources
            case .lifecycleState(let state): MetricNames.lifecycleStateCount(state.rawValue)
            case .jobStatus(let state): MetricNames.jobStatusCount(state)
            case .jobManagerDeploymentStatus(let status): MetricNames.jobManagerDeploymentStatusCount(status.rawValue)
            }
        }
    }

    private struct GaugeKey: Hashable {
        var family: GaugeFamily
        var namespace: String
        var kind: ResourceKind
    }

    private struct State {
        var counters: [ResourceID: ReconcileCounts] = [:]
        var timers: [String: CoreMetrics.Timer] = [:]
        var gauges: [GaugeKey: Gauge] = [:]
        var podPhaseGauges: [String: Gauge] = [:]
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
        state.withLock { state in
            state.counters[id, default: ReconcileCounts()].started += 1
            if isRetry {
                state.counters[id]!.retries += 1
                state.counters[id]!.hasFailed = true
            }
        }
    }

    /// A reconcile of `id` ended after `duration`.
    public func reconcileEnded(_ id: ResourceID, duration: Duration, result: ReconcileResult) {
        state.withLock { state in
            if result == .success {
                state.counters[id, default: ReconcileCounts()].finished += 1
            } else {
                state.counters[id, default: ReconcileCounts()].failed += 1
                state.counters[id]!.hasFailed = true
            }
        }
        timer(MetricNames.reconcileSeconds, Self.namespaceDimensions(id.namespace, id.kind) + [("result", result.rawValue)])
            .recordNanoseconds(Self.nanoseconds(duration))
    }

    /// The reconcile counts of `id`; nil before its first reconcile and after it is forgotten.
    public func reconcileCounts(_ id: ResourceID) -> ReconcileCounts? {
        state.withLock { $0.counters[id] }
    }

    /// Appends the per-resource reconcile series (Prometheus text format 0.0.4: one `# TYPE`
    /// line per family, then one sample per resource, resources in a stable order) to `buffer`.
    /// Call it after the registry's own exposition: these families are not in the registry.
    public func writeResourceSeries(into buffer: inout [UInt8]) {
        let counts = state.withLock { state in
            state.counters.sorted { ($0.key.kind.rawValue, $0.key.namespace, $0.key.name) < ($1.key.kind.rawValue, $1.key.namespace, $1.key.name) }
        }
        let families: [(String, KeyPath<ReconcileCounts, UInt64>, Bool)] = [
            (MetricNames.reconciliations, \.started, false),
            (MetricNames.reconciliationsFinished, \.finished, false),
            (MetricNames.reconciliationsFailed, \.failed, true),
            (MetricNames.reconciliationsRetries, \.retries, true),
        ]
        for (name, field, onlyFailed) in families {
            let rows = onlyFailed ? counts.filter { $0.value.hasFailed } : counts
            guard !rows.isEmpty else { continue }
            buffer.append(contentsOf: "# TYPE \(name) counter\n".utf8)
            for (id, value) in rows {
                buffer.append(contentsOf: name.utf8)
                buffer.append(contentsOf: #"{resourcens=""#.utf8)
                Self.appendLabelValue(id.namespace, to: &buffer)
                buffer.append(contentsOf: #"",resourcename=""#.utf8)
                Self.appendLabelValue(id.name, to: &buffer)
                buffer.append(contentsOf: #"",resourcetype=""#.utf8)
                Self.appendLabelValue(id.kind.rawValue, to: &buffer)
                buffer.append(contentsOf: "\"} \(value[keyPath: field])\n".utf8)
            }
        }
    }

    /// A label value escaped as the text format requires (`\\`, `\"`, `\n`).
    static func appendLabelValue(_ value: String, to buffer: inout [UInt8]) {
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "\\"): buffer.append(contentsOf: #"\\"#.utf8)
            case UInt8(ascii: "\""): buffer.append(contentsOf: #"\""#.utf8)
            case UInt8(ascii: "\n"): buffer.append(contentsOf: #"\n"#.utf8)
            default: buffer.append(byte)
            }
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
        let classification = Classification(status)
        let savepoint = common.jobStatus?.savepointInfo
        let checkpoint = common.jobStatus?.checkpointInfo
        var timings: [(String, Duration)] = []
        var snapshotEvents: [(SnapshotKind, SnapshotEvent)] = []
        state.withLock { state in
            let isNew = state.resources[id] == nil
            var remembered = state.resources[id] ?? Remembered()
            if remembered.counted != classification {
                let before = remembered.counted?.gaugeKeys(id) ?? []
                let after = classification.gaugeKeys(id)
                for key in before { state.counts[key, default: 0] -= 1 }
                for key in after { state.counts[key, default: 0] += 1 }
                for key in Set(before).union(after) {
                    gauge(key, in: &state).record(state.counts[key, default: 0])
                }
                remembered.counted = classification
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
        state.withLock { state in
            if let remembered = state.resources.removeValue(forKey: id) {
                for key in remembered.counted?.gaugeKeys(id) ?? [] {
                    state.counts[key, default: 0] -= 1
                    gauge(key, in: &state).record(state.counts[key, default: 0])
                }
            }
            state.counters[id] = nil
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
                if let existing = state.podPhaseGauges[phase] { return existing }
                let made = Gauge(label: MetricNames.podPhase, dimensions: [("phase", phase)], factory: factory)
                state.podPhaseGauges[phase] = made
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
        let made = Gauge(label: key.family.name, dimensions: Self.namespaceDimensions(key.namespace, key.kind), factory: factory)
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
