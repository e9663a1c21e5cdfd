import CSQLite
import Foundation

/// Why the Store could not do what was asked. Every case names the file or state directory it
/// is about; database errors carry SQLite's own message.
public enum StoreError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Another operator holds the state directory's lock: another process, or another
    /// `OperatorLock` in this one. `pid` is nil when the holder had not yet written it.
    case locked(path: String, pid: Int32?)
    /// The file is not an SQLite database, or is damaged. It has been left exactly as it was.
    case corrupt(path: String, message: String)
    /// The database was written by a newer Flinklet. It has been left exactly as it was.
    case newerSchema(path: String, found: Int, supported: Int)
    /// A read-only open found a database an operator has not migrated yet (a read-only open
    /// never migrates).
    case olderSchema(path: String, found: Int, required: Int)
    /// A read-only open found no database: no operator has run with this state directory.
    case notFound(path: String)
    /// A write was attempted through a read-only Store.
    case readOnly(path: String)
    /// Another connection held the write lock for longer than the busy timeout.
    case busy(path: String, message: String)
    /// Not enough unleased ports in `range` for `owner`'s lease to reach `requested` ports.
    case noFreePorts(owner: String, requested: Int, range: ClosedRange<Int>, available: Int)
    /// A stored value could not be decoded (for example a status that is not valid JSON).
    case invalidRecord(key: String, message: String)
    /// The state directory is not this user's alone: another user owns it, or others may write
    /// into it. `fix` is what to run or do.
    case notPrivate(path: String, problem: String, fix: String)
    /// A file-system call failed.
    case system(path: String, operation: String, errno: Int32)
    /// Any other SQLite failure.
    case sqlite(path: String, code: Int32, message: String)

    public var description: String {
        switch self {
        case .locked(let path, let pid):
            "another flinklet is running with state dir \(path) (pid \(pid.map(String.init) ?? "unknown"))"
        case .corrupt(let path, let message):
            "\(path) is not a usable Flinklet state database: \(message); the file was left untouched: "
                + "run `flinklet recover` to move it aside and rebuild the deployments from their snapshots, or restore a backup"
        case .newerSchema(let path, let found, let supported):
            "\(path) has schema version \(found), newer than this flinklet supports (\(supported)); "
                + "run a newer flinklet or use another state dir; the file was left untouched"
        case .olderSchema(let path, let found, let required):
            "\(path) has schema version \(found), older than this flinklet reads (\(required)); "
                + "run `flinklet run` with this state dir to migrate it"
        case .notFound(let path):
            "no state database at \(path): no operator has run with this state dir"
        case .readOnly(let path):
            "\(path) is open read-only"
        case .busy(let path, let message):
            "\(path) stayed locked by another connection for \(Database.busyTimeoutMilliseconds / 1000) s: \(message)"
        case .noFreePorts(let owner, let requested, let range, let available):
            "no free ports for \(owner): \(requested) needed in \(range.lowerBound)-\(range.upperBound), "
                + "\(available) available"
        case .invalidRecord(let key, let message):
            "stored record \(key) cannot be read: \(message)"
        case .notPrivate(let path, let problem, let fix):
            "state dir \(path) \(problem): another user could change what the operator and its clusters read and run; "
                + "refusing to use it: \(fix)"
        case .system(let path, let operation, let errno):
            "cannot \(operation) \(path): \(String(cString: strerror(errno)))"
        case .sqlite(let path, let code, let message):
            "\(path): \(message) (SQLite error \(code))"
        }
    }

    /// Classifies an SQLite result code: damage, lock timeouts and read-only writes get their
    /// own cases so callers can tell them apart.
    init(path: String, code: Int32, message: String) {
        switch code & 0xFF {
        case SQLITE_NOTADB, SQLITE_CORRUPT: self = .corrupt(path: path, message: message)
        case SQLITE_BUSY, SQLITE_LOCKED: self = .busy(path: path, message: message)
        case SQLITE_READONLY where code == SQLITE_READONLY: self = .readOnly(path: path)
        default: self = .sqlite(path: path, code: code, message: message)
        }
    }
}
