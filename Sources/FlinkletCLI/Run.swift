import ArgumentParser
import Controller
import Engine
import FlinkClient
import FlinkResources
import Foundation
import HTTPServer
import KubeAPI
import Logging
import Observability
import Planning
import Reconciliation
import Runtime
import ServiceLifecycle
import Store
import Synchronization

/// `flinklet run`: the operator.
struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the operator on a directory of manifests.",
        discussion: """
            Keeps the resources in the manifest directory running as process groups, recording \
            status and events in the state directory. SIGINT or SIGTERM stops the operator \
            gracefully; the pods keep running and are adopted by the next run. It refuses to \
            start while processes it started under the state directory live that the state \
            database does not know (lost or corrupt): run `flinklet recover` first.
            """
    )

    enum LogFormat: String, ExpressibleByArgument, CaseIterable { case text, json }

    @Option(help: ArgumentHelp("The manifest directory (the only source of desired state).", valueName: "dir"))
    var manifests: String

    @OptionGroup var state: StateOptions

    @Flag(name: [.customShort("R"), .customLong("recursive")], help: "Also read subdirectories of the manifest directory.")
    var recursive = false

    @Option(help: ArgumentHelp("Seconds between full relists of the manifest directory.", valueName: "seconds"))
    var resync: Double = 10

    @Option(name: .customLong("empty-grace"), help: ArgumentHelp("Seconds the manifest directory must read as empty before its resources are deleted.", valueName: "seconds"))
    var emptyGrace: Double = 30

    @Flag(name: .customLong("allow-empty"), help: "Delete resources at once when the manifest directory reads as empty.")
    var allowEmpty = false

    @Option(help: "Resources reconciled at the same time.")
    var workers = 4

    @Option(name: .customLong("log-format"), help: "Log format: text or json.")
    var logFormat: LogFormat = .text

    @Option(name: .customLong("flink-home"), help: ArgumentHelp("Run this Flink distribution only (default: every version installed: $FLINK_HOME and .flink/flink-*/, looked for again on each reconcile).", valueName: "dir"))
    var flinkHome: String?

    @Option(name: .customLong("max-concurrent-submissions"), help: "Flink clients (per-job submissions) run at the same time; more wait their turn.")
    var maxConcurrentSubmissions = 2

    @Option(name: .customLong("max-concurrent-cluster-starts"),
            help: "Clusters started at the same time (from JobManager start until every TaskManager registered); more wait their turn.")
    var maxConcurrentClusterStarts = 2

    enum Engine: String, ExpressibleByArgument, CaseIterable { case flink, command }

    /// `command` runs `flinklet.dev/command` annotations as pods instead of Flink clusters: the
    /// engine alone, for its benchmark and tests.
    @Option(name: .customLong("engine"), help: .hidden)
    var engine: Engine = .flink

    @Option(name: .customLong("ports"), help: ArgumentHelp("Loopback ports leased to clusters, as FIRST-LAST.", valueName: "range"))
    var ports = "20000-29999"

    @Option(name: .customLong("http"),
            help: ArgumentHelp("Where the operator's HTTP server (/healthz, /readyz, /metrics) listens, as HOST:PORT; 0 disables it. Only loopback unless you name another address.", valueName: "address"))
    var http = Run.defaultHTTP

    static let defaultHTTP = "127.0.0.1:8085"

    @Option(name: .customLong("api"),
            help: ArgumentHelp("Where the Kubernetes API (HTTPS, bearer token; see flinklet kubeconfig) listens, as HOST:PORT; 0 disables it. Needs the HTTP server.", valueName: "address"))
    var api = Run.defaultAPI

    static let defaultAPI = "127.0.0.1:6443"

    /// The Kubernetes API's address (nil: disabled).
    var apiAddress: HTTPListenAddress? { api == "0" || httpAddress == nil ? nil : HTTPListenAddress(api) }

    /// The HTTP server's address (nil: disabled).
    var httpAddress: HTTPListenAddress? { http == "0" ? nil : HTTPListenAddress(http) }

    func validate() throws {
        guard http == "0" || httpAddress != nil else { throw ValidationError("--http must be HOST:PORT (e.g. 127.0.0.1:8085) or 0") }
        guard api == "0" || HTTPListenAddress(api) != nil else { throw ValidationError("--api must be HOST:PORT (e.g. 127.0.0.1:6443) or 0") }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: manifests, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw ValidationError("the manifest directory \"\(manifests)\" does not exist")
        }
        guard workers >= 1 else { throw ValidationError("--workers must be at least 1") }
        guard resync > 0, emptyGrace >= 0 else { throw ValidationError("--resync must be positive and --empty-grace not negative") }
        guard maxConcurrentSubmissions >= 1 else { throw ValidationError("--max-concurrent-submissions must be at least 1") }
        guard maxConcurrentClusterStarts >= 1 else { throw ValidationError("--max-concurrent-cluster-starts must be at least 1") }
        guard portRange != nil else { throw ValidationError("--ports must be FIRST-LAST within 1024-65535, e.g. 20000-29999") }
    }

    var portRange: ClosedRange<Int>? {
        let parts = ports.split(separator: "-").compactMap { Int($0) }
        guard parts.count == 2, parts[0] >= 1024, parts[1] <= 65_535, parts[0] < parts[1] else { return nil }
        return parts[0]...parts[1]
    }

    func run() async throws {
        // Private by default: whatever the operator and its JVMs (which inherit the mask)
        // create — state.db, logs, rendered configuration, checkpoints, savepoints, keystores —
        // is readable by this user alone, whatever explicit mode a writer asks for.
        umask(0o077)
        // malloc's mmap threshold fixed at 64 KiB: large transient blocks (relists, /metrics
        // texts) go back to the kernel when freed instead of staying in a thread's arena
        // (1,000 resources: about −1 MB resident with --http 0, −2.5 MB with the endpoint after
        // 1,000 scrapes; 64 KiB saved ~0.4 MB more than glibc's 128 KiB, 32 KiB nothing more).
        MallocTuning.fixMmapThreshold()
        let format = logFormat
        let logger = Logger(label: "flinklet") { label in
            format == .json ? JSONLogHandler(label: label) as any LogHandler : StreamLogHandler.standardError(label: label)
        }
        // Pods run in their own directories: every path handed to them must be absolute.
        let stateDirectory = URL(fileURLWithPath: state.stateDirectory).standardizedFileURL.path
        var configuration = OperatorConfiguration(manifests: manifests)
        configuration.stateDirectory = stateDirectory
        configuration.recursive = recursive
        configuration.resync = .milliseconds(Int64(resync * 1000))
        configuration.emptyGrace = .milliseconds(Int64(emptyGrace * 1000))
        configuration.allowEmpty = allowEmpty
        configuration.workers = workers
        // Every installed version (or --flink-home's one), looked for again on each reconcile:
        // one installed while the operator runs is used without a restart.
        let tlsArchives = engine == .flink
        var archives: [any Service] = []
        let catalog = FlinkDistributionCatalog(explicit: flinkHome) { found in
            var found = found
            found.classDataArchives = ClassDataArchives.paths(for: found, tls: tlsArchives) ?? [:]
            return found
        }
        let installed = catalog.current()
        for found in installed.installed.values.sorted(by: { $0.version < $1.version }) {
            logger.info("Flink distribution", metadata: ["flink.home": "\(found.home)", "flink.version": "\(found.version)", "java": "\(found.java)"])
        }
        if let problem = installed.problem {
            // Not fatal: resources get a clear error until a distribution is installed.
            logger.error("Flink distributions: \(problem)", metadata: ["flink.installed": "\(installed.installed.count)"])
        }
        // Only Flinklet may use its clusters: every one runs with mutual TLS from the state
        // directory's certificate, made here the first time (never a cluster without it).
        var rest = FlinkRESTClient()
        var clusterTLS: ClusterTLS?
        if engine == .flink, let java = installed.newest?.java ?? FlinkHome.java(environment: ProcessInfo.processInfo.environment) {
            do {
                let directory = StateDirectory(path: stateDirectory)
                try directory.create()
                if let mode = try directory.ensurePrivate() {
                    logger.notice("state directory was readable by other users: made private (chmod 700, state.db 600)",
                                  metadata: ["state.directory": "\(stateDirectory)", "state.mode": "\(String(mode, radix: 8))"])
                }
                let (tls, context) = try await ClusterCredentials.ensure(stateDirectory: stateDirectory, java: java, logger: logger)
                clusterTLS = tls
                rest.tls = context
            } catch {
                var stderr = StandardError()
                print("error: \(error)", to: &stderr)
                throw ExitCode.failure
            }
        }
        if engine == .flink {
            // Beside the operator: clusters start meanwhile, without the archives' speed-up.
            archives.append(ClassDataArchiveService(catalog: catalog, tls: clusterTLS, rest: rest, logger: logger))
        }
        var backend = FlinkBackend(distributions: { catalog.current() }, rest: rest, stateDirectory: stateDirectory,
                                   maxConcurrentSubmissions: maxConcurrentSubmissions, maxConcurrentClusterStarts: maxConcurrentClusterStarts)
        backend.distributionInUse = { catalog.markInUse($0) }
        backend.portRange = portRange ?? backend.portRange
        backend.tls = clusterTLS
        // JobManagers an earlier Flinklet started without TLS keep running until their
        // resource's next upgrade: they are spoken to as they were started, plain HTTP.
        var plain = rest
        plain.tls = nil
        backend.plainREST = plain
        if let ephemeral = EphemeralPorts.current(), let warning = EphemeralPorts.warning(leases: backend.portRange, ephemeral: ephemeral) {
            logger.warning("\(warning)")
        }
        logger.info("starting", metadata: ["manifests.directory": "\(manifests)", "state.directory": "\(state.stateDirectory)"])
        // Metrics and health exist only with the HTTP server that serves them.
        let exporter = httpAddress.map { _ in PrometheusExporter() }
        let metrics = exporter.map { OperatorMetrics(factory: $0.factory) }
        let health = httpAddress.map { _ in OperatorHealth() }
        // A missing database next to the snapshots of earlier clusters (and no live process of
        // theirs, which the operator's own start refuses to run beside): starting would run
        // their jobs again from empty state.
        if engine == .flink, !FileManager.default.fileExists(atPath: StateDirectory(path: stateDirectory).databasePath),
           PodMarker(stateDirectory: stateDirectory).scan().isEmpty {
            let clusters: [String]
            do {
                clusters = try FlinkRecovery.clustersWithSnapshots(stateDirectory: stateDirectory)
            } catch {
                var stderr = StandardError()
                print("error: refusing to start: \(StateDirectory(path: stateDirectory).databasePath) is missing and \(stateDirectory)/clusters "
                      + "cannot be read for the snapshots of earlier clusters: \(error)", to: &stderr)
                throw ExitCode.failure
            }
            if !clusters.isEmpty {
                var stderr = StandardError()
                print("""
                    error: refusing to start: \(StateDirectory(path: stateDirectory).databasePath) is missing, but \(stateDirectory)/clusters holds \
                    the checkpoints or savepoints of earlier clusters (\(clusters.joined(separator: ", "))): starting would run their jobs again \
                    from empty state. Run `flinklet recover --manifests \(manifests) --state-dir \(stateDirectory)` to rebuild those deployments \
                    from their snapshots, or remove \(stateDirectory)/clusters to start from empty state.
                    """, to: &stderr)
                throw ExitCode.failure
            }
        }
        let running: OperatorRunning
        do {
            switch engine {
            case .flink:
                var driverConfiguration = LocalProcessDriver.Configuration()
                // JobManagers' readiness (`GET /overview`) over TLS with the operator's certificate.
                driverConfiguration.httpsProbe = { [rest] port, path, timeout in await rest.probe(port: port, path: path, timeout: timeout) }
                var op = Operator(configuration: configuration, planner: FlinkPlanner(), backend: backend, logger: logger,
                                  driverConfiguration: driverConfiguration)
                op.metrics = metrics
                op.health = health
                running = try await op.start()
            case .command:
                var op = Operator(configuration: configuration, planner: CommandPods.planner, backend: NoBackend(), logger: logger)
                op.metrics = metrics
                op.health = health
                running = try await op.start()
            }
        } catch let error as StoreError {
            var stderr = StandardError()
            print("error: \(error)", to: &stderr)
            throw ExitCode.failure
        } catch let error as RecoveryNeeded {
            var stderr = StandardError()
            print("error: \(error)", to: &stderr)
            throw ExitCode.failure
        }
        defer { running.lock.release() }
        // One group: SIGINT or SIGTERM shuts it down gracefully (reconciles under way finish);
        // pods keep running.
        var httpServices: [ServiceGroupConfiguration.ServiceConfiguration] = []
        let driver = running.driver
        // The operator's own target is listed once its server listens, never before.
        let listening = ListeningAddress()
        if let address = httpAddress, let exporter, let metrics, let health {
            if !address.isLoopback {
                logger.warning("the HTTP server listens beyond loopback, as asked", metadata: ["http.address": "\(address)"])
            }
            let server = OperatorHTTPServer(address: address, health: health, metrics: metrics, exporter: exporter, logger: logger,
                                            beforeScrape: { metrics.podsSampled(await driver.pods()) },
                                            onListening: { port in listening.set(HTTPListenAddress(host: address.host, port: port).description) })
            if let apiAddress {
                if let service = try kubernetesAPI(address: apiAddress, running: running, stateDirectory: stateDirectory, health: health,
                                                   metrics: metrics, exporter: exporter, logger: logger) {
                    httpServices += service
                }
            }
            // An address the user named that cannot be listened on stops the operator with the
            // error; the default one (taken by another operator, say) is logged and done without.
            let explicit = http != Run.defaultHTTP
            httpServices.append(ServiceGroupConfiguration.ServiceConfiguration(
                service: server, successTerminationBehavior: .ignore, failureTerminationBehavior: explicit ? .cancelGroup : .ignore))
        }
        // Prometheus's file-SD list: the operator (when it serves /metrics) and every live JVM.
        httpServices.append(ServiceGroupConfiguration.ServiceConfiguration(
            service: ScrapeTargetsWriter(path: ScrapeTargets.path(stateDirectory: stateDirectory), operatorAddress: { listening.get() },
                                         logger: logger, pods: { await driver.pods() }),
            successTerminationBehavior: .ignore, failureTerminationBehavior: .ignore))
        let services = running.services + httpServices
            + archives.map { ServiceGroupConfiguration.ServiceConfiguration(service: $0, successTerminationBehavior: .ignore,
                                                                           failureTerminationBehavior: .ignore) }
        let group = ServiceGroup(configuration: ServiceGroupConfiguration(
            services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        do {
            try await group.run()
        } catch is CancellationError {}
        logger.info("stopped; pods keep running")
    }
}

/// Where the operator's HTTP server listens, once it does.
final class ListeningAddress: Sendable {
    private let address = Mutex<String?>(nil)
    func set(_ value: String) { address.withLock { $0 = value } }
    func get() -> String? { address.withLock { $0 } }
}

extension Run {
    /// The Kubernetes API's services: its HTTPS server and the cache that follows the Store.
    /// Its token is kept in `<state-dir>/kubeconfig`, written once the server listens (with
    /// the port it got). Nil, logged, when no certificate can be made.
    func kubernetesAPI(address: HTTPListenAddress, running: OperatorRunning, stateDirectory: String, health: OperatorHealth,
                       metrics: OperatorMetrics, exporter: PrometheusExporter, logger: Logger) throws -> [ServiceGroupConfiguration.ServiceConfiguration]? {
        let certificate: ServingCertificate
        do {
            certificate = try ServingCertificate.ensure(stateDirectory: stateDirectory)
        } catch {
            logger.error("no Kubernetes API: \(error)")
            return nil
        }
        let token = APIAccess.token(stateDirectory: stateDirectory)
        let apiServer = KubeAPIServer(store: running.store, source: running.source, manifests: manifests, token: token, logger: logger)
        var server = OperatorHTTPServer(address: address, health: health, metrics: metrics, exporter: exporter, logger: logger,
                                        onListening: { port in
                                            let bound = HTTPListenAddress(host: address.host, port: port).description
                                            apiServer.setServerAddress(bound)
                                            do {
                                                try APIAccess.writeKubeconfig(stateDirectory: stateDirectory, server: "https://\(bound)",
                                                                              certificateAuthority: certificate.pem, token: token)
                                            } catch {
                                                logger.error("cannot write the kubeconfig", metadata: ["error": "\(error)"])
                                            }
                                        })
        server.api = apiServer
        server.tls = (certificate.certificatePath, certificate.keyPath)
        // As for --http: a named address that cannot be listened on stops the operator.
        let explicit = api != Run.defaultAPI
        return [
            ServiceGroupConfiguration.ServiceConfiguration(service: server, successTerminationBehavior: .ignore,
                                                           failureTerminationBehavior: explicit ? .cancelGroup : .ignore),
            ServiceGroupConfiguration.ServiceConfiguration(service: APICacheService(api: apiServer), successTerminationBehavior: .ignore,
                                                           failureTerminationBehavior: .ignore),
        ]
    }
}

/// Keeps the Kubernetes API's cache following the Store, as a service of the operator's group.
struct APICacheService: Service, CustomStringConvertible {
    let api: KubeAPIServer
    var description: String { "kubernetes-api" }

    func run() async throws {
        await cancelWhenGracefulShutdown { await api.run() }
    }
}

/// `flinklet kubeconfig`: prints the kubeconfig of the operator's Kubernetes API.
struct Kubeconfig: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the kubeconfig for the operator's Kubernetes API (kubectl, client libraries).",
        discussion: """
            flinklet run writes <state-dir>/kubeconfig (mode 0600) with the server's address and a \
            bearer token. Use it as KUBECONFIG=.flinklet/kubeconfig kubectl get flinkdep.
            """
    )

    @OptionGroup var state: StateOptions

    func run() throws {
        let path = APIAccess.kubeconfigPath(stateDirectory: state.stateDirectory)
        guard let data = FileManager.default.contents(atPath: path) else {
            var stderr = StandardError()
            print("error: no kubeconfig at \(path): start the operator (flinklet run, with its HTTP server) first", to: &stderr)
            throw ExitCode.failure
        }
        FileHandle.standardOutput.write(data)
    }
}

/// Makes the class-data-sharing archives of each distribution a resource first runs from, one
/// distribution at a time (a `Service` of the operator's group, so it never outlives it as a
/// stray task; it ends when the operator shuts down).
struct ClassDataArchiveService: Service, CustomStringConvertible {
    let catalog: FlinkDistributionCatalog
    let tls: ClusterTLS?
    /// Speaks to the archiving cluster (with `tls`'s client identity).
    let rest: FlinkRESTClient
    let logger: Logger
    var description: String { "class-data-archives" }

    func run() async throws {
        await cancelWhenGracefulShutdown {
            for await distribution in catalog.inUse {
                if Task.isCancelled { return }
                await ClassDataArchives.ensure(distribution, tls: tls, rest: rest, logger: logger)
            }
        }
    }
}

/// `--state-dir`, shared by every command that reads or writes the state directory.
struct StateOptions: ParsableArguments {
    @Option(name: .customLong("state-dir"), help: ArgumentHelp("The state directory.", valueName: "dir"))
    var stateDirectory: String = StateDirectory.defaultPath
}

/// One JSON object per line on standard error: time, level, label, message and metadata.
struct JSONLogHandler: LogHandler {
    let label: String
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .info

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var object: [String: String] = [
            "time": RFC3339.string(from: Date(), milliseconds: true),
            "level": event.level.rawValue,
            "label": label,
            "message": "\(event.message)",
        ]
        for (key, value) in metadata.merging(event.metadata ?? [:], uniquingKeysWith: { $1 }) {
            object[key] = "\(value)"
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        if let data = try? encoder.encode(object) {
            FileHandle.standardError.write(data + Data("\n".utf8))
        }
    }
}
