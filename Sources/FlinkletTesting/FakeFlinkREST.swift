import FlinkClient
import Foundation

/// An in-memory Flink, for unit tests of code that drives clusters through `FlinkREST`.
///
/// Clusters are keyed by REST port and exist from `addCluster` until `removeCluster`; a call
/// for any other port throws `.unreachable` exactly as the real client words it. Behaviour
/// follows what Flink 2.3 was measured to do, including its traps:
/// - a job id is taken for the cluster's lifetime: `runJar` with the id of any remembered job
///   (even a FINISHED one) fails with Flink's `DuplicateApplicationSubmissionException` text;
/// - a failed savepoint is reported as COMPLETED with a failure cause (`.failed` here);
/// - savepoint and stop requests are accepted for unknown jobs and fail when polled;
/// - cancelling a CANCELED job succeeds; one that ended otherwise answers 409.
///
/// - a savepoint or stop request with a `triggerId` Flink already knows starts nothing new.
///
/// Simplifications: state changes are immediate (cancel goes straight to CANCELED); a savepoint
/// or stop completes on its first status poll (unless `holdSavepoints` keeps it in progress);
/// `uploadJar` does not read the file; jobs run whatever the free slots; ids come from a seeded
/// generator, so runs are reproducible. With `writesSnapshotFiles`, a completed savepoint or
/// checkpoint is written to disk as a directory holding `_metadata`, as Flink leaves it.
///
/// Every protocol call is appended to `calls` before anything else happens, failed or not.
public actor FakeFlinkREST: FlinkREST {
    /// The protocol's methods, for `calls` and `failNext`.
    public enum Method: String, Sendable, Hashable, CaseIterable {
        case overview, jobs, job, uploadJar, runJar, deleteJar, cancel
        case triggerSavepoint, stopWithSavepoint, savepointStatus, latestCheckpoint, jobMetrics
        case triggerCheckpoint, checkpointStatus, checkpointPath
    }

    /// A `runJar` call that submitted a job.
    public struct Submission: Sendable, Hashable {
        public var port: Int
        public var jarId: String
        /// The id the job got (the requested one, or a generated one).
        public var jobId: String
        public var submission: JobSubmission

        public init(port: Int, jarId: String, jobId: String, submission: JobSubmission) {
            self.port = port
            self.jarId = jarId
            self.jobId = jobId
            self.submission = submission
        }
    }

    /// Every protocol call, in order.
    public private(set) var calls: [Method] = []
    /// Every successful `runJar`, in order.
    public private(set) var submissions: [Submission] = []

    private var clusters: [Int: Cluster] = [:]
    private var injected: [Method: [FlinkRESTError]] = [:]
    private var savepointFailures: [String] = []
    private var savepointsHeld = false
    private var writesSnapshotFiles = false
    private var random: SplitMix64

    /// The directory the fake claims uploaded jars live in (it appears in Flink's messages).
    public static let uploadDirectory = "/fake/flink-web-upload"

    public init(seed: UInt64 = 0x464C_494E_4B) {
        random = SplitMix64(seed: seed)
    }

    // MARK: - Test control

    /// A reachable cluster. `slots` is per TaskManager (`taskmanager.numberOfTaskSlots`);
    /// `savepointDirectory` plays `execution.checkpointing.savepoint-dir`. Replaces any cluster
    /// on that port.
    public func addCluster(port: Int, taskManagers: Int = 1, slots: Int = 1, savepointDirectory: String? = nil) {
        clusters[port] = Cluster(taskManagers: taskManagers, slotsPerTaskManager: slots, savepointDirectory: savepointDirectory)
    }

    /// The cluster is gone with all its jobs, jars and operations; calls for `port` throw
    /// `.unreachable`.
    public func removeCluster(port: Int) {
        clusters[port] = nil
    }

    /// Changes the number of registered TaskManagers (one starting or dying).
    public func setTaskManagers(port: Int, _ count: Int) {
        clusters[port]?.taskManagers = count
    }

    /// A job the cluster already runs, not submitted through `runJar` (as after an operator
    /// restart). Not recorded in `submissions`.
    public func addJob(port: Int, jobId: String, name: String = "job", state: JobState = .running, parallelism: Int = 1) {
        guard clusters[port] != nil else { return }
        clusters[port]!.jobs[jobId] = FakeJob(id: jobId, name: name, parallelism: parallelism, state: state, now: Date())
    }

    /// Sets a job's state; its vertices follow (RUNNING, FINISHED, CANCELED, FAILED; CREATED for
    /// INITIALIZING/CREATED/RESTARTING), and a globally terminal state sets the end time.
    /// False when there is no such job.
    @discardableResult
    public func setJobState(port: Int, jobId: String, state: JobState) -> Bool {
        guard clusters[port]?.jobs[jobId] != nil else { return false }
        clusters[port]!.jobs[jobId]!.set(state, now: Date())
        return true
    }

    /// Sets every vertex of a job to `status` without changing the job state: a RUNNING job with
    /// DEPLOYING vertices is how Flink reports a job whose tasks are not up yet.
    @discardableResult
    public func setVertexStatus(port: Int, jobId: String, _ status: ExecutionState) -> Bool {
        guard clusters[port]?.jobs[jobId] != nil else { return false }
        for index in clusters[port]!.jobs[jobId]!.vertices.indices {
            clusters[port]!.jobs[jobId]!.vertices[index].status = status
        }
        return true
    }

    /// Records a completed checkpoint for the job (path `/fake/checkpoints/<job>/chk-<n>` unless
    /// given); `latestCheckpoint` answers it from now on. Nil when there is no such job.
    @discardableResult
    public func completeCheckpoint(port: Int, jobId: String, externalPath: String? = nil) -> CompletedCheckpoint? {
        guard let job = clusters[port]?.jobs[jobId] else { return nil }
        let id = (job.checkpoint?.id ?? 0) + 1
        let checkpoint = CompletedCheckpoint(id: id, externalPath: externalPath ?? "/fake/checkpoints/\(jobId)/chk-\(id)", completedAt: Date())
        clusters[port]!.jobs[jobId]!.checkpoint = checkpoint
        if writesSnapshotFiles { Self.materialize(checkpoint.externalPath) }
        return checkpoint
    }

    /// The next `times` calls of `method` throw `error` (after any failures already queued).
    public func failNext(_ method: Method, with error: FlinkRESTError, times: Int = 1) {
        injected[method, default: []].append(contentsOf: repeatElement(error, count: max(0, times)))
    }

    /// The next `times` savepoints (triggered or stop-with-savepoint) complete with this failure
    /// cause, as Flink reports a failed savepoint: COMPLETED, a failure cause, no location. A
    /// failed stop leaves the job RUNNING, as in Flink.
    public func failSavepoints(cause: String, times: Int = 1) {
        savepointFailures.append(contentsOf: repeatElement(cause, count: max(0, times)))
    }

    /// While on, savepoint and stop operations stay IN_PROGRESS when polled (a slow savepoint);
    /// turned off, they complete on their next poll.
    public func holdSavepoints(_ on: Bool) {
        savepointsHeld = on
    }

    /// Completed savepoints and checkpoints appear on disk (`<location>/_metadata`).
    public func writeSnapshotFiles(_ on: Bool) {
        writesSnapshotFiles = on
    }

    /// Sets the job's `numRestarts` metric.
    public func setRestarts(port: Int, jobId: String, _ count: Int) {
        clusters[port]?.jobs[jobId]?.restarts = count
    }

    /// The ids of the savepoint and stop operations a cluster knows, with their job ids.
    public func operations(port: Int) -> [String: String] {
        clusters[port]?.operations.mapValues(\.jobId) ?? [:]
    }

    /// A job's state without recording a call; nil when there is no such job.
    public func state(port: Int, jobId: String) -> JobState? {
        clusters[port]?.jobs[jobId]?.state
    }

    /// The ids of the jars uploaded to the cluster and not deleted.
    public func jarIds(port: Int) -> [String] {
        clusters[port].map { $0.jars.keys.sorted() } ?? []
    }

    /// How many times `method` was called.
    public func count(_ method: Method) -> Int {
        calls.count(where: { $0 == method })
    }

    // MARK: - FlinkREST

    public func overview(port: Int) async throws -> ClusterOverview {
        let cluster = try enter(.overview, port)
        let total = cluster.taskManagers * cluster.slotsPerTaskManager
        let running = cluster.jobs.values.filter { $0.state == .running }
        let used = running.reduce(0) { $0 + $1.parallelism }
        return ClusterOverview(taskManagers: cluster.taskManagers, slotsTotal: total, slotsAvailable: max(0, total - used),
                               jobsRunning: running.count, flinkVersion: "2.3.0")
    }

    public func jobs(port: Int) async throws -> [JobOverview] {
        let cluster = try enter(.jobs, port)
        return cluster.jobs.values.sorted { ($0.startTime, $0.id) < ($1.startTime, $1.id) }.map {
            JobOverview(id: $0.id, name: $0.name, state: $0.state, startTime: $0.startTime, endTime: $0.endTime,
                        lastModification: $0.lastModification,
                        tasks: JobOverview.TaskCounts(total: $0.vertices.reduce(0) { $0 + $1.parallelism },
                                                      running: $0.vertices.filter { $0.status == .running }.reduce(0) { $0 + $1.parallelism },
                                                      finished: $0.vertices.filter { $0.status == .finished }.reduce(0) { $0 + $1.parallelism }))
        }
    }

    public func job(port: Int, id: String) async throws -> JobDetails? {
        let cluster = try enter(.job, port)
        guard let job = cluster.jobs[id] else { return nil }
        return JobDetails(id: job.id, name: job.name, state: job.state, startTime: job.startTime, endTime: job.endTime,
                          now: Date(), vertices: job.vertices)
    }

    public func uploadJar(port: Int, path: String) async throws -> String {
        _ = try enter(.uploadJar, port)
        let filename = URL(fileURLWithPath: path).lastPathComponent
        guard filename.hasSuffix(".jar") else {
            throw FlinkRESTError.http(status: 400, errors: ["org.apache.flink.runtime.rest.handler.RestHandlerException: Only Jar files are allowed."])
        }
        let id = "\(uuid())_\(filename)"
        clusters[port]!.jars[id] = path
        return id
    }

    public func runJar(port: Int, jarId: String, submission: JobSubmission) async throws -> String {
        let cluster = try enter(.runJar, port)
        guard cluster.jars[jarId] != nil else {
            throw FlinkRESTError.http(status: 500, errors: [
                "Internal server error.",
                "java.util.concurrent.CompletionException: org.apache.flink.runtime.rest.handler.RestHandlerException: Jar file \(Self.uploadDirectory)/\(jarId) does not exist",
            ])
        }
        let jobId = submission.jobId ?? hex(32)
        guard cluster.jobs[jobId] == nil else {
            throw FlinkRESTError.http(status: 400, errors: [
                "org.apache.flink.runtime.rest.handler.RestHandlerException: Could not execute application.; caused by: org.apache.flink.runtime.client.DuplicateApplicationSubmissionException: Application has already been submitted.",
            ])
        }
        let name = submission.entryClass ?? URL(fileURLWithPath: jarId).deletingPathExtension().lastPathComponent
        clusters[port]!.jobs[jobId] = FakeJob(id: jobId, name: name, parallelism: submission.parallelism ?? 1, state: .running, now: Date())
        submissions.append(Submission(port: port, jarId: jarId, jobId: jobId, submission: submission))
        return jobId
    }

    public func deleteJar(port: Int, jarId: String) async throws {
        let cluster = try enter(.deleteJar, port)
        guard cluster.jars[jarId] != nil else {
            throw FlinkRESTError.http(status: 400, errors: [
                "org.apache.flink.runtime.rest.handler.RestHandlerException: File \(jarId) does not exist in \(Self.uploadDirectory).",
            ])
        }
        clusters[port]!.jars[jarId] = nil
    }

    public func cancel(port: Int, jobId: String) async throws {
        let cluster = try enter(.cancel, port)
        guard let job = cluster.jobs[jobId] else {
            throw FlinkRESTError.http(status: 404, errors: [
                "org.apache.flink.runtime.rest.handler.RestHandlerException: Job could not be found.; caused by: \(Self.jobNotFound(jobId))",
            ])
        }
        if job.state == .canceled { return }
        if job.state.isGloballyTerminal {
            throw FlinkRESTError.http(status: 409, errors: [
                "org.apache.flink.runtime.rest.handler.RestHandlerException: Job cancellation failed because the job has already reached another terminal state (\(job.state)).",
            ])
        }
        clusters[port]!.jobs[jobId]!.set(.canceled, now: Date())
    }

    public func triggerSavepoint(port: Int, jobId: String, targetDirectory: String?, cancelJob: Bool, triggerId: String?) async throws -> String {
        try startOperation(.triggerSavepoint, port: port, jobId: jobId, targetDirectory: targetDirectory,
                           then: cancelJob ? .canceled : nil, triggerId: triggerId)
    }

    public func triggerSavepoint(port: Int, jobId: String, targetDirectory: String?, formatType: String, triggerId: String?) async throws -> String {
        try startOperation(.triggerSavepoint, port: port, jobId: jobId, targetDirectory: targetDirectory, then: nil, triggerId: triggerId)
    }

    /// Checkpoints go to `<savepoint directory>/checkpoints/<job id>/chk-<n>`.
    public func triggerCheckpoint(port: Int, jobId: String, triggerId: String?) async throws -> String {
        let cluster = try enter(.triggerCheckpoint, port)
        if let triggerId, cluster.operations[triggerId] != nil { return triggerId }
        let requestId = triggerId ?? hex(32)
        let failure = savepointFailures.isEmpty ? nil : savepointFailures.removeFirst()
        clusters[port]!.operations[requestId] = Operation(jobId: jobId, directory: (cluster.savepointDirectory ?? "/fake") + "/checkpoints",
                                                          then: nil, failure: failure, checkpoint: true)
        return requestId
    }

    public func checkpointStatus(port: Int, jobId: String, requestId: String) async throws -> CheckpointOperation {
        let cluster = try enter(.checkpointStatus, port)
        guard let operation = cluster.operations[requestId], operation.jobId == jobId, operation.checkpoint else {
            throw FlinkRESTError.http(status: 404, errors: [
                "org.apache.flink.runtime.rest.handler.RestHandlerException: There is no checkpoint operation with triggerId=\(requestId) for job \(jobId).",
            ])
        }
        if let id = operation.checkpointId { return .completed(checkpointId: id) }
        if case .failed(let cause)? = operation.result { return .failed(cause: cause) }
        if savepointsHeld, cluster.jobs[jobId].map({ !$0.state.isGloballyTerminal }) == true { return .inProgress }
        guard let job = cluster.jobs[jobId], job.state == .running else {
            let cause = "org.apache.flink.runtime.checkpoint.CheckpointException: Checkpoint triggering task of job \(jobId) is not being executed at the moment."
            clusters[port]!.operations[requestId]!.result = .failed(cause: cause)
            return .failed(cause: cause)
        }
        if let cause = operation.failure {
            clusters[port]!.operations[requestId]!.result = .failed(cause: cause)
            return .failed(cause: cause)
        }
        let id = (job.checkpoint?.id ?? 0) + 1
        let path = "\(operation.directory)/\(jobId)/chk-\(id)"
        clusters[port]!.jobs[jobId]!.checkpoint = CompletedCheckpoint(id: id, externalPath: path, completedAt: Date())
        clusters[port]!.operations[requestId]!.checkpointId = id
        if writesSnapshotFiles { Self.materialize(path) }
        return .completed(checkpointId: id)
    }

    public func checkpointPath(port: Int, jobId: String, checkpointId: Int) async throws -> String? {
        let cluster = try enter(.checkpointPath, port)
        guard let job = cluster.jobs[jobId] else {
            throw FlinkRESTError.http(status: 404, errors: ["org.apache.flink.runtime.rest.NotFoundException: Job \(jobId) not found"])
        }
        guard let checkpoint = job.checkpoint, checkpoint.id == checkpointId else {
            throw FlinkRESTError.http(status: 404, errors: ["Could not find checkpointing statistics for checkpoint \(checkpointId)."])
        }
        return checkpoint.externalPath
    }

    public func stopWithSavepoint(port: Int, jobId: String, targetDirectory: String?, drain: Bool, triggerId: String?) async throws -> String {
        try startOperation(.stopWithSavepoint, port: port, jobId: jobId, targetDirectory: targetDirectory, then: .finished, triggerId: triggerId)
    }

    public func jobMetrics(port: Int, jobId: String, names: [String]) async throws -> [String: String] {
        let cluster = try enter(.jobMetrics, port)
        guard let job = cluster.jobs[jobId] else {
            throw FlinkRESTError.http(status: 404, errors: [
                "org.apache.flink.runtime.rest.NotFoundException: Job \(jobId) not found; caused by: \(Self.jobNotFound(jobId))",
            ])
        }
        let known = ["numRestarts": String(job.restarts)]
        return known.filter { names.contains($0.key) }
    }

    public func savepointStatus(port: Int, jobId: String, requestId: String) async throws -> SavepointOperation {
        let cluster = try enter(.savepointStatus, port)
        guard let operation = cluster.operations[requestId], operation.jobId == jobId, !operation.checkpoint else {
            throw FlinkRESTError.http(status: 404, errors: [
                "org.apache.flink.runtime.rest.handler.RestHandlerException: There is no savepoint operation with triggerId=\(requestId) for job \(jobId).",
            ])
        }
        if let result = operation.result { return result }
        if savepointsHeld, cluster.jobs[jobId].map({ !$0.state.isGloballyTerminal }) == true { return .inProgress }
        let result: SavepointOperation
        if let job = cluster.jobs[jobId], !job.state.isGloballyTerminal {
            if let cause = operation.failure {
                result = .failed(cause: cause)
            } else if job.state != .running || !job.vertices.allSatisfy({ $0.status == .running }) {
                result = .failed(cause: "java.util.concurrent.CompletionException: org.apache.flink.runtime.checkpoint.CheckpointException: Checkpoint triggering task of job \(jobId) is not being executed at the moment. Aborting checkpoint. Failure reason: Not all required tasks are currently running.")
            } else {
                result = .completed(location: "\(operation.directory)/savepoint-\(jobId.prefix(6))-\(hex(12))")
                if writesSnapshotFiles, case .completed(let location) = result { Self.materialize(location) }
                if let next = operation.then { clusters[port]!.jobs[jobId]!.set(next, now: Date()) }
            }
        } else {
            result = .failed(cause: "java.util.concurrent.CompletionException: \(Self.jobNotFound(jobId))")
        }
        clusters[port]!.operations[requestId]!.result = result
        return result
    }

    public func latestCheckpoint(port: Int, jobId: String) async throws -> CompletedCheckpoint? {
        let cluster = try enter(.latestCheckpoint, port)
        guard let job = cluster.jobs[jobId] else {
            throw FlinkRESTError.http(status: 404, errors: [
                "org.apache.flink.runtime.rest.NotFoundException: Job \(jobId) not found; caused by: \(Self.jobNotFound(jobId))",
            ])
        }
        return job.checkpoint
    }

    // MARK: - Internals

    private struct Cluster {
        var taskManagers: Int
        var slotsPerTaskManager: Int
        var savepointDirectory: String?
        var jars: [String: String] = [:]
        var jobs: [String: FakeJob] = [:]
        var operations: [String: Operation] = [:]
    }

    private struct FakeJob {
        var id: String
        var name: String
        var parallelism: Int
        var state: JobState
        var startTime: Date
        var endTime: Date?
        var lastModification: Date
        var vertices: [JobVertex]
        var checkpoint: CompletedCheckpoint?
        var restarts = 0

        init(id: String, name: String, parallelism: Int, state: JobState, now: Date) {
            self.id = id
            self.name = name
            self.parallelism = parallelism
            self.state = state
            startTime = now
            lastModification = now
            vertices = [
                JobVertex(id: "\(id)-vertex-0", name: "Source: fake", parallelism: parallelism, status: .running),
                JobVertex(id: "\(id)-vertex-1", name: "fake -> Sink: fake", parallelism: parallelism, status: .running),
            ]
            set(state, now: now)
        }

        mutating func set(_ newState: JobState, now: Date) {
            state = newState
            lastModification = now
            endTime = newState.isGloballyTerminal ? now : nil
            let status: ExecutionState? = switch newState {
            case .running: .running
            case .finished: .finished
            case .canceled: .canceled
            case .failed: .failed
            case .initializing, .created, .restarting: .created
            default: nil
            }
            if let status {
                for index in vertices.indices { vertices[index].status = status }
            }
        }
    }

    private struct Operation {
        var jobId: String
        var directory: String
        /// The job's state once the savepoint succeeds (CANCELED for cancel-job, FINISHED for stop).
        var then: JobState?
        var failure: String?
        var result: SavepointOperation?
        /// A checkpoint request (`triggerCheckpoint`) rather than a savepoint or stop.
        var checkpoint = false
        var checkpointId: Int?
    }

    /// Records the call, then throws an injected failure or `.unreachable`, else the cluster.
    private func enter(_ method: Method, _ port: Int) throws -> Cluster {
        calls.append(method)
        if var queue = injected[method], !queue.isEmpty {
            let error = queue.removeFirst()
            injected[method] = queue
            throw error
        }
        guard let cluster = clusters[port] else {
            throw FlinkRESTError.unreachable(port: port, reason: "connect: Connection refused")
        }
        return cluster
    }

    private func startOperation(_ method: Method, port: Int, jobId: String, targetDirectory: String?, then: JobState?,
                                triggerId: String?) throws -> String {
        let cluster = try enter(method, port)
        if let triggerId, cluster.operations[triggerId] != nil { return triggerId }  // the same operation, again
        guard let directory = targetDirectory ?? cluster.savepointDirectory else {
            throw FlinkRESTError.http(status: 400, errors: [
                "org.apache.flink.runtime.rest.handler.RestHandlerException: Config key [execution.checkpointing.savepoint-dir] is not set. Property [target-directory] must be provided.",
            ])
        }
        let requestId = triggerId ?? hex(32)
        let failure = savepointFailures.isEmpty ? nil : savepointFailures.removeFirst()
        var trimmed = directory
        while trimmed.count > 1 && trimmed.hasSuffix("/") { trimmed.removeLast() }
        clusters[port]!.operations[requestId] = Operation(jobId: jobId, directory: trimmed, then: then, failure: failure)
        return requestId
    }

    /// `<path>/_metadata`, as a completed Flink snapshot leaves it (a `file://` prefix is a path).
    private static func materialize(_ location: String) {
        let path = location.hasPrefix("file://") ? String(location.dropFirst("file://".count)) : location
        guard path.hasPrefix("/"), !path.hasPrefix("/fake/") else { return }
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: path + "/_metadata", contents: Data("fake".utf8))
    }

    private static func jobNotFound(_ jobId: String) -> String {
        "org.apache.flink.runtime.messages.FlinkJobNotFoundException: Could not find Flink job (\(jobId))"
    }

    private func hex(_ digits: Int) -> String {
        var text = ""
        while text.count < digits {
            let word = String(random.next(), radix: 16)
            text += String(repeating: "0", count: 16 - word.count) + word
        }
        return String(text.prefix(digits))
    }

    private func uuid() -> String {
        let h = hex(32)
        let parts = [8, 4, 4, 4, 12]
        var index = h.startIndex
        return parts.map { length in
            let end = h.index(index, offsetBy: length)
            defer { index = end }
            return String(h[index..<end])
        }.joined(separator: "-")
    }
}
