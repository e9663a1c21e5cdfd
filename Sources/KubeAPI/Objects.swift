import FlinkResources
import Foundation
import Store

/// How the Store's records look through the Kubernetes API: `flink.apache.org/v1beta1`
/// objects with server-set metadata (uid, generation, resourceVersion, creationTimestamp,
/// deletionTimestamp) and their status, `v1` Events and `v1` Namespaces.
enum APIObjects {
    static let eventsAPIVersion = "v1"

    /// The object of a record: apiVersion, kind, metadata, spec (the spec the manifest last
    /// gave validly) and status.
    static func object(_ record: ResourceRecord) -> JSONValue {
        var object: [String: JSONValue] = [
            "apiVersion": .string(FlinkAPI.apiVersion),
            "kind": .string(record.kind.rawValue),
            "metadata": metadata(record),
        ]
        let spec = JSONText.parse(record.spec) ?? .object([:])
        if record.kind == .flinkDeployment || record.kind == .flinkSessionJob || spec != .object([:]) { object["spec"] = spec }
        if let status = record.status.flatMap(JSONText.parse) { object["status"] = status }
        return .object(object)
    }

    static func metadata(_ record: ResourceRecord) -> JSONValue {
        var metadata: [String: JSONValue] = [
            "name": .string(record.name),
            "namespace": .string(record.namespace),
            "uid": .string(record.uid),
            "generation": .int(record.generation),
            "resourceVersion": .string(String(record.revision)),
            "creationTimestamp": .string(timestamp(record.createdAt)),
        ]
        let recorded = record.resourceMetadata
        if let labels = recorded.labels { metadata["labels"] = .strings(labels) }
        if let annotations = recorded.annotations { metadata["annotations"] = .strings(annotations) }
        if let deletedAt = record.deletedAt {
            metadata["deletionTimestamp"] = .string(timestamp(deletedAt))
            metadata["deletionGracePeriodSeconds"] = .int(0)
        }
        return .object(metadata)
    }

    /// The figures the table columns and field selectors read, taken once from a record.
    struct Summary: Sendable, Hashable {
        var jobState: String?
        var lifecycle: String?
        var ready: String
        var error: String?
        var observedGeneration: Int64?
        var snapshotPath: String?
        var snapshotResult: String?
        var snapshotState: String?

        init(_ record: ResourceRecord) {
            let status = record.status.flatMap(JSONText.parse)
            jobState = status?["jobStatus"]?["state"]?.stringValue
            lifecycle = status?["lifecycleState"]?.stringValue
            error = status?["error"]?.stringValue
            if case .int(let g)? = status?["observedGeneration"] { observedGeneration = g }
            var ready = "Unknown"
            if case .array(let conditions)? = status?["conditions"] {
                for condition in conditions where condition["type"]?.stringValue == "Ready" {
                    ready = condition["status"]?.stringValue ?? "Unknown"
                }
            }
            self.ready = ready
            snapshotPath = status?["path"]?.stringValue
            snapshotResult = status?["resultTimestamp"]?.stringValue
            snapshotState = status?["state"]?.stringValue
        }
    }

    // MARK: Events

    /// A `v1` Event of a recorded event (`involvedObject`, reason, count, first and last time).
    static func event(_ event: EventRecord, involved: ResourceID, uid: String?) -> JSONValue {
        let id = event.id ?? 0
        var involvedObject: [String: JSONValue] = [
            "apiVersion": .string(FlinkAPI.apiVersion),
            "kind": .string(involved.kind.rawValue),
            "namespace": .string(involved.namespace),
            "name": .string(involved.name),
        ]
        if let uid { involvedObject["uid"] = .string(uid) }
        return .object([
            "apiVersion": .string("v1"),
            "kind": .string("Event"),
            "metadata": .object([
                "name": .string("\(involved.name).\(String(id, radix: 16))"),
                "namespace": .string(involved.namespace),
                "uid": .string(eventUID(id)),
                "resourceVersion": .string(String(id)),
                "creationTimestamp": .string(timestamp(event.firstTimestamp)),
            ]),
            "involvedObject": .object(involvedObject),
            "reason": .string(event.reason),
            "message": .string(event.message),
            "type": .string(event.type.rawValue),
            "count": .int(Int64(event.count)),
            "firstTimestamp": .string(timestamp(event.firstTimestamp)),
            "lastTimestamp": .string(timestamp(event.lastTimestamp)),
            "source": .object(["component": .string(event.source)]),
            "reportingComponent": .string(event.source),
        ])
    }

    static func eventUID(_ id: Int64) -> String {
        let hex = String(UInt64(bitPattern: id), radix: 16)
        let padded = String(repeating: "0", count: max(0, 12 - hex.count)) + hex
        return "00000000-0000-4000-8000-" + padded.suffix(12)
    }

    // MARK: Namespaces

    static func namespace(_ name: String, created: Date) -> JSONValue {
        .object([
            "apiVersion": .string("v1"),
            "kind": .string("Namespace"),
            "metadata": .object([
                "name": .string(name),
                "uid": .string(namespaceUID(name)),
                "resourceVersion": .string("1"),
                "creationTimestamp": .string(timestamp(created)),
                "labels": .strings(["kubernetes.io/metadata.name": name]),
            ]),
            "spec": .object(["finalizers": .array([.string("kubernetes")])]),
            "status": .object(["phase": .string("Active")]),
        ])
    }

    /// A stable uid for a namespace, from its name.
    static func namespaceUID(_ name: String) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in name.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        let hex = String(hash, radix: 16)
        let padded = String(repeating: "0", count: 16 - hex.count) + hex
        return "\(padded.prefix(8))-\(padded.dropFirst(8).prefix(4))-4\(padded.dropFirst(13).prefix(3))-8000-000000000000"
    }
}
