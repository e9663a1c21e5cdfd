/// The observed state of a `FlinkDeployment`, with upstream's field names and values so GitOps
/// tools and people read it as they read the Kubernetes operator's.
public struct FlinkDeploymentStatus: Codable, Sendable, Hashable {
    public var jobStatus: JobStatus?
    public var error: String?
    public var observedGeneration: Int64?
    public var lifecycleState: ResourceLifecycleState?
    /// REST URL, Flink version, ports: `rest-url`, `flink-version`, ...
    public var clusterInfo: [String: String]?
    public var jobManagerDeploymentStatus: JobManagerDeploymentStatus?
    public var reconciliationStatus: ReconciliationStatus?
    public var taskManager: TaskManagerInfo?
    public var conditions: [Condition]?

    public init(jobStatus: JobStatus? = nil, error: String? = nil, observedGeneration: Int64? = nil,
                lifecycleState: ResourceLifecycleState? = nil, clusterInfo: [String: String]? = nil,
                jobManagerDeploymentStatus: JobManagerDeploymentStatus? = nil,
                reconciliationStatus: ReconciliationStatus? = nil, taskManager: TaskManagerInfo? = nil,
                conditions: [Condition]? = nil) {
        self.jobStatus = jobStatus
        self.error = error
        self.observedGeneration = observedGeneration
        self.lifecycleState = lifecycleState
        self.clusterInfo = clusterInfo
        self.jobManagerDeploymentStatus = jobManagerDeploymentStatus
        self.reconciliationStatus = reconciliationStatus
        self.taskManager = taskManager
        self.conditions = conditions
    }
}

/// The observed state of a `FlinkSessionJob`.
public struct FlinkSessionJobStatus: Codable, Sendable, Hashable {
    public var jobStatus: JobStatus?
    public var error: String?
    public var observedGeneration: Int64?
    public var lifecycleState: ResourceLifecycleState?
    public var reconciliationStatus: ReconciliationStatus?
    public var conditions: [Condition]?

    public init(jobStatus: JobStatus? = nil, error: String? = nil, observedGeneration: Int64? = nil,
                lifecycleState: ResourceLifecycleState? = nil, reconciliationStatus: ReconciliationStatus? = nil,
                conditions: [Condition]? = nil) {
        self.jobStatus = jobStatus
        self.error = error
        self.observedGeneration = observedGeneration
        self.lifecycleState = lifecycleState
        self.reconciliationStatus = reconciliationStatus
        self.conditions = conditions
    }
}

public struct JobStatus: Codable, Sendable, Hashable {
    public var jobName: String?
    public var jobId: String?
    /// Flink's job status as reported by its REST API: `CREATED`, `RUNNING`, `FINISHED`, ...
    public var state: String?
    /// Milliseconds since the epoch, as a string (upstream's representation).
    public var startTime: String?
    public var updateTime: String?
    /// The savepoint or checkpoint an upgrade restores from, committed before the old job stops.
    public var upgradeSavepointPath: String?
    public var savepointInfo: SavepointInfo?
    public var checkpointInfo: CheckpointInfo?

    public init(jobName: String? = nil, jobId: String? = nil, state: String? = nil, startTime: String? = nil,
                updateTime: String? = nil, upgradeSavepointPath: String? = nil, savepointInfo: SavepointInfo? = nil,
                checkpointInfo: CheckpointInfo? = nil) {
        self.jobName = jobName
        self.jobId = jobId
        self.state = state
        self.startTime = startTime
        self.updateTime = updateTime
        self.upgradeSavepointPath = upgradeSavepointPath
        self.savepointInfo = savepointInfo
        self.checkpointInfo = checkpointInfo
    }
}

public struct SavepointInfo: Codable, Sendable, Hashable {
    public var lastSavepoint: Savepoint?
    public var triggerId: String?
    public var triggerTimestamp: Int64?
    public var triggerType: SnapshotTriggerType?
    public var formatType: SavepointFormatType?
    public var savepointHistory: [Savepoint]?
    public var lastPeriodicSavepointTimestamp: Int64?

    public init(lastSavepoint: Savepoint? = nil, triggerId: String? = nil, triggerTimestamp: Int64? = nil,
                triggerType: SnapshotTriggerType? = nil, formatType: SavepointFormatType? = nil,
                savepointHistory: [Savepoint]? = nil, lastPeriodicSavepointTimestamp: Int64? = nil) {
        self.lastSavepoint = lastSavepoint
        self.triggerId = triggerId
        self.triggerTimestamp = triggerTimestamp
        self.triggerType = triggerType
        self.formatType = formatType
        self.savepointHistory = savepointHistory
        self.lastPeriodicSavepointTimestamp = lastPeriodicSavepointTimestamp
    }
}

public struct Savepoint: Codable, Sendable, Hashable {
    /// Milliseconds since the epoch.
    public var timeStamp: Int64
    public var location: String
    public var triggerType: SnapshotTriggerType?
    public var formatType: SavepointFormatType?
    public var triggerNonce: Int64?

    public init(timeStamp: Int64, location: String, triggerType: SnapshotTriggerType? = nil,
                formatType: SavepointFormatType? = nil, triggerNonce: Int64? = nil) {
        self.timeStamp = timeStamp
        self.location = location
        self.triggerType = triggerType
        self.formatType = formatType
        self.triggerNonce = triggerNonce
    }
}

public struct CheckpointInfo: Codable, Sendable, Hashable {
    public var lastCheckpoint: Checkpoint?
    public var triggerId: String?
    public var triggerTimestamp: Int64?
    public var triggerType: SnapshotTriggerType?
    public var formatType: CheckpointType?
    public var lastPeriodicCheckpointTimestamp: Int64?

    public init(lastCheckpoint: Checkpoint? = nil, triggerId: String? = nil, triggerTimestamp: Int64? = nil,
                triggerType: SnapshotTriggerType? = nil, formatType: CheckpointType? = nil,
                lastPeriodicCheckpointTimestamp: Int64? = nil) {
        self.lastCheckpoint = lastCheckpoint
        self.triggerId = triggerId
        self.triggerTimestamp = triggerTimestamp
        self.triggerType = triggerType
        self.formatType = formatType
        self.lastPeriodicCheckpointTimestamp = lastPeriodicCheckpointTimestamp
    }
}

public struct Checkpoint: Codable, Sendable, Hashable {
    public var timeStamp: Int64
    public var location: String?
    public var triggerType: SnapshotTriggerType?
    public var formatType: CheckpointType?
    public var triggerNonce: Int64?

    public init(timeStamp: Int64, location: String? = nil, triggerType: SnapshotTriggerType? = nil,
                formatType: CheckpointType? = nil, triggerNonce: Int64? = nil) {
        self.timeStamp = timeStamp
        self.location = location
        self.triggerType = triggerType
        self.formatType = formatType
        self.triggerNonce = triggerNonce
    }
}

public struct ReconciliationStatus: Codable, Sendable, Hashable {
    /// Milliseconds since the epoch of the last reconcile that changed the deployment.
    public var reconciliationTimestamp: Int64?
    /// The last spec the operator acted on, serialised as JSON (upstream's representation).
    public var lastReconciledSpec: String?
    /// The last spec that reached a stable, running state: the target of a rollback.
    public var lastStableSpec: String?
    public var state: ReconciliationState?

    public init(reconciliationTimestamp: Int64? = nil, lastReconciledSpec: String? = nil,
                lastStableSpec: String? = nil, state: ReconciliationState? = nil) {
        self.reconciliationTimestamp = reconciliationTimestamp
        self.lastReconciledSpec = lastReconciledSpec
        self.lastStableSpec = lastStableSpec
        self.state = state
    }
}

public struct TaskManagerInfo: Codable, Sendable, Hashable {
    public var labelSelector: String?
    public var replicas: Int?

    public init(labelSelector: String? = nil, replicas: Int? = nil) {
        self.labelSelector = labelSelector
        self.replicas = replicas
    }
}

/// A Kubernetes-convention condition (`Ready`, `Running`, `Reconciling`, `Stalled`).
///
/// `lastTransitionTime` changes only when `status` flips; `observedGeneration` says which
/// generation of the spec the condition describes.
public struct Condition: Codable, Sendable, Hashable {
    public enum Status: String, Codable, Sendable, Hashable, CaseIterable {
        case `true` = "True"
        case `false` = "False"
        case unknown = "Unknown"
    }

    public var type: String
    public var status: Status
    public var reason: String?
    public var message: String?
    public var observedGeneration: Int64?
    /// RFC 3339 time.
    public var lastTransitionTime: String?

    public init(type: String, status: Status, reason: String? = nil, message: String? = nil,
                observedGeneration: Int64? = nil, lastTransitionTime: String? = nil) {
        self.type = type
        self.status = status
        self.reason = reason
        self.message = message
        self.observedGeneration = observedGeneration
        self.lastTransitionTime = lastTransitionTime
    }
}

public enum ResourceLifecycleState: String, Codable, Sendable, Hashable, CaseIterable {
    case created = "CREATED"
    case suspended = "SUSPENDED"
    case upgrading = "UPGRADING"
    case deployed = "DEPLOYED"
    case stable = "STABLE"
    case rollingBack = "ROLLING_BACK"
    case rolledBack = "ROLLED_BACK"
    case failed = "FAILED"
    case deleting = "DELETING"
    case deleted = "DELETED"
}

public enum JobManagerDeploymentStatus: String, Codable, Sendable, Hashable, CaseIterable {
    case ready = "READY"
    case deployedNotReady = "DEPLOYED_NOT_READY"
    case deploying = "DEPLOYING"
    case missing = "MISSING"
    case error = "ERROR"
}

public enum ReconciliationState: String, Codable, Sendable, Hashable, CaseIterable {
    case deployed = "DEPLOYED"
    case upgrading = "UPGRADING"
    case rollingBack = "ROLLING_BACK"
    case rolledBack = "ROLLED_BACK"
}

public enum SnapshotTriggerType: String, Codable, Sendable, Hashable, CaseIterable {
    case manual = "MANUAL"
    case periodic = "PERIODIC"
    case upgrade = "UPGRADE"
    case unknown = "UNKNOWN"
}

public enum SavepointFormatType: String, Codable, Sendable, Hashable, CaseIterable {
    case canonical = "CANONICAL"
    case native = "NATIVE"
    case unknown = "UNKNOWN"
}

public enum CheckpointType: String, Codable, Sendable, Hashable, CaseIterable {
    case full = "FULL"
    case incremental = "INCREMENTAL"
    case unknown = "UNKNOWN"
}

/// The status fields every kind has, so code that records or shows them is written once.
public protocol ResourceStatus: Codable, Sendable, Hashable {
    var jobStatus: JobStatus? { get set }
    var error: String? { get set }
    var observedGeneration: Int64? { get set }
    var lifecycleState: ResourceLifecycleState? { get set }
    var reconciliationStatus: ReconciliationStatus? { get set }
    var conditions: [Condition]? { get set }
    /// An empty status.
    init()
}

extension FlinkDeploymentStatus: ResourceStatus {
    public init() { self.init(jobStatus: nil) }
}

extension FlinkSessionJobStatus: ResourceStatus {
    public init() { self.init(jobStatus: nil) }
}

extension FlinkStateSnapshotStatus: ResourceStatus {
    public init() { self.init(state: nil) }
    /// A snapshot has no job, lifecycle or reconciliation of its own: these read nil and
    /// ignore writes, so code written for every kind leaves them out.
    public var jobStatus: JobStatus? {
        get { nil }
        set {}
    }
    public var lifecycleState: ResourceLifecycleState? {
        get { nil }
        set {}
    }
    public var reconciliationStatus: ReconciliationStatus? {
        get { nil }
        set {}
    }
}

extension ResourceKind {
    /// The status type of this kind.
    public var statusType: any ResourceStatus.Type {
        switch self {
        case .flinkDeployment: FlinkDeploymentStatus.self
        case .flinkSessionJob: FlinkSessionJobStatus.self
        case .flinkStateSnapshot: FlinkStateSnapshotStatus.self
        }
    }
}

/// A resource's status, typed by its kind: what the Store returns and the reducer folds.
public enum AnyResourceStatus: Sendable, Hashable {
    case deployment(FlinkDeploymentStatus)
    case sessionJob(FlinkSessionJobStatus)
    case snapshot(FlinkStateSnapshotStatus)

    /// An empty status of `kind`.
    public init(empty kind: ResourceKind) {
        switch kind {
        case .flinkDeployment: self = .deployment(FlinkDeploymentStatus())
        case .flinkSessionJob: self = .sessionJob(FlinkSessionJobStatus())
        case .flinkStateSnapshot: self = .snapshot(FlinkStateSnapshotStatus())
        }
    }

    /// The fields every kind has.
    public var common: any ResourceStatus {
        switch self {
        case .deployment(let status): status
        case .sessionJob(let status): status
        case .snapshot(let status): status
        }
    }

    /// Changes the fields every kind has.
    public mutating func updateCommon(_ change: (inout any ResourceStatus) -> Void) {
        switch self {
        case .deployment(let status):
            var common: any ResourceStatus = status
            change(&common)
            self = .deployment(common as! FlinkDeploymentStatus)
        case .sessionJob(let status):
            var common: any ResourceStatus = status
            change(&common)
            self = .sessionJob(common as! FlinkSessionJobStatus)
        case .snapshot(let status):
            var common: any ResourceStatus = status
            change(&common)
            self = .snapshot(common as! FlinkStateSnapshotStatus)
        }
    }
}
