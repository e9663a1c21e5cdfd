import FlinkResources
import YAML

/// What the manifests ask for, resource by resource.
public struct DesiredObject: Sendable {
    public var id: ResourceID
    /// The last valid version of the resource. Nil when no version of it has been valid yet:
    /// then there is nothing to run, only errors to report.
    public var resource: FlinkResource?
    /// Hash of `resource`'s spec (a change bumps the generation); nil without a resource.
    public var specHash: String?
    /// Hash of `resource` as a whole (metadata too); nil without a resource.
    public var contentHash: String?
    /// The manifest file that defines it now.
    public var file: String
    /// Where its `metadata.name` is written (messages about duplicates name both places).
    public var location: SourceLocation
    /// Why the manifest's current text is not being applied, when it is not: the latest edit
    /// is invalid, the file is unreadable, or a second file defines the same resource. Empty
    /// when the current text is what `resource` holds.
    public var diagnostics: [Diagnostic]

    /// True when the manifest as written now is what runs.
    public var isCurrent: Bool { resource != nil && !diagnostics.hasErrors }
}

/// The desired state of a manifest directory, updated file by file. Pure: it reads files only
/// through the function it is given, so every rule below is tested without a disk.
///
/// Rules (the issue's, and architecture.md's):
/// - A file that changed is read again; a file whose signature (inode, size, times) did not
///   change is not. A rewrite with the same content changes nothing (content hashes).
/// - An invalid edit keeps the resource's last valid version and attaches the diagnostics; so
///   does an invalid manifest read first after a restart, with the version the operator
///   recorded (`Options.lastValid`).
/// - An unreadable file (bad YAML, I/O error) keeps every resource it defined, with the error
///   attached; it never reads as "these resources were deleted".
/// - The same resource in two files: the first path wins; the other gets an error naming both.
/// - A resource whose file no longer defines it is removed — except when a scan suddenly finds
///   no manifests at all where there were some (directory unmounted, checkout in progress):
///   then nothing is removed until the directory has been seen empty for `emptyGrace`, or
///   `allowEmpty` is set.
public struct DesiredState: Sendable {
    public struct FileSignature: Sendable, Hashable {
        public var device: UInt64
        public var inode: UInt64
        public var size: Int64
        public var modified: Int64
        public var changed: Int64

        public init(device: UInt64, inode: UInt64, size: Int64, modified: Int64, changed: Int64) {
            self.device = device
            self.inode = inode
            self.size = size
            self.modified = modified
            self.changed = changed
        }
    }

    public struct Options: Sendable {
        public var emptyGrace: Duration = .seconds(30)
        public var allowEmpty = false
        /// Resources known before the first scan (the operator's store): a first scan that finds
        /// none of them in an empty directory is guarded like a directory that became empty.
        public var knownBeforeFirstScan = 0
        /// The last valid version of a resource as the operator recorded it before this start
        /// (nil: none): a resource whose manifest is invalid when first read keeps it (as an
        /// invalid edit keeps the version before it), instead of reading as never valid. Asked
        /// only then, so nothing is loaded for resources whose manifests are valid.
        /// A lookup that fails is not "none": the resource has no version for now, with the
        /// error said, and its file is read again at the next scan even if unchanged.
        public var lastValid: @Sendable (ResourceID) throws -> FlinkResource? = { _ in nil }
        public init() {}
    }

    /// Why nothing was deleted although the directory reads as empty; nil when not guarding.
    public enum EmptyGuard: Sendable, Equatable {
        case holding(since: ContinuousClock.Instant, objects: Int)
    }

    /// What the state keeps of a file: per object only what rebuilding needs, hashed once when
    /// the file was read. Parse trees are not kept (they are most of a manifest's memory).
    private struct FileEntry: Sendable {
        struct Object: Sendable {
            var id: ResourceID
            var resource: FlinkResource?
            var specHash: String?
            var contentHash: String?
            var diagnostics: [Diagnostic]
            var location: SourceLocation
        }

        var signature: FileSignature
        /// Read again at the next scan, changed or not: a lookup its objects needed failed.
        var readAgain = false
        var isReadable: Bool
        var fileDiagnostics: [Diagnostic]
        var objects: [Object]
        /// What the file holds that is no resource: skipped documents of other APIs, and the
        /// problems of documents that cannot be named (e.g. an unsupported Flink kind).
        var notes: [FileNote]

        init(signature: FileSignature, file: ManifestFile) {
            self.signature = signature
            isReadable = file.isReadable
            fileDiagnostics = file.fileDiagnostics
            notes = file.skipped.map { FileNote(severity: nil, line: $0.description) }
                + file.objects.filter { $0.id == nil }.flatMap(\.diagnostics).map { FileNote(severity: $0.severity, line: $0.description) }
            objects = file.objects.compactMap { object in
                guard let id = object.id else { return nil }
                return Object(id: id, resource: object.resource, specHash: object.resource?.specHash,
                              contentHash: object.resource?.contentHash, diagnostics: object.diagnostics,
                              location: object.sourceMap.location(of: "metadata.name"))
            }
        }
    }

    public private(set) var objects: [ResourceID: DesiredObject] = [:]
    public private(set) var emptyGuard: EmptyGuard?
    /// True once a scan has been applied: before that, no absence means anything.
    public private(set) var hasScanned = false
    private var files: [String: FileEntry] = [:]
    /// Known files an explicit delete is removing (`noteRemoval(of:)`), until a scan misses them.
    private var removedOnPurpose: Set<String> = []

    /// Notes that the known files at `paths` are being removed on purpose (`flinklet delete`,
    /// a delete through the API): when they were the last ones, the empty directory that
    /// results is a deletion, not a vanished directory, and is not held for `emptyGrace`.
    /// A note lasts until the first scan that misses its file; a file still present keeps it.
    public mutating func noteRemoval(of paths: some Sequence<String>) {
        for path in paths where files[path] != nil { removedOnPurpose.insert(path) }
    }
    private let options: Options

    public init(options: Options = Options()) {
        self.options = options
    }

    /// Brings the state up to date with a directory scan (every manifest path and its
    /// signature, in path order), reading only files that changed. Returns the ids whose
    /// desired object was added, changed or removed.
    public mutating func apply(
        scan: [(path: String, signature: FileSignature)],
        now: ContinuousClock.Instant,
        read: (String) -> ManifestFile
    ) -> Set<ResourceID> {
        // What the directory is expected to hold: the objects seen, the resources the store
        // knew before the first scan, or — while guarding — the count the guard holds for.
        var known = objects.count
        if !hasScanned { known = max(known, options.knownBeforeFirstScan) }
        if case .holding(_, let held)? = emptyGuard { known = max(known, held) }
        hasScanned = true
        // Files removed on purpose (an explicit delete) leave the directory empty on purpose too.
        let emptiedOnPurpose = !files.isEmpty && files.keys.allSatisfy(removedOnPurpose.contains)
        let present = Set(scan.map(\.path))
        removedOnPurpose = removedOnPurpose.filter(present.contains)
        if scan.isEmpty, known > 0, !options.allowEmpty, !emptiedOnPurpose {
            let since: ContinuousClock.Instant
            if case .holding(let start, _) = emptyGuard { since = start } else { since = now }
            if since.duration(to: now) < options.emptyGrace {
                emptyGuard = .holding(since: since, objects: known)
                return []
            }
        }
        emptyGuard = nil

        var next: [String: FileEntry] = [:]
        var changedFiles = scan.count != files.count
        for (path, signature) in scan {
            if let entry = files[path], entry.signature == signature, !entry.readAgain {
                next[path] = entry
            } else {
                next[path] = FileEntry(signature: signature, file: read(path))
                changedFiles = true
            }
        }
        // Same paths, same signatures: nothing to rebuild (the common case of a periodic relist).
        guard changedFiles else { return [] }
        files = next
        return rebuild(order: scan.map(\.path))
    }

    /// Recomputes every desired object from the files, keeping last valid versions.
    private mutating func rebuild(order: [String]) -> Set<ResourceID> {
        var result: [ResourceID: DesiredObject] = [:]
        result.reserveCapacity(objects.count)

        for path in order {
            guard let entry = files[path] else { continue }
            if !entry.isReadable {
                // Keep what this file defined before, with the reason it cannot be read now.
                for (id, previous) in objects where previous.file == path && result[id] == nil {
                    var kept = previous
                    kept.diagnostics = entry.fileDiagnostics.map { d in
                        var d = d
                        d.resource = id
                        return d
                    }
                    result[id] = kept
                }
                continue
            }
            for object in entry.objects {
                let id = object.id
                if let first = result[id] {
                    // A second definition: the first stays in force; both places are named.
                    let message = FieldError.duplicate(
                        FieldError.quoted(id.name),
                        "\(id.kind.singular) \"\(id.namespace)/\(id.name)\" is defined both at \(first.location) and at \(object.location); the first definition is used")
                    result[id]?.diagnostics.append(Diagnostic(.error, "metadata.name", message, at: object.location, resource: id))
                    continue
                }
                if let resource = object.resource {
                    result[id] = DesiredObject(id: id, resource: resource, specHash: object.specHash, contentHash: object.contentHash,
                                               file: path, location: object.location, diagnostics: object.diagnostics.filter { !$0.isError })
                } else if let previous = objects[id], previous.resource != nil {
                    result[id] = DesiredObject(id: id, resource: previous.resource, specHash: previous.specHash,
                                               contentHash: previous.contentHash, file: path, location: object.location,
                                               diagnostics: object.diagnostics)
                } else {
                    var diagnostics = object.diagnostics
                    var recorded: FlinkResource?
                    do {
                        recorded = try options.lastValid(id)
                    } catch {
                        files[path]?.readAgain = true
                        diagnostics.append(Diagnostic(.error, "metadata.name", "the version recorded before this start cannot be read (\(error)); "
                                                          + "the manifest is read again at the next relist", at: object.location, resource: id))
                    }
                    result[id] = DesiredObject(id: id, resource: recorded, specHash: recorded?.specHash, contentHash: recorded?.contentHash,
                                               file: path, location: object.location, diagnostics: diagnostics)
                }
            }
        }

        var changed: Set<ResourceID> = []
        for (id, object) in result {
            guard let previous = objects[id] else {
                changed.insert(id)
                continue
            }
            if previous.contentHash != object.contentHash || previous.file != object.file || previous.diagnostics != object.diagnostics {
                changed.insert(id)
            }
        }
        for id in objects.keys where result[id] == nil { changed.insert(id) }
        objects = result
        return changed
    }

    /// One line about a file that concerns no resource, for the operator's log.
    public struct FileNote: Sendable, Hashable {
        /// nil: information (a skipped document).
        public var severity: Diagnostic.Severity?
        public var line: String
    }

    /// The notes of every file currently known, in path order.
    public var fileNotes: [FileNote] {
        files.sorted { $0.key < $1.key }.flatMap(\.value.notes)
    }

    /// Paths of the files currently known, in no particular order.
    public var knownFiles: [String] { Array(files.keys) }
}
