import FlinkResources
import Foundation
import YAML

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The manifest directory: the only source of desired state, which `apply` and `delete` change
/// file by file and `wait` and `diff` read.
///
/// Contract: every write is atomic (`AtomicFile`), so the operator's watcher sees either the
/// old file or the new one, never a partial one; temporary files are dot-files, which the
/// watcher ignores. The directory is read recursively (a resource defined in a subdirectory is
/// found, so `apply` never writes a second definition of it).
public struct ManifestDirectory: Sendable {
    public let path: String

    public init(path: String) { self.path = path }

    public var exists: Bool {
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && isDirectory.boolValue
    }

    /// Every manifest in the directory, read as the operator reads them; empty when the
    /// directory does not exist.
    public func read() -> Contents {
        guard exists else { return Contents(manifests: ManifestSet(files: [])) }
        return Contents(manifests: ManifestSet.load(paths: [path], recursive: true))
    }

    /// Where a new resource's own file goes: `<namespace>.<kind>.<name>.yaml`.
    public func newFile(for id: ResourceID) -> String {
        (path.hasSuffix("/") ? path : path + "/") + "\(id.namespace).\(id.kind.singular).\(id.name).yaml"
    }

    /// The manifests of the directory, indexed by resource.
    public struct Contents {
        public let manifests: ManifestSet

        public init(manifests: ManifestSet) { self.manifests = manifests }

        /// Every document defining `id`, in path order (more than one is a duplicate).
        public func definitions(of id: ResourceID) -> [Definition] {
            var result: [Definition] = []
            for file in manifests.files {
                for object in file.objects where object.id == id {
                    result.append(Definition(file: file.path, object: object, fileObjects: file.objects.compactMap(\.id),
                                             otherDocuments: file.skipped.count))
                }
            }
            return result
        }

        /// The first definition of `id` (the one the operator uses).
        public func definition(of id: ResourceID) -> Definition? { definitions(of: id).first }

        public func file(_ path: String) -> ManifestFile? { manifests.files.first { $0.path == path } }
    }

    /// One document of the directory defining a resource.
    public struct Definition {
        public var file: String
        public var object: ManifestObject
        /// The identities of every object of the file, this one included, in order.
        public var fileObjects: [ResourceID]
        /// Documents of other APIs in the file (a ConfigMap beside the resource): never rewritten away.
        public var otherDocuments: Int

        /// How many documents besides this one the file holds.
        public var neighbours: Int { fileObjects.count - 1 + otherDocuments }

        /// `manifests/all.yaml:12`: the line of the resource's `metadata.name`.
        public var place: String {
            let line = object.sourceMap.location(of: "metadata.name").mark?.line ?? object.sourceMap.documentMark.line
            return "\(file):\(line)"
        }

        /// True when the file defines this object and nothing else.
        public var isAlone: Bool { neighbours == 0 }
    }
}

// MARK: - Atomic file operations

/// Writes and removes manifest files so that a reader sees the old content or the new one,
/// never a mixture, and so that the change survives a crash once the call returns.
public enum AtomicFile {
    public struct Failure: Error, CustomStringConvertible {
        public var path: String
        public var operation: String
        public var code: Int32
        public var description: String { "cannot \(operation) \(path): \(String(cString: strerror(code)))" }

        public init(path: String, operation: String, code: Int32) {
            self.path = path
            self.operation = operation
            self.code = code
        }
    }

    /// Writes `bytes` to `path`: a temporary dot-file in the same directory, written and
    /// fsynced, renamed over `path`, then the directory fsynced. A replaced file keeps its mode.
    public static func write(_ bytes: [UInt8], to path: String) throws(Failure) {
        let directory = (path as NSString).deletingLastPathComponent
        let name = (path as NSString).lastPathComponent
        let temporary = (directory.isEmpty ? "" : directory + "/") + ".\(name).flinklet-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).tmp"
        var mode: mode_t = 0o644
        var info = stat()
        if stat(path, &info) == 0 { mode = info.st_mode & 0o7777 }
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard fd >= 0 else { throw Failure(path: temporary, operation: "create", code: errno) }
        var failure: Failure?
        bytes.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let written = systemWrite(fd, buffer.baseAddress! + offset, buffer.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    failure = Failure(path: temporary, operation: "write", code: errno)
                    return
                }
                offset += written
            }
        }
        if failure == nil, fchmod(fd, mode) != 0 { failure = Failure(path: temporary, operation: "chmod", code: errno) }
        if failure == nil, fsync(fd) != 0 { failure = Failure(path: temporary, operation: "fsync", code: errno) }
        close(fd)
        if failure == nil, rename(temporary, path) != 0 { failure = Failure(path: path, operation: "rename \(temporary) to", code: errno) }
        if let failure {
            unlink(temporary)
            throw failure
        }
        try syncDirectory(of: path)
    }

    /// Removes `path` and fsyncs its directory.
    public static func remove(_ path: String) throws(Failure) {
        guard unlink(path) == 0 else { throw Failure(path: path, operation: "remove", code: errno) }
        try syncDirectory(of: path)
    }

    private static func systemWrite(_ fd: Int32, _ pointer: UnsafeRawPointer, _ count: Int) -> Int {
        posixWrite(fd, pointer, count)
    }

    private static func syncDirectory(of path: String) throws(Failure) {
        let parent = (path as NSString).deletingLastPathComponent
        let directory = parent.isEmpty ? "." : parent
        let fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw Failure(path: directory, operation: "open", code: errno) }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw Failure(path: directory, operation: "fsync", code: errno) }
    }
}

/// `write(2)`, out of reach of `AtomicFile.write`'s name.
private func posixWrite(_ fd: Int32, _ pointer: UnsafeRawPointer, _ count: Int) -> Int {
    write(fd, pointer, count)
}

// MARK: - Documents of a file

/// A YAML stream cut at its document boundaries, so single documents can be copied or dropped
/// while every other byte (comments included) stays as written.
///
/// Contract: document `i` owns the lines from its start (`---`, or its first token when the
/// marker is implicit) up to the next document's start; the first document also owns the lines
/// before it (its leading comments). Concatenating every document's text gives the input back.
public struct DocumentText {
    public struct Piece {
        /// The document's lines, with their line ends.
        public var text: String
        /// The parsed document (nil root: an empty document).
        public var document: Document
        /// The items of a `kind: List` document, which are objects of their own.
        public var listItems: [YAML.Node]?

        /// How many resource objects the document holds.
        public var objectCount: Int { listItems?.count ?? (document.root == nil ? 0 : 1) }

        /// The document alone, without a leading `---` line, ready to be a file of its own.
        public var standalone: String {
            var lines = text.split(separator: "\n", omittingEmptySubsequences: false)
            if let first = lines.first, first.trimmingCharacters(in: .whitespaces) == "---" { lines.removeFirst() }
            return lines.joined(separator: "\n")
        }
    }

    public let pieces: [Piece]

    /// Cuts `bytes`; throws when they are not YAML.
    public init(bytes: [UInt8]) throws(YAMLError) {
        let documents = try parseYAML(bytes, limits: ManifestReader.limits)
        let text = String(decoding: bytes, as: UTF8.self)
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map { $0 + "\n" }
        if let last = lines.last {
            // The text after the final newline (usually nothing) has no line end of its own.
            lines[lines.count - 1] = last.dropLast()
        }
        let starts = documents.indices.map { $0 == 0 ? 1 : documents[$0].mark.line }
        pieces = documents.indices.map { i in
            let from = min(max(starts[i] - 1, 0), lines.count)
            let to = i + 1 < documents.count ? min(max(starts[i + 1] - 1, from), lines.count) : lines.count
            let root = documents[i].root
            let isList = root?["kind"]?.scalar?.text == "List" && root?["apiVersion"]?.scalar?.text == "v1"
            return Piece(text: lines[from..<to].joined(), document: documents[i], listItems: isList ? root?["items"]?.sequence : nil)
        }
    }

    /// The text of the object at `objectIndex` (counted as `ResourceDecoder` counts: empty
    /// documents skipped, list items one each), ready to be a file of its own: the document as
    /// written, or for a list item the item re-emitted (its comments are lost).
    public func standaloneText(ofObject objectIndex: Int) -> String? {
        var index = 0
        for piece in pieces {
            let count = piece.objectCount
            if objectIndex < index + count {
                if let items = piece.listItems {
                    return try? emitYAML([items[objectIndex - index]])
                }
                return piece.standalone
            }
            index += count
        }
        return nil
    }

    /// The text without the documents holding the objects at `objectIndexes`; nil when one of
    /// them is an item of a `List` that also holds objects that stay (a List cannot be cut).
    public func removing(objects objectIndexes: Set<Int>) -> String? {
        var index = 0
        var output = ""
        for (p, piece) in pieces.enumerated() {
            let range = index..<(index + piece.objectCount)
            index += piece.objectCount
            let removed = range.filter(objectIndexes.contains)
            if removed.isEmpty || range.isEmpty {
                output += piece.text
                continue
            }
            guard removed.count == range.count else { return nil }
            // The first document also owns the file's leading lines; when it goes, a later
            // document's `---` is enough to start the stream.
            if p == 0 { continue }
        }
        return output
    }
}
