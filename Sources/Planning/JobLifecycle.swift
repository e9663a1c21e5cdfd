import FlinkResources
import Reconciliation
import Foundation

/// Where a job's deployment stands and what to do next: first deploy, keep running, scale, move
/// to a new spec through a savepoint or checkpoint (per `upgradeMode`), suspend, resume, or
/// recover from a lost JobManager. Shared by application/per-job clusters and session jobs; pure.
///
/// What is recorded (in the status) and relied on across operator restarts:
/// - `reconciliationStatus.lastReconciledSpec`: the spec the job runs (or is moving to);
/// - `reconciliationStatus.state`: `DEPLOYED`, or `UPGRADING` from the moment an upgrade is
///   decided (committed before anything stops) until the new job is deployed;
/// - `jobStatus.jobId`: the job running (or last run); each deployment gets a new id;
/// - `jobStatus.upgradeSavepointPath`: the snapshot the current job started from, and during an
///   upgrade the snapshot the next one starts from (cleared when the upgrade begins, committed as
///   soon as the snapshot completes, before the old job's pods stop).
///
/// Guarantees: a stateful job (`savepoint`, `last-state`) is never redeployed without a
/// snapshot to start from unless there is none to be had (then it waits, `Stalled`); two copies
/// of a job never run (the old one is stopped before the new one is deployed).
public struct JobLifecycle: Sendable {
    public enum Phase: Sendable, Hashable {
        /// Run `target` as job `jobId`, starting from `restorePath`.
        case run
        /// Leave the running pods alone while the REST steps take the snapshot (and the pods of
        /// `successorJobId`, if any, start beside them).
        case snapshotting
        /// Nothing runs: the job is suspended.
        case suspended
        /// Waiting a moment (a back-off, a retry, a job not yet seen); nothing changes, and the
        /// resource is reported as still on its way (`Reconciling`).
        case waiting(message: String)
        /// Cannot go on until the manifest (or the machine) changes (no snapshot to start from,
        /// ...); nothing changes, and the resource is reported `Stalled` with `reason`.
        case blocked(reason: String, message: String)
    }

    public var phase: Phase
    /// The spec to run (desired, with ignore-class changes absorbed).
    public var target: FlinkResource
    public var jobId: String
    public var restorePath: String?
    /// REST steps and events to take first.
    public var steps: [Step] = []
    public var jobStatus: JobStatus
    public var reconciliation: ReconciliationStatus
    /// Commit the status before the steps (an upgrade or suspension begins).
    public var writeAhead = false
    /// The job is being redeployed (its old pods or job make way).
    public var redeploying = false
    /// The last stable spec runs instead of the manifest's (a failed upgrade was rolled back).
    public var rolledBack = false
    /// While snapshotting for an upgrade: the id of the job that will replace the running one
    /// (its pods can start ahead, see `standbyReady`). Nil when nothing will replace it (suspend).
    public var successorJobId: String?
    /// Why the manifest's spec is refused (`flinkVersionDowngrade`): the deployed spec runs on as
    /// `target`, kept as it is kept without a change (a lost JobManager recovered from the newest
    /// checkpoint, on the version it ran). The resource is reported `Stalled` with this message.
    public var downgradeRefused: String?

    /// How long an upgrade waits for the new job's pods to be up before taking the old job's
    /// snapshot anyway (they may be unable to start: the new job then fails as it would have).
    public static let standbyTimeoutMillis: Int64 = 60_000

    /// The shortest time between two recoveries of a lost JobManager (a crash loop backs off).
    public static let recoveryBackoffMillis: Int64 = 10_000

    /// How long an upgrade waits for a running JobManager's REST API before the job counts as
    /// not running (and its newest checkpoint as the restore point).
    public static let restUnreachableGraceMillis: Int64 = 60_000

    /// The shortest time between a failed upgrade savepoint and the next attempt.
    public static let savepointRetryMillis: Int64 = 10_000

    /// What a resource's job ids are derived from: its key and its uid, so a resource deleted and
    /// created again (a new uid, its generation back at 1) never reuses an earlier incarnation's
    /// job ids, whose checkpoints may still be on disk (a restore must never cross incarnations).
    public static func lineage<O>(_ input: PlanInputOf<O>) -> String {
        input.uid.isEmpty ? input.id.key : "\(input.id.key)@\(input.uid)"
    }

    /// The id of the job that replaces `previous`: derived, so a retry after a crash picks the
    /// same; on the other side of the cluster (`FlinkCluster.side(ofJob:)`) from `previous`.
    public static func nextJobId(key: String, previous: String) -> String {
        for salt in 0... {
            let seed = "\(key)#after#\(previous)" + (salt == 0 ? "" : "#\(salt)")
            let id = StableHash.of(bytes: Array("\(seed)#high".utf8)) + StableHash.of(bytes: Array("\(seed)#low".utf8))
            if FlinkCluster.side(ofJob: id) != FlinkCluster.side(ofJob: previous) { return id }
        }
        fatalError("unreachable: one hash in two has the other parity")
    }

    /// The upgrade mode of a move to `desired`: the manifest's `upgradeMode`, except that a job
    /// that moves to another Flink version goes through a savepoint, never `last-state` (a
    /// checkpoint's format is not kept compatible across versions; a canonical savepoint's is),
    /// as upstream forces it. `stateless` stays stateless. The version that runs is the
    /// recorded `status.clusterInfo["flink-version"]`, which keeps the old JobManager's version
    /// until its job has made way. A job that is not running is still restored from its newest
    /// checkpoint (upstream's last-state fallback for a version change without a savepoint).
    public static func upgradeMode(_ job: JobSpec, desired: FlinkResource, observation: FlinkObservation) -> UpgradeMode {
        let mode = job.effectiveUpgradeMode
        guard mode == .lastState, case .deployment(let deployment) = desired,
              let running = observation.recordedClusterInfo?["flink-version"].flatMap(FlinkVersion.init(release:)),
              let wanted = deployment.spec.flinkVersion ?? observation.distributions.newest?.flinkVersion, running != wanted else { return mode }
        return .savepoint
    }

    /// The reason a move to an older Flink version is refused.
    public static let flinkVersionDowngrade = "FlinkVersionDowngrade"

    /// A move of a deployment's job to an older Flink version than the one that runs it
    /// (`status.clusterInfo["flink-version"]`): Flink restores a savepoint or checkpoint only in
    /// its own or a newer version (measured: Flink 1.20 fails on 2.3's savepoint with
    /// "Unrecognized checkpoint version number: 6"), so a stateful job would be stopped for a
    /// job that cannot start. Nil: not a downgrade, or a version is unknown.
    public static func downgrade(desired: FlinkResource, observation: FlinkObservation) -> (from: FlinkVersion, to: FlinkVersion)? {
        guard case .deployment(let deployment) = desired,
              let running = observation.recordedClusterInfo?["flink-version"].flatMap(FlinkVersion.init(release:)),
              let wanted = deployment.spec.flinkVersion ?? observation.distributions.newest?.flinkVersion, wanted < running else { return nil }
        return (running, wanted)
    }

    /// What a refused downgrade says: `subject` is what runs on `from` ("job X runs on").
    public static func downgradeMessage(from: FlinkVersion, to: FlinkVersion, job subject: String) -> String {
        "spec.flinkVersion: \(to.rawValue) is older than \(from.rawValue), which \(subject): Flink restores a savepoint or checkpoint "
            + "only in its own or a newer version, so nothing is stopped and Flink \(from.release) keeps running the last spec. "
            + "To go back anyway, set upgradeMode: stateless (the job starts without state), or spec.job.initialSavepointPath "
            + "to a snapshot Flink \(to.release) can read with a new spec.job.savepointRedeployNonce"
    }

    /// Decides for a resource with a job.
    ///
    /// - `desired`: the manifest's current valid resource.
    /// - `running`: the job's state as observed now (nil: not observed: absent, or unreachable).
    /// - `jobManagerLost`: the job went with the JobManager that ran it (an application or per-job
    ///   JobManager that died; a session job missing from its session cluster after it ran).
    /// - `rest`: the REST API to stop or cancel the running job on (nil: cannot be reached).
    /// - `standbyReady`: the pods that will run the successor job (`successorJobId`) are up, or
    ///   none are needed. Until then, or `standbyTimeoutMillis` into the upgrade, the running job
    ///   is left alone: its snapshot is taken when the new job can start at once.
    /// - `unhealthy`: why the cluster health check finds the running job unhealthy (it keeps
    ///   restarting, or stopped completing checkpoints); it is then redeployed from its newest
    ///   checkpoint under a new job id (so with fresh TaskManagers).
    /// - `jobManagerGone`: no JobManager runs for the job (it exited or was lost): a recorded
    ///   stop-with-savepoint that neither Flink nor the savepoint directory can confirm is over.
    ///
    /// A restore point is never a guess: a recorded one that is missing on disk
    /// (`observation.missingSnapshots`) is replaced by the newest snapshot that exists, with a
    /// `RestorePointMissing` event; with none left, a stateful job waits (`Stalled`).
    public static func decide(key: String, generation: Int64, desired: FlinkResource, job: JobSpec,
                              observation: FlinkObservation, running: ObservedJob?, rest: RESTEndpoint?,
                              jobManagerLost: Bool, standbyReady: Bool = true, unhealthy: String? = nil, jobManagerGone: Bool = false,
                              savepointDirectory: String, now: Date) -> JobLifecycle {
        var lifecycle = decideUnverified(key: key, generation: generation, desired: desired, job: job, observation: observation,
                                         running: running, rest: rest, jobManagerLost: jobManagerLost, standbyReady: standbyReady,
                                         unhealthy: unhealthy, jobManagerGone: jobManagerGone, savepointDirectory: savepointDirectory, now: now)
        lifecycle.verifyRestorePoint(observation: observation, job: job)
        return lifecycle
    }

    /// Replaces a restore point that is gone from disk by the newest snapshot that exists, when
    /// the job is (re)deployed from it now.
    mutating func verifyRestorePoint(observation: FlinkObservation, job: JobSpec) {
        guard redeploying, phase == .run || phase == .suspended, let path = restorePath, observation.missingSnapshots.contains(path) else { return }
        let history = (jobStatus.savepointInfo?.savepointHistory ?? []).sorted { $0.timeStamp > $1.timeStamp }
        let fallback = observation.latestCheckpoint.map(\.path).flatMap { observation.missingSnapshots.contains($0) ? nil : $0 }
            ?? history.map(\.location).first { $0 != path && !observation.missingSnapshots.contains($0) }
        if let fallback {
            steps.append(.event(type: .warning, reason: "RestorePointMissing",
                                message: "The recorded restore point \(path) does not exist; restoring from the newest snapshot that does: \(fallback)"))
            restorePath = fallback
            jobStatus.upgradeSavepointPath = fallback
            return
        }
        if job.effectiveUpgradeMode == .stateless {
            steps.append(.event(type: .warning, reason: "RestorePointMissing",
                                message: "The recorded restore point \(path) does not exist and no other snapshot does; starting without state (upgradeMode: stateless)"))
            restorePath = nil
            jobStatus.upgradeSavepointPath = nil
            return
        }
        phase = .blocked(reason: "RestorePointMissing",
                         message: "the recorded restore point \(path) does not exist and no other checkpoint or savepoint of the job does; "
                             + "set spec.job.initialSavepointPath to a snapshot, or upgradeMode: stateless to start without state")
        redeploying = false
    }

    static func decideUnverified(key: String, generation: Int64, desired: FlinkResource, job: JobSpec,
                                 observation: FlinkObservation, running: ObservedJob?, rest: RESTEndpoint?,
                                 jobManagerLost: Bool, standbyReady: Bool, unhealthy: String?, jobManagerGone: Bool,
                                 savepointDirectory: String, now: Date) -> JobLifecycle {
        let nowMillis = Int64(now.timeIntervalSince1970 * 1000)
        let configuration = configurationOf(desired)
        var recorded = observation.recordedJob ?? JobStatus()
        var reconciliation = observation.reconciliation ?? ReconciliationStatus()
        let specJSON = specJSONOf(desired)
        let wantsSuspended = job.effectiveState == .suspended

        // First deploy: nothing recorded yet.
        guard let recordedDeployed = observation.deployed, let currentId = recorded.jobId else {
            let jobId = FlinkCluster.jobId(key: key, generation: generation)
            recorded = JobStatus(jobName: desired.metadata.name, jobId: jobId, state: wantsSuspended ? "SUSPENDED" : "RECONCILING",
                                 upgradeSavepointPath: job.initialSavepointPath)
            reconciliation = ReconciliationStatus(reconciliationTimestamp: nowMillis, lastReconciledSpec: specJSON,
                                                  lastStableSpec: reconciliation.lastStableSpec, state: .deployed)
            return JobLifecycle(phase: wantsSuspended ? .suspended : .run, target: desired, jobId: jobId,
                                restorePath: job.initialSavepointPath, jobStatus: recorded, reconciliation: reconciliation)
        }
        var deployed = recordedDeployed
        // Rolled back: the last stable spec runs while the manifest still says the spec that
        // failed. That spec changes nothing; a newer one starts an upgrade from the stable job.
        if reconciliation.state == .rolledBack, let stableJSON = reconciliation.lastStableSpec,
           let stable = decodeSpec(stableJSON, like: desired) {
            if specJSON == reconciliation.lastReconciledSpec {
                var lifecycle = JobLifecycle(phase: .run, target: stable, jobId: currentId, restorePath: recorded.upgradeSavepointPath,
                                             jobStatus: recorded, reconciliation: reconciliation)
                lifecycle.rolledBack = true
                return lifecycle
            }
            deployed = stable
            reconciliation.state = .deployed
            reconciliation.lastReconciledSpec = stableJSON
        }
        let deployedJob = jobSpecOf(deployed)
        let deployedSuspended = deployedJob?.effectiveState == .suspended
        var lifecycle = JobLifecycle(phase: .run, target: desired, jobId: currentId, restorePath: recorded.upgradeSavepointPath,
                                     jobStatus: recorded, reconciliation: reconciliation)

        if reconciliation.state != .upgrading {
            let diff = SpecDiff(old: deployed, new: desired)
            let type = diff.type ?? .ignore
            if type <= .scale {
                // Steady: ignore-class changes are absorbed, scale changes applied in place.
                lifecycle.reconciliation.lastReconciledSpec = specJSON
                if type == .scale {
                    lifecycle.steps.append(.event(type: .normal, reason: "Scaling", message: "Scaling: \(diff.paths(atLeast: .scale).joined(separator: ", "))"))
                }
                if deployedSuspended {
                    lifecycle.phase = .suspended
                    return lifecycle
                }
                // A JobManager that died takes the job with it (no high availability): redeploy
                // from the newest checkpoint, or the snapshot the job started from.
                let terminal = recorded.flinkState?.isTerminal ?? false
                // Rollback: a changed spec whose job is not running within the readiness
                // timeout goes back to the last stable spec, from the savepoint taken at the upgrade.
                let jobReady = running.map { $0.state == .running && $0.allTasksRunning } ?? false
                if configuration["kubernetes.operator.deployment.rollback.enabled"] == "true", !jobReady,
                   let stableJSON = reconciliation.lastStableSpec, stableJSON != reconciliation.lastReconciledSpec,
                   let stable = decodeSpec(stableJSON, like: desired), let since = reconciliation.reconciliationTimestamp,
                   nowMillis - since > (configuration["kubernetes.operator.deployment.readiness.timeout"].flatMap(FlinkDuration.milliseconds) ?? 300_000) {
                    if let running, !running.isTerminal, let rest { lifecycle.steps.append(.flink(.cancel(rest: rest, jobId: running.id))) }
                    lifecycle.steps.append(.event(type: .warning, reason: "Rollback",
                                                  message: "Job \(currentId) of the new spec is \(running?.state.rawValue ?? "not running") after the readiness timeout; rolling back to the last stable spec from \(recorded.upgradeSavepointPath ?? "an empty state")"))
                    lifecycle.target = stable
                    lifecycle.reconciliation.state = .rolledBack
                    lifecycle.reconciliation.reconciliationTimestamp = nowMillis
                    lifecycle.writeAhead = true
                    var rolled = redeploy(lifecycle, key: key, from: currentId, restore: recorded.upgradeSavepointPath, suspended: false, now: nowMillis)
                    rolled.reconciliation.state = .rolledBack
                    rolled.rolledBack = true
                    return rolled
                }
                // A FAILED job is resubmitted from its latest checkpoint or savepoint, when asked.
                if let running, running.state == .failed, configuration["kubernetes.operator.job.restart.failed"] == "true" {
                    if let last = recorded.updateTime.flatMap({ Int64($0) }), nowMillis - last < recoveryBackoffMillis {
                        lifecycle.phase = .waiting(message: "job \(currentId) FAILED; restarting it after a back-off")
                        return lifecycle
                    }
                    let restore = observation.latestCheckpoint?.path ?? recorded.upgradeSavepointPath
                    lifecycle.steps.append(.event(type: .warning, reason: "RestartFailedJob",
                                                  message: "Job \(currentId) FAILED; resubmitting it from \(restore ?? "an empty state")"))
                    return redeploy(lifecycle, key: key, from: currentId, restore: restore, suspended: false, now: nowMillis)
                }
                if let unhealthy, let running, !running.isTerminal {
                    if let last = recorded.updateTime.flatMap({ Int64($0) }), nowMillis - last < recoveryBackoffMillis {
                        return lifecycle
                    }
                    let restore = observation.latestCheckpoint?.path ?? recorded.upgradeSavepointPath
                    if let rest { lifecycle.steps.append(.flink(.cancel(rest: rest, jobId: running.id))) }
                    lifecycle.steps.append(.event(type: .warning, reason: "RestartUnhealthyJob",
                                                  message: "Restarting unhealthy job \(currentId) (\(unhealthy)): redeploying from \(restore ?? "an empty state") as a new job with fresh TaskManagers"))
                    return redeploy(lifecycle, key: key, from: currentId, restore: restore, suspended: false, now: nowMillis)
                }
                if jobManagerLost && !terminal {
                    // Crash loops back off: at most one recovery per `recoveryBackoff` after the
                    // job's last deploy or state change.
                    if let last = recorded.updateTime.flatMap({ Int64($0) }), nowMillis - last < recoveryBackoffMillis {
                        lifecycle.phase = .waiting(message: "job \(currentId) is gone with its JobManager; recovering after a back-off")
                        return lifecycle
                    }
                    let restore = observation.latestCheckpoint?.path ?? recorded.upgradeSavepointPath
                    lifecycle.steps.append(.event(type: .warning, reason: "RecoverDeployment",
                                                  message: "Job \(currentId) is gone with its JobManager; redeploying from \(restore ?? "an empty state (no checkpoint or savepoint)")"))
                    return redeploy(lifecycle, key: key, from: currentId, restore: restore, suspended: false, now: nowMillis)
                }
                return lifecycle
            }
            // An upgrade (or suspend/resume): commit it before anything stops.
            let mode = upgradeMode(job, desired: desired, observation: observation)
            if type != .savepointRedeploy, !deployedSuspended, mode != .stateless,
               let (from, to) = downgrade(desired: desired, observation: observation),
               case .deployment(var kept) = deployed, case .deployment(let wanted) = desired, let keptJob = kept.spec.job {
                // Refused before anything stops: the new job could not restore this one's state.
                // The deployed spec is decided on as if the manifest still named it, so its job
                // runs on untouched, and a JobManager lost meanwhile (a power loss) is recovered
                // on the version it ran, from its newest checkpoint, rather than left dead.
                kept.metadata = wanted.metadata
                var held = decideUnverified(key: key, generation: generation, desired: .deployment(kept), job: keptJob, observation: observation,
                                            running: running, rest: rest, jobManagerLost: jobManagerLost, standbyReady: standbyReady,
                                            unhealthy: unhealthy, jobManagerGone: jobManagerGone, savepointDirectory: savepointDirectory, now: now)
                held.downgradeRefused = downgradeMessage(from: from, to: to, job: "job \(currentId) runs on")
                return held
            }
            let verb = wantsSuspended ? "Suspending" : deployedSuspended ? "Resuming" : "Upgrading"
            // A resumed job starts from what its suspension left, whatever the upgrade mode says.
            let how = type == .savepointRedeploy ? "savepoint redeploy"
                : deployedSuspended && !wantsSuspended ? "from \(recorded.upgradeSavepointPath ?? "an empty state")" : mode.rawValue
            lifecycle.steps.append(.event(type: .normal, reason: "SpecChanged",
                                          message: "\(verb) (\(how)): \(diff.paths(atLeast: .upgrade).joined(separator: ", "))"))
            lifecycle.reconciliation = ReconciliationStatus(reconciliationTimestamp: nowMillis, lastReconciledSpec: specJSON,
                                                            lastStableSpec: reconciliation.lastStableSpec, state: .upgrading)
            if type == .savepointRedeploy {
                lifecycle.jobStatus.upgradeSavepointPath = job.initialSavepointPath
                lifecycle.jobStatus.savepointInfo = recorded.savepointInfo
            } else if !deployedSuspended {
                lifecycle.jobStatus.upgradeSavepointPath = nil  // the snapshot to take next
            }
            lifecycle.writeAhead = true
            recorded = lifecycle.jobStatus
            reconciliation = lifecycle.reconciliation
            if type == .savepointRedeploy || deployedSuspended {
                return redeploy(lifecycle, key: key, from: currentId, restore: recorded.upgradeSavepointPath, suspended: wantsSuspended, now: nowMillis)
            }
        } else {
            lifecycle.reconciliation.lastReconciledSpec = specJSON  // a newer spec replaces the target
        }

        // Upgrading: the old job must make way, leaving a snapshot for the new one.
        let mode = upgradeMode(job, desired: desired, observation: observation)
        if let path = recorded.upgradeSavepointPath {
            return redeploy(lifecycle, key: key, from: currentId, restore: path, suspended: wantsSuspended, now: nowMillis)
        }
        let upgradeAge = nowMillis - (reconciliation.reconciliationTimestamp ?? nowMillis)
        let standbyPending = !wantsSuspended && !standbyReady && upgradeAge < standbyTimeoutMillis
        let isRunning = running?.state == .running
        // A stop-with-savepoint asked for earlier (on record before it was sent): follow it.
        if let trigger = SnapshotTrigger(recorded.savepointInfo), trigger.stopsJob {
            lifecycle.phase = .snapshotting
            if !wantsSuspended { lifecycle.successorJobId = nextJobId(key: key, previous: currentId) }
            var info = recorded.savepointInfo ?? SavepointInfo()
            switch observation.pendingSnapshot {
            case .completed(let location)?:
                info.append(Savepoint(timeStamp: nowMillis, location: location, triggerType: .upgrade, formatType: .canonical))
                info.endTrigger()
                lifecycle.jobStatus.savepointInfo = info
                lifecycle.jobStatus.upgradeSavepointPath = location
                lifecycle.writeAhead = true
                lifecycle.steps.append(.event(type: .normal, reason: "SavepointCreated", message: "Stopped job \(currentId) with a savepoint at \(location)"))
                return redeploy(lifecycle, key: key, from: currentId, restore: location, suspended: wantsSuspended, now: nowMillis)
            case .inProgress?:
                return lifecycle
            case .failed(let cause)?:
                info.endTrigger()
                lifecycle.jobStatus.savepointInfo = info
                lifecycle.steps.append(.event(type: .warning, reason: "SavepointError",
                                              message: "stop-with-savepoint of job \(currentId) failed: \(cause); the job keeps running and the upgrade is retried"))
                lifecycle.phase = .waiting(message: "the savepoint of job \(currentId) failed; retrying")
                return lifecycle
            case .notFound?:
                if isRunning, let rest, let running {
                    // On record, but Flink never got the request: send it (the same operation).
                    lifecycle.steps.append(.flink(.stopWithSavepoint(rest: rest, jobId: running.id, directory: savepointDirectory, triggerId: trigger.id)))
                    return lifecycle
                }
                info.endTrigger()
                lifecycle.jobStatus.savepointInfo = info
            case .unknown(let reason)?:
                guard jobManagerGone else { return lifecycle }  // it may still answer: look again
                info.endTrigger()
                lifecycle.jobStatus.savepointInfo = info
                lifecycle.steps.append(.event(type: .warning, reason: "SavepointError",
                                              message: "stop-with-savepoint \(trigger.id) of job \(currentId) cannot be confirmed (\(reason)) and no savepoint of the job is in \(savepointDirectory); falling back to its newest checkpoint"))
            case nil:
                guard jobManagerGone else { return lifecycle }
                info.endTrigger()
                lifecycle.jobStatus.savepointInfo = info
            }
            lifecycle.phase = .run
            lifecycle.successorJobId = nil
            recorded = lifecycle.jobStatus
        }
        // The JobManager runs but its REST API does not answer: the job may well be running, and
        // a snapshot of it is worth a look again (for a while) before it counts as not running.
        if rest == nil, !jobManagerGone, !jobManagerLost, mode != .stateless, upgradeAge < restUnreachableGraceMillis {
            lifecycle.phase = .waiting(message: "the JobManager runs but its REST API does not answer; job \(currentId) is upgraded once it does")
            return lifecycle
        }
        if mode == .stateless {
            if standbyPending, let running, !running.isTerminal {
                lifecycle.phase = .snapshotting  // nothing to snapshot: just wait for the new pods
                lifecycle.successorJobId = nextJobId(key: key, previous: currentId)
                return lifecycle
            }
            if let running, !running.isTerminal, let rest {
                lifecycle.steps.append(.flink(.cancel(rest: rest, jobId: running.id)))
            }
            return redeploy(lifecycle, key: key, from: currentId, restore: nil, suspended: wantsSuspended, now: nowMillis)
        }
        if running?.state == .cancelling {
            // A last-state cancel on its way: its newest checkpoint is final once it is CANCELED.
            lifecycle.phase = .snapshotting
            if !wantsSuspended { lifecycle.successorJobId = nextJobId(key: key, previous: currentId) }
            return lifecycle
        }
        if isRunning, let rest, let running {
            lifecycle.phase = .snapshotting
            if !wantsSuspended { lifecycle.successorJobId = nextJobId(key: key, previous: currentId) }
            if standbyPending { return lifecycle }  // the new job's pods are starting; the old job runs meanwhile
            let maxAge = configuration["kubernetes.operator.job.upgrade.last-state.max.allowed.checkpoint.age"].flatMap(FlinkDuration.milliseconds)
            let checkpointFresh = observation.latestCheckpoint.map { checkpoint in maxAge.map { nowMillis - checkpoint.timestamp <= $0 } ?? true } ?? false
            if mode == .lastState && checkpointFresh {
                // Cancel (checkpoints are retained on cancellation); once it is CANCELED its
                // newest checkpoint is the new job's starting point.
                lifecycle.steps.append(.flink(.cancel(rest: rest, jobId: running.id)))
                lifecycle.steps.append(.event(type: .normal, reason: "Cancel",
                                              message: "Cancelling job \(currentId): its newest checkpoint will be the new job's starting point"))
            } else {
                if let last = recorded.savepointInfo?.failedAttemptTimestamp, recorded.savepointInfo?.triggerType == .upgrade,
                   nowMillis - last < savepointRetryMillis, nowMillis >= last {
                    lifecycle.phase = .waiting(message: "the savepoint of job \(currentId) failed; retrying")
                    return lifecycle
                }
                let trigger = SnapshotTrigger.make(jobId: running.id, type: .upgrade, now: nowMillis)
                lifecycle.jobStatus.savepointInfo = trigger.recorded(in: lifecycle.jobStatus.savepointInfo)
                lifecycle.writeAhead = true
                lifecycle.steps.append(.flink(.stopWithSavepoint(rest: rest, jobId: running.id, directory: savepointDirectory, triggerId: trigger.id)))
            }
            return lifecycle
        }
        // The job does not run, so no savepoint can be taken: fall back to its newest checkpoint.
        let fallback = configuration["kubernetes.operator.job.upgrade.last-state-fallback.enabled"] != "false"
        if let checkpoint = observation.latestCheckpoint, fallback || mode == .lastState {
            lifecycle.steps.append(.event(type: .normal, reason: "SpecChanged",
                                          message: "Job \(currentId) is not running: restoring the new job from its latest checkpoint \(checkpoint.path)"))
            return redeploy(lifecycle, key: key, from: currentId, restore: checkpoint.path, suspended: wantsSuspended, now: nowMillis)
        }
        if running == nil && rest != nil && !jobManagerLost && (recorded.flinkState == nil || recorded.flinkState == .reconciling) {
            lifecycle.phase = .waiting(message: "waiting for job \(currentId) to be observed before upgrading it")
            return lifecycle
        }
        lifecycle.phase = .blocked(reason: "UpgradeBlocked",
                                   message: "cannot upgrade job \(currentId) in \(mode.rawValue) mode: it is \(running?.state.rawValue ?? recorded.state ?? "not running") and has no checkpoint to restore from; it keeps its last spec (set upgradeMode: stateless to start without state)")
        return lifecycle
    }

    /// The new job: a new id, starting from `restore` (or suspended, with nothing running).
    static func redeploy(_ lifecycle: JobLifecycle, key: String, from previous: String, restore: String?, suspended: Bool,
                         now: Int64) -> JobLifecycle {
        var next = lifecycle
        next.restorePath = restore
        next.reconciliation.state = .deployed
        next.redeploying = true
        if suspended {
            next.phase = .suspended
            next.jobStatus.state = "SUSPENDED"
            next.jobStatus.upgradeSavepointPath = restore
            return next
        }
        next.phase = .run
        next.jobId = nextJobId(key: key, previous: previous)
        var info = lifecycle.jobStatus.savepointInfo
        if SnapshotTrigger(info) != nil { info?.endTrigger() }  // a trigger of the old job is over with it
        next.jobStatus = JobStatus(jobName: lifecycle.jobStatus.jobName, jobId: next.jobId, state: "RECONCILING",
                                   updateTime: String(now), upgradeSavepointPath: restore, savepointInfo: info)
        return next
    }

    /// A spec recorded as JSON, as a resource with `like`'s metadata.
    static func decodeSpec(_ json: String, like resource: FlinkResource) -> FlinkResource? {
        let data = Data(json.utf8)
        switch resource {
        case .deployment(let d):
            return (try? JSONDecoder().decode(FlinkDeploymentSpec.self, from: data)).map { .deployment(FlinkDeployment(metadata: d.metadata, spec: $0)) }
        case .sessionJob(let j):
            return (try? JSONDecoder().decode(FlinkSessionJobSpec.self, from: data)).map { .sessionJob(FlinkSessionJob(metadata: j.metadata, spec: $0)) }
        case .snapshot(let s):
            return (try? JSONDecoder().decode(FlinkStateSnapshotSpec.self, from: data)).map { .snapshot(FlinkStateSnapshot(metadata: s.metadata, spec: $0)) }
        }
    }

    static func configurationOf(_ resource: FlinkResource) -> FlinkConfiguration {
        switch resource {
        case .deployment(let d): d.spec.flinkConfiguration ?? FlinkConfiguration()
        case .sessionJob(let j): j.spec.flinkConfiguration ?? FlinkConfiguration()
        case .snapshot: FlinkConfiguration()
        }
    }

    static func jobSpecOf(_ resource: FlinkResource) -> JobSpec? {
        switch resource {
        case .deployment(let d): d.spec.job
        case .sessionJob(let j): j.spec.job
        case .snapshot: nil
        }
    }

    /// The spec as `lastReconciledSpec` records it (JSON, keys sorted).
    public static func specJSONOf(_ resource: FlinkResource) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let data: Data? = switch resource {
        case .deployment(let d): try? encoder.encode(d.spec)
        case .sessionJob(let j): try? encoder.encode(j.spec)
        case .snapshot(let s): try? encoder.encode(s.spec)
        }
        return data.map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }
}

/// Flink's duration syntax (`10s`, `5 min`, `1h`, `500ms`, a bare number is milliseconds).
public enum FlinkDuration {
    public static func milliseconds(_ text: String) -> Int64? {
        let trimmed = text.trimmingCharacters(in: .whitespaces).lowercased()
        let digits = trimmed.prefix { $0.isNumber }
        guard let value = Int64(digits) else { return nil }
        let unit = trimmed.dropFirst(digits.count).trimmingCharacters(in: .whitespaces)
        let factor: Int64? = switch unit {
        case "", "ms", "milli", "millis", "millisecond", "milliseconds": 1
        case "s", "sec", "secs", "second", "seconds": 1000
        case "m", "min", "mins", "minute", "minutes": 60_000
        case "h", "hour", "hours": 3_600_000
        case "d", "day", "days": 86_400_000
        default: nil
        }
        return factor.map { value * $0 }
    }
}
