import FlinkResources
import Foundation

/// What a pod is for: `get pods` and `logs --pod` show it, the `flinklet.dev/role` label holds it.
/// The engine treats roles as names; a domain names its own (`PodRole.jobManager`, ... in
/// Planning). Encoded as the plain string.
public struct PodRole: RawRepresentable, Sendable, Hashable, Codable, CustomStringConvertible {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }

    /// A plain pod of the command engine.
    public static let main = PodRole(rawValue: "main")

    public var description: String { rawValue }

    public init(from decoder: any Decoder) throws {
        rawValue = try decoder.singleValueContainer().decode(String.self)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}

/// A pod as a plan describes it: what to run, with no means of running it.
public struct PodPlan: Sendable, Hashable, Codable {
    public enum RestartPolicy: String, Sendable, Hashable, Codable { case always = "Always", onFailure = "OnFailure", never = "Never" }
    /// `httpsGet`: over TLS with the operator's client certificate (a cluster with mutual TLS).
    public enum Readiness: Sendable, Hashable, Codable { case httpGet(port: Int, path: String), logLine(String), httpsGet(port: Int, path: String) }

    /// `<resource>-<role>[-<index>]`, e.g. `counter-app-jobmanager-0`; unique per namespace.
    public var name: String
    public var role: PodRole
    public var argv: [String]
    public var environment: [String: String]
    public var memoryLimitBytes: Int64?
    public var restartPolicy: RestartPolicy
    public var readiness: Readiness?
    public var terminationGracePeriod: Duration
    /// Files written into the pod's directory before it starts (path relative to it → content),
    /// as a ConfigMap is mounted: part of the plan, so changing one replaces the pod.
    public var files: [String: String]
    /// What identifies the pod, when not the whole plan: the hash of the plan without the options
    /// that matter only as the process starts (see `FlinkCluster`'s restore options), so that
    /// changing such an option never replaces a pod that already runs. Nil: the whole plan.
    public var identity: String?
    /// The loopback port the pod's process serves Prometheus metrics on (nil: none): labelled on
    /// the pod so scrape targets are listed from the pods that live.
    public var metricsPort: Int?

    public init(name: String, role: PodRole, argv: [String], environment: [String: String] = [:], memoryLimitBytes: Int64? = nil,
                restartPolicy: RestartPolicy = .always, readiness: Readiness? = nil, terminationGracePeriod: Duration = .seconds(30),
                files: [String: String] = [:]) {
        self.name = name
        self.role = role
        self.argv = argv
        self.environment = environment
        self.memoryLimitBytes = memoryLimitBytes
        self.restartPolicy = restartPolicy
        self.readiness = readiness
        self.terminationGracePeriod = terminationGracePeriod
        self.files = files
    }

    /// Identifies what the pod runs: a running pod whose `planHash` differs is replaced.
    public var planHash: String { identity ?? StableHash.of(self) }
}

/// A pod as observed: the parts of its status a plan decides on.
public struct ObservedPod: Sendable, Hashable {
    public enum Phase: String, Sendable, Hashable { case pending = "Pending", running = "Running", succeeded = "Succeeded", failed = "Failed" }

    public var name: String
    public var phase: Phase
    public var ready: Bool
    /// The `planHash` of the plan the pod was started from.
    public var planHash: String
    public var restartCount: Int
    /// `Error`, `OOMKilled`, `CrashLoopBackOff`, `Lost`, ...
    public var reason: String?
    public var exitCode: Int32?

    /// When its current process started.
    public var startedAt: Date?

    /// Asked to stop and not gone yet (reason `Terminating`).
    public var isTerminating: Bool { reason == "Terminating" }

    public init(name: String, phase: Phase, ready: Bool, planHash: String, restartCount: Int = 0, reason: String? = nil, exitCode: Int32? = nil,
                startedAt: Date? = nil) {
        self.startedAt = startedAt
        self.name = name
        self.phase = phase
        self.ready = ready
        self.planHash = planHash
        self.restartCount = restartCount
        self.reason = reason
        self.exitCode = exitCode
    }
}

/// Everything a plan is made from. No clock, no I/O: `now` is given. `Observation` is what
/// the domain side (a `ReconcilerBackend`) saw beyond pods.
public struct PlanInputOf<Observation: Sendable>: Sendable {
    public var id: ResourceID
    /// The resource's uid: one per incarnation (a resource deleted and created again gets a new
    /// one); empty before it is first stored.
    public var uid: String
    /// The last valid resource from the manifests; nil when there is none (never valid, or deleted).
    public var resource: FlinkResource?
    /// True when a manifest still defines the resource (false: it was deleted).
    public var isDefined: Bool
    public var generation: Int64
    /// Errors that keep the manifest's current text from being applied (empty when it applies).
    public var validationErrors: [String]
    public var pods: [ObservedPod]
    public var conditions: [Condition]
    /// What the domain side looks like (nil: not observed, or a planner that needs none).
    public var domain: Observation?
    public var now: Date

    public init(id: ResourceID, uid: String = "", resource: FlinkResource?, isDefined: Bool, generation: Int64, validationErrors: [String] = [],
                pods: [ObservedPod], conditions: [Condition] = [], domain: Observation? = nil, now: Date) {
        self.id = id
        self.uid = uid
        self.resource = resource
        self.isDefined = isDefined
        self.generation = generation
        self.validationErrors = validationErrors
        self.pods = pods
        self.conditions = conditions
        self.domain = domain
        self.now = now
    }
}

/// `type` of an event a plan records.
public enum EventKind: String, Sendable, Hashable { case normal = "Normal", warning = "Warning" }

/// One effect, to be carried out in order by the executor. `Action` is what only the domain
/// side knows how to do (a REST call, a jar to fetch, ...).
public enum PlanStep<Action: Sendable & Hashable>: Sendable, Hashable {
    public typealias EventKind = Reconciliation.EventKind

    /// Asks the pod to stop (SIGTERM, SIGKILL after its grace period) without waiting: later
    /// reconciles see it `Terminating`, then gone.
    case stopPod(name: String, reason: String)
    case startPod(PodPlan)
    case event(type: EventKind, reason: String, message: String)
    /// An action of the domain side (its backend performs it).
    case domain(Action)
    /// Removes directories (and everything in them) that belonged to the resource.
    case removeDirectories([String])
    /// Leases loopback ports to the resource until it holds `count` (what it holds is kept).
    case leasePorts(count: Int)
    /// Takes a slot of `gate` for `holder` (the resource key) before the heavy work the later
    /// steps start; with `force`, even beyond the limit (work found already under way, e.g.
    /// after an operator restart). When no slot is free the reconcile ends here: nothing after
    /// it is done, and the next reconcile plans again from what it then sees.
    case admit(AdmissionGate, holder: String, force: Bool)
    /// Gives `holder`'s slot of `gate` back (the work is over).
    case release(AdmissionGate, holder: String)
    /// The resource is gone and so are its pods: forget its record (and any slot it holds).
    case forget
}

/// A kind of heavy work whose concurrency the operator bounds (its backend holds the slots);
/// a domain names its own (`AdmissionGate.clusterStart`, ... in Planning).
public struct AdmissionGate: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public var description: String { rawValue }
}

/// What to do after a reconcile: the reconciler's return value (kube-rs' `Action`).
public enum ReconcileAction: Sendable, Hashable {
    case requeue(after: Duration)
    case awaitChange
}

/// The domain side's part of a plan's status (Flink's job and cluster, say).
public protocol DomainStatus: Sendable, Hashable {
    /// Record the plan's status before taking any step (write-ahead).
    var writeAhead: Bool { get }
    /// Folds this part into `status` (pure).
    func apply(to status: inout AnyResourceStatus)
}

/// A plan: steps to take now, and the status that describes the resource once they are taken.
public struct ResourcePlan<Action: Sendable & Hashable, Status: DomainStatus>: Sendable, Hashable {
    public var steps: [PlanStep<Action>]
    public var conditions: [Condition]
    /// `status.error`: why the resource is not as the manifest says, when it is not.
    public var error: String?
    /// `status.lifecycleState` once the steps are taken.
    public var lifecycleState: ResourceLifecycleState?
    /// The generation to record as `status.observedGeneration`, or nil to leave it as it is
    /// (the plan still has work to do for this generation).
    public var observedGeneration: Int64?
    /// The domain part of the status; nil leaves what is recorded.
    public var domainStatus: Status?
    public var next: ReconcileAction
    /// Resources whose plans read this resource's status (session jobs read their session
    /// cluster's `Ready`): reconciled again once this plan's status is recorded, so they act on
    /// the change at once instead of at their next poll.
    public var wake: [ResourceID]

    public init(steps: [PlanStep<Action>] = [], conditions: [Condition] = [], error: String? = nil,
                lifecycleState: ResourceLifecycleState? = nil, observedGeneration: Int64? = nil,
                domainStatus: Status? = nil, next: ReconcileAction = .awaitChange, wake: [ResourceID] = []) {
        self.steps = steps
        self.conditions = conditions
        self.error = error
        self.lifecycleState = lifecycleState
        self.observedGeneration = observedGeneration
        self.domainStatus = domainStatus
        self.next = next
        self.wake = wake
    }

    /// Record the status before any step.
    public var writeAhead: Bool { domainStatus?.writeAhead ?? false }
}

/// Decides, for one resource, what to do next. Pure: the same input gives the same plan.
public protocol ResourcePlanner<Observation, Action, Status>: Sendable {
    associatedtype Observation: Sendable
    associatedtype Action: Sendable & Hashable
    associatedtype Status: DomainStatus
    func plan(_ input: PlanInputOf<Observation>) -> ResourcePlan<Action, Status>
}

/// For planners with no domain side (the command engine): nothing to observe, no action, no
/// status of its own.
public struct NoObservation: Sendable, Hashable {}
/// A planner with no domain side never plans one.
public struct NoAction: Sendable, Hashable {}
public struct NoStatus: DomainStatus {
    public init() {}
    public var writeAhead: Bool { false }
    public func apply(to status: inout AnyResourceStatus) {}
}
