import CoreMetrics
import Hummingbird
import Logging
import NIOCore
import NIOPosix
import Observability
import Prometheus
import ServiceLifecycle

/// The exporter of the operator's metrics: a Prometheus registry and the swift-metrics factory
/// that records into it. Make one per operator and hand `factory` to `OperatorMetrics`.
public struct PrometheusExporter: Sendable {
    public let registry: PrometheusCollectorRegistry
    public let factory: PrometheusMetricsFactory

    public init() {
        registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        // Reconciles take milliseconds to seconds; lifecycle transitions (an upgrade through a
        // savepoint, a cluster start) take seconds to minutes.
        factory.defaultDurationHistogramBuckets = [
            .milliseconds(1), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
            .milliseconds(250), .milliseconds(500), .seconds(1), .milliseconds(2500), .seconds(5), .seconds(10),
            .seconds(30), .seconds(60), .seconds(120), .seconds(300),
        ]
        self.factory = factory
    }

    /// The text exposition of every metric.
    public func render() -> [UInt8] { registry.emitToBuffer() }
}

/// Where the operator's HTTP server listens: `HOST:PORT`, or disabled (`0`).
public struct HTTPListenAddress: Sendable, Hashable, CustomStringConvertible {
    public var host: String
    public var port: Int

    /// Parses `HOST:PORT` (`[::1]:PORT` for IPv6); nil when malformed.
    public init?(_ text: String) {
        guard let colon = text.lastIndex(of: ":") else { return nil }
        var host = String(text[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty, let port = Int(text[text.index(after: colon)...]), (0...65_535).contains(port) else { return nil }
        self.host = host
        self.port = port
    }

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Loopback addresses only (`127.0.0.0/8`, `::1`, `localhost`).
    public var isLoopback: Bool {
        host == "localhost" || host == "::1" || host.hasPrefix("127.")
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

/// The operator's loopback HTTP server (Hummingbird): `/healthz`, `/readyz` (both with
/// `?verbose` for one line per check) and `/metrics` (Prometheus text format 0.0.4).
///
/// A `Service`: run it in the operator's `ServiceGroup`; graceful shutdown stops listening.
/// It binds where it is told; `flinklet run` refuses addresses beyond loopback unless the user
/// names one explicitly.
public struct OperatorHTTPServer: Service, CustomStringConvertible {
    public let address: HTTPListenAddress
    public let health: OperatorHealth
    public let metrics: OperatorMetrics
    public let exporter: PrometheusExporter
    /// Called before each scrape to refresh gauges sampled on demand (pods by phase, say).
    public let beforeScrape: @Sendable () async -> Void
    /// Called once listening, with the port bound (the one asked for, or the one chosen for 0).
    public let onListening: @Sendable (Int) async -> Void
    public let logger: Logger
    public var description: String { "http-server" }

    public init(address: HTTPListenAddress, health: OperatorHealth, metrics: OperatorMetrics, exporter: PrometheusExporter,
                logger: Logger, beforeScrape: @escaping @Sendable () async -> Void = {}, onListening: @escaping @Sendable (Int) async -> Void = { _ in }) {
        self.address = address
        self.health = health
        self.metrics = metrics
        self.exporter = exporter
        self.logger = logger
        self.beforeScrape = beforeScrape
        self.onListening = onListening
    }

    /// The routes, without a listener (tests call them through Hummingbird's responder).
    public func router() -> Router<BasicRequestContext> {
        let router = Router()
        let health = self.health
        let metrics = self.metrics
        let exporter = self.exporter
        let beforeScrape = self.beforeScrape
        router.get("healthz") { request, _ -> Response in
            let (passed, body) = OperatorHealth.render(await health.liveness(), verbose: request.uri.queryParameters["verbose"] != nil)
            return Self.text(body, status: passed ? .ok : .serviceUnavailable)
        }
        router.get("readyz") { request, _ -> Response in
            let (passed, body) = OperatorHealth.render(await health.readiness(), verbose: request.uri.queryParameters["verbose"] != nil)
            return Self.text(body, status: passed ? .ok : .serviceUnavailable)
        }
        router.get("metrics") { _, _ -> Response in
            metrics.sampleProcess()
            await beforeScrape()
            let bytes = exporter.render()
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                            body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
        }
        return router
    }

    static func text(_ body: String, status: HTTPResponse.Status) -> Response {
        Response(status: status, headers: [.contentType: "text/plain; charset=utf-8"],
                 body: ResponseBody(byteBuffer: ByteBuffer(string: body)))
    }

    public func run() async throws {
        let onListening = self.onListening
        let logger = self.logger
        let address = self.address
        // One event-loop thread: this server answers probes and scrapes, not traffic.
        let app = Application(
            router: router(),
            configuration: ApplicationConfiguration(address: .hostname(address.host, port: address.port), serverName: "flinklet"),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? address.port
                logger.info("http server listening", metadata: ["http.address": "\(HTTPListenAddress(host: address.host, port: port))"])
                await onListening(port)
            },
            eventLoopGroupProvider: .shared(MultiThreadedEventLoopGroup.singletonOne),
            logger: logger.withLevel(.warning))
        do {
            try await app.run()
        } catch {
            logger.error("the HTTP server cannot run; no /healthz, /readyz or /metrics", metadata: [
                "http.address": "\(address)", "error": "\(error)"])
            throw error
        }
    }
}

extension MultiThreadedEventLoopGroup {
    /// One shared event-loop thread for the operator's HTTP server.
    static let singletonOne = MultiThreadedEventLoopGroup(numberOfThreads: 1)
}

extension Logger {
    func withLevel(_ level: Logger.Level) -> Logger {
        var copy = self
        copy.logLevel = level
        return copy
    }
}
