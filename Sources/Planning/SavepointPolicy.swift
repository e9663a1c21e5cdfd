import FlinkResources
import Foundation

/// Savepoints a running job gets besides upgrades: manual (`spec.job.savepointTriggerNonce`),
/// periodic (`kubernetes.operator.periodic.savepoint.interval`), and the history's cleanup
/// (`kubernetes.operator.savepoint.history.max.count`, default 10, and `.max.age`, default 24 h).
/// Pure. The newest completed savepoint and the current job's restore point are never disposed.
public enum SavepointPolicy {
    public static let maxCountKey = "kubernetes.operator.savepoint.history.max.count"
    public static let maxAgeKey = "kubernetes.operator.savepoint.history.max.age"
    public static let intervalKey = "kubernetes.operator.periodic.savepoint.interval"

    /// `savepointInfo.triggerId` of a manual savepoint attempt for `nonce`.
    public static func manualTriggerId(_ nonce: Int64) -> String { "manual:\(nonce)" }

    /// Steps for a job that runs with all its tasks (`port`, `jobId`), and the history cleanup.
    public static func steps(job: JobSpec, configuration: FlinkConfiguration, recorded: JobStatus, port: Int, jobId: String,
                             savepointDirectory: String, now: Date) -> [Step] {
        let nowMillis = Int64(now.timeIntervalSince1970 * 1000)
        let info = recorded.savepointInfo ?? SavepointInfo()
        var steps: [Step] = []
        if let nonce = job.savepointTriggerNonce, info.triggerId != manualTriggerId(nonce) {
            steps.append(.flink(.triggerSavepoint(port: port, jobId: jobId, directory: savepointDirectory, type: .manual, nonce: nonce)))
        } else if let interval = configuration[intervalKey].flatMap(FlinkDuration.milliseconds), interval > 0 {
            let last = info.lastPeriodicSavepointTimestamp ?? recorded.startTime.flatMap { Int64($0) } ?? nowMillis
            if nowMillis - last >= interval {
                steps.append(.flink(.triggerSavepoint(port: port, jobId: jobId, directory: savepointDirectory, type: .periodic, nonce: nil)))
            }
        }
        let disposable = expired(history: info.savepointHistory ?? [], keep: recorded.upgradeSavepointPath, configuration: configuration, now: nowMillis)
        if !disposable.isEmpty { steps.append(.disposeSavepoints(disposable)) }
        return steps
    }

    /// The savepoints beyond the history's count or age, oldest first; never the newest one nor
    /// `keep` (what the running job started from).
    public static func expired(history: [Savepoint], keep: String?, configuration: FlinkConfiguration, now: Int64) -> [Savepoint] {
        guard history.count > 1 else { return [] }
        let maxCount = configuration[maxCountKey].flatMap(Int.init).map { max(1, $0) } ?? 10
        let maxAge = configuration[maxAgeKey].flatMap(FlinkDuration.milliseconds) ?? 86_400_000
        let ordered = history.sorted { $0.timeStamp < $1.timeStamp }
        let newest = ordered.last!
        return ordered.enumerated().filter { index, savepoint in
            guard savepoint != newest, savepoint.location != keep else { return false }
            let beyondCount = ordered.count - index > maxCount
            return beyondCount || now - savepoint.timeStamp > maxAge
        }.map(\.element)
    }
}
