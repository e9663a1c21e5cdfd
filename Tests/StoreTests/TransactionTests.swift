import FlinkResources
import Foundation
import Store
import Testing

@Suite("Transactions and concurrency")
struct TransactionTests {
    struct Interrupted: Error {}

    @Test func aTransactionThatThrowsHalfwayLeavesNothingWritten() throws {
        try withStateDirectory { dir in
            let store = try Store.open(stateDirectory: dir)
            let existing = try store.upsert(deployment("existing", generation: 1))

            #expect(throws: Interrupted.self) {
                try store.transaction { tx in
                    var changed = existing
                    changed.generation = 2
                    try tx.upsert(changed)
                    try tx.upsert(deployment("new"))
                    try tx.recordEvent(event(existing.key, "SpecChanged", "changed", at: 1))
                    _ = try tx.leasePorts(owner: existing.key, count: 2, range: 8000...8010)
                    try tx.savePod(PodRecordRow(name: "new-jobmanager-0", owner: "FlinkDeployment/default/new", pid: 1, pgid: 1,
                                                processStartTicks: 1, specHash: "h", spec: Data()))
                    #expect(try tx.resources().count == 2)  // visible inside the transaction
                    throw Interrupted()
                }
            }
            #expect(try store.resources() == [existing])
            #expect(try store.events(for: nil).isEmpty)
            #expect(try store.ports(owner: existing.key).isEmpty)
            #expect(try store.pods().isEmpty)
        }
    }

    @Test func aTransactionCommitsEverythingAndReturnsItsValue() throws {
        try withStateDirectory { dir in
            let store = try Store.open(stateDirectory: dir)
            let ports = try store.transaction { tx in
                try tx.upsert(deployment("app"))
                try tx.recordEvent(event("FlinkDeployment/default/app", "Submit", "submitted", at: 1))
                return try tx.leasePorts(owner: "FlinkDeployment/default/app", count: 2, range: 8000...8010)
            }
            #expect(ports == [8000, 8001])
            #expect(try store.resources().count == 1)
            #expect(try store.events(for: nil).count == 1)
        }
    }

    @Test func aReaderIsNotBlockedByAWriterHoldingALongTransaction() throws {
        try withStateDirectory { dir in
            let writer = try Store.open(stateDirectory: dir)
            let before = try writer.upsert(deployment("app", generation: 1))
            let reader = try Store.open(stateDirectory: dir, readOnly: true)

            let writing = DispatchSemaphore(value: 0), mayCommit = DispatchSemaphore(value: 0), done = DispatchSemaphore(value: 0)
            let writerError = Shared<String?>(nil)
            Thread.detachNewThread {
                do {
                    try writer.transaction { tx in
                        try tx.upsert(deployment("app", generation: 2))
                        writing.signal()
                        mayCommit.wait()
                    }
                } catch {
                    writerError.set("\(error)")
                }
                done.signal()
            }
            writing.wait()
            let clock = ContinuousClock()
            let start = clock.now
            let seen: ResourceRecord?
            do {
                defer { mayCommit.signal() }
                seen = try reader.resource(before.key)
                #expect(try reader.resources().count == 1)
            }
            let elapsed = clock.now - start
            done.wait()

            #expect(seen == before)  // the last committed state, not the open transaction's
            #expect(elapsed < .seconds(1), "the read waited for the writer (busy timeout is 5 s)")
            #expect(writerError.get() == nil)
            #expect(try reader.resource(before.key)?.generation == 2)
        }
    }

    @Test func aWriterIsNotBlockedByAReaderHoldingALongReadTransaction() throws {
        try withStateDirectory { dir in
            let writer = try Store.open(stateDirectory: dir)
            let before = try writer.upsert(deployment("app", generation: 1))
            let reader = try Store.open(stateDirectory: dir, readOnly: true)

            let reading = DispatchSemaphore(value: 0), mayFinish = DispatchSemaphore(value: 0), done = DispatchSemaphore(value: 0)
            let snapshots = Shared<[Int64]>([])
            let readerError = Shared<String?>(nil)
            Thread.detachNewThread {
                do {
                    try reader.transaction { tx in
                        let first = try tx.resource(before.key)?.generation ?? -1
                        reading.signal()
                        mayFinish.wait()
                        snapshots.set([first, try tx.resource(before.key)?.generation ?? -1])
                    }
                } catch {
                    readerError.set("\(error)")
                }
                done.signal()
            }
            reading.wait()
            let clock = ContinuousClock()
            let start = clock.now
            do {
                defer { mayFinish.signal() }
                try writer.upsert(deployment("app", generation: 2))
                try writer.recordEvent(event(before.key, "SpecChanged", "changed", at: 1))
            }
            let elapsed = clock.now - start
            done.wait()

            #expect(elapsed < .seconds(1), "the write waited for the reader (busy timeout is 5 s)")
            #expect(readerError.get() == nil)
            #expect(snapshots.get() == [1, 1])  // one consistent snapshot for the whole read transaction
            #expect(try reader.resource(before.key)?.generation == 2)
        }
    }

    @Test func concurrentCallersAreSerialized() async throws {
        try await withStateDirectory { dir in
            let store = try Store.open(stateDirectory: dir)
            let key = "FlinkDeployment/default/app"
            try await withThrowingTaskGroup(of: Void.self) { group in
                for worker in 0..<8 {
                    group.addTask {
                        for i in 0..<25 {
                            try store.recordEvent(event(key, "Tick", "tick", at: Double(i)))
                            try store.upsert(deployment("worker-\(worker)", generation: Int64(i + 1)))
                            _ = try store.leasePorts(owner: "worker-\(worker)", count: 2, range: 10_000...10_100)
                        }
                    }
                }
                try await group.waitForAll()
            }
            #expect(try store.events(for: key).map(\.count) == [200])
            #expect(try store.resources().map(\.generation) == Array(repeating: 25, count: 8))
            let leased = try (0..<8).flatMap { try store.ports(owner: "worker-\($0)") }
            #expect(Set(leased).count == 16)
        }
    }

    @Test func aThousandUpsertsInOneTransactionTakeWellUnderASecond() throws {
        try withStateDirectory { dir in
            let store = try Store.open(stateDirectory: dir)
            let records = (0..<1000).map { deployment("app-\($0)") }
            let elapsed = try ContinuousClock().measure {
                try store.transaction { tx in
                    for record in records { try tx.upsert(record) }
                }
            }
            #expect(elapsed < .milliseconds(500))
            #expect(try store.resources().count == 1000)
        }
    }

    @Test func callingTheStoreFromInsideItsOwnTransactionStopsInsteadOfDeadlocking() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("flinklet-reentrant-\(UUID().uuidString)").path
            let store = try Store.open(stateDirectory: dir)
            try? FileManager.default.removeItem(atPath: dir)  // open files stay usable; nothing is left behind
            _ = try store.transaction { _ in try store.resources().count }
        }
        let stderr = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
        #expect(stderr.contains("Store called from inside one of its own transactions; use the Transaction passed to the body"))
    }
}
