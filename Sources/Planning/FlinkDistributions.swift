import FlinkResources

/// The Flink distributions installed side by side, one per supported version, as the operator
/// found them (`Controller.FlinkDistributionCatalog` looks again on every reconcile, so one
/// installed while the operator runs is used from its next reconcile on).
///
/// Contract: `resolve` is the only place that turns a manifest's `spec.flinkVersion` into a
/// distribution; its failure is the resource's condition and event (reason and message), never
/// a guess at another version.
public struct FlinkDistributions: Sendable, Hashable {
    /// By version; at most one each.
    public var installed: [FlinkVersion: FlinkDistribution]
    /// Why a place that was named (`--flink-home`, `$FLINK_HOME`) holds no usable distribution,
    /// or where the operator looked when it found none; nil when nothing went wrong.
    public var problem: String?
    /// Set when the operator runs one distribution only (`--flink-home`): its directory.
    public var explicitHome: String?

    public init(_ distributions: [FlinkDistribution] = [], problem: String? = nil, explicitHome: String? = nil) {
        var installed: [FlinkVersion: FlinkDistribution] = [:]
        for distribution in distributions {
            guard let version = distribution.flinkVersion, installed[version] == nil else { continue }
            installed[version] = distribution
        }
        self.installed = installed
        self.problem = problem
        self.explicitHome = explicitHome
    }

    /// The newest installed distribution (what a resource without `spec.flinkVersion` runs).
    public var newest: FlinkDistribution? {
        installed.keys.filter(\.isSupported).max { FlinkVersion.allCases.firstIndex(of: $0)! < FlinkVersion.allCases.firstIndex(of: $1)! }
            .flatMap { installed[$0] }
    }

    /// The distribution that runs `version` (nil: the newest installed), or why there is none:
    /// reason `UnsupportedFlinkVersion` (validation refuses these first), `FlinkNotInstalled`
    /// (supported, not installed: the message says how to install it) or `FlinkNotFound` (no
    /// version asked and none installed).
    public func resolve(_ version: FlinkVersion?) -> Result<FlinkDistribution, DeploymentProblem> {
        guard let version else {
            if let newest { return .success(newest) }
            return .failure(DeploymentProblem(problem ?? "no Flink distribution found: run hack/install-flink.sh", reason: "FlinkNotFound"))
        }
        guard version.isSupported else {
            return .failure(DeploymentProblem(
                "Flink \(version.release) is not supported: spec.flinkVersion must be one of \(FlinkVersion.supportedVersions.map(\.rawValue).joined(separator: ", "))",
                reason: "UnsupportedFlinkVersion"))
        }
        if let distribution = installed[version] { return .success(distribution) }
        var message = "Flink \(version.release) is not installed: run \(version.installCommand)"
        if let explicitHome {
            message += " (this operator runs only --flink-home \(explicitHome)"
                + (installed.values.first.map { ", Flink \($0.version)" } ?? "") + ": restart it without --flink-home to use every installed version)"
        } else if let problem {
            message += " (\(problem))"
        }
        return .failure(DeploymentProblem(message, reason: "FlinkNotInstalled"))
    }
}
