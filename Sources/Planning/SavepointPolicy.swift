import FlinkResources
import Reconciliation
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

    /// How long a manual or periodic savepoint may stay unresolved before the attempt is given
    /// up (a `SavepointError` event; a manual nonce is not retried, a periodic one is, later).
    public static let triggerTimeoutMillis: Int64 = 600_000
    /// The shortest time between the end of one attempt and the next trigger.
    public static let retryMillis: Int64 = 10_000

    /// For a job that runs with all its tasks (`rest`, `jobId`): follows the manual or periodic
    /// savepoint recorded as pending (`pending` is what became of it), or triggers the next one
    /// due, recording it in `status` first; and drops the history beyond its limits (the steps
    /// dispose of them). `status` is the job status to record.
    public static func steps(job: JobSpec, configuration: FlinkConfiguration, status: inout JobStatus, pending: SnapshotOperationState?,
                             rest: RESTEndpoint, jobId: String, savepointDirectory: String, now: Date) -> [Step] {
        let nowMillis = Int64(now.timeIntervalSince1970 * 1000)
        var info = status.savepointInfo ?? SavepointInfo()
        var steps: [Step] = []
        if let trigger = SnapshotTrigger(info) {
            guard !trigger.stopsJob else { return [] }  // a stop is the lifecycle's to follow
            let mark = trigger.type == .manual ? job.savepointTriggerNonce.map(manualTriggerId) : nil
            switch pending {
            case .completed(let location)?:
                info.append(Savepoint(timeStamp: nowMillis, location: location, triggerType: trigger.type, formatType: .canonical,
                                      triggerNonce: trigger.type == .manual ? job.savepointTriggerNonce : nil))
                info.endTrigger(mark: mark)
                if trigger.type == .periodic { info.lastPeriodicSavepointTimestamp = trigger.timestamp }
                steps.append(.event(type: .normal, reason: "SavepointCreated",
                                    message: "\(trigger.type.rawValue.capitalized) savepoint of job \(jobId) at \(location)"))
            case .failed(let cause)?:
                info.endTrigger(mark: mark)
                if trigger.type == .periodic { info.lastPeriodicSavepointTimestamp = trigger.timestamp }
                steps.append(.event(type: .warning, reason: "SavepointError", message: "savepoint of job \(jobId) failed: \(cause)"))
            case .notFound?:
                // Recorded, but the request never reached Flink: send it (the same operation).
                steps.append(.flink(.triggerSavepoint(rest: rest, jobId: jobId, directory: savepointDirectory, triggerId: trigger.id)))
            case .inProgress?, .unknown?, nil:
                if nowMillis - trigger.timestamp > triggerTimeoutMillis {
                    info.endTrigger(mark: mark)
                    if trigger.type == .periodic { info.lastPeriodicSavepointTimestamp = trigger.timestamp }
                    steps.append(.event(type: .warning, reason: "SavepointError",
                                        message: "savepoint \(trigger.id) of job \(jobId) did not complete within \(triggerTimeoutMillis / 60_000) minutes"))
                }
            }
        } else if let last = info.failedAttemptTimestamp, nowMillis - last < retryMillis, nowMillis >= last {
            // The last attempt ended a moment ago (refused or failed): pace the next.
        } else if let nonce = job.savepointTriggerNonce, info.triggerId != manualTriggerId(nonce) {
            let trigger = SnapshotTrigger.make(jobId: jobId, type: .manual, now: nowMillis, salt: String(nonce))
            info = trigger.recorded(in: info)
            steps.append(.flink(.triggerSavepoint(rest: rest, jobId: jobId, directory: savepointDirectory, triggerId: trigger.id)))
        } else if let interval = configuration[intervalKey].flatMap(FlinkDuration.milliseconds), interval > 0 {
            let last = info.lastPeriodicSavepointTimestamp ?? status.startTime.flatMap { Int64($0) } ?? nowMillis
            if nowMillis - last >= interval {
                let trigger = SnapshotTrigger.make(jobId: jobId, type: .periodic, now: nowMillis)
                info = trigger.recorded(in: info)
                steps.append(.flink(.triggerSavepoint(rest: rest, jobId: jobId, directory: savepointDirectory, triggerId: trigger.id)))
            }
        }
        let disposable = expired(history: info.savepointHistory ?? [], keep: status.upgradeSavepointPath, configuration: configuration, now: nowMillis)
        if !disposable.isEmpty {
            info.savepointHistory?.removeAll { disposable.contains($0) }
            steps.append(.flink(.disposeSavepoints(disposable)))
        }
        status.savepointInfo = info
        return steps
    }

    /// Whether `steps` must find the status on record first: a snapshot request (its trigger),
    /// or savepoints to dispose of (the history no longer names them before they go).
    public static func needsWriteAhead(_ steps: [Step]) -> Bool {
        steps.contains { step in
            switch step {
            case .domain(.triggerSavepoint), .domain(.stopWithSavepoint), .domain(.disposeSavepoints): true
            default: false
            }
        }
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
