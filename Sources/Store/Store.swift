import CSQLite
import FlinkResources
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The operator's durable state: resources with their status, events, pod records and port
/// leases, in one SQLite database (`<state dir>/state.db`, WAL mode).
///
/// Guarantees:
/// - Every write is one transaction: it happens entirely or not at all, also when the process
///   dies half-way. `transaction(_:)` groups several writes into one.
/// - Readers never wait for the writer: a read-only `Store` in another process (the CLI) reads
///   the last committed state while the operator writes.
/// - A file that is not a database, a damaged one, or one from a newer Flinklet is reported
///   (`StoreError.corrupt`, `.newerSchema`) and never modified.
///
/// Caveats:
/// - One writer per database: the operator takes `StateDirectory.lockForOperator()` before
///   opening read-write. Another writer is only made to wait (up to 5 s, then `.busy`).
/// - The Store is `Sendable`; its one connection is guarded by a `Mutex`, so calls from several
///   threads run one at a time. Do not call the Store from inside a `transaction(_:)` body —
///   use the `Transaction` it passes (a re-entrant call stops the process with a message
///   rather than deadlock).
///
/// Errors thrown are `StoreError`s, apart from what a `transaction(_:)` body throws itself.
public final class Store: Sendable {
    /// The schema version this Flinklet reads and writes (`PRAGMA user_version`).
    public static let schemaVersion = Schema.version
    public static let defaultEventLimitPerResource = 100

    /// `<state dir>/state.db`.
    public let databasePath: String
    public let isReadOnly: Bool
    /// Events kept per resource; older ones (by last time) are dropped.
    public let eventLimitPerResource: Int

    /// Deletions kept for watchers (`changes(since:)`); older ones are dropped.
    public static let deletionHistoryLimit = 1_000

    private let database: Mutex<Database>
    /// The thread inside `database`'s lock (0: none), to catch re-entrant calls.
    private let lockOwner = Atomic<UInt>(0)
    /// The last committed revision (this connection's writes; see `revision`).
    private let committedRevision: Atomic<Int64>
    /// Every committed revision bump, newest only (see `revisionChanges`).
    private let revisionContinuation: AsyncStream<Int64>.Continuation
    /// The revisions this Store commits, newest only when a reader falls behind: for the one
    /// reader that follows changes (the Kubernetes API's watch hub).
    public let revisionChanges: AsyncStream<Int64>

    private init(database: sending Database, eventLimitPerResource: Int, revision: Int64) {
        self.databasePath = database.path
        self.isReadOnly = database.isReadOnly
        self.eventLimitPerResource = eventLimitPerResource
        self.database = Mutex(database)
        self.committedRevision = Atomic(revision)
        (revisionChanges, revisionContinuation) = AsyncStream.makeStream(of: Int64.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// The Store's revision: increased by every write of a resource (upsert or delete), and
    /// never decreasing, across restarts too. Reads the database when another process may
    /// write (read-only Stores); otherwise the last revision this Store committed.
    public var revision: Int64 {
        get throws {
            if isReadOnly { return try access(writes: false) { try $0.revision() } }
            return committedRevision.load(ordering: .acquiring)
        }
    }

    /// Opens the database of a state directory.
    ///
    /// Read-write (the operator): creates the directory and database if missing and migrates
    /// the schema. Read-only (the CLI): never writes; throws `.notFound` when there is no
    /// database and `.olderSchema` when an operator has not migrated it yet.
    /// Either way a file that is not a usable database throws `.corrupt`, and a database from a
    /// newer Flinklet `.newerSchema`, leaving the file untouched.
    public static func open(stateDirectory: String, readOnly: Bool = false,
                            eventLimitPerResource: Int = defaultEventLimitPerResource) throws -> Store {
        precondition(eventLimitPerResource > 0, "eventLimitPerResource must be positive")
        let directory = StateDirectory(path: stateDirectory)
        let path = directory.databasePath
        let database: Database
        if readOnly {
            guard FileManager.default.fileExists(atPath: path) else { throw StoreError.notFound(path: path) }
            database = try Database(path: path, readOnly: true)
            let version = try database.userVersion()
            guard version <= schemaVersion else { throw StoreError.newerSchema(path: path, found: version, supported: schemaVersion) }
            guard version == schemaVersion else { throw StoreError.olderSchema(path: path, found: version, required: schemaVersion) }
        } else {
            try directory.create()
            database = try Database(path: path, readOnly: false)
            // The first read: a file that is not a database fails here, before anything is written.
            let version = try database.userVersion()
            guard version <= schemaVersion else { throw StoreError.newerSchema(path: path, found: version, supported: schemaVersion) }
            let mode = try database.pragma("journal_mode = WAL")
            guard mode?.lowercased() == "wal" else {
                throw StoreError.sqlite(path: path, code: SQLITE_ERROR,
                                        message: "cannot use WAL journal mode (got \(mode ?? "nothing")); is the state dir on a network file system?")
            }
            // A 512 KiB page cache (SQLite's default is 2 MB): the operator's reads are few and
            // small, the OS caches the file anyway, and resident memory has a budget.
            try database.execute("PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA cache_size = -512")
            let check = try database.pragma("quick_check") ?? "no result"
            guard check == "ok" else { throw StoreError.corrupt(path: path, message: "integrity check failed: \(check)") }
            try Schema.migrate(database)
        }
        let revision = try database.queryFirst("SELECT value FROM revision WHERE id = 1", []) { $0.int64(0) }
        return Store(database: database, eventLimitPerResource: eventLimitPerResource, revision: revision ?? 0)
    }

    /// Runs `body` as one transaction: everything it writes is committed when it returns, and
    /// nothing when it throws (the error is rethrown). Other connections see all of it or none.
    /// On a read-only Store it reads one consistent snapshot, and writes throw `.readOnly`.
    public func transaction<T: Sendable>(_ body: (Transaction) throws -> T) throws -> T {
        try withDatabase { database in
            var wrote: Int64 = 0
            let result = try database.transaction {
                let transaction = Transaction(database: database, eventLimit: eventLimitPerResource)
                defer {
                    wrote = transaction.wroteRevision
                    transaction.close()
                }
                return try body(transaction)
            }
            if wrote > 0 {
                committedRevision.store(wrote, ordering: .releasing)
                revisionContinuation.yield(wrote)
            }
            return result
        }
    }

    /// Runs a single read or write: a single statement needs no explicit transaction, and
    /// several statements run in one.
    private func access<T: Sendable>(writes: Bool, _ body: (Transaction) throws -> T) throws -> T {
        if writes {
            guard !isReadOnly else { throw StoreError.readOnly(path: databasePath) }
            return try transaction(body)
        }
        return try withDatabase { database in
            let transaction = Transaction(database: database, eventLimit: eventLimitPerResource)
            defer { transaction.close() }
            return try body(transaction)
        }
    }

    private func withDatabase<T: Sendable>(_ body: (Database) throws -> T) throws -> T {
        let thread = currentThreadID()
        precondition(lockOwner.load(ordering: .relaxed) != thread,
                     "Store called from inside one of its own transactions; use the Transaction passed to the body")
        return try database.withLock { database in
            lockOwner.store(thread, ordering: .relaxed)
            defer { lockOwner.store(0, ordering: .relaxed) }
            return try body(database)
        }
    }

    // MARK: Resources

    /// See `Transaction.resource(_:)`.
    public func resource(_ key: String) throws -> ResourceRecord? {
        try access(writes: false) { try $0.resource(key) }
    }

    /// See `Transaction.resources(kind:)`.
    public func resources(kind: ResourceKind? = nil) throws -> [ResourceRecord] {
        try access(writes: false) { try $0.resources(kind: kind) }
    }

    /// See `Transaction.resourceIDs()`.
    public func resourceIDs() throws -> [ResourceID] {
        try access(writes: false) { try $0.resourceIDs() }
    }

    /// See `Transaction.upsert(_:)`.
    @discardableResult
    public func upsert(_ record: ResourceRecord) throws -> ResourceRecord {
        try access(writes: true) { try $0.upsert(record) }
    }

    /// See `Transaction.deleteResource(_:)`.
    @discardableResult
    public func deleteResource(_ key: String) throws -> Bool {
        try access(writes: true) { try $0.deleteResource(key) }
    }

    /// See `Transaction.changes(since:)`.
    public func changes(since revision: Int64) throws -> Store.Changes {
        try access(writes: false) { try $0.changes(since: revision) }
    }

    /// Every resource and the revision they were read at, in one snapshot.
    public func snapshot() throws -> (revision: Int64, resources: [ResourceRecord]) {
        try transactionForReading { (try $0.revision(), try $0.resources()) }
    }

    private func transactionForReading<T: Sendable>(_ body: (Transaction) throws -> T) throws -> T {
        if isReadOnly { return try transaction(body) }
        // The operator's own connection: no other writer, and the lock holds off its own.
        return try access(writes: false, body)
    }

    // MARK: Events

    /// See `Transaction.recordEvent(_:)`.
    @discardableResult
    public func recordEvent(_ event: EventRecord) throws -> EventRecord {
        try access(writes: true) { try $0.recordEvent(event) }
    }

    /// See `Transaction.events(for:)`.
    public func events(for key: String?) throws -> [EventRecord] {
        try access(writes: false) { try $0.events(for: key) }
    }

    // MARK: Pods

    /// See `Transaction.savePod(_:)`.
    public func savePod(_ pod: PodRecordRow) throws {
        try access(writes: true) { try $0.savePod(pod) }
    }

    /// See `Transaction.pods(owner:)`.
    public func pods(owner: String? = nil) throws -> [PodRecordRow] {
        try access(writes: false) { try $0.pods(owner: owner) }
    }

    /// See `Transaction.deletePod(name:)`.
    @discardableResult
    public func deletePod(name: String) throws -> Bool {
        try access(writes: true) { try $0.deletePod(name: name) }
    }

    // MARK: Port leases

    /// See `Transaction.leasePorts(owner:count:range:)`.
    public func leasePorts(owner: String, count: Int, range: ClosedRange<Int>, usable: (Int) -> Bool = { _ in true }) throws -> [Int] {
        try access(writes: true) { try $0.leasePorts(owner: owner, count: count, range: range, usable: usable) }
    }

    /// See `Transaction.ports(owner:)`.
    public func ports(owner: String) throws -> [Int] {
        try access(writes: false) { try $0.ports(owner: owner) }
    }

    /// See `Transaction.releasePorts(owner:)`.
    public func releasePorts(owner: String) throws {
        try access(writes: true) { try $0.releasePorts(owner: owner) }
    }
}

extension Store {
    /// What changed after a revision (see `Transaction.changes(since:)`).
    public struct Changes: Sendable {
        /// The Store's revision when read.
        public var revision: Int64
        /// Resources written after the revision asked about, by revision.
        public var updated: [ResourceRecord]
        /// Resources deleted after it, by revision.
        public var deleted: [DeletedResource]
        /// False when deletions may be missing (the history no longer reaches back that far).
        public var complete: Bool
    }
}

// MARK: - Transaction

extension Store {
    /// The Store's operations inside one `Store.transaction(_:)`. Valid only during the body
    /// it is passed to.
    public final class Transaction {
        private let database: Database
        private let eventLimit: Int
        private var isOpen = true
        /// The last revision this transaction assigned (0: none).
        fileprivate private(set) var wroteRevision: Int64 = 0

        fileprivate init(database: Database, eventLimit: Int) {
            self.database = database
            self.eventLimit = eventLimit
        }

        fileprivate func close() { isOpen = false }

        private var db: Database {
            precondition(isOpen, "Store.Transaction used after its transaction ended")
            return database
        }

        private func writable() throws -> Database {
            guard !db.isReadOnly else { throw StoreError.readOnly(path: database.path) }
            return database
        }

        // MARK: Resources

        private static let resourceColumns =
            "key, kind, namespace, name, uid, generation, spec_hash, spec, last_reconciled_spec, status, file, created_at, updated_at, revision, metadata, deleted_at"

        private static func resource(_ row: Row) throws -> ResourceRecord {
            let key = row.string(0)
            guard let kind = ResourceKind(rawValue: row.string(1)) else {
                throw StoreError.invalidRecord(key: key, message: "unknown kind \"\(row.string(1))\"")
            }
            var record = ResourceRecord(
                id: ResourceID(kind: kind, namespace: row.string(2), name: row.string(3)), uid: row.string(4),
                generation: row.int64(5), specHash: row.string(6), spec: row.string(7),
                lastReconciledSpec: row.optionalString(8), status: row.optionalString(9), file: row.optionalString(10),
                createdAt: row.time(11), updatedAt: row.time(12))
            record.revision = row.int64(13)
            record.metadata = row.optionalString(14)
            record.deletedAt = row.isNull(15) ? nil : row.time(15)
            return record
        }

        /// The Store's current revision (see `Store.revision`).
        public func revision() throws -> Int64 {
            try db.queryFirst("SELECT value FROM revision WHERE id = 1", []) { $0.int64(0) } ?? 0
        }

        /// Increases the revision and returns the new one.
        private func nextRevision() throws -> Int64 {
            let database = try writable()
            guard let next = try database.queryFirst("UPDATE revision SET value = value + 1 WHERE id = 1 RETURNING value", [], { $0.int64(0) }) else {
                throw StoreError.sqlite(path: database.path, code: SQLITE_ERROR, message: "the revision counter is missing")
            }
            wroteRevision = next
            return next
        }

        /// What changed after `revision`: the resources written since (their current records)
        /// and the deletions since, each ordered by revision. `complete` is false when deletions
        /// older than the history keeps may be missing (a watcher that far behind must relist).
        public func changes(since revision: Int64) throws -> Store.Changes {
            let updated = try db.query("SELECT \(Self.resourceColumns) FROM resources WHERE revision > ?1 ORDER BY revision",
                                       [.integer(revision)], Self.resource)
            let deleted = try db.query("SELECT revision, record FROM deletions WHERE revision > ?1 ORDER BY revision", [.integer(revision)]) { row in
                (row.int64(0), row.string(1))
            }.compactMap { revision, json in
                (try? JSONDecoder().decode(ResourceRecord.self, from: Data(json.utf8))).map { DeletedResource(revision: revision, record: $0) }
            }
            let oldest = try db.queryFirst("SELECT min(revision) FROM deletions", []) { $0.isNull(0) ? nil : $0.int64(0) } ?? nil
            let pruned = try db.queryFirst("SELECT count(*) FROM deletions", []) { $0.int64(0) } ?? 0 >= Int64(Store.deletionHistoryLimit)
            // With a full history, deletions before its oldest entry are gone.
            let complete = !(pruned && (oldest.map { revision < $0 - 1 } ?? false))
            return Store.Changes(revision: try self.revision(), updated: updated, deleted: deleted, complete: complete)
        }

        /// The resource stored under `key` (`FlinkDeployment/default/my-app`), if any.
        public func resource(_ key: String) throws -> ResourceRecord? {
            try db.queryFirst("SELECT \(Self.resourceColumns) FROM resources WHERE key = ?1", [.text(key)], Self.resource)
        }

        /// Every stored resource, or those of one kind, ordered by key.
        public func resources(kind: ResourceKind? = nil) throws -> [ResourceRecord] {
            if let kind {
                return try db.query("SELECT \(Self.resourceColumns) FROM resources WHERE kind = ?1 ORDER BY key",
                                    [.text(kind.rawValue)], Self.resource)
            }
            return try db.query("SELECT \(Self.resourceColumns) FROM resources ORDER BY key", [], Self.resource)
        }

        /// The identities of every stored resource, ordered by key: what `resources()` lists
        /// without reading their specs and statuses.
        public func resourceIDs() throws -> [ResourceID] {
            try db.query("SELECT key, kind, namespace, name FROM resources ORDER BY key", []) { row in
                guard let kind = ResourceKind(rawValue: row.string(1)) else {
                    throw StoreError.invalidRecord(key: row.string(0), message: "unknown kind \"\(row.string(1))\"")
                }
                return ResourceID(kind: kind, namespace: row.string(2), name: row.string(3))
            }
        }

        /// Stores `record` under its key and returns what is stored. For a key already stored,
        /// the stored `uid` and `createdAt` are kept (the resource's identity for its life) and
        /// every other field is replaced.
        @discardableResult
        public func upsert(_ record: ResourceRecord) throws -> ResourceRecord {
            let stored = try writable().queryFirst("""
                INSERT INTO resources (\(Self.resourceColumns))
                VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)
                ON CONFLICT (key) DO UPDATE SET
                    generation = excluded.generation, spec_hash = excluded.spec_hash, spec = excluded.spec,
                    last_reconciled_spec = excluded.last_reconciled_spec, status = excluded.status,
                    file = excluded.file, updated_at = excluded.updated_at, revision = excluded.revision,
                    metadata = excluded.metadata, deleted_at = excluded.deleted_at
                RETURNING \(Self.resourceColumns)
                """, [
                    .text(record.key), .text(record.kind.rawValue), .text(record.namespace), .text(record.name),
                    .text(record.uid), .integer(record.generation), .text(record.specHash), .text(record.spec),
                    .text(record.lastReconciledSpec), .text(record.status), .text(record.file),
                    .time(record.createdAt), .time(record.updatedAt), .integer(try nextRevision()), .text(record.metadata),
                    record.deletedAt.map(SQLValue.time) ?? .null,
                ], Self.resource)
            guard let stored else { throw StoreError.sqlite(path: database.path, code: SQLITE_ERROR, message: "upsert of \(record.key) returned no row") }
            return stored
        }

        /// Deletes the resource stored under `key` with its events and the port leases owned by
        /// `key`; returns whether the resource was stored. Pod records are kept: they are deleted
        /// when their processes are gone, so no process is ever forgotten.
        @discardableResult
        public func deleteResource(_ key: String) throws -> Bool {
            let database = try writable()
            try database.run("DELETE FROM events WHERE key = ?1", [.text(key)])
            try database.run("DELETE FROM port_leases WHERE owner = ?1", [.text(key)])
            guard var record = try resource(key) else { return false }
            // Watchers hear of the deletion: the last record under a revision of its own.
            let revision = try nextRevision()
            record.revision = revision
            try database.run("INSERT INTO deletions (revision, key, record) VALUES (?1, ?2, ?3)",
                             [.integer(revision), .text(key), .text(try ResourceRecord.json(record))])
            try database.run("""
                DELETE FROM deletions WHERE revision NOT IN (SELECT revision FROM deletions ORDER BY revision DESC LIMIT ?1)
                """, [.integer(Store.deletionHistoryLimit)])
            return try database.run("DELETE FROM resources WHERE key = ?1", [.text(key)]) > 0
        }

        // MARK: Events

        private static let eventColumns = "id, key, type, reason, message, count, first_timestamp, last_timestamp, source"

        private static func event(_ row: Row) throws -> EventRecord {
            guard let type = EventType(rawValue: row.string(2)) else {
                throw StoreError.invalidRecord(key: row.string(1), message: "event \(row.int64(0)) has unknown type \"\(row.string(2))\"")
            }
            return EventRecord(id: row.int64(0), key: row.string(1), type: type, reason: row.string(3), message: row.string(4),
                               count: row.int(5), firstTimestamp: row.time(6), lastTimestamp: row.time(7), source: row.string(8))
        }

        /// Records an event and returns it as stored.
        ///
        /// An event with the same key, type, reason and message as a stored one is aggregated
        /// into it: its count grows by `event.count` (at least 1), its last time becomes the
        /// later of the two, and its first time and id stay. Then only the
        /// `eventLimitPerResource` events of the key with the latest last times are kept.
        @discardableResult
        public func recordEvent(_ event: EventRecord) throws -> EventRecord {
            let database = try writable()
            let stored = try database.queryFirst("""
                INSERT INTO events (key, type, reason, message, count, first_timestamp, last_timestamp, source)
                VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                ON CONFLICT (key, type, reason, message) DO UPDATE SET
                    count = count + excluded.count,
                    last_timestamp = max(last_timestamp, excluded.last_timestamp),
                    source = excluded.source
                RETURNING \(Self.eventColumns)
                """, [
                    .text(event.key), .text(event.type.rawValue), .text(event.reason), .text(event.message),
                    .integer(max(1, event.count)), .time(event.firstTimestamp), .time(event.lastTimestamp), .text(event.source),
                ], Self.event)
            guard let stored else { throw StoreError.sqlite(path: database.path, code: SQLITE_ERROR, message: "event for \(event.key) returned no row") }
            try database.run("""
                DELETE FROM events WHERE key = ?1 AND id NOT IN (
                    SELECT id FROM events WHERE key = ?1 ORDER BY last_timestamp DESC, id DESC LIMIT ?2)
                """, [.text(event.key), .integer(eventLimit)])
            return stored
        }

        /// The events of one resource key, or of all (nil), oldest first (by last time, then
        /// by id).
        public func events(for key: String?) throws -> [EventRecord] {
            if let key {
                return try db.query("SELECT \(Self.eventColumns) FROM events WHERE key = ?1 ORDER BY last_timestamp, id",
                                    [.text(key)], Self.event)
            }
            return try db.query("SELECT \(Self.eventColumns) FROM events ORDER BY last_timestamp, id", [], Self.event)
        }

        // MARK: Pods

        private static let podColumns = "name, owner, pid, pgid, process_start_ticks, spec_hash, spec, started_at"

        private static func pod(_ row: Row) -> PodRecordRow {
            PodRecordRow(name: row.string(0), owner: row.string(1), pid: Int32(truncatingIfNeeded: row.int64(2)),
                         pgid: Int32(truncatingIfNeeded: row.int64(3)), processStartTicks: UInt64(bitPattern: row.int64(4)),
                         specHash: row.string(5), spec: row.data(6), startedAt: row.time(7))
        }

        /// Stores a pod record, replacing the one with the same name.
        public func savePod(_ pod: PodRecordRow) throws {
            try writable().run("INSERT OR REPLACE INTO pods (\(Self.podColumns)) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)", [
                .text(pod.name), .text(pod.owner), .integer(Int64(pod.pid)), .integer(Int64(pod.pgid)),
                .integer(Int64(bitPattern: pod.processStartTicks)), .text(pod.specHash), .blob(pod.spec), .time(pod.startedAt),
            ])
        }

        /// The pod records of one owner, or all (nil), ordered by name.
        public func pods(owner: String? = nil) throws -> [PodRecordRow] {
            if let owner {
                return try db.query("SELECT \(Self.podColumns) FROM pods WHERE owner = ?1 ORDER BY name", [.text(owner)], Self.pod)
            }
            return try db.query("SELECT \(Self.podColumns) FROM pods ORDER BY name", [], Self.pod)
        }

        /// Deletes a pod record; returns whether it existed.
        @discardableResult
        public func deletePod(name: String) throws -> Bool {
            try writable().run("DELETE FROM pods WHERE name = ?1", [.text(name)]) > 0
        }

        // MARK: Port leases

        /// Leases `count` ports to `owner` and returns them; leases outlive restarts.
        ///
        /// An owner keeps the ports it holds, in order: when it already holds at least `count`,
        /// its first `count` are returned unchanged; otherwise the lowest ports in `range` leased
        /// to no one are added after them. So `ports[i]` of an owner never changes while leased.
        /// Throws `.noFreePorts` (leasing nothing) when `range` has too few unleased ports.
        /// `count` must not be negative and `range` must lie within 1-65535.
        /// The Store only knows its own leases: whether another program uses a port is for the
        /// caller to find out, through `usable` (asked of new candidates only; false skips one).
        public func leasePorts(owner: String, count: Int, range: ClosedRange<Int>, usable: (Int) -> Bool = { _ in true }) throws -> [Int] {
            precondition(count >= 0, "cannot lease a negative number of ports")
            precondition(range.lowerBound >= 1 && range.upperBound <= 65_535, "ports are 1-65535, not \(range)")
            let database = try writable()
            let held = try ports(owner: owner)
            if held.count >= count { return Array(held.prefix(count)) }
            let taken = Set(try database.query("SELECT port FROM port_leases WHERE port BETWEEN ?1 AND ?2",
                                               [.integer(range.lowerBound), .integer(range.upperBound)]) { $0.int(0) })
            let needed = count - held.count
            var added: [Int] = []
            for port in range where !taken.contains(port) && usable(port) {
                added.append(port)
                if added.count == needed { break }
            }
            guard added.count == needed else {
                throw StoreError.noFreePorts(owner: owner, requested: count, range: range, available: held.count + added.count)
            }
            let now = Date()
            for (offset, port) in added.enumerated() {
                try database.run("INSERT INTO port_leases (port, owner, position, leased_at) VALUES (?1, ?2, ?3, ?4)",
                                 [.integer(port), .text(owner), .integer(held.count + offset), .time(now)])
            }
            return held + added
        }

        /// The ports leased to `owner`, in lease order.
        public func ports(owner: String) throws -> [Int] {
            try db.query("SELECT port FROM port_leases WHERE owner = ?1 ORDER BY position", [.text(owner)]) { $0.int(0) }
        }

        /// Ends `owner`'s lease on all its ports, and the leases of its parts (`owner#part`).
        public func releasePorts(owner: String) throws {
            try writable().run("DELETE FROM port_leases WHERE owner = ?1 OR substr(owner, 1, length(?1) + 1) = ?1 || '#'", [.text(owner)])
        }
    }
}

private func currentThreadID() -> UInt {
    #if canImport(Darwin)
    UInt(bitPattern: pthread_self())
    #else
    UInt(pthread_self())
    #endif
}
