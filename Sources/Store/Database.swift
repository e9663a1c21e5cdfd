import CSQLite
import Foundation

/// A value bound to, or read from, an SQL statement.
package enum SQLValue: Sendable, Hashable {
    case integer(Int64)
    case real(Double)
    case text(String)
    case blob(Data)
    case null

    package static func integer(_ value: Int) -> SQLValue { .integer(Int64(value)) }
    package static func text(_ value: String?) -> SQLValue { value.map(SQLValue.text) ?? .null }
    package static func integer(_ value: Int64?) -> SQLValue { value.map(SQLValue.integer) ?? .null }
    package static func time(_ date: Date) -> SQLValue { .integer(date.millisecondsSince1970) }
}

/// One connection to an SQLite database file.
///
/// Not thread-safe: one owner uses it at a time (`Store` guarantees this with a mutex, which is
/// why connections are opened with `SQLITE_OPEN_NOMUTEX`). Every failure is a `StoreError` that
/// names the file. Prepared statements are cached per SQL text for the connection's life.
package final class Database {
    package let path: String
    package let isReadOnly: Bool
    private var handle: OpaquePointer?
    private var cache: [String: Statement] = [:]

    /// How long a statement waits for another connection's write lock before failing with
    /// `StoreError.busy`.
    package static let busyTimeoutMilliseconds: Int32 = 5_000

    /// Opens (read-write opens also create) the file. Nothing is read or written yet: a file
    /// that is not a database is only detected by the first statement.
    package init(path: String, readOnly: Bool) throws(StoreError) {
        self.path = path
        self.isReadOnly = readOnly
        let flags = (readOnly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) | SQLITE_OPEN_NOMUTEX
        var db: OpaquePointer?
        let code = sqlite3_open_v2(path, &db, flags, nil)
        guard code == SQLITE_OK, let db else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? String(cString: sqlite3_errstr(code))
            sqlite3_close_v2(db)
            throw StoreError(path: path, code: code, message: message)
        }
        handle = db
        sqlite3_extended_result_codes(db, 1)
        sqlite3_busy_timeout(db, Self.busyTimeoutMilliseconds)
    }

    deinit {
        cache.removeAll()  // finalizes the cached statements before the connection closes
        sqlite3_close_v2(handle)
    }

    fileprivate var connection: OpaquePointer {
        guard let handle else { preconditionFailure("SQLite connection to \(path) used after close") }
        return handle
    }

    /// Runs one or more statements that take no parameters and return no rows of interest.
    package func execute(_ sql: String) throws(StoreError) {
        var message: UnsafeMutablePointer<CChar>?
        let code = sqlite3_exec(connection, sql, nil, nil, &message)
        guard code == SQLITE_OK else {
            let text = message.map { String(cString: $0) } ?? String(cString: sqlite3_errmsg(connection))
            sqlite3_free(message)
            throw StoreError(path: path, code: code, message: text)
        }
    }

    /// Runs one statement with `bindings` and maps every row it returns.
    package func query<T>(_ sql: String, _ bindings: [SQLValue] = [], _ map: (Row) throws -> T) throws -> [T] {
        let statement = try prepared(sql)
        defer { statement.reset() }
        try statement.bind(bindings)
        var result: [T] = []
        while let row = try statement.step() {
            result.append(try map(row))
        }
        return result
    }

    /// Runs one statement with `bindings` and maps its first row, if any.
    package func queryFirst<T>(_ sql: String, _ bindings: [SQLValue] = [], _ map: (Row) throws -> T) throws -> T? {
        let statement = try prepared(sql)
        defer { statement.reset() }
        try statement.bind(bindings)
        guard let row = try statement.step() else { return nil }
        let value = try map(row)
        while try statement.step() != nil {}
        return value
    }

    /// Runs one statement with `bindings`, ignoring any rows; returns the number of rows changed.
    @discardableResult
    package func run(_ sql: String, _ bindings: [SQLValue] = []) throws(StoreError) -> Int {
        let statement = try prepared(sql)
        defer { statement.reset() }
        try statement.bind(bindings)
        while try statement.step() != nil {}
        return Int(sqlite3_changes(connection))
    }

    /// The value of a pragma that returns one row, as text (`journal_mode` → `"wal"`).
    package func pragma(_ name: String) throws(StoreError) -> String? {
        let statement = try Statement(database: self, sql: "PRAGMA \(name)")
        guard let row = try statement.step() else { return nil }
        return row.isNull(0) ? nil : row.string(0)
    }

    /// The schema version recorded in the file's header (`PRAGMA user_version`).
    package func userVersion() throws(StoreError) -> Int {
        try pragma("user_version").flatMap(Int.init) ?? 0
    }

    /// True while a transaction is open on this connection.
    package var isInTransaction: Bool { sqlite3_get_autocommit(connection) == 0 }

    /// Runs `body` in one transaction: committed when it returns, rolled back when it (or the
    /// commit) throws. Read-write connections take the write lock up front (`BEGIN IMMEDIATE`),
    /// so a transaction never fails half-way because another connection wrote first; read-only
    /// connections read one consistent snapshot (`BEGIN DEFERRED`). Transactions do not nest.
    package func transaction<T>(_ body: () throws -> T) throws -> T {
        precondition(!isInTransaction, "SQLite transactions on \(path) do not nest")
        try execute(isReadOnly ? "BEGIN DEFERRED" : "BEGIN IMMEDIATE")
        do {
            let result = try body()
            try execute("COMMIT")
            return result
        } catch {
            if isInTransaction { try? execute("ROLLBACK") }
            throw error
        }
    }

    /// A statement prepared once per connection and reused; callers reset it after use.
    private func prepared(_ sql: String) throws(StoreError) -> Statement {
        if let statement = cache[sql] { return statement }
        let statement = try Statement(database: self, sql: sql)
        cache[sql] = statement
        return statement
    }

    fileprivate func error(_ code: Int32) -> StoreError {
        StoreError(path: path, code: code, message: String(cString: sqlite3_errmsg(connection)))
    }
}

/// A prepared statement. Finalized when released.
package final class Statement {
    private let database: Database
    private let handle: OpaquePointer

    package init(database: Database, sql: String) throws(StoreError) {
        var statement: OpaquePointer?
        let code = sqlite3_prepare_v2(database.connection, sql, -1, &statement, nil)
        guard code == SQLITE_OK, let statement else {
            sqlite3_finalize(statement)
            throw database.error(code)
        }
        self.database = database
        self.handle = statement
    }

    deinit { sqlite3_finalize(handle) }

    /// Binds `values` to the parameters `?1`, `?2`, ... in order. Text and blobs are copied.
    package func bind(_ values: [SQLValue]) throws(StoreError) {
        sqlite3_clear_bindings(handle)
        for (offset, value) in values.enumerated() {
            let index = Int32(offset + 1)
            let code: Int32
            switch value {
            case .integer(let v): code = sqlite3_bind_int64(handle, index, v)
            case .real(let v): code = sqlite3_bind_double(handle, index, v)
            case .text(let v): code = sqlite3_bind_text(handle, index, v, -1, sqliteTransient)
            case .blob(let v):
                code = v.withUnsafeBytes { bytes in
                    // A zero-length blob must not bind as NULL: sqlite3_bind_zeroblob keeps it a blob.
                    bytes.baseAddress.map { sqlite3_bind_blob64(handle, index, $0, UInt64(bytes.count), sqliteTransient) }
                        ?? sqlite3_bind_zeroblob(handle, index, 0)
                }
            case .null: code = sqlite3_bind_null(handle, index)
            }
            guard code == SQLITE_OK else { throw database.error(code) }
        }
    }

    /// Advances to the next row; nil when the statement is done.
    package func step() throws(StoreError) -> Row? {
        switch sqlite3_step(handle) {
        case SQLITE_ROW: return Row(handle: handle)
        case SQLITE_DONE: return nil
        case let code: throw database.error(code)
        }
    }

    /// Makes the statement ready to run again and releases the locks and bindings it holds.
    package func reset() {
        sqlite3_reset(handle)
        sqlite3_clear_bindings(handle)
    }
}

/// The current row of a statement; valid only until the statement steps again.
package struct Row {
    fileprivate let handle: OpaquePointer

    package func isNull(_ column: Int32) -> Bool { sqlite3_column_type(handle, column) == SQLITE_NULL }
    package func int64(_ column: Int32) -> Int64 { sqlite3_column_int64(handle, column) }
    package func int(_ column: Int32) -> Int { Int(sqlite3_column_int64(handle, column)) }
    package func double(_ column: Int32) -> Double { sqlite3_column_double(handle, column) }
    package func time(_ column: Int32) -> Date { Date(millisecondsSince1970: int64(column)) }

    package func string(_ column: Int32) -> String {
        guard let text = sqlite3_column_text(handle, column) else { return "" }
        let count = Int(sqlite3_column_bytes(handle, column))
        return String(decoding: UnsafeBufferPointer(start: text, count: count), as: UTF8.self)
    }

    package func optionalString(_ column: Int32) -> String? { isNull(column) ? nil : string(column) }

    package func data(_ column: Int32) -> Data {
        let count = Int(sqlite3_column_bytes(handle, column))
        guard count > 0, let bytes = sqlite3_column_blob(handle, column) else { return Data() }
        return Data(bytes: bytes, count: count)
    }
}

/// SQLite copies text and blobs bound with this destructor before the bind call returns.
private let sqliteTransient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

extension Date {
    /// Milliseconds since 1970 (UTC), rounded to the nearest millisecond: the Store's time format.
    package var millisecondsSince1970: Int64 { Int64((timeIntervalSince1970 * 1000).rounded()) }

    package init(millisecondsSince1970 milliseconds: Int64) {
        self.init(timeIntervalSince1970: Double(milliseconds) / 1000)
    }

    /// This time at the Store's precision: what reading it back returns.
    package var roundedToMilliseconds: Date { Date(millisecondsSince1970: millisecondsSince1970) }
}
