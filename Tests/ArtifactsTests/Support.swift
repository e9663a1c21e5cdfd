@testable import Artifacts
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A fresh directory for one test, removed afterwards whatever happens.
func withScratch<T>(_ body: (String) async throws -> T) async throws -> T {
    var template = Array((NSTemporaryDirectory() + "/flinklet-artifacts-XXXXXX").utf8CString)
    guard let made = mkdtemp(&template) else { throw POSIXError(.init(rawValue: errno) ?? .EIO) }
    let directory = ArtifactLocation.normalize(String(cString: made))
    defer { try? FileManager.default.removeItem(atPath: directory) }
    return try await body(directory)
}

/// Writes `text` to `path`, creating parent directories.
func write(_ text: String, to path: String) throws {
    try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
    try Data(text.utf8).write(to: URL(fileURLWithPath: path))
}

func read(_ path: String) -> String? {
    FileManager.default.contents(atPath: path).map { String(decoding: $0, as: UTF8.self) }
}

/// Every file below `directory`, as paths relative to it, sorted.
func files(under directory: String) -> [String] {
    guard let enumerator = FileManager.default.enumerator(atPath: directory) else { return [] }
    var found: [String] = []
    while let name = enumerator.nextObject() as? String {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: directory + "/" + name, isDirectory: &isDirectory), !isDirectory.boolValue {
            found.append(name)
        }
    }
    return found.sorted()
}

/// The error `body` threw, if it was an `ArtifactError`.
func artifactError(_ body: () async throws(ArtifactError) -> ResolvedArtifact) async -> ArtifactError? {
    do {
        _ = try await body()
        return nil
    } catch {
        return error
    }
}

func inode(_ path: String) -> UInt64? {
    var info = stat()
    guard stat(path, &info) == 0 else { return nil }
    return UInt64(info.st_ino)
}
