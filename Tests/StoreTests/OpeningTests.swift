import FlinkResources
import Foundation
import Store
import Testing

@Suite("Opening the store")
struct OpeningTests {
    @Test func openCreatesTheStateDirectoryAndAWALDatabaseAtTheCurrentSchema() throws {
        try withStateDirectory { dir in
            let store = try Store.open(stateDirectory: dir)
            #expect(store.databasePath == dir + "/state.db")
            #expect(FileManager.default.fileExists(atPath: dir + "/state.db"))

            let inspector = try Database(path: dir + "/state.db", readOnly: true)
            #expect(try inspector.pragma("journal_mode") == "wal")
            #expect(try inspector.userVersion() == Store.schemaVersion)
            _ = store
        }
    }

    @Test func migrationsAreNumberedOneByOneFromOne() {
        #expect(Schema.migrations.map(\.version) == Array(1...Schema.migrations.count))
        #expect(Store.schemaVersion == Schema.migrations.count)
    }

    @Test func reopeningKeepsEverything() throws {
        try withStateDirectory { dir in
            let record = deployment("counter")
            let pod = PodRecordRow(name: "counter-jobmanager-0", owner: record.key, pid: 4242, pgid: 4242,
                                   processStartTicks: 123_456, specHash: "abc", spec: Data(#"{"argv":[]}"#.utf8), startedAt: time(1))
            let ports: [Int]
            do {
                let store = try Store.open(stateDirectory: dir)
                try store.upsert(record)
                try store.recordEvent(event(record.key, "Submit", "Starting deployment", at: 2))
                try store.savePod(pod)
                ports = try store.leasePorts(owner: record.key, count: 3, range: 20_000...20_100)
            }
            let store = try Store.open(stateDirectory: dir)
            #expect(try unrevised(store.resource(record.key)) == record)
            #expect(try store.events(for: record.key).map(\.reason) == ["Submit"])
            #expect(try store.pods() == [pod])
            #expect(try store.ports(owner: record.key) == ports)
        }
    }

    @Test func aReadOnlyOpenSeesTheOperatorsData() throws {
        try withStateDirectory { dir in
            let writer = try Store.open(stateDirectory: dir)
            let record = try writer.upsert(deployment("counter"))
            let reader = try Store.open(stateDirectory: dir, readOnly: true)
            #expect(reader.isReadOnly)
            #expect(try reader.resources() == [record])
        }
    }

    @Test func aReadOnlyOpenRefusesWrites() throws {
        try withStateDirectory { dir in
            _ = try Store.open(stateDirectory: dir)
            let reader = try Store.open(stateDirectory: dir, readOnly: true)
            #expect(throws: StoreError.readOnly(path: dir + "/state.db")) { try reader.upsert(deployment("counter")) }
            #expect(throws: StoreError.readOnly(path: dir + "/state.db")) {
                try reader.transaction { try $0.recordEvent(event("FlinkDeployment/default/x", "Submit", "m", at: 0)) }
            }
        }
    }

    @Test func aReadOnlyOpenWithoutADatabaseSaysSoAndCreatesNothing() throws {
        try withStateDirectory { dir in
            #expect(throws: StoreError.notFound(path: dir + "/state.db")) { try Store.open(stateDirectory: dir, readOnly: true) }
            #expect(!FileManager.default.fileExists(atPath: dir))
        }
    }

    @Test(arguments: [false, true])
    func aDatabaseFromANewerFlinkletIsRefusedAndLeftUntouched(readOnly: Bool) throws {
        try withStateDirectory { dir in
            let path = dir + "/state.db"
            do {
                let store = try Store.open(stateDirectory: dir)
                try store.upsert(deployment("counter"))
            }
            let newer = Store.schemaVersion + 1
            try Database(path: path, readOnly: false).execute("PRAGMA user_version = \(newer)")
            let before = try contents(path)

            let error = #expect(throws: StoreError.self) { try Store.open(stateDirectory: dir, readOnly: readOnly) }
            #expect(error == .newerSchema(path: path, found: newer, supported: Store.schemaVersion))
            let message = error.map(String.init(describing:)) ?? ""
            #expect(message.contains("\(path) has schema version \(newer), newer than this flinklet supports (\(Store.schemaVersion))"))
            #expect(try contents(path) == before)
        }
    }

    @Test(arguments: [false, true])
    func aFileThatIsNotADatabaseIsReportedAsCorruptAndLeftUntouched(readOnly: Bool) throws {
        try withStateDirectory { dir in
            let path = dir + "/state.db"
            try StateDirectory(path: dir).create()
            let garbage = Data((0..<8192).map { UInt8(truncatingIfNeeded: $0 &* 7919 &+ 13) })
            try garbage.write(to: URL(fileURLWithPath: path))

            let error = #expect(throws: StoreError.self) { try Store.open(stateDirectory: dir, readOnly: readOnly) }
            guard case .corrupt(let errorPath, let sqliteMessage) = error else {
                Issue.record("expected .corrupt, got \(String(describing: error))")
                return
            }
            #expect(errorPath == path)
            #expect(sqliteMessage == "file is not a database")
            #expect(String(describing: error!).hasPrefix("\(path) is not a usable Flinklet state database: file is not a database"))
            #expect(try contents(path) == garbage)
        }
    }

    @Test func anOlderSchemaIsMigratedByTheOperatorButRefusedReadOnly() throws {
        try withStateDirectory { dir in
            let path = dir + "/state.db"
            try StateDirectory(path: dir).create()
            try Database(path: path, readOnly: false).execute("CREATE TABLE unrelated (x INTEGER)")  // user_version 0

            #expect(throws: StoreError.olderSchema(path: path, found: 0, required: Store.schemaVersion)) {
                try Store.open(stateDirectory: dir, readOnly: true)
            }
            let store = try Store.open(stateDirectory: dir)
            try store.upsert(deployment("counter"))
            #expect(try Database(path: path, readOnly: true).userVersion() == Store.schemaVersion)
        }
    }
}
