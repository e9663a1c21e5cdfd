/// A `FlinkStateSnapshot` (upstream's `flink.apache.org/v1beta1` kind, short name `flinksnp`): a
/// savepoint or checkpoint of the job a `FlinkDeployment` or `FlinkSessionJob` runs, taken when
/// the resource is created, or an existing savepoint registered (`savepoint.alreadyExists`).
public struct FlinkStateSnapshot: Codable, Sendable, Hashable {
    public var apiVersion: String = FlinkAPI.apiVersion
    public var kind: String = ResourceKind.flinkStateSnapshot.rawValue
    public var metadata: ObjectMeta
    public var spec: FlinkStateSnapshotSpec
    public var status: FlinkStateSnapshotStatus?

    public init(metadata: ObjectMeta, spec: FlinkStateSnapshotSpec, status: FlinkStateSnapshotStatus? = nil) {
        self.metadata = metadata
        self.spec = spec
        self.status = status
    }

    public var id: ResourceID { ResourceID(kind: .flinkStateSnapshot, namespace: metadata.namespace, name: metadata.name) }
}

/// Upstream `FlinkStateSnapshotSpec`: exactly one of `savepoint` and `checkpoint`.
public struct FlinkStateSnapshotSpec: Codable, Sendable, Hashable {
    /// The resource whose job is snapshotted (same namespace). Not needed for a savepoint that
    /// already exists.
    public var jobReference: JobReference?
    public var savepoint: SavepointSpec?
    public var checkpoint: CheckpointSpec?
    /// Retries after a failed attempt before the snapshot is FAILED for good: -1 (upstream's
    /// default) retries without limit, 0 never.
    public var backoffLimit: Int?

    public init(jobReference: JobReference? = nil, savepoint: SavepointSpec? = nil, checkpoint: CheckpointSpec? = nil, backoffLimit: Int? = nil) {
        self.jobReference = jobReference
        self.savepoint = savepoint
        self.checkpoint = checkpoint
        self.backoffLimit = backoffLimit
    }

    public var isSavepoint: Bool { savepoint != nil }
    public var effectiveBackoffLimit: Int { backoffLimit ?? -1 }
    /// `snapshot.type`: SAVEPOINT or CHECKPOINT.
    public var snapshotType: String { isSavepoint ? "SAVEPOINT" : "CHECKPOINT" }
}

/// Upstream `JobReference`.
public struct JobReference: Codable, Sendable, Hashable {
    public var kind: JobReferenceKind?
    public var name: String?

    public init(kind: JobReferenceKind? = nil, name: String? = nil) {
        self.kind = kind
        self.name = name
    }
}

public enum JobReferenceKind: String, Codable, Sendable, Hashable, CaseIterable {
    case flinkDeployment = "FlinkDeployment"
    case flinkSessionJob = "FlinkSessionJob"

    public var resourceKind: ResourceKind { self == .flinkDeployment ? .flinkDeployment : .flinkSessionJob }
}

/// Upstream `SavepointSpec`.
public struct SavepointSpec: Codable, Sendable, Hashable {
    /// The target directory (default: the job's `execution.checkpointing.savepoint-dir`, else
    /// Flinklet's savepoint directory of the resource); with `alreadyExists`, the savepoint itself.
    public var path: String?
    public var formatType: SavepointFormatType?
    /// Delete the savepoint from disk when the resource is deleted (upstream default: true).
    public var disposeOnDelete: Bool?
    /// The savepoint exists at `path`: register it, trigger nothing.
    public var alreadyExists: Bool?

    public init(path: String? = nil, formatType: SavepointFormatType? = nil, disposeOnDelete: Bool? = nil, alreadyExists: Bool? = nil) {
        self.path = path
        self.formatType = formatType
        self.disposeOnDelete = disposeOnDelete
        self.alreadyExists = alreadyExists
    }

    public var effectiveFormatType: SavepointFormatType { formatType ?? .canonical }
    public var effectiveDisposeOnDelete: Bool { disposeOnDelete ?? true }
    public var effectiveAlreadyExists: Bool { alreadyExists ?? false }
}

/// Upstream `CheckpointSpec` (no fields in the CRD; the job's configured checkpoint type is taken).
public struct CheckpointSpec: Codable, Sendable, Hashable {
    public init() {}
}

/// Upstream `FlinkStateSnapshotStatus`. Flinklet adds `conditions` and `observedGeneration`, as
/// on every kind, so `wait --for=condition=Ready` works the same way.
public struct FlinkStateSnapshotStatus: Codable, Sendable, Hashable {
    public enum State: String, Codable, Sendable, Hashable, CaseIterable {
        case triggerPending = "TRIGGER_PENDING"
        case inProgress = "IN_PROGRESS"
        case completed = "COMPLETED"
        case failed = "FAILED"
        case abandoned = "ABANDONED"

        /// Nothing more happens to a snapshot in this state (a FAILED one with retries left is
        /// TRIGGER_PENDING again once its backoff is over).
        public var isTerminal: Bool { self == .completed || self == .abandoned }
    }

    public var state: State?
    /// Flink's trigger id of the snapshot in progress (Flinklet's own, recorded before the request).
    public var triggerId: String?
    /// RFC 3339.
    public var triggerTimestamp: String?
    /// RFC 3339: when the snapshot completed, failed or was abandoned.
    public var resultTimestamp: String?
    public var path: String?
    public var error: String?
    /// Failed attempts so far.
    public var failures: Int?
    public var observedGeneration: Int64?
    public var conditions: [Condition]?

    public init(state: State? = nil, triggerId: String? = nil, triggerTimestamp: String? = nil, resultTimestamp: String? = nil,
                path: String? = nil, error: String? = nil, failures: Int? = nil, observedGeneration: Int64? = nil, conditions: [Condition]? = nil) {
        self.state = state
        self.triggerId = triggerId
        self.triggerTimestamp = triggerTimestamp
        self.resultTimestamp = resultTimestamp
        self.path = path
        self.error = error
        self.failures = failures
        self.observedGeneration = observedGeneration
        self.conditions = conditions
    }
}

/// Upstream's snapshot labels (`CrdConstants`), computed from the spec and status as upstream's
/// controller sets them on every reconcile.
public enum SnapshotLabels {
    public static let type = "snapshot.type"
    public static let triggerType = "snapshot.trigger-type"
    public static let state = "snapshot.state"
    public static let jobReferenceKind = "job-reference.kind"
    public static let jobReferenceName = "job-reference.name"

    public static func of(spec: FlinkStateSnapshotSpec, status: FlinkStateSnapshotStatus?, triggerType: SnapshotTriggerType = .manual,
                          given: [String: String] = [:]) -> [String: String] {
        var labels = given
        labels[type] = spec.snapshotType
        labels[Self.triggerType] = given[Self.triggerType] ?? triggerType.rawValue
        if let state = status?.state { labels[Self.state] = state.rawValue }
        if let reference = spec.jobReference, let name = reference.name {
            labels[jobReferenceKind] = (reference.kind ?? .flinkDeployment).rawValue
            labels[jobReferenceName] = name
        }
        return labels
    }
}
