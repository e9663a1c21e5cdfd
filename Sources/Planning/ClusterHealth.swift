import FlinkResources
import Reconciliation
import Foundation

/// The cluster health check of the upstream operator (its `kubernetes.operator.cluster.health-check.*`
/// keys): a job that keeps restarting, or that stopped completing checkpoints while
/// checkpointing is on, is unhealthy, and is redeployed from its newest checkpoint as a new job
/// (`RestartUnhealthyJob`). Pure.
///
/// Differences from upstream, on purpose: the check is on unless
/// `kubernetes.operator.cluster.health-check.enabled` is `"false"` (upstream: off unless
/// `"true"`), because on one machine nothing else would notice a job stuck restarting.
///
/// What it remembers between reconciles (the restart count at the start of the current window)
/// is kept in `status.clusterInfo["cluster-health-info"]`, as upstream keeps it.
public enum ClusterHealth {
    public static let enabledKey = "kubernetes.operator.cluster.health-check.enabled"
    public static let restartsWindowKey = "kubernetes.operator.cluster.health-check.restarts.window"
    public static let restartsThresholdKey = "kubernetes.operator.cluster.health-check.restarts.threshold"
    public static let checkpointProgressEnabledKey = "kubernetes.operator.cluster.health-check.checkpoint-progress.enabled"
    public static let checkpointProgressWindowKey = "kubernetes.operator.cluster.health-check.checkpoint-progress.window"

    /// Upstream's defaults: 64 restarts within 2 minutes.
    public static let defaultRestartsWindowMillis: Int64 = 120_000
    public static let defaultRestartsThreshold = 64
    /// Flink's default `execution.checkpointing.timeout`.
    public static let defaultCheckpointTimeoutMillis: Int64 = 600_000

    /// What the check remembers about a job.
    public struct Info: Codable, Sendable, Hashable {
        public static let clusterInfoKey = "cluster-health-info"

        public var jobId: String
        /// When this was evaluated, in milliseconds since the epoch.
        public var timeStamp: Int64
        /// `numRestarts` at the start of the current restart window, and when that was.
        public var numRestarts: Int
        public var numRestartsEvaluationTimeStamp: Int64
        public var healthy: Bool

        public init(jobId: String, timeStamp: Int64, numRestarts: Int, numRestartsEvaluationTimeStamp: Int64, healthy: Bool) {
            self.jobId = jobId
            self.timeStamp = timeStamp
            self.numRestarts = numRestarts
            self.numRestartsEvaluationTimeStamp = numRestartsEvaluationTimeStamp
            self.healthy = healthy
        }

        public init?(clusterInfo: [String: String]?) {
            guard let text = clusterInfo?[Self.clusterInfoKey],
                  let info = try? JSONDecoder().decode(Info.self, from: Data(text.utf8)) else { return nil }
            self = info
        }

        public var encoded: String? {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            return (try? encoder.encode(self)).map { String(decoding: $0, as: UTF8.self) }
        }
    }

    public struct Evaluation: Sendable, Hashable {
        public var info: Info
        /// Why the job is unhealthy; nil when it is healthy.
        public var unhealthy: String?
    }

    /// Evaluates the running (non-terminal) `job`; nil when there is nothing to evaluate (the
    /// check is off, or no job is observed).
    public static func evaluate(configuration: FlinkConfiguration, recorded: Info?, job: ObservedJob?, restarts: Int?,
                                latestCheckpoint: ObservedCheckpoint?, now: Date) -> Evaluation? {
        guard configuration[enabledKey]?.lowercased() != "false", let job, !job.isTerminal else { return nil }
        let nowMillis = Int64(now.timeIntervalSince1970 * 1000)
        let window = configuration[restartsWindowKey].flatMap(FlinkDuration.milliseconds) ?? defaultRestartsWindowMillis
        let threshold = configuration[restartsThresholdKey].flatMap(Int.init) ?? defaultRestartsThreshold
        var info = recorded.flatMap { $0.jobId == job.id ? $0 : nil }
            ?? Info(jobId: job.id, timeStamp: nowMillis, numRestarts: restarts ?? 0, numRestartsEvaluationTimeStamp: nowMillis, healthy: true)
        info.timeStamp = nowMillis
        var reasons: [String] = []
        if let restarts {
            if restarts < info.numRestarts || nowMillis - info.numRestartsEvaluationTimeStamp > window {
                info.numRestarts = restarts
                info.numRestartsEvaluationTimeStamp = nowMillis
            } else if restarts - info.numRestarts >= threshold {
                reasons.append("\(restarts - info.numRestarts) restarts within \(window / 1000) s, the threshold is \(threshold)")
            }
        }
        if let progress = checkpointProgressWindow(configuration), let started = job.startTime {
            let since = max(started, latestCheckpoint?.timestamp ?? 0)
            if nowMillis - since > progress {
                let what = latestCheckpoint == nil ? "no checkpoint completed in the \((nowMillis - started) / 1000) s since it started"
                    : "no checkpoint completed for \((nowMillis - since) / 1000) s"
                reasons.append("\(what), the window is \(progress / 1000) s")
            }
        }
        info.healthy = reasons.isEmpty
        return Evaluation(info: info, unhealthy: reasons.isEmpty ? nil : "job \(job.state): " + reasons.joined(separator: "; "))
    }

    /// How long a job may go without completing a checkpoint: the configured window, else (as
    /// upstream) the longer of interval and timeout times the tolerable failures plus one. Nil
    /// when checkpointing is off or the check is disabled.
    public static func checkpointProgressWindow(_ configuration: FlinkConfiguration) -> Int64? {
        guard configuration[checkpointProgressEnabledKey]?.lowercased() != "false",
              let interval = (configuration["execution.checkpointing.interval"] ?? configuration["execution.checkpointing.checkpointing-interval"])
                .flatMap(FlinkDuration.milliseconds), interval > 0 else { return nil }
        if let configured = configuration[checkpointProgressWindowKey].flatMap(FlinkDuration.milliseconds), configured > 0 { return configured }
        let timeout = configuration["execution.checkpointing.timeout"].flatMap(FlinkDuration.milliseconds) ?? defaultCheckpointTimeoutMillis
        let tolerable = Int64(configuration["execution.checkpointing.tolerable-failed-checkpoints"].flatMap(Int.init) ?? 0) + 1
        return max(interval * tolerable, timeout * tolerable)
    }
}
