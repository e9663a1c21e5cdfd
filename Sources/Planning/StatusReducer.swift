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
    }
}

/// What a Flink step did that the status must say (the plan could not know it beforehand).
public enum FlinkOutcome: Sendable, Hashable {
    /// Flink refused a savepoint request: the trigger on record is over (its time stays and
    /// paces the next attempt).
    case snapshotTriggerRefused
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
        }
        return status
    }
}
