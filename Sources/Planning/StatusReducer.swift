import FlinkResources

/// The one place a status changes: the plan's status (decided before its steps) and each
/// step's outcome are folded into the recorded status here. Pure: the executor only stores
/// what this returns.
public enum StatusReducer {
    /// What a step did that the status must say (the plan could not know it beforehand).
    public enum Outcome: Sendable, Hashable {
        /// Flink refused a savepoint request: the trigger on record is over (its time stays and
        /// paces the next attempt).
        case snapshotTriggerRefused
    }

    /// `status` as `plan` describes it: conditions, error, lifecycle state, observed generation,
    /// and the Flink part the plan decides (job status with its savepoints and trigger,
    /// reconciliation, cluster info, JobManager and TaskManager state). What the plan leaves nil
    /// stays as recorded.
    public static func reduce(_ status: AnyResourceStatus, plan: Plan) -> AnyResourceStatus {
        var status = status
        status.updateCommon { common in
            common.conditions = plan.conditions
            common.error = plan.error
            common.lifecycleState = plan.lifecycleState ?? common.lifecycleState
            if let observed = plan.observedGeneration { common.observedGeneration = observed }
            if let jobStatus = plan.flinkStatus?.jobStatus { common.jobStatus = jobStatus }
            if let reconciliation = plan.flinkStatus?.reconciliation { common.reconciliationStatus = reconciliation }
        }
        if case .deployment(var deployment) = status, let flink = plan.flinkStatus {
            deployment.clusterInfo = flink.clusterInfo ?? deployment.clusterInfo
            deployment.jobManagerDeploymentStatus = flink.jobManagerDeploymentStatus ?? deployment.jobManagerDeploymentStatus
            deployment.taskManager = flink.taskManager ?? deployment.taskManager
            status = .deployment(deployment)
        }
        return status
    }

    /// `status` once a step's `outcome` is known.
    public static func reduce(_ status: AnyResourceStatus, outcome: Outcome) -> AnyResourceStatus {
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
