import Foundation
import Runtime
import Synchronization

/// A clock that moves only when told to, for testing backoff and timeouts without sleeping.
///
/// It is a Swift `Clock` (instants are `ContinuousClock.Instant`s, so it fits
/// `any Clock<Duration>`) and the Runtime's `RuntimeClock`. `sleep(until:)` suspends until
/// `advance` passes the deadline, or throws `CancellationError` when the task is cancelled.
/// `currentDate` starts at `date` and moves with `now`.
public final class ManualClock: Clock, RuntimeClock, Sendable {
    public typealias Instant = ContinuousClock.Instant

    private struct Sleeper {
        var deadline: Instant
        var continuation: CheckedContinuation<Void, any Error>
    }

    private struct State {
        var elapsed: Duration = .zero
        var sleepers: [UInt64: Sleeper] = [:]
        var cancelled: Set<UInt64> = []
        var nextID: UInt64 = 0
    }

    private let origin: Instant
    private let originDate: Date
    private let state = Mutex(State())

    public init(date: Date = Date(timeIntervalSince1970: 1_700_000_000)) {
        origin = ContinuousClock.now
        originDate = date
    }

    /// How far the clock has been advanced.
    public var elapsed: Duration { state.withLock { $0.elapsed } }
    public var now: Instant { origin + elapsed }
    public var currentDate: Date {
        let c = elapsed.components
        return originDate.addingTimeInterval(Double(c.seconds) + Double(c.attoseconds) / 1e18)
    }
    public var minimumResolution: Duration { .nanoseconds(1) }

    /// Tasks suspended in `sleep` right now.
    public var sleeperCount: Int { state.withLock { $0.sleepers.count } }

    /// Moves time forward and resumes every sleeper whose deadline has passed, earliest first.
    public func advance(by duration: Duration) {
        precondition(duration >= .zero, "a clock does not go backwards")
        let due = state.withLock { state -> [Sleeper] in
            state.elapsed += duration
            let now = origin + state.elapsed
            let due = state.sleepers.filter { $0.value.deadline <= now }
            for id in due.keys { state.sleepers[id] = nil }
            return due.values.sorted { $0.deadline < $1.deadline }
        }
        for sleeper in due { sleeper.continuation.resume() }
    }

    public func sleep(until deadline: Instant, tolerance: Duration? = nil) async throws {
        let id = state.withLock { state -> UInt64 in
            state.nextID += 1
            return state.nextID
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                enum Action { case resume, cancel, wait }
                let action = state.withLock { state -> Action in
                    if state.cancelled.remove(id) != nil { return .cancel }
                    if deadline <= origin + state.elapsed { return .resume }
                    state.sleepers[id] = Sleeper(deadline: deadline, continuation: continuation)
                    return .wait
                }
                switch action {
                case .resume: continuation.resume()
                case .cancel: continuation.resume(throwing: CancellationError())
                case .wait: break
                }
            }
        } onCancel: {
            let sleeper = state.withLock { state -> Sleeper? in
                if let sleeper = state.sleepers.removeValue(forKey: id) { return sleeper }
                state.cancelled.insert(id)
                return nil
            }
            sleeper?.continuation.resume(throwing: CancellationError())
        }
    }
}
