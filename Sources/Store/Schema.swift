/// The database schema, as an ordered list of migrations.
///
/// `PRAGMA user_version` holds the version of the last migration applied. Opening a database
/// read-write applies the missing migrations in order, in one transaction together with the
/// version bumps, so a crash leaves the database at the old version or the new one, never between.
/// Migrations are append-only: a released migration is never edited, a change is a new one.
package enum Schema {
    package struct Migration {
        package let version: Int
        package let sql: String
    }

    package static let migrations: [Migration] = [
        Migration(version: 1, sql: """
            CREATE TABLE resources (
                key TEXT PRIMARY KEY,
                kind TEXT NOT NULL,
                namespace TEXT NOT NULL,
                name TEXT NOT NULL,
                uid TEXT NOT NULL UNIQUE,
                generation INTEGER NOT NULL,
                spec_hash TEXT NOT NULL,
                spec TEXT NOT NULL,
                last_reconciled_spec TEXT,
                status TEXT,
                file TEXT,
                created_at INTEGER NOT NULL,
                updated_at INTEGER NOT NULL
            ) STRICT;

            -- No foreign key to resources: a resource that was never valid can still have events
            -- (ValidationError). Deleting a resource deletes its events explicitly.
            CREATE TABLE events (
                id INTEGER PRIMARY KEY,
                key TEXT NOT NULL,
                type TEXT NOT NULL,
                reason TEXT NOT NULL,
                message TEXT NOT NULL,
                count INTEGER NOT NULL,
                first_timestamp INTEGER NOT NULL,
                last_timestamp INTEGER NOT NULL,
                source TEXT NOT NULL,
                UNIQUE (key, type, reason, message)
            ) STRICT;
            CREATE INDEX events_by_key_time ON events (key, last_timestamp, id);
            CREATE INDEX events_by_time ON events (last_timestamp, id);

            CREATE TABLE pods (
                name TEXT PRIMARY KEY,
                owner TEXT NOT NULL,
                pid INTEGER NOT NULL,
                pgid INTEGER NOT NULL,
                process_start_ticks INTEGER NOT NULL,
                spec_hash TEXT NOT NULL,
                spec BLOB NOT NULL,
                started_at INTEGER NOT NULL
            ) STRICT;
            CREATE INDEX pods_by_owner ON pods (owner, name);

            -- position: the port's place in its owner's lease, so the i-th port never changes.
            CREATE TABLE port_leases (
                port INTEGER PRIMARY KEY,
                owner TEXT NOT NULL,
                position INTEGER NOT NULL,
                leased_at INTEGER NOT NULL,
                UNIQUE (owner, position)
            ) STRICT;
            """),
        // The Kubernetes API's view: a revision (resourceVersion) bumped by every resource
        // write, the metadata the manifest gives (labels, annotations), when a resource's
        // deletion was seen, and a bounded history of deletions for watchers.
        Migration(version: 2, sql: """
            ALTER TABLE resources ADD COLUMN revision INTEGER NOT NULL DEFAULT 0;
            ALTER TABLE resources ADD COLUMN metadata TEXT;
            ALTER TABLE resources ADD COLUMN deleted_at INTEGER;
            CREATE INDEX resources_by_revision ON resources (revision);
            CREATE TABLE revision (id INTEGER PRIMARY KEY CHECK (id = 1), value INTEGER NOT NULL) STRICT;
            INSERT INTO revision (id, value) VALUES (1, 0);
            CREATE TABLE deletions (
                revision INTEGER PRIMARY KEY,
                key TEXT NOT NULL,
                record TEXT NOT NULL
            ) STRICT;
            """),
    ]

    static var version: Int { migrations.last?.version ?? 0 }

    /// Applies the migrations the database lacks, all in one transaction (a reader never sees
    /// a database between two of them). The version is re-read inside the transaction, so two
    /// processes migrating at once apply each migration once.
    static func migrate(_ database: Database) throws {
        try database.transaction {
            for migration in migrations where try database.userVersion() < migration.version {
                try database.execute(migration.sql)
                try database.execute("PRAGMA user_version = \(migration.version)")
            }
        }
    }
}
