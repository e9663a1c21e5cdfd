import FlinkResources
import Foundation
import Store

/// Server-side printing (`Accept: application/json;as=Table;g=meta.k8s.io;v=v1`): the columns
/// `flinklet get` prints (NAME, JOB STATUS, LIFECYCLE STATE, READY, AGE; `-o wide` adds
/// GENERATION, OBSERVED, ERROR), upstream's columns for snapshots, kubectl's for events and
/// namespaces.
enum Tables {
    static func wantsTable(_ accept: String?) -> Bool {
        guard let accept else { return false }
        return accept.split(separator: ",").contains { part in
            part.split(separator: ";").contains { $0.trimmingCharacters(in: .whitespaces) == "as=Table" }
        }
    }

    struct Column {
        var name: String
        var type = "string"
        var format = ""
        var description: String
        var priority = 0

        var json: JSONValue {
            .object(["name": .string(name), "type": .string(type), "format": .string(format), "description": .string(description),
                     "priority": .int(Int64(priority))])
        }
    }

    static func columns(for kind: ResourceKind) -> [Column] {
        let name = Column(name: "Name", format: "name", description: "Name must be unique within a namespace.")
        let age = Column(name: "Age", type: "date", description: "Time since creation")
        if kind == .flinkStateSnapshot {
            return [name, Column(name: "Path", description: "Location of the snapshot"),
                    Column(name: "Result Timestamp", description: "When the snapshot completed or failed"),
                    Column(name: "Snapshot State", description: "State of the snapshot"), age,
                    Column(name: "Error", description: "The last error", priority: 1)]
        }
        return [name, Column(name: "Job Status", description: "Flink job status"),
                Column(name: "Lifecycle State", description: "Lifecycle state of the resource"),
                Column(name: "Ready", description: "The Ready condition"), age,
                Column(name: "Generation", type: "integer", description: "metadata.generation", priority: 1),
                Column(name: "Observed", type: "integer", description: "status.observedGeneration", priority: 1),
                Column(name: "Error", description: "status.error", priority: 1)]
    }

    static func cells(_ object: CachedObject, now: Date) -> [JSONValue] {
        let record = object.record
        let s = object.summary
        let age = JSONValue.string(HumanDuration.since(record.createdAt, now: now))
        if record.kind == .flinkStateSnapshot {
            return [.string(record.name), .string(s.snapshotPath ?? ""), .string(s.snapshotResult ?? ""), .string(s.snapshotState ?? ""),
                    age, .string(s.error ?? "")]
        }
        return [.string(record.name), .string(s.jobState ?? ""), .string(s.lifecycle ?? ""), .string(s.ready), age,
                .int(record.generation), s.observedGeneration.map(JSONValue.int) ?? .null, .string(s.error ?? "")]
    }

    enum Include: String { case none = "None", metadata = "Metadata", object = "Object" }

    static func row(_ object: CachedObject, include: Include, now: Date) -> JSONValue {
        var row: [String: JSONValue] = ["cells": .array(cells(object, now: now))]
        switch include {
        case .none: break
        case .metadata:
            row["object"] = .object(["kind": .string("PartialObjectMetadata"), "apiVersion": .string("meta.k8s.io/v1"),
                                     "metadata": object.metadata])
        case .object:
            row["object"] = JSONText.parse(object.json) ?? .null
        }
        return .object(row)
    }

    static func table(columns: [Column]?, rows: [JSONValue], revision: Int64, continueToken: String? = nil) -> JSONValue {
        var metadata: [String: JSONValue] = ["resourceVersion": .string(String(revision))]
        if let continueToken { metadata["continue"] = .string(continueToken) }
        return .object([
            "kind": .string("Table"), "apiVersion": .string("meta.k8s.io/v1"), "metadata": .object(metadata),
            "columnDefinitions": .array((columns ?? []).map(\.json)), "rows": .array(rows),
        ])
    }

    // MARK: Events and namespaces

    static let eventColumns: [Column] = [
        Column(name: "Last Seen", description: "Time since the event was last seen"),
        Column(name: "Type", description: "Type of this event"),
        Column(name: "Reason", description: "Why the event happened"),
        Column(name: "Object", description: "The object the event is about"),
        Column(name: "Message", description: "A human-readable description"),
        Column(name: "Source", description: "The component reporting this event", priority: 1),
        Column(name: "First Seen", description: "Time since the event was first seen", priority: 1),
        Column(name: "Count", type: "integer", description: "How many times the event happened", priority: 1),
        Column(name: "Name", format: "name", description: "The event's name", priority: 1),
    ]

    static func eventRow(_ event: JSONValue, now: Date) -> JSONValue {
        func since(_ key: String) -> String {
            event[key]?.stringValue.flatMap { RFC3339.date(from: $0) }.map { HumanDuration.since($0, now: now) } ?? "<unknown>"
        }
        let involved = event["involvedObject"]
        let object = "\((involved?["kind"]?.stringValue ?? "").lowercased())/\(involved?["name"]?.stringValue ?? "")"
        return .object([
            "cells": .array([.string(since("lastTimestamp")), event["type"] ?? .null, event["reason"] ?? .null, .string(object),
                             event["message"] ?? .null, .string(event["source"]?["component"]?.stringValue ?? ""),
                             .string(since("firstTimestamp")), event["count"] ?? .null, event["metadata"]?["name"] ?? .null]),
            "object": .object(["kind": .string("PartialObjectMetadata"), "apiVersion": .string("meta.k8s.io/v1"),
                               "metadata": event["metadata"] ?? .object([:])]),
        ])
    }

    static let namespaceColumns: [Column] = [
        Column(name: "Name", format: "name", description: "Name of the namespace"),
        Column(name: "Status", description: "The phase of the namespace"),
        Column(name: "Age", type: "date", description: "Time since creation"),
    ]

    static func namespaceRow(_ namespace: JSONValue, created: Date, now: Date) -> JSONValue {
        .object([
            "cells": .array([namespace["metadata"]?["name"] ?? .null, .string("Active"), .string(HumanDuration.since(created, now: now))]),
            "object": .object(["kind": .string("PartialObjectMetadata"), "apiVersion": .string("meta.k8s.io/v1"),
                               "metadata": namespace["metadata"] ?? .object([:])]),
        ])
    }
}
