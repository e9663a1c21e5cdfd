import FlinkResources

/// The one place a status changes: a plan's status (decided before its steps) is folded into
/// the recorded status here, and a step's domain outcome by the domain's own pure reducer. The
/// executor only stores what these return.
public enum StatusReducer {
    /// `status` as `plan` describes it: conditions, error, lifecycle state, observed generation,
    /// then the domain part (`DomainStatus.apply`). What the plan leaves nil stays as recorded.
    public static func reduce<A, S>(_ status: AnyResourceStatus, plan: ResourcePlan<A, S>) -> AnyResourceStatus {
        var status = status
        status.updateCommon { common in
            common.conditions = plan.conditions
            common.error = plan.error
            common.lifecycleState = plan.lifecycleState ?? common.lifecycleState
            if let observed = plan.observedGeneration { common.observedGeneration = observed }
        }
        plan.domainStatus?.apply(to: &status)
        return status
    }
}
