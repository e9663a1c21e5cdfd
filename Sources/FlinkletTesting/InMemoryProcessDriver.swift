import Foundation
import Runtime

/// A `ProcessDriver` whose pods are state only: no process is spawned, nothing is signalled.
///
/// It follows `LocalProcessDriver`'s contract (the `start` decision table, phases, reasons,
/// restart policy and backoff, events) so a controller tested against it behaves the same
/// against the real one. Time is the injected clock: a restart scheduled by `simulateExit` or
/// `simulateOOM` happens when `supervise()` runs at or after `nextRestartAt`.
///
/// Test controls: `simulateExit`, `simulateSignal`, `simulateOOM`, `setReady`,
/// `failStart`, `loseOnAdoption`, `holdTerminations`/`finishTerminations`; every call is
/// recorded in `calls`.
public actor InMemoryProcessDriver: ProcessDriver {
    /// A call made to the driver through the `ProcessDriver` protocol.
    public enum Call: Sendable, Hashable {
        case start(name: String, specHash: String)
        case stop(name: String, grace: Duration?)
        case terminate(name: String)
        case adopt(names: [String])
    }

    public nonisolated let events: AsyncStream<PodEvent>
    private let continuation: AsyncStream<PodEvent>.Continuation
    private let clock: any RuntimeClock
    private let backoff: RestartBackoff

    public private(set) var calls: [Call] = []
    private var table: [String: FakePod] = [:]
    private var startFailures: [String: any Error] = [:]
    private var lostOnAdoption: Set<String> = []
    private var holdingTerminations = false
    private var nextPID: Int32 = 10_000
    private var nextTicks: UInt64 = 1_000

    public init(clock: any RuntimeClock = ManualClock(), backoff: RestartBackoff = .standard) {
        self.clock = clock
        self.backoff = backoff
        (events, continuation) = AsyncStream.makeStream(of: PodEvent.self, bufferingPolicy: .bufferingNewest(1024))
    }

    deinit {
        continuation.finish()
    }

    // MARK: ProcessDriver

    public func start(_ spec: PodSpec) async throws -> PodRecord {
        let hash = spec.specHash
        calls.append(.start(name: spec.name, specHash: hash))
        if let error = startFailures[spec.name] { throw error }
        try spec.validate()
        if let existing = table[spec.name], existing.status.reason == PodStatus.Reason.terminating {
            throw DriverError.podTerminating(name: spec.name)
        }
        if let existing = table[spec.name] {
            switch existing.status.phase {
            case .running:
                guard existing.specHash == hash, let record = existing.record else {
                    throw DriverError.podExists(name: spec.name, runningSpecHash: existing.specHash)
                }
                return record
            case .pending:
                if existing.specHash == hash, let record = existing.record { return record }
            case .succeeded, .failed:
                break
            }
        }
        var pod = FakePod(spec: spec, specHash: hash)
        launch(&pod)
        table[spec.name] = pod
        announceStart(pod)
        return pod.record!
    }

    public func stop(_ name: String, grace: Duration?) async {
        calls.append(.stop(name: name, grace: grace))
        table[name] = nil
    }

    /// Stops at once, as `stop` does (no process to wait for), and sends `.stopped`. While
    /// terminations are held, a running pod stays `Terminating` (not ready) until
    /// `finishTerminations()`, as a real process does during its grace period.
    public func terminate(_ name: String) async {
        calls.append(.terminate(name: name))
        guard let pod = table[name], pod.status.reason != PodStatus.Reason.terminating else { return }
        if holdingTerminations, pod.status.phase == .running {
            table[name]?.status.reason = PodStatus.Reason.terminating
            table[name]?.status.ready = false
            return
        }
        table[name] = nil
        continuation.yield(.stopped(pod.status))
    }

    public func status(_ name: String) -> PodStatus? { table[name]?.status }

    public func pods() -> [PodStatus] {
        table.values.map(\.status).sorted { $0.name < $1.name }
    }

    public func records() -> [PodRecord] {
        table.values.filter { $0.status.phase == .running }.compactMap(\.record).sorted { $0.spec.name < $1.spec.name }
    }

    public func adopt(_ records: [PodRecord]) -> [PodStatus] {
        calls.append(.adopt(names: records.map(\.spec.name)))
        return records.map { record in
            if let existing = table[record.spec.name] { return existing.status }
            var pod = FakePod(spec: record.spec, specHash: record.spec.specHash)
            pod.status.restartCount = record.restartCount
            if lostOnAdoption.contains(record.spec.name) {
                pod.status.phase = .failed
                pod.status.reason = PodStatus.Reason.lost
                pod.status.message = "process \(record.pid) is gone (simulated)"
            } else {
                pod.status.phase = .running
                pod.status.ready = record.spec.readiness == nil
                pod.status.pid = record.pid
                pod.status.pgid = record.pgid
                pod.status.processStartTicks = record.processStartTicks
                pod.status.startedAt = record.startedAt
                pod.record = record
                pod.startedInstant = clock.now - .seconds(max(0, clock.currentDate.timeIntervalSince(record.startedAt)))
            }
            table[record.spec.name] = pod
            return pod.status
        }
    }

    // MARK: Test controls

    /// Makes every later `start` of `name` throw `error`; nil clears it.
    public func failStart(name: String, error: (any Error)?) {
        startFailures[name] = error
    }

    /// While held, `terminate` leaves a running pod `Terminating` until `finishTerminations()`.
    public func holdTerminations(_ hold: Bool = true) {
        holdingTerminations = hold
    }

    /// Every `Terminating` pod's processes are gone: each is forgotten, with `.stopped`.
    /// Returns their names.
    @discardableResult
    public func finishTerminations() -> [String] {
        let done = table.values.filter { $0.status.reason == PodStatus.Reason.terminating }.map(\.status).sorted { $0.name < $1.name }
        for status in done {
            table[status.name] = nil
            continuation.yield(.stopped(status))
        }
        return done.map(\.name)
    }

    /// Makes `adopt` report a record of `name` as `Lost` instead of adopting it.
    public func loseOnAdoption(_ name: String) {
        lostOnAdoption.insert(name)
    }

    /// The running pod's process exits with `code` (0: `Completed`, else `Error`); the restart
    /// policy applies. No-op unless the pod runs.
    public func simulateExit(name: String, code: Int32) {
        if code == 0 {
            exit(name, phase: .succeeded, reason: PodStatus.Reason.completed, code: 0, signal: nil, message: nil)
        } else {
            exit(name, phase: .failed, reason: PodStatus.Reason.error, code: code, signal: nil, message: "exited with code \(code)")
        }
    }

    /// The running pod's process dies of `signal` (reason `Killed`).
    public func simulateSignal(name: String, signal: Int32) {
        exit(name, phase: .failed, reason: PodStatus.Reason.killed, code: 128 + signal, signal: signal, message: "killed by signal \(signal)")
    }

    /// The running pod exceeded its memory limit and was killed: `.oomKilled` event, reason
    /// `OOMKilled`, exit code 137.
    public func simulateOOM(name: String) {
        exit(name, phase: .failed, reason: PodStatus.Reason.oomKilled, code: 137, signal: 9,
             message: "resident memory exceeded the limit (simulated)")
    }

    /// Sets readiness of a running pod; emits `.ready` when it changes.
    public func setReady(name: String, _ ready: Bool) {
        guard var pod = table[name], pod.status.phase == .running, pod.status.ready != ready else { return }
        pod.status.ready = ready
        table[name] = pod
        continuation.yield(.ready(pod.status))
    }

    /// Restarts every pod whose backoff has expired by the clock.
    public func supervise() {
        let now = clock.now
        for name in table.keys.sorted() {
            guard var pod = table[name], pod.status.phase == .pending, let due = pod.restartDue, due <= now else { continue }
            pod.status.restartCount += 1
            launch(&pod)
            table[name] = pod
            announceStart(pod)
        }
    }

    // MARK: Internals

    private func launch(_ pod: inout FakePod) {
        nextPID += 1
        nextTicks += 1
        pod.status.phase = .running
        pod.status.ready = pod.spec.readiness == nil
        pod.status.pid = nextPID
        pod.status.pgid = nextPID
        pod.status.processStartTicks = nextTicks
        pod.status.startedAt = clock.currentDate
        pod.status.exitCode = nil
        pod.status.signal = nil
        pod.status.reason = nil
        pod.status.message = nil
        pod.status.nextRestartAt = nil
        pod.restartDue = nil
        pod.startedInstant = clock.now
        pod.record = PodRecord(spec: pod.spec, pid: nextPID, pgid: nextPID, processStartTicks: nextTicks,
                               startedAt: clock.currentDate, restartCount: pod.status.restartCount)
    }

    private func announceStart(_ pod: FakePod) {
        continuation.yield(.started(pod.status))
        if pod.status.ready { continuation.yield(.ready(pod.status)) }
    }

    private func exit(_ name: String, phase: PodPhase, reason: String, code: Int32?, signal: Int32?, message: String?) {
        guard var pod = table[name], pod.status.phase == .running else { return }
        pod.status.phase = phase
        pod.status.ready = false
        pod.status.reason = reason
        pod.status.message = message
        pod.status.exitCode = code
        pod.status.signal = signal
        pod.status.pid = nil
        pod.status.pgid = nil
        pod.status.processStartTicks = nil
        pod.status.startedAt = nil
        continuation.yield(reason == PodStatus.Reason.oomKilled ? .oomKilled(pod.status) : .exited(pod.status))
        if pod.spec.restartPolicy.restarts(after: phase) {
            pod.backoffStep = backoff.nextStep(after: pod.backoffStep, ranFor: clock.now - pod.startedInstant)
            let delay = backoff.delay(step: pod.backoffStep)
            let c = delay.components
            pod.restartDue = clock.now + delay
            pod.status.phase = .pending
            pod.status.reason = PodStatus.Reason.crashLoopBackOff
            pod.status.message = "back-off restarting; last exit: \(reason)"
            pod.status.nextRestartAt = clock.currentDate.addingTimeInterval(Double(c.seconds) + Double(c.attoseconds) / 1e18)
            continuation.yield(.restarting(pod.status))
        }
        table[name] = pod
    }
}

private struct FakePod {
    var spec: PodSpec
    var specHash: String
    var status: PodStatus
    var record: PodRecord?
    var backoffStep = 0
    var restartDue: ContinuousClock.Instant?
    var startedInstant: ContinuousClock.Instant = .now

    init(spec: PodSpec, specHash: String) {
        self.spec = spec
        self.specHash = specHash
        status = PodStatus(name: spec.name, phase: .pending, specHash: specHash, labels: spec.labels)
    }
}
