import FlinkResources
import Foundation
import Synchronization

/// What `/healthz` and `/readyz` answer, in the style of the Kubernetes API server's health
/// endpoints: one line per check, `[+]name ok` or `[-]name failed: reason`.
///
/// Liveness (`/healthz`): the operator's loops are alive. Each long-running part registers while
/// it runs (`serviceStarted`/`serviceEnded`: one that ended while the operator runs is dead),
/// and probes registered with `addProbe` (the work queue and the process driver answer a call)
/// must answer. A probe that never answers (a wedged actor) makes `/healthz` itself time out,
/// which probers (the kubelet, `curl --max-time`) count as failed; no task is left behind.
///
/// Readiness (`/readyz`): the manifests were listed, the pods of an earlier run adopted, and
/// every canary (a resource labelled `flink.apache.org/canary: "true"`) had a successful
/// reconcile within `canaryWindow` (one minute).
public final class OperatorHealth: Sendable {
    /// The label that makes a resource a canary (upstream's operator health canary).
    public static let canaryLabel = FlinkAPI.canaryLabel

    public struct Check: Sendable, Equatable {
        public var name: String
        /// nil: passed.
        public var failure: String?
        public init(name: String, failure: String?) {
            self.name = name
            self.failure = failure
        }
    }

    /// A probe answers (returns) when the part it probes is alive.
    public typealias Probe = @Sendable () async -> Void

    /// A readiness check: nil when passed, else why not.
    public typealias ReadinessCheck = @Sendable () async -> String?

    private struct State {
        var readinessChecks: [(String, ReadinessCheck)] = []
        var services: [String: Bool] = [:]  // name → running
        var probes: [(String, Probe)] = []
        /// Canaries known to the operator → time of their last successful reconcile.
        var canaries: [ResourceID: Date?] = [:]
    }

    private let state = Mutex(State())
    public let canaryWindow: Duration
    private let now: @Sendable () -> Date

    public init(canaryWindow: Duration = .seconds(60), now: @escaping @Sendable () -> Date = { Date() }) {
        self.canaryWindow = canaryWindow
        self.now = now
    }

    // MARK: Reporting

    /// Adds a readiness check (the operator adds `manifests-listed` and `pods-adopted`).
    public func addReadinessCheck(_ name: String, _ check: @escaping ReadinessCheck) {
        state.withLock { $0.readinessChecks.append((name, check)) }
    }
    public func serviceStarted(_ name: String) { state.withLock { $0.services[name] = true } }
    public func serviceEnded(_ name: String) { state.withLock { $0.services[name] = false } }
    public func addProbe(_ name: String, _ probe: @escaping Probe) { state.withLock { $0.probes.append((name, probe)) } }

    /// Whether a resource with these labels is a canary.
    public static func isCanary(labels: [String: String]?) -> Bool {
        labels?[canaryLabel]?.lowercased() == "true"
    }

    /// A reconcile of `id` ended; `isCanary` from its labels (a resource that stops being one,
    /// or is deleted, is no longer waited for).
    public func reconciled(_ id: ResourceID, isCanary: Bool, succeeded: Bool) {
        state.withLock { state in
            guard isCanary else {
                state.canaries[id] = nil
                return
            }
            if succeeded {
                state.canaries[id] = .some(now())
            } else if state.canaries[id] == nil {
                state.canaries[id] = .some(nil)
            }
        }
    }

    /// A resource is gone: no longer a canary.
    public func forgotten(_ id: ResourceID) { _ = state.withLock { $0.canaries.removeValue(forKey: id) } }

    // MARK: Answers

    public func liveness() async -> [Check] {
        let (services, probes) = state.withLock { ($0.services, $0.probes) }
        var checks = services.keys.sorted().map { name in
            Check(name: name, failure: services[name] == true ? nil : "ended")
        }
        for (name, probe) in probes {
            await probe()
            checks.append(Check(name: name, failure: nil))
        }
        return checks
    }

    public func readiness() async -> [Check] {
        let registered = state.withLock { $0.readinessChecks }
        var checks: [Check] = []
        for (name, check) in registered {
            checks.append(Check(name: name, failure: await check()))
        }
        let now = self.now()
        let window = Double(canaryWindow.components.seconds)
        return state.withLock { state in
            for id in state.canaries.keys.sorted() {
                let last = state.canaries[id] ?? nil
                let failure: String? = switch last {
                case nil: "no successful reconcile yet"
                case let last? where now.timeIntervalSince(last) > window:
                    "last successful reconcile \(Int(now.timeIntervalSince(last)))s ago"
                default: nil
                }
                checks.append(Check(name: "canary:\(id.key)", failure: failure))
            }
            return checks
        }
    }

    /// The body of a health answer and whether it passed.
    public static func render(_ checks: [Check], verbose: Bool) -> (passed: Bool, body: String) {
        let passed = checks.allSatisfy { $0.failure == nil }
        guard verbose || !passed else { return (true, "ok\n") }
        var body = ""
        for check in checks {
            if let failure = check.failure {
                body += "[-]\(check.name) failed: \(failure)\n"
            } else {
                body += "[+]\(check.name) ok\n"
            }
        }
        body += passed ? "check passed\n" : "check failed\n"
        return (passed, body)
    }
}
