import FlinkResources
import Foundation

/// Keeps a resource's pods equal to a set derived from its spec: starts missing pods, replaces
/// pods whose plan changed, stops pods no longer wanted, and tears everything down when the
/// resource is deleted. The pods come from `template`; the Flink planner supplies its own
/// pods (and more) through the same `ResourcePlanner` seam.
///
/// Status: `Ready` when every wanted pod runs and is ready; `Reconciling` while pods start,
/// stop or wait for readiness; `Stalled` when a pod crash-loops or failed for good, or when the
/// manifest has never been valid.
public struct PodSetPlanner: ResourcePlanner {
    public let template: @Sendable (ResourceID, FlinkResource) -> [PodPlan]
    /// How soon to look again while pods are on their way (events usually come first).
    public var progressInterval: Duration = .seconds(2)

    public init(template: @escaping @Sendable (ResourceID, FlinkResource) -> [PodPlan]) {
        self.template = template
    }

    public func plan(_ input: PlanInput) -> Plan {
        let observed = Dictionary(input.pods.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        var steps: [Step] = []

        // Deleted: stop every pod, then forget the resource.
        guard input.isDefined else {
            for pod in input.pods.sorted(by: { $0.name < $1.name }) {
                steps.append(.stopPod(name: pod.name, reason: "resource deleted"))
            }
            if !input.pods.isEmpty {
                steps.append(.event(type: .normal, reason: "Cleanup", message: "Stopping \(input.pods.count) pod(s): the manifest was removed"))
            }
            steps.append(.forget)
            return Plan(steps: steps, next: .awaitChange)
        }

        let errorText = input.validationErrors.first.map { first in
            input.validationErrors.count == 1 ? first : "\(first) (and \(input.validationErrors.count - 1) more)"
        }
        let validationEvents: [Step] = input.validationErrors.map { .event(type: .warning, reason: "ValidationError", message: $0) }

        // Never valid: nothing to run; say why.
        guard let resource = input.resource else {
            let message = errorText ?? "the manifest is not valid"
            return Plan(steps: validationEvents, conditions: Conditions.merge(previous: input.conditions, next: [
                Condition(type: Conditions.ready, status: .false, reason: "InvalidSpec", message: message, observedGeneration: input.generation),
                Condition(type: Conditions.stalled, status: .true, reason: "InvalidSpec", message: message, observedGeneration: input.generation),
            ], now: input.now), error: message, lifecycleState: .created,
            observedGeneration: validationEvents.isEmpty ? input.generation : nil, next: .awaitChange)
        }

        let wanted = template(input.id, resource)
        let wantedNames = Set(wanted.map(\.name))
        var stopping: [String] = []
        for pod in input.pods.sorted(by: { $0.name < $1.name }) where !wantedNames.contains(pod.name) {
            steps.append(.stopPod(name: pod.name, reason: "no longer wanted"))
            stopping.append(pod.name)
        }
        var starting = 0
        for plan in wanted {
            switch observed[plan.name] {
            case nil:
                steps.append(.startPod(plan))
                starting += 1
            case let pod? where pod.planHash != plan.planHash:
                steps.append(.stopPod(name: pod.name, reason: "spec changed"))
                stopping.append(pod.name)
                steps.append(.startPod(plan))
                starting += 1
            case let pod? where pod.phase == .succeeded && plan.restartPolicy == .always:
                steps.append(.startPod(plan))  // a long-running pod that exited cleanly: run it again
                starting += 1
            default:
                break
            }
        }
        if !stopping.isEmpty {
            steps.append(.event(type: .normal, reason: "Killing", message: "Stopping pod(s) \(stopping.joined(separator: ", "))"))
        }
        if starting > 0 {
            steps.append(.event(type: .normal, reason: "Started", message: "Starting \(starting) pod(s)"))
        }
        steps += validationEvents

        // Status, as things will stand once the steps are taken.
        let current = wanted.compactMap { plan in observed[plan.name].flatMap { $0.planHash == plan.planHash ? $0 : nil } }
        let stalledPods = current.filter { $0.reason == "CrashLoopBackOff" || ($0.phase == .failed && $0.reason != nil) }
        let allReady = starting == 0 && current.count == wanted.count && current.allSatisfy { $0.ready || $0.phase == .succeeded }
        var conditions: [Condition] = []
        let generation = input.generation
        if allReady {
            conditions.append(Condition(type: Conditions.ready, status: .true, reason: "PodsReady",
                                        message: "\(wanted.count) pod(s) ready", observedGeneration: generation))
        } else {
            let notReady = wanted.count - current.filter(\.ready).count
            conditions.append(Condition(type: Conditions.ready, status: .false, reason: starting > 0 ? "Starting" : "PodsNotReady",
                                        message: "\(notReady) of \(wanted.count) pod(s) not ready", observedGeneration: generation))
        }
        if let stalled = stalledPods.first {
            let message = "pod \(stalled.name): \(stalled.reason ?? "failed")" + (stalled.exitCode.map { " (exit code \($0))" } ?? "")
                + (stalled.restartCount > 0 ? ", \(stalled.restartCount) restart(s)" : "")
            conditions.append(Condition(type: Conditions.stalled, status: .true, reason: stalled.reason ?? "PodFailed",
                                        message: message, observedGeneration: generation))
        } else if !allReady {
            conditions.append(Condition(type: Conditions.reconciling, status: .true, reason: starting > 0 ? "Starting" : "WaitingForReadiness",
                                        message: "waiting for \(wanted.count - current.filter(\.ready).count) pod(s)", observedGeneration: generation))
        }
        let error = errorText ?? stalledPods.first.map { "pod \($0.name) is \($0.reason ?? "failed")" }
        let lifecycle: ResourceLifecycleState = !stalledPods.isEmpty ? .failed : allReady ? .stable : .deployed
        return Plan(steps: steps, conditions: Conditions.merge(previous: input.conditions, next: conditions, now: input.now),
                    error: error, lifecycleState: lifecycle,
                    observedGeneration: steps.isEmpty || allReady ? generation : nil,
                    next: allReady && stalledPods.isEmpty ? .awaitChange : .requeue(after: progressInterval))
    }
}
