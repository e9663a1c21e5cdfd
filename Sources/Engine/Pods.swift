import FlinkResources
import Foundation
import Logging
import Manifests
import Reconciliation
import Runtime
import Store

/// Labels Flinklet puts on every pod it starts, to find a resource's pods and what they run.
public enum PodLabels {
    /// The resource key (`FlinkDeployment/default/app`) that owns the pod.
    public static let owner = "flinklet.dev/owner"
    /// The pod's role (`jobmanager`, `taskmanager`, ...).
    public static let role = "flinklet.dev/role"
    /// The `planHash` of the `PodPlan` the pod was started from.
    public static let planHash = "flinklet.dev/plan-hash"
    /// The port the pod serves Prometheus metrics on, when it does.
    public static let metricsPort = "flinklet.dev/metrics-port"
}

/// Where a resource's pods keep their files: `<state-dir>/pods/<namespace>/<name>/<pod>/`.
public struct PodLayout: Sendable {
    public let stateDirectory: String

    public init(stateDirectory: String) { self.stateDirectory = stateDirectory }

    /// `<state-dir>/pods/<namespace>/<name>`: the directory of all the resource's pods.
    public func directory(of id: ResourceID) -> String {
        "\(stateDirectory)/pods/\(id.namespace)/\(id.name)"
    }

    public func directory(of id: ResourceID, pod: String) -> String {
        directory(of: id) + "/" + pod
    }

    /// The driver's name for a pod: unique across namespaces, as kubectl writes it.
    public func runtimeName(of id: ResourceID, pod: String) -> String { "\(id.namespace)/\(pod)" }

    /// The `PodSpec` that runs `plan`: its working directory, log and tmp directory under the
    /// state directory, and the labels that tie it to its resource.
    public func spec(for plan: PodPlan, of id: ResourceID) -> PodSpec {
        let directory = directory(of: id, pod: plan.name)
        var spec = PodSpec(name: runtimeName(of: id, pod: plan.name), argv: plan.argv, workingDirectory: directory,
                           logPath: directory + "/log")
        spec.environment = plan.environment
        spec.memoryLimitBytes = plan.memoryLimitBytes
        spec.restartPolicy = switch plan.restartPolicy {
        case .always: .always
        case .onFailure: .onFailure
        case .never: .never
        }
        spec.readiness = plan.readiness.map { readiness in
            switch readiness {
            case .httpGet(let port, let path): .httpGet(port: port, path: path)
            case .httpsGet(let port, let path): .httpsGet(port: port, path: path)
            case .logLine(let line): .logLine(line)
            }
        }
        spec.terminationGracePeriod = plan.terminationGracePeriod
        spec.tmpDirectory = directory + "/tmp"
        spec.labels = [PodLabels.owner: id.key, PodLabels.role: plan.role.rawValue, PodLabels.planHash: plan.planHash]
        if let port = plan.metricsPort { spec.labels[PodLabels.metricsPort] = String(port) }
        return spec
    }
}

/// Pods as the Store records them and as plans see them.
public enum PodRecords {
    public static func observed(_ pod: PodStatus) -> ObservedPod {
        let phase: ObservedPod.Phase = switch pod.phase {
        case .pending: .pending
        case .running: .running
        case .succeeded: .succeeded
        case .failed: .failed
        }
        return ObservedPod(name: String(pod.name.split(separator: "/", maxSplits: 1).last ?? Substring(pod.name)),
                           phase: phase, ready: pod.ready, planHash: pod.labels[PodLabels.planHash] ?? "",
                           restartCount: pod.restartCount, reason: pod.reason, exitCode: pod.exitCode, startedAt: pod.startedAt)
    }

    /// Whether the row's record can be decoded (and so adopted).
    public static func isDecodable(_ row: PodRecordRow) -> Bool {
        (try? JSONDecoder().decode(PodRecord.self, from: row.spec)) != nil
    }

    public static func row(for record: PodRecord, owner: String) throws -> PodRecordRow {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return PodRecordRow(name: record.name, owner: owner, pid: record.pid, pgid: record.pgid,
                            processStartTicks: record.processStartTicks, specHash: record.spec.specHash,
                            spec: try encoder.encode(record), startedAt: record.startedAt)
    }

    /// The record's status, whatever its kind (nil when it has none yet).
    public static func status(of record: ResourceRecord) throws -> (any ResourceStatus)? {
        try record.status.map { try JSONDecoder().decode(record.kind.statusType, from: Data($0.utf8)) }
    }
}
