import Foundation

/// Runs pods and keeps them running, like a kubelet for one machine.
///
/// Guarantees (of every implementation):
/// - At most one pod per name. `start` of a name that runs with the same spec returns the
///   running pod's record: starting is idempotent, so a level-based caller may call it freely.
/// - Every process a driver spawns is either reported by `records()` (alive) or gone: when a
///   pod's main process exits, whatever is left of its process group is killed.
/// - Stopping the driver's supervision (cancelling `run()` of `LocalProcessDriver`, or the
///   operator dying) never stops pods: they outlive the operator and are adopted again.
///
/// Assumptions: the caller persists the records it gets (from `start` and `records()`) and
/// hands them to `adopt` once, when a new driver starts, before starting pods.
public protocol ProcessDriver: Sendable {
    /// Starts the pod now and returns the record to persist.
    ///
    /// - A pod of that name that runs with the same spec hash: returns its record, starts nothing.
    /// - One in `CrashLoopBackOff` with the same spec hash: returns the record of its last
    ///   process and leaves the backoff alone.
    /// - One that runs a different spec: throws `DriverError.podExists`; stop it first.
    /// - One that ended (`Succeeded`, `Failed`, `Lost`), or waits to restart a different spec:
    ///   replaced by a fresh pod (restart count 0).
    /// - One being stopped (`Terminating`): throws `DriverError.podTerminating` at once, never
    ///   waits; start it after its `.stopped` event.
    func start(_ spec: PodSpec) async throws -> PodRecord

    /// SIGTERM to the whole group, up to `grace` (nil: the spec's `terminationGracePeriod`),
    /// then SIGKILL to the group; returns when no process of the group is left. Then removes
    /// the pod's tmp directory and forgets the pod. A pod that has no running process is only
    /// forgotten (no signal); an unknown name is a no-op. Sends no event.
    func stop(_ name: String, grace: Duration?) async

    /// Begins stopping the pod and returns at once: SIGTERM to the whole group now, SIGKILL to
    /// the group once the spec's `terminationGracePeriod` is over, and, when no process of the
    /// group is left, the pod's tmp directory is removed, the pod forgotten and `.stopped` sent.
    /// Until then `status` reports it with reason `Terminating` (not ready). A pod that has no
    /// running process is forgotten at once (with `.stopped`); an unknown name, or a pod already
    /// terminating, is left as it is.
    func terminate(_ name: String) async

    func status(_ name: String) async -> PodStatus?

    /// Every pod the driver knows, sorted by name.
    func pods() async -> [PodStatus]

    /// A record for every pod whose process is alive, sorted by name: what to persist.
    /// (It changes when a pod restarts; persist again on `.started` events.)
    func records() async -> [PodRecord]

    /// Takes over pods started by an earlier driver (usually an earlier operator process).
    /// A record whose pid is alive with the same process start time and process group is
    /// adopted and supervised; any other is reported `Failed` with reason `Lost`, kept so
    /// `status` shows it, and its pid is never signalled. A name the driver already knows is
    /// left alone (its current status is returned). Returns one status per record, in order.
    func adopt(_ records: [PodRecord]) async -> [PodStatus]

    /// One stream per driver; iterate it from one task. Events are wake-ups: if nobody reads,
    /// the oldest are dropped, and a reader must read state with `pods()` rather than
    /// reconstruct it from events.
    var events: AsyncStream<PodEvent> { get }
}

extension ProcessDriver {
    /// Stops with the spec's grace period.
    public func stop(_ name: String) async {
        await stop(name, grace: nil)
    }
}

public enum DriverError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The spec cannot be run as given.
    case invalidSpec(name: String, reason: String)
    /// A pod of that name runs a different spec; stop it first.
    case podExists(name: String, runningSpecHash: String)
    /// A pod of that name is still stopping; start it once it is gone (after `.stopped`).
    case podTerminating(name: String)
    /// `argv[0]` is not an executable file on the pod's `PATH`.
    case executableNotFound(name: String, program: String)
    /// `posix_spawn` or a preparation step failed (errno).
    case spawnFailed(name: String, operation: String, errno: Int32)
    /// `run()` was called while the supervision loop already runs.
    case alreadyRunning

    public var description: String {
        switch self {
        case .invalidSpec(let name, let reason): "pod \(name): invalid spec: \(reason)"
        case .podExists(let name, let hash): "pod \(name) already runs a different spec (\(hash)); stop it first"
        case .podTerminating(let name): "pod \(name) is still stopping; it can start again once it is gone"
        case .executableNotFound(let name, let program): "pod \(name): executable \"\(program)\" not found"
        case .spawnFailed(let name, let operation, let code):
            "pod \(name): \(operation) failed: \(String(cString: strerror(code))) (errno \(code))"
        case .alreadyRunning: "the supervision loop already runs"
        }
    }
}

/// The driver's time source for decisions: when a restart is due, whether a run was long
/// enough to reset the backoff, and the timestamps it reports. Operational cadences (the
/// supervision tick, sampling, probe periods, the stop grace) run on real time regardless, so
/// a test with a manual clock controls backoff without the driver waiting on it.
public protocol RuntimeClock: Sendable {
    /// Monotonic: never goes backwards.
    var now: ContinuousClock.Instant { get }
    /// Wall-clock time, for `startedAt` and `nextRestartAt`.
    var currentDate: Date { get }
}

/// The real clocks: `ContinuousClock` and `Date()`.
public struct SystemRuntimeClock: RuntimeClock {
    public init() {}
    public var now: ContinuousClock.Instant { ContinuousClock.now }
    public var currentDate: Date { Date() }
}

/// Exponential restart backoff, as the kubelet does it: `initial`, doubling per consecutive
/// restart, capped at `maximum`; a run that lasted `resetAfter` or longer starts over.
public struct RestartBackoff: Sendable, Hashable {
    public var initial: Duration
    public var maximum: Duration
    public var resetAfter: Duration

    public init(initial: Duration = .seconds(1), maximum: Duration = .seconds(300), resetAfter: Duration = .seconds(600)) {
        self.initial = initial
        self.maximum = maximum
        self.resetAfter = resetAfter
    }

    /// 1 s → 5 min, reset after 10 min of healthy running.
    public static let standard = RestartBackoff()

    /// The wait before restart number `step` of a run of quick failures (1 = first):
    /// `initial * 2^(step-1)`, at most `maximum`.
    public func delay(step: Int) -> Duration {
        var d = initial
        var n = 1
        while n < step && d < maximum {
            d *= 2
            n += 1
        }
        return min(d, maximum)
    }

    /// The step of the next restart, given the previous one and how long the last run lasted.
    public func nextStep(after previousStep: Int, ranFor runTime: Duration) -> Int {
        runTime >= resetAfter ? 1 : previousStep + 1
    }
}
