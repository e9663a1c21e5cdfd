import CSystemShims
import FlinkResources
import Foundation
import Logging

#if canImport(Glibc)
import Glibc
#endif

/// Desired state from a directory of manifests: the only source of spec truth.
///
/// Guarantees:
/// - `relist()` brings the state up to date with the directory (stat-based: only changed files
///   are read again) and reports the ids whose desired object changed on `changes`.
/// - `run()` follows the directory with inotify (close_write, moved_to, create, delete,
///   moved_from — on the directory, not on files, so editors' atomic renames and ConfigMap
///   `..data` link swaps are seen) and relists every `resync` as the safety net for missed
///   events and queue overflows. Each burst of events costs one relist.
/// - Every rule of `DesiredState` holds: invalid edits keep the last valid version, unreadable
///   files delete nothing, duplicates resolve to the first path, an empty directory deletes
///   nothing until `emptyGrace` has passed.
public actor DirectorySource {
    public struct Configuration: Sendable {
        public var directory: String
        public var recursive = false
        public var resync: Duration = .seconds(10)
        /// Follow the directory with inotify; when false, only the periodic relist sees
        /// changes (for file systems without inotify, and to test the safety net alone).
        public var watch = true
        public var state = DesiredState.Options()
        /// Where `flinklet delete` (another process) leaves a note for each manifest file it
        /// removes on purpose (`RemovalNotes`); nil: none are read.
        public var removalNotes: String?

        public init(directory: String) { self.directory = directory }
    }

    public nonisolated let configuration: Configuration
    /// Ids whose desired object was added, changed or removed, in the order found.
    public nonisolated let changes: AsyncStream<ResourceID>
    private let continuation: AsyncStream<ResourceID>.Continuation
    private var state: DesiredState
    private let logger: Logger
    private var reportedEmptyGuard = false
    /// Diagnostics already logged, so a file that stays broken is logged once, not every resync.
    private var loggedDiagnostics: Set<String> = []

    public init(configuration: Configuration, logger: Logger) {
        self.configuration = configuration
        self.state = DesiredState(options: configuration.state)
        self.logger = logger
        (changes, continuation) = AsyncStream.makeStream(of: ResourceID.self)
    }

    public var objects: [ResourceID: DesiredObject] { state.objects }
    public func object(_ id: ResourceID) -> DesiredObject? { state.objects[id] }

    /// True while a resource's absence must not be read as its deletion: before the directory
    /// has been listed successfully, and while it reads as empty within the grace period.
    public var holdsDeletions: Bool { !state.hasScanned || state.emptyGuard != nil }
    /// Whether the directory has been listed successfully at least once.
    public var hasListed: Bool { state.hasScanned }

    /// Reads the directory once and reports what changed. Safe to call at any time.
    /// Notes that the manifest files at `paths` (as written, absolute or relative to the working
    /// directory) are being removed on purpose: see `DesiredState.noteRemoval(of:)`. Call it
    /// before removing them.
    public func noteRemoval(of paths: [String]) {
        let wanted = Set(paths.map(RemovalNotes.normalized))
        state.noteRemoval(of: state.knownFiles.filter { wanted.contains(RemovalNotes.normalized($0)) })
    }

    @discardableResult
    public func relist() -> Set<ResourceID> {
        if let notes = configuration.removalNotes {
            let paths = RemovalNotes.take(from: notes)
            if !paths.isEmpty { noteRemoval(of: paths) }
        }
        let scan: [(path: String, signature: DesiredState.FileSignature)]
        do {
            scan = try Self.scan(configuration.directory, recursive: configuration.recursive)
        } catch {
            logger.error("cannot list manifests; keeping every resource as it is", metadata: [
                "manifests.directory": "\(configuration.directory)", "error": "\(error)",
            ])
            return []
        }
        let changed = state.apply(scan: scan, now: .now, read: ManifestReader.read(path:))
        logGuard()
        logNewDiagnostics()
        for id in changed.sorted() { continuation.yield(id) }
        return changed
    }

    /// Follows the directory until cancelled: inotify for prompt reactions, a periodic relist
    /// for safety. Relists once before watching.
    public func run() async throws {
        let watcher = configuration.watch ? try InotifyWatcher(directory: configuration.directory, recursive: configuration.recursive) : nil
        defer { watcher?.close() }
        relist()
        let resync = configuration.resync
        try await withThrowingTaskGroup(of: Void.self) { group in
            if let watcher {
                group.addTask {
                    for await batch in watcher.batches {
                        if batch.overflowed {
                            await self.logOverflow()
                        }
                        guard batch.mayChangeManifests else { continue }
                        await self.relist()
                    }
                }
            }
            group.addTask {
                while !Task.isCancelled {
                    try await Task.sleep(for: resync)
                    await self.relist()
                }
            }
            try await group.next()
            group.cancelAll()
        }
    }

    public func finish() {
        continuation.finish()
    }

    /// inotify queue overflows seen (each followed by a relist).
    public private(set) var overflows = 0

    private func logOverflow() {
        overflows += 1
        logger.warning("inotify queue overflowed; relisting the manifest directory", metadata: ["manifests.directory": "\(configuration.directory)"])
    }

    private func logGuard() {
        switch state.emptyGuard {
        case .holding(_, let count)?:
            if !reportedEmptyGuard {
                logger.warning(
                    "the manifest directory reads as empty; keeping all \(count) resources until it has been empty for \(configuration.state.emptyGrace) (use --allow-empty to delete at once)",
                    metadata: ["manifests.directory": "\(configuration.directory)"])
                reportedEmptyGuard = true
            }
        case nil:
            reportedEmptyGuard = false
        }
    }

    private func logNewDiagnostics() {
        var current: Set<String> = []
        for object in state.objects.values {
            for diagnostic in object.diagnostics {
                let line = diagnostic.description
                current.insert(line)
                if !loggedDiagnostics.contains(line) {
                    let metadata: Logger.Metadata = ["resource.key": "\(object.id.key)"]
                    if diagnostic.isError { logger.error("\(line)", metadata: metadata) } else { logger.warning("\(line)", metadata: metadata) }
                }
            }
        }
        for note in state.fileNotes {
            current.insert(note.line)
            guard !loggedDiagnostics.contains(note.line) else { continue }
            switch note.severity {
            case .error?: logger.error("\(note.line)")
            case .warning?: logger.warning("\(note.line)")
            case nil: logger.info("\(note.line)")
            }
        }
        loggedDiagnostics = current
    }

    /// Every manifest file under `directory` with its signature, in path order.
    static func scan(_ directory: String, recursive: Bool) throws -> [(path: String, signature: DesiredState.FileSignature)] {
        try ManifestFiles.list(directory: directory, recursive: recursive).compactMap { path in
            var info = stat()
            guard stat(path, &info) == 0 else { return nil }  // vanished between listing and stat
            let signature = DesiredState.FileSignature(
                device: UInt64(info.st_dev), inode: UInt64(info.st_ino), size: Int64(info.st_size),
                modified: Int64(info.st_mtim.tv_sec) * 1_000_000_000 + Int64(info.st_mtim.tv_nsec),
                changed: Int64(info.st_ctim.tv_sec) * 1_000_000_000 + Int64(info.st_ctim.tv_nsec))
            return (path, signature)
        }
    }
}

/// inotify on a directory (and its subdirectories), read on a dedicated thread so waiting
/// never occupies one of the few threads Swift concurrency runs on.
final class InotifyWatcher: Sendable {
    struct Batch: Sendable {
        var names: [String]
        var overflowed: Bool
        /// Whether an event was about a directory (created, removed, moved) or the watched
        /// directory itself.
        var touchesDirectories = false

        /// Whether the batch can change what a relist finds: an overflow, a directory, a manifest
        /// file's name, or a ConfigMap's `..data` link swap. Editors' and `apply`'s temporary
        /// files (dot-files, `*.tmp`, `*~`, ...) alone cannot: an atomic write's temporary file
        /// would otherwise cost a relist of its own before the rename's (measured: three
        /// relists per `os.replace`, the watch of an edit waiting behind them).
        var mayChangeManifests: Bool {
            overflowed || touchesDirectories
                || names.contains { $0.isEmpty || $0 == "..data" || ManifestFiles.isManifest(fileName: $0) }
        }
    }

    let batches: AsyncStream<Batch>
    private let fd: Int32
    private let wakeWrite: Int32

    static let mask: UInt32 = UInt32(IN_CLOSE_WRITE) | UInt32(IN_MOVED_TO) | UInt32(IN_CREATE) | UInt32(IN_DELETE)
        | UInt32(IN_MOVED_FROM) | UInt32(IN_DELETE_SELF) | UInt32(IN_MOVE_SELF) | UInt32(IN_ATTRIB)

    init(directory: String, recursive: Bool) throws {
        let fd = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
        guard fd >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        var directories = [directory]
        if recursive {
            directories += Self.subdirectories(of: directory)
        }
        var watched: [Int32: String] = [:]
        for path in directories {
            let wd = inotify_add_watch(fd, path, Self.mask)
            guard wd >= 0 else {
                let code = errno
                Glibc.close(fd)
                throw POSIXError(POSIXErrorCode(rawValue: code) ?? .EIO)
            }
            watched[wd] = path
        }
        var pipeEnds: [Int32] = [0, 0]
        guard flinklet_pipe_cloexec(&pipeEnds) == 0 else {
            Glibc.close(fd)
            throw POSIXError(.EIO)
        }
        let (stream, continuation) = AsyncStream.makeStream(of: Batch.self)
        self.fd = fd
        self.wakeWrite = pipeEnds[1]
        self.batches = stream
        let wakeRead = pipeEnds[0]
        let watchRecursively = recursive
        let initialWatches = watched
        let thread = Thread {
            Self.readLoop(fd: fd, wakeRead: wakeRead, recursive: watchRecursively, watched: initialWatches, continuation: continuation)
            Glibc.close(wakeRead)
            Glibc.close(fd)
        }
        thread.name = "flinklet-inotify"
        thread.start()
    }

    /// Stops the reading thread; `batches` then finishes.
    func close() {
        var byte: UInt8 = 1
        _ = write(wakeWrite, &byte, 1)
        Glibc.close(wakeWrite)
    }

    private static func subdirectories(of directory: String) -> [String] {
        let fm = FileManager.default
        guard let names = try? fm.contentsOfDirectory(atPath: directory) else { return [] }
        var result: [String] = []
        for name in names.sorted() where !name.hasPrefix(".") {
            let path = directory + "/" + name
            var isDirectory: ObjCBool = false
            let isLink = (try? fm.attributesOfItem(atPath: path)[.type] as? FileAttributeType) == .typeSymbolicLink
            if !isLink, fm.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
                result.append(path)
                result += subdirectories(of: path)
            }
        }
        return result
    }

    /// Reads inotify records from `fd` until `wakeRead` becomes readable, yielding one batch per
    /// wake-up. Internal for tests, which feed it a pipe carrying records the kernel would write.
    static func readLoop(fd: Int32, wakeRead: Int32, recursive: Bool, watched: [Int32: String],
                         continuation: AsyncStream<Batch>.Continuation) {
        defer { continuation.finish() }
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        var watched = watched
        while true {
            var fds = [pollfd(fd: fd, events: Int16(POLLIN), revents: 0), pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0)]
            let ready = poll(&fds, 2, -1)
            if ready < 0 {
                if errno == EINTR { continue }
                return
            }
            if fds[1].revents != 0 { return }
            var batch = Batch(names: [], overflowed: false)
            // Drain everything queued, so a burst of events becomes one batch (one relist).
            while true {
                let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                if count <= 0 { break }
                var offset = 0
                while offset + 16 <= count {
                    let wd = buffer.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset, as: Int32.self) }
                    let mask = buffer.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset + 4, as: UInt32.self) }
                    let length = Int(buffer.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset + 12, as: UInt32.self) })
                    let nameBytes = buffer[(offset + 16)..<min(offset + 16 + length, count)].prefix { $0 != 0 }
                    let name = String(decoding: nameBytes, as: UTF8.self)
                    if mask & UInt32(IN_Q_OVERFLOW) != 0 { batch.overflowed = true }
                    if mask & (UInt32(IN_ISDIR) | UInt32(IN_DELETE_SELF) | UInt32(IN_MOVE_SELF)) != 0 || name.isEmpty {
                        batch.touchesDirectories = true
                    }
                    if recursive, mask & UInt32(IN_ISDIR) != 0, mask & (UInt32(IN_CREATE) | UInt32(IN_MOVED_TO)) != 0,
                       !name.hasPrefix("."), let parent = watched[wd] {
                        // A new subdirectory: watch it too (the relist this batch causes reads its files).
                        let path = parent + "/" + name
                        let newWatch = inotify_add_watch(fd, path, Self.mask)
                        if newWatch >= 0 { watched[newWatch] = path }
                    }
                    batch.names.append(name)
                    offset += 16 + length
                }
            }
            if !batch.names.isEmpty || batch.overflowed { continuation.yield(batch) }
        }
    }
}

/// Notes left by a process that removes manifest files on purpose (`flinklet delete`) for the
/// operator's `DirectorySource`: one small file per removed manifest, holding its path, in a
/// directory of the state directory. The operator takes (reads and removes) them at each relist.
public enum RemovalNotes {
    /// `<state dir>/manifest-removals`.
    public static func directory(stateDirectory: String) -> String {
        (stateDirectory.hasSuffix("/") ? stateDirectory : stateDirectory + "/") + "manifest-removals"
    }

    /// Leaves a note that `path` is being removed on purpose; call before removing it. Best
    /// effort: without the note the removal of the last file waits out the empty-grace guard.
    public static func write(removing path: String, notes: String) {
        try? FileManager.default.createDirectory(atPath: notes, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let name = notes + "/\(getpid())-\(UInt64.random(in: 0...UInt64.max)).note"
        _ = FileManager.default.createFile(atPath: name, contents: Data(normalized(path).utf8), attributes: [.posixPermissions: 0o600])
    }

    /// Reads and removes every note; returns the paths they name.
    static func take(from notes: String) -> [String] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: notes) else { return [] }
        var paths: [String] = []
        for name in names where name.hasSuffix(".note") {
            let file = notes + "/" + name
            if let data = FileManager.default.contents(atPath: file) { paths.append(String(decoding: data, as: UTF8.self)) }
            unlink(file)
        }
        return paths
    }

    /// An absolute path with its directory's symbolic links resolved (the file itself may be gone).
    public static func normalized(_ path: String) -> String {
        let absolute = URL(fileURLWithPath: path).standardizedFileURL.path
        let parent = (absolute as NSString).deletingLastPathComponent
        guard let resolved = realpath(parent, nil) else { return absolute }
        defer { free(resolved) }
        return String(cString: resolved) + "/" + (absolute as NSString).lastPathComponent
    }
}
