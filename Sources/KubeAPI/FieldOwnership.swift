import FlinkResources
import Foundation
import Manifests
import Synchronization

/// Where the API keeps each resource's `managedFields`: a sidecar file per resource in the
/// operator's state directory (`<state-dir>/managed-fields/<namespace>/<plural>.<name>.json`),
/// never in the manifest.
///
/// Why a sidecar: the manifest must stay what a person or a GitOps repository writes and what
/// `kubectl apply -f` sends to a real cluster; `managedFields` there would churn on every write
/// (times), put server-side bookkeeping in reviews, and be sent back to Kubernetes as a
/// client's claim. The manifest keeps only what a client wrote (so `kubectl apply`'s
/// `last-applied-configuration` annotation stays in it).
///
/// Contract:
/// - A sidecar records the manifest document as the API last wrote it. A manifest changed
///   since by anything else (an editor, `git pull`, `flinklet apply`) counts as an update by
///   the manager `manifest-file`: the fields it changed become that manager's.
/// - A resource with no sidecar (written by hand), or whose sidecar names another uid (deleted
///   and created again by hand), is owned wholly by `before-first-apply`, as Kubernetes records
///   an object nobody applied before.
/// - Sidecars are written atomically; one that cannot be read counts as absent.
final class FieldOwnership: Sendable {
    struct Record: Sendable {
        /// The resource's uid when the record was written (nil: not recorded yet).
        var uid: String?
        /// The manifest document as the API wrote it.
        var document: JSONValue
        var fields: ManagedFields
    }

    let directory: String
    private let loaded = Mutex<[ResourceID: Record]>([:])
    /// The resources that have a sidecar (nil until the directory is first listed), so a
    /// resource without one costs no file lookup.
    private let known = Mutex<Set<ResourceID>?>(nil)

    init(directory: String) { self.directory = directory }

    /// Whether `id` has a sidecar.
    func has(_ id: ResourceID) -> Bool {
        known.withLock { known in
            if known == nil { known = Self.list(directory) }
            return known!.contains(id)
        }
    }

    /// The ids of the sidecars in `directory`: `<namespace>/<plural>.<name>.json`.
    static func list(_ directory: String) -> Set<ResourceID> {
        var ids: Set<ResourceID> = []
        let fm = FileManager.default
        for namespace in (try? fm.contentsOfDirectory(atPath: directory)) ?? [] {
            for file in (try? fm.contentsOfDirectory(atPath: directory + "/" + namespace)) ?? [] where file.hasSuffix(".json") {
                let stem = file.dropLast(5)
                guard let dot = stem.firstIndex(of: "."),
                      let kind = ResourceKind.allCases.first(where: { $0.plural == stem[..<dot] }) else { continue }
                ids.insert(ResourceID(kind: kind, namespace: namespace, name: String(stem[stem.index(after: dot)...])))
            }
        }
        return ids
    }

    func path(_ id: ResourceID) -> String { "\(directory)/\(id.namespace)/\(id.kind.plural).\(id.name).json" }

    /// The record kept for `id`, as written (nil when there is none).
    func record(_ id: ResourceID) -> Record? {
        guard has(id) else { return nil }
        if let cached = loaded.withLock({ $0[id] }) { return cached }
        var record: Record?
        if let data = FileManager.default.contents(atPath: path(id)), let json = JSONText.parse([UInt8](data)),
           let document = json["document"], let fields = json["managedFields"].flatMap(ManagedFields.init(json:)) {
            record = Record(uid: json["uid"]?.stringValue, document: document, fields: fields)
        }
        loaded.withLock { $0[id] = record }
        return record
    }

    /// The fields' owners now, for a resource whose manifest document is `document` and whose
    /// uid is `uid` (nil: not recorded yet). Nothing is written.
    func current(_ id: ResourceID, uid: String?, document: JSONValue, now: Date) -> ManagedFields {
        guard let record = record(id), record.uid == nil || uid == nil || record.uid == uid else {
            return .owned(by: ManagedFields.beforeFirstApply, document, now: now)
        }
        var fields = record.fields
        if record.document != document { fields.update(from: record.document, to: document, manager: ManagedFields.manifestFile, now: now) }
        return fields
    }

    /// Records `fields` for `id`, whose manifest is now `document`.
    func save(_ id: ResourceID, uid: String?, document: JSONValue, fields: ManagedFields) throws {
        var object: [String: JSONValue] = ["document": document, "managedFields": fields.json]
        if let uid { object["uid"] = .string(uid) }
        try FileManager.default.createDirectory(atPath: "\(directory)/\(id.namespace)", withIntermediateDirectories: true)
        try AtomicFile.write(JSONText.bytes(.object(object)), to: path(id))
        loaded.withLock { $0[id] = Record(uid: uid, document: document, fields: fields) }
        _ = has(id)
        known.withLock { _ = $0?.insert(id) }
    }

    /// Forgets `id` (deleted through the API).
    func remove(_ id: ResourceID) {
        try? FileManager.default.removeItem(atPath: path(id))
        loaded.withLock { $0[id] = nil }
        _ = has(id)
        known.withLock { _ = $0?.remove(id) }
    }

    /// The `managedFields` to serve for `id` (nil: none recorded for this uid).
    func served(_ id: ResourceID, uid: String) -> JSONValue? {
        guard let record = record(id), record.uid == nil || record.uid == uid, !record.fields.entries.isEmpty else { return nil }
        return record.fields.json
    }
}
