import FlinkResources
import Reconciliation

extension FlinkStatus: DomainStatus {
    /// The Flink part of a plan's status: job status (with its savepoints and trigger),
    /// reconciliation, cluster info, JobManager and TaskManager state; nil fields stay as recorded.
    public func apply(to status: inout AnyResourceStatus) {
        status.updateCommon { common in
            if let jobStatus { common.jobStatus = jobStatus }
            if let reconciliation { common.reconciliationStatus = reconciliation }
        }
        if case .deployment(var deployment) = status {
            deployment.clusterInfo = clusterInfo ?? deployment.clusterInfo
            deployment.jobManagerDeploymentStatus = jobManagerDeploymentStatus ?? deployment.jobManagerDeploymentStatus
            deployment.taskManager = taskManager ?? deployment.taskManager
            status = .deployment(deployment)
        }
        if case .snapshot(var current) = status, let snapshot {
            current.state = snapshot.state
            current.triggerId = snapshot.triggerId
            current.triggerTimestamp = snapshot.triggerTimestamp
            current.resultTimestamp = snapshot.resultTimestamp
            current.path = snapshot.path
            current.error = snapshot.error
            current.failures = snapshot.failures
            status = .snapshot(current)
        }
    }
}

/// What a Flink step did that the status must say (the plan could not know it beforehand).
public enum FlinkOutcome: Sendable, Hashable {
    /// Flink refused a savepoint request: the trigger on record is over (its time stays and
    /// paces the next attempt).
    case snapshotTriggerRefused
    /// Flink refused a `FlinkStateSnapshot`'s request: the attempt failed with `cause`; FAILED
    /// when it was the `final` one `backoffLimit` allows, else TRIGGER_PENDING (retried after
    /// the backoff, counted from the trigger time).
    case stateSnapshotRefused(cause: String, final: Bool)
}

/// Folds Flink step outcomes into a status. Pure.
public enum FlinkStatusReducer {
    public static func reduce(_ status: AnyResourceStatus, outcome: FlinkOutcome) -> AnyResourceStatus {
        var status = status
        switch outcome {
        case .snapshotTriggerRefused:
            status.updateCommon { common in
                if SnapshotTrigger(common.jobStatus?.savepointInfo) != nil { common.jobStatus?.savepointInfo?.endTrigger() }
            }
        case .stateSnapshotRefused(let cause, let final):
            if case .snapshot(var snapshot) = status, snapshot.state == .inProgress {
                snapshot.state = final ? .failed : .triggerPending
                snapshot.failures = (snapshot.failures ?? 0) + 1
                snapshot.error = cause
                snapshot.triggerId = nil
                status = .snapshot(snapshot)
            }
        }
        return status
    }
}
