import Artifacts
import Engine
import FlinkClient
import FlinkResources
import FileSafety
import Foundation
import Logging
import Manifests
import Planning
import Reconciliation
import Runtime
import Store

/// Everything the controller needs to run Flink: the distribution, the REST client, the jar
/// store and the submission gate. The observer half gathers a `FlinkObservation`; the executor
/// half carries out `FlinkAction`s.
public struct FlinkBackend: Sendable {
    /// The installed distributions, asked on every observation (`FlinkDistributionCatalog.current`):
    /// one installed while the operator runs is used from the next reconcile on.
    public let distributions: @Sendable () -> FlinkDistributions
    /// Told of the distribution each deployment's version resolves to, on every observation
    /// (`FlinkDistributionCatalog.markInUse`: its class-data archives are made once).
    public var distributionInUse: (@Sendable (FlinkDistribution) -> Void)?
    public let rest: any FlinkREST
    public let artifacts: ArtifactStore
    public let submissions: ConcurrencyGate
    /// Clusters whose JobManager is up but not yet ready with all its TaskManagers registered.
    public let clusterStarts: ConcurrencyGate
    /// The slots of `gate`.
    public func gate(_ gate: AdmissionGate) -> ConcurrencyGate? {
        switch gate {
        case .clusterStart: clusterStarts
        case .submission: submissions
        default: nil
        }
    }

    public var gates: [AdmissionGate] { AdmissionGate.flinkGates }
    public let stateDirectory: String
    /// Ports leased to clusters (REST, RPC, blob, TaskManagers).
    public var portRange: ClosedRange<Int> = 20_000...29_999
    /// The TLS every cluster runs with (`ClusterCredentials`); nil only in tests.
    public var tls: ClusterTLS?
    /// The REST client for JobManagers that speak plain HTTP (started by a Flinklet before
    /// mutual TLS: see `runningScheme(ofClusterOf:store:)`); nil: `rest` for every cluster.
    public var plainREST: (any FlinkREST)?

    /// One distribution, as found once (or why none was): tests and single-version callers.
    public init(distribution: Result<FlinkDistribution, FlinkHomeError>, rest: any FlinkREST, stateDirectory: String,
                maxConcurrentSubmissions: Int = 2, maxConcurrentClusterStarts: Int = 2) {
        let found: FlinkDistributions = switch distribution {
        case .success(let one): FlinkDistributions([one])
        case .failure(let error): FlinkDistributions(problem: error.message)
        }
        self.init(distributions: { found }, rest: rest, stateDirectory: stateDirectory,
                  maxConcurrentSubmissions: maxConcurrentSubmissions, maxConcurrentClusterStarts: maxConcurrentClusterStarts)
    }

    public init(distributions: @escaping @Sendable () -> FlinkDistributions, rest: any FlinkREST, stateDirectory: String,
                maxConcurrentSubmissions: Int = 2, maxConcurrentClusterStarts: Int = 2) {
        self.distributions = distributions
        self.rest = rest
        self.stateDirectory = stateDirectory
        self.submissions = ConcurrencyGate(limit: maxConcurrentSubmissions)
        self.clusterStarts = ConcurrencyGate(limit: maxConcurrentClusterStarts)
        // `local:///opt/flink/...` maps into the resource's own version's distribution (each
        // lookup names it); this default is never used for a resource.
        self.artifacts = ArtifactStore(cacheDirectory: stateDirectory + "/artifacts", flinkHome: "/opt/flink")
    }

    public func clusterDirectory(of id: ResourceID) -> String {
        "\(stateDirectory)/clusters/\(id.namespace)/\(id.name)"
    }
}

// MARK: - REST endpoints

extension FlinkBackend {
    /// The client for `endpoint`'s protocol: `rest` (HTTPS with the operator's certificate when
    /// the operator has one), or `plainREST` for a JobManager that speaks plain HTTP.
    func client(_ endpoint: RESTEndpoint) -> any FlinkREST {
        endpoint.scheme == .http ? plainREST ?? rest : rest
    }

    /// How the JobManager of `owner`'s cluster speaks REST when it is not as this operator starts
    /// them: `.http` for one its pod record says was started without TLS (its readiness probe
    /// is plain `httpGet`: an earlier Flinklet's, kept running until the resource's next
    /// upgrade) while this operator runs clusters with TLS. Nil otherwise: no record, or a
    /// JobManager started with the TLS the operator has (or without, when it has none).
    func runningScheme(ofClusterOf owner: ResourceID, store: Store) throws -> RESTEndpoint.Scheme? {
        guard tls != nil else { return nil }
        // Only the JobManager's record is decoded (a reconcile of every Flink resource asks).
        let jobManager = "/" + FlinkCluster.jobManagerName(owner.name)
        for row in try store.pods(owner: owner.key) where row.name.hasSuffix(jobManager) {
            // A record that cannot be decoded says nothing: HTTPS, which a plain JobManager does
            // not answer, so its cluster reads as unreachable (unknown), never as gone.
            guard let record = try? JSONDecoder().decode(PodRecord.self, from: row.spec) else { continue }
            if case .httpGet? = record.spec.readiness { return .http }
        }
        return nil
    }

    /// `owner`'s REST API: its first leased port, in the protocol of its JobManager (nil: no
    /// ports leased).
    func restEndpoint(ofClusterOf owner: ResourceID, store: Store) throws -> RESTEndpoint? {
        guard let port = try store.ports(owner: owner.key).first else { return nil }
        return RESTEndpoint(port: port, scheme: try runningScheme(ofClusterOf: owner, store: store) ?? (tls == nil ? .http : .https))
    }
}

/// A checkpoint or savepoint directory that exists but cannot be listed: the observation fails
/// (and the reconcile with it) rather than read it as holding no snapshot.
public struct SnapshotDirectoryUnreadable: Error, Sendable, CustomStringConvertible {
    public var path: String
    public var reason: String
    public var description: String { "cannot read the snapshot directory \(path): \(reason)" }
}

// MARK: - Observe

extension FlinkBackend {
    /// What the Flink planner needs: distribution, ports (leased here while the resource is
    /// defined), the jar's local path (fetched here), what the cluster's REST API says, and the
    /// neighbours (session cluster ↔ session jobs). Never starts, stops or changes a job.
    func observe(_ id: ResourceID, desired: DesiredObject?, record: ResourceRecord?, pods: [PodStatus],
                 layout: PodLayout, store: Store, now: Date = Date(), isDefined: @Sendable (ResourceID) async -> Bool) async throws -> FlinkObservation {
        var observation = FlinkObservation(distribution: nil, podRoot: layout.directory(of: id), clusterDirectory: clusterDirectory(of: id))
        observation.distributions = distributions()
        observation.tls = tls
        let lastKnown = record?.resource
        observation.lastKnown = lastKnown
        let recordedStatus = try record.flatMap { try PodRecords.status(of: $0) }
        observation.recordedJob = recordedStatus?.jobStatus
        observation.reconciliation = recordedStatus?.reconciliationStatus
        observation.recordedClusterInfo = (recordedStatus as? FlinkDeploymentStatus)?.clusterInfo
        observation.missingSnapshots = Self.missingSnapshots(of: recordedStatus?.jobStatus)
        if let record, let json = recordedStatus?.reconciliationStatus?.lastReconciledSpec {
            var deployed = record
            deployed.spec = json
            observation.deployed = deployed.resource
        }
        let current = desired?.resource
        let resource = current ?? lastKnown

        switch resource {
        case .deployment(let deployment)?:
            observation.storageProblem = Self.storageProblem(of: resource)
            if let used = try? observation.distributions.resolve(deployment.spec.flinkVersion).get() { distributionInUse?(used) }
            observation.ports = try store.ports(owner: id.key)
            observation.runningScheme = try runningScheme(ofClusterOf: id, store: store)
            observation.metricsPorts = try store.ports(owner: FlinkCluster.metricsPortLeaseOwner(id.key))
            let jobManager = pods.first { $0.labels[PodLabels.role] == PodRole.jobManager.rawValue }
            if let endpoint = observation.restEndpoint, jobManager?.phase == .running {
                await observeREST(endpoint, into: &observation)
            }
            // Read only: the planner takes and gives back slots as steps.
            observation.clusterStartSlotFree = await clusterStarts.isFree(for: id.key)
            if await clusterStarts.holds(id.key) { observation.admissionsHeld.insert(.clusterStart) }
            if let jobId = observation.recordedJob?.jobId {
                let endpoint = observation.rest.isAnswering ? observation.restEndpoint : nil
                observation.latestCheckpoint = try await latestCheckpoint(
                    jobId: jobId, rest: endpoint,
                    directory: Self.checkpointDirectory(of: resource, default: observation.clusterDirectory + "/checkpoints"),
                    notBefore: observation.recordedJob?.startTime.flatMap { Int64($0) })
                observation.pendingSnapshot = try await pendingSnapshot(of: observation.recordedJob, rest: endpoint,
                                                                    directory: FlinkCluster.savepointDirectory(observation))
                if let endpoint, observation.jobs.contains(where: { $0.id == jobId && !$0.isTerminal }) {
                    observation.restarts = (try? await client(endpoint).jobMetrics(port: endpoint.port, jobId: jobId, names: ["numRestarts"]))?["numRestarts"]
                        .flatMap { Int($0) }
                }
                if let job = observation.jobs.first(where: { $0.id == jobId }), job.state == .canceled || job.state == .failed, let jobManager {
                    // Why the job ended, in the JobManager's words (it may still run).
                    let name = PodRecords.observed(jobManager).name
                    if let message = Self.failureMessage(logPath: layout.directory(of: id, pod: name) + "/log") {
                        observation.podFailures[name] = message
                    }
                }
            }
            if jobManager == nil || jobManager?.phase != .running {
                // No JobManager runs: which TaskManagers still hold an earlier one's registration?
                for pod in pods where pod.labels[PodLabels.role] == PodRole.taskManager.rawValue && pod.phase == .running {
                    let name = PodRecords.observed(pod).name
                    // A log that cannot be read says nothing: taken as registered, so the
                    // TaskManager restarts with a new JobManager rather than meet it.
                    if Self.hasRegistered(logPath: layout.directory(of: id, pod: name) + "/log") != false {
                        observation.registeredTaskManagers.insert(name)
                    }
                }
            }
            if current != nil, let job = deployment.spec.job, deployment.spec.effectiveMode != .session {
                (observation.jar, observation.jarFetch) = await locate(job.jarURI, pinned: deployment.metadata.pinnedJarSHA256,
                                                                       directory: observation.clusterDirectory + "/artifacts",
                                                                       flinkHome: try? observation.distributions.resolve(deployment.spec.flinkVersion).get().home)
                // A rollback runs the last stable spec: its jar, in its version's distribution.
                let rollback = observation.reconciliation?.state == .rolledBack
                    || deployment.spec.flinkConfiguration?["kubernetes.operator.deployment.rollback.enabled"] == "true"
                if rollback, let stableJSON = observation.reconciliation?.lastStableSpec,
                   let stable = try? JSONDecoder().decode(FlinkDeploymentSpec.self, from: Data(stableJSON.utf8)),
                   let stableURI = stable.job?.jarURI, stableURI != job.jarURI || stable.flinkVersion != deployment.spec.flinkVersion {
                    let (stableJar, fetch) = await locate(stableURI, pinned: stableURI == job.jarURI ? deployment.metadata.pinnedJarSHA256 : nil,
                                                          directory: observation.clusterDirectory + "/artifacts",
                                                          flinkHome: try? observation.distributions.resolve(stable.flinkVersion).get().home)
                    observation.stableJar = stableJar ?? .failure(DeploymentProblem("jar \"\(stableURI)\" of the last stable spec is being fetched", reason: "JarNotFound"))
                    if observation.jarFetch == nil { observation.jarFetch = fetch }
                }
            }
            if deployment.spec.effectiveMode == .session {
                observation.sessionJobs = try sessionJobs(naming: id, store: store)
            }
            observation.submissionSlotFree = await submissions.isFree(for: id.key)
            if await submissions.holds(id.key) { observation.admissionsHeld.insert(.submission) }
        case .sessionJob(let sessionJob)?:
            observation.storageProblem = Self.storageProblem(of: resource)
            let deploymentName = sessionJob.spec.deploymentName ?? ""
            let clusterID = ResourceID(kind: .flinkDeployment, namespace: id.namespace, name: deploymentName)
            let clusterRecord = try store.resource(clusterID.key)
            let cluster: FlinkDeployment? = if case .deployment(let d)? = clusterRecord?.resource { d } else { nil }
            let status = clusterRecord.flatMap { try? $0.deploymentStatus() }
            let ready = status?.conditions?.contains { $0.type == Conditions.ready && $0.status == .true } ?? false
            let endpoint = try restEndpoint(ofClusterOf: clusterID, store: store)
            let clusterDefined = cluster == nil ? false : await isDefined(clusterID)
            observation.session = SessionClusterObservation(
                name: deploymentName, isDefined: clusterDefined,
                isSession: cluster?.spec.effectiveMode == .session, rest: endpoint, isReady: ready,
                flinkVersion: cluster.flatMap { try? observation.distributions.resolve($0.spec.flinkVersion).get().flinkVersion },
                waitsForJobs: status?.conditions?.contains { $0.type == Conditions.reconciling && $0.status == .true && $0.reason == FlinkPlanner.sessionJobsRunning } ?? false)
            if let endpoint, ready || current == nil {
                await observeREST(endpoint, into: &observation)
            }
            if let jobId = observation.recordedJob?.jobId {
                let sessionDirectory = clusterDirectory(of: clusterID) + "/checkpoints"
                let answering = observation.rest.isAnswering ? endpoint : nil
                observation.latestCheckpoint = try await latestCheckpoint(
                    jobId: jobId, rest: answering,
                    directory: Self.checkpointDirectory(of: resource, default: cluster.map { Self.checkpointDirectory(of: .deployment($0), default: sessionDirectory) } ?? sessionDirectory),
                    notBefore: observation.recordedJob?.startTime.flatMap { Int64($0) })
                observation.pendingSnapshot = try await pendingSnapshot(of: observation.recordedJob, rest: answering,
                                                                    directory: FlinkCluster.savepointDirectory(observation))
            }
            if current != nil, let job = sessionJob.spec.job {
                // A session job runs on its session cluster's version: `/opt/flink` is that distribution.
                (observation.jar, observation.jarFetch) = await locate(job.jarURI, pinned: sessionJob.metadata.pinnedJarSHA256,
                                                                       directory: observation.clusterDirectory + "/artifacts",
                                                                       flinkHome: try? observation.distributions.resolve(cluster?.spec.flinkVersion).get().home)
            }
        case .snapshot(let snapshot)?:
            observation.snapshot = try await observeSnapshot(snapshot, id: id, record: record, store: store, isDefined: isDefined)
        case nil:
            break
        }
        for pod in pods where pod.phase == .failed || pod.reason == PodStatus.Reason.crashLoopBackOff {
            let name = PodRecords.observed(pod).name
            if let message = Self.failureMessage(logPath: layout.directory(of: id, pod: name) + "/log") {
                observation.podFailures[name] = message
            }
        }
        return observation
    }

    /// A `FlinkStateSnapshot`: its recorded status, the job it names (from that resource's
    /// record, and whether its cluster's REST API answers), what became of its trigger, and
    /// whether the savepoint it names is on disk. Read only.
    func observeSnapshot(_ snapshot: FlinkStateSnapshot, id: ResourceID, record: ResourceRecord?, store: Store,
                         isDefined: @Sendable (ResourceID) async -> Bool) async throws -> SnapshotObservation {
        let recorded = try record.flatMap { record throws in try record.snapshotStatus() }
        var seen = SnapshotObservation(recorded: recorded)
        let spec = snapshot.spec
        if let reference = spec.jobReference, let name = reference.name {
            let referenceID = ResourceID(kind: (reference.kind ?? .flinkDeployment).resourceKind, namespace: id.namespace, name: name)
            if let referenceRecord = try store.resource(referenceID.key), let resource = referenceRecord.resource, await isDefined(referenceID) {
                let status = try PodRecords.status(of: referenceRecord)
                var job = ReferencedJob(id: referenceID, jobId: status?.jobStatus?.jobId, state: status?.jobStatus?.flinkState,
                                        savepointDirectory: clusterDirectory(of: referenceID) + "/savepoints")
                // A session job runs in its session cluster: that cluster's REST API.
                let portOwner: ResourceID = if case .sessionJob(let sessionJob) = resource {
                    ResourceID(kind: .flinkDeployment, namespace: id.namespace, name: sessionJob.spec.deploymentName ?? "")
                } else {
                    referenceID
                }
                if let endpoint = try restEndpoint(ofClusterOf: portOwner, store: store),
                   (try? await client(endpoint).overview(port: endpoint.port)) != nil {
                    job.rest = endpoint
                }
                seen.job = job
            }
        }
        if recorded?.state == .inProgress, let triggerId = recorded?.triggerId, let jobId = seen.job?.jobId {
            let endpoint = seen.job?.rest
            if spec.isSavepoint {
                let directory = (spec.savepoint?.path).flatMap(Self.localPath) ?? seen.job?.savepointDirectory ?? ""
                let notBefore = recorded?.triggerTimestamp.flatMap(RFC3339.date(from:)).map { Int64($0.timeIntervalSince1970 * 1000) } ?? 0
                let onDisk = try Self.savepointOnDisk(jobId: jobId, directory: directory, notBefore: notBefore)
                if let endpoint {
                    do {
                        switch try await client(endpoint).savepointStatus(port: endpoint.port, jobId: jobId, requestId: triggerId) {
                        case .inProgress: seen.operation = .inProgress
                        case .completed(let location): seen.operation = .completed(location: location)
                        case .failed(let cause): seen.operation = .failed(cause: cause)
                        }
                    } catch let error as FlinkRESTError {
                        seen.operation = onDisk.map { .completed(location: $0) } ?? (error.status == 404 ? .notFound : .unknown("\(error)"))
                    }
                } else {
                    seen.operation = onDisk.map { .completed(location: $0) } ?? .unknown("the JobManager does not answer")
                }
            } else if let endpoint {
                do {
                    switch try await client(endpoint).checkpointStatus(port: endpoint.port, jobId: jobId, requestId: triggerId) {
                    case .inProgress: seen.operation = .inProgress
                    case .failed(let cause): seen.operation = .failed(cause: cause)
                    case .completed(let checkpointId):
                        // Complete, but where? Flink names the path once the checkpoint is finalized.
                        seen.operation = try await client(endpoint).checkpointPath(port: endpoint.port, jobId: jobId, checkpointId: checkpointId)
                            .map { .completed(location: $0) } ?? .inProgress
                    }
                } catch let error as FlinkRESTError {
                    seen.operation = error.status == 404 ? .notFound : .unknown("\(error)")
                }
            } else {
                seen.operation = .unknown("the JobManager does not answer")
            }
        }
        let named = spec.savepoint?.effectiveAlreadyExists == true && recorded?.state != .completed ? spec.savepoint?.path : recorded?.path
        seen.pathExists = named.flatMap(Self.snapshotExists)
        return seen
    }

    func observeREST(_ endpoint: RESTEndpoint, into observation: inout FlinkObservation) async {
        let rest = client(endpoint), port = endpoint.port
        do {
            let overview = try await rest.overview(port: port)
            observation.rest = .answering(taskManagers: overview.taskManagers, slots: overview.slotsTotal)
            observation.answeringFlinkVersion = FlinkVersion(release: overview.flinkVersion)
            var jobs: [ObservedJob] = []
            for job in try await rest.jobs(port: port) {
                var observed = ObservedJob(id: job.id, name: job.name, state: FlinkJobState(flink: job.state.rawValue),
                                           startTime: job.startTime.map { Int64($0.timeIntervalSince1970 * 1000) },
                                           endTime: job.endTime.map { Int64($0.timeIntervalSince1970 * 1000) })
                // Every vertex is asked for only once the (uncached) overview counts every task
                // started (running or finished): an earlier `GET /jobs/{id}` would have Flink
                // cache the graph of tasks still deploying for `web.refresh-interval`, and this
                // and every other reader would see the job start that much late.
                if job.state == .running, job.allTasksStarted != false, let details = try await rest.job(port: port, id: job.id) {
                    observed.allTasksRunning = details.allVerticesRunning
                }
                jobs.append(observed)
            }
            observation.jobs = jobs
        } catch {
            observation.rest = .unreachable("\(error)")
        }
    }

    /// The newest completed checkpoint of `jobId`: from Flink while its JobManager answers,
    /// else from the checkpoint directory (`<dir>/<jobId>/chk-N/_metadata`, highest N).
    /// The directory scan takes only checkpoints written since `notBefore` (the job's start, in
    /// milliseconds): a directory of the same job id may hold older ones that are not this job's.
    ///
    /// Throws when the job's checkpoint directory exists but cannot be read: "no checkpoint"
    /// would redeploy a lost job from an older snapshot, or from empty state.
    func latestCheckpoint(jobId: String, rest endpoint: RESTEndpoint?, directory: String, notBefore: Int64? = nil) async throws -> ObservedCheckpoint? {
        // Flink's answer counts only when the checkpoint is still there: Flink deletes a job's
        // checkpoints when it finishes, and subsumed ones as newer complete.
        if let endpoint, let checkpoint = try? await client(endpoint).latestCheckpoint(port: endpoint.port, jobId: jobId),
           Self.snapshotExists(checkpoint.externalPath) != false {
            return ObservedCheckpoint(path: checkpoint.externalPath, timestamp: Int64(checkpoint.completedAt.timeIntervalSince1970 * 1000))
        }
        let jobDirectory = directory + "/" + jobId
        var entries: [String] = []
        if FileManager.default.fileExists(atPath: jobDirectory) {
            do {
                entries = try FileManager.default.contentsOfDirectory(atPath: jobDirectory)
            } catch {
                throw SnapshotDirectoryUnreadable(path: jobDirectory, reason: "\(error.localizedDescription)")
            }
        }
        let newest = entries.compactMap { name -> (Int64, String)? in
            guard name.hasPrefix("chk-"), Int(name.dropFirst(4)) != nil,
                  let modified = (try? FileManager.default.attributesOfItem(atPath: "\(jobDirectory)/\(name)/_metadata"))?[.modificationDate] as? Date
            else { return nil }
            let millis = Int64(modified.timeIntervalSince1970 * 1000)
            if let notBefore, millis < notBefore - 1000 { return nil }
            return (millis, "\(jobDirectory)/\(name)")
        }.max { $0.0 < $1.0 }
        guard let newest else { return nil }
        return ObservedCheckpoint(path: "file://" + newest.1, timestamp: newest.0)
    }

    /// What became of the snapshot trigger `job` records as pending (nil: none is): Flink's
    /// answer while its JobManager answers; else, or when Flink does not know the trigger, the
    /// savepoint directory decides (a savepoint of the job that completed after the trigger was
    /// recorded is the one asked for).
    /// Throws when the savepoint directory exists but cannot be listed (never "not on disk").
    func pendingSnapshot(of job: JobStatus?, rest endpoint: RESTEndpoint?, directory: String) async throws -> SnapshotOperationState? {
        guard let job, let jobId = job.jobId, let trigger = SnapshotTrigger(job.savepointInfo) else { return nil }
        let onDisk = try Self.savepointOnDisk(jobId: jobId, directory: directory, notBefore: trigger.timestamp)
        guard let endpoint else {
            return onDisk.map { .completed(location: $0) } ?? .unknown("the JobManager does not answer")
        }
        do {
            switch try await client(endpoint).savepointStatus(port: endpoint.port, jobId: jobId, requestId: trigger.id) {
            case .inProgress: return .inProgress
            case .completed(let location): return .completed(location: location)
            case .failed(let cause): return .failed(cause: cause)
            }
        } catch let error as FlinkRESTError {
            if let onDisk { return .completed(location: onDisk) }
            if error.status == 404 { return .notFound }
            return .unknown("\(error)")
        } catch {
            return onDisk.map { .completed(location: $0) } ?? .unknown("\(error)")
        }
    }

    /// The newest savepoint of `jobId` in `directory` (`savepoint-<first 6 of the id>-*` holding
    /// `_metadata`) written at or after `notBefore` (milliseconds), as Flink names the location.
    /// A directory that does not exist holds none; one that exists but cannot be listed throws
    /// (a savepoint that may be there is never taken for missing).
    static func savepointOnDisk(jobId: String, directory: String, notBefore: Int64) throws -> String? {
        let prefix = "savepoint-\(jobId.prefix(6))-"
        var entries: [String] = []
        if FileManager.default.fileExists(atPath: directory) {
            do {
                entries = try FileManager.default.contentsOfDirectory(atPath: directory)
            } catch {
                throw SnapshotDirectoryUnreadable(path: directory, reason: "\(error.localizedDescription)")
            }
        }
        let found = entries.filter { $0.hasPrefix(prefix) }.compactMap { name -> (Date, String)? in
            let metadata = "\(directory)/\(name)/_metadata"
            guard let modified = (try? FileManager.default.attributesOfItem(atPath: metadata))?[.modificationDate] as? Date,
                  Int64(modified.timeIntervalSince1970 * 1000) >= notBefore - 1000 else { return nil }
            return (modified, "file:\(directory)/\(name)")
        }
        return found.max { $0.0 < $1.0 }?.1
    }

    /// The local directory a snapshot location names (`file:/p`, `file:///p`, `/p`); nil for
    /// other file systems (s3://, ...), which this machine cannot check.
    static func localPath(_ location: String) -> String? {
        if location.hasPrefix("/") { return location }
        guard location.hasPrefix("file:") else { return nil }
        var path = Substring(location.dropFirst("file:".count))
        while path.hasPrefix("//") { path = path.dropFirst() }
        return path.hasPrefix("/") ? String(path) : nil
    }

    /// Whether a snapshot's `_metadata` is on disk; nil when the location cannot be checked here.
    static func snapshotExists(_ location: String) -> Bool? {
        guard let path = localPath(location) else { return nil }
        return FileManager.default.fileExists(atPath: path + "/_metadata")
    }

    /// The restore points `job` records (`upgradeSavepointPath`, the savepoint history) that are
    /// not on disk.
    static func missingSnapshots(of job: JobStatus?) -> Set<String> {
        guard let job else { return [] }
        let recorded = [job.upgradeSavepointPath].compactMap { $0 } + (job.savepointInfo?.savepointHistory ?? []).map(\.location)
        return Set(recorded.filter { snapshotExists($0) == false })
    }

    /// Whether the TaskManager whose log is at `logPath` has registered with a JobManager since
    /// its process started (the log holds every start of the pod, each opening with its banner).
    /// Nil when the log exists but cannot be read: unknown, never "no". (No log at all: the
    /// process wrote nothing, so it logged no registration; the driver creates the log at spawn.)
    static func hasRegistered(logPath: String) -> Bool? {
        guard let handle = FileHandle(forReadingAtPath: logPath) else {
            return access(logPath, F_OK) != 0 && errno == ENOENT ? false : nil
        }
        defer { try? handle.close() }
        let data: Data
        do {
            let size = try handle.seekToEnd()
            try handle.seek(toOffset: size > 1 << 20 ? size - (1 << 20) : 0)
            data = try handle.readToEnd() ?? Data()
        } catch {
            return nil
        }
        let log = String(decoding: data, as: UTF8.self)
        let start = log.range(of: " Starting TaskManager", options: .backwards)?.upperBound ?? log.startIndex
        return log[start...].contains("Successful registration at resource manager")
    }

    /// Where a resource's checkpoints go: its own `execution.checkpointing.dir`, else the default.
    /// Why the checkpoint directory `resource` configures cannot be used: another local user
    /// could change the checkpoints a job restores from (`PathSafety`). Nil when it configures
    /// none (the state directory's is used), names remote storage, or is safe.
    static func storageProblem(of resource: FlinkResource?) -> DeploymentProblem? {
        let configuration: FlinkConfiguration? = switch resource {
        case .deployment(let d)?: d.spec.flinkConfiguration
        case .sessionJob(let j)?: j.spec.flinkConfiguration
        case .snapshot?, nil: nil
        }
        for key in ["execution.checkpointing.dir", "state.checkpoints.dir"] {
            guard let value = configuration?[key], let path = localPath(value), let problem = PathSafety.problem(path) else { continue }
            return DeploymentProblem(
                "spec.flinkConfiguration[\(key)]: checkpoint directory \(path) is not used: \(problem), so another user could change the state a job restores from; "
                    + (problem.fix.map { "fix: \($0)" } ?? "use a directory of your own that only you can write"),
                reason: "UnsafeDirectory")
        }
        return nil
    }

    static func checkpointDirectory(of resource: FlinkResource?, default directory: String) -> String {
        let configured: String? = switch resource {
        case .deployment(let d)?: d.spec.flinkConfiguration?["execution.checkpointing.dir"] ?? d.spec.flinkConfiguration?["state.checkpoints.dir"]
        case .sessionJob(let j)?: j.spec.flinkConfiguration?["execution.checkpointing.dir"] ?? j.spec.flinkConfiguration?["state.checkpoints.dir"]
        case .snapshot?, nil: nil
        }
        guard let configured else { return directory }
        return configured.hasPrefix("file://") ? String(configured.dropFirst("file://".count)) : configured
    }

    /// The jar `uri` names, read-only: its path when ready (and its content the `pinned`
    /// checksum's, when one is pinned), or what to fetch first.
    /// `flinkHome`: the distribution of the resource's version (`/opt/flink` in a `local://` URI);
    /// nil when it is not installed (the planner stalls on that first).
    func locate(_ uri: String?, pinned: String?, directory: String, flinkHome: String?) async -> (Result<String, DeploymentProblem>?, ArtifactFetch?) {
        guard let uri else { return (nil, nil) }
        do {
            switch try await artifacts.locate(uri, artifactsDirectory: directory, sha256: pinned, flinkHome: flinkHome ?? "/opt/flink") {
            case .ready(let artifact): return (.success(artifact.path), nil)
            case .needsFetch: return (nil, ArtifactFetch(uri: uri, directory: directory))
            }
        } catch .unsafe(let uri, let problem) {
            return (.failure(DeploymentProblem("spec.job.jarURI: \(ArtifactError.unsafe(uri: uri, problem: problem)); a running job keeps running",
                                               reason: "UnsafeJar")), nil)
        } catch .checksumMismatch(let uri, let expected, let actual) {
            return (.failure(DeploymentProblem(
                "metadata.annotations[\(ObjectMeta.jarSHA256Annotation)]: jar \"\(uri)\" does not match the pinned checksum: its SHA-256 is \(actual), the pin is \(expected); nothing is started with it (a running job keeps running): pin the jar's checksum or name the pinned jar",
                reason: "JarChecksumMismatch")), nil)
        } catch {
            return (.failure(DeploymentProblem("\(error)")), nil)
        }
    }

    /// Leases the cluster's ports; a newly leased port that another program holds is skipped.
    /// With a FlinkDeployment's `FlinkCluster.portCount` ports come its reporters'
    /// (`metricsPortCount`, as many TaskManagers), under `metricsPortLeaseOwner`.
    public func leasePorts(owner: String, count: Int, store: Store) throws {
        _ = try store.leasePorts(owner: owner, count: count, range: portRange, usable: { PortProbe.isFree($0) })
        _ = try store.leasePorts(owner: FlinkCluster.metricsPortLeaseOwner(owner), count: FlinkCluster.metricsPortCount(forPortCount: count), range: portRange,
                                 usable: { PortProbe.isFree($0) })
    }

    /// Names of the session jobs (recorded by the operator) that name this session cluster.
    /// A store that cannot be read is an error, never an empty answer.
    func sessionJobs(naming cluster: ResourceID, store: Store) throws -> [String] {
        let records = try store.resources(kind: .flinkSessionJob)
        return records.filter { record in
            guard record.namespace == cluster.namespace, case .sessionJob(let job)? = record.resource else { return false }
            return job.spec.deploymentName == cluster.name
        }.map(\.name)
    }


    /// Flink's own words for why a process failed, from the tail of its log: the root cause of
    /// the entrypoint's failure when it logged one (what went wrong first), else of the last
    /// exception logged. Errors threads print while the JVM shuts down (class loading after the
    /// class loader closed, ...) are consequences, never the reason.
    static func failureMessage(logPath: String) -> String? {
        guard let handle = FileHandle(forReadingAtPath: logPath) else { return nil }
        defer { try? handle.close() }
        let size = (try? handle.seekToEnd()) ?? 0
        try? handle.seek(toOffset: size > 65_536 ? size - 65_536 : 0)
        guard let data = try? handle.readToEnd() else { return nil }
        return failureMessage(log: String(decoding: data, as: UTF8.self))
    }

    static func failureMessage(log: String) -> String? {
        // Log records: a timestamped line and the lines (trace) that follow it.
        var records: [[Substring]] = []
        for line in log.split(separator: "\n") {
            if records.isEmpty || line.first.map({ $0.isNumber }) == true && line.dropFirst(4).first == "-" {
                records.append([line])
            } else {
                records[records.count - 1].append(line)
            }
        }
        func isException(_ line: Substring) -> Bool { line.hasPrefix("Caused by: ") || (line.contains("Exception: ") && !line.hasPrefix("\t")) }
        let failing = records.filter { $0.contains(where: isException) }
        let entrypoint = failing.first { record in
            record[0].contains("org.apache.flink.runtime.entrypoint.") || record[0].contains("Diagnostics ")
        }
        guard let record = entrypoint ?? failing.last else { return nil }
        let exceptions = record.filter(isException)
        var root = String(exceptions.last { $0.hasPrefix("Caused by: ") } ?? exceptions[0])
        if root.hasPrefix("Caused by: ") { root.removeFirst("Caused by: ".count) }
        // What failed, in the entrypoint's words, before the root cause.
        var headline = String(exceptions[0])
        if let range = headline.range(of: "Diagnostics ") { headline = String(headline[range.upperBound...]) }
        if let range = headline.range(of: "Exception: ") { headline = String(headline[range.upperBound...]) }
        let message = headline != root && !root.contains(headline) && exceptions.count > 1 ? "\(headline): \(root)" : root
        return String(message.prefix(500))
    }
}

// MARK: - Execute

extension FlinkBackend: ReconcilerBackend {
    public typealias Observation = FlinkObservation
    public typealias Action = FlinkAction
    public typealias Status = FlinkStatus
    public typealias Outcome = FlinkOutcome

    public func observe(_ context: ObservationContext) async throws -> FlinkObservation? {
        try await observe(context.id, desired: context.desired, record: context.record, pods: context.pods, layout: context.layout,
                          store: context.store, now: context.now, isDefined: context.isDefined)
    }

    public func reduce(_ status: AnyResourceStatus, outcome: FlinkOutcome) -> AnyResourceStatus {
        FlinkStatusReducer.reduce(status, outcome: outcome)
    }

    /// Carries out one Flink step: one request (never a wait for what it sets off: later
    /// reconciles observe that), a jar fetch, or savepoints deleted. Failures Flink reports
    /// become warning events with Flink's message; an unreachable cluster throws, so the
    /// reconcile is retried.
    public func execute(_ action: FlinkAction, for id: ResourceID, logger: Logger) async throws -> ActionResult<FlinkOutcome> {
        switch action {
        case .submit(let endpoint, let jar, let submission):
            // Write-ahead: which job the resource runs, for `flinklet recover` to find its
            // checkpoints among the session cluster's should the state database be lost.
            try FlinkRecovery.recordJob(submission.jobId, clusterDirectory: clusterDirectory(of: id))
            var jarId: String?
            do {
                jarId = try await client(endpoint).uploadJar(port: endpoint.port, path: jar)
                let request = FlinkClient.JobSubmission(
                    programArgs: submission.args, parallelism: submission.parallelism, savepointPath: submission.savepointPath,
                    allowNonRestoredState: submission.allowNonRestoredState, jobId: submission.jobId,
                    entryClass: submission.entryClass, flinkConfiguration: submission.configuration)
                _ = try await client(endpoint).runJar(port: endpoint.port, jarId: jarId!, submission: request)
                if let jarId { try? await client(endpoint).deleteJar(port: endpoint.port, jarId: jarId) }
                return ActionResult()
            } catch let error as FlinkRESTError {
                if let jarId { try? await client(endpoint).deleteJar(port: endpoint.port, jarId: jarId) }
                if error.isDuplicateSubmission {
                    return ActionResult()  // a retry of a submission that went through: the job runs once
                }
                if case .unreachable = error { throw error }
                // Said (event, status.error), and a failed reconcile: retried after the work
                // queue's backoff (doubling, up to minutes), never once a second for good.
                let cause = "job \(submission.jobId): \(error)"
                return ActionResult(events: [(.warning, "SubmitFailed", cause)], outcome: .submissionRefused(cause: cause),
                                    error: SubmissionRefused(message: cause))
            }
        case .cancel(let endpoint, let jobId):
            do {
                try await client(endpoint).cancel(port: endpoint.port, jobId: jobId)
            } catch let error as FlinkRESTError where error.status == 404 || error.status == 409 {
                return ActionResult()  // unknown, or already over
            }
            return ActionResult(events: [(.normal, "Cancel", "Cancelling job \(jobId)")])
        case .triggerSavepoint(let endpoint, let jobId, let directory, let triggerId):
            do {
                _ = try await client(endpoint).triggerSavepoint(port: endpoint.port, jobId: jobId, targetDirectory: directory, cancelJob: false, triggerId: triggerId)
                logger.info("savepoint triggered", metadata: ["job.id": "\(jobId)", "trigger.id": "\(triggerId)"])
                return ActionResult()
            } catch let error as FlinkRESTError {
                if case .unreachable = error { throw error }
                return ActionResult(events: [(.warning, "SavepointError", "savepoint of job \(jobId) refused: \(error)")], outcome: .snapshotTriggerRefused)
            }
        case .stopWithSavepoint(let endpoint, let jobId, let directory, let triggerId):
            do {
                _ = try await client(endpoint).stopWithSavepoint(port: endpoint.port, jobId: jobId, targetDirectory: directory, drain: false, triggerId: triggerId)
                logger.info("stop-with-savepoint triggered", metadata: ["job.id": "\(jobId)", "trigger.id": "\(triggerId)"])
                return ActionResult()
            } catch let error as FlinkRESTError {
                if case .unreachable = error { throw error }
                return ActionResult(events: [(.warning, "SavepointError", "stop-with-savepoint of job \(jobId) refused: \(error)")], outcome: .snapshotTriggerRefused)
            }
        case .fetchArtifact(let uri, let directory):
            do {
                _ = try await artifacts.resolve(uri, artifactsDirectory: directory)
                return ActionResult()
            } catch {
                // Said as an event, and the reconcile retried with backoff.
                return ActionResult(events: [(.warning, "JarNotFound", "\(error)")], error: error)
            }
        case .triggerStateSnapshot(let endpoint, let jobId, let checkpoint, let directory, let formatType, let triggerId, let lastAttempt):
            do {
                if checkpoint {
                    _ = try await client(endpoint).triggerCheckpoint(port: endpoint.port, jobId: jobId, triggerId: triggerId)
                } else {
                    _ = try await client(endpoint).triggerSavepoint(port: endpoint.port, jobId: jobId, targetDirectory: directory, formatType: formatType.rawValue, triggerId: triggerId)
                }
                logger.info("state snapshot triggered", metadata: ["job.id": "\(jobId)", "trigger.id": "\(triggerId)", "checkpoint": "\(checkpoint)"])
                return ActionResult()
            } catch let error as FlinkRESTError {
                if case .unreachable = error { throw error }
                let what = checkpoint ? "checkpoint" : "savepoint"
                return ActionResult(events: [(.warning, checkpoint ? "CheckpointError" : "SavepointError", "\(what) of job \(jobId) refused: \(error)")],
                                    outcome: .stateSnapshotRefused(cause: "\(error)", final: lastAttempt))
            }
        case .disposeStateSnapshot(let location):
            guard let path = Self.localPath(location), path != "/", !path.split(separator: "/").contains("..") else {
                return ActionResult(events: [(.warning, "CleanupFailed", "cannot dispose of savepoint \(location): not a directory on this machine")])
            }
            // Only a snapshot's own directory: it holds `_metadata`.
            guard FileManager.default.fileExists(atPath: path + "/_metadata") else { return ActionResult() }
            do {
                try FileManager.default.removeItem(atPath: path)
            } catch {
                return ActionResult(events: [(.warning, "CleanupFailed", "cannot dispose of savepoint \(location): \(error)")], error: error)
            }
            return ActionResult(events: [(.normal, "SnapshotDisposed", "Disposed of savepoint \(location) (disposeOnDelete)")])
        case .disposeSavepoints(let savepoints):
            // The plan's status, recorded ahead, no longer lists them.
            for savepoint in savepoints {
                // Only Flinklet's own savepoints are deleted from disk; others only leave the history.
                guard let path = Self.localPath(savepoint.location), path.hasPrefix(stateDirectory + "/"), !path.contains("/../") else { continue }
                try? FileManager.default.removeItem(atPath: path)
            }
            return ActionResult(events: [(.normal, "SavepointDisposed",
                                          "Disposed \(savepoints.count) savepoint(s) beyond the history's limits: \(savepoints.map(\.location).joined(separator: ", "))")])
        }
    }
}

/// Whether a loopback port can be bound now (another program may hold a port we never leased).
enum PortProbe {
    static func isFree(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        // No SO_REUSEADDR: a port whose connections linger in TIME_WAIT counts as busy, because
        // Flink's RPC service would fail to bind it too (measured: a TaskManager restarted on the
        // port of one killed a moment before crash-looped with a BindException).
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = in_addr_t(0x7F00_0001).bigEndian
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
    }
}

/// The kernel's range of ports for outgoing connections (`net.ipv4.ip_local_port_range`). A port
/// leased from inside it can be taken at any moment as the source port of some connection, and
/// the process meant to listen on it then fails to start ("Could not start rest endpoint on any
/// port"): leases belong below it.
public enum EphemeralPorts {
    public static let sysctlPath = "/proc/sys/net/ipv4/ip_local_port_range"

    /// The range as the kernel reports it ("32768\t60999"), or nil when unreadable.
    public static func parse(_ text: String) -> ClosedRange<Int>? {
        let numbers = text.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }).compactMap { Int($0) }
        guard numbers.count == 2, numbers[0] <= numbers[1] else { return nil }
        return numbers[0]...numbers[1]
    }

    public static func current() -> ClosedRange<Int>? {
        (try? String(contentsOfFile: sysctlPath, encoding: .utf8)).flatMap(parse)
    }

    /// A warning for a lease range that overlaps the ephemeral range, or nil when they are apart.
    public static func warning(leases: ClosedRange<Int>, ephemeral: ClosedRange<Int>) -> String? {
        guard leases.overlaps(ephemeral) else { return nil }
        return "--ports \(leases.lowerBound)-\(leases.upperBound) overlaps the kernel's ephemeral port range "
            + "\(ephemeral.lowerBound)-\(ephemeral.upperBound) (net.ipv4.ip_local_port_range): an outgoing connection can take a "
            + "leased port and the JobManager or TaskManager meant to bind it fails to start; choose a range below \(ephemeral.lowerBound)"
    }
}

/// A job submission Flink refused: the reconcile fails with it, so the next attempt backs off.
public struct SubmissionRefused: Error, Sendable, CustomStringConvertible {
    public var message: String
    public var description: String { "submission refused: \(message)" }
}
