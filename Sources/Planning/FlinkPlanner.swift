import FlinkResources
import Reconciliation
import Foundation

/// Decides, for a `FlinkDeployment` or a `FlinkSessionJob`, what runs and what the status says:
/// the clusters of the three modes as pods, session jobs as REST calls, and the job's status as
/// Flink reports it. Pure: everything it knows comes in `PlanInput` (pods, and the Flink
/// observation), everything it wants done goes out as steps.
///
/// Guarantees:
/// - Never starts pods without a jar that exists, an installed Flink distribution of the
///   manifest's `flinkVersion` (`FlinkDistributions.resolve`; the resource is `Stalled` with
///   reason `FlinkNotInstalled` until one is), and the ports they bind.
/// - A job id is derived from the resource and its generation: a retried submission reuses it,
///   so Flink refuses a second copy.
/// - A per-job cluster is torn down once its job ends; the status keeps the outcome.
/// - A session cluster is not deleted while session jobs name it (event `CleanupFailed`),
///   unless its configuration says `flinklet.session.block-on-session-jobs: "false"`.
/// - A deleted deployment's job is cancelled (or stopped with a savepoint when
///   `kubernetes.operator.job.savepoint-on-deletion` is `"true"`) before its pods stop.
public struct FlinkPlanner: ResourcePlanner {
    /// How soon to look again while a cluster or job is on its way.
    public var progressInterval: Duration = .seconds(1)
    /// How often to poll a running job's state (pod events wake a resource at once anyway).
    public var pollInterval: Duration = .seconds(2)

    public static let blockOnSessionJobsKey = "flinklet.session.block-on-session-jobs"
    /// Upstream's name for the same setting, read first.
    public static let upstreamBlockOnSessionJobsKey = "kubernetes.operator.session.deletion.block-on-session-jobs"
    public static let savepointOnDeletionKey = "kubernetes.operator.job.savepoint-on-deletion"

    public init() {}

    public func plan(_ input: PlanInput) -> Plan {
        switch input.id.kind {
        case .flinkDeployment: planDeployment(input)
        case .flinkSessionJob: planSessionJob(input)
        case .flinkStateSnapshot: planSnapshot(input)
        }
    }

    // MARK: - FlinkDeployment

    func planDeployment(_ input: PlanInput) -> Plan {
        guard input.isDefined else { return deleteDeployment(input) }
        guard let resource = input.resource, case .deployment(let deployment) = resource else { return PlanParts.neverValid(input) }
        if deployment.metadata.isCanary { return canary(input) }
        var steps: [Step] = PlanParts.validationEvents(input)
        guard let observation = input.flink else {
            return stalled(input, steps: steps, reason: "NotObserved", message: "the Flink side of the resource was not observed")
        }
        // The manifest's version must be installed before anything starts (nothing that runs is
        // touched: a running job keeps its last spec), and is looked for again on each reconcile.
        let distribution: FlinkDistribution
        switch observation.distributions.resolve(deployment.spec.flinkVersion) {
        case .success(let found): distribution = found
        case .failure(let problem): return stalled(input, steps: steps, reason: problem.reason ?? "FlinkNotFound", message: problem.message)
        }
        if let problem = observation.storageProblem {
            return stalled(input, steps: steps, reason: problem.reason ?? "UnsafeDirectory", message: problem.message)
        }
        let mode = deployment.spec.effectiveMode
        let hasJob = mode != .session && deployment.spec.job != nil
        // What the cluster needs before anything can be decided about it: its ports, its jar.
        let portsNeeded = FlinkCluster.portCount(deployment.spec)
        // The reporters' ports are leased with them (a cluster that configures its own reporters
        // leases them too, unused, so adding or removing a reporter never waits on a lease).
        if observation.ports.count < portsNeeded || observation.metricsPorts.count < FlinkCluster.metricsPortCount(deployment.spec) {
            return preparing(input, steps: steps + [.leasePorts(count: portsNeeded)])
        }
        if hasJob, let fetch = observation.jarFetch {
            return preparing(input, steps: steps + [.flink(.fetchArtifact(uri: fetch.uri, directory: fetch.directory))])
        }
        var jar: String?
        if hasJob {
            switch observation.jar {
            case .success(let path)?: jar = path
            case .failure(let problem)?: return stalled(input, steps: steps, reason: problem.reason ?? "JarNotFound", message: problem.message)
            case nil: return stalled(input, steps: steps, reason: "JarNotFound", message: "spec.job.jarURI: Required value")
            }
        }
        let observed = Dictionary(input.pods.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        let jobManagerName = FlinkCluster.jobManagerName(deployment.metadata.name)

        // Where the job's deployment stands: what to run, as which job, from which snapshot.
        var lifecycle: JobLifecycle?
        var target = deployment
        // A session cluster keeps its Flink version while jobs run in it (see `sessionVersionHold`).
        let versionHold = mode == .session ? Self.sessionVersionHold(deployment, observation: observation, pods: input.pods) : nil
        if let versionHold { target = versionHold.running }
        // During an upgrade, the TaskManagers of the job that replaces the running one.
        var standby: [PodPlan] = []
        var health: ClusterHealth.Evaluation?
        if hasJob, let job = deployment.spec.job {
            let recordedId = observation.recordedJob?.jobId
            let running = recordedId.flatMap { id in observation.jobs.first { $0.id == id } }
            let jm = observed[jobManagerName]
            if let recordedId, case .success(let next) = FlinkCluster.layout(of: deployment, observation: observation, distribution: distribution,
                                                             jobId: JobLifecycle.nextJobId(key: JobLifecycle.lineage(input), previous: recordedId), jar: jar) {
                standby = next.taskManagers
            }
            let standbyReady = standby.allSatisfy { plan in observed[plan.name].map { $0.planHash == plan.planHash && $0.ready } ?? false }
            health = ClusterHealth.evaluate(configuration: deployment.spec.flinkConfiguration ?? FlinkConfiguration(),
                                            recorded: ClusterHealth.Info(clusterInfo: observation.recordedClusterInfo),
                                            job: running, restarts: observation.restarts, latestCheckpoint: observation.latestCheckpoint,
                                            now: input.now)
            let decided = JobLifecycle.decide(
                key: JobLifecycle.lineage(input), generation: input.generation, desired: .deployment(deployment), job: job, observation: observation,
                running: running, rest: observation.rest.isAnswering ? observation.restEndpoint : nil,
                jobManagerLost: jm?.phase == .failed && observation.reconciliation?.state != .upgrading, standbyReady: standbyReady,
                unhealthy: health?.unhealthy, jobManagerGone: jm == nil || jm?.phase == .failed || jm?.phase == .succeeded,
                savepointDirectory: FlinkCluster.savepointDirectory(observation), now: input.now)
            lifecycle = decided
            if case .deployment(let d) = decided.target { target = d }
            steps += decided.steps
            if decided.phase != .snapshotting || decided.successorJobId == nil { standby = [] }
        }
        let spec = target.spec
        let jobId = lifecycle?.jobId
        // A rolled-back job runs the last stable spec's jar (another URI, or another version's
        // `/opt/flink`), never the manifest's.
        if lifecycle?.rolledBack == true, let stableJar = observation.stableJar {
            switch stableJar {
            case .success(let path): jar = path
            case .failure(let problem): return stalled(input, steps: steps, reason: problem.reason ?? "JarNotFound", message: "rollback: \(problem.message)")
            }
        }
        // A refused downgrade runs on the jar its cluster was started with (the newer version's
        // `/opt/flink`), never the manifest's.
        if lifecycle?.downgradeRefused != nil, let running = observation.recordedClusterInfo?["jar"] { jar = running }
        // What runs is the target's version (a rolled-back spec's may be another than the manifest's).
        let targetDistribution: FlinkDistribution
        switch observation.distributions.resolve(spec.flinkVersion) {
        case .success(let found): targetDistribution = found
        case .failure(let problem): return stalled(input, steps: steps, reason: problem.reason ?? "FlinkNotFound", message: problem.message)
        }
        var layout: FlinkCluster.Layout
        switch FlinkCluster.layout(of: target, observation: observation, distribution: targetDistribution, jobId: jobId, jar: jar,
                                   restorePath: lifecycle?.restorePath) {
        case .success(let value): layout = value
        case .failure(let problem): return stalled(input, steps: steps, reason: "DeploymentFailed", message: problem.message)
        }
        // The JobManager of this plan restarted in place (a session cluster's): its TaskManagers follow.
        if let jm = observed[layout.jobManager.name], jm.planHash == layout.jobManager.planHash, jm.restartCount > 0,
           case .success(let restarted) = FlinkCluster.layout(of: target, observation: observation, distribution: targetDistribution, jobId: jobId,
                                                              jar: jar, restorePath: lifecycle?.restorePath, jobManagerRestarts: jm.restartCount) {
            layout = restarted
        }

        // Pods an earlier Flinklet rendered differently (another reporter, another configuration
        // key) keep running while nothing about their job changes, as upstream leaves a
        // JobManager Deployment that an older operator rendered alone until the resource's next
        // upgrade: replacing a live JobManager for that would start its job again from empty
        // state, with no savepoint taken. The next spec change, suspension or recovery goes
        // through the lifecycle and starts pods of the current rendering.
        // Kept only while that JobManager runs this job: one that answers without it is the
        // previous job's (the operator died between its savepoint and the successor's cluster),
        // and gives way. One that does not answer is kept (unknown is not "another job").
        let runsAnotherJob = observation.rest.isAnswering && !observation.jobs.contains { $0.id == lifecycle?.jobId }
        if mode != .session, let lifecycle, lifecycle.phase == .run, !lifecycle.redeploying, !runsAnotherJob,
           let recordedId = observation.recordedJob?.jobId, recordedId == lifecycle.jobId {
            layout.keepEarlierRenderings(of: observed)
        }

        let recorded = lifecycle?.jobStatus
        let observedJob = jobId.flatMap { id in observation.jobs.first { $0.id == id } }
        let recordedOutcome = recorded.flatMap { $0.jobId == jobId && $0.flinkState?.isTerminal == true ? $0.flinkState : nil }
        let outcome = observedJob.flatMap { $0.isTerminal ? $0.state : nil } ?? recordedOutcome
        let jobManager = observed[layout.jobManager.name].flatMap { $0.planHash == layout.jobManager.planHash ? $0 : nil }

        // What should run.
        var wanted = [layout.jobManager] + layout.taskManagers
        var waitingForSlot = false
        if lifecycle?.phase == .suspended { wanted = [] }
        // A cluster starts only in a free start slot (its pods that already run stay).
        var waitingForStart = false
        if jobManager == nil, !observation.clusterStartSlotFree, !wanted.isEmpty {
            wanted = wanted.filter { $0.role != .jobManager && observed[$0.name]?.planHash == $0.planHash }
            waitingForStart = true
        }
        // While the old job's snapshot is taken (or an upgrade waits), its pods stay exactly as
        // they are: none is started, stopped or replaced.
        let keepAsIs: Bool = switch lifecycle?.phase { case .snapshotting?, .waiting?, .blocked?: true; default: false }
        if mode == .perJob, !keepAsIs, lifecycle?.phase != .suspended {
            if outcome != nil {
                wanted = []  // the job is over: tear the cluster down, keep the outcome
            } else if let submitter = layout.submitter {
                if let pod = observed[submitter.name], pod.planHash == submitter.planHash {
                    // Running or done: leave it (a failed one keeps its log). A lost one (it ended
                    // while no operator watched) is forgotten, then started again if its job is not there.
                    if pod.reason != "Lost" { wanted.append(submitter) }
                } else if observedJob == nil, jobManager?.ready == true, observation.rest.isAnswering {
                    if observation.submissionSlotFree { wanted.append(submitter) } else { waitingForSlot = true }
                } else if observed[layout.jobManager.name] == nil, wanted.contains(where: { $0.name == layout.jobManager.name }),
                          observation.submissionSlotFree {
                    // A JobManager that starts now has no job yet: its client starts with it, and
                    // builds the job graph while the JobManager comes up (the client retries
                    // until REST answers, `FlinkCluster.submitterRetry`). Without a free slot, it
                    // waits for the JobManager to answer, as above.
                    wanted.append(submitter)
                }
            }
        }
        // While the old job runs on, the new job's TaskManagers start (on the cluster's other
        // side: their own ports, waiting for their own JobManager), so they are warm when it starts.
        let standbyNames = Set(standby.map(\.name))
        let standbyDiff = PodDiff(wanted: standby, observed: input.pods.filter { standbyNames.contains($0.name) })
        steps += standbyDiff.steps
        if !standbyDiff.starting.isEmpty, let next = lifecycle?.successorJobId {
            steps.append(.event(type: .normal, reason: "Scheduled",
                                message: "Starting \(standbyDiff.starting.count) TaskManager(s) for job \(next) while job \(jobId ?? "") still runs"))
        }
        var diff = keepAsIs ? PodDiff(wanted: [], observed: []) : PodDiff(wanted: wanted, observed: input.pods)
        if diff.starting.contains(layout.jobManager.name) {
            // A new JobManager never meets TaskManagers that registered with an earlier one: they
            // would hold the earlier incarnation's registration of the job (Flink then fails
            // every deployment of its tasks with "library registration references a different
            // set of library BLOBs"). They restart with it.
            for plan in layout.taskManagers where observation.registeredTaskManagers.contains(plan.name)
                && !diff.starting.contains(plan.name) && !diff.waiting.contains(plan.name) {
                diff.replace(plan.name, reason: "registered with an earlier JobManager")
            }
        }
        diff.steps = Self.admissions(diff.steps, input: input, layout: layout, observed: observed, observation: observation,
                                     starting: diff.starting)
        steps += diff.steps
        if !diff.stopping.isEmpty {
            steps.append(.event(type: .normal, reason: "Killing", message: "Stopping pod(s) \(diff.stopping.joined(separator: ", "))"))
        }
        if diff.starting.contains(layout.jobManager.name) {
            let what = switch mode {
            case .application: "Starting application cluster: JobManager and \(layout.taskManagers.count) TaskManager(s), job \(jobId ?? "")"
            case .perJob: "Starting per-job cluster: JobManager and \(layout.taskManagers.count) TaskManager(s)"
            case .session: "Starting session cluster: JobManager and \(layout.taskManagers.count) TaskManager(s)"
            }
            steps.append(.event(type: .normal, reason: "Submit", message: what))
        }
        if let submitter = layout.submitter, diff.starting.contains(submitter.name) {
            steps.append(.event(type: .normal, reason: "Submit", message: "Submitting job \(jobId ?? "") with the Flink client (flink run -d)"))
        }
        if mode == .perJob, let outcome, !diff.stopping.isEmpty {
            steps.append(.event(type: .normal, reason: "Cleanup", message: "Job \(outcome): tearing down the per-job cluster"))
        }

        // The job as Flink reports it.
        var jobStatus = recorded ?? JobStatus()
        if hasJob, let observedJob { steps += Self.follow(observedJob, into: &jobStatus, now: input.now) }

        // Manual and periodic savepoints of a running job, and the history's cleanup.
        var savepointsWriteAhead = false
        if let lifecycle, lifecycle.phase == .run, !lifecycle.redeploying, let job = spec.job, let observedJob, observedJob.state == .running,
           observedJob.allTasksRunning, let rest = observation.restEndpoint, observation.rest.isAnswering {
            let policySteps = SavepointPolicy.steps(job: job, configuration: spec.flinkConfiguration ?? FlinkConfiguration(), status: &jobStatus,
                                                    pending: observation.pendingSnapshot, rest: rest, jobId: observedJob.id,
                                                    savepointDirectory: FlinkCluster.savepointDirectory(observation), now: input.now)
            savepointsWriteAhead = SavepointPolicy.needsWriteAhead(policySteps)
            steps += policySteps
        }

        // Status.
        let submitterPod = layout.submitter.flatMap { plan in observed[plan.name].flatMap { $0.planHash == plan.planHash ? $0 : nil } }
        let taskManagersRegistered: Int = if case .answering(let count, _) = observation.rest { count } else { 0 }
        let clusterReady = jobManager?.ready == true && taskManagersRegistered >= layout.taskManagers.count
        let jobRunning = observedJob.map { $0.state == .running && $0.allTasksRunning } ?? false
        var problem: (reason: String, message: String)?
        let jobManagerReplaced = keepAsIs || (observed[layout.jobManager.name].map { $0.planHash != layout.jobManager.planHash } ?? false)
        if jobManagerReplaced {
            // A JobManager being replaced (upgrade, recovery) is not a problem of the new one.
        } else if mode != .perJob || outcome == nil, let jm = observed[layout.jobManager.name], jm.phase == .failed, jm.reason == "Lost" {
            problem = ("Missing", "Missing JobManager: the process of pod \(jm.name) ended while the operator was not watching")
        } else if mode != .perJob || outcome == nil, let jm = observed[layout.jobManager.name], jm.phase == .failed {
            problem = ("JobManagerFailed", "JobManager \(jm.name) exited" + (jm.exitCode.map { " with code \($0)" } ?? "")
                       + (observation.podFailures[jm.name].map { ": \($0)" } ?? ""))
        } else if let pod = submitterPod, pod.phase == .failed, pod.reason != "Lost", observedJob == nil {
            // A client whose job Flink lists did submit it, whatever its exit says: one adopted
            // from an earlier operator exits with an unknown status, and its log holds the
            // refused connections of its retries while the JobManager started.
            problem = ("SubmitFailed", "the Flink client could not submit the job" + (pod.exitCode.map { " (exit code \($0))" } ?? "")
                       + (observation.podFailures[pod.name].map { ": \($0)" } ?? ""))
        } else if let stuck = diff.current.first(where: { $0.reason == "CrashLoopBackOff" }) {
            problem = ("CrashLoopBackOff", "pod \(stuck.name) keeps failing" + (stuck.exitCode.map { " (exit code \($0))" } ?? "")
                       + (observation.podFailures[stuck.name].map { ": \($0)" } ?? ""))
        } else if jobStatus.flinkState == .failed {
            problem = ("JobFailed", "job \(jobId ?? "") FAILED" + (observation.podFailures[layout.jobManager.name].map { ": \($0)" } ?? ""))
        } else if mode == .application, jobStatus.flinkState == .canceled, lifecycle?.phase == .run, lifecycle?.redeploying == false {
            // Nobody here asked for it: the job ended by itself (e.g. its main() failed after
            // submitting, or someone cancelled it through the REST API). Say so; never "deploying".
            problem = ("JobCancelled", "job \(jobId ?? "") was CANCELED without Flinklet asking"
                       + (observation.podFailures[layout.jobManager.name].map { ": \($0)" } ?? "")
                       + "; change the spec (or spec.restartNonce) to deploy it again")
        }
        if let problem, !(input.conditions.contains { $0.type == Conditions.stalled && $0.reason == problem.reason }) {
            steps.append(.event(type: .warning, reason: problem.reason, message: problem.message))
        }

        let done: Bool
        let readyCondition: Condition
        let generation = input.generation
        if let outcome, mode == .perJob {
            done = diff.steps.isEmpty
            readyCondition = Condition(type: Conditions.ready, status: outcome == .finished ? .true : .false, reason: "Job\(outcome.rawValue.capitalized)",
                                       message: "job \(jobId ?? "") is \(outcome); the cluster is torn down", observedGeneration: generation)
        } else if !hasJob {
            done = clusterReady
            readyCondition = Condition(type: Conditions.ready, status: clusterReady ? .true : .false, reason: clusterReady ? "ClusterReady" : "ClusterNotReady",
                                       message: "JobManager \(jobManager?.ready == true ? "ready" : "not ready"), \(taskManagersRegistered) of \(layout.taskManagers.count) TaskManager(s) registered",
                                       observedGeneration: generation)
        } else if lifecycle?.phase == .suspended {
            // Suspended on purpose is where the spec wants it: Ready, not reconciling (kstatus
            // reads Current; `kubectl wait --for=condition=Ready` returns), once the pods are gone.
            done = diff.steps.isEmpty && diff.stopping.isEmpty
            readyCondition = Condition(type: Conditions.ready, status: done ? .true : .false, reason: done ? "Suspended" : "Suspending",
                                       message: done ? "job \(jobId ?? "") is suspended (spec.job.state: suspended)" : "stopping the cluster of a suspended job",
                                       observedGeneration: generation)
        } else {
            let finished = outcome == .finished
            done = clusterReady && (jobRunning || finished)
            readyCondition = Condition(type: Conditions.ready, status: done ? .true : .false, reason: done ? (finished ? "JobFinished" : "JobRunning") : "Deploying",
                                       message: "JobManager \(jobManager?.ready == true ? "ready" : "not ready"), \(taskManagersRegistered) of \(layout.taskManagers.count) TaskManager(s) registered, job \(jobStatus.state ?? "RECONCILING")",
                                       observedGeneration: generation)
        }
        var conditions = [readyCondition]
        if case .blocked(let reason, let message)? = lifecycle?.phase {
            // The spec is not applied (the last one runs on): say why, not how its pods look.
            conditions = [Condition(type: Conditions.ready, status: .false, reason: reason, message: message, observedGeneration: generation)]
        } else if let refused = lifecycle?.downgradeRefused {
            conditions = [Condition(type: Conditions.ready, status: .false, reason: JobLifecycle.flinkVersionDowngrade, message: refused,
                                    observedGeneration: generation)]
        }
        if hasJob {
            conditions.append(Condition(type: "Running", status: jobRunning ? .true : .false, reason: jobStatus.state ?? "RECONCILING",
                                        message: jobRunning ? "all tasks of job \(jobId ?? "") are running" : "job \(jobId ?? "") is \(jobStatus.state ?? "RECONCILING")",
                                        observedGeneration: generation))
        }
        if let versionHold, versionHold.downgrade {
            conditions.append(Condition(type: Conditions.stalled, status: .true, reason: JobLifecycle.flinkVersionDowngrade, message: versionHold.message,
                                        observedGeneration: generation))
            if !(input.conditions.contains { $0.type == Conditions.stalled && $0.reason == JobLifecycle.flinkVersionDowngrade }) {
                steps.append(.event(type: .warning, reason: JobLifecycle.flinkVersionDowngrade, message: versionHold.message))
            }
        } else if let versionHold {
            conditions.append(Condition(type: Conditions.reconciling, status: .true, reason: Self.sessionJobsRunning, message: versionHold.message,
                                        observedGeneration: generation))
            if !(input.conditions.contains { $0.type == Conditions.reconciling && $0.reason == Self.sessionJobsRunning }) {
                steps.append(.event(type: .normal, reason: Self.sessionJobsRunning, message: versionHold.message))
            }
        } else if case .blocked(let reason, let message)? = lifecycle?.phase {
            conditions.append(Condition(type: Conditions.stalled, status: .true, reason: reason, message: message, observedGeneration: generation))
        } else if let refused = lifecycle?.downgradeRefused {
            // Stalled whatever its pods do meanwhile (a lost JobManager is recovered on the version it ran).
            conditions.append(Condition(type: Conditions.stalled, status: .true, reason: JobLifecycle.flinkVersionDowngrade, message: refused,
                                        observedGeneration: generation))
            if !(input.conditions.contains { $0.type == Conditions.stalled && $0.reason == JobLifecycle.flinkVersionDowngrade }) {
                steps.append(.event(type: .warning, reason: JobLifecycle.flinkVersionDowngrade, message: refused))
            }
        } else if case .waiting(let message)? = lifecycle?.phase {
            conditions.append(Condition(type: Conditions.reconciling, status: .true, reason: "Upgrading", message: message, observedGeneration: generation))
        } else if lifecycle?.phase == .snapshotting {
            conditions.append(Condition(type: Conditions.reconciling, status: .true, reason: "Upgrading",
                                        message: "taking a snapshot of job \(jobId ?? "") before it is replaced", observedGeneration: generation))
        } else if let problem {
            conditions.append(Condition(type: Conditions.stalled, status: .true, reason: problem.reason, message: problem.message, observedGeneration: generation))
        } else if !done {
            let (reason, message) = lifecycle?.phase == .suspended ? ("Suspending", "stopping the cluster of a suspended job")
                : waitingForStart ? ("WaitingForStartSlot", "waiting for a free cluster start slot (--max-concurrent-cluster-starts)")
                : waitingForSlot ? ("WaitingForSubmissionSlot", "waiting for a free submission slot (--max-concurrent-submissions)")
                : ("Deploying", "deploying")
            conditions.append(Condition(type: Conditions.reconciling, status: .true, reason: reason, message: message, observedGeneration: generation))
        }

        let jmStatus: JobManagerDeploymentStatus = if outcome != nil && mode == .perJob { .missing }
            else if let jm = observed[layout.jobManager.name], jm.phase == .failed { .error }
            else if diff.starting.contains(layout.jobManager.name) || diff.waiting.contains(layout.jobManager.name) { .deploying }
            else if jobManager?.ready == true { .ready }
            else if jobManager != nil { .deployedNotReady }
            else { .missing }
        // The protocol of the JobManager that runs (an earlier Flinklet's may speak plain HTTP).
        let endpoint = RESTEndpoint(port: layout.restPort, scheme: observation.restEndpoint?.scheme ?? (observation.tls == nil ? .http : .https))
        // The version of the JobManager that runs: while an old job's snapshot is taken for an
        // upgrade, the old one's (what `JobLifecycle.upgradeMode` reads a version change from).
        let runningVersion = keepAsIs ? observation.recordedClusterInfo?["flink-version"] ?? targetDistribution.version : targetDistribution.version
        var clusterInfo = ["flink-version": runningVersion, "rest-port": String(layout.restPort),
                           "rest-url": endpoint.url, "mode": mode.rawValue]
        if let image = spec.image { clusterInfo["image"] = image }
        if let remembered = health?.info.encoded ?? observation.recordedClusterInfo?[ClusterHealth.Info.clusterInfoKey] {
            clusterInfo[ClusterHealth.Info.clusterInfoKey] = remembered
        }
        if let jar { clusterInfo["jar"] = jar }
        if let port = layout.jobManager.metricsPort { clusterInfo["jobmanager-metrics-port"] = String(port) }
        let tmMetrics = layout.taskManagers.compactMap(\.metricsPort)
        if !tmMetrics.isEmpty { clusterInfo["taskmanager-metrics-ports"] = tmMetrics.map(String.init).joined(separator: ",") }
        let flinkStatus = FlinkStatus(jobStatus: hasJob ? jobStatus : nil, clusterInfo: clusterInfo, jobManagerDeploymentStatus: jmStatus,
                                      taskManager: TaskManagerInfo(labelSelector: "flinklet.dev/owner=\(input.id.key),flinklet.dev/role=taskmanager",
                                                                   replicas: layout.taskManagers.count))
        var lifecycleState: ResourceLifecycleState = problem != nil ? .failed : done ? .stable : .deployed
        var reconciliation = lifecycle?.reconciliation
        if !hasJob {
            // A session cluster has no job lifecycle, but its reconciliation status is filled as
            // upstream fills it (Argo CD's built-in health check reads `state`): the spec acted
            // on, DEPLOYED, and the spec that reached a ready cluster.
            let specJSON = JobLifecycle.specJSONOf(.deployment(target))
            var session = observation.reconciliation ?? ReconciliationStatus()
            if session.lastReconciledSpec != specJSON || session.state != .deployed {
                session = ReconciliationStatus(reconciliationTimestamp: Int64(input.now.timeIntervalSince1970 * 1000), lastReconciledSpec: specJSON,
                                               lastStableSpec: session.lastStableSpec, state: .deployed)
            }
            if done { session.lastStableSpec = specJSON }
            reconciliation = session
        }
        switch lifecycle?.phase {
        case .snapshotting?: lifecycleState = .upgrading
        case .suspended?: lifecycleState = .suspended
        case .waiting?: lifecycleState = .upgrading
        case .blocked(let reason, let message)?:
            lifecycleState = .failed
            if !(input.conditions.contains { $0.type == Conditions.stalled && $0.reason == reason }) {
                steps.append(.event(type: .warning, reason: reason, message: message))
            }
        default: break
        }
        if lifecycle?.rolledBack == true, problem == nil { lifecycleState = done ? .rolledBack : .rollingBack }
        if lifecycle?.downgradeRefused != nil { lifecycleState = .failed }  // as a blocked spec: the manifest's is not applied
        if done, lifecycle?.phase == .run, reconciliation?.state == .deployed {
            let reached = reconciliation?.lastReconciledSpec
            reconciliation?.lastStableSpec = reached  // the spec that reached a running job
        }
        // A JobManager that answers while its TaskManagers register (they do within a second of
        // it, on one machine) is looked at again soon, so the cluster reads Ready, and wakes its
        // session jobs, without a whole progress interval's wait; only in its first
        // `startWindow`, so a TaskManager that never registers is not polled for ever.
        let registering = jobManager?.ready == true && taskManagersRegistered < layout.taskManagers.count
            && (jobManager?.startedAt.map { input.now.timeIntervalSince($0) < Self.startWindow } ?? false)
        let next: ReconcileAction = if mode == .perJob && outcome != nil && diff.steps.isEmpty { .awaitChange }
            else if problem != nil { .requeue(after: pollInterval) }
            else if done { .requeue(after: pollInterval) }
            else if registering || Self.deploying(observedJob, now: input.now) { .requeue(after: Self.startPoll) }
            else { .requeue(after: progressInterval) }
        var status = flinkStatus
        status.reconciliation = reconciliation
        status.writeAhead = (lifecycle?.writeAhead ?? false) || savepointsWriteAhead
        var finalNext = next
        if keepAsIs { finalNext = .requeue(after: .milliseconds(200)) }
        if case .waiting? = lifecycle?.phase { finalNext = .requeue(after: .seconds(1)) }
        if case .blocked? = lifecycle?.phase { finalNext = .requeue(after: .seconds(10)) }
        if lifecycle?.phase == .suspended { finalNext = diff.steps.isEmpty ? .awaitChange : .requeue(after: progressInterval) }
        // A session cluster that becomes ready (or stops being ready) wakes its session jobs,
        // which wait for exactly that.
        let wasReady = input.conditions.contains { $0.type == Conditions.ready && $0.status == .true }
        let wake = mode == .session && wasReady != (readyCondition.status == .true)
            ? observation.sessionJobs.sorted().map { ResourceID(kind: .flinkSessionJob, namespace: input.id.namespace, name: $0) } : []
        return Plan(steps: steps, conditions: Conditions.merge(previous: input.conditions, next: PlanParts.stallingOnValidationErrors(conditions, input), now: input.now),
                    error: PlanParts.errorText(input) ?? problem?.message, lifecycleState: lifecycleState,
                    observedGeneration: done || problem != nil || diff.steps.isEmpty ? generation : nil,
                    domainStatus: status, next: finalNext, wake: wake)
    }

    /// How long a starting cluster may hold its start slot (one that never gets ready must not
    /// block the others).
    public static let clusterStartLimit: TimeInterval = 90

    /// The admission steps around `steps`: a slot is taken right before the JobManager (or the
    /// submitter) starts; a slot is held (forced) while that work is found under way without one
    /// (after an operator restart), and given back once it is over.
    static func admissions(_ steps: [Step], input: PlanInput, layout: FlinkCluster.Layout, observed: [String: ObservedPod],
                           observation: FlinkObservation, starting: [String]) -> [Step] {
        var steps = steps
        let holder = input.id.key
        func insertBefore(_ pod: String, _ step: Step) {
            let index = steps.firstIndex { if case .startPod(let plan) = $0 { plan.name == pod } else { false } } ?? steps.endIndex
            steps.insert(step, at: index)
        }
        let held = observation.admissionsHeld
        // A cluster start: the JobManager's start until it is ready with its TaskManagers.
        let registered: Int = if case .answering(let count, _) = observation.rest { count } else { 0 }
        let jm = observed[layout.jobManager.name].flatMap { $0.planHash == layout.jobManager.planHash && !$0.isTerminating ? $0 : nil }
        let clusterStarting = jm.map { pod in
            pod.phase == .running && !(pod.ready && registered >= layout.taskManagers.count)
                && input.now.timeIntervalSince(pod.startedAt ?? input.now) < clusterStartLimit
        } ?? false
        if starting.contains(layout.jobManager.name) {
            if !held.contains(.clusterStart) { insertBefore(layout.jobManager.name, .admit(.clusterStart, holder: holder, force: false)) }
        } else if clusterStarting {
            if !held.contains(.clusterStart) { steps.append(.admit(.clusterStart, holder: holder, force: true)) }
        } else if held.contains(.clusterStart) {
            steps.append(.release(.clusterStart, holder: holder))
        }
        // A Flink client: while the submitter runs.
        if let submitter = layout.submitter {
            let pod = observed[submitter.name].flatMap { $0.planHash == submitter.planHash && !$0.isTerminating ? $0 : nil }
            let running = pod.map { $0.phase == .running || $0.phase == .pending } ?? false
            if starting.contains(submitter.name) {
                if !held.contains(.submission) { insertBefore(submitter.name, .admit(.submission, holder: holder, force: false)) }
            } else if running {
                if !held.contains(.submission) { steps.append(.admit(.submission, holder: holder, force: true)) }
            } else if held.contains(.submission) {
                steps.append(.release(.submission, holder: holder))
            }
        } else if held.contains(.submission) {
            steps.append(.release(.submission, holder: holder))
        }
        return steps
    }

    func deleteDeployment(_ input: PlanInput) -> Plan {
        var steps: [Step] = []
        let observation = input.flink
        let lastKnown: FlinkDeployment? = if case .deployment(let d)? = observation?.lastKnown { d } else { nil }
        let configuration = lastKnown?.spec.flinkConfiguration ?? FlinkConfiguration()

        if let observation, !observation.sessionJobs.isEmpty, (configuration[Self.upstreamBlockOnSessionJobsKey] ?? configuration[Self.blockOnSessionJobsKey]) != "false", !input.pods.isEmpty {
            let message = "The session jobs [\(observation.sessionJobs.sorted().joined(separator: ", "))] should be deleted first"
            return Plan(steps: [.event(type: .warning, reason: "CleanupFailed", message: message)],
                        conditions: Conditions.merge(previous: input.conditions, next: [
                            Condition(type: Conditions.ready, status: .false, reason: "Deleting", message: message, observedGeneration: input.generation),
                            Condition(type: Conditions.stalled, status: .true, reason: "CleanupFailed", message: message, observedGeneration: input.generation),
                        ], now: input.now),
                        error: message, lifecycleState: .deleting, next: .requeue(after: .seconds(5)))
        }
        if let observation, case .answering = observation.rest, let rest = observation.restEndpoint {
            let nowMillis = Int64(input.now.timeIntervalSince1970 * 1000)
            var jobStatus = observation.recordedJob ?? JobStatus()
            for job in observation.jobs where !job.isTerminal {
                guard configuration[Self.savepointOnDeletionKey] == "true", job.id == jobStatus.jobId, job.state == .running else {
                    steps.append(.flink(.cancel(rest: rest, jobId: job.id)))
                    continue
                }
                // Stop-with-savepoint, followed across reconciles (never waited for): on record
                // first, then asked for; the pods stop once it completed, failed or timed out.
                let directory = FlinkCluster.savepointDirectory(observation)
                var info = jobStatus.savepointInfo ?? SavepointInfo()
                guard let trigger = SnapshotTrigger(info), trigger.stopsJob else {
                    let trigger = SnapshotTrigger.make(jobId: job.id, type: .upgrade, now: nowMillis)
                    jobStatus.savepointInfo = trigger.recorded(in: info)
                    return deleting(input, steps: steps + [.flink(.stopWithSavepoint(rest: rest, jobId: job.id, directory: directory, triggerId: trigger.id))],
                                    jobStatus: jobStatus, message: "stopping job \(job.id) with a savepoint before its cluster is deleted")
                }
                switch observation.pendingSnapshot {
                case .completed(let location)?:
                    info.append(Savepoint(timeStamp: nowMillis, location: location, triggerType: .upgrade, formatType: .canonical))
                    info.endTrigger()
                    steps.append(.event(type: .normal, reason: "SavepointCreated", message: "Stopped job \(job.id) with a savepoint at \(location)"))
                case .failed(let cause)?:
                    info.endTrigger()
                    steps.append(.flink(.cancel(rest: rest, jobId: job.id)))
                    steps.append(.event(type: .warning, reason: "SavepointError", message: "Savepoint of job \(job.id) failed: \(cause); the job was cancelled"))
                case .notFound?:
                    return deleting(input, steps: steps + [.flink(.stopWithSavepoint(rest: rest, jobId: job.id, directory: directory, triggerId: trigger.id))],
                                    jobStatus: jobStatus, message: "stopping job \(job.id) with a savepoint before its cluster is deleted")
                case .inProgress?, .unknown?, nil:
                    if nowMillis - trigger.timestamp < Self.deletionSavepointTimeoutMillis {
                        return deleting(input, steps: steps, jobStatus: jobStatus, message: "waiting for the savepoint of job \(job.id) before its cluster is deleted")
                    }
                    info.endTrigger()
                    steps.append(.flink(.cancel(rest: rest, jobId: job.id)))
                    steps.append(.event(type: .warning, reason: "SavepointError",
                                        message: "Savepoint of job \(job.id) did not complete within \(Self.deletionSavepointTimeoutMillis / 1000) s; the job was cancelled"))
                }
                jobStatus.savepointInfo = info
            }
        }
        if var stopping: Plan = PlanParts.stopAll(input, reason: "resource deleted") {
            stopping.steps = steps + stopping.steps
            return stopping
        }
        if let observation {
            // Savepoints stay (they are how a deleted job's state is kept); everything else goes.
            steps.append(.removeDirectories([observation.podRoot, observation.clusterDirectory + "/checkpoints",
                                             observation.clusterDirectory + "/artifacts"]))
        }
        steps.append(.forget)
        return Plan(steps: steps, next: .awaitChange)
    }

    /// How long a deleted deployment's stop-with-savepoint may take before the job is cancelled.
    public static let deletionSavepointTimeoutMillis: Int64 = 60_000

    /// A deletion waiting on its job: nothing stops yet; the job status (with its trigger) is
    /// recorded before the steps.
    func deleting(_ input: PlanInput, steps: [Step], jobStatus: JobStatus, message: String) -> Plan {
        Plan(steps: steps, conditions: Conditions.merge(previous: input.conditions, next: [
            Condition(type: Conditions.ready, status: .false, reason: "Deleting", message: message, observedGeneration: input.generation),
            Condition(type: Conditions.reconciling, status: .true, reason: "Deleting", message: message, observedGeneration: input.generation),
        ], now: input.now), lifecycleState: .deleting, domainStatus: FlinkStatus(jobStatus: jobStatus, writeAhead: true),
        next: .requeue(after: .milliseconds(200)))
    }

    // MARK: - FlinkSessionJob

    func planSessionJob(_ input: PlanInput) -> Plan {
        guard input.isDefined else { return deleteSessionJob(input) }
        guard let resource = input.resource, case .sessionJob(let sessionJob) = resource else { return PlanParts.neverValid(input) }
        if sessionJob.metadata.isCanary { return canary(input) }
        var steps: [Step] = PlanParts.validationEvents(input)
        guard let observation = input.flink else {
            return stalled(input, steps: steps, reason: "NotObserved", message: "the Flink side of the resource was not observed")
        }
        let deploymentName = sessionJob.spec.deploymentName ?? ""
        guard let session = observation.session, session.isDefined else {
            return waiting(input, steps: steps, reason: "SessionClusterMissing",
                           message: "waiting for FlinkDeployment \"\(deploymentName)\" (the session cluster named by spec.deploymentName)")
        }
        guard session.isSession else {
            return stalled(input, steps: steps, reason: "NotASessionCluster",
                           message: "spec.deploymentName: FlinkDeployment \"\(deploymentName)\" is not a session cluster (it runs its own job)")
        }
        guard session.isReady, let rest = session.rest else {
            return waiting(input, steps: steps, reason: "SessionClusterNotReady", message: "waiting for session cluster \"\(deploymentName)\" to be ready")
        }
        guard case .answering = observation.rest else {
            // Never act on what could not be seen: a job that looks absent may be running.
            return waiting(input, steps: steps, reason: "SessionClusterUnreachable",
                           message: "waiting for the REST API of session cluster \"\(deploymentName)\" to answer")
        }
        if let problem = observation.storageProblem {
            return stalled(input, steps: steps, reason: problem.reason ?? "UnsafeDirectory", message: problem.message)
        }
        // The session cluster moves to another Flink version: the job makes way through a
        // savepoint (parked) and resumes from it once the cluster answers on that version.
        let move = Self.versionMove(of: sessionJob, session: session, observation: observation)
        // The jar is needed to submit, which a parked job does not.
        var jar: String?
        if move == nil {
            if let fetch = observation.jarFetch {
                return preparing(input, steps: steps + [.flink(.fetchArtifact(uri: fetch.uri, directory: fetch.directory))])
            }
            switch observation.jar {
            case .success(let path)?: jar = path
            case .failure(let problem)?: return stalled(input, steps: steps, reason: problem.reason ?? "JarNotFound", message: problem.message)
            case nil: return stalled(input, steps: steps, reason: "JarNotFound", message: "spec.job.jarURI: Required value")
            }
        }
        let job = (move?.parked ?? sessionJob).spec.job ?? JobSpec()
        let previousId = observation.recordedJob?.jobId
        let previous = previousId.flatMap { id in observation.jobs.first { $0.id == id } }
        // A job seen running that a reachable session cluster no longer lists went with the
        // cluster's JobManager (no high availability): it is recovered from its newest
        // checkpoint, never resubmitted from the snapshot it first started from.
        let recordedState = observation.recordedJob?.flinkState
        let jobLost = previousId != nil && previous == nil && observation.reconciliation?.state != .upgrading
            && recordedState.map { $0 != .reconciling && $0 != .suspended && !$0.isTerminal } == true
        let lifecycle = JobLifecycle.decide(
            key: JobLifecycle.lineage(input), generation: input.generation, desired: .sessionJob(move?.parked ?? sessionJob), job: job, observation: observation,
            running: previous, rest: rest, jobManagerLost: jobLost,
            savepointDirectory: FlinkCluster.savepointDirectory(observation), now: input.now)
        steps += lifecycle.steps
        let jobId = lifecycle.jobId
        let observedJob = observation.jobs.first { $0.id == jobId }
        var jobStatus = lifecycle.jobStatus

        if lifecycle.phase == .run, observedJob == nil, !(jobStatus.flinkState?.isTerminal ?? false) {
            // The job this spec runs is not there yet: make way (a job of an earlier deployment
            // that still runs is cancelled first), then submit.
            if let previous, previous.id != jobId, !previous.isTerminal {
                // Never two copies: the new job is submitted once the old one is seen ended.
                if previous.state != .cancelling { steps.append(.flink(.cancel(rest: rest, jobId: previous.id))) }
                return Plan(steps: steps, conditions: Conditions.merge(previous: input.conditions, next: [
                    Condition(type: Conditions.ready, status: .false, reason: "Upgrading", message: "waiting for job \(previous.id) to be cancelled",
                              observedGeneration: input.generation),
                    Condition(type: Conditions.reconciling, status: .true, reason: "Upgrading",
                              message: "waiting for job \(previous.id) to be cancelled before job \(jobId) is submitted", observedGeneration: input.generation),
                ], now: input.now), lifecycleState: .upgrading, next: .requeue(after: .milliseconds(200)))
                // The new job id is recorded only once the old job has ended: until then the old
                // one is the recorded job, which is how it is found again after a restart.
            }
            guard let jar else {  // a parked job is never submitted (JobLifecycle suspends it)
                return stalled(input, steps: steps, reason: "JarNotFound", message: "spec.job.jarURI: no jar to submit job \(jobId) with")
            }
            let configuration = (sessionJob.spec.flinkConfiguration ?? FlinkConfiguration()).entries.filter { !FlinkCluster.isOperatorKey($0.key) }
            steps.append(.flink(.submit(rest: rest, jar: jar, JobSubmission(
                jobId: jobId, entryClass: job.entryClass, args: job.args ?? [], parallelism: job.parallelism,
                savepointPath: lifecycle.restorePath, allowNonRestoredState: lifecycle.restorePath == nil ? nil : job.allowNonRestoredState,
                configuration: configuration))))
            steps.append(.event(type: .normal, reason: "Submit", message: "Submitting job \(jobId) to session cluster \"\(deploymentName)\""
                                + (lifecycle.restorePath.map { " from \($0)" } ?? "")))
        }
        if let observedJob { steps += Self.follow(observedJob, into: &jobStatus, now: input.now) }
        let running = lifecycle.phase == .run && (observedJob.map { $0.state == .running && $0.allTasksRunning } ?? false)
        var savepointsWriteAhead = false
        if running, !lifecycle.redeploying, let observedJob {
            let policySteps = SavepointPolicy.steps(job: job, configuration: sessionJob.spec.flinkConfiguration ?? FlinkConfiguration(),
                                                    status: &jobStatus, pending: observation.pendingSnapshot, rest: rest, jobId: observedJob.id,
                                                    savepointDirectory: FlinkCluster.savepointDirectory(observation), now: input.now)
            savepointsWriteAhead = SavepointPolicy.needsWriteAhead(policySteps)
            steps += policySteps
        }
        let failed = jobStatus.flinkState == .failed
        let finished = jobStatus.flinkState?.isTerminal ?? false
        let suspended = lifecycle.phase == .suspended
        let generation = input.generation
        var conditions = [
            Condition(type: Conditions.ready, status: running || suspended || jobStatus.flinkState == .finished ? .true : .false,
                      reason: running ? "JobRunning" : suspended ? "Suspended" : (jobStatus.state ?? "RECONCILING"),
                      message: "job \(jobId) is \(jobStatus.state ?? "RECONCILING") in session cluster \"\(deploymentName)\"", observedGeneration: generation),
            Condition(type: "Running", status: running ? .true : .false, reason: jobStatus.state ?? "RECONCILING",
                      message: running ? "all tasks of job \(jobId) are running" : "job \(jobId) is \(jobStatus.state ?? "RECONCILING")",
                      observedGeneration: generation),
        ]
        var lifecycleState: ResourceLifecycleState = failed ? .failed : running ? .stable : .deployed
        var next: ReconcileAction = .requeue(after: running || finished ? pollInterval
                                             : Self.deploying(observedJob, now: input.now) ? Self.startPoll : progressInterval)
        switch lifecycle.phase {
        case .snapshotting:
            lifecycleState = .upgrading
            next = .requeue(after: .milliseconds(200))
        case .suspended:
            lifecycleState = .suspended
            next = .awaitChange
        case .waiting(let message):
            lifecycleState = .upgrading
            conditions.append(Condition(type: Conditions.reconciling, status: .true, reason: "Upgrading", message: message, observedGeneration: generation))
            next = .requeue(after: .seconds(1))
        case .blocked(let reason, let message):
            lifecycleState = .failed
            conditions.append(Condition(type: Conditions.stalled, status: .true, reason: reason, message: message, observedGeneration: generation))
            if !(input.conditions.contains { $0.type == Conditions.stalled && $0.reason == reason }) {
                steps.append(.event(type: .warning, reason: reason, message: message))
            }
            next = .requeue(after: .seconds(10))
        case .run:
            if lifecycle.redeploying { next = .requeue(after: .milliseconds(200)) }
        }
        if failed {
            conditions.append(Condition(type: Conditions.stalled, status: .true, reason: "JobFailed", message: "job \(jobId) FAILED", observedGeneration: generation))
        } else if !running && !finished && !suspended, case .run = lifecycle.phase {
            conditions.append(Condition(type: Conditions.reconciling, status: .true, reason: "Deploying", message: "job \(jobId) is \(jobStatus.state ?? "RECONCILING")",
                                        observedGeneration: generation))
        }
        if lifecycle.rolledBack, !failed { lifecycleState = running ? .rolledBack : .rollingBack }
        if let move {
            // Not where the manifest wants it: on its way (Reconciling), never Ready, until it
            // runs again on the new version.
            conditions[0] = Condition(type: Conditions.ready, status: .false, reason: Self.flinkVersionChange, message: move.message, observedGeneration: generation)
            conditions.removeAll { $0.type == Conditions.reconciling }
            conditions.append(Condition(type: Conditions.reconciling, status: .true, reason: Self.flinkVersionChange, message: move.message, observedGeneration: generation))
            if !(input.conditions.contains { $0.type == Conditions.reconciling && $0.reason == Self.flinkVersionChange }) {
                steps.append(.event(type: .normal, reason: Self.flinkVersionChange, message: move.message))
            }
            if !failed { lifecycleState = .upgrading }
            next = .requeue(after: lifecycle.phase == .suspended ? .seconds(1) : .milliseconds(200))
        }
        var reconciliation = lifecycle.reconciliation
        if running, reconciliation.state == .deployed {
            let reached = reconciliation.lastReconciledSpec
            reconciliation.lastStableSpec = reached
        }
        let done = (running || finished || suspended) && move == nil
        return Plan(steps: steps, conditions: Conditions.merge(previous: input.conditions, next: PlanParts.stallingOnValidationErrors(conditions, input), now: input.now),
                    error: PlanParts.errorText(input) ?? (failed ? "job \(jobId) FAILED" : nil),
                    lifecycleState: lifecycleState,
                    observedGeneration: done ? generation : nil,
                    domainStatus: FlinkStatus(jobStatus: jobStatus, reconciliation: reconciliation, writeAhead: lifecycle.writeAhead || savepointsWriteAhead),
                    next: next)
    }

    func deleteSessionJob(_ input: PlanInput) -> Plan {
        guard let observation = input.flink, let rest = observation.session?.rest, case .answering = observation.rest else {
            return Plan(steps: [.forget], next: .awaitChange)  // no cluster to run it: nothing to cancel
        }
        let live = observation.jobs.filter { job in !job.isTerminal && job.id == observation.recordedJob?.jobId }
        if live.isEmpty { return Plan(steps: [.forget], next: .awaitChange) }
        var steps: [Step] = live.map { .flink(.cancel(rest: rest, jobId: $0.id)) }
        steps.append(.event(type: .normal, reason: "Cleanup", message: "Cancelling job \(live.map(\.id).joined(separator: ", ")): the manifest was removed"))
        return Plan(steps: steps, lifecycleState: .deleting, next: .requeue(after: progressInterval))
    }

    // MARK: - Shared

    /// The job status as Flink reports it; a `JobStatusChanged` event when its state changed.
    static func follow(_ job: ObservedJob, into status: inout JobStatus, now: Date) -> [Step] {
        var steps: [Step] = []
        if job.state != status.flinkState {
            steps.append(.event(type: job.state == .failed ? .warning : .normal, reason: "JobStatusChanged",
                                message: "Job status changed from \(status.state ?? "RECONCILING") to \(job.state)"))
            status.updateTime = String(Int64(now.timeIntervalSince1970 * 1000))
        }
        status.jobName = job.name
        status.state = job.state.rawValue
        status.startTime = job.startTime.map(String.init)
        return steps
    }

    /// Getting what the resource needs (ports, a jar): the steps, then at once a new look.
    func preparing(_ input: PlanInput, steps: [Step]) -> Plan {
        Plan(steps: steps, conditions: input.conditions, next: .requeue(after: .zero))
    }

    /// How often a canary is reconciled again (upstream's `kubernetes.operator.health.canary.resource.timeout`
    /// default), so its `reconciliationTimestamp` shows the operator is alive.
    public static let canaryInterval: Duration = .seconds(60)

    /// A canary (`flink.apache.org/canary: "true"`). Upstream's operator counts its reconciles
    /// for its health probe and deploys nothing (`CanaryResourceManager`); it writes no status.
    /// Here nothing is deployed either (pods of a resource that became a canary are left as
    /// they are), and the status records the reconcile: `reconciliationStatus` (timestamp,
    /// DEPLOYED), `observedGeneration`, `Ready=True` (reason `Canary`); again every
    /// `canaryInterval`.
    func canary(_ input: PlanInput) -> Plan {
        let message = "canary resource: reconciled; nothing is deployed for a canary"
        let nowMillis = Int64(input.now.timeIntervalSince1970 * 1000)
        return Plan(steps: PlanParts.validationEvents(input), conditions: Conditions.merge(previous: input.conditions, next: [
            Condition(type: Conditions.ready, status: .true, reason: "Canary", message: message, observedGeneration: input.generation),
        ], now: input.now), error: nil, lifecycleState: .created, observedGeneration: input.generation,
        domainStatus: FlinkStatus(reconciliation: ReconciliationStatus(reconciliationTimestamp: nowMillis, state: .deployed)),
        next: .requeue(after: Self.canaryInterval))
    }

    /// A session cluster whose `flinkVersion` changes while jobs run in it keeps running its
    /// deployed spec (`running`): restarting it on the other version would take its jobs down and
    /// bring them back from checkpoints, across versions. Its session jobs make way by
    /// themselves (`versionMove`: each is stopped with a savepoint); once none runs, the cluster
    /// restarts on the new version and they resume there from their savepoints. The cluster
    /// stays Ready meanwhile (its REST API takes the savepoints), with a `Reconciling` condition
    /// and an event, reason `SessionJobsRunning`. A move to an older version (`downgrade`) is
    /// refused while jobs run, and while session jobs name it (their savepoints and checkpoints
    /// would not restore there): `Stalled`, reason `FlinkVersionDowngrade`, and its jobs are not
    /// asked to make way. Nil: no hold.
    static func sessionVersionHold(_ deployment: FlinkDeployment, observation: FlinkObservation,
                                   pods: [ObservedPod]) -> (running: FlinkDeployment, message: String, downgrade: Bool)? {
        guard case .deployment(let running)? = observation.deployed,
              let from = running.spec.flinkVersion, let to = deployment.spec.flinkVersion, from != to else { return nil }
        let jobs = observation.jobs.filter { !$0.isTerminal }
        var held = running
        held.metadata = deployment.metadata
        if to < from, !jobs.isEmpty || !observation.sessionJobs.isEmpty {
            // Not only while a job is seen running: a session job between its savepoint and its
            // resubmission (its own upgrade), or lost with a JobManager that died (a power loss:
            // the restarted JobManager lists no job, or does not answer yet), has a snapshot of
            // this version only, which the older one cannot restore. Also with no pod left (the
            // lost pods of a power loss are stopped before they start again): they start again
            // on this version.
            let subject = jobs.isEmpty ? "the session job(s) \(observation.sessionJobs.sorted().joined(separator: ", ")) of this session cluster ran on"
                : "\(jobs.count) job(s) of this session cluster run on"
            return (held, JobLifecycle.downgradeMessage(from: from, to: to, job: subject), true)
        }
        guard !pods.isEmpty, !jobs.isEmpty else { return nil }
        let message = "spec.flinkVersion changes from \(from.rawValue) to \(to.rawValue) while \(jobs.count) job(s) run in this session cluster: "
            + "it keeps running Flink \(from.release) while its session jobs are stopped with savepoints, then restarts on Flink \(to.release), "
            + "where they resume from their savepoints"
        return (held, message, false)
    }

    /// How often a starting cluster or job is looked at (its TaskManagers registering, its
    /// tasks deploying), and for how long after its JobManager or job started.
    static let startPoll: Duration = .milliseconds(200)
    static let startWindow: TimeInterval = 30

    /// A job that Flink reads RUNNING while its tasks still deploy, in its first
    /// `startWindow`: its tasks run within a second or so, and its status says so as
    /// soon (looked at every `startPoll`), so `kubectl wait --for=condition=Ready` returns
    /// then, not up to a progress interval later.
    static func deploying(_ job: ObservedJob?, now: Date) -> Bool {
        guard let job, job.state == .running, !job.allTasksRunning, let started = job.startTime else { return false }
        return now.timeIntervalSince1970 * 1000 - Double(started) < startWindow * 1000
    }

    /// The reason of the conditions and event of a session job that makes way for its session
    /// cluster's move to another Flink version.
    static let flinkVersionChange = "FlinkVersionChange"

    /// The reason of the `Reconciling` condition (and event) of a session cluster that keeps its
    /// Flink version until no job runs in it (`sessionVersionHold`).
    public static let sessionJobsRunning = "SessionJobsRunning"

    /// A session job whose session cluster moves to another Flink version: `parked` is the spec
    /// its job follows meanwhile, suspended (`spec.job.state: suspended`) through a savepoint
    /// (`upgradeMode: last-state` becomes `savepoint`: a checkpoint is not restored across
    /// versions; `stateless` stays stateless). A running job is stopped with a savepoint only
    /// once the cluster says it waits for its jobs (`waitsForJobs`: it can move, and will once
    /// none runs); a job not yet submitted, or parked already, waits for the move whatever the
    /// cluster says (nothing runs: nothing is stopped). The move is over when the JobManager
    /// that answers runs the version the cluster's manifest names: the session job's own spec
    /// then applies again and resumes the job from its savepoint. Nil: no move (the versions
    /// agree, either is unknown, the version named is not installed, the job is suspended by its
    /// own spec, it has finished or failed, or it runs and the cluster does not wait for it).
    static func versionMove(of sessionJob: FlinkSessionJob, session: SessionClusterObservation,
                            observation: FlinkObservation) -> (parked: FlinkSessionJob, message: String)? {
        // Parked already (its job ended with the savepoint), or a job that finished or failed by
        // itself (it stays so: not started again on the new version).
        let parkedAlready: Bool = if case .sessionJob(let deployed)? = observation.deployed { deployed.spec.job?.effectiveState == .suspended } else { false }
        let submitted = observation.recordedJob?.jobId != nil && observation.deployed != nil
        guard let to = session.flinkVersion, let from = observation.answeringFlinkVersion, from != to,
              var job = sessionJob.spec.job, job.effectiveState != .suspended,
              parkedAlready || observation.recordedJob?.flinkState?.isTerminal != true,
              parkedAlready || !submitted || session.waitsForJobs else { return nil }
        job.state = .suspended
        if job.effectiveUpgradeMode == .lastState { job.upgradeMode = .savepoint }
        var parked = sessionJob
        parked.spec.job = job
        let how = job.effectiveUpgradeMode == .stateless
            ? "its job is cancelled (upgradeMode: stateless) and starts again on Flink \(to.release) without state"
            : "its job is stopped with a savepoint and resumes on Flink \(to.release) from it"
        return (parked, "session cluster \"\(session.name)\" moves from Flink \(from.release) to \(to.release): \(how)")
    }

    /// Nothing can run until the manifest (or the machine) changes: say why, once.
    func stalled(_ input: PlanInput, steps: [Step], reason: String, message: String) -> Plan {
        var steps = steps
        if !(input.conditions.contains { $0.type == Conditions.stalled && $0.reason == reason && $0.message == message }) {
            steps.append(.event(type: .warning, reason: reason, message: message))
        }
        return Plan(steps: steps, conditions: Conditions.merge(previous: input.conditions, next: [
            Condition(type: Conditions.ready, status: .false, reason: reason, message: message, observedGeneration: input.generation),
            Condition(type: Conditions.stalled, status: .true, reason: reason, message: message, observedGeneration: input.generation),
        ], now: input.now), error: message, lifecycleState: .failed, observedGeneration: input.generation,
        next: .requeue(after: .seconds(10)))
    }

    /// Waiting on something outside the resource (its session cluster).
    func waiting(_ input: PlanInput, steps: [Step], reason: String, message: String) -> Plan {
        Plan(steps: steps, conditions: Conditions.merge(previous: input.conditions, next: [
            Condition(type: Conditions.ready, status: .false, reason: reason, message: message, observedGeneration: input.generation),
            Condition(type: Conditions.reconciling, status: .true, reason: reason, message: message, observedGeneration: input.generation),
        ], now: input.now), error: nil, lifecycleState: .created, next: .requeue(after: .seconds(2)))
    }
}

extension FlinkCluster.Layout {
    /// Takes, as the identity of each JobManager and TaskManager plan, the plan hash of its pod
    /// when that pod is alive under another one (rendered by an earlier Flinklet), so the pod
    /// counts as the one wanted. A pod that is stopping, failed or gone is not kept.
    mutating func keepEarlierRenderings(of observed: [String: ObservedPod]) {
        func keep(_ plan: inout PodPlan) {
            guard let pod = observed[plan.name], pod.phase == .running, !pod.isTerminating, pod.planHash != plan.planHash else { return }
            plan.identity = pod.planHash
        }
        keep(&jobManager)
        for index in taskManagers.indices { keep(&taskManagers[index]) }
    }
}
