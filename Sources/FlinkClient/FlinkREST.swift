import Foundation

/// Flink's REST API, as the operator uses it: the only way it talks to a running cluster.
///
/// Every call names the cluster by its `rest.port`; the host is always `127.0.0.1`.
///
/// Guarantees (of every implementation):
/// - A call that cannot reach the cluster (refused, timed out, connection lost) throws
///   `FlinkRESTError.unreachable`; an answer with a non-2xx status throws `.http` carrying
///   Flink's own messages; an answer that is not what Flink 2.3 sends throws `.malformed`;
///   `uploadJar` of a local file that cannot be read throws `.jarUnreadable` and sends nothing.
/// - Calls are independent: no state is kept between them, so any call may be retried.
///
/// Caveats:
/// - A timeout after the request was sent does not mean it had no effect: a `runJar` that timed
///   out may still have submitted the job. Pass a fixed `JobSubmission.jobId` to make a retry
///   detectable (`FlinkRESTError.isDuplicateSubmission`).
/// - A job id is used once per session cluster: Flink 2.3 refuses a second submission with the
///   id of a job it still remembers, even a FINISHED or CANCELED one.
/// - Flink caches job details for `web.refresh-interval` (default 3 s): a state read right after
///   a change may be stale.
public protocol FlinkREST: Sendable {
    /// `GET /overview`: TaskManagers, slots and running jobs of the cluster.
    func overview(port: Int) async throws -> ClusterOverview

    /// `GET /jobs/overview`: every job the cluster knows, running or terminated (order unspecified).
    func jobs(port: Int) async throws -> [JobOverview]

    /// `GET /jobs/{id}`: the job with its vertices, or nil when the cluster does not know it.
    func job(port: Int, id: String) async throws -> JobDetails?

    /// `POST /jars/upload`: uploads the local jar at `path`; returns the jar id for `runJar`.
    /// Flink refuses file names that do not end in `.jar`.
    func uploadJar(port: Int, path: String) async throws -> String

    /// `POST /jars/{jarId}/run`: submits the jar's job; returns the job id (the given one when
    /// `submission.jobId` is set).
    func runJar(port: Int, jarId: String, submission: JobSubmission) async throws -> String

    /// `DELETE /jars/{jarId}`: removes an uploaded jar. Throws `.http` when it does not exist.
    func deleteJar(port: Int, jarId: String) async throws

    /// `PATCH /jobs/{id}?mode=cancel`: asks the job to cancel and returns without waiting.
    /// Succeeds on a job already CANCELED; throws `.http(404)` for an unknown job and
    /// `.http(409)` for a job that ended otherwise (FINISHED, FAILED).
    func cancel(port: Int, jobId: String) async throws

    /// `POST /jobs/{id}/savepoints` (canonical format): starts a savepoint; returns the request
    /// id for `savepointStatus`. With `targetDirectory` nil the cluster's
    /// `execution.checkpointing.savepoint-dir` is used (`.http(400)` if it has none).
    /// With `cancelJob` the job is cancelled once the savepoint is complete.
    ///
    /// `triggerId` (32 hex digits, Flink's `TriggerId`): the caller's own id for the operation,
    /// so it can be recorded before the request is sent and polled after a crash. Flink treats a
    /// second request with the same id as the same operation (it starts nothing new).
    func triggerSavepoint(port: Int, jobId: String, targetDirectory: String?, cancelJob: Bool, triggerId: String?) async throws -> String

    /// `POST /jobs/{id}/stop` (canonical format): savepoint, then the job FINISHES; returns the
    /// request id for `savepointStatus`. With `drain` the sources emit MAX_WATERMARK first.
    /// Flink accepts this for any job id; an unknown job only shows up as `.failed` when polled.
    /// `triggerId` as for `triggerSavepoint`.
    func stopWithSavepoint(port: Int, jobId: String, targetDirectory: String?, drain: Bool, triggerId: String?) async throws -> String

    /// `GET /jobs/{id}/savepoints/{requestId}`: the state of a savepoint or stop request.
    func savepointStatus(port: Int, jobId: String, requestId: String) async throws -> SavepointOperation
    /// `POST /jobs/{id}/savepoints` in `formatType` (`CANONICAL` or `NATIVE`), as `triggerSavepoint`.
    func triggerSavepoint(port: Int, jobId: String, targetDirectory: String?, formatType: String, triggerId: String?) async throws -> String
    /// `POST /jobs/{id}/checkpoints` (`checkpointType: CONFIGURED`): starts a checkpoint of the
    /// running job; returns the request id for `checkpointStatus`. `triggerId` as for savepoints.
    func triggerCheckpoint(port: Int, jobId: String, triggerId: String?) async throws -> String
    /// `GET /jobs/{id}/checkpoints/{requestId}`: the state of a checkpoint request.
    func checkpointStatus(port: Int, jobId: String, requestId: String) async throws -> CheckpointOperation
    /// `GET /jobs/{id}/checkpoints/details/{checkpointId}`: where the checkpoint is (nil while
    /// Flink names no external path).
    func checkpointPath(port: Int, jobId: String, checkpointId: Int) async throws -> String?

    /// `GET /jobs/{id}/checkpoints`: the job's latest completed checkpoint that can be restored
    /// from (it has an external path), or nil when there is none yet. Savepoints are not
    /// included (Flink lists them separately). Throws `.http(404)` for an unknown job.
    func latestCheckpoint(port: Int, jobId: String) async throws -> CompletedCheckpoint?

    /// `GET /jobs/{id}/metrics?get=...`: the job's JobManager-side metrics by name (e.g.
    /// `numRestarts`); a metric Flink does not report is absent. Throws `.http(404)` for an
    /// unknown job.
    func jobMetrics(port: Int, jobId: String, names: [String]) async throws -> [String: String]
}

extension FlinkREST {
    public func triggerSavepoint(port: Int, jobId: String, targetDirectory: String?, cancelJob: Bool) async throws -> String {
        try await triggerSavepoint(port: port, jobId: jobId, targetDirectory: targetDirectory, cancelJob: cancelJob, triggerId: nil)
    }

    public func stopWithSavepoint(port: Int, jobId: String, targetDirectory: String?, drain: Bool) async throws -> String {
        try await stopWithSavepoint(port: port, jobId: jobId, targetDirectory: targetDirectory, drain: drain, triggerId: nil)
    }
}

// MARK: - Values

/// What `GET /overview` reports about a cluster.
public struct ClusterOverview: Sendable, Hashable {
    public var taskManagers: Int
    public var slotsTotal: Int
    public var slotsAvailable: Int
    public var jobsRunning: Int
    public var flinkVersion: String

    public init(taskManagers: Int, slotsTotal: Int, slotsAvailable: Int, jobsRunning: Int, flinkVersion: String) {
        self.taskManagers = taskManagers
        self.slotsTotal = slotsTotal
        self.slotsAvailable = slotsAvailable
        self.jobsRunning = jobsRunning
        self.flinkVersion = flinkVersion
    }
}

/// A Flink job status (`JobStatus`). Unknown values from a newer Flink are kept, not rejected.
public struct JobState: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }

    public static let initializing = JobState(rawValue: "INITIALIZING")
    public static let created = JobState(rawValue: "CREATED")
    public static let running = JobState(rawValue: "RUNNING")
    public static let failing = JobState(rawValue: "FAILING")
    public static let failed = JobState(rawValue: "FAILED")
    public static let cancelling = JobState(rawValue: "CANCELLING")
    public static let canceled = JobState(rawValue: "CANCELED")
    public static let finished = JobState(rawValue: "FINISHED")
    public static let restarting = JobState(rawValue: "RESTARTING")
    public static let suspended = JobState(rawValue: "SUSPENDED")
    public static let reconciling = JobState(rawValue: "RECONCILING")

    /// FINISHED, CANCELED or FAILED: the job will never run again under this id.
    public var isGloballyTerminal: Bool { self == .finished || self == .canceled || self == .failed }

    public var description: String { rawValue }
}

/// The state of a job vertex's tasks (`ExecutionState`). Unknown values are kept.
public struct ExecutionState: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }

    public static let created = ExecutionState(rawValue: "CREATED")
    public static let scheduled = ExecutionState(rawValue: "SCHEDULED")
    public static let deploying = ExecutionState(rawValue: "DEPLOYING")
    public static let initializing = ExecutionState(rawValue: "INITIALIZING")
    public static let running = ExecutionState(rawValue: "RUNNING")
    public static let finished = ExecutionState(rawValue: "FINISHED")
    public static let canceling = ExecutionState(rawValue: "CANCELING")
    public static let canceled = ExecutionState(rawValue: "CANCELED")
    public static let failed = ExecutionState(rawValue: "FAILED")
    public static let reconciling = ExecutionState(rawValue: "RECONCILING")

    public var description: String { rawValue }
}

/// One row of `GET /jobs/overview`.
public struct JobOverview: Sendable, Hashable {
    public var id: String
    public var name: String
    public var state: JobState
    public var startTime: Date?
    /// Nil while the job has not ended.
    public var endTime: Date?
    public var lastModification: Date?
    /// Its tasks: how many in all, how many RUNNING and how many FINISHED (nil: the answer had
    /// no counts). Unlike `GET /jobs/{id}`, whose answer Flink caches for `web.refresh-interval`,
    /// the overview is asked of the Dispatcher every time: the counts are current.
    public var tasks: TaskCounts?

    public struct TaskCounts: Sendable, Hashable {
        public var total: Int
        public var running: Int
        public var finished: Int
        public init(total: Int, running: Int, finished: Int = 0) {
            self.total = total
            self.running = running
            self.finished = finished
        }
    }

    public init(id: String, name: String, state: JobState, startTime: Date?, endTime: Date?, lastModification: Date?,
                tasks: TaskCounts? = nil) {
        self.id = id
        self.name = name
        self.state = state
        self.startTime = startTime
        self.endTime = endTime
        self.lastModification = lastModification
        self.tasks = tasks
    }

    /// The job is RUNNING and every task has started: each is RUNNING or already FINISHED (a
    /// source subtask without a split of its own finishes at once, and its vertex still reads
    /// RUNNING). Nil when there are no counts. False while any task is still created,
    /// scheduled, deploying or initializing.
    public var allTasksStarted: Bool? {
        guard let tasks else { return nil }
        return state == .running && tasks.running > 0 && tasks.running + tasks.finished == tasks.total
    }
}

/// A job vertex (an operator chain) of `GET /jobs/{id}`.
public struct JobVertex: Sendable, Hashable {
    public var id: String
    public var name: String
    public var parallelism: Int
    public var status: ExecutionState

    public init(id: String, name: String, parallelism: Int, status: ExecutionState) {
        self.id = id
        self.name = name
        self.parallelism = parallelism
        self.status = status
    }
}

/// `GET /jobs/{id}`.
public struct JobDetails: Sendable, Hashable {
    public var id: String
    public var name: String
    public var state: JobState
    public var startTime: Date?
    /// Nil while the job has not ended.
    public var endTime: Date?
    /// The JobManager's clock when it answered.
    public var now: Date?
    public var vertices: [JobVertex]

    public init(id: String, name: String, state: JobState, startTime: Date?, endTime: Date?, now: Date?, vertices: [JobVertex]) {
        self.id = id
        self.name = name
        self.state = state
        self.startTime = startTime
        self.endTime = endTime
        self.now = now
        self.vertices = vertices
    }

    /// True when the job is RUNNING and so is every vertex. Flink reports a job RUNNING while
    /// its tasks are still being scheduled and deployed; this is the "really running" test.
    public var allVerticesRunning: Bool {
        state == .running && !vertices.isEmpty && vertices.allSatisfy { $0.status == .running }
    }
}

/// What to submit with `runJar`. Nil fields are left out of the request (Flink's defaults apply).
public struct JobSubmission: Sendable, Hashable {
    /// Arguments for the job's `main` (sent as `programArgsList`).
    public var programArgs: [String]
    public var parallelism: Int?
    /// Savepoint or retained checkpoint to restore from. It is restored with claim mode
    /// NO_CLAIM: Flink never deletes or takes over the files.
    public var savepointPath: String?
    public var allowNonRestoredState: Bool?
    /// 32 hex digits. Nil lets Flink choose one.
    public var jobId: String?
    /// Nil uses the jar's `Main-Class`.
    public var entryClass: String?
    /// Job-level configuration overrides. Left out when empty.
    public var flinkConfiguration: [String: String]

    public init(programArgs: [String] = [], parallelism: Int? = nil, savepointPath: String? = nil,
                allowNonRestoredState: Bool? = nil, jobId: String? = nil, entryClass: String? = nil,
                flinkConfiguration: [String: String] = [:]) {
        self.programArgs = programArgs
        self.parallelism = parallelism
        self.savepointPath = savepointPath
        self.allowNonRestoredState = allowNonRestoredState
        self.jobId = jobId
        self.entryClass = entryClass
        self.flinkConfiguration = flinkConfiguration
    }
}

/// The state of a savepoint or stop-with-savepoint request.
public enum SavepointOperation: Sendable, Hashable {
    case inProgress
    /// `location` is as Flink reports it (for a local directory: `file:/path/savepoint-…`).
    case completed(location: String)
    /// Flink's reason, shortened to its first line and root cause.
    case failed(cause: String)
}

/// The state of a checkpoint request.
public enum CheckpointOperation: Sendable, Hashable {
    case inProgress
    case completed(checkpointId: Int)
    /// Flink's reason, shortened to its first line and root cause.
    case failed(cause: String)
}

/// A completed, externally addressable checkpoint.
public struct CompletedCheckpoint: Sendable, Hashable {
    public var id: Int
    /// As Flink reports it (`file:/path/<job id>/chk-<n>`): usable as `JobSubmission.savepointPath`.
    public var externalPath: String
    /// When the last acknowledgement arrived (the trigger time if Flink gave none).
    public var completedAt: Date

    public init(id: Int, externalPath: String, completedAt: Date) {
        self.id = id
        self.externalPath = externalPath
        self.completedAt = completedAt
    }
}

// MARK: - Errors

/// Why a Flink REST call failed.
public enum FlinkRESTError: Error, Sendable, Hashable, CustomStringConvertible {
    /// No answer from `127.0.0.1:port`: refused, timed out, or the connection broke.
    case unreachable(port: Int, reason: String)
    /// Flink answered with a non-2xx status. `errors` are Flink's own messages, each shortened
    /// to its first line (plus the root cause when it is a stack trace).
    case http(status: Int, errors: [String])
    /// The answer is not what Flink 2.3 sends.
    case malformed(String)
    /// The local jar to upload could not be read; nothing was sent.
    case jarUnreadable(path: String, reason: String)

    public var description: String {
        switch self {
        case .unreachable(let port, let reason):
            return "Flink REST 127.0.0.1:\(port) unreachable: \(reason)"
        case .http(let status, let errors):
            let text = errors.isEmpty ? "no error message" : errors.joined(separator: "; ")
            return "Flink REST error (HTTP \(status)): \(text)"
        case .malformed(let detail):
            return "Flink REST answer malformed: \(detail)"
        case .jarUnreadable(let path, let reason):
            return "cannot read jar \(path): \(reason)"
        }
    }

    /// The HTTP status when Flink answered with an error.
    public var status: Int? {
        if case .http(let status, _) = self { status } else { nil }
    }

    /// True when Flink refused a `runJar` because a job with that id was already submitted
    /// (running or not): Flink 2.3 reports `DuplicateApplicationSubmissionException`, earlier
    /// versions `DuplicateJobSubmissionException`.
    public var isDuplicateSubmission: Bool {
        guard case .http(_, let errors) = self else { return false }
        return errors.contains { $0.contains("DuplicateApplicationSubmissionException") || $0.contains("DuplicateJobSubmissionException") }
    }
}

extension FlinkRESTError {
    /// Flink's error text made short enough for an event: the first line, and the last
    /// `Caused by:` line when the text is a stack trace and that line adds something.
    /// `<Exception on server side: … End of exception on server side>` wrappers are removed.
    public static func summarize(_ text: String) -> String {
        var lines = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        if lines.first == "<Exception on server side:" { lines.removeFirst() }
        if lines.last == "End of exception on server side>" { lines.removeLast() }
        guard let first = lines.first else { return text.trimmingCharacters(in: .whitespacesAndNewlines) }
        guard let rootLine = lines.last(where: { $0.hasPrefix("Caused by:") }) else { return first }
        let root = rootLine.dropFirst("Caused by:".count).trimmingCharacters(in: .whitespaces)
        if root.isEmpty || first.contains(root) { return first }
        return "\(first); caused by: \(root)"
    }
}
