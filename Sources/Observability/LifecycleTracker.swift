import FlinkResources
import Foundation

/// Times one resource's lifecycle: which tracked transitions (`LifecycleTransition`) a new
/// state completes and how long they took, and how long each state lasted once it is left.
/// Pure: the caller passes the time.
///
/// Contract (FKO's `ResourceLifecycleMetricTracker`, reimplemented): every state the resource
/// has been in since it last settled keeps the time it was (re-)entered and the time it was
/// last seen. A transition `from → to` is measured when `to` is entered while `from` is still
/// kept: from `from`'s last sighting (Upgrade, Resume, Suspend, Submission) or from its entry
/// (Stabilization, Rollback). Settling (entering CREATED, STABLE, SUSPENDED, ROLLED_BACK or
/// FAILED) drops every other state and reports how long each lasted; so STABLE is kept
/// through an upgrade (UPGRADING, DEPLOYED) and the next STABLE measures the whole upgrade.
public struct LifecycleTracker: Sendable {
    private struct Times: Sendable {
        var entered: Date
        var lastSeen: Date
    }

    private struct Tracked {
        var from: ResourceLifecycleState
        var to: ResourceLifecycleState
        /// From `from`'s last sighting (true) or its entry (false).
        var fromLastSeen: Bool
        var transition: LifecycleTransition
    }

    private static let tracked: [Tracked] = [
        Tracked(from: .suspended, to: .stable, fromLastSeen: true, transition: .resume),
        Tracked(from: .stable, to: .stable, fromLastSeen: true, transition: .upgrade),
        Tracked(from: .deployed, to: .upgrading, fromLastSeen: true, transition: .suspend),
        Tracked(from: .stable, to: .upgrading, fromLastSeen: true, transition: .suspend),
        Tracked(from: .rolledBack, to: .upgrading, fromLastSeen: true, transition: .suspend),
        Tracked(from: .deployed, to: .suspended, fromLastSeen: true, transition: .suspend),
        Tracked(from: .stable, to: .suspended, fromLastSeen: true, transition: .suspend),
        Tracked(from: .rolledBack, to: .suspended, fromLastSeen: true, transition: .suspend),
        Tracked(from: .deployed, to: .stable, fromLastSeen: false, transition: .stabilization),
        Tracked(from: .deployed, to: .rolledBack, fromLastSeen: false, transition: .rollback),
        Tracked(from: .upgrading, to: .deployed, fromLastSeen: true, transition: .submission),
    ]

    private static let settling: Set<ResourceLifecycleState> = [.created, .stable, .suspended, .rolledBack, .failed]

    public private(set) var current: ResourceLifecycleState?
    private var times: [ResourceLifecycleState: Times] = [:]

    public init() {}

    /// What an update to `state` at `now` completed.
    public struct Update: Sendable, Equatable {
        public var transitions: [LifecycleTransition: Duration] = [:]
        /// States left for good, with the time spent in each.
        public var stateTimes: [ResourceLifecycleState: Duration] = [:]
    }

    /// Records that the resource is in `state` at `now`.
    public mutating func update(_ state: ResourceLifecycleState, at now: Date) -> Update {
        var update = Update()
        guard state != current else {
            times[state, default: Times(entered: now, lastSeen: now)].lastSeen = now
            return update
        }
        for rule in Self.tracked where rule.to == state {
            guard let from = times[rule.from] else { continue }
            let start = rule.fromLastSeen ? from.lastSeen : from.entered
            update.transitions[rule.transition] = Self.duration(from: start, to: now)
        }
        times[state] = Times(entered: now, lastSeen: now)
        if Self.settling.contains(state) {
            for (other, time) in times where other != state {
                update.stateTimes[other] = Self.duration(from: time.entered, to: time.lastSeen)
            }
            times = times.filter { $0.key == state }
        }
        current = state
        return update
    }

    private static func duration(from start: Date, to end: Date) -> Duration {
        .milliseconds(Int64((max(0, end.timeIntervalSince(start)) * 1000).rounded()))
    }
}
