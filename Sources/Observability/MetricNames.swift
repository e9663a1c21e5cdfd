/// The operator's metric names, compatible first.
///
/// Where the Apache Flink Kubernetes Operator (FKO) has a counterpart, the name is the one its
/// metrics reach Prometheus under (Flink's Prometheus reporter: `flink_` + the logical scope
/// `k8soperator[_namespace[_resource]]` + the metric path, with `_` for `.`), and the labels
/// are its scope variables `resourcens`, `resourcename`, `resourcetype` (FKO docs,
/// "Metrics and Logging"; `OperatorJosdkMetrics`, `LifecycleMetrics`). Work-queue metrics take
/// client-go's workqueue names, pod metrics kube-state-metrics' names, and the operator's own
/// process figures the Prometheus client libraries' standard `process_*` names, so dashboards
/// written for those read Flinklet unchanged.
///
/// One difference FKO's reporter cannot avoid and we do: its histograms reach Prometheus as
/// summaries (quantiles); ours are Prometheus histograms (buckets) under the same names.
public enum MetricNames {
    // Resource scope (labels resourcens, resourcename, resourcetype): JOSDK's reconcile counters.
    /// Reconciles started, per resource (`JOSDK.Reconciliation.Count`).
    public static let reconciliations = "flink_k8soperator_namespace_resource_JOSDK_Reconciliation_Count"
    /// Reconciles that ended without an error (`JOSDK.Reconciliation.finished.Count`).
    public static let reconciliationsFinished = "flink_k8soperator_namespace_resource_JOSDK_Reconciliation_finished_Count"
    /// Reconciles that failed (`JOSDK.Reconciliation.failed.Count`).
    public static let reconciliationsFailed = "flink_k8soperator_namespace_resource_JOSDK_Reconciliation_failed_Count"
    /// Reconciles that were retries after a failure (`JOSDK.Reconciliation.retries.Count`).
    public static let reconciliationsRetries = "flink_k8soperator_namespace_resource_JOSDK_Reconciliation_retries_Count"

    // Namespace scope (labels resourcens, resourcetype).
    /// Reconcile durations by result (`success`, `failed`): FKO's
    /// `JOSDK.<controller>.<result>.TimeSeconds`, with the result as a label.
    public static let reconcileSeconds = "flink_k8soperator_namespace_JOSDK_Reconciliation_TimeSeconds"
    /// Managed resources (`<Kind>.Count` → `Count` with `resourcetype`).
    public static let resources = "flink_k8soperator_namespace_Count"
    /// `Lifecycle.State.<State>.Count`.
    public static func lifecycleStateCount(_ state: String) -> String { "flink_k8soperator_namespace_Lifecycle_State_\(state)_Count" }
    /// `Lifecycle.State.<State>.TimeSeconds`: time spent in a state, recorded when it is left.
    public static func lifecycleStateSeconds(_ state: String) -> String { "flink_k8soperator_namespace_Lifecycle_State_\(state)_TimeSeconds" }
    /// `Lifecycle.Transition.<Transition>.TimeSeconds`.
    public static func lifecycleTransitionSeconds(_ transition: LifecycleTransition) -> String {
        "flink_k8soperator_namespace_Lifecycle_Transition_\(transition.rawValue)_TimeSeconds"
    }
    /// `JmDeploymentStatus.<Status>.Count` (FlinkDeployment only, as upstream).
    public static func jobManagerDeploymentStatusCount(_ status: String) -> String { "flink_k8soperator_namespace_JmDeploymentStatus_\(status)_Count" }
    /// `JobStatus.<Status>.Count` (upstream has it for blue/green deployments; ours for both kinds).
    public static func jobStatusCount(_ state: String) -> String { "flink_k8soperator_namespace_JobStatus_\(state)_Count" }
    /// Savepoints and checkpoints the operator triggered, saw complete, saw fail (no upstream
    /// counterpart outside `FlinkStateSnapshot`; named in its style). Label `snapshot`.
    public static func snapshots(_ event: SnapshotEvent) -> String { "flink_k8soperator_namespace_Snapshot_\(event.rawValue)_Count" }

    // The work queue (client-go's names; label name="flinklet").
    public static let workQueueDepth = "workqueue_depth"
    public static let workQueueWaitSeconds = "workqueue_queue_duration_seconds"
    public static let workQueueRetries = "workqueue_retries_total"
    public static let workQueueAdds = "workqueue_adds_total"

    // Pods (kube-state-metrics' names; labels namespace, pod).
    /// Pods by phase (label `phase`), counted over every pod the driver runs.
    public static let podPhase = "kube_pod_status_phase"
    public static let podRestarts = "kube_pod_container_status_restarts_total"
    /// OOM kills by the memory limit, per pod (kube-state-metrics has a last-terminated-reason
    /// gauge, not a counter; the counter is ours).
    public static let podOOMKills = "flinklet_pod_oom_kills_total"

    // Pods' use of the machine, as cAdvisor names it (what metrics-server and `kubectl top`
    // read; labels namespace, pod), from the driver's sampling (about once a second).
    public static let podCPUSeconds = "container_cpu_usage_seconds_total"
    public static let podMemoryWorkingSet = "container_memory_working_set_bytes"

    // The operator process (standard client names).
    public static let processCPUSeconds = "process_cpu_seconds_total"
    public static let processResidentMemory = "process_resident_memory_bytes"
    public static let processOpenFDs = "process_open_fds"
    public static let processMaxFDs = "process_max_fds"
    public static let processStartTime = "process_start_time_seconds"
}

/// The lifecycle transitions FKO times (`LifecycleMetrics.getTrackedTransitions`).
public enum LifecycleTransition: String, Sendable, CaseIterable {
    /// STABLE → … → STABLE again with a new spec: end-to-end upgrade time.
    case upgrade = "Upgrade"
    /// SUSPENDED → … → STABLE.
    case resume = "Resume"
    /// DEPLOYED, STABLE or ROLLED_BACK → UPGRADING or SUSPENDED.
    case suspend = "Suspend"
    /// DEPLOYED → STABLE.
    case stabilization = "Stabilization"
    /// DEPLOYED → ROLLED_BACK.
    case rollback = "Rollback"
    /// UPGRADING → DEPLOYED: the submission.
    case submission = "Submission"
}

/// What happened to a savepoint or checkpoint.
public enum SnapshotEvent: String, Sendable, CaseIterable {
    case triggered = "Triggered"
    case completed = "Completed"
    case failed = "Failed"
}

/// Which kind of snapshot (label `snapshot`).
public enum SnapshotKind: String, Sendable, CaseIterable {
    case savepoint = "Savepoint"
    case checkpoint = "Checkpoint"
}
