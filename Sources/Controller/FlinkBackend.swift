import Artifacts
import FlinkClient
import FlinkResources
import Foundation
import Logging
import Manifests
import Planning
import Runtime
import Store

/// Bounds how many Flink clients (per-job submitters) run at once: each is a JVM of its own,
/// and a burst of per-job manifests must queue rather than start them all.
public actor SubmissionGate {
    public let limit: Int
    private var holders: Set<String> = []

    public init(limit: Int) { self.limit = max(1, limit) }

    /// Takes a slot for `pod` (true), or says none is free (false). Idempotent per pod.
    public func tryAcquire(_ pod: String) -> Bool {
        if holders.contains(pod) { return true }
        guard holders.count < limit else { return false }
        holders.insert(pod)
        return true
    }

    /// Counts a submitter found running (e.g. adopted after a restart) even beyond the limit.
    public func hold(_ pod: String) { holders.insert(pod) }

    public func release(_ pod: String) { holders.remove(pod) }

    public func isFree(for pod: String) -> Bool { holders.contains(pod) || holders.count < limit }

    public var inUse: Int { holders.count }
}

/// Everything the controller needs to run Flink: the distribution, the REST client, the jar
/// store and the submission gate. The observer half gathers a `FlinkObservation`; the executor
/// half carries out `FlinkAction`s.
public struct FlinkBackend: Sendable {
    public let distribution: Result<FlinkDistribution, FlinkHomeError>
    public let rest: any FlinkREST
    public let artifacts: ArtifactStore
    public let submissions: SubmissionGate
    public let stateDirectory: String
    /// Ports leased to clusters (REST, RPC, blob, TaskManagers).
    public var portRange: ClosedRange<Int> = 20_000...29_999
    /// How long a stop-with-savepoint may take on deletion before the job is cancelled instead.
    public var savepointTimeout: Duration = .seconds(60)

    public init(distribution: Result<FlinkDistribution, FlinkHomeError>, rest: any FlinkREST, stateDirectory: String,
                maxConcurrentSubmissions: Int = 2) {
        self.distribution = distribution
        self.rest = rest
        self.stateDirectory = stateDirectory
        self.submissions = SubmissionGate(limit: maxConcurrentSubmissions)
        let home = (try? distribution.get().home) ?? "/opt/flink"
        self.artifacts = ArtifactStore(cacheDirectory: stateDirectory + "/artifacts", flinkHome: home)
    }

    public func clusterDirectory(of id: ResourceID) -> String {
        "\(stateDirectory)/clusters/\(id.namespace)/\(id.name)"
    }
}

// MARK: - Observe

extension FlinkBackend {
    /// What the Flink planner needs: distribution, ports (leased here while the resource is
    /// defined), the jar's local path (fetched here), what the cluster's REST API says, and the
    /// neighbours (session cluster ↔ session jobs). Never starts, stops or changes a job.
    func observe(_ id: ResourceID, desired: DesiredObject?, record: ResourceRecord?, pods: [PodStatus],
                 layout: PodLayout, store: Store, isDefined: @Sendable (ResourceID) async -> Bool) async -> FlinkObservation {
        var observation = FlinkObservation(distribution: try? distribution.get(), podRoot: layout.directory(of: id),
                                           clusterDirectory: clusterDirectory(of: id))
        if case .failure(let error) = distribution { observation.distributionProblem = error.message }
        let lastKnown = record.flatMap { Self.decode($0) }
        observation.lastKnown = lastKnown
        observation.recordedJob = record.flatMap { try? Reconciler.status(of: $0) }?.jobStatus
        let current = desired?.resource
        let resource = current ?? lastKnown

        switch resource {
        case .deployment(let deployment)?:
            if current != nil {
                do {
                    observation.ports = try leasePorts(owner: id.key, count: FlinkCluster.portCount(deployment.spec), store: store)
                } catch {
                    observation.distributionProblem = "cannot lease ports: \(error)"
                    observation.distribution = nil
                }
            } else {
                observation.ports = (try? store.ports(owner: id.key)) ?? []
            }
            let jobManager = pods.first { $0.labels[PodLabels.role] == "jobmanager" }
            if let port = observation.ports.first, jobManager?.phase == .running {
                await observeREST(port: port, into: &observation)
            }
            if current != nil, let job = deployment.spec.job, deployment.spec.effectiveMode != .session {
                observation.jar = await resolve(job.jarURI, directory: observation.clusterDirectory + "/artifacts")
            }
            if deployment.spec.effectiveMode == .session {
                observation.sessionJobs = sessionJobs(naming: id, store: store)
            }
            if deployment.spec.effectiveMode == .perJob {
                let name = layout.runtimeName(of: id, pod: FlinkCluster.submitterName(id.name))
                if let submitter = pods.first(where: { $0.name == name }), submitter.phase == .running || submitter.phase == .pending {
                    await submissions.hold(name)
                } else {
                    await submissions.release(name)
                }
                observation.submissionSlotFree = await submissions.isFree(for: name)
            }
        case .sessionJob(let sessionJob)?:
            let deploymentName = sessionJob.spec.deploymentName ?? ""
            let clusterID = ResourceID(kind: .flinkDeployment, namespace: id.namespace, name: deploymentName)
            let clusterRecord = try? store.resource(clusterID.key)
            let cluster: FlinkDeployment? = if case .deployment(let d)? = clusterRecord.flatMap(Self.decode) { d } else { nil }
            let status = clusterRecord.flatMap { try? $0.deploymentStatus() }
            let ready = status?.conditions?.contains { $0.type == Conditions.ready && $0.status == .true } ?? false
            let port = (try? store.ports(owner: clusterID.key))?.first
            let clusterDefined = cluster == nil ? false : await isDefined(clusterID)
            observation.session = SessionClusterObservation(
                name: deploymentName, isDefined: clusterDefined,
                isSession: cluster?.spec.effectiveMode == .session, restPort: port, isReady: ready)
            if let port, ready || current == nil {
                await observeREST(port: port, into: &observation)
            }
            if current != nil, let job = sessionJob.spec.job {
                observation.jar = await resolve(job.jarURI, directory: observation.clusterDirectory + "/artifacts")
            }
        case nil:
            break
        }
        for pod in pods where pod.phase == .failed || pod.reason == PodStatus.Reason.crashLoopBackOff {
            let name = Reconciler.observed(pod).name
            if let message = Self.failureMessage(logPath: layout.directory(of: id, pod: name) + "/log") {
                observation.podFailures[name] = message
            }
        }
        return observation
    }

    func observeREST(port: Int, into observation: inout FlinkObservation) async {
        do {
            let overview = try await rest.overview(port: port)
            observation.rest = .answering(taskManagers: overview.taskManagers, slots: overview.slotsTotal)
            var jobs: [ObservedJob] = []
            for job in try await rest.jobs(port: port) {
                var observed = ObservedJob(id: job.id, name: job.name, state: job.state.rawValue,
                                           startTime: job.startTime.map { Int64($0.timeIntervalSince1970 * 1000) },
                                           endTime: job.endTime.map { Int64($0.timeIntervalSince1970 * 1000) })
                if job.state == .running, let details = try await rest.job(port: port, id: job.id) {
                    observed.allTasksRunning = details.allVerticesRunning
                }
                jobs.append(observed)
            }
            observation.jobs = jobs
        } catch {
            observation.rest = .unreachable("\(error)")
        }
    }

    func resolve(_ uri: String?, directory: String) async -> Result<String, DeploymentProblem>? {
        guard let uri else { return nil }
        do {
            return .success(try await artifacts.resolve(uri, artifactsDirectory: directory).path)
        } catch {
            return .failure(DeploymentProblem("\(error)"))
        }
    }

    /// Leases the cluster's ports; a newly leased port that another program holds is skipped.
    func leasePorts(owner: String, count: Int, store: Store) throws -> [Int] {
        try store.leasePorts(owner: owner, count: count, range: portRange, usable: { PortProbe.isFree($0) })
    }

    /// Names of the session jobs (recorded by the operator) that name this session cluster.
    func sessionJobs(naming cluster: ResourceID, store: Store) -> [String] {
        let records = (try? store.resources(kind: .flinkSessionJob)) ?? []
        return records.filter { record in
            guard record.namespace == cluster.namespace, case .sessionJob(let job)? = Self.decode(record) else { return false }
            return job.spec.deploymentName == cluster.name
        }.map(\.name)
    }

    /// The resource as last stored (its spec; metadata from its identity).
    static func decode(_ record: ResourceRecord) -> FlinkResource? {
        let data = Data(record.spec.utf8)
        let metadata = ObjectMeta(name: record.name, namespace: record.namespace)
        switch record.kind {
        case .flinkDeployment:
            return (try? JSONDecoder().decode(FlinkDeploymentSpec.self, from: data)).map { .deployment(FlinkDeployment(metadata: metadata, spec: $0)) }
        case .flinkSessionJob:
            return (try? JSONDecoder().decode(FlinkSessionJobSpec.self, from: data)).map { .sessionJob(FlinkSessionJob(metadata: metadata, spec: $0)) }
        }
    }

    /// Flink's own words for why a process failed: the last exception line of its log.
    static func failureMessage(logPath: String) -> String? {
        guard let handle = FileHandle(forReadingAtPath: logPath) else { return nil }
        defer { try? handle.close() }
        let size = (try? handle.seekToEnd()) ?? 0
        try? handle.seek(toOffset: size > 65_536 ? size - 65_536 : 0)
        guard let data = try? handle.readToEnd() else { return nil }
        let lines = String(decoding: data, as: UTF8.self).split(separator: "\n")
        // The root cause is the last "Caused by:" of the last trace; else the last exception line.
        let candidates = lines.filter { $0.hasPrefix("Caused by: ") || ($0.contains("Exception: ") && !$0.hasPrefix("\t")) }
        guard let last = candidates.last else { return nil }
        var message = String(last)
        if message.hasPrefix("Caused by: ") { message.removeFirst("Caused by: ".count) }
        return String(message.prefix(500))
    }
}

// MARK: - Execute

extension FlinkBackend {
    /// Carries out one REST step. Failures Flink reports become warning events with Flink's
    /// message (returned); only an unreachable cluster throws, so the reconcile is retried.
    func execute(_ action: FlinkAction, logger: Logger) async throws -> [(reason: String, message: String, warning: Bool)] {
        switch action {
        case .submit(let port, let jar, let submission):
            var jarId: String?
            do {
                jarId = try await rest.uploadJar(port: port, path: jar)
                let request = FlinkClient.JobSubmission(
                    programArgs: submission.args, parallelism: submission.parallelism, savepointPath: submission.savepointPath,
                    allowNonRestoredState: submission.allowNonRestoredState, jobId: submission.jobId,
                    entryClass: submission.entryClass, flinkConfiguration: submission.configuration)
                _ = try await rest.runJar(port: port, jarId: jarId!, submission: request)
                if let jarId { try? await rest.deleteJar(port: port, jarId: jarId) }
                return []
            } catch let error as FlinkRESTError {
                if let jarId { try? await rest.deleteJar(port: port, jarId: jarId) }
                if error.isDuplicateSubmission {
                    return []  // a retry of a submission that went through: the job runs once
                }
                if case .unreachable = error { throw error }
                return [("SubmitFailed", "job \(submission.jobId): \(error)", true)]
            }
        case .cancel(let port, let jobId):
            do {
                try await rest.cancel(port: port, jobId: jobId)
            } catch let error as FlinkRESTError {
                if error.status == 404 || error.status == 409 { return [] }  // unknown, or already over
                throw error
            }
            return [("Cancel", "Cancelled job \(jobId)", false)]
        case .stopWithSavepoint(let port, let jobId, let directory):
            do {
                let request = try await rest.stopWithSavepoint(port: port, jobId: jobId, targetDirectory: directory, drain: false)
                let deadline = ContinuousClock.now + savepointTimeout
                while ContinuousClock.now < deadline {
                    switch try await rest.savepointStatus(port: port, jobId: jobId, requestId: request) {
                    case .inProgress:
                        try await Task.sleep(for: .milliseconds(200))
                    case .completed(let location):
                        logger.info("savepoint taken on deletion", metadata: ["job.id": "\(jobId)", "savepoint.location": "\(location)"])
                        return [("SavepointCreated", "Stopped job \(jobId) with a savepoint at \(location)", false)]
                    case .failed(let cause):
                        try? await rest.cancel(port: port, jobId: jobId)
                        return [("SavepointError", "Savepoint of job \(jobId) failed: \(cause); the job was cancelled", true)]
                    }
                }
                try? await rest.cancel(port: port, jobId: jobId)
                return [("SavepointError", "Savepoint of job \(jobId) did not complete in \(savepointTimeout); the job was cancelled", true)]
            } catch let error as FlinkRESTError {
                try? await rest.cancel(port: port, jobId: jobId)
                return [("SavepointError", "Savepoint of job \(jobId) failed: \(error); the job was cancelled", true)]
            }
        }
    }
}

/// Whether a loopback port can be bound now (another program may hold a port we never leased).
enum PortProbe {
    static func isFree(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var reuse: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &reuse, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = in_addr_t(0x7F00_0001).bigEndian
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
    }
}
