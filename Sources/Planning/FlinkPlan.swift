import FlinkResources
import Reconciliation

// The engine's plan model, as Flink's planners use it: steps carry `FlinkAction`s, plans a
// `FlinkStatus`, inputs a `FlinkObservation`.
public typealias Step = PlanStep<FlinkAction>
public typealias Plan = ResourcePlan<FlinkAction, FlinkStatus>
public typealias PlanInput = PlanInputOf<FlinkObservation>
public typealias PodDiff = PodSetDiff<FlinkAction>

/// The pods of a Flink cluster.
extension PodRole {
    public static let jobManager = PodRole(rawValue: "jobmanager")
    public static let taskManager = PodRole(rawValue: "taskmanager")
    /// The Flink client of a per-job cluster (`flink run`).
    public static let submitter = PodRole(rawValue: "submitter")
}

/// The heavy work the Flink controller bounds.
extension AdmissionGate {
    /// A cluster starting: from its JobManager's start until it is ready with every TaskManager
    /// registered (or `FlinkPlanner.clusterStartLimit` has passed).
    public static let clusterStart = AdmissionGate(rawValue: "clusterStart")
    /// A Flink client (the per-job submitter) running `main()` on the operator's side.
    public static let submission = AdmissionGate(rawValue: "submission")
    /// Every gate of the Flink controller.
    public static let flinkGates: [AdmissionGate] = [.clusterStart, .submission]
}

extension PlanInputOf where Observation == FlinkObservation {
    /// What the Flink side looks like (nil when it was not observed).
    public var flink: FlinkObservation? {
        get { domain }
        set { domain = newValue }
    }
}

extension ResourcePlan where Action == FlinkAction, Status == FlinkStatus {
    /// The Flink part of the status (job, cluster); nil leaves what is recorded.
    public var flinkStatus: FlinkStatus? {
        get { domainStatus }
        set { domainStatus = newValue }
    }
}

extension PlanStep where Action == FlinkAction {
    /// A call to a cluster's REST API, or another Flink step.
    public static func flink(_ action: FlinkAction) -> Self { .domain(action) }
}
