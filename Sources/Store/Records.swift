import FlinkResources
import Foundation

/// What the operator knows about one resource: its identity, the spec last read from its
/// manifest, the spec last acted on, and its status.
///
/// Times are kept to the millisecond: the initializer rounds them, so a record reads back from
/// the Store equal to the one written.
public struct ResourceRecord: Codable, Sendable, Hashable {
    public var kind: ResourceKind
    public var namespace: String
    public var name: String
    /// A UUID assigned when the resource is first stored and kept until it is deleted: the Store
    /// keeps the stored uid when a record for an existing key is upserted.
    public var uid: String
    /// `metadata.generation`: increased by the operator on every spec change.
    public var generation: Int64
    public var specHash: String
    /// The spec as last read from the manifest, as JSON.
    public var spec: String
    /// The spec the operator last acted on, as JSON; nil before the first reconcile.
    public var lastReconciledSpec: String?
    /// The status as JSON (see `deploymentStatus()`, `sessionJobStatus()`, `setStatus(_:)`).
    public var status: String?
    /// The manifest file the resource was read from.
    public var file: String?
    /// When the resource was first stored; kept by the Store like `uid`.
    public var createdAt: Date
    public var updatedAt: Date
    /// The Store's revision when this record was last written (the Kubernetes API's
    /// `resourceVersion`): assigned by the Store on every upsert, ignored when writing.
    public var revision: Int64 = 0
    /// The manifest's labels and annotations as JSON (`ResourceMetadata`); nil before recorded.
    public var metadata: String?
    /// When the operator saw the resource's manifest go: it is being torn down (the Kubernetes
    /// API's `deletionTimestamp`); nil while a manifest defines it.
    public var deletedAt: Date?

    public init(id: ResourceID, uid: String = UUID().uuidString.lowercased(), generation: Int64 = 1,
                specHash: String, spec: String, lastReconciledSpec: String? = nil, status: String? = nil,
                file: String? = nil, createdAt: Date = Date(), updatedAt: Date? = nil) {
        self.kind = id.kind
        self.namespace = id.namespace
        self.name = id.name
        self.uid = uid
        self.generation = generation
        self.specHash = specHash
        self.spec = spec
        self.lastReconciledSpec = lastReconciledSpec
        self.status = status
        self.file = file
        self.createdAt = createdAt.roundedToMilliseconds
        self.updatedAt = (updatedAt ?? createdAt).roundedToMilliseconds
    }

    public var id: ResourceID { ResourceID(kind: kind, namespace: namespace, name: name) }
    /// The Store key: `FlinkDeployment/default/my-app`.
    public var key: String { id.key }
}

/// The metadata a record keeps of its manifest besides name and namespace.
public struct ResourceMetadata: Codable, Sendable, Hashable {
    public var labels: [String: String]?
    public var annotations: [String: String]?

    public init(labels: [String: String]?, annotations: [String: String]?) {
        self.labels = labels?.isEmpty == true ? nil : labels
        self.annotations = annotations?.isEmpty == true ? nil : annotations
    }
}

extension ResourceRecord {
    /// The recorded labels and annotations (empty when none are recorded).
    public var resourceMetadata: ResourceMetadata {
        metadata.flatMap { try? JSONDecoder().decode(ResourceMetadata.self, from: Data($0.utf8)) }
            ?? ResourceMetadata(labels: nil, annotations: nil)
    }

    /// Records labels and annotations.
    public mutating func setMetadata(_ value: ResourceMetadata) throws {
        metadata = try Self.json(value)
    }

    /// The resource as last recorded: its spec, with name, namespace, labels and annotations;
    /// nil when the spec cannot be decoded (or none was ever valid).
    public var resource: FlinkResource? {
        let data = Data(spec.utf8)
        let recorded = resourceMetadata
        let metadata = ObjectMeta(name: name, namespace: namespace, labels: recorded.labels, annotations: recorded.annotations)
        switch kind {
        case .flinkDeployment:
            return (try? JSONDecoder().decode(FlinkDeploymentSpec.self, from: data)).map { .deployment(FlinkDeployment(metadata: metadata, spec: $0)) }
        case .flinkSessionJob:
            return (try? JSONDecoder().decode(FlinkSessionJobSpec.self, from: data)).map { .sessionJob(FlinkSessionJob(metadata: metadata, spec: $0)) }
        case .flinkStateSnapshot:
            return (try? JSONDecoder().decode(FlinkStateSnapshotSpec.self, from: data)).map { .snapshot(FlinkStateSnapshot(metadata: metadata, spec: $0)) }
        }
    }
}

/// A resource the Store forgot, kept for watchers for a while: its last record, and the
/// revision of its deletion.
public struct DeletedResource: Sendable, Hashable {
    public var revision: Int64
    public var record: ResourceRecord
}

// MARK: - Status JSON

extension ResourceRecord {
    /// The JSON form the Store keeps specs and statuses in: keys sorted, so equal values are
    /// equal strings and diffs are stable.
    public static func json(_ value: some Encodable) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    /// Decodes JSON written by `json(_:)`; a failure names this record.
    public func decode<T: Decodable>(_ type: T.Type, from json: String, field: String) throws(StoreError) -> T {
        do {
            return try JSONDecoder().decode(type, from: Data(json.utf8))
        } catch {
            throw .invalidRecord(key: key, message: "\(field) is not a valid \(type): \(error)")
        }
    }

    /// The status of a `FlinkDeployment`; nil when none is stored.
    public func deploymentStatus() throws(StoreError) -> FlinkDeploymentStatus? {
        try status.map { json throws(StoreError) in try decode(FlinkDeploymentStatus.self, from: json, field: "status") }
    }

    /// The status of a `FlinkSessionJob`; nil when none is stored.
    public func sessionJobStatus() throws(StoreError) -> FlinkSessionJobStatus? {
        try status.map { json throws(StoreError) in try decode(FlinkSessionJobStatus.self, from: json, field: "status") }
    }

    /// The status of a `FlinkStateSnapshot`; nil when none is stored.
    public func snapshotStatus() throws(StoreError) -> FlinkStateSnapshotStatus? {
        try status.map { json throws(StoreError) in try decode(FlinkStateSnapshotStatus.self, from: json, field: "status") }
    }

    /// The status typed by the record's kind (an empty one when none is stored).
    public func typedStatus() throws(StoreError) -> AnyResourceStatus {
        switch kind {
        case .flinkDeployment: .deployment(try deploymentStatus() ?? FlinkDeploymentStatus())
        case .flinkSessionJob: .sessionJob(try sessionJobStatus() ?? FlinkSessionJobStatus())
        case .flinkStateSnapshot: .snapshot(try snapshotStatus() ?? FlinkStateSnapshotStatus())
        }
    }

    /// Replaces the status with a typed one.
    public mutating func setStatus(_ status: AnyResourceStatus) throws {
        switch status {
        case .deployment(let value): try setStatus(value)
        case .sessionJob(let value): try setStatus(value)
        case .snapshot(let value): try setStatus(value)
        }
    }

    /// Replaces the status (nil clears it).
    public mutating func setStatus(_ status: FlinkStateSnapshotStatus?) throws {
        self.status = try status.map(Self.json)
    }

    /// Replaces the status (nil clears it).
    public mutating func setStatus(_ status: FlinkDeploymentStatus?) throws {
        self.status = try status.map(Self.json)
    }

    /// Replaces the status (nil clears it).
    public mutating func setStatus(_ status: FlinkSessionJobStatus?) throws {
        self.status = try status.map(Self.json)
    }
}

// MARK: - Events

/// `type` of an event, as Kubernetes spells it.
public enum EventType: String, Codable, Sendable, Hashable, CaseIterable {
    case normal = "Normal"
    case warning = "Warning"
}

/// A Kubernetes-style event about a resource. Repeats of the same (resource, type, reason,
/// message) are one event with a count and a first and last time.
public struct EventRecord: Codable, Sendable, Hashable {
    /// Assigned by the Store; nil for an event not yet recorded.
    public var id: Int64?
    /// The resource key the event is about.
    public var key: String
    public var type: EventType
    /// An upstream reason: `Submit`, `SpecChanged`, `ValidationError`, ...
    public var reason: String
    public var message: String
    /// How many times the event happened.
    public var count: Int
    public var firstTimestamp: Date
    public var lastTimestamp: Date
    /// The component that reported it.
    public var source: String

    public init(id: Int64? = nil, key: String, type: EventType, reason: String, message: String, count: Int = 1,
                firstTimestamp: Date = Date(), lastTimestamp: Date? = nil, source: String = "flinklet") {
        self.id = id
        self.key = key
        self.type = type
        self.reason = reason
        self.message = message
        self.count = count
        self.firstTimestamp = firstTimestamp.roundedToMilliseconds
        self.lastTimestamp = (lastTimestamp ?? firstTimestamp).roundedToMilliseconds
        self.source = source
    }
}

// MARK: - Pods

/// What a restarted operator needs to re-adopt a pod it started: the process group, and the
/// process start time that tells the original process from a later one that reused its pid.
public struct PodRecordRow: Codable, Sendable, Hashable {
    /// The pod name: `<deployment>-jobmanager-0`.
    public var name: String
    /// The resource key of the pod's owner.
    public var owner: String
    public var pid: Int32
    public var pgid: Int32
    /// Field 22 of `/proc/PID/stat` (start time in clock ticks after boot).
    public var processStartTicks: UInt64
    public var specHash: String
    /// The Runtime's description of the pod; opaque to the Store.
    public var spec: Data
    public var startedAt: Date

    public init(name: String, owner: String, pid: Int32, pgid: Int32, processStartTicks: UInt64, specHash: String,
                spec: Data, startedAt: Date = Date()) {
        self.name = name
        self.owner = owner
        self.pid = pid
        self.pgid = pgid
        self.processStartTicks = processStartTicks
        self.specHash = specHash
        self.spec = spec
        self.startedAt = startedAt.roundedToMilliseconds
    }
}
