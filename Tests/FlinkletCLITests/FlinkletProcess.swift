import FlinkletTesting
import Foundation
import Runtime
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What one run of the real `flinklet` executable produced.
struct FlinkletResult: CustomStringConvertible {
    var status: Int32
    /// False when the process died of a signal (a crash) instead of exiting.
    var exited: Bool
    var stdout: String
    var stderr: String

    /// Standard output split into lines, without the final empty line.
    var stdoutLines: [String] { Self.lines(stdout) }
    /// Standard error split into lines, without the final empty line.
    var stderrLines: [String] { Self.lines(stderr) }

    static func lines(_ text: String) -> [String] {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if lines.last == "" { lines.removeLast() }
        return lines
    }

    var description: String {
        "exit \(exited ? "" : "by signal ")\(status)\n--- stdout ---\n\(stdout)--- stderr ---\n\(stderr)"
    }
}

/// Runs the `flinklet` executable that SwiftPM built next to this test bundle.
enum FlinkletBinary {
    /// The package root, from this file's place in Tests/FlinkletCLITests/.
    static let repositoryRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent()  // FlinkletCLITests
        .deletingLastPathComponent()  // Tests
        .deletingLastPathComponent()

    /// The `flinklet` binary: a sibling of the running test binary (or of a directory above it),
    /// else `<repo>/.build-clitests/debug/flinklet`.
    static let executable: URL = {
        let fm = FileManager.default
        var directory = URL(fileURLWithPath: CommandLine.arguments[0]).standardizedFileURL.deletingLastPathComponent()
        while directory.path != "/" && !directory.path.isEmpty {
            let candidate = directory.appendingPathComponent("flinklet")
            var isDirectory: ObjCBool = false
            if fm.fileExists(atPath: candidate.path, isDirectory: &isDirectory), !isDirectory.boolValue,
               fm.isExecutableFile(atPath: candidate.path) {
                return candidate
            }
            directory = directory.deletingLastPathComponent()
        }
        return repositoryRoot.appendingPathComponent(".build-clitests/debug/flinklet")
    }()

    /// Runs `flinklet arguments…` in `directory`, feeding `stdin` (or nothing) to its standard
    /// input, and collects standard output and standard error separately. `environment` is
    /// added to this process's environment.
    static func run(_ arguments: [String], in directory: URL? = nil, stdin: Data? = nil,
                    environment: [String: String] = [:]) throws -> FlinkletResult {
        let output = try ChildProcess.collect([executable.path] + arguments, workingDirectory: directory?.path,
                                              environment: .inherit(adding: environment), input: stdin.map { Array($0) })
        return FlinkletResult(status: output.status, exited: output.exited, stdout: output.standardOutput, stderr: output.standardError)
    }
}

/// A fresh directory under the system's temporary directory, removed by `remove()`.
struct ScratchDirectory {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory
            .appendingPathComponent("flinklet-cli-tests-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    var path: String { url.path }

    /// Writes `text` to `name` (a path relative to the directory; parents are created).
    @discardableResult
    func write(_ name: String, _ text: String) throws -> URL {
        try write(name, Data(text.utf8))
    }

    @discardableResult
    func write(_ name: String, _ data: Data) throws -> URL {
        let file = url.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
        try data.write(to: file)
        return file
    }

    func makeDirectory(_ name: String) throws {
        try FileManager.default.createDirectory(at: url.appendingPathComponent(name), withIntermediateDirectories: true)
    }

    func remove() {
        try? FileManager.default.removeItem(at: url)
    }
}

/// Runs `body` with a fresh scratch directory and removes the directory afterwards.
func withScratchDirectory<T>(_ body: (ScratchDirectory) throws -> T) throws -> T {
    let scratch = try ScratchDirectory()
    defer { scratch.remove() }
    return try body(scratch)
}

/// Where `needle` first occurs in `text` after the first occurrence of `after` (if given), as
/// the validator reports it: 1-based line and 1-based column counted in Unicode scalars.
func position(of needle: String, in text: String, after anchor: String? = nil) -> (line: Int, column: Int)? {
    let scalars = Array(text.unicodeScalars)
    let needleScalars = Array(needle.unicodeScalars)
    var start = 0
    if let anchor {
        let anchorScalars = Array(anchor.unicodeScalars)
        guard let a = firstIndex(of: anchorScalars, in: scalars, from: 0) else { return nil }
        start = a + anchorScalars.count
    }
    guard let index = firstIndex(of: needleScalars, in: scalars, from: start) else { return nil }
    var line = 1, column = 1
    for scalar in scalars[..<index] {
        if scalar == "\n" {
            line += 1
            column = 1
        } else {
            column += 1
        }
    }
    return (line, column)
}

private func firstIndex(of needle: [Unicode.Scalar], in haystack: [Unicode.Scalar], from start: Int) -> Int? {
    guard !needle.isEmpty, haystack.count >= needle.count, start <= haystack.count - needle.count else { return nil }
    for i in start...(haystack.count - needle.count) where Array(haystack[i..<(i + needle.count)]) == needle {
        return i
    }
    return nil
}
