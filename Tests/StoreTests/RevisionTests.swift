import FlinkResources
import Foundation
import Store
import Testing

/// The Store's revision: the Kubernetes API's resourceVersion.
struct RevisionTests {
    @Test func everyResourceWriteTakesTheNextRevisionAcrossRestarts() throws {
        try withStateDirectory { dir in
            var store = try Store.open(stateDirectory: dir)
            #expect(try store.revision == 0)
            let a = try store.upsert(deployment("a"))
            let b = try store.upsert(deployment("b"))
            #expect((a.revision, b.revision) == (1, 2))
            #expect(try store.upsert(deployment("a", generation: 2)).revision == 3)
            #expect(try store.revision == 3)
            store = try Store.open(stateDirectory: dir)
            #expect(try store.revision == 3, "kept across restarts")
            #expect(try store.upsert(deployment("c")).revision == 4)
            #expect(try Store.open(stateDirectory: dir, readOnly: true).revision == 4, "another process reads it from the database")
        }
    }

    @Test func changesSinceARevisionHaveTheWrittenRecordsAndTheDeletions() throws {
        try withStateDirectory { dir in
            let store = try Store.open(stateDirectory: dir)
            try store.upsert(deployment("a"))
            try store.upsert(deployment("b"))
            let since = try store.revision
            try store.upsert(deployment("a", generation: 2))
            #expect(try store.deleteResource(deployment("b").key))
            let changes = try store.changes(since: since)
            #expect(changes.revision == 4)
            #expect(changes.updated.map(\.name) == ["a"])
            #expect(changes.deleted.map(\.record.name) == ["b"] && changes.deleted.map(\.revision) == [4])
            #expect(changes.complete)
            #expect(try store.changes(since: 4).updated.isEmpty)
        }
    }

    @Test func aWatcherBehindTheDeletionHistoryIsToldItIsIncomplete() throws {
        try withStateDirectory { dir in
            let store = try Store.open(stateDirectory: dir)
            for i in 0...(Store.deletionHistoryLimit) {
                try store.upsert(deployment("r\(i)"))
                try store.deleteResource(deployment("r\(i)").key)
            }
            #expect(try !store.changes(since: 1).complete)
            #expect(try store.changes(since: try store.revision - 10).complete)
        }
    }

    @Test func labelsAnnotationsAndTheDeletionTimeAreKept() throws {
        try withStateDirectory { dir in
            let store = try Store.open(stateDirectory: dir)
            var record = deployment("a")
            try record.setMetadata(ResourceMetadata(labels: ["team": "a"], annotations: [:]))
            record.deletedAt = time(5)
            let stored = try store.upsert(record)
            #expect(stored.resourceMetadata == ResourceMetadata(labels: ["team": "a"], annotations: nil))
            #expect(try store.resource(record.key)?.deletedAt == time(5))
        }
    }
}
