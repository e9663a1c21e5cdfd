import FlinkResources
import Foundation
@testable import KubeAPI
import Logging
import Store
import Testing

/// The API's watch cache over a real Store.
struct ResourceCacheTests {
    static func withStore<T>(_ body: (Store) async throws -> T) async throws -> T {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("flinklet-kubeapi-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        return try await body(try Store.open(stateDirectory: root + "/state"))
    }

    static func record(_ name: String, generation: Int64 = 1, labels: [String: String]? = nil) throws -> ResourceRecord {
        var record = ResourceRecord(id: ResourceID(kind: .flinkDeployment, namespace: "default", name: name), generation: generation,
                                    specHash: "h\(generation)", spec: #"{"mode":"session"}"#)
        try record.setMetadata(ResourceMetadata(labels: labels, annotations: nil))
        return record
    }

    @Test func aWatchFromARevisionHearsEveryLaterChangeInOrderOnce() async throws {
        try await Self.withStore { store in
            let cache = ResourceCache(store: store, logger: Logger(label: "test"))
            try store.upsert(try Self.record("a"))
            await cache.catchUp()
            let start = await cache.revision
            try store.upsert(try Self.record("b"))
            await cache.catchUp()
            try store.upsert(try Self.record("a", generation: 2))
            try store.deleteResource("FlinkDeployment/default/b")
            // Created and deleted between two reads of the Store: nothing to tell.
            try store.upsert(try Self.record("brief"))
            try store.deleteResource("FlinkDeployment/default/brief")
            guard case .events(_, let backlog, _) = await cache.subscribe(ObjectFilter(kind: .flinkDeployment), after: start) else {
                Issue.record("a watch from the current revision is not gone")
                return
            }
            #expect(backlog.map { "\($0.type.rawValue) \($0.object.record.name)" } == ["ADDED b", "MODIFIED a", "DELETED b"])
            #expect(backlog.map(\.revision) == [2, 3, 4])
        }
    }

    @Test func aWatchFromBeforeTheHistoryIsGone() async throws {
        try await Self.withStore { store in
            let cache = ResourceCache(store: store, logger: Logger(label: "test"), historyLimit: 3)
            await cache.catchUp()
            for i in 0..<5 { try store.upsert(try Self.record("r\(i)")) }
            await cache.catchUp()
            guard case .gone = await cache.subscribe(ObjectFilter(kind: .flinkDeployment), after: 1) else {
                Issue.record("revision 1 is older than the 3 changes kept")
                return
            }
            guard case .events(_, let backlog, _) = await cache.subscribe(ObjectFilter(kind: .flinkDeployment), after: 3) else {
                Issue.record("revision 3 is within the history")
                return
            }
            #expect(backlog.map(\.object.record.name) == ["r3", "r4"])
        }
    }

    @Test func liveEventsReachOnlyMatchingWatchers() async throws {
        try await Self.withStore { store in
            let cache = ResourceCache(store: store, logger: Logger(label: "test"))
            await cache.catchUp()
            var filter = ObjectFilter(kind: .flinkDeployment)
            filter.labels = try LabelSelectorParsing.parse("team=a")
            guard case .events(_, _, let stream) = await cache.subscribe(filter, after: await cache.revision) else { return }
            try store.upsert(try Self.record("other", labels: ["team": "b"]))
            try store.upsert(try Self.record("mine", labels: ["team": "a"]))
            await cache.catchUp()
            let first = await withTaskGroup(of: WatchEvent?.self) { group in
                group.addTask {
                    var iterator = stream.makeAsyncIterator()
                    return await iterator.next()
                }
                group.addTask {
                    try? await Task.sleep(for: .seconds(10))
                    return nil
                }
                let first = await group.next() ?? nil
                group.cancelAll()
                return first
            }
            #expect(first?.object.record.name == "mine", "within 10 s")
            #expect(first?.type == .added)
        }
    }
}

import Manifests

enum LabelSelectorParsing {
    static func parse(_ text: String) throws -> LabelSelector { try LabelSelector(text) }
}
