import FlinkResources
import Foundation

/// Who owns which field of an object: Kubernetes' `metadata.managedFields`, as server-side
/// apply (structured-merge-diff) keeps them, for Flinklet's kinds.
///
/// Fields are the leaves of the parts of an object a manifest sets: `metadata.labels.*`,
/// `metadata.annotations.*`, and everything under `spec` (and any other top-level field but
/// `apiVersion`, `kind`, `metadata` and `status`, which the server owns). Objects are
/// granular (each member is a field of its own); lists are atomic (the custom resources'
/// schema declares no list keys, so a list is owned and replaced whole, as Kubernetes does for
/// a CRD list without `x-kubernetes-list-type`); an empty object is a leaf.
///
/// Semantics (Kubernetes' server-side apply):
/// - **Update** (create, replace, merge or JSON patch), by manager U: every leaf whose value
///   changed becomes U's (an `Update` entry), taken from every other manager without a
///   conflict; a leaf that disappeared is nobody's.
/// - **Apply** of a configuration C by manager M: a leaf of C that another manager owns and
///   whose live value differs from C's is a conflict (409 naming the manager and the field)
///   unless `force`, which takes it from them; a leaf set to the same value is shared. M's
///   `Apply` entry becomes exactly C's leaves; a leaf M applied before, left out of C now and
///   owned by nobody else, is removed from the object.
struct ManagedFields: Sendable, Equatable {
    /// A field: the member names from the object's root (`["spec", "job", "parallelism"]`).
    typealias Path = [String]

    enum Operation: String, Sendable { case apply = "Apply", update = "Update" }

    struct Entry: Sendable, Equatable {
        var manager: String
        var operation: Operation
        var time: Date
        var fields: Set<Path>
    }

    /// One field another manager owns with a different value.
    struct Conflict: Sendable, Equatable {
        var manager: String
        var operation: Operation
        var path: Path
    }

    struct Conflicts: Error, Sendable { var conflicts: [Conflict] }

    /// The manager Kubernetes names for fields that existed before the first apply
    /// (an object no manager was recorded for: here, a manifest written by hand).
    static let beforeFirstApply = "before-first-apply"
    /// The manager of changes made to the manifest file outside the API (an editor, `git pull`,
    /// `flinklet apply`).
    static let manifestFile = "manifest-file"

    var entries: [Entry] = []

    /// Everything in `object` owned by `manager` (an `Update` entry), as Kubernetes records an
    /// object nobody applied before.
    static func owned(by manager: String, _ object: JSONValue, now: Date) -> ManagedFields {
        let fields = Set(leaves(of: object).keys)
        return ManagedFields(entries: fields.isEmpty ? [] : [Entry(manager: manager, operation: .update, time: now, fields: fields)])
    }

    // MARK: Leaves

    /// The tracked leaves of an object and their values.
    static func leaves(of object: JSONValue) -> [Path: JSONValue] {
        var result: [Path: JSONValue] = [:]
        guard case .object(let members) = object else { return result }
        func walk(_ path: Path, _ value: JSONValue) {
            switch value {
            case .null: return
            case .object(let o) where !o.isEmpty:
                for (key, child) in o { walk(path + [key], child) }
            default: result[path] = value
            }
        }
        for (key, value) in members where !["apiVersion", "kind", "metadata", "status"].contains(key) { walk([key], value) }
        for map in ["labels", "annotations"] {
            if case .object(let o)? = members["metadata"]?[field: map] {
                for (key, value) in o where value != .null { result[["metadata", map, key]] = value }
            }
        }
        return result
    }

    /// The value at `path` (nil when absent).
    static func value(_ object: JSONValue, at path: Path) -> JSONValue? {
        var current: JSONValue? = object
        for key in path { current = current?[field: key] }
        return current
    }

    // MARK: Operations

    /// An update by `manager` from `old` to `new`.
    mutating func update(from old: JSONValue, to new: JSONValue, manager: String, now: Date) {
        let before = Self.leaves(of: old)
        let after = Self.leaves(of: new)
        let changed = Set(after.filter { before[$0.key] != $0.value }.keys)
        let removed = Set(before.keys).subtracting(after.keys)
        let taken = changed.union(removed)
        guard !taken.isEmpty else { return }
        for i in entries.indices { entries[i].fields.subtract(taken) }
        if !changed.isEmpty {
            if let i = entries.firstIndex(where: { $0.manager == manager && $0.operation == .update }) {
                entries[i].fields.formUnion(changed)
                entries[i].time = now
            } else {
                entries.append(Entry(manager: manager, operation: .update, time: now, fields: changed))
            }
        }
        entries.removeAll { $0.fields.isEmpty }
    }

    /// Applies `config` by `manager` onto `live`; the object after it.
    /// - Throws: `Conflicts` when another manager owns a field `config` sets to another value
    ///   and `force` is false (nothing changes then).
    mutating func apply(_ config: JSONValue, to live: JSONValue, manager: String, force: Bool, now: Date) throws(Conflicts) -> JSONValue {
        let config = Self.withoutNulls(config)
        let applied = Self.leaves(of: config)
        var conflicts: [Conflict] = []
        var taken: [Int: Set<Path>] = [:]
        for (i, entry) in entries.enumerated() where !(entry.manager == manager && entry.operation == .apply) {
            for owned in entry.fields {
                // The shorter of two nested paths decides: its value differs, or they agree.
                let overlap: Path? = applied[owned] != nil ? owned
                    : applied.keys.first { $0.count < owned.count && Array(owned.prefix($0.count)) == $0 }
                    ?? (applied.keys.contains { $0.count > owned.count && Array($0.prefix(owned.count)) == owned } ? owned : nil)
                guard let overlap, Self.value(live, at: overlap) != Self.value(config, at: overlap) else { continue }
                conflicts.append(Conflict(manager: entry.manager, operation: entry.operation, path: owned))
                taken[i, default: []].insert(owned)
            }
        }
        if !conflicts.isEmpty, !force {
            throw Conflicts(conflicts: conflicts.sorted { ($0.manager, $0.path.joined(separator: ".")) < ($1.manager, $1.path.joined(separator: ".")) })
        }
        for (i, paths) in taken { entries[i].fields.subtract(paths) }

        var result = Patch.apply(live, config)
        let mine = entries.firstIndex { $0.manager == manager && $0.operation == .apply }
        let before = mine.map { entries[$0].fields } ?? []
        for path in before.subtracting(applied.keys) {
            let ownedElsewhere = entries.enumerated().contains { i, entry in
                i != mine && entry.fields.contains { $0 == path || ($0.count > path.count && Array($0.prefix(path.count)) == path) }
            }
            if !ownedElsewhere { result = Self.removing(path, from: result) }
        }
        if let mine {
            entries[mine].fields = Set(applied.keys)
            entries[mine].time = now
        } else {
            entries.append(Entry(manager: manager, operation: .apply, time: now, fields: Set(applied.keys)))
        }
        entries.removeAll { $0.fields.isEmpty }
        return result
    }

    static func withoutNulls(_ value: JSONValue) -> JSONValue {
        guard case .object(let o) = value else { return value }
        return .object(o.filter { $0.value != .null }.mapValues(withoutNulls))
    }

    /// `object` without the member at `path`, and without the objects that held only it.
    static func removing(_ path: Path, from object: JSONValue) -> JSONValue {
        guard let first = path.first, case .object(var o) = object else { return object }
        if path.count == 1 {
            o[first] = nil
        } else if let child = o[first] {
            let rest = removing(Array(path.dropFirst()), from: child)
            o[first] = rest == .object([:]) ? nil : rest
        }
        return .object(o)
    }

    // MARK: The Kubernetes form

    /// `metadata.managedFields`: `[{manager, operation, apiVersion, time, fieldsType, fieldsV1}]`.
    var json: JSONValue {
        .array(entries.map { entry in
            .object([
                "manager": .string(entry.manager),
                "operation": .string(entry.operation.rawValue),
                "apiVersion": .string(FlinkAPI.apiVersion),
                "time": .string(timestamp(entry.time)),
                "fieldsType": .string("FieldsV1"),
                "fieldsV1": Self.fieldsV1(entry.fields),
            ])
        })
    }

    /// Reads `metadata.managedFields` (nil when it is not a valid list of entries).
    init?(json: JSONValue) {
        guard case .array(let items) = json else { return nil }
        for item in items {
            guard let manager = item["manager"]?.stringValue, let operation = item["operation"]?.stringValue.flatMap(Operation.init(rawValue:)),
                  item["fieldsType"]?.stringValue ?? "FieldsV1" == "FieldsV1" else { return nil }
            let time = item["time"]?.stringValue.flatMap(RFC3339.date(from:)) ?? Date()
            entries.append(Entry(manager: manager, operation: operation, time: time, fields: Self.fields(item["fieldsV1"] ?? .object([:]))))
        }
    }

    init(entries: [Entry] = []) { self.entries = entries }

    /// FieldsV1: `{"f:spec": {"f:job": {"f:parallelism": {}}}}`; `".": {}` marks a member
    /// that is itself a field and holds others.
    static func fieldsV1(_ fields: Set<Path>) -> JSONValue {
        final class Node {
            var children: [String: Node] = [:]
            var isField = false
        }
        let root = Node()
        for path in fields {
            var node = root
            for key in path {
                let next = node.children["f:" + key] ?? Node()
                node.children["f:" + key] = next
                node = next
            }
            node.isField = true
        }
        func encode(_ node: Node) -> JSONValue {
            var object = node.children.mapValues(encode)
            if node.isField, !node.children.isEmpty { object["."] = .object([:]) }
            return .object(object)
        }
        return encode(root)
    }

    static func fields(_ fieldsV1: JSONValue) -> Set<Path> {
        var result: Set<Path> = []
        func walk(_ path: Path, _ node: JSONValue) {
            guard case .object(let o) = node, !o.isEmpty else {
                if !path.isEmpty { result.insert(path) }
                return
            }
            for (key, child) in o {
                if key == "." {
                    if !path.isEmpty { result.insert(path) }
                } else if key.hasPrefix("f:") {
                    walk(path + [String(key.dropFirst(2))], child)
                } else {
                    // List keys (`k:`, `v:`, `i:`): lists are atomic here; kept as one opaque member.
                    walk(path + ["\u{0}" + key], child)
                }
            }
        }
        walk([], fieldsV1)
        return result
    }

    /// A path as Kubernetes prints it: `.spec.job.parallelism`.
    static func printed(_ path: Path) -> String { path.map { "." + $0 }.joined() }
}

extension ManagedFields.Conflicts {
    /// The API server's answer: 409 Conflict, `Apply failed with N conflicts: ...`, one cause
    /// (`FieldManagerConflict`) per field.
    var apiError: APIError {
        func manager(_ c: ManagedFields.Conflict) -> String {
            c.operation == .update ? "\"\(c.manager)\" using \(FlinkAPI.apiVersion)" : "\"\(c.manager)\""
        }
        let message: String
        if conflicts.count == 1 {
            message = "Apply failed with 1 conflict: conflict with \(manager(conflicts[0])): \(ManagedFields.printed(conflicts[0].path))"
        } else {
            var lines: [String] = []
            var seen: [String] = []
            for c in conflicts where !seen.contains(manager(c)) {
                seen.append(manager(c))
                lines.append("conflicts with \(manager(c)):")
                for other in conflicts where manager(other) == manager(c) { lines.append("- \(ManagedFields.printed(other.path))") }
            }
            message = "Apply failed with \(conflicts.count) conflicts: " + lines.joined(separator: "\n")
        }
        let causes: [JSONValue] = conflicts.map {
            .object(["reason": .string("FieldManagerConflict"), "message": .string("conflict with \(manager($0))"),
                     "field": .string(ManagedFields.printed($0.path))])
        }
        return APIError(code: 409, reason: "Conflict", message: message, details: .object(["causes": .array(causes)]))
    }
}
