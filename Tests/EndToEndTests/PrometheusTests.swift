import FlinkResources
import Foundation
import Runtime
import Testing
@testable import FlinkClient

#if canImport(Glibc)
import Glibc
#endif

/// One real Prometheus (Debian's, started by hack/prometheus.sh on loopback) scrapes everything
/// Flinklet lists in `<state-dir>/prometheus/targets.json`: asked through its HTTP API, the
/// operator and the application's JobManager and TaskManager are up, a Flink job metric and
/// the operator's reconcile count of that resource are non-zero.
@Suite(.serialized, .enabled(if: E2E.available)) struct PrometheusTests {
    /// A loopback port free right now (the kernel picks it).
    static func freePort() -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// `GET /api/v1/query?query=…` → [(labels, value)].
    static func query(_ promQL: String, port: Int) async -> [(labels: [String: String], value: Double)] {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        let target = "/api/v1/query?query=" + (promQL.addingPercentEncoding(withAllowedCharacters: allowed) ?? promQL)
        guard let response = try? await LoopbackHTTP.exchange(LoopbackHTTP.Request(method: .get, target: target), port: port, timeout: .seconds(5)),
              response.status == 200,
              let object = try? JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any],
              let data = object["data"] as? [String: Any], let results = data["result"] as? [[String: Any]] else { return [] }
        return results.compactMap { result in
            guard let metric = result["metric"] as? [String: String], let pair = result["value"] as? [Any], pair.count == 2,
                  let text = pair[1] as? String, let value = Double(text) else { return nil }
            return (metric, value)
        }
    }

    @Test func aRealPrometheusScrapesTheOperatorAndEveryJVMOfAnApplication() async throws {
        let world = try Cluster("prometheus")
        defer { world.tearDown() }
        let operatorPort = Self.freePort()
        let prometheusPort = Self.freePort()
        try world.startOperator(extra: ["--http", "127.0.0.1:\(operatorPort)"])
        let prometheus = try ChildProcess.spawn(
            ["bash", E2E.repositoryRoot.path + "/hack/prometheus.sh", "run", "--state-dir", world.state, "--port", String(prometheusPort),
             "--interval", "1s"],
            options: .init(standardInput: .null, standardOutput: .file(world.root + "/prometheus.log"),
                           standardError: .file(world.root + "/prometheus.log"), newProcessGroup: true))
        defer {
            prometheus.signalGroup(SIGTERM)
            _ = prometheus.wait()
        }
        try world.apply("app.yaml", E2E.deployment(name: "app", mode: "application",
                                                    args: ["--rate", "20", "--keys", "4", "--output", world.output + "/app.out"]))
        #expect(world.waitUntil(timeout: 90) { world.deployment("app")?.lifecycleState == .stable }, "\(world.summary(.flinkDeployment, "app"))")

        // Every target up: the operator, the JobManager, the TaskManager (as listed in targets.json).
        var up: [String: Double] = [:]
        for _ in 0..<60 {
            up = [:]
            for sample in await Self.query("up", port: prometheusPort) { up[sample.labels["role"] ?? "?"] = sample.value }
            if up["operator"] == 1, up["jobmanager"] == 1, up["taskmanager"] == 1 { break }
            try await Task.sleep(for: .seconds(1))
        }
        let targets = (try? String(contentsOfFile: world.state + "/prometheus/targets.json", encoding: .utf8)) ?? "none"
        #expect(up["operator"] == 1 && up["jobmanager"] == 1 && up["taskmanager"] == 1,
                "up by role: \(up)\ntargets.json: \(targets)\nprometheus log: \((try? String(contentsOfFile: world.root + "/prometheus.log", encoding: .utf8)) ?? "")")

        // A Flink job metric and an operator metric (reconciles of that resource), non-zero.
        let records = #"sum(flink_taskmanager_job_task_numRecordsOut{kind="FlinkDeployment",name="app"})"#
        let reconciles = #"flink_k8soperator_namespace_resource_JOSDK_Reconciliation_Count{resourcename="app",resourcetype="FlinkDeployment"}"#
        var flinkValue = 0.0, operatorValue = 0.0
        for _ in 0..<30 {
            flinkValue = await Self.query(records, port: prometheusPort).first?.value ?? 0
            operatorValue = await Self.query(reconciles, port: prometheusPort).first?.value ?? 0
            if flinkValue > 0 && operatorValue > 0 { break }
            try await Task.sleep(for: .seconds(1))
        }
        print("e2e evidence: prometheus: up \(up.sorted { $0.key < $1.key }); \(records) = \(flinkValue); \(reconciles) = \(operatorValue)")
        #expect(flinkValue > 0)
        #expect(operatorValue > 0)

        // `flinklet top` reads the same sampling from the operator's /metrics.
        let top = Process()
        top.executableURL = E2E.executable
        top.arguments = ["top", "pods", "--state-dir", world.state]
        let output = Pipe()
        top.standardOutput = output
        try top.run()
        let printed = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        top.waitUntilExit()
        print("e2e evidence: flinklet top pods:\n\(printed)")
        #expect(top.terminationStatus == 0)
        #expect(printed.hasPrefix("NAME") && printed.contains("CPU(cores)") && printed.contains("MEMORY(bytes)"))
        #expect(printed.split(separator: "\n").contains { $0.hasPrefix("app-jobmanager-0") && $0.hasSuffix("Mi") })
        #expect(printed.split(separator: "\n").contains { $0.hasPrefix("app-taskmanager-") && $0.hasSuffix("Mi") })
    }
}
