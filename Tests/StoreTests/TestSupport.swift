import FlinkResources
import Foundation
import Runtime
import Store
import Synchronization

/// Runs `body` with the path of a state directory that does not exist yet, inside a fresh
/// temporary directory that is removed afterwards.
func withStateDirectory<T>(_ body: (String) throws -> T) throws -> T {
    let root = try makeTemporaryDirectory()
    defer { try? FileManager.default.removeItem(atPath: root) }
    return try body(root + "/state")
}

func withStateDirectory<T>(_ body: (String) async throws -> T) async throws -> T {
    let root = try makeTemporaryDirectory()
    defer { try? FileManager.default.removeItem(atPath: root) }
    return try await body(root + "/state")
}

private func makeTemporaryDirectory() throws -> String {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("flinklet-store-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

/// A fixed, millisecond-aligned time, `seconds` after a base.
func time(_ seconds: Double) -> Date {
    Date(millisecondsSince1970: 1_700_000_000_000 + Int64(seconds * 1000))
}

func deployment(_ name: String, namespace: String = "default", generation: Int64 = 1, uid: String? = nil,
                at seconds: Double = 0) -> ResourceRecord {
    ResourceRecord(id: ResourceID(kind: .flinkDeployment, namespace: namespace, name: name),
                   uid: uid ?? UUID().uuidString.lowercased(), generation: generation, specHash: "hash-\(generation)",
                   spec: #"{"job":{"parallelism":\#(generation)}}"#, file: "manifests/\(name).yaml",
                   createdAt: time(seconds), updatedAt: time(seconds))
}

func event(_ key: String, _ reason: String, _ message: String, at seconds: Double, type: EventType = .normal) -> EventRecord {
    EventRecord(key: key, type: type, reason: reason, message: message, firstTimestamp: time(seconds))
}

/// Runs a program to completion, discarding its output; returns its exit status.
func exitStatus(of executable: String, _ arguments: [String]) throws -> Int32 {
    let child = try ChildProcess.spawn([executable] + arguments, options: .init(
        standardInput: .null, standardOutput: .null, standardError: .null, newProcessGroup: true))
    switch child.wait() {
    case .exited(let status): return status
    case .signaled(let signal): throw TestFailure("\(executable) was killed by signal \(signal)")
    }
}

/// Whether another process could take the lock on `lockFile` right now (flock(1), non-blocking).
func otherProcessCanLock(_ lockFile: String) throws -> Bool {
    switch try exitStatus(of: "/usr/bin/flock", ["-n", lockFile, "-c", "true"]) {
    case 0: return true
    case 1: return false
    case let status: throw TestFailure("flock exited with \(status)")
    }
}

/// The bytes of a file, to show it was left untouched.
func contents(_ path: String) throws -> Data {
    try Data(contentsOf: URL(fileURLWithPath: path))
}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// A value shared with another thread.
final class Shared<Value: Sendable>: Sendable {
    private let value: Mutex<Value>
    init(_ value: Value) { self.value = Mutex(value) }
    func get() -> Value { value.withLock { $0 } }
    func set(_ newValue: Value) { value.withLock { $0 = newValue } }
}

/// A record as written, before the Store assigned its revision.
func unrevised(_ record: ResourceRecord?) -> ResourceRecord? {
    guard var record else { return nil }
    record.revision = 0
    return record
}
