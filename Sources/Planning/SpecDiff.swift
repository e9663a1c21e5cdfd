import FlinkResources
import Reconciliation
import Foundation

/// How much a spec change asks of a running job, as the upstream operator classifies it: the
/// largest change of any field decides. Ordered: `ignore < scale < upgrade < savepointRedeploy`.
public enum DiffType: Int, Sendable, Hashable, Comparable, CustomStringConvertible {
    /// Nothing to do for the running job (operator settings, nonces read elsewhere).
    case ignore
    /// More or fewer TaskManagers; the job keeps running.
    case scale
    /// The job must stop and start again on the new spec, moving its state per `upgradeMode`.
    case upgrade
    /// Redeploy from `initialSavepointPath`, whatever the upgrade mode says.
    case savepointRedeploy

    public static func < (lhs: DiffType, rhs: DiffType) -> Bool { lhs.rawValue < rhs.rawValue }

    public var description: String {
        switch self {
        case .ignore: "ignore"
        case .scale: "scale"
        case .upgrade: "upgrade"
        case .savepointRedeploy: "savepoint-redeploy"
        }
    }
}

/// The difference between two specs of one resource, field by field.
public struct SpecDiff: Sendable, Hashable {
    public struct Change: Sendable, Hashable {
        /// `spec.job.args`, `spec.flinkConfiguration["state.backend.type"]`, ...
        public var path: String
        public var type: DiffType
    }

    /// Every changed field, in path order.
    public var changes: [Change]

    /// The largest change, or nil when nothing changed.
    public var type: DiffType? { changes.map(\.type).max() }

    /// Paths of the changes of `type` or larger.
    public func paths(atLeast type: DiffType) -> [String] { changes.filter { $0.type >= type }.map(\.path) }

    /// Compares two specs of the same kind (nil: no spec, e.g. a first deploy).
    public init(old: FlinkResource?, new: FlinkResource?) {
        let before = old.map(Self.flatten) ?? [:]
        let after = new.map(Self.flatten) ?? [:]
        let paths = Set(before.keys).union(after.keys).filter { before[$0] != after[$0] }
        changes = Self.collapse(paths).sorted().map { Change(path: $0, type: Self.classify($0)) }
    }

    /// The diff type of a changed field.
    public static func classify(_ path: String) -> DiffType {
        if path.hasPrefix("spec.flinkConfiguration[") {
            let key = String(path.dropFirst("spec.flinkConfiguration[\"".count).dropLast(2))
            if key.hasPrefix("kubernetes.operator.") || key.hasPrefix("flinklet.") { return .ignore }
            return .upgrade
        }
        switch path {
        case "spec.job.upgradeMode", "spec.job.savepointTriggerNonce", "spec.job.initialSavepointPath",
             "spec.job.allowNonRestoredState", "spec.job.checkpointTriggerNonce", "spec.job.autoscalerResetNonce",
             // Kubernetes-only: nothing local runs differently.
             "spec.serviceAccount", "spec.imagePullPolicy", "spec.ingress", "spec.jobManager.resource.cpu",
             "spec.taskManager.resource.cpu", "spec.jobManager.resource.ephemeralStorage", "spec.taskManager.resource.ephemeralStorage":
            return .ignore
        case "spec.taskManager.replicas":
            return .scale
        case "spec.job.savepointRedeployNonce":
            return .savepointRedeploy
        default:
            // Kubernetes resource requirements: only memory sizes a local process.
            for process in ["spec.jobManager.resources.", "spec.taskManager.resources."] where path.hasPrefix(process) {
                return path.hasSuffix(".memory") && !path.hasPrefix(process + "claims") ? .upgrade : .ignore
            }
            if path.hasPrefix("spec.ingress") || path.hasPrefix("spec.podTemplate") || path.hasSuffix(".podTemplate")
                || path.contains(".podTemplate.") { return .ignore }
            return .upgrade
        }
    }

    /// `spec.job.args[3]` → `spec.job.args`: a list changes as a whole.
    static func collapse(_ paths: Set<String>) -> Set<String> {
        Set(paths.map { path in
            guard let bracket = path.firstIndex(of: "["), !path[bracket...].hasPrefix("[\"") else { return path }
            return String(path[..<bracket])
        })
    }

    /// Leaf values by path: objects by key (`.key`, or `["key"]` inside `flinkConfiguration`),
    /// arrays by index.
    static func flatten(_ resource: FlinkResource) -> [String: String] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let data: Data? = switch resource {
        case .deployment(let d): try? encoder.encode(d.spec)
        case .sessionJob(let j): try? encoder.encode(j.spec)
        case .snapshot(let s): try? encoder.encode(s.spec)
        }
        guard let data, let value = try? JSONDecoder().decode(JSONValue.self, from: data) else { return [:] }
        var leaves: [String: String] = [:]
        func walk(_ value: JSONValue, _ path: String) {
            switch value {
            case .object(let object):
                for (key, child) in object {
                    walk(child, path == "spec.flinkConfiguration" ? "\(path)[\"\(key)\"]" : "\(path).\(key)")
                }
            case .array(let items):
                if items.isEmpty { leaves[path] = "[]" }
                for (index, child) in items.enumerated() { walk(child, "\(path)[\(index)]") }
            case .null: break
            case .bool(let b): leaves[path] = String(b)
            case .int(let i): leaves[path] = String(i)
            case .double(let d): leaves[path] = String(d)
            case .string(let s): leaves[path] = "\"" + s
            }
        }
        walk(value, "spec")
        return leaves
    }
}
