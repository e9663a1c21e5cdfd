import FlinkClient
import FlinkResources
import FlinkletTesting
import Foundation
import Runtime
import Store
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Real Flink, real operator: `flinklet run` as a child process on a scratch manifest and state
/// directory, Flink 2.3 from `hack/install-flink.sh`, the counter job from
/// `hack/build-counter-job.sh`. `hack/test.sh` sets `FLINKLET_E2E=1` after installing both, and
/// then a missing prerequisite fails the suite; a plain `swift test` skips it.
enum E2E {
    static let repositoryRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static var required: Bool { ProcessInfo.processInfo.environment["FLINKLET_E2E"] == "1" }

    /// FLINK_HOME as hack/install-flink.sh installs it, or nil.
    static let flinkHome: String? = {
        if let home = ProcessInfo.processInfo.environment["FLINK_HOME"], FileManager.default.fileExists(atPath: home + "/lib") { return home }
        let lib = repositoryRoot.path + "/.flink/venv/lib"
        let pythons = (try? FileManager.default.contentsOfDirectory(atPath: lib)) ?? []
        return pythons.map { "\(lib)/\($0)/site-packages/pyflink" }.first { FileManager.default.fileExists(atPath: $0 + "/lib") }
    }()

    static var counterJar: String? {
        flinkHome.map { $0 + "/usrlib/flinklet-counter-job.jar" }.flatMap { FileManager.default.fileExists(atPath: $0) ? $0 : nil }
    }

    /// Whether the suite can run: both prerequisites present. When `FLINKLET_E2E=1` and one is
    /// missing, that is a failure, not a skip.
    static var available: Bool {
        let present = flinkHome != nil && counterJar != nil
        if required && !present {
            Issue.record("FLINKLET_E2E=1 but Flink (\(flinkHome ?? "missing")) or the counter job jar is not installed; run hack/install-flink.sh and hack/build-counter-job.sh")
        }
        return present
    }

    static let executable: URL = {
        var directory = URL(fileURLWithPath: CommandLine.arguments[0]).standardizedFileURL.deletingLastPathComponent()
        while directory.path != "/" && !directory.path.isEmpty {
            let candidate = directory.appendingPathComponent("flinklet")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
            directory = directory.deletingLastPathComponent()
        }
        return repositoryRoot.appendingPathComponent(".build/debug/flinklet")
    }()
}

/// One operator run's world: manifests, state, job output, all under a fresh directory.
final class Cluster {
    let root: String
    var manifests: String { root + "/manifests" }
    var state: String { root + "/state" }
    var output: String { root + "/out" }
    private(set) var operatorProcess: ChildProcess?
    private var runs = 0
    /// A port range of this world's own, so worlds never lease each other's ports even if run
    /// at the same time (each operator's Store knows only its own leases).
    let ports: String
    private var restClient: FlinkRESTClient?

    /// Flink's REST API as the operator calls it: HTTPS with the state directory's client
    /// certificate (which the operator makes as it first starts).
    var rest: FlinkRESTClient {
        if let restClient { return restClient }
        let context = try? TLSClientContext(tlsFiles)
        let client = FlinkRESTClient(tls: context)
        if context != nil { restClient = client }
        return client
    }

    /// The operator's client identity (PEM), as `curl --cert --key --cacert` takes it.
    var tlsFiles: TLSClientFiles {
        TLSClientFiles(certificate: state + "/tls/flinklet.crt", privateKey: state + "/tls/flinklet.key",
                       certificateAuthority: state + "/tls/flinklet.crt")
    }

    /// `curl` with the operator's client certificate, for `https://127.0.0.1:PORT/...`.
    var curlWithCertificate: [String] {
        ["curl", "--cacert", tlsFiles.certificateAuthority, "--cert", tlsFiles.certificate, "--key", tlsFiles.privateKey]
    }

    init(_ name: String) throws {
        root = NSTemporaryDirectory() + "flinklet-e2e-\(name)-\(UUID().uuidString.prefix(6))"
        // Below the kernel's ephemeral ports (32768-60999), which outgoing connections may hold.
        let base = 21_000 + Int.random(in: 0..<45) * 200
        ports = "\(base)-\(base + 199)"
        for directory in [manifests, state, output] {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        }
    }

    /// Starts `flinklet run`; its log goes to `<root>/operator-N.log`.
    func startOperator(extra: [String] = [], environment: [String: String] = [:]) throws {
        runs += 1
        let log = root + "/operator-\(runs).log"
        operatorProcess = try ChildProcess.spawn(
            [E2E.executable.path, "run", "--manifests", manifests, "--state-dir", state, "--flink-home", E2E.flinkHome!,
             "--resync", "2", "--empty-grace", "1", "--ports", ports] + extra,
            options: .init(environment: .inherit(adding: environment), standardInput: .null,
                           standardOutput: .file(log), standardError: .file(log), newProcessGroup: true))
    }

    func killOperator(signal: Int32 = SIGKILL) {
        guard let process = operatorProcess else { return }
        process.signal(signal)
        _ = process.wait()
        operatorProcess = nil
    }

    func operatorLog() -> String {
        (1...max(runs, 1)).map { (try? String(contentsOfFile: root + "/operator-\($0).log", encoding: .utf8)) ?? "" }.joined(separator: "\n")
    }

    func apply(_ file: String, _ yaml: String) throws {
        let path = manifests + "/" + file
        let temporary = manifests + "/." + file + ".tmp"
        try yaml.write(toFile: temporary, atomically: false, encoding: .utf8)
        rename(temporary, path)
    }

    func delete(_ file: String) { unlink(manifests + "/" + file) }

    /// The stored record, read through a read-only Store as `flinklet get` does.
    func record(_ kind: ResourceKind, _ name: String) -> ResourceRecord? {
        guard let store = try? Store.open(stateDirectory: state, readOnly: true) else { return nil }
        return try? store.resource(ResourceID(kind: kind, namespace: "default", name: name).key)
    }

    func deployment(_ name: String) -> FlinkDeploymentStatus? { try? record(.flinkDeployment, name)?.deploymentStatus() }
    func sessionJob(_ name: String) -> FlinkSessionJobStatus? { try? record(.flinkSessionJob, name)?.sessionJobStatus() }

    func events(_ kind: ResourceKind, _ name: String) -> [EventRecord] {
        guard let store = try? Store.open(stateDirectory: state, readOnly: true) else { return [] }
        return (try? store.events(for: ResourceID(kind: kind, namespace: "default", name: name).key)) ?? []
    }

    func restPort(_ name: String) -> Int? { deployment(name)?.clusterInfo?["rest-port"].flatMap(Int.init) }

    /// Live process-group leaders whose command line mentions this world's state directory,
    /// filtered by `containing` (e.g. a pod name).
    func processes(containing needle: String = "") -> [Int32] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap(Int32.init).filter { pid in
            guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                  let fields = stat.split(separator: ")").last?.split(separator: " "), fields.count > 2,
                  fields[0] != "Z", Int32(fields[2]) == pid,
                  let cmdline = try? Data(contentsOf: URL(fileURLWithPath: "/proc/\(pid)/cmdline")) else { return false }
            let text = String(decoding: cmdline.map { $0 == 0 ? 32 : $0 }, as: UTF8.self)
            return text.contains(state + "/") && (needle.isEmpty || text.contains(needle))
        }.sorted()
    }

    /// The counter job's output lines, split into fields (`key count [tag]`).
    func lines(_ file: String) -> [[String]] {
        guard let text = try? String(contentsOfFile: output + "/" + file, encoding: .utf8) else { return [] }
        return text.split(separator: "\n").map { $0.split(separator: " ").map(String.init) }
    }

    /// The counter job's output: per key, the counts in order of appearance.
    func counts(_ file: String) -> [String: [Int]] {
        guard let text = try? String(contentsOfFile: output + "/" + file, encoding: .utf8) else { return [:] }
        var counts: [String: [Int]] = [:]
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: " ")
            if parts.count >= 2, let count = Int(parts[1]) { counts[String(parts[0]), default: []].append(count) }
        }
        return counts
    }

    /// Prints the proof for the test log: key-0's counts in runs (a new run at each tag change
    /// or fall-back), e.g. `key-0: v1 1…66 → v2 67…120`.
    func evidence(_ file: String, _ scenario: String) {
        var runs: [(tag: String, first: Int, last: Int)] = []
        for parts in lines(file) where parts.count >= 2 && parts[0] == "key-0" {
            guard let count = Int(parts[1]) else { continue }
            let tag = parts.count >= 3 ? parts[2] : ""
            if let run = runs.last, run.tag == tag, count > run.last {
                runs[runs.count - 1].last = count
            } else {
                runs.append((tag, count, count))
            }
        }
        print("e2e evidence: \(scenario): key-0 " + runs.map { "\($0.tag.isEmpty ? "" : $0.tag + " ")\($0.first)…\($0.last)" }.joined(separator: " → "))
    }

    func lineCount(_ file: String) -> Int {
        ((try? String(contentsOfFile: output + "/" + file, encoding: .utf8)) ?? "").split(separator: "\n").count
    }

    /// Stops the operator and kills every process of this world, whatever state it is in.
    func tearDown() {
        killOperator(signal: SIGTERM)
        for pid in processes() { kill(-pid, SIGKILL) }
        _ = waitUntil(timeout: 10) { self.processes().isEmpty }
        if !E2E.keepScratch { try? FileManager.default.removeItem(atPath: root) }
    }

    deinit { tearDown() }

    /// Polls `condition` every 200 ms until it holds or `timeout` passes.
    @discardableResult
    func waitUntil(timeout: TimeInterval, interval: TimeInterval = 0.2, _ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if condition() { return true }
            usleep(useconds_t(interval * 1_000_000))
        }
        return condition()
    }

    /// A description of where things stand, for failure messages.
    func summary(_ kind: ResourceKind, _ name: String) -> String {
        let status = record(kind, name)?.status
        let events = self.events(kind, name).map { "  \($0.type.rawValue) \($0.reason): \($0.message)" }.joined(separator: "\n")
        let log = operatorLog().split(separator: "\n").suffix(30).joined(separator: "\n")
        return "status: \(status ?? "none")\nevents:\n\(events)\noperator log (tail):\n\(log)"
    }
}

extension E2E {
    /// `FLINKLET_E2E_KEEP=1` keeps each scenario's directory (logs, pod dirs) for a post-mortem.
    static var keepScratch: Bool { ProcessInfo.processInfo.environment["FLINKLET_E2E_KEEP"] == "1" }

    /// A FlinkDeployment manifest running the counter job.
    static func deployment(name: String, mode: String, args: [String], parallelism: Int = 1, jarURI: String? = nil,
                           extraConfiguration: [String: String] = [:], upgradeMode: String = "stateless", state: String = "running",
                           slots: Int = 1) -> String {
        let jar = jarURI ?? "local:///opt/flink/usrlib/flinklet-counter-job.jar"
        let configuration = (["taskmanager.numberOfTaskSlots": String(slots), "execution.checkpointing.interval": "2s"]
            .merging(extraConfiguration) { $1 }).sorted { $0.key < $1.key }
            .map { "    \($0.key): \"\($0.value)\"" }.joined(separator: "\n")
        return """
            apiVersion: flink.apache.org/v1beta1
            kind: FlinkDeployment
            metadata:
              name: \(name)
            spec:
              flinkVersion: v2_3
              mode: \(mode)
              flinkConfiguration:
            \(configuration)
              jobManager:
                resource:
                  memory: 768m
              taskManager:
                resource:
                  memory: 1024m
              job:
                jarURI: \(jar)
                entryClass: dev.flinklet.examples.CounterJob
                args: [\(args.map { "\"\($0)\"" }.joined(separator: ", "))]
                parallelism: \(parallelism)
                upgradeMode: \(upgradeMode)
                state: \(state)

            """
    }
}
