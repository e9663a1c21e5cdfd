import FlinkletTesting
import Foundation
import Logging
import Testing
import FlinkResources
@testable import Manifests

/// A temporary manifest directory and a running `DirectorySource` on it. inotify does the work:
/// the resync interval is an hour, so a change seen in a test was seen through inotify.
final class WatchedDirectory: @unchecked Sendable {
    let path: String
    let source: DirectorySource
    private var task: Task<Void, any Error>?
    private let seen = SeenIDs()

    init(recursive: Bool = false, watch: Bool = true, resync: Duration = .seconds(3600)) async throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("flinklet-dirsource-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        var configuration = DirectorySource.Configuration(directory: path)
        configuration.recursive = recursive
        configuration.watch = watch
        configuration.resync = resync
        source = DirectorySource(configuration: configuration, logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
        let source = self.source, seen = self.seen
        task = Task {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await source.run() }
                group.addTask { for await id in source.changes { await seen.add(id) } }
                try await group.next()
                group.cancelAll()
            }
        }
        // run() relists once before watching; give the watcher a moment to be in place.
        try await Task.sleep(for: .milliseconds(50))
    }

    func write(_ name: String, _ text: String) throws {
        try text.write(toFile: path + "/" + name, atomically: false, encoding: .utf8)
    }

    /// Like an editor or `kubectl apply`: write a temporary file, then rename it over the target.
    func writeAtomically(_ name: String, _ text: String) throws {
        let temp = path + "/.\(name).tmp-\(UUID().uuidString)"
        try text.write(toFile: temp, atomically: false, encoding: .utf8)
        guard rename(temp, path + "/" + name) == 0 else { throw POSIXError(.EIO) }
    }

    func remove(_ name: String) throws { try FileManager.default.removeItem(atPath: path + "/" + name) }

    func names() async -> Set<String> { Set(await source.objects.keys.map(\.name)) }

    func replicas(_ name: String) async -> Int? {
        guard case .deployment(let d)? = await source.object(ResourceID(kind: .flinkDeployment, namespace: "default", name: name))?.resource else { return nil }
        return d.spec.taskManager?.replicas
    }

    func changedIDs() async -> [String] { await seen.names }

    func stop() {
        task?.cancel()
        try? FileManager.default.removeItem(atPath: path)
    }
}

actor SeenIDs {
    private(set) var names: [String] = []
    func add(_ id: ResourceID) { names.append(id.name) }
}

@Suite(.serialized) struct DirectorySourceTests {
    @Test func aFileWrittenInPlaceIsSeen() async throws {
        let dir = try await WatchedDirectory()
        defer { dir.stop() }
        try dir.write("a.yaml", deployment("a"))
        #expect(await eventually { await dir.names() == ["a"] })
        try dir.write("a.yaml", deployment("a", parallelism: 4))
        #expect(await eventually { await dir.replicas("a") == 4 })
    }

    @Test func anAtomicRenameIsSeen() async throws {
        let dir = try await WatchedDirectory()
        defer { dir.stop() }
        try dir.writeAtomically("a.yaml", deployment("a", parallelism: 2))
        #expect(await eventually { await dir.replicas("a") == 2 })
        try dir.writeAtomically("a.yaml", deployment("a", parallelism: 3))
        #expect(await eventually { await dir.replicas("a") == 3 })
    }

    @Test func aDeletedFileRemovesItsResource() async throws {
        let dir = try await WatchedDirectory()
        defer { dir.stop() }
        try dir.write("a.yaml", deployment("a"))
        try dir.write("b.yaml", deployment("b"))
        #expect(await eventually { await dir.names() == ["a", "b"] })
        try dir.remove("a.yaml")
        #expect(await eventually { await dir.names() == ["b"] })
        #expect(await eventually { await dir.changedIDs().filter { $0 == "a" }.count == 2 }, "added, then removed")
    }

    /// Kubernetes ConfigMap volumes: `app.yaml -> ..data/app.yaml`, `..data -> ..2026_1`, and an
    /// update swaps `..data` to a new directory with one rename.
    @Test func aConfigMapStyleLinkSwapIsSeen() async throws {
        let dir = try await WatchedDirectory()
        defer { dir.stop() }
        let fm = FileManager.default
        try fm.createDirectory(atPath: dir.path + "/..2026_1", withIntermediateDirectories: true)
        try deployment("cm", parallelism: 1).write(toFile: dir.path + "/..2026_1/app.yaml", atomically: false, encoding: .utf8)
        try fm.createSymbolicLink(atPath: dir.path + "/..data", withDestinationPath: "..2026_1")
        try fm.createSymbolicLink(atPath: dir.path + "/app.yaml", withDestinationPath: "..data/app.yaml")
        #expect(await eventually { await dir.replicas("cm") == 1 })

        try fm.createDirectory(atPath: dir.path + "/..2026_2", withIntermediateDirectories: true)
        try deployment("cm", parallelism: 2).write(toFile: dir.path + "/..2026_2/app.yaml", atomically: false, encoding: .utf8)
        try fm.createSymbolicLink(atPath: dir.path + "/..data_tmp", withDestinationPath: "..2026_2")
        #expect(rename(dir.path + "/..data_tmp", dir.path + "/..data") == 0)
        #expect(await eventually { await dir.replicas("cm") == 2 })
    }

    @Test func editorLitterIsIgnored() async throws {
        let dir = try await WatchedDirectory()
        defer { dir.stop() }
        for name in [".a.yaml.swp", "a.yaml~", "a.yaml.swp", "4913", "a.yaml.bak", "a.yaml.tmp", "notes.txt"] {
            try dir.write(name, deployment("litter"))
        }
        try dir.write("real.yaml", deployment("real"))
        #expect(await eventually { await dir.names() == ["real"] })
    }

    @Test func aBurstOfAThousandFilesEndsWithAllThousand() async throws {
        let dir = try await WatchedDirectory()
        defer { dir.stop() }
        for i in 0..<1000 { try dir.write(String(format: "m-%04d.yaml", i), deployment("app-\(i)")) }
        #expect(await eventually(timeout: .seconds(20)) { await dir.names().count == 1000 })
        #expect(await eventually { await dir.changedIDs().count == 1000 }, "each resource reported")
        try await Task.sleep(for: .milliseconds(200))
        #expect(await dir.changedIDs().count == 1000, "and reported once")
    }

    /// A burst through a tiny inotify queue (the kernel's limit lowered while the watcher is
    /// created; root only, restored at once) still ends with every file. (The reader thread
    /// drains even 16 events faster than files can be written, so the overflow itself is
    /// tested below with records fed to the reader.)
    @Test(.enabled(if: FileManager.default.isWritableFile(atPath: "/proc/sys/fs/inotify/max_queued_events")))
    func aBurstThroughATinyInotifyQueueEndsWithEveryFile() async throws {
        let limit = "/proc/sys/fs/inotify/max_queued_events"
        let original = try String(contentsOfFile: limit, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        try "16".write(toFile: limit, atomically: false, encoding: .utf8)
        let dir: WatchedDirectory
        do {
            dir = try await WatchedDirectory()  // its watcher is created with the tiny queue
        } catch {
            try original.write(toFile: limit, atomically: false, encoding: .utf8)
            throw error
        }
        try original.write(toFile: limit, atomically: false, encoding: .utf8)
        defer { dir.stop() }
        for i in 0..<300 { try dir.write(String(format: "o-%03d.yaml", i), deployment("o-\(i)")) }
        #expect(await eventually(timeout: .seconds(20)) { await dir.names().count == 300 })
    }

    /// The reader turns the kernel's IN_Q_OVERFLOW record into an overflowed batch (and every
    /// batch makes the source relist: the tests above). Fed through a pipe, byte for byte as
    /// the kernel writes `struct inotify_event`.
    @Test func anOverflowRecordBecomesAnOverflowedBatch() async throws {
        var events: [Int32] = [0, 0], wake: [Int32] = [0, 0]
        #expect(pipe(&events) == 0 && pipe(&wake) == 0)
        _ = fcntl(events[0], F_SETFL, fcntl(events[0], F_GETFL) | O_NONBLOCK)
        let (stream, continuation) = AsyncStream.makeStream(of: InotifyWatcher.Batch.self)
        let (readFD, wakeFD) = (events[0], wake[0])
        let thread = Thread {
            InotifyWatcher.readLoop(fd: readFD, wakeRead: wakeFD, recursive: false, watched: [:], continuation: continuation)
        }
        thread.start()
        func record(wd: Int32, mask: UInt32, name: String) -> [UInt8] {
            var bytes: [UInt8] = []
            withUnsafeBytes(of: wd) { bytes += $0 }
            withUnsafeBytes(of: mask) { bytes += $0 }
            withUnsafeBytes(of: UInt32(0)) { bytes += $0 }  // cookie
            let padded = name.isEmpty ? [] : Array(name.utf8) + [UInt8](repeating: 0, count: 16 - name.utf8.count % 16)
            withUnsafeBytes(of: UInt32(padded.count)) { bytes += $0 }
            return bytes + padded
        }
        let data = record(wd: 1, mask: UInt32(IN_CLOSE_WRITE), name: "a.yaml") + record(wd: -1, mask: UInt32(IN_Q_OVERFLOW), name: "")
        _ = data.withUnsafeBytes { write(events[1], $0.baseAddress, $0.count) }
        var iterator = stream.makeAsyncIterator()
        let batch = await iterator.next()
        #expect(batch?.overflowed == true)
        #expect(batch?.names.first == "a.yaml")
        var byte: UInt8 = 1
        _ = write(wake[1], &byte, 1)
        _ = await iterator.next()  // the stream finishes when the reader has stopped using the pipes
        for fd in events + wake { close(fd) }
    }

    /// A batch of temporary files alone (an atomic write's `.name.tmp` before its rename) costs
    /// no relist; a manifest's name, a ConfigMap's `..data` swap, a directory or an overflow does.
    @Test func onlyBatchesThatCanChangeManifestsAskForARelist() async throws {
        var events: [Int32] = [0, 0], wake: [Int32] = [0, 0]
        #expect(pipe(&events) == 0 && pipe(&wake) == 0)
        _ = fcntl(events[0], F_SETFL, fcntl(events[0], F_GETFL) | O_NONBLOCK)
        let (stream, continuation) = AsyncStream.makeStream(of: InotifyWatcher.Batch.self)
        let (readFD, wakeFD) = (events[0], wake[0])
        let thread = Thread {
            InotifyWatcher.readLoop(fd: readFD, wakeRead: wakeFD, recursive: false, watched: [:], continuation: continuation)
        }
        thread.start()
        func record(mask: UInt32, name: String) -> [UInt8] {
            var bytes: [UInt8] = []
            withUnsafeBytes(of: Int32(1)) { bytes += $0 }
            withUnsafeBytes(of: mask) { bytes += $0 }
            withUnsafeBytes(of: UInt32(0)) { bytes += $0 }  // cookie
            let padded = name.isEmpty ? [] : Array(name.utf8) + [UInt8](repeating: 0, count: 16 - name.utf8.count % 16)
            withUnsafeBytes(of: UInt32(padded.count)) { bytes += $0 }
            return bytes + padded
        }
        var iterator = stream.makeAsyncIterator()
        func batch(_ records: [(UInt32, String)]) async -> InotifyWatcher.Batch? {
            let data = records.flatMap { record(mask: $0.0, name: $0.1) }
            _ = data.withUnsafeBytes { write(events[1], $0.baseAddress, $0.count) }
            return await iterator.next()
        }
        let temporary = await batch([(UInt32(IN_CREATE), ".a.yaml.tmp"), (UInt32(IN_CLOSE_WRITE), ".a.yaml.tmp"), (UInt32(IN_CLOSE_WRITE), "b.yaml~"),
                                     (UInt32(IN_CREATE), "x.tmp"), (UInt32(IN_MODIFY), "4913")])
        #expect(temporary?.names.count == 5 && temporary?.mayChangeManifests == false)
        #expect(await batch([(UInt32(IN_MOVED_FROM), ".a.yaml.tmp"), (UInt32(IN_MOVED_TO), "a.yaml")])?.mayChangeManifests == true)
        #expect(await batch([(UInt32(IN_MOVED_TO), "..data")])?.mayChangeManifests == true, "a ConfigMap's link swap")
        #expect(await batch([(UInt32(IN_CREATE) | UInt32(IN_ISDIR), ".hidden")])?.mayChangeManifests == true, "a directory")
        #expect(await batch([(UInt32(IN_MOVE_SELF), "")])?.mayChangeManifests == true, "the directory itself")
        var byte: UInt8 = 1
        _ = write(wake[1], &byte, 1)
        _ = await iterator.next()
        for fd in events + wake { close(fd) }
    }

    /// The safety net for missed events and inotify queue overflows: without inotify, the
    /// periodic relist alone brings every change in.
    @Test func thePeriodicRelistAloneSeesChanges() async throws {
        let dir = try await WatchedDirectory(watch: false, resync: .milliseconds(100))
        defer { dir.stop() }
        try dir.write("a.yaml", deployment("a", parallelism: 1))
        try dir.write("b.yaml", deployment("b"))  // so removing a.yaml does not empty the directory (that has its guard)
        #expect(await eventually { await dir.replicas("a") == 1 })
        try dir.writeAtomically("a.yaml", deployment("a", parallelism: 2))
        #expect(await eventually { await dir.replicas("a") == 2 })
        try dir.remove("a.yaml")
        #expect(await eventually { await dir.names() == ["b"] })
    }

    @Test func subdirectoriesAreFollowedWithRecursive() async throws {
        let dir = try await WatchedDirectory(recursive: true)
        defer { dir.stop() }
        try FileManager.default.createDirectory(atPath: dir.path + "/team-a", withIntermediateDirectories: true)
        try await Task.sleep(for: .milliseconds(50))
        try dir.write("team-a/a.yaml", deployment("nested"))
        #expect(await eventually { await dir.names() == ["nested"] })
    }
}

