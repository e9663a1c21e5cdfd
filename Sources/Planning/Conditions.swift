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
    /// Computed directly (no date formatter): the operator calls it for every status it writes,
    /// and Foundation's formatters load ICU's data (several MiB resident) on Linux.
    public static func rfc3339(_ date: Date) -> String {
        let seconds = Int64(date.timeIntervalSince1970.rounded(.down))
        var days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        let secondOfDay = seconds - days * 86_400
        // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
        days += 719_468
        let era = (days >= 0 ? days : days - 146_096) / 146_097
        let dayOfEra = days - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1_460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        func two(_ n: Int64) -> String { n < 10 ? "0\(n)" : "\(n)" }
        return "\(year)-\(two(month))-\(two(day))T\(two(secondOfDay / 3600)):\(two(secondOfDay % 3600 / 60)):\(two(secondOfDay % 60))Z"
    }
}
