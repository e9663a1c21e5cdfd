import FlinkResources
import Foundation

/// Kubernetes condition conventions (kstatus): `Ready` is always present; `Reconciling` and
/// `Stalled` appear only while true. `lastTransitionTime` changes only when a condition's
/// status flips.
public enum Conditions {
    public static let ready = "Ready"
    public static let reconciling = "Reconciling"
    public static let stalled = "Stalled"

    /// The new conditions, keeping `lastTransitionTime` of those whose status did not change.
    public static func merge(previous: [Condition], next: [Condition], now: Date) -> [Condition] {
        next.map { condition in
            var condition = condition
            if let old = previous.first(where: { $0.type == condition.type }), old.status == condition.status,
               let time = old.lastTransitionTime {
                condition.lastTransitionTime = time
            } else {
                condition.lastTransitionTime = rfc3339(now)
            }
            return condition
        }
    }

    /// `2026-11-21T09:01:41Z`: RFC 3339 in UTC, whole seconds, as Kubernetes writes times.
    public static func rfc3339(_ date: Date) -> String { RFC3339.string(from: date) }
}
