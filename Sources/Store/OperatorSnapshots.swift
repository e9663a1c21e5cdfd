import FlinkResources
import Foundation

/// The savepoints Flinklet takes itself (upgrade, periodic, manual nonce, suspend, deletion),
/// listed as `FlinkStateSnapshot` resources, as upstream lists them when
/// `kubernetes.operator.snapshot.resource.enabled` is on.
///
/// They are the operator's objects: they live in the Store, as the savepoint history of the job
/// that took them (`status.jobStatus.savepointInfo.savepointHistory`), and are never written
/// into the manifest directory. Each history entry reads as one COMPLETED snapshot named as
/// upstream names them (`<resource>-savepoint-<trigger type>-<epoch millis>`) with upstream's
/// labels; it goes when the history's cleanup (`kubernetes.operator.savepoint.history.*`)
/// disposes of the savepoint, as upstream deletes the resource then. Being derived, they can
/// never disagree with the history the operator restores from.
public enum OperatorSnapshots {
    /// Marks a snapshot as the operator's (an annotation in `get -o yaml`).
    public static let ownerAnnotation = "flinklet.dev/created-by"

    /// Every operator snapshot of `records` (the records of deployments and session jobs).
    public static func records(from records: [ResourceRecord]) -> [ResourceRecord] {
        records.flatMap(self.records(of:))
    }

    /// Upstream's switch: `"false"` in a resource's configuration lists none of its savepoints.
    public static let enabledKey = "kubernetes.operator.snapshot.resource.enabled"

    /// The operator snapshots of one deployment's or session job's record.
    public static func records(of record: ResourceRecord) -> [ResourceRecord] {
        guard record.kind != .flinkStateSnapshot, enabled(record),
              let status = try? PodlessStatus.decode(record),
              let history = status.jobStatus?.savepointInfo?.savepointHistory else { return [] }
        let referenceKind: JobReferenceKind = record.kind == .flinkDeployment ? .flinkDeployment : .flinkSessionJob
        return history.compactMap { savepoint in
            let trigger = savepoint.triggerType ?? .unknown
            let name = "\(record.name)-savepoint-\(trigger.rawValue.lowercased())-\(savepoint.timeStamp)"
            let spec = FlinkStateSnapshotSpec(
                jobReference: JobReference(kind: referenceKind, name: record.name),
                savepoint: SavepointSpec(path: savepoint.location, formatType: savepoint.formatType ?? .canonical, disposeOnDelete: false, alreadyExists: true))
            let time = Date(timeIntervalSince1970: Double(savepoint.timeStamp) / 1000)
            let timestamp = RFC3339.string(from: time)
            let snapshotStatus = FlinkStateSnapshotStatus(
                state: .completed, triggerTimestamp: timestamp, resultTimestamp: timestamp, path: savepoint.location, failures: 0,
                observedGeneration: 1,
                conditions: [Condition(type: "Ready", status: .true, reason: "Completed",
                                       message: "\(trigger.rawValue.lowercased()) savepoint of \(record.kind.rawValue) \(record.name) taken by the operator",
                                       observedGeneration: 1, lastTransitionTime: timestamp)])
            guard let specJSON = try? ResourceRecord.json(spec) else { return nil }
            var snapshot = ResourceRecord(id: ResourceID(kind: .flinkStateSnapshot, namespace: record.namespace, name: name),
                                          uid: uid(of: record, savepoint: savepoint), generation: 1, specHash: StableHash.of(spec), spec: specJSON,
                                          file: nil, createdAt: time)
            try? snapshot.setStatus(snapshotStatus)
            return snapshot
        }
    }

    static func enabled(_ record: ResourceRecord) -> Bool {
        let data = Data(record.spec.utf8)
        let configuration: FlinkConfiguration? = switch record.kind {
        case .flinkDeployment: (try? JSONDecoder().decode(FlinkDeploymentSpec.self, from: data))?.flinkConfiguration
        case .flinkSessionJob: (try? JSONDecoder().decode(FlinkSessionJobSpec.self, from: data))?.flinkConfiguration
        case .flinkStateSnapshot: nil
        }
        return configuration?[enabledKey]?.lowercased() != "false"
    }

    /// The trigger type of an operator snapshot's record (from its name), or nil for a snapshot
    /// read from a manifest.
    public static func triggerType(of record: ResourceRecord) -> SnapshotTriggerType? {
        guard record.kind == .flinkStateSnapshot, record.file == nil else { return nil }
        let parts = record.name.split(separator: "-")
        guard parts.count >= 3, parts[parts.count - 3] == "savepoint" else { return nil }
        return SnapshotTriggerType(rawValue: parts[parts.count - 2].uppercased())
    }

    /// A stable uid: the same snapshot reads with the same uid every time.
    static func uid(of record: ResourceRecord, savepoint: Savepoint) -> String {
        let hash = StableHash.of(bytes: Array("\(record.uid)#\(savepoint.location)#\(savepoint.timeStamp)".utf8))
            + StableHash.of(bytes: Array("\(savepoint.location)#\(record.uid)".utf8))
        let h = Array(hash)
        return "\(String(h[0..<8]))-\(String(h[8..<12]))-\(String(h[12..<16]))-\(String(h[16..<20]))-\(String(h[20..<32]))"
    }
}

/// The job status of a deployment's or session job's record.
private enum PodlessStatus {
    static func decode(_ record: ResourceRecord) throws -> (any ResourceStatus)? {
        switch record.kind {
        case .flinkDeployment: try record.deploymentStatus()
        case .flinkSessionJob: try record.sessionJobStatus()
        case .flinkStateSnapshot: nil
        }
    }
}

extension Store {
    /// Every resource, with the operator's snapshots (`OperatorSnapshots`) after the records.
    public func resourcesWithOperatorSnapshots() throws -> [ResourceRecord] {
        let records = try resources()
        return records + OperatorSnapshots.records(from: records)
    }

    /// The resource of `key`, or the operator snapshot of that name.
    public func resourceOrOperatorSnapshot(_ key: String) throws -> ResourceRecord? {
        if let record = try resource(key) { return record }
        guard key.hasPrefix(ResourceKind.flinkStateSnapshot.rawValue + "/") else { return nil }
        return OperatorSnapshots.records(from: try resources()).first { $0.key == key }
    }
}
