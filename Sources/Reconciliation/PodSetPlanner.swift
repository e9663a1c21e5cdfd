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
    public typealias Plan = ResourcePlan<NoAction, NoStatus>

    public let template: @Sendable (ResourceID, FlinkResource) -> [PodPlan]
    /// How soon to look again while pods are on their way (events usually come first).
    public var progressInterval: Duration = .seconds(2)

    public init(template: @escaping @Sendable (ResourceID, FlinkResource) -> [PodPlan]) {
        self.template = template
    }

    public func plan(_ input: PlanInputOf<NoObservation>) -> Plan {
        var steps: [PlanStep<NoAction>] = []

        // Deleted: stop every pod; once none is left, forget the resource.
        guard input.isDefined else {
            if let stopping: Plan = PlanParts.stopAll(input, reason: "resource deleted") { return stopping }
            return Plan(steps: [.forget], next: .awaitChange)
        }

        let validationEvents: [PlanStep<NoAction>] = PlanParts.validationEvents(input)
        guard let resource = input.resource else { return PlanParts.neverValid(input) }

        let wanted = template(input.id, resource)
        let diff = PodSetDiff<NoAction>(wanted: wanted, observed: input.pods)
        steps += diff.steps
        let starting = diff.starting
        let stopping = diff.stopping
        if !stopping.isEmpty {
            steps.append(.event(type: .normal, reason: "Killing", message: "Stopping pod(s) \(stopping.joined(separator: ", "))"))
        }
        if starting.count > 0 {
            steps.append(.event(type: .normal, reason: "Started", message: "Starting \(starting.count) pod(s)"))
        }
        steps += validationEvents

        // Status, as things will stand once the steps are taken.
        let current = diff.current
        let stalledPods = current.filter { $0.reason == "CrashLoopBackOff" || ($0.phase == .failed && $0.reason != nil) }
        let allReady = starting.isEmpty && current.count == wanted.count && current.allSatisfy { $0.ready || $0.phase == .succeeded }
        var conditions: [Condition] = []
        let generation = input.generation
        if allReady {
            conditions.append(Condition(type: Conditions.ready, status: .true, reason: "PodsReady",
                                        message: "\(wanted.count) pod(s) ready", observedGeneration: generation))
        } else {
            let notReady = wanted.count - current.filter(\.ready).count
            conditions.append(Condition(type: Conditions.ready, status: .false, reason: !starting.isEmpty ? "Starting" : "PodsNotReady",
                                        message: "\(notReady) of \(wanted.count) pod(s) not ready", observedGeneration: generation))
        }
        if let stalled = stalledPods.first {
            let message = "pod \(stalled.name): \(stalled.reason ?? "failed")" + (stalled.exitCode.map { " (exit code \($0))" } ?? "")
                + (stalled.restartCount > 0 ? ", \(stalled.restartCount) restart(s)" : "")
            conditions.append(Condition(type: Conditions.stalled, status: .true, reason: stalled.reason ?? "PodFailed",
                                        message: message, observedGeneration: generation))
        } else if !allReady {
            conditions.append(Condition(type: Conditions.reconciling, status: .true, reason: !starting.isEmpty ? "Starting" : "WaitingForReadiness",
                                        message: "waiting for \(wanted.count - current.filter(\.ready).count) pod(s)", observedGeneration: generation))
        }
        let error = PlanParts.errorText(input) ?? stalledPods.first.map { "pod \($0.name) is \($0.reason ?? "failed")" }
        let lifecycle: ResourceLifecycleState = !stalledPods.isEmpty ? .failed : allReady ? .stable : .deployed
        return Plan(steps: steps, conditions: Conditions.merge(previous: input.conditions, next: conditions, now: input.now),
                    error: error, lifecycleState: lifecycle,
                    observedGeneration: steps.isEmpty || allReady ? generation : nil,
                    next: allReady && stalledPods.isEmpty ? .awaitChange : .requeue(after: progressInterval))
    }
}

/// The steps that make a resource's pods equal to `wanted`: start what is missing, replace what
/// runs an older plan, restart a long-running pod that exited cleanly, stop what is not wanted.
/// A failed pod of the current plan is left for the driver's restart policy (or the planner).
///
/// Never waits: a pod to be replaced under its own name is only asked to stop here, and its
/// successor starts in a later reconcile, once the old one is gone (its `.stopped` event wakes
/// the resource). The steps never stop and start the same name, so no `startPod` has to wait
/// for a predecessor's grace period.
public struct PodSetDiff<Action: Sendable & Hashable>: Sendable {
    public var steps: [PlanStep<Action>] = []
    /// Names of the pods `steps` start.
    public var starting: [String] = []
    /// Names of the pods `steps` stop (replaced ones included).
    public var stopping: [String] = []
    /// The observed pods that run a wanted plan and are kept, by name.
    public var current: [ObservedPod] = []

    /// Wanted pods whose name is still held by a pod on its way out (one these steps stop to
    /// replace it, or one stopping already): started once it is gone.
    public var waiting: [String] = []

    public init(wanted: [PodPlan], observed pods: [ObservedPod]) {
        let observed = Dictionary(pods.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        let wantedNames = Set(wanted.map(\.name))
        for pod in pods.sorted(by: { $0.name < $1.name }) where !wantedNames.contains(pod.name) && !pod.isTerminating {
            steps.append(.stopPod(name: pod.name, reason: "no longer wanted"))
            stopping.append(pod.name)
        }
        for plan in wanted {
            switch observed[plan.name] {
            case let pod? where pod.isTerminating:
                waiting.append(pod.name)
            case nil:
                steps.append(.startPod(plan))
                starting.append(plan.name)
            case let pod? where pod.planHash != plan.planHash:
                replace(pod.name, reason: "spec changed")
            case let pod? where pod.reason == "Lost" && plan.restartPolicy != .never:
                // Its process ended while no operator watched, and nobody restarts a pod it
                // cannot supervise: start it again.
                replace(pod.name, reason: "lost")
            case let pod? where pod.phase == .succeeded && plan.restartPolicy == .always:
                steps.append(.startPod(plan))  // a long-running pod that exited cleanly: run it again
                starting.append(plan.name)
            case let pod?:
                current.append(pod)
            }
        }
    }

    /// Stops the pod `name` so that its wanted successor starts once it is gone; it is no
    /// longer current.
    public mutating func replace(_ name: String, reason: String) {
        steps.append(.stopPod(name: name, reason: reason))
        stopping.append(name)
        waiting.append(name)
        current.removeAll { $0.name == name }
    }
}

/// Plan pieces every planner shares.
public enum PlanParts {
    /// A deleted resource's pods: every pod still running is asked to stop, and the resource is
    /// looked at again until none is left (their `.stopped` events wake it). Nil once no pod is
    /// left: then the resource's files and record may go.
    public static func stopAll<O, A, S>(_ input: PlanInputOf<O>, reason: String) -> ResourcePlan<A, S>? {
        guard !input.pods.isEmpty else { return nil }
        let live = input.pods.filter { !$0.isTerminating }.sorted { $0.name < $1.name }
        var steps: [PlanStep<A>] = live.map { .stopPod(name: $0.name, reason: reason) }
        if !live.isEmpty {
            steps.append(.event(type: .normal, reason: "Cleanup", message: "Stopping \(live.count) pod(s): the manifest was removed"))
        }
        return ResourcePlan(steps: steps, conditions: input.conditions, lifecycleState: .deleting, next: .requeue(after: .seconds(1)))
    }

    /// `status.error` for validation errors: the first, and how many more.
    public static func errorText<O>(_ input: PlanInputOf<O>) -> String? {
        input.validationErrors.first.map { first in
            input.validationErrors.count == 1 ? first : "\(first) (and \(input.validationErrors.count - 1) more)"
        }
    }

    /// `conditions` with `Stalled` (reason `ValidationError`) when the manifest's newest text is
    /// invalid and no other stall is reported: the last valid spec keeps running, but the one
    /// asked for will not apply until a person fixes the file (kstatus: Failed, not Current).
    public static func stallingOnValidationErrors<O>(_ conditions: [Condition], _ input: PlanInputOf<O>) -> [Condition] {
        guard let error = errorText(input), !conditions.contains(where: { $0.type == Conditions.stalled }) else { return conditions }
        return conditions + [Condition(type: Conditions.stalled, status: .true, reason: "ValidationError",
                                       message: "the manifest's newest spec is invalid (the last valid one keeps running): \(error)",
                                       observedGeneration: input.generation)]
    }

    /// One `ValidationError` warning per error that keeps the manifest's text from applying.
    public static func validationEvents<O, A>(_ input: PlanInputOf<O>) -> [PlanStep<A>] {
        input.validationErrors.map { .event(type: .warning, reason: "ValidationError", message: $0) }
    }

    /// A resource whose manifest has never been valid: nothing to run; say why.
    public static func neverValid<O, A, S>(_ input: PlanInputOf<O>) -> ResourcePlan<A, S> {
        let message = errorText(input) ?? "the manifest is not valid"
        let events: [PlanStep<A>] = validationEvents(input)
        return ResourcePlan(steps: events, conditions: Conditions.merge(previous: input.conditions, next: [
            Condition(type: Conditions.ready, status: .false, reason: "InvalidSpec", message: message, observedGeneration: input.generation),
            Condition(type: Conditions.stalled, status: .true, reason: "InvalidSpec", message: message, observedGeneration: input.generation),
        ], now: input.now), error: message, lifecycleState: .created,
        observedGeneration: events.isEmpty ? input.generation : nil, next: .awaitChange)
    }
}
