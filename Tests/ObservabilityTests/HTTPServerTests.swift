import FlinkResources
import Foundation
import HTTPServer
import KubeAPI
import Logging
import Observability
import ServiceLifecycle
import Synchronization
import Testing
@testable import FlinkClient

/// The real server on a loopback port the kernel picks, asked with a real HTTP client.
@Suite struct HTTPServerTests {
    final class Port: Sendable {
        let value = Mutex<Int?>(nil)
    }

    func withServer(health: OperatorHealth, metrics: OperatorMetrics, exporter: PrometheusExporter,
                    _ body: @Sendable (Int) async throws -> Void) async throws {
        let port = Port()
        let server = OperatorHTTPServer(address: HTTPListenAddress(host: "127.0.0.1", port: 0), health: health, metrics: metrics,
                                        exporter: exporter, logger: Logger(label: "test") { _ in SwiftLogNoOpLogHandler() },
                                        onListening: { bound in port.value.withLock { $0 = bound } })
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await server.run() }
            var bound: Int?
            for _ in 0..<500 {
                bound = port.value.withLock { $0 }
                if bound != nil { break }
                try await Task.sleep(for: .milliseconds(10))
            }
            let result: Result<Void, any Error>
            do {
                try await body(try #require(bound))
                result = .success(())
            } catch {
                result = .failure(error)
            }
            group.cancelAll()
            try? await group.waitForAll()
            try result.get()
        }
    }

    func get(_ target: String, port: Int) async throws -> LoopbackHTTP.Response {
        try await LoopbackHTTP.exchange(LoopbackHTTP.Request(method: .get, target: target), port: port, timeout: .seconds(10))
    }

    @Test func servesHealthReadinessAndPrometheusMetrics() async throws {
        let exporter = PrometheusExporter()
        let metrics = OperatorMetrics(factory: exporter.factory)
        let health = OperatorHealth()
        health.serviceStarted("reconcile-workers")
        let app = ResourceID(kind: .flinkDeployment, namespace: "default", name: "app")
        metrics.reconcileStarted(app, isRetry: false)
        metrics.reconcileEnded(app, duration: .milliseconds(5), result: .success)
        try await withServer(health: health, metrics: metrics, exporter: exporter) { port in
            let healthz = try await get("/healthz", port: port)
            #expect(healthz.status == 200)
            #expect(String(decoding: healthz.body, as: UTF8.self) == "ok\n")

            let scrape = try await get("/metrics", port: port)
            #expect(scrape.status == 200)
            #expect(scrape.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8")
            let text = String(decoding: scrape.body, as: UTF8.self)
            #expect(text.contains(#"flink_k8soperator_namespace_resource_JOSDK_Reconciliation_Count{resourcens="default",resourcename="app",resourcetype="FlinkDeployment"} 1"#))
            #expect(text.contains("# TYPE process_resident_memory_bytes gauge"))
            #expect(text.contains("workqueue_depth{name=\"flinklet\"} 0"))

            health.addReadinessCheck("manifests-listed") { "not yet" }
            let readyz = try await get("/readyz?verbose", port: port)
            #expect(readyz.status == 503)
            #expect(String(decoding: readyz.body, as: UTF8.self) == "[-]manifests-listed failed: not yet\ncheck failed\n")

            health.serviceEnded("reconcile-workers")
            #expect(try await get("/healthz", port: port).status == 503)
            #expect(try await get("/nothing", port: port).status == 404)
        }
    }

    @Test func tlsCertificateAndKeyAreReadAtOnceButParsedOnlyAtFirstUse() throws {
        let garbage = LazyTLS(certificatePEM: Array("not a certificate".utf8), keyPEM: Array("not a key".utf8))
        #expect(!garbage.isParsed, "nothing parsed before a client connects")
        #expect(throws: (any Error).self) { try garbage.validate() }
        #expect(garbage.isParsed)

        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("lazytls-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let certificate = try ServingCertificate.ensure(stateDirectory: directory)
        let tls = try LazyTLS(certificatePath: certificate.certificatePath, keyPath: certificate.keyPath)
        #expect(!tls.isParsed)
        try tls.validate()
        #expect(tls.isParsed)
        // Unreadable files fail at once, when the server starts.
        #expect(throws: (any Error).self) { try LazyTLS(certificatePath: directory + "/missing.crt", keyPath: certificate.keyPath) }
    }

    @Test func listenAddressesParseAndKnowLoopback() {
        #expect(HTTPListenAddress("127.0.0.1:8085") == HTTPListenAddress(host: "127.0.0.1", port: 8085))
        #expect(HTTPListenAddress("[::1]:9000")?.isLoopback == true)
        #expect(HTTPListenAddress("0.0.0.0:8085")?.isLoopback == false)
        #expect(HTTPListenAddress("localhost:1")?.isLoopback == true)
        #expect(HTTPListenAddress("8085") == nil)
        #expect(HTTPListenAddress("127.0.0.1:99999") == nil)
    }
}
