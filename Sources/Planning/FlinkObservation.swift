import FlinkResources
import Reconciliation

/// One installed Flink distribution: the clusters of its version run from it.
public struct FlinkDistribution: Sendable, Hashable {
    /// `FLINK_HOME`: has `bin/`, `conf/`, `lib/`. `/opt/flink` in a jarURI means this directory.
    public var home: String
    /// `2.3.0`, from `lib/flink-dist-<version>.jar`.
    public var version: String
    /// The `java` to start JVMs with (a path, or `java` looked up on `PATH`).
    public var java: String
    /// `lib/*.jar` with `flink-dist` last, as Flink's scripts build it.
    public var classpath: [String]
    /// The `--add-opens`/`--add-exports` list of the shipped `env.java.opts.all`.
    public var jvmOptions: [String]
    /// Class data sharing archives by pod role: each JVM of the role names its archive, which
    /// may not exist yet (the JVM then runs without one).
    public var classDataArchives: [PodRole: String] = [:]
    /// Whether the distribution has Flinklet's loopback Prometheus reporter
    /// (`plugins/flinklet-metrics-prometheus`, installed by hack/build-metrics-plugin.sh). Without
    /// it no reporter is configured: Flink's own binds every interface.
    public var loopbackPrometheusReporter = false

    public init(home: String, version: String, java: String, classpath: [String], jvmOptions: [String]) {
        self.home = home
        self.version = version
        self.java = java
        self.classpath = classpath
        self.jvmOptions = jvmOptions
    }

    /// `v2_3` for `2.3.0`; nil for a version the manifests cannot name.
    public var flinkVersion: FlinkVersion? { FlinkVersion(release: version) }
}

/// A Flink job's state (Flink's `JobStatus`), as its REST API names it.
public enum FlinkJobState: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    case initializing = "INITIALIZING"
    case created = "CREATED"
    case running = "RUNNING"
    case failing = "FAILING"
    case failed = "FAILED"
    case cancelling = "CANCELLING"
    case canceled = "CANCELED"
    case finished = "FINISHED"
    case restarting = "RESTARTING"
    case suspended = "SUSPENDED"
    case reconciling = "RECONCILING"

    /// Flink's globally terminal states: the job will never run again.
    public var isTerminal: Bool { self == .finished || self == .failed || self == .canceled }

    /// The state Flink names; a name this version does not know reads as `RECONCILING` (under
    /// way: nothing is decided on it).
    public init(flink name: String) { self = Self(rawValue: name) ?? .reconciling }

    public var description: String { rawValue }
}

extension JobStatus {
    /// The recorded `state` (upstream keeps it as a string), as a `FlinkJobState`.
    public var flinkState: FlinkJobState? { state.map(FlinkJobState.init(flink:)) }
}

/// A job as Flink's REST API reports it.
public struct ObservedJob: Sendable, Hashable {
    public var id: String
    public var name: String
    public var state: FlinkJobState
    /// Milliseconds since the epoch; nil when Flink gave none (-1).
    public var startTime: Int64?
    public var endTime: Int64?
    /// False while tasks still deploy although the job says RUNNING.
    public var allTasksRunning: Bool

    public init(id: String, name: String, state: FlinkJobState, startTime: Int64? = nil, endTime: Int64? = nil, allTasksRunning: Bool = false) {
        self.id = id
        self.name = name
        self.state = state
        self.startTime = startTime
        self.endTime = endTime
        self.allTasksRunning = allTasksRunning
    }

    /// The job will never run again.
    public var isTerminal: Bool { state.isTerminal }
}

/// A completed checkpoint a job can be restored from.
public struct ObservedCheckpoint: Sendable, Hashable {
    public var path: String
    /// Milliseconds since the epoch.
    public var timestamp: Int64

    public init(path: String, timestamp: Int64) {
        self.path = path
        self.timestamp = timestamp
    }
}

/// Whether a cluster's REST API answers, and what it says.
public enum RESTObservation: Sendable, Hashable {
    /// Not asked: no JobManager runs (or there is no cluster).
    case notChecked
    case unreachable(String)
    case answering(taskManagers: Int, slots: Int)

    public var isAnswering: Bool {
        if case .answering = self { return true }
        return false
    }
}

/// Where a cluster's REST API answers on 127.0.0.1, and in which protocol: a step names the
/// endpoint it calls, so a cluster is always spoken to as its JobManager was started.
public struct RESTEndpoint: Sendable, Hashable, CustomStringConvertible {
    public enum Scheme: String, Sendable, Hashable {
        /// Plain HTTP: a JobManager started without TLS (by a Flinklet before mutual TLS, kept
        /// running until its resource's next upgrade; or a test's cluster).
        case http
        /// HTTPS with the operator's client certificate (`ClusterTLS`): every JobManager
        /// Flinklet starts.
        case https
    }

    public var port: Int
    public var scheme: Scheme

    public init(port: Int, scheme: Scheme) {
        self.port = port
        self.scheme = scheme
    }

    public static func http(_ port: Int) -> RESTEndpoint { RESTEndpoint(port: port, scheme: .http) }
    public static func https(_ port: Int) -> RESTEndpoint { RESTEndpoint(port: port, scheme: .https) }

    /// `https://127.0.0.1:20000`
    public var url: String { "\(scheme.rawValue)://127.0.0.1:\(port)" }
    public var description: String { url }
}

/// The session cluster a `FlinkSessionJob` names, as far as its job needs to know.
public struct SessionClusterObservation: Sendable, Hashable {
    public var name: String
    /// A manifest defines it and it is valid.
    public var isDefined: Bool
    /// It is a session cluster (`spec.mode: session`, or no job).
    public var isSession: Bool
    /// Its REST API (nil: it has no ports leased).
    public var rest: RESTEndpoint?
    /// Its JobManager answers and all its TaskManagers are registered.
    public var isReady: Bool
    /// The Flink version its manifest names (the newest installed when it names none), when that
    /// version is installed. Nil when it is not (the cluster keeps running what it runs, and so do
    /// its jobs) or cannot be told. Compared with what its JobManager answers
    /// (`FlinkObservation.answeringFlinkVersion`), it says whether the cluster is moving to
    /// another version (its jobs then make way through savepoints).
    public var flinkVersion: FlinkVersion?
    /// Its status says it keeps its version until no job runs in it (`Reconciling`, reason
    /// `SessionJobsRunning`): its running jobs may make way. A cluster that cannot move (stalled
    /// for another reason, or not yet reconciled since its manifest changed) never has a running
    /// job stopped for a move.
    public var waitsForJobs: Bool

    public init(name: String, isDefined: Bool, isSession: Bool, rest: RESTEndpoint?, isReady: Bool, flinkVersion: FlinkVersion? = nil,
                waitsForJobs: Bool = false) {
        self.name = name
        self.isDefined = isDefined
        self.isSession = isSession
        self.rest = rest
        self.isReady = isReady
        self.flinkVersion = flinkVersion
        self.waitsForJobs = waitsForJobs
    }
}

/// What the Flink planner sees beyond pods: gathered by the controller's observer, which may
/// lease ports and fetch jars (so the plan can name them) but never changes what runs.
public struct FlinkObservation: Sendable, Hashable {
    /// The distributions installed, one per version: each cluster runs from the one its spec's
    /// `flinkVersion` names (`FlinkDistributions.resolve`).
    public var distributions: FlinkDistributions
    /// The one distribution when only one is installed (the newest otherwise); setting it makes
    /// it the only one (nil: none). For callers that run a single version.
    public var distribution: FlinkDistribution? {
        get { distributions.newest }
        set { distributions = FlinkDistributions(newValue.map { [$0] } ?? [], problem: distributions.problem) }
    }
    /// Why no distribution could be found, when none was.
    public var distributionProblem: String? {
        get { distributions.problem }
        set { distributions.problem = newValue }
    }
    /// The TLS its clusters run with (nil: none, as in planner tests; the operator always sets it).
    public var tls: ClusterTLS?
    /// `<state>/pods/<namespace>/<name>`: each pod's directory is `<podRoot>/<pod>`.
    public var podRoot: String
    /// `<state>/clusters/<namespace>/<name>`: checkpoints, savepoints and copied jars, which
    /// outlive the pods.
    public var clusterDirectory: String
    /// Ports leased to the resource, in lease order (see `FlinkCluster.portCount`).
    public var ports: [Int]
    /// Ports leased for the JVMs' Prometheus reporters, in lease order (see
    /// `FlinkCluster.metricsPortCount`).
    public var metricsPorts: [Int] = []
    /// How the deployment's JobManager that runs now speaks REST, when it was started without
    /// the TLS this operator runs clusters with (an earlier Flinklet's): `.http`. Nil: as
    /// `tls` says (no JobManager runs, or it was started by this Flinklet).
    public var runningScheme: RESTEndpoint.Scheme?
    /// The deployment's REST API: the first leased port, in the protocol of the JobManager that
    /// runs (nil: no ports leased).
    public var restEndpoint: RESTEndpoint? {
        ports.first.map { RESTEndpoint(port: $0, scheme: runningScheme ?? (tls == nil ? .http : .https)) }
    }
    /// The local path of the job's jar, or why there is none; nil when the resource has no job
    /// or it must be fetched first (`jarFetch`).
    public var jar: Result<String, DeploymentProblem>?
    /// The job's jar must be copied or downloaded before it can be used: its URI and directory.
    public var jarFetch: ArtifactFetch?
    /// The jar of the last stable spec (`reconciliationStatus.lastStableSpec`), when a rollback
    /// may run it and it is another than `jar`: another `jarURI`, or another Flink version (whose
    /// distribution `/opt/flink` names). A rolled-back job runs this one. Nil: it is `jar`.
    public var stableJar: Result<String, DeploymentProblem>?
    /// Why a directory the resource's configuration names for its state (its checkpoint
    /// directory) cannot be used: another local user could change what is in it. Nil: none.
    public var storageProblem: DeploymentProblem?
    public var rest: RESTObservation
    /// The Flink version of the JobManager whose REST API answered (`/overview`'s
    /// `flink-version`): a session job's, its session cluster's. Nil when it did not answer.
    public var answeringFlinkVersion: FlinkVersion?
    /// The jobs the cluster (or, for a session job, its session cluster) reports.
    public var jobs: [ObservedJob]
    /// The recorded job status and cluster info (what the last reconcile wrote).
    public var recordedJob: JobStatus?
    /// For a session job: its session cluster.
    public var session: SessionClusterObservation?
    /// For a session cluster: the session jobs that name it, by name.
    public var sessionJobs: [String]
    /// Flink's own message from a failed pod's log, by pod name (e.g. the client's exception).
    public var podFailures: [String: String]
    /// For per-job clusters: false while the submitter must wait for a free submission slot
    /// (true when the resource holds one).
    public var submissionSlotFree: Bool
    /// False while a cluster that is not yet started must wait for a free cluster-start slot
    /// (true when the resource holds one).
    public var clusterStartSlotFree = true
    /// The admission slots the resource holds now.
    public var admissionsHeld: Set<AdmissionGate> = []
    /// The last valid version the operator stored: what a deleted resource was (the manifest is
    /// gone), e.g. whether it asked for a savepoint on deletion.
    public var lastKnown: FlinkResource?
    /// The spec the running deployment was made from (`lastReconciledSpec`), and where its
    /// reconciliation stands (`DEPLOYED`, `UPGRADING`): what an upgrade starts from.
    public var deployed: FlinkResource?
    public var reconciliation: ReconciliationStatus?
    /// The newest completed checkpoint of the recorded job that exists on disk (from REST, or
    /// from the checkpoint directory when the JobManager is gone or REST names one that Flink
    /// has since deleted).
    public var latestCheckpoint: ObservedCheckpoint?
    /// What became of the snapshot trigger recorded in the status (nil: none is pending).
    public var pendingSnapshot: SnapshotOperationState?
    /// Recorded restore points (`upgradeSavepointPath`, the savepoint history) that were looked
    /// for on this machine and are not there: never restored from.
    public var missingSnapshots: Set<String> = []
    /// The recorded `status.clusterInfo` (what the health check remembers lives there).
    public var recordedClusterInfo: [String: String]?
    /// Flink's `numRestarts` of the recorded job, when its JobManager answered.
    public var restarts: Int?
    /// TaskManager pods (by name) whose current process has registered with a JobManager: they
    /// hold that JobManager's registration of the job, so a new JobManager for the same job id
    /// must not meet them.
    public var registeredTaskManagers: Set<String> = []
    /// For a `FlinkStateSnapshot`: its job, its recorded status and its trigger.
    public var snapshot: SnapshotObservation?

    public init(distribution: FlinkDistribution?, distributionProblem: String? = nil, podRoot: String, clusterDirectory: String,
                ports: [Int] = [], jar: Result<String, DeploymentProblem>? = nil, rest: RESTObservation = .notChecked,
                jobs: [ObservedJob] = [], recordedJob: JobStatus? = nil, session: SessionClusterObservation? = nil,
                sessionJobs: [String] = [], podFailures: [String: String] = [:], submissionSlotFree: Bool = true,
                lastKnown: FlinkResource? = nil, deployed: FlinkResource? = nil, reconciliation: ReconciliationStatus? = nil,
                latestCheckpoint: ObservedCheckpoint? = nil) {
        self.distributions = FlinkDistributions(distribution.map { [$0] } ?? [], problem: distributionProblem)
        self.podRoot = podRoot
        self.clusterDirectory = clusterDirectory
        self.ports = ports
        self.jar = jar
        self.rest = rest
        self.jobs = jobs
        self.recordedJob = recordedJob
        self.session = session
        self.sessionJobs = sessionJobs
        self.podFailures = podFailures
        self.submissionSlotFree = submissionSlotFree
        self.lastKnown = lastKnown
        self.deployed = deployed
        self.reconciliation = reconciliation
        self.latestCheckpoint = latestCheckpoint
    }
}

/// A jar to copy or download before a cluster or job can use it.
public struct ArtifactFetch: Sendable, Hashable {
    public var uri: String
    public var directory: String
    public init(uri: String, directory: String) {
        self.uri = uri
        self.directory = directory
    }
}

/// Why a cluster cannot be made as the spec says (a jar that is missing, memory Flink cannot
/// divide, ...): the message names the URI, path or field.
public struct DeploymentProblem: Error, Sendable, Hashable, CustomStringConvertible {
    public var message: String
    /// The condition and event reason to report it under; nil: the planner's default for
    /// where it arose (`JarNotFound` for a jar).
    public var reason: String?
    public init(_ message: String, reason: String? = nil) {
        self.message = message
        self.reason = reason
    }
    public var description: String { message }
}

/// A Flink step carried out by the controller: a call to a cluster's REST API, a jar to fetch,
/// savepoints to dispose of.
public enum FlinkAction: Sendable, Hashable {
    /// Uploads the jar and runs it with the given job id; a job of that id that already exists
    /// counts as success (so a retry never starts a second copy).
    case submit(rest: RESTEndpoint, jar: String, JobSubmission)
    /// Asks the job to cancel and returns: a later reconcile sees it CANCELED. An unknown or
    /// finished job counts as success.
    case cancel(rest: RESTEndpoint, jobId: String)
    /// Asks for stop-with-savepoint into `directory` under `triggerId` (recorded in the status
    /// before this step) and returns; later reconciles follow the trigger. A refused request
    /// ends the trigger with a `SavepointError` event.
    case stopWithSavepoint(rest: RESTEndpoint, jobId: String, directory: String, triggerId: String)
    /// Asks for a savepoint of the running job (it keeps running) under `triggerId`, as
    /// `stopWithSavepoint` does.
    case triggerSavepoint(rest: RESTEndpoint, jobId: String, directory: String, triggerId: String)
    /// Makes a local copy or download of the artifact `uri` (into `directory` for copies), so a
    /// later reconcile finds it ready.
    case fetchArtifact(uri: String, directory: String)
    /// Deletes savepoints' directories when they are Flinklet's (under the state directory); the
    /// plan's status (recorded first) no longer lists them.
    case disposeSavepoints([Savepoint])
    /// A `FlinkStateSnapshot`'s savepoint (`formatType`) or checkpoint of a running job under
    /// `triggerId` (recorded as IN_PROGRESS before this step). A refused request fails the
    /// attempt (outcome `stateSnapshotRefused`); `lastAttempt`: its failure exhausts `backoffLimit`.
    case triggerStateSnapshot(rest: RESTEndpoint, jobId: String, checkpoint: Bool, directory: String, formatType: SavepointFormatType, triggerId: String,
                              lastAttempt: Bool)
    /// Deletes a deleted `FlinkStateSnapshot`'s savepoint directory (`disposeOnDelete`): only a
    /// local directory that holds `_metadata`.
    case disposeStateSnapshot(path: String)
}

/// What a `FlinkStateSnapshot`'s plan needs to know.
public struct SnapshotObservation: Sendable, Hashable {
    /// The status on record (nil before the first reconcile).
    public var recorded: FlinkStateSnapshotStatus?
    /// The referenced resource; nil when no manifest defines it (or it has no record yet).
    public var job: ReferencedJob?
    /// What became of the recorded trigger (IN_PROGRESS only; nil otherwise).
    public var operation: SnapshotOperationState?
    /// Whether `_metadata` is at the savepoint's path (`alreadyExists`, or the completed path of
    /// a deleted snapshot); nil when the location cannot be checked on this machine.
    public var pathExists: Bool?

    public init(recorded: FlinkStateSnapshotStatus? = nil, job: ReferencedJob? = nil, operation: SnapshotOperationState? = nil, pathExists: Bool? = nil) {
        self.recorded = recorded
        self.job = job
        self.operation = operation
        self.pathExists = pathExists
    }
}

/// The job a `FlinkStateSnapshot` names, as its resource's record says.
public struct ReferencedJob: Sendable, Hashable {
    public var id: ResourceID
    /// The recorded job id and state (upstream decides "running" from the recorded status too).
    public var jobId: String?
    public var state: FlinkJobState?
    /// The REST API of the cluster the job runs in, when it answered just now.
    public var rest: RESTEndpoint?
    /// Where the resource's own savepoints go: a snapshot's default target directory.
    public var savepointDirectory: String

    public init(id: ResourceID, jobId: String? = nil, state: FlinkJobState? = nil, rest: RESTEndpoint? = nil, savepointDirectory: String) {
        self.id = id
        self.jobId = jobId
        self.state = state
        self.rest = rest
        self.savepointDirectory = savepointDirectory
    }
}

/// A job to run on a session cluster through `POST /jars/{id}/run`.
public struct JobSubmission: Sendable, Hashable, Codable {
    public var jobId: String
    public var entryClass: String?
    public var args: [String]
    public var parallelism: Int?
    public var savepointPath: String?
    public var allowNonRestoredState: Bool?
    public var configuration: [String: String]

    public init(jobId: String, entryClass: String?, args: [String], parallelism: Int?, savepointPath: String? = nil,
                allowNonRestoredState: Bool? = nil, configuration: [String: String] = [:]) {
        self.jobId = jobId
        self.entryClass = entryClass
        self.args = args
        self.parallelism = parallelism
        self.savepointPath = savepointPath
        self.allowNonRestoredState = allowNonRestoredState
        self.configuration = configuration
    }
}

/// The Flink part of a status, as the planner decides it. Written over the recorded status;
/// nil fields leave what is recorded.
public struct FlinkStatus: Sendable, Hashable {
    public var jobStatus: JobStatus?
    public var clusterInfo: [String: String]?
    public var jobManagerDeploymentStatus: JobManagerDeploymentStatus?
    public var taskManager: TaskManagerInfo?
    public var reconciliation: ReconciliationStatus?
    /// A `FlinkStateSnapshot`'s own status (state, trigger, path, ...).
    public var snapshot: FlinkStateSnapshotStatus?
    /// Commit this status before taking any step (write-ahead: an upgrade is recorded before
    /// anything is stopped, so an operator that dies mid-way finishes it from the record).
    public var writeAhead: Bool

    public init(jobStatus: JobStatus? = nil, clusterInfo: [String: String]? = nil,
                jobManagerDeploymentStatus: JobManagerDeploymentStatus? = nil, taskManager: TaskManagerInfo? = nil,
                reconciliation: ReconciliationStatus? = nil, writeAhead: Bool = false) {
        self.jobStatus = jobStatus
        self.clusterInfo = clusterInfo
        self.jobManagerDeploymentStatus = jobManagerDeploymentStatus
        self.taskManager = taskManager
        self.reconciliation = reconciliation
        self.writeAhead = writeAhead
    }
}
