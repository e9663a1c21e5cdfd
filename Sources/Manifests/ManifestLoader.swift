import CSystemShims
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import FlinkResources
import Validation
import YAML

/// One resource document of a manifest file after every check that can be made on it alone.
public struct ManifestObject: Sendable {
    /// Position of the document in its file, from 0, counting skipped documents of other APIs
    /// and `kind: List` items one each (`DecodedDocument.index`).
    public var index: Int = 0
    /// The identity, when the document could be named — also when it is invalid.
    public var id: ResourceID?
    /// The resource, present only when the document has no errors.
    public var resource: FlinkResource?
    public var diagnostics: [Diagnostic]
    public var sourceMap: SourceMap

    public var isValid: Bool { resource != nil }
    public var location: SourceLocation { SourceLocation(file: sourceMap.file, mark: sourceMap.documentMark) }
}

/// A manifest file after reading: its objects, or the reason it could not be read at all.
public struct ManifestFile: Sendable {
    public var path: String
    public var objects: [ManifestObject]
    /// Problems with the file as a whole: unreadable, too large, not YAML. When present the
    /// file has no objects: a half-read file must not look like a file with fewer resources.
    public var fileDiagnostics: [Diagnostic]
    /// Documents of other APIs (ConfigMaps, Ingresses, kustomize files) passed over, in file
    /// order. They never make the file invalid.
    public var skipped: [SkippedDocument]

    public init(path: String, objects: [ManifestObject], fileDiagnostics: [Diagnostic], skipped: [SkippedDocument] = []) {
        self.path = path
        self.objects = objects
        self.fileDiagnostics = fileDiagnostics
        self.skipped = skipped
    }

    public var isReadable: Bool { fileDiagnostics.isEmpty }
    public var diagnostics: [Diagnostic] { fileDiagnostics + objects.flatMap(\.diagnostics) }
}

/// Reads manifests exactly as the operator does: the same parsing, decoding and validation,
/// so `flinklet validate` passing means the operator will accept the files.
public enum ManifestReader {
    public static let limits = ParserLimits()

    /// Checks one file's content. Pure apart from nothing: no I/O, the same bytes give the same result.
    public static func read(bytes: [UInt8], path: String) -> ManifestFile {
        if isKustomization(path) { return kustomization(path) }
        let documents: [Document]
        do {
            documents = try parseYAML(bytes, limits: limits)
        } catch {
            let message = error.reason == .syntax ? "invalid YAML: \(error.message)" : error.message
            return ManifestFile(path: path, objects: [], fileDiagnostics: [
                Diagnostic(.error, .root, message, at: SourceLocation(file: path, mark: error.mark)),
            ])
        }
        let (decodedDocuments, skipped) = ResourceDecoder.decodeAll(documents, file: path)
        let objects = decodedDocuments.map { decoded in
            var diagnostics = decoded.diagnostics
            if let resource = decoded.resource {
                diagnostics += Validator.validate(resource, sourceMap: decoded.sourceMap)
            }
            diagnostics.sort { ($0.location?.mark ?? Mark(line: 0, column: 0)) < ($1.location?.mark ?? Mark(line: 0, column: 0)) }
            let valid = decoded.resource != nil && !diagnostics.hasErrors
            return ManifestObject(index: decoded.index, id: decoded.id, resource: valid ? decoded.resource : nil,
                                  diagnostics: diagnostics, sourceMap: decoded.sourceMap)
        }
        return ManifestFile(path: path, objects: objects, fileDiagnostics: [], skipped: skipped)
    }

    /// Whether a path names a kustomize file (`kustomization.yaml`), which is skipped whole:
    /// it describes how to build manifests, it is none itself.
    public static func isKustomization(_ path: String) -> Bool {
        let name = path.split(separator: "/").last.map(String.init) ?? path
        return SkippedDocument.kustomizationFileNames.contains(name)
    }

    static func kustomization(_ path: String) -> ManifestFile {
        let name = path.split(separator: "/").last.map(String.init) ?? path
        return ManifestFile(path: path, objects: [], fileDiagnostics: [], skipped: [
            SkippedDocument(subject: name, reason: .kustomization, location: SourceLocation(file: path, mark: nil)),
        ])
    }

    /// Reads a file from disk (refusing files over the size limit before reading them), or
    /// standard input when `path` is `-`.
    public static func read(path: String) -> ManifestFile {
        func failure(_ message: String) -> ManifestFile {
            ManifestFile(path: path, objects: [], fileDiagnostics: [Diagnostic(.error, .root, message, at: SourceLocation(file: path, mark: nil))])
        }
        if path == "-" {
            let data = FileHandle.standardInput.readDataToEndOfFile()
            guard data.count <= limits.maxBytes else {
                return failure("input is \(data.count) bytes, larger than the limit of \(limits.maxBytes) bytes")
            }
            return read(bytes: [UInt8](data), path: path)
        }
        if isKustomization(path) { return kustomization(path) }
        guard let handle = FileHandle(forReadingAtPath: path) else {
            var isDirectory: ObjCBool = false
            if !FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) {
                return failure("cannot read: no such file or directory")
            }
            return failure(isDirectory.boolValue ? "cannot read: is a directory" : "cannot read: permission denied")
        }
        defer { try? handle.close() }
        do {
            // Read one byte past the limit: enough to know the file is too large without reading it all.
            let data = try handle.read(upToCount: limits.maxBytes + 1) ?? Data()
            guard data.count <= limits.maxBytes else {
                return failure("file is larger than the limit of \(limits.maxBytes) bytes")
            }
            return read(bytes: [UInt8](data), path: path)
        } catch {
            return failure("cannot read: \(error.localizedDescription)")
        }
    }
}

/// `transform` applied to every element on all cores, results in the input's order.
/// Each element is processed exactly once, by one thread.
public func concurrentMap<C: RandomAccessCollection, T: Sendable>(_ input: C, _ transform: @Sendable (C.Element) -> T) -> [T]
where C: Sendable, C.Index == Int {
    let count = input.count
    guard count > 1 else { return input.map(transform) }
    let results = UnsafeMutableBufferPointer<T?>.allocate(capacity: count)
    results.initialize(repeating: nil)
    defer {
        _ = results.deinitialize()
        results.deallocate()
    }
    // Every index is written by exactly one iteration, so the writes never overlap.
    nonisolated(unsafe) let output = results
    let start = input.startIndex
    DispatchQueue.concurrentPerform(iterations: count) { i in
        output[i] = transform(input[start + i])
    }
    return results.map { $0! }
}

/// Which files in a manifest directory are manifests.
public enum ManifestFiles {
    public static let extensions: Set<String> = ["yaml", "yml", "json"]

    /// True for `*.yaml`, `*.yml` and `*.json`, except editor and tool litter: dot-files
    /// (including ConfigMap `..data` links), `*~`, `*.swp`, `*.swx`, vim's `4913`, `*.bak`, `*.tmp`.
    public static func isManifest(fileName name: String) -> Bool {
        if name.hasPrefix(".") || name.hasSuffix("~") || name == "4913" { return false }
        guard let dot = name.lastIndex(of: ".") else { return false }
        let ext = name[name.index(after: dot)...].lowercased()
        return extensions.contains(ext)
    }

    /// The manifest files of a directory in path order (the order duplicates are resolved in);
    /// subdirectories too when `recursive`, except hidden ones and symbolic links to directories
    /// (as `kubectl -R`: a link can loop or lead to files read twice). Links to files are
    /// followed, so ConfigMap-style `app.yaml -> ..data/app.yaml` mounts work.
    ///
    /// Uses `readdir` and the entry types it reports, with a `stat` only for links and unknown
    /// types: the operator lists its directory on every relist.
    public static func list(directory: String, recursive: Bool) throws -> [String] {
        let base = directory.hasSuffix("/") && directory.count > 1 ? String(directory.dropLast()) : directory
        guard let stream = opendir(base) else {
            throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)
        }
        defer { closedir(stream) }
        var files: [String] = []
        var subdirectories: [String] = []
        while let entry = readdir(stream) {
            // In place: a copy of d_name would read 256 bytes, past the end of short records.
            let name = String(cString: flinklet_dirent_name(entry))
            if name == "." || name == ".." { continue }
            var type = entry.pointee.d_type
            if type == UInt8(DT_LNK) || type == UInt8(DT_UNKNOWN) {
                var info = stat()
                guard stat(base + "/" + name, &info) == 0 else { continue }  // dangling link
                let isLink = type == UInt8(DT_LNK)
                if (info.st_mode & S_IFMT) == S_IFDIR {
                    if isLink { continue }  // never follow links to directories
                    type = UInt8(DT_DIR)
                } else {
                    type = UInt8(DT_REG)
                }
            }
            if type == UInt8(DT_DIR) {
                if recursive, !name.hasPrefix(".") { subdirectories.append(name) }
            } else if isManifest(fileName: name) {
                files.append(name)
            }
        }
        var result = files.sorted().map { base + "/" + $0 }
        for name in subdirectories.sorted() {
            result += try list(directory: base + "/" + name, recursive: true)
        }
        return result.sorted()
    }
}

/// Every manifest under a set of paths, checked alone and against each other.
public struct ManifestSet: Sendable {
    /// The files in the order read; duplicates are marked on the later objects.
    public var files: [ManifestFile]

    /// Reads `paths` (files, directories, or `-`), in the order given, directories in path order.
    /// Files are read and checked concurrently, one per core; the result does not depend on it.
    public static func load(paths: [String], recursive: Bool) -> ManifestSet {
        var files: [String] = []
        var listingFailures: [Int: ManifestFile] = [:]
        for path in paths {
            var isDirectory: ObjCBool = false
            if path != "-", FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
                do {
                    files += try ManifestFiles.list(directory: path, recursive: recursive)
                } catch {
                    listingFailures[files.count] = ManifestFile(path: path, objects: [], fileDiagnostics: [
                        Diagnostic(.error, .root, "cannot list directory: \(error.localizedDescription)", at: SourceLocation(file: path, mark: nil)),
                    ])
                    files.append(path)
                }
            } else {
                files.append(path)
            }
        }
        // A file named twice (directly, or through two arguments) is read once, where first named.
        var seen: Set<String> = []
        var unique: [String] = []
        var uniqueFailures: [Int: ManifestFile] = [:]
        for (i, path) in files.enumerated() where path == "-" || seen.insert(Self.normalized(path)).inserted {
            if let failure = listingFailures[i] { uniqueFailures[unique.count] = failure }
            unique.append(path)
        }
        let (names, failures) = (unique, uniqueFailures)
        let read = concurrentMap(names.indices) { i in failures[i] ?? ManifestReader.read(path: names[i]) }
        return ManifestSet(files: read)
    }

    /// The set with every valid resource also checked for `target` (`Portability`): each finding
    /// is added to its object's diagnostics and makes it invalid.
    public func checkingPortability(for target: PortabilityTarget) -> ManifestSet {
        var result = self
        for f in result.files.indices {
            for o in result.files[f].objects.indices {
                guard let resource = result.files[f].objects[o].resource else { continue }
                let found = Portability.check(resource, sourceMap: result.files[f].objects[o].sourceMap, for: target)
                guard !found.isEmpty else { continue }
                var diagnostics = result.files[f].objects[o].diagnostics + found
                diagnostics.sort { ($0.location?.mark ?? Mark(line: 0, column: 0)) < ($1.location?.mark ?? Mark(line: 0, column: 0)) }
                result.files[f].objects[o].diagnostics = diagnostics
                if found.hasErrors { result.files[f].objects[o].resource = nil }
            }
        }
        return result
    }

    /// `./a.yaml`, `a.yaml` and `.//a.yaml` name one file: drop `.` segments and empty ones.
    static func normalized(_ path: String) -> String {
        guard path.contains("./") || path.contains("//") else { return path }
        let absolute = path.hasPrefix("/")
        let parts = path.split(separator: "/").filter { $0 != "." }
        return (absolute ? "/" : "") + parts.joined(separator: "/")
    }

    public init(files: [ManifestFile]) {
        self.files = files
        markDuplicates()
    }

    public var objects: [ManifestObject] { files.flatMap(\.objects) }
    public var skipped: [SkippedDocument] { files.flatMap(\.skipped) }
    public var diagnostics: [Diagnostic] { files.flatMap(\.diagnostics) }
    public var hasErrors: Bool { diagnostics.hasErrors }

    /// The first definition of an identity (in file order) wins; each later one is an error that
    /// names both places and is no longer valid.
    private mutating func markDuplicates() {
        var first: [ResourceID: SourceLocation] = [:]
        for f in files.indices {
            for o in files[f].objects.indices {
                guard let id = files[f].objects[o].id else { continue }
                let object = files[f].objects[o]
                let here = object.sourceMap.location(of: "metadata.name")
                guard let original = first[id] else {
                    first[id] = here
                    continue
                }
                let diagnostic = Diagnostic(.error, "metadata.name", FieldError.duplicate(
                    FieldError.quoted(id.name),
                    "\(id.kind.singular) \"\(id.namespace)/\(id.name)\" is already defined at \(original); the first definition is used"),
                    at: here, resource: id)
                files[f].objects[o].diagnostics.append(diagnostic)
                files[f].objects[o].resource = nil
            }
        }
    }
}
