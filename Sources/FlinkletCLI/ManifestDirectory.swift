import ArgumentParser
import FlinkResources
import Foundation
import Manifests
import YAML

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `--manifests`, shared by the commands that read or write the manifest directory.
struct ManifestOptions: ParsableArguments {
    @Option(name: .customLong("manifests"),
            help: ArgumentHelp("The manifest directory the operator reads (default: $FLINKLET_MANIFESTS, else manifests).", valueName: "dir"))
    var manifests: String?

    /// The directory: `--manifests`, else `$FLINKLET_MANIFESTS`, else `manifests`.
    var directory: ManifestDirectory {
        let environment = ProcessInfo.processInfo.environment["FLINKLET_MANIFESTS"].flatMap { $0.isEmpty ? nil : $0 }
        return ManifestDirectory(path: manifests ?? environment ?? "manifests")
    }
}

// MARK: - Input manifests

/// Manifests named by `-f` (files, directories, `-`), read and checked exactly as `validate`
/// reads them, with each file's bytes kept so documents can be copied as written.
struct InputManifests {
    let manifests: ManifestSet
    /// The bytes of each readable file, by path (`-` for standard input).
    let bytes: [String: [UInt8]]

    static func load(paths: [String], recursive: Bool) -> InputManifests {
        var files: [String] = []
        var failures: [ManifestFile] = []
        for path in paths {
            var isDirectory: ObjCBool = false
            if path != "-", FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
                do {
                    files += try ManifestFiles.list(directory: path, recursive: recursive)
                } catch {
                    failures.append(ManifestFile(path: path, objects: [], fileDiagnostics: [
                        Diagnostic(.error, .root, "cannot list directory: \(error.localizedDescription)", at: SourceLocation(file: path, mark: nil)),
                    ]))
                }
            } else {
                files.append(path)
            }
        }
        var seen: Set<String> = []
        var read: [ManifestFile] = failures
        var bytes: [String: [UInt8]] = [:]
        for path in files where seen.insert(path).inserted {
            let data: Data? = path == "-" ? FileHandle.standardInput.readDataToEndOfFile()
                : (FileManager.default.isReadableFile(atPath: path) ? try? Data(contentsOf: URL(fileURLWithPath: path)) : nil)
            if let data, data.count <= ManifestReader.limits.maxBytes {
                bytes[path] = [UInt8](data)
                read.append(ManifestReader.read(bytes: [UInt8](data), path: path))
            } else if path == "-", let data {
                read.append(ManifestFile(path: path, objects: [], fileDiagnostics: [
                    Diagnostic(.error, .root, "input is \(data.count) bytes, larger than the limit of \(ManifestReader.limits.maxBytes) bytes",
                               at: SourceLocation(file: path, mark: nil)),
                ]))
            } else {
                read.append(ManifestReader.read(path: path))  // says why it cannot be read
            }
        }
        return InputManifests(manifests: ManifestSet(files: read), bytes: bytes)
    }

    /// Prints every diagnostic (errors and warnings) on standard error, as `validate` does.
    func printDiagnostics() {
        var stderr = StandardError()
        for file in manifests.files {
            for diagnostic in file.diagnostics { print(diagnostic, to: &stderr) }
        }
    }

    /// Prints a line per skipped document of another API (`skipped: v1/ConfigMap x: ...`), on
    /// standard output, or on standard error where standard output carries data (`diff`).
    func printSkipped(toStandardError: Bool = false) {
        var stderr = StandardError()
        for skipped in manifests.skipped {
            if toStandardError { print(skipped, to: &stderr) } else { print(skipped) }
        }
    }

    /// True when something cannot be used: an unreadable file or an invalid object.
    var isInvalid: Bool { manifests.hasErrors || manifests.files.contains { !$0.isReadable } || manifests.objects.contains { !$0.isValid } }

    /// The objects with their file and index within it, in input order.
    var entries: [(file: ManifestFile, index: Int, object: ManifestObject)] {
        manifests.files.flatMap { file in file.objects.map { (file, $0.index, $0) } }
    }

    /// The text of an object as its own file.
    func text(of file: ManifestFile, object index: Int) -> String? {
        guard let bytes = bytes[file.path], let documents = try? DocumentText(bytes: bytes) else { return nil }
        return documents.standaloneText(ofObject: index)
    }
}
