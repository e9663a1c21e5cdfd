import FlinkResources
import FlinkletTesting
import Foundation
import Runtime
import Store
import Testing
import YAML

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A scratch directory laid out as a user's working directory for the commands that change or
/// watch the manifest directory: `manifests/` (the default `--manifests`) and `.flinklet/`
/// (the default `--state-dir`), seeded directly where the operator would have written.
struct Workspace {
    let dir: ScratchDirectory

    var path: String { dir.path }
    var manifests: String { dir.path + "/manifests" }
    var state: String { dir.path + "/.flinklet" }

    /// The environment every command runs with: none of the user's settings leak in.
    static let cleanEnvironment = ["FLINKLET_MANIFESTS": "", "KUBECTL_EXTERNAL_DIFF": ""]

    /// Runs `flinklet arguments…` in the workspace.
    func run(_ arguments: [String], stdin: String? = nil, environment: [String: String] = [:]) throws -> FlinkletResult {
        try FlinkletBinary.run(arguments, in: dir.url, stdin: stdin.map { Data($0.utf8) },
                               environment: Self.cleanEnvironment.merging(environment) { $1 })
    }

    /// Starts `flinklet arguments…` in the workspace without waiting for it.
    func start(_ arguments: [String]) throws -> RunningFlinklet {
        try RunningFlinklet(arguments, in: dir.url, environment: Self.cleanEnvironment)
    }

    /// Writes a file relative to the workspace.
    @discardableResult
    func write(_ name: String, _ text: String) throws -> URL { try dir.write(name, text) }

    func read(_ name: String) -> String? { try? String(contentsOfFile: dir.path + "/" + name, encoding: .utf8) }

    /// The names of the files in `manifests/`, dot-files included (a temporary file left
    /// behind would show), sorted.
    func manifestFiles() -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: manifests)) ?? []).sorted()
    }

    /// Inode and modification time of a file: equal before and after means it was not rewritten.
    func identity(_ name: String) -> [Int]? {
        var info = stat()
        guard stat(dir.path + "/" + name, &info) == 0 else { return nil }
        return [Int(info.st_ino), Int(info.st_mtim.tv_sec), Int(info.st_mtim.tv_nsec)]
    }

    /// The Store, read-write, as the operator opens it.
    func store() throws -> Store { try Store.open(stateDirectory: state) }

    /// Records `manifest`'s resource as the operator would after reading it: its spec, spec
    /// hash and the given generation and status. `specHash`/`spec` override what is recorded
    /// (an operator that has not read the latest file yet).
    @discardableResult
    func seed(_ manifest: String, generation: Int64 = 1, status: FlinkDeploymentStatus? = nil,
              specFrom specManifest: String? = nil, lastReconciledFrom reconciled: String? = nil) throws -> ResourceRecord {
        let resource = try Decoded.resource(manifest)
        let recorded = try specManifest.map(Decoded.resource) ?? resource
        var record = ResourceRecord(id: resource.id, generation: generation, specHash: recorded.specHash,
                                    spec: try Decoded.specJSON(recorded), lastReconciledSpec: try reconciled.map { try Decoded.specJSON(try Decoded.resource($0)) },
                                    file: "manifests/x.yaml")
        try record.setStatus(status)
        return try store().upsert(record)
    }

    /// Replaces the status of a recorded resource.
    func setStatus(_ key: String, generation: Int64? = nil, specFrom manifest: String? = nil, _ status: FlinkDeploymentStatus) throws {
        let store = try store()
        var record = try #require(try store.resource(key))
        if let manifest {
            let resource = try Decoded.resource(manifest)
            record.spec = try Decoded.specJSON(resource)
            record.specHash = resource.specHash
        }
        if let generation { record.generation = generation }
        try record.setStatus(status)
        try store.upsert(record)
    }
}

func withWorkspace<T>(_ body: (Workspace) throws -> T) throws -> T {
    try withScratchDirectory { dir in try body(Workspace(dir: dir)) }
}

/// Resources decoded from manifest text the way the operator decodes them.
enum Decoded {
    static func resource(_ text: String) throws -> FlinkResource {
        let documents = try parseYAML(text)
        let decoded = ResourceDecoder.decode(documents, file: "test.yaml")
        return try #require(decoded.first?.resource, "not a valid resource: \(decoded.first?.diagnostics ?? [])")
    }

    /// The spec as the operator stores it (`ResourceRecord.spec`).
    static func specJSON(_ resource: FlinkResource) throws -> String {
        switch resource {
        case .deployment(let d): try ResourceRecord.json(d.spec)
        case .sessionJob(let j): try ResourceRecord.json(j.spec)
        case .snapshot(let s): try ResourceRecord.json(s.spec)
        }
    }
}

/// A status as the operator writes it: lifecycle state, observed generation, and a Ready
/// condition (with its own observed generation) when `ready` is given.
func status(_ lifecycle: ResourceLifecycleState, observed: Int64?, ready: Condition.Status? = nil, readyObserved: Int64? = nil) -> FlinkDeploymentStatus {
    FlinkDeploymentStatus(
        observedGeneration: observed, lifecycleState: lifecycle,
        conditions: ready.map { [Condition(type: "Ready", status: $0, reason: "Test", observedGeneration: readyObserved ?? observed,
                                           lastTransitionTime: "2026-01-01T00:00:00Z")] })
}

/// A `flinklet` process running in the background, its output collected as it comes.
final class RunningFlinklet: Sendable {
    private let running: BackgroundProcess
    var process: ChildProcess { running.process }

    init(_ arguments: [String], in directory: URL, environment: [String: String]) throws {
        running = try BackgroundProcess([FlinkletBinary.executable.path] + arguments, workingDirectory: directory.path,
                                        environment: .inherit(adding: environment))
    }

    var stdout: String { running.standardOutput }
    var stderr: String { running.standardError }
    var stdoutLines: [String] { FlinkletResult.lines(stdout) }

    /// Waits up to `timeout` seconds for the process to exit; true when it did.
    func waitForExit(timeout: TimeInterval) -> Bool {
        running.waitForExit(timeout: .milliseconds(Int(timeout * 1000))) != nil
    }

    /// The exit status (the signal's number if it was killed); -1 while it runs.
    var status: Int32 {
        switch process.poll() {
        case .exited(let status)?, .signaled(let status)?: status
        case nil: -1
        }
    }

    func stop() { running.stop() }

    var description: String { "--- stdout ---\n\(stdout)--- stderr ---\n\(stderr)" }
}

/// Polls `condition` every 20 ms for up to `timeout` seconds.
func eventually(timeout: TimeInterval = 15, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if condition() { return true }
        usleep(20_000)
    }
    return condition()
}

extension ManifestText {
    /// An application-mode FlinkDeployment with arguments, optional TaskManager replicas and labels.
    static func deployment(name: String, args: [String] = ["--rate", "20"], replicas: Int? = nil,
                           upgradeMode: String = "savepoint", labels: [String: String] = [:]) -> String {
        let labelLines = labels.isEmpty ? "" : "  labels:\n" + labels.sorted { $0.key < $1.key }.map { "    \($0.key): \($0.value)\n" }.joined()
        return """
            # \(name): written by FlinkletCLITests
            apiVersion: flink.apache.org/v1beta1
            kind: FlinkDeployment
            metadata:
              name: \(name)
            \(labelLines)spec:
              flinkVersion: v2_3
              mode: application
              jobManager:
                resource:
                  memory: 768m
              taskManager:
            \(replicas.map { "    replicas: \($0)\n" } ?? "")    resource:
                  memory: 1g
              job:
                jarURI: local:///opt/flink/usrlib/flinklet-counter-job.jar
                args: [\(args.map { "\"\($0)\"" }.joined(separator: ", "))]
                parallelism: 1
                upgradeMode: \(upgradeMode)

            """
    }
}
