/// The API group and version of every resource Flinklet reads, as the Apache Flink Kubernetes
/// Operator defines them.
public enum FlinkAPI {
    public static let group = "flink.apache.org"
    public static let version = "v1beta1"
    public static let apiVersion = "flink.apache.org/v1beta1"
    /// The label that marks a canary resource (upstream `CanaryResourceManager.CANARY_LABEL`):
    /// the operator reconciles it to show it is alive, and deploys nothing for it.
    public static let canaryLabel = "flink.apache.org/canary"
}

/// The kinds of resource Flinklet manages.
public enum ResourceKind: String, Sendable, Hashable, Codable, CaseIterable, Comparable {
    case flinkDeployment = "FlinkDeployment"
    case flinkSessionJob = "FlinkSessionJob"
    case flinkStateSnapshot = "FlinkStateSnapshot"

    /// Lowercase singular, as kubectl prints it: `flinkdeployment`.
    public var singular: String { rawValue.lowercased() }
    /// Lowercase plural, as in CRD names and `kubectl get`: `flinkdeployments`.
    public var plural: String { singular + "s" }
    public var shortNames: [String] {
        switch self {
        case .flinkDeployment: ["flinkdep", "fdep"]
        case .flinkSessionJob: ["sessionjob", "fsj"]
        case .flinkStateSnapshot: ["flinksnp"]
        }
    }

    /// `flinkdeployment.flink.apache.org`, the form kubectl uses in `apply` output.
    public var qualifiedName: String { "\(singular).\(FlinkAPI.group)" }

    /// Finds a kind from any of the spellings kubectl accepts: kind, singular, plural, short
    /// names, optionally qualified with the group (`flinkdeployments.flink.apache.org`).
    public init?(spelling: String) {
        var word = spelling.lowercased()
        if word.hasSuffix("." + FlinkAPI.group) { word.removeLast(FlinkAPI.group.count + 1) }
        let match = Self.allCases.first { kind in
            word == kind.singular || word == kind.plural || kind.shortNames.contains(word)
                || (kind == .flinkSessionJob && word == "sessionjobs")
        }
        guard let match else { return nil }
        self = match
    }

    public static func < (lhs: ResourceKind, rhs: ResourceKind) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// The identity of a resource: kind, namespace and name. Two manifests naming the same identity
/// are duplicates.
public struct ResourceID: Sendable, Hashable, Codable, Comparable, CustomStringConvertible {
    public var kind: ResourceKind
    public var namespace: String
    public var name: String

    public init(kind: ResourceKind, namespace: String, name: String) {
        self.kind = kind
        self.namespace = namespace
        self.name = name
    }

    /// The work-queue and store key: `FlinkDeployment/default/my-app`.
    public var key: String { "\(kind.rawValue)/\(namespace)/\(name)" }

    /// kubectl's form: `flinkdeployment.flink.apache.org/my-app` (namespace added when not `default`).
    public var description: String {
        namespace == ObjectMeta.defaultNamespace ? "\(kind.qualifiedName)/\(name)" : "\(kind.qualifiedName)/\(name) -n \(namespace)"
    }

    public static func < (lhs: ResourceID, rhs: ResourceID) -> Bool {
        (lhs.kind, lhs.namespace, lhs.name) < (rhs.kind, rhs.namespace, rhs.name)
    }
}

/// Kubernetes object metadata, the parts Flinklet keeps.
public struct ObjectMeta: Codable, Sendable, Hashable {
    public static let defaultNamespace = "default"

    public var name: String
    public var namespace: String
    public var labels: [String: String]?
    public var annotations: [String: String]?
    /// Increased by Flinklet each time the spec in the manifest changes; never read from a file.
    public var generation: Int64?

    public init(name: String, namespace: String = ObjectMeta.defaultNamespace, labels: [String: String]? = nil,
                annotations: [String: String]? = nil, generation: Int64? = nil) {
        self.name = name
        self.namespace = namespace
        self.labels = labels
        self.annotations = annotations
        self.generation = generation
    }

    enum CodingKeys: String, CodingKey { case name, namespace, labels, annotations, generation }

    /// Labelled `flink.apache.org/canary: "true"` (case-insensitively, as upstream's
    /// `isCanaryResource`): a canary may have no spec, starts nothing, and is reconciled like
    /// any resource so its status shows the operator is alive.
    public var isCanary: Bool { labels?[FlinkAPI.canaryLabel]?.lowercased() == "true" }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        namespace = try c.decodeIfPresent(String.self, forKey: .namespace) ?? Self.defaultNamespace
        labels = try c.decodeIfPresent([String: String].self, forKey: .labels)
        annotations = try c.decodeIfPresent([String: String].self, forKey: .annotations)
        generation = try c.decodeIfPresent(Int64.self, forKey: .generation)
    }
}

/// A `FlinkDeployment`: a Flink cluster, and for application and per-job modes the job it runs.
public struct FlinkDeployment: Codable, Sendable, Hashable {
    public var apiVersion: String = FlinkAPI.apiVersion
    public var kind: String = ResourceKind.flinkDeployment.rawValue
    public var metadata: ObjectMeta
    public var spec: FlinkDeploymentSpec
    public var status: FlinkDeploymentStatus?

    public init(metadata: ObjectMeta, spec: FlinkDeploymentSpec, status: FlinkDeploymentStatus? = nil) {
        self.metadata = metadata
        self.spec = spec
        self.status = status
    }

    public var id: ResourceID { ResourceID(kind: .flinkDeployment, namespace: metadata.namespace, name: metadata.name) }
}

/// A `FlinkSessionJob`: a job submitted to the session cluster named by `spec.deploymentName`.
public struct FlinkSessionJob: Codable, Sendable, Hashable {
    public var apiVersion: String = FlinkAPI.apiVersion
    public var kind: String = ResourceKind.flinkSessionJob.rawValue
    public var metadata: ObjectMeta
    public var spec: FlinkSessionJobSpec
    public var status: FlinkSessionJobStatus?

    public init(metadata: ObjectMeta, spec: FlinkSessionJobSpec, status: FlinkSessionJobStatus? = nil) {
        self.metadata = metadata
        self.spec = spec
        self.status = status
    }

    public var id: ResourceID { ResourceID(kind: .flinkSessionJob, namespace: metadata.namespace, name: metadata.name) }
}

/// Either kind of resource, as read from a manifest. `indirect`: the payload lives in one
/// shared box, so the copies the desired state and the queue hold do not each carry ~1 KB.
public indirect enum FlinkResource: Sendable, Hashable {
    case deployment(FlinkDeployment)
    case sessionJob(FlinkSessionJob)
    case snapshot(FlinkStateSnapshot)

    public var id: ResourceID {
        switch self {
        case .deployment(let d): d.id
        case .sessionJob(let j): j.id
        case .snapshot(let s): s.id
        }
    }

    public var metadata: ObjectMeta {
        switch self {
        case .deployment(let d): d.metadata
        case .sessionJob(let j): j.metadata
        case .snapshot(let s): s.metadata
        }
    }
}

// MARK: - Spec

/// The desired state of a `FlinkDeployment` (upstream `FlinkDeploymentSpec`).
public struct FlinkDeploymentSpec: Codable, Sendable, Hashable {
    public var job: JobSpec?
    public var restartNonce: Int64?
    public var flinkConfiguration: FlinkConfiguration?
    public var image: String?
    public var imagePullPolicy: String?
    public var serviceAccount: String?
    public var flinkVersion: FlinkVersion?
    public var ingress: IngressSpec?
    public var podTemplate: JSONValue?
    public var jobManager: JobManagerSpec?
    public var taskManager: TaskManagerSpec?
    public var logConfiguration: [String: String]?
    public var mode: DeploymentMode?

    public init(job: JobSpec? = nil, restartNonce: Int64? = nil, flinkConfiguration: FlinkConfiguration? = nil,
                image: String? = nil, imagePullPolicy: String? = nil, serviceAccount: String? = nil,
                flinkVersion: FlinkVersion? = nil, ingress: IngressSpec? = nil, podTemplate: JSONValue? = nil,
                jobManager: JobManagerSpec? = nil, taskManager: TaskManagerSpec? = nil,
                logConfiguration: [String: String]? = nil, mode: DeploymentMode? = nil) {
        self.job = job
        self.restartNonce = restartNonce
        self.flinkConfiguration = flinkConfiguration
        self.image = image
        self.imagePullPolicy = imagePullPolicy
        self.serviceAccount = serviceAccount
        self.flinkVersion = flinkVersion
        self.ingress = ingress
        self.podTemplate = podTemplate
        self.jobManager = jobManager
        self.taskManager = taskManager
        self.logConfiguration = logConfiguration
        self.mode = mode
    }

    /// The mode the cluster runs in, with upstream's `native`/`standalone` (and no mode at all)
    /// inferred: application when a job is set, session otherwise.
    public var effectiveMode: ClusterMode {
        switch mode {
        case .application: .application
        case .perJob: .perJob
        case .session: .session
        case .native, .standalone, nil: job == nil ? .session : .application
        }
    }
}

/// The desired state of a `FlinkSessionJob` (upstream `FlinkSessionJobSpec`).
public struct FlinkSessionJobSpec: Codable, Sendable, Hashable {
    public var deploymentName: String?
    public var job: JobSpec?
    public var restartNonce: Int64?
    public var flinkConfiguration: FlinkConfiguration?

    public init(deploymentName: String? = nil, job: JobSpec? = nil, restartNonce: Int64? = nil, flinkConfiguration: FlinkConfiguration? = nil) {
        self.deploymentName = deploymentName
        self.job = job
        self.restartNonce = restartNonce
        self.flinkConfiguration = flinkConfiguration
    }
}

/// The job a deployment or session job runs (upstream `JobSpec`).
public struct JobSpec: Codable, Sendable, Hashable {
    public var jarURI: String?
    public var parallelism: Int?
    public var entryClass: String?
    public var args: [String]?
    public var state: JobState?
    public var savepointTriggerNonce: Int64?
    public var initialSavepointPath: String?
    public var checkpointTriggerNonce: Int64?
    public var upgradeMode: UpgradeMode?
    public var allowNonRestoredState: Bool?
    public var savepointRedeployNonce: Int64?
    public var autoscalerResetNonce: Int64?

    public init(jarURI: String? = nil, parallelism: Int? = nil, entryClass: String? = nil, args: [String]? = nil,
                state: JobState? = nil, savepointTriggerNonce: Int64? = nil, initialSavepointPath: String? = nil,
                checkpointTriggerNonce: Int64? = nil, upgradeMode: UpgradeMode? = nil, allowNonRestoredState: Bool? = nil,
                savepointRedeployNonce: Int64? = nil, autoscalerResetNonce: Int64? = nil) {
        self.jarURI = jarURI
        self.parallelism = parallelism
        self.entryClass = entryClass
        self.args = args
        self.state = state
        self.savepointTriggerNonce = savepointTriggerNonce
        self.initialSavepointPath = initialSavepointPath
        self.checkpointTriggerNonce = checkpointTriggerNonce
        self.upgradeMode = upgradeMode
        self.allowNonRestoredState = allowNonRestoredState
        self.savepointRedeployNonce = savepointRedeployNonce
        self.autoscalerResetNonce = autoscalerResetNonce
    }

    /// Upstream defaults: a job runs unless suspended, and upgrades statelessly unless told otherwise.
    public var effectiveState: JobState { state ?? .running }
    public var effectiveUpgradeMode: UpgradeMode { upgradeMode ?? .stateless }
}

/// One kind of Flink process: its size, count and pod template. Upstream has two types with
/// these same fields; one type serves both here.
public struct ProcessSpec: Codable, Sendable, Hashable {
    /// Upstream's deprecated `resource` (cpu, memory). Ignored when `resources` has requests
    /// or limits.
    public var resource: Resource?
    /// Kubernetes `ResourceRequirements` (upstream's current field), which take precedence over
    /// `resource` when they hold any request or limit.
    public var resources: ResourceRequirements?
    public var replicas: Int?
    public var podTemplate: JSONValue?

    public init(resource: Resource? = nil, resources: ResourceRequirements? = nil, replicas: Int? = nil, podTemplate: JSONValue? = nil) {
        self.resource = resource
        self.resources = resources
        self.replicas = replicas
        self.podTemplate = podTemplate
    }

    /// Which field sizes the process, by upstream's precedence (`FlinkConfigBuilder`
    /// `applyResourceConfig`): `resources` when it has any request or limit, else `resource`.
    public var usesResources: Bool { resources?.hasRequirements ?? false }

    /// The memory that sets `*.memory.process.size`, as written: `resources`' memory request, else
    /// its memory limit (Kubernetes defaults a request to its limit), else — only when
    /// `resources` is empty — the deprecated `resource.memory`.
    public var memory: String? {
        usesResources ? resources?.requestOrLimit(.memory) : resource?.memory
    }

    /// The memory limit written in `resources.limits.memory`, when `resources` is in use.
    public var memoryLimit: String? { usesResources ? resources?.limits?[ResourceName.memory.rawValue] : nil }
}

/// `spec.jobManager` (upstream `JobManagerSpec`).
public typealias JobManagerSpec = ProcessSpec
/// `spec.taskManager` (upstream `TaskManagerSpec`).
public typealias TaskManagerSpec = ProcessSpec

/// Upstream `Resource` (deprecated there in favour of `resources`): CPU and memory of one process.
public struct Resource: Codable, Sendable, Hashable {
    public var cpu: Double?
    /// A memory quantity as written (`2048m`, `2Gi`, ...); parse with `MemorySize`.
    public var memory: String?
    public var ephemeralStorage: String?

    public init(cpu: Double? = nil, memory: String? = nil, ephemeralStorage: String? = nil) {
        self.cpu = cpu
        self.memory = memory
        self.ephemeralStorage = ephemeralStorage
    }

    /// The memory in bytes, or nil when unset or unparsable (validation reports the latter).
    public var memoryBytes: Int64? { memory.flatMap { try? MemorySize.parse($0).bytes } }
}

/// The resource names of a Kubernetes `ResourceList` that Flinklet reads.
public enum ResourceName: String, Sendable, Hashable, CaseIterable {
    case cpu
    case memory
    case ephemeralStorage = "ephemeral-storage"
}

/// Kubernetes `ResourceRequirements` (`requests`, `limits`, `claims`), as upstream's
/// `spec.jobManager.resources` / `spec.taskManager.resources` hold them. Quantities are kept as
/// written (`"2Gi"`, `"500m"`, `1`).
public struct ResourceRequirements: Codable, Sendable, Hashable {
    public var requests: [String: String]?
    public var limits: [String: String]?
    /// Dynamic resource allocation claims: Kubernetes only.
    public var claims: JSONValue?

    public init(requests: [String: String]? = nil, limits: [String: String]? = nil, claims: JSONValue? = nil) {
        self.requests = requests
        self.limits = limits
        self.claims = claims
    }

    /// Upstream's `hasResourceRequirements`: any request or limit. An empty `resources: {}`
    /// does not hide the deprecated `resource`.
    public var hasRequirements: Bool { !(requests ?? [:]).isEmpty || !(limits ?? [:]).isEmpty }

    /// The request for `name`, else its limit (Kubernetes defaults a request to its limit).
    public func requestOrLimit(_ name: ResourceName) -> String? {
        requests?[name.rawValue] ?? limits?[name.rawValue]
    }
}

public struct IngressSpec: Codable, Sendable, Hashable {
    public var template: String?
    public var className: String?
    public var annotations: [String: String]?
    public var labels: [String: String]?
    public var tls: JSONValue?

    public init(template: String? = nil, className: String? = nil, annotations: [String: String]? = nil,
                labels: [String: String]? = nil, tls: JSONValue? = nil) {
        self.template = template
        self.className = className
        self.annotations = annotations
        self.labels = labels
        self.tls = tls
    }
}

// MARK: - Enumerations

/// `spec.mode`. Flinklet's own values name Flink's three deployment modes; upstream's values
/// are accepted so its manifests load unchanged and mean "inferred".
public enum DeploymentMode: String, Codable, Sendable, Hashable, CaseIterable {
    case application
    case perJob = "per-job"
    case session
    case native
    case standalone
}

/// The deployment mode after inference; what the operator acts on.
public enum ClusterMode: String, Codable, Sendable, Hashable, CaseIterable {
    case application
    case perJob = "per-job"
    case session
}

public enum JobState: String, Codable, Sendable, Hashable, CaseIterable {
    case running, suspended
}

public enum UpgradeMode: String, Codable, Sendable, Hashable, CaseIterable {
    case stateless
    case savepoint
    case lastState = "last-state"
}

/// `spec.flinkVersion`, upstream's enumeration. Flinklet runs `supportedVersions` (see
/// FlinkVersions.swift), each from an installed distribution of its own.
public enum FlinkVersion: String, Codable, Sendable, Hashable, CaseIterable {
    case v1_13, v1_14, v1_15, v1_16, v1_17, v1_18, v1_19, v1_20
    case v2_0, v2_1, v2_2, v2_3
}

public enum ImagePullPolicy: String, CaseIterable {
    case always = "Always"
    case ifNotPresent = "IfNotPresent"
    case never = "Never"
}
