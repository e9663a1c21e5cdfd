import FlinkResources
import Foundation
import Logging
import Runtime
import ServiceLifecycle

/// One entry of a Prometheus file-based service-discovery file (`file_sd_configs`): addresses
/// and the labels every series scraped from them gets.
public struct ScrapeTarget: Sendable, Hashable, Codable {
    public var targets: [String]
    public var labels: [String: String]

    public init(targets: [String], labels: [String: String]) {
        self.targets = targets
        self.labels = labels
    }
}

/// The scrape targets Flinklet lists in `<state-dir>/prometheus/targets.json`: the operator's
/// `/metrics` and every live JVM's Prometheus reporter, labelled `namespace`, `name`, `kind`,
/// `role` (and `pod` for JVMs), so one `file_sd_configs` entry scrapes everything.
public enum ScrapeTargets {
    /// The pod label naming its reporter's port (`PodLabels.metricsPort` in the engine).
    public static let metricsPortLabel = "flinklet.dev/metrics-port"
    public static let ownerLabel = "flinklet.dev/owner"
    public static let roleLabel = "flinklet.dev/role"

    /// The file's path under a state directory.
    public static func path(stateDirectory: String) -> String { stateDirectory + "/prometheus/targets.json" }

    /// The operator's own target: its HTTP server's address.
    public static func operatorTarget(address: String) -> ScrapeTarget {
        ScrapeTarget(targets: [address], labels: ["namespace": "flinklet-system", "name": "flinklet", "kind": "Operator", "role": "operator"])
    }

    /// The targets of the pods that run and serve metrics, sorted by address.
    public static func podTargets(_ pods: [PodStatus]) -> [ScrapeTarget] {
        pods.compactMap { pod -> ScrapeTarget? in
            guard pod.phase == .running, let port = pod.labels[metricsPortLabel].flatMap(Int.init),
                  let owner = pod.labels[ownerLabel] else { return nil }
            let parts = owner.split(separator: "/", maxSplits: 2).map(String.init)
            guard parts.count == 3 else { return nil }
            // Runtime names are `<namespace>/<pod>`.
            let podName = pod.name.split(separator: "/").last.map(String.init) ?? pod.name
            return ScrapeTarget(targets: ["127.0.0.1:\(port)"], labels: [
                "namespace": parts[1], "name": parts[2], "kind": parts[0], "role": pod.labels[roleLabel] ?? "", "pod": podName,
            ])
        }.sorted { $0.targets.first ?? "" < $1.targets.first ?? "" }
    }

    /// The file's content: a JSON array, keys sorted, so equal target sets give equal bytes.
    public static func render(_ targets: [ScrapeTarget]) -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        return ((try? encoder.encode(targets)) ?? Data("[]".utf8)) + Data("\n".utf8)
    }

    /// Writes atomically: a temporary file in the same directory, then a rename, so Prometheus
    /// never reads half a file.
    public static func write(_ data: Data, to path: String) throws {
        let directory = (path as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let temporary = directory + "/.targets.json.\(getpid()).tmp"
        try data.write(to: URL(fileURLWithPath: temporary))
        guard rename(temporary, path) == 0 else {
            let code = errno
            unlink(temporary)
            throw CocoaError(.fileWriteUnknown, userInfo: [NSLocalizedDescriptionKey: "rename to \(path): \(String(cString: strerror(code)))"])
        }
    }
}

/// Keeps `targets.json` current: every `interval` it lists the live pods and rewrites the file
/// when the targets changed (a `Service` of the operator's group; the file stays when it stops,
/// as the pods do).
public struct ScrapeTargetsWriter: Service, CustomStringConvertible {
    public let path: String
    /// The operator's own target, once its HTTP server listens (nil: not listed).
    public let operatorAddress: @Sendable () -> String?
    public let pods: @Sendable () async -> [PodStatus]
    public let interval: Duration
    public let logger: Logger
    public var description: String { "scrape-targets" }

    public init(path: String, operatorAddress: @escaping @Sendable () -> String?, interval: Duration = .seconds(2), logger: Logger,
                pods: @escaping @Sendable () async -> [PodStatus]) {
        self.path = path
        self.operatorAddress = operatorAddress
        self.interval = interval
        self.logger = logger
        self.pods = pods
    }

    /// Writes the file if its content would change; returns the content.
    @discardableResult
    public func refresh(previous: Data?) async -> Data {
        var targets = ScrapeTargets.podTargets(await pods())
        if let operatorAddress = operatorAddress() { targets.insert(ScrapeTargets.operatorTarget(address: operatorAddress), at: 0) }
        let data = ScrapeTargets.render(targets)
        guard data != previous else { return data }
        do {
            try ScrapeTargets.write(data, to: path)
        } catch {
            logger.warning("cannot write the Prometheus targets file", metadata: ["path": "\(path)", "error": "\(error)"])
            return previous ?? Data()
        }
        return data
    }

    public func run() async throws {
        try await cancelWhenGracefulShutdown {
            var written: Data? = nil
            while !Task.isCancelled {
                written = await refresh(previous: written)
                try await Task.sleep(for: interval)
            }
        }
    }
}
