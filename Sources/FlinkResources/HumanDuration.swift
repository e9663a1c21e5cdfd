import Foundation

/// Ages as kubectl prints them (its `HumanDuration`, the AGE column): `45s`, `3m20s`, `15m`,
/// `5h10m`, `3d4h`, `120d`, `2y`. Shared by `flinklet get`/`describe` and the API's tables.
public enum HumanDuration {
    /// The time from `date` to `now`; `0s` when `date` is in the future.
    public static func since(_ date: Date, now: Date = Date()) -> String {
        let seconds = Int(now.timeIntervalSince(date))
        if seconds < 0 { return "0s" }
        let minutes = seconds / 60, hours = minutes / 60, days = hours / 24
        switch seconds {
        case ..<120: return "\(seconds)s"
        case ..<600: return seconds % 60 == 0 ? "\(minutes)m" : "\(minutes)m\(seconds % 60)s"
        case ..<(3 * 3600): return "\(minutes)m"
        case ..<(8 * 3600): return minutes % 60 == 0 ? "\(hours)h" : "\(hours)h\(minutes % 60)m"
        case ..<(48 * 3600): return "\(hours)h"
        case ..<(8 * 86400): return hours % 24 == 0 ? "\(days)d" : "\(days)d\(hours % 24)h"
        case ..<(2 * 365 * 86400): return "\(days)d"
        default: return "\(days / 365)y"
        }
    }
}
