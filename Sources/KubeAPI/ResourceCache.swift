import DequeModule
import FlinkResources
import Foundation
import Logging
import Manifests
import Store

/// Which objects a list or watch wants: a kind, a namespace (nil: all), a name (a field
/// selector on `metadata.name`), labels.
struct ObjectFilter: Sendable {
    var kind: ResourceKind
    var namespace: String?
    var names: (equal: String?, notEqual: String?) = (nil, nil)
    var namespaces: (equal: String?, notEqual: String?) = (nil, nil)
    var labels: LabelSelector?

    func matches(_ object: CachedObject) -> Bool {
        let record = object.record
        guard record.kind == kind else { return false }
        if let namespace, record.namespace != namespace { return false }
        if let name = names.equal, record.name != name { return false }
        if let name = names.notEqual, record.name == name { return false }
        if let ns = namespaces.equal, record.namespace != ns { return false }
        if let ns = namespaces.notEqual, record.namespace == ns { return false }
        if let labels, !labels.matches(object.labels) { return false }
        return true
    }
}

/// One object as the API serves it, rendered once per revision.
/// A class: lists, watch backlogs and the history share one copy (a backlog of 1,000 objects
/// is 1,000 references, not 1,000 copies of the fields).
final class CachedObject: Sendable {
    /// The record without its spec and status texts (`json` holds them): identity, generation,
    /// revision, times, metadata.
    let record: ResourceRecord
    /// The object's JSON (`APIObjects.object`).
    let json: [UInt8]
    let summary: APIObjects.Summary
    let labels: [String: String]
    /// `metadata`, as tables' rows carry it.
    let metadata: JSONValue

    /// - Parameter managedFields: the object's `metadata.managedFields`, if any are recorded.
    init(_ record: ResourceRecord, managedFields: JSONValue? = nil) {
        var object = APIObjects.object(record)
        if let managedFields {
            var metadata = object["metadata"] ?? .object([:])
            metadata[field: "managedFields"] = managedFields
            object[field: "metadata"] = metadata
        }
        json = JSONText.bytes(object)
        metadata = object["metadata"] ?? .object([:])
        summary = APIObjects.Summary(record)
        labels = record.resourceMetadata.labels ?? [:]
        var kept = record
        (kept.spec, kept.status, kept.lastReconciledSpec) = ("", nil, nil)
        self.record = kept
    }
}

/// A change a watcher hears of.
struct WatchEvent: Sendable {
    enum Kind: String, Sendable { case added = "ADDED", modified = "MODIFIED", deleted = "DELETED" }
    var type: Kind
    var revision: Int64
    var object: CachedObject
}

/// The API's view of the Store, kept in step with it: every resource rendered once per
/// revision, and the recent changes for watchers (the Kubernetes API server's watch cache).
///
/// Guarantees:
/// - Lists and gets answer from one revision, and report it as their `resourceVersion`.
/// - A watch from revision R hears every change after R in revision order, once; a watch
///   from before the oldest change kept (`historyLimit`), or from before the cache started, is
///   refused (`.gone`, 410).
/// - It follows `Store.revisionChanges`; `catchUp()` brings it up to date at once (after a
///   write through the API).
actor ResourceCache {
    static let defaultHistoryLimit = 1_000
    /// Events a slow watcher may have queued before it is cut off (it re-watches and relists).
    static let watcherBacklog = 10_000

    let store: Store
    let logger: Logger
    /// The `managedFields` recorded for a resource of a uid (nil: none), rendered into its object.
    let managedFields: @Sendable (ResourceID, String) -> JSONValue?
    /// Changes kept for watchers that resume from a revision.
    let historyLimit: Int
    private(set) var revision: Int64 = 0
    /// Whether the first full read happened (later reads are changes only).
    private var isLoaded = false
    private var objects: [ResourceID: CachedObject] = [:]
    /// Changes after `historyStart`, oldest first.
    private var history: Deque<WatchEvent> = []
    private var historyStart: Int64 = 0
    private var watchers: [Int: (filter: ObjectFilter, continuation: AsyncStream<WatchEvent>.Continuation)] = [:]
    private var nextWatcher = 0

    init(store: Store, logger: Logger, historyLimit: Int = ResourceCache.defaultHistoryLimit,
         managedFields: @escaping @Sendable (ResourceID, String) -> JSONValue? = { _, _ in nil }) {
        self.store = store
        self.logger = logger
        self.historyLimit = historyLimit
        self.managedFields = managedFields
    }

    private func render(_ record: ResourceRecord) -> CachedObject {
        CachedObject(record, managedFields: managedFields(record.id, record.uid))
    }

    /// Renders `id` again from the Store (its `managedFields` changed, not its record): lists
    /// and gets serve the new rendering; watchers hear nothing, as the revision is the same.
    func refresh(_ id: ResourceID) {
        // A record newer than the cache's revision is left to the next catch-up (with its event).
        guard isLoaded, objects[id] != nil, let record = try? store.resource(id.key), record.revision <= revision else { return }
        objects[id] = render(record)
    }

    /// Follows the Store until cancelled; then ends every watch.
    func run() async {
        // Nothing is read before the first request: an operator whose API nobody uses keeps
        // no rendered objects in memory.
        for await _ in store.revisionChanges where isLoaded {
            catchUp()
        }
        // Stopped (the operator shuts down): end every watch, so the server can drain.
        for (_, watcher) in watchers { watcher.continuation.finish() }
        watchers = [:]
    }

    /// Reads what changed in the Store since the cache's revision.
    func catchUp() {
        do {
            guard isLoaded else {
                try reload()
                isLoaded = true
                return
            }
            let changes = try store.changes(since: revision)
            guard changes.revision > revision else { return }
            guard changes.complete else {
                // Deletions went missing: start over; every watcher must relist.
                try reload()
                for (_, watcher) in watchers { watcher.continuation.finish() }
                watchers = [:]
                return
            }
            var events: [WatchEvent] = []
            for record in changes.updated {
                let object = render(record)
                events.append(WatchEvent(type: objects[record.id] == nil ? .added : .modified, revision: record.revision, object: object))
            }
            for deleted in changes.deleted {
                var record = deleted.record
                record.revision = deleted.revision
                events.append(WatchEvent(type: .deleted, revision: deleted.revision, object: CachedObject(record)))
            }
            events.sort { $0.revision < $1.revision }
            // A resource deleted and created again in one batch: replay in order.
            for var event in events {
                let id = event.object.record.id
                switch event.type {
                case .deleted:
                    guard let current = objects[id], current.record.uid == event.object.record.uid else { continue }
                    objects[id] = nil
                case .added, .modified:
                    event.type = objects[id] == nil ? .added : .modified
                    objects[id] = event.object
                }
                record(event)
            }
            revision = changes.revision
        } catch {
            logger.error("the API cannot read the Store", metadata: ["error": "\(error)"])
        }
    }

    private func reload() throws {
        let (revision, records) = try store.snapshot()
        var objects: [ResourceID: CachedObject] = [:]
        objects.reserveCapacity(records.count)
        for record in records { objects[record.id] = render(record) }
        self.objects = objects
        self.revision = revision
        history = []
        historyStart = revision
    }

    private func record(_ event: WatchEvent) {
        history.append(event)
        if history.count > historyLimit, let dropped = history.popFirst() { historyStart = dropped.revision }
        for (id, watcher) in watchers where watcher.filter.matches(event.object) {
            if case .dropped = watcher.continuation.yield(event) {
                watcher.continuation.finish()
                watchers[id] = nil
            }
        }
    }

    // MARK: Reads

    func object(_ id: ResourceID) -> CachedObject? { objects[id] }

    /// The matching objects, by namespace and name, and the revision they were read at.
    func list(_ filter: ObjectFilter) -> (revision: Int64, objects: [CachedObject]) {
        var result: [CachedObject] = []
        if let name = filter.names.equal, let namespace = filter.namespace ?? filter.namespaces.equal {
            if let object = objects[ResourceID(kind: filter.kind, namespace: namespace, name: name)], filter.matches(object) {
                result.append(object)
            }
        } else {
            for object in objects.values where filter.matches(object) { result.append(object) }
            result.sort { ($0.record.namespace, $0.record.name) < ($1.record.namespace, $1.record.name) }
        }
        return (revision, result)
    }

    /// Namespaces that hold a resource, with the creation time of their oldest one.
    func namespaces() -> (revision: Int64, namespaces: [(name: String, created: Date)]) {
        var oldest: [String: Date] = [:]
        for object in objects.values {
            let created = object.record.createdAt
            oldest[object.record.namespace] = min(oldest[object.record.namespace] ?? created, created)
        }
        return (revision, oldest.sorted { $0.key < $1.key }.map { ($0.key, $0.value) })
    }

    /// The uid of a resource, when the cache holds it.
    func uid(of id: ResourceID) -> String? { objects[id]?.record.uid }

    // MARK: Watches

    enum Subscription {
        /// Events after the revision asked for, then the live ones.
        case events(id: Int, backlog: [WatchEvent], stream: AsyncStream<WatchEvent>)
        /// The revision is older than the history kept.
        case gone(oldest: Int64)
    }

    /// Subscribes to changes after `revision` (nil: after now, with an ADDED event for every
    /// matching object first, as a watch without a resourceVersion starts).
    func subscribe(_ filter: ObjectFilter, after revision: Int64?) -> Subscription {
        catchUp()
        var backlog: [WatchEvent] = []
        if let revision {
            guard revision >= historyStart else { return .gone(oldest: historyStart) }
            backlog = history.filter { $0.revision > revision && filter.matches($0.object) }
        } else {
            backlog = list(filter).objects.map { WatchEvent(type: .added, revision: $0.record.revision, object: $0) }
        }
        let (stream, continuation) = AsyncStream.makeStream(of: WatchEvent.self, bufferingPolicy: .bufferingOldest(Self.watcherBacklog))
        let id = nextWatcher
        nextWatcher += 1
        watchers[id] = (filter, continuation)
        return .events(id: id, backlog: backlog, stream: stream)
    }

    func unsubscribe(_ id: Int) {
        watchers.removeValue(forKey: id)?.continuation.finish()
    }

    var watcherCount: Int { watchers.count }
}
