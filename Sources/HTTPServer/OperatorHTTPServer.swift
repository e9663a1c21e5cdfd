import CoreMetrics
import HTTPTypes
import HummingbirdCore
import HummingbirdTLS
import KubeAPI
import Logging
import NIOCore
import NIOPosix
import Observability
import Prometheus
#if canImport(Glibc)
import Glibc
#endif
import ServiceLifecycle
import Synchronization

/// The exporter of the operator's metrics: a Prometheus registry and the swift-metrics factory
/// that records into it. Make one per operator and hand `factory` to `OperatorMetrics`.
public final class PrometheusExporter: Sendable {
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

    /// The text exposition of every metric in the registry, then whatever `appending` writes
    /// (families kept outside the registry), in a fresh buffer sized like the last one.
    /// Not `registry.emitToBuffer()`: that keeps its own buffer alive between scrapes (512 KiB
    /// for 1,000 resources' 289 KiB) and returns a copy of it.
    public func render(appending: (inout [UInt8]) -> Void = { _ in }) -> [UInt8] {
        var buffer: [UInt8] = []
        buffer.reserveCapacity(lastSize.load(ordering: .relaxed) + 4096)
        registry.emit(into: &buffer)
        appending(&buffer)
        lastSize.store(buffer.count, ordering: .relaxed)
        return buffer
    }

    private let lastSize = Atomic<Int>(0)
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
    /// The Kubernetes API, which answers every path but the probes and `/metrics` (nil: 404).
    public var api: KubeAPIServer?
    /// Serve HTTPS with this certificate and key (PEM files, read when the server starts and
    /// parsed at the first connection: see `LazyTLS`); nil: plain HTTP.
    public var tls: (certificate: String, key: String)?
    public var description: String { api == nil ? "http-server" : "api-server" }

    /// The largest request body the API reads (the manifest size limit).
    static let maxBody = 4 * 1024 * 1024

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

    /// The answer to one request: three paths, GET or HEAD, anything else 404 (405 for another
    /// method on a known path).
    func respond(to request: Request) async -> Response {
        var path = request.uri.path
        guard path == "/healthz" || path == "/readyz" || path == "/livez" || path == "/metrics" else {
            return Self.text("404 page not found\n", status: .notFound)
        }
        if path == "/livez" { path = "/healthz" }
        guard request.method == .get || request.method == .head else {
            var response = Self.text("method not allowed\n", status: .methodNotAllowed)
            response.headers[.allow] = "GET, HEAD"
            return response
        }
        switch path {
        case "/metrics":
            metrics.sampleProcess()
            await beforeScrape()
            let bytes = exporter.render { metrics.writeResourceSeries(into: &$0) }
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                            body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
        default:
            let verbose = request.uri.queryParameters["verbose"] != nil
            let checks = path == "/healthz" ? await health.liveness() : await health.readiness()
            let (passed, body) = OperatorHealth.render(checks, verbose: verbose)
            return Self.text(body, status: passed ? .ok : .serviceUnavailable)
        }
    }

    func isServedHere(_ path: String) -> Bool {
        api == nil || ["/healthz", "/readyz", "/livez", "/metrics"].contains(path)
    }

    /// Hands a request to the Kubernetes API: the body read whole (up to `maxBody`), the
    /// answer written whole or streamed (a watch).
    func respondForAPI(to request: inout Request) async -> Response {
        guard let api else { return Self.text("404 page not found\n", status: .notFound) }
        let body: ByteBuffer
        do {
            body = try await request.collectBody(upTo: Self.maxBody)
        } catch {
            return Self.text("request body too large (limit \(Self.maxBody) bytes)\n", status: .contentTooLarge)
        }
        var headers: [String: String] = [:]
        for field in request.headers { headers[field.name.canonicalName] = headers[field.name.canonicalName].map { $0 + "," + field.value } ?? field.value }
        var query: [String: String] = [:]
        for (key, value) in request.uri.queryParameters where query[String(key)] == nil { query[String(key)] = String(value) }
        let answer = await api.handle(APIRequest(method: request.method.rawValue, path: request.uri.path, query: query, headers: headers,
                                                 body: Array(buffer: body)))
        var fields = HTTPFields()
        for header in answer.headers {
            if let name = HTTPField.Name(header.name) { fields.append(HTTPField(name: name, value: header.value)) }
        }
        let status = HTTPResponse.Status(code: answer.status)
        switch answer.body {
        case .bytes(let bytes):
            return Response(status: status, headers: fields, body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
        case .stream(let chunks, let onEnd):
            return Response(status: status, headers: fields, body: ResponseBody { writer in
                defer { onEnd() }
                for await chunk in chunks { try await writer.write(ByteBuffer(bytes: chunk)) }
                try await writer.finish(nil)
            })
        }
    }

    static func text(_ body: String, status: HTTPResponse.Status) -> Response {
        Response(status: status, headers: [.contentType: "text/plain; charset=utf-8"],
                 body: ResponseBody(byteBuffer: ByteBuffer(string: body)))
    }

    public func run() async throws {
        let logger = self.logger
        let address = self.address
        let onListening = self.onListening
        // HummingbirdCore's HTTP/1.1 server without Hummingbird's `Application`: its date-header
        // cache formats through Foundation's Calendar, which paged ~2.3 MiB of ICU and
        // FoundationInternationalization code into the operator (measured with smaps);
        // `HTTPDate` writes the header with gmtime_r. One shared event-loop thread: this server
        // answers probes and scrapes, not traffic.
        // TLS (the Kubernetes API's listener) is set up at its first connection: see `LazyTLS`.
        var builder = HTTPServerBuilder.http1()
        if let tls {
            builder = .http1(lazyTLS: try LazyTLS(certificatePath: tls.certificate, keyPath: tls.key))
        }
        let server = try builder.buildServer(
            configuration: ServerConfiguration(address: .hostname(address.host, port: address.port), serverName: "flinklet"),
            eventLoopGroup: MultiThreadedEventLoopGroup.singletonOne,
            logger: logger.withLevel(.warning),
            responder: { request, writer, _ in
                var request = request
                var response = await self.isServedHere(request.uri.path) ? self.respond(to: request) : self.respondForAPI(to: &request)
                response.headers[.date] = HTTPDate.now()
                response.headers[.server] = "flinklet"
                if request.method == .head { response.body = ResponseBody() }
                try await writer.write(response: response.head, body: response.body)
            },
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? address.port
                logger.info("http server listening", metadata: ["http.address": "\(HTTPListenAddress(host: address.host, port: port))"])
                await onListening(port)
            })
        do {
            try await server.run()
        } catch {
            logger.error("the HTTP server cannot run; no /healthz, /readyz or /metrics", metadata: [
                "http.address": "\(address)", "error": "\(error)"])
            throw error
        }
    }
}

/// The `Date` header (RFC 9110's IMF-fixdate) from gmtime_r, without Foundation.
enum HTTPDate {
    static let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
    static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    static func now() -> String { format(time(nil)) }

    static func format(_ seconds: time_t) -> String {
        var t = seconds
        var parts = tm()
        gmtime_r(&t, &parts)
        func two(_ n: Int32) -> String { n < 10 ? "0\(n)" : "\(n)" }
        return "\(days[Int(parts.tm_wday)]), \(two(parts.tm_mday)) \(months[Int(parts.tm_mon)]) \(parts.tm_year + 1900) "
            + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)) GMT"
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
