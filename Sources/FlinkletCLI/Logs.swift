import ArgumentParser
import Controller
import Engine
import FlinkResources
import Foundation
import Store

/// `flinklet logs NAME [--pod POD] [-f] [--tail N]`: a pod's log, from its file in the state directory.
struct Logs: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print the log of one of a resource's pods.")

    @Argument(help: "The resource: NAME, KIND/NAME or KIND NAME.")
    var kindOrName: String
    @Argument(help: ArgumentHelp("The resource name.", visibility: .hidden))
    var name: String?
    @Option(help: "The pod, by full name or role suffix (e.g. jobmanager-0); default: the JobManager, or the only pod.")
    var pod: String?
    @Flag(name: [.customShort("f"), .customLong("follow")], help: "Keep printing as the log grows.")
    var follow = false
    @Option(parsing: .unconditional, help: "Lines from the end to show; -1 for all.")
    var tail = -1
    @OptionGroup var state: StateOptions
    @OptionGroup var namespaces: NamespaceOptions

    func run() async throws {
        // A bare NAME is allowed here, as in `kubectl logs NAME`.
        let bareName = name == nil && !kindOrName.contains("/") && ResourceKind(spelling: kindOrName) == nil
        guard let resourceName = bareName ? kindOrName : try ResourceSelector(kindOrName, name).name else {
            throw ValidationError("a resource name is required")
        }
        let namespace = namespaces.namespace
        // Pod directories are per namespace and name (the kind is not part of the path).
        let podsDirectory = PodLayout(stateDirectory: state.stateDirectory)
            .directory(of: ResourceID(kind: .flinkDeployment, namespace: namespace, name: resourceName))
        let pods = ((try? FileManager.default.contentsOfDirectory(atPath: podsDirectory)) ?? []).sorted()
            .filter { FileManager.default.fileExists(atPath: "\(podsDirectory)/\($0)/log") }
        guard !pods.isEmpty else {
            var stderr = StandardError()
            print("error: no pod logs found for \"\(resourceName)\" in namespace \(namespace)", to: &stderr)
            throw ExitCode.failure
        }
        let chosen: String
        if let pod {
            guard let match = pods.first(where: { $0 == pod || $0.hasSuffix("-" + pod) }) else {
                var stderr = StandardError()
                print("error: pod \"\(pod)\" not found; pods of \(resourceName): \(pods.joined(separator: ", "))", to: &stderr)
                throw ExitCode.failure
            }
            chosen = match
        } else {
            chosen = pods.first { $0.hasSuffix("-jobmanager-0") } ?? pods[0]
            if pods.count > 1 {
                var stderr = StandardError()
                print("Defaulted pod to \"\(chosen)\"; other pods: \(pods.filter { $0 != chosen }.joined(separator: ", "))", to: &stderr)
            }
        }
        let path = "\(podsDirectory)/\(chosen)/log"
        let position = try printTail(of: path)
        if follow { try await followFile(path, from: position) }
    }

    /// Where following continues: the bytes of the file already printed, and which file it was.
    struct Position {
        var offset: Int
        var inode: UInt64
    }

    /// Prints the end of the log (with its rotated predecessor when printing all of it) and
    /// returns the position just after the bytes read, so following misses nothing.
    private func printTail(of path: String) throws -> Position {
        var data = Data()
        var inode: UInt64 = 0
        if let handle = FileHandle(forReadingAtPath: path) {
            var info = stat()
            if fstat(handle.fileDescriptor, &info) == 0 { inode = UInt64(info.st_ino) }
            data = (try? handle.readToEnd()) ?? Data()
            try? handle.close()
        }
        var text = String(decoding: data, as: UTF8.self)
        if tail < 0, let older = try? String(contentsOfFile: path + ".1", encoding: .utf8) { text = older + text }
        if tail >= 0 {
            let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
            let dropTrailing = lines.last == "" ? 1 : 0
            text = lines.dropLast(dropTrailing).suffix(tail).joined(separator: "\n") + (tail > 0 && dropTrailing == 1 ? "\n" : "")
        }
        FileHandle.standardOutput.write(Data(text.utf8))
        return Position(offset: data.count, inode: inode)
    }

    /// Prints what is appended after `position`, reopening the file when it is rotated
    /// (replaced, or truncated by the driver's copy-then-truncate).
    private func followFile(_ path: String, from position: Position) async throws {
        var offset = position.offset
        var inode = position.inode
        while !Task.isCancelled {
            try await Task.sleep(for: .milliseconds(200))
            guard let handle = FileHandle(forReadingAtPath: path) else { continue }
            defer { try? handle.close() }
            var info = stat()
            guard fstat(handle.fileDescriptor, &info) == 0 else { continue }
            if UInt64(info.st_ino) != inode || Int(info.st_size) < offset {
                inode = UInt64(info.st_ino)
                offset = 0
            }
            guard Int(info.st_size) > offset else { continue }
            try handle.seek(toOffset: UInt64(offset))
            if let data = try handle.read(upToCount: Int(info.st_size) - offset) {
                FileHandle.standardOutput.write(data)
                offset += data.count
            }
        }
    }
}
