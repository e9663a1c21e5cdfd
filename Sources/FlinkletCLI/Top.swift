import ArgumentParser
import FlinkClient
import FlinkResources
import Foundation
import Store

/// `flinklet top [pods|flinkdeployments|flinksessionjobs]`: CPU and resident memory per pod and
/// per resource, printed as `kubectl top` prints them, from the operator's own sampling (the
/// process driver measures each pod's process group about once a second, as it does for the
/// memory limit) exported on its `/metrics` as cAdvisor's `container_cpu_usage_seconds_total` and
/// `container_memory_working_set_bytes`. CPU is the rate between two scrapes `--window` apart.
struct Top: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show CPU and memory of pods or resources, as kubectl top does.",
        discussion: """
            Reads the running operator's /metrics (its address from <state-dir>/prometheus/targets.json, \
            or --server): CPU(cores) in millicores over --window seconds, MEMORY(bytes) resident, in Mi.
            """
    )

    enum What: String, ExpressibleByArgument, CaseIterable {
        case pods, pod, po
        case flinkdeployments, flinkdeployment, flinkdep, fdep
        case flinksessionjobs, flinksessionjob, sessionjob, sessionjobs
        var isPods: Bool { [.pods, .pod, .po].contains(self) }
        var kind: ResourceKind? {
            switch self {
            case .pods, .pod, .po: nil
            case .flinkdeployments, .flinkdeployment, .flinkdep, .fdep: .flinkDeployment
            case .flinksessionjobs, .flinksessionjob, .sessionjob, .sessionjobs: .flinkSessionJob
            }
        }
    }

    @Argument(help: "pods (default), flinkdeployments or flinksessionjobs.")
    var what: What = .pods

    @OptionGroup var namespaces: NamespaceOptions
    @OptionGroup var state: StateOptions

    @Option(help: ArgumentHelp("The operator's HTTP server on loopback, as HOST:PORT or PORT (default: from the targets file).", valueName: "address"))
    var server: String?

    @Option(help: ArgumentHelp("Seconds between the two samples CPU is measured over.", valueName: "seconds"))
    var window: Double = 2

    @Flag(name: .customLong("no-headers"), help: "Print no header line.")
    var noHeaders = false

    /// One pod's figures in one scrape.
    struct Sample: Equatable {
        var cpuSeconds: Double?
        var memoryBytes: Double?
    }

    /// `namespace/pod` → figures, from a Prometheus text exposition.
    static func samples(_ text: String) -> [String: Sample] {
        var result: [String: Sample] = [:]
        for line in text.split(separator: "\n") where line.hasPrefix("container_") {
            guard let brace = line.firstIndex(of: "{"), let close = line.firstIndex(of: "}") else { continue }
            let name = line[..<brace]
            guard name == "container_cpu_usage_seconds_total" || name == "container_memory_working_set_bytes",
                  let value = Double(line[line.index(after: close)...].trimmingCharacters(in: .whitespaces)) else { continue }
            var labels: [String: String] = [:]
            for pair in line[line.index(after: brace)..<close].split(separator: ",") {
                let parts = pair.split(separator: "=", maxSplits: 1)
                guard parts.count == 2 else { continue }
                labels[String(parts[0])] = String(parts[1]).trimmingCharacters(in: CharacterSet(charactersIn: "\""))
            }
            guard let namespace = labels["namespace"], let pod = labels["pod"] else { continue }
            let key = namespace + "/" + pod
            if name == "container_cpu_usage_seconds_total" { result[key, default: Sample()].cpuSeconds = value }
            else { result[key, default: Sample()].memoryBytes = value }
        }
        return result
    }

    /// kubectl's forms: `12m` (millicores), `340Mi`.
    static func millicores(_ cores: Double) -> String { "\(Int((max(0, cores) * 1000).rounded()))m" }
    static func mebibytes(_ bytes: Double) -> String { "\(Int((bytes / 1_048_576).rounded()))Mi" }

    /// The operator's loopback port: `--server`, else the operator entry of the targets file.
    func operatorPort() throws -> Int {
        if let server {
            let port = server.split(separator: ":").last.flatMap { Int($0) }
            guard let port, (1...65_535).contains(port) else { throw ValidationError("--server must be HOST:PORT or PORT") }
            return port
        }
        let path = URL(fileURLWithPath: state.stateDirectory).standardizedFileURL.path + "/prometheus/targets.json"
        struct Target: Decodable { var targets: [String]; var labels: [String: String] }
        guard let data = FileManager.default.contents(atPath: path),
              let targets = try? JSONDecoder().decode([Target].self, from: data),
              let address = targets.first(where: { $0.labels["role"] == "operator" })?.targets.first,
              let port = address.split(separator: ":").last.flatMap({ Int($0) }) else {
            throw TopError("the operator's metrics are not available: no operator in \(path) (is `flinklet run` running with --http?)")
        }
        return port
    }

    struct TopError: Error, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }

    func scrape(port: Int) async throws -> [String: Sample] {
        let answer: (status: Int, body: [UInt8])
        do {
            answer = try await LoopbackGet.get(port: port, target: "/metrics")
        } catch {
            throw TopError("the operator's metrics are not available at 127.0.0.1:\(port): \(error)")
        }
        guard answer.status == 200 else { throw TopError("the operator's /metrics answered HTTP \(answer.status)") }
        return Self.samples(String(decoding: answer.body, as: UTF8.self))
    }

    func run() async throws {
        var stderr = StandardError()
        do {
            let port = try operatorPort()
            let first = try await scrape(port: port)
            let began = Date()
            try await Task.sleep(for: .milliseconds(Int64(max(0.1, window) * 1000)))
            let second = try await scrape(port: port)
            let elapsed = Date().timeIntervalSince(began)
            // Per pod: cores over the window and resident bytes now.
            var usage: [String: (cores: Double, bytes: Double)] = [:]
            for (key, now) in second {
                guard let bytes = now.memoryBytes else { continue }
                let cores = (now.cpuSeconds ?? 0) - (first[key]?.cpuSeconds ?? now.cpuSeconds ?? 0)
                usage[key] = (max(0, cores) / max(elapsed, 0.001), bytes)
            }
            let rows: [(namespace: String, name: String, cores: Double, bytes: Double)]
            if what.isPods {
                rows = usage.map { key, value in
                    let parts = key.split(separator: "/", maxSplits: 1).map(String.init)
                    return (parts[0], parts.count > 1 ? parts[1] : key, value.cores, value.bytes)
                }
            } else {
                // Per resource: the sum over the pods it owns (the Store's pod records).
                let store = try Store.open(stateDirectory: state.stateDirectory, readOnly: true)
                var sums: [String: (cores: Double, bytes: Double)] = [:]
                for row in try store.pods() {
                    guard let id = ResourceID(storeKey: row.owner), id.kind == what.kind, let pod = usage[row.name] else { continue }
                    sums[id.key, default: (0, 0)].cores += pod.cores
                    sums[id.key, default: (0, 0)].bytes += pod.bytes
                }
                rows = sums.compactMap { key, value in
                    ResourceID(storeKey: key).map { ($0.namespace, $0.name, value.cores, value.bytes) }
                }
            }
            let shown = rows.filter { namespaces.filter == nil || $0.namespace == namespaces.filter }
                .sorted { ($0.namespace, $0.name) < ($1.namespace, $1.name) }
            guard !shown.isEmpty else {
                let noun = what.isPods ? "pods" : "resources"
                print(namespaces.allNamespaces ? "No \(noun) found" : "No \(noun) found in \(namespaces.namespace) namespace.", to: &stderr)
                return
            }
            let header = (namespaces.allNamespaces ? ["NAMESPACE"] : []) + ["NAME", "CPU(cores)", "MEMORY(bytes)"]
            let body = shown.map { row in
                (namespaces.allNamespaces ? [row.namespace] : []) + [row.name, Self.millicores(row.cores), Self.mebibytes(row.bytes)]
            }
            print(table(noHeaders ? nil : header, body))
        } catch let error as TopError {
            print("error: \(error)", to: &stderr)
            throw ExitCode.failure
        }
    }
}

extension ResourceID {
    /// Parses a Store key (`Kind/namespace/name`).
    init?(storeKey key: String) {
        let parts = key.split(separator: "/", maxSplits: 2).map(String.init)
        guard parts.count == 3, let kind = ResourceKind(rawValue: parts[0]) else { return nil }
        self.init(kind: kind, namespace: parts[1], name: parts[2])
    }
}
