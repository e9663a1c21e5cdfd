import FlinkResources
import Foundation
import Testing
@testable import Planning
@testable import Reconciliation

/// The lifecycle decisions for every upgrade mode × job state × failure, with the fake world a
/// `FlinkObservation` describes (no I/O).
@Suite struct JobLifecycleTests {
    let key = "FlinkDeployment/default/app"
    let now = Date(timeIntervalSince1970: 1_800_000_000)
    var nowMillis: Int64 { Int64(now.timeIntervalSince1970 * 1000) }

    func app(tag: String = "v1", mode: UpgradeMode = .savepoint, state: JobState = .running, configuration: [String: String] = [:],
             redeploy: Int64? = nil, initial: String? = nil) -> FlinkResource {
        .deployment(FlinkDeployment(metadata: ObjectMeta(name: "app"), spec: FlinkDeploymentSpec(
            job: JobSpec(jarURI: "local:///j.jar", parallelism: 1, args: ["--tag", tag], state: state, initialSavepointPath: initial,
                         upgradeMode: mode, savepointRedeployNonce: redeploy),
            flinkConfiguration: FlinkConfiguration(configuration), flinkVersion: .v2_3, mode: .application)))
    }

    func job(_ resource: FlinkResource) -> JobSpec {
        if case .deployment(let d) = resource { return d.spec.job! }
        fatalError()
    }

    /// A deployed job `old` running spec `deployed`.
    func observation(deployed: FlinkResource, state: ReconciliationState = .deployed, path: String? = nil,
                     checkpoint: ObservedCheckpoint? = nil, timestamp: Int64? = nil) -> FlinkObservation {
        FlinkObservation(distribution: nil, podRoot: "/p", clusterDirectory: "/c",
                         recordedJob: JobStatus(jobName: "app", jobId: "old", state: "RUNNING", upgradeSavepointPath: path),
                         deployed: deployed,
                         reconciliation: ReconciliationStatus(reconciliationTimestamp: timestamp ?? nowMillis - 60_000,
                                                              lastReconciledSpec: JobLifecycle.specJSONOf(deployed), state: state),
                         latestCheckpoint: checkpoint)
    }

    func decide(_ desired: FlinkResource, _ observation: FlinkObservation, running: FlinkJobState? = .running, rest: RESTEndpoint? = .http(8081),
                lost: Bool = false, standbyReady: Bool = true) -> JobLifecycle {
        JobLifecycle.decide(key: key, generation: 2, desired: desired, job: job(desired), observation: observation,
                            running: running.map { ObservedJob(id: "old", name: "app", state: $0, allTasksRunning: true) },
                            rest: rest, jobManagerLost: lost, standbyReady: standbyReady, savepointDirectory: "/c/savepoints", now: now)
    }

    /// The stop-with-savepoint an upgrade decided now asks for (its trigger derived from job and time).
    var upgradeStop: FlinkAction {
        .stopWithSavepoint(rest: .http(8081), jobId: "old", directory: "/c/savepoints",
                           triggerId: SnapshotTrigger.make(jobId: "old", type: .upgrade, now: nowMillis).id)
    }

    func flinkSteps(_ lifecycle: JobLifecycle) -> [FlinkAction] {
        lifecycle.steps.compactMap { if case .domain(let action) = $0 { action } else { nil } }
    }

    func events(_ lifecycle: JobLifecycle) -> [String] {
        lifecycle.steps.compactMap { if case .event(_, let reason, _) = $0 { reason } else { nil } }
    }

    @Test func aFirstDeployStartsFromTheInitialSavepoint() {
        let desired = app(initial: "/sp/initial")
        let first = JobLifecycle.decide(key: key, generation: 1, desired: desired, job: job(desired),
                                        observation: FlinkObservation(distribution: nil, podRoot: "/p", clusterDirectory: "/c"),
                                        running: nil, rest: nil, jobManagerLost: false, savepointDirectory: "/c/savepoints", now: now)
        #expect(first.phase == .run)
        #expect(first.jobId == FlinkCluster.jobId(key: key, generation: 1))
        #expect(first.restorePath == "/sp/initial")
        #expect(first.reconciliation.state == .deployed)
        #expect(first.reconciliation.lastReconciledSpec == JobLifecycle.specJSONOf(desired))
    }

    @Test func operatorSettingsAndNoncesAreAbsorbedWithoutTouchingTheJob() {
        let deployed = app()
        let lifecycle = decide(app(mode: .lastState, configuration: ["kubernetes.operator.periodic.savepoint.interval": "1h"]),
                               observation(deployed: deployed, path: "/sp/1"))
        #expect(lifecycle.phase == .run && lifecycle.jobId == "old" && lifecycle.restorePath == "/sp/1")
        #expect(lifecycle.steps.isEmpty && !lifecycle.writeAhead)
        #expect(lifecycle.reconciliation.lastReconciledSpec?.contains("last-state") == true)
    }

    /// A move to an older Flink version is refused before anything stops (the older version
    /// cannot restore the newer one's savepoint); stateless and an explicit savepoint redeploy go
    /// ahead; an upgrade to a newer version is a savepoint upgrade as ever.
    @Test func aDowngradeOfAStatefulJobIsRefusedBeforeAnythingStops() {
        func on(_ version: FlinkVersion, _ resource: FlinkResource) -> FlinkResource {
            guard case .deployment(var d) = resource else { fatalError() }
            d.spec.flinkVersion = version
            return .deployment(d)
        }
        func decideOn(_ desired: FlinkResource, running version: String) -> JobLifecycle {
            var o = observation(deployed: app())
            o.recordedClusterInfo = ["flink-version": version]
            return decide(desired, o)
        }
        for mode in [UpgradeMode.savepoint, .lastState] {
            let refused = decideOn(on(.v1_20, app(tag: "v2", mode: mode)), running: "2.3.0")
            guard let message = refused.downgradeRefused else { Issue.record("\(mode): not refused: \(refused.phase)"); continue }
            #expect(message.contains("v1_20 is older than v2_3") && message.contains("upgradeMode: stateless"), "\(message)")
            #expect(refused.phase == .run && !refused.redeploying && refused.jobId == "old", "the job runs on: \(refused.phase)")
            #expect(refused.steps.isEmpty && !refused.writeAhead, "nothing stops, nothing is committed")
            #expect(refused.target == app(), "the deployed spec (2.3, v1) runs on, not the manifest's")
            #expect(refused.reconciliation.state == .deployed && refused.reconciliation.lastReconciledSpec == JobLifecycle.specJSONOf(app()))
        }
        let suspendedToo = decideOn(on(.v1_20, app(state: .suspended)), running: "2.3.0")
        #expect(suspendedToo.downgradeRefused == JobLifecycle.downgradeMessage(from: .v2_3, to: .v1_20, job: "job old runs on")
                && suspendedToo.phase == .run, "a suspension would leave a savepoint 1.20 cannot resume from")
        // Its JobManager lost meanwhile (a power loss): recovered on 2.3 from the newest checkpoint, still refused.
        var lostObservation = observation(deployed: app(), checkpoint: ObservedCheckpoint(path: "/c/chk-9", timestamp: nowMillis - 3_000))
        lostObservation.recordedClusterInfo = ["flink-version": "2.3.0"]
        lostObservation.recordedJob?.updateTime = String(nowMillis - 60_000)
        let recovered = decide(on(.v1_20, app(tag: "v2")), lostObservation, running: nil, rest: nil, lost: true)
        #expect(recovered.downgradeRefused != nil && recovered.redeploying && recovered.restorePath == "/c/chk-9", "\(recovered.phase) \(recovered.restorePath ?? "-")")
        #expect(recovered.target == app() && events(recovered) == ["RecoverDeployment"], "on the deployed spec: \(events(recovered))")
        let stateless = decideOn(on(.v1_20, app(mode: .stateless)), running: "2.3.0")
        #expect(flinkSteps(stateless) == [.cancel(rest: .http(8081), jobId: "old")], "stateless starts without state: allowed")
        let redeploy = decideOn(on(.v1_20, app(redeploy: 1, initial: "/sp/from-1.20")), running: "2.3.0")
        #expect(redeploy.phase == .run && redeploy.restorePath == "/sp/from-1.20", "the user names the snapshot: allowed")
        let upgrade = decideOn(on(.v2_3, app(tag: "v2")), running: "1.20.5")
        #expect(flinkSteps(upgrade).first.map { if case .stopWithSavepoint = $0 { true } else { false } } == true, "\(flinkSteps(upgrade))")
    }

    @Test func aSavepointUpgradeIsCommittedThenStopsTheJobWithASavepoint() {
        let lifecycle = decide(app(tag: "v2"), observation(deployed: app(), path: "/sp/0"))
        #expect(lifecycle.writeAhead, "UPGRADING is on record before anything stops")
        #expect(lifecycle.reconciliation.state == .upgrading)
        #expect(lifecycle.jobStatus.upgradeSavepointPath == nil, "the restore point of the next job is still to be taken")
        #expect(lifecycle.phase == .snapshotting)
        #expect(flinkSteps(lifecycle) == [upgradeStop])
        #expect(SnapshotTrigger(lifecycle.jobStatus.savepointInfo)?.id == SnapshotTrigger.make(jobId: "old", type: .upgrade, now: nowMillis).id,
                "the trigger is on record (write-ahead) before the request is sent")
        #expect(lifecycle.steps.contains(.event(type: .normal, reason: "SpecChanged", message: "Upgrading (savepoint): spec.job.args")))
    }

    @Test func onceTheSnapshotIsCommittedTheNewJobStartsFromIt() {
        let lifecycle = decide(app(tag: "v2"), observation(deployed: app(tag: "v2"), state: .upgrading, path: "/sp/upgrade"), running: .finished)
        #expect(lifecycle.phase == .run)
        #expect(lifecycle.restorePath == "/sp/upgrade")
        #expect(lifecycle.jobId == JobLifecycle.nextJobId(key: key, previous: "old"))
        #expect(lifecycle.jobId != "old" && lifecycle.jobId.count == 32)
        #expect(lifecycle.reconciliation.state == .deployed)
        #expect(lifecycle.jobStatus.state == "RECONCILING" && lifecycle.jobStatus.upgradeSavepointPath == "/sp/upgrade")
    }

    @Test func anOperatorThatDiedMidUpgradeTakesTheSnapshotAgainOrFinishesFromTheRecordedOne() {
        // Died after committing UPGRADING, before the savepoint: the job still runs; take it now.
        let before = decide(app(tag: "v2"), observation(deployed: app(tag: "v2"), state: .upgrading))
        #expect(flinkSteps(before) == [upgradeStop])
        // Died after the savepoint was committed, before the new cluster was up: deploy from it.
        let after = decide(app(tag: "v2"), observation(deployed: app(tag: "v2"), state: .upgrading, path: "/sp/taken"), running: nil, rest: nil)
        #expect(after.phase == .run && after.restorePath == "/sp/taken")
    }

    @Test func lastStateCancelsAndRestoresFromTheRetainedCheckpointUnlessItIsTooOld() {
        let fresh = ObservedCheckpoint(path: "file:///c/checkpoints/old/chk-7", timestamp: nowMillis - 5_000)
        let lifecycle = decide(app(tag: "v2", mode: .lastState), observation(deployed: app(mode: .lastState), checkpoint: fresh))
        #expect(flinkSteps(lifecycle) == [.cancel(rest: .http(8081), jobId: "old")])

        let limit = ["kubernetes.operator.job.upgrade.last-state.max.allowed.checkpoint.age": "1 min"]
        let stale = ObservedCheckpoint(path: "file:///c/checkpoints/old/chk-1", timestamp: nowMillis - 600_000)
        let old = decide(app(tag: "v2", mode: .lastState, configuration: limit),
                         observation(deployed: app(mode: .lastState, configuration: limit), checkpoint: stale))
        #expect(flinkSteps(old) == [upgradeStop],
                "a checkpoint older than the limit: a savepoint instead")

        let none = decide(app(tag: "v2", mode: .lastState), observation(deployed: app(mode: .lastState)))
        #expect(flinkSteps(none) == [upgradeStop])
    }

    @Test func aJobThatIsNotRunningFallsBackToItsLatestCheckpointOrWaits() {
        let checkpoint = ObservedCheckpoint(path: "file:///c/checkpoints/old/chk-3", timestamp: nowMillis - 5_000)
        let fallback = decide(app(tag: "v2"), observation(deployed: app(), checkpoint: checkpoint), running: .failed)
        #expect(fallback.phase == .run && fallback.restorePath == checkpoint.path)

        let disabled = ["kubernetes.operator.job.upgrade.last-state-fallback.enabled": "false"]
        let blocked = decide(app(tag: "v2", configuration: disabled), observation(deployed: app(configuration: disabled), checkpoint: checkpoint),
                             running: .failed)
        guard case .blocked(let reason, let message) = blocked.phase else { Issue.record("\(blocked.phase)"); return }
        #expect(reason == "UpgradeBlocked")
        #expect(message.contains("it keeps its last spec"), "never silently downgraded to stateless: \(message)")

        let nothing = decide(app(tag: "v2"), observation(deployed: app()), running: .failed)
        if case .blocked(let reason, _) = nothing.phase { #expect(reason == "UpgradeBlocked") } else { Issue.record("\(nothing.phase)") }
    }

    @Test func everyUpgradeWaitsForTheNewJobsPodsButASuspensionDoesNot() {
        for mode in [UpgradeMode.stateless, .savepoint, .lastState] {
            let checkpoint = ObservedCheckpoint(path: "/c/chk-3", timestamp: nowMillis - 1_000)
            let waiting = decide(app(tag: "v2", mode: mode), observation(deployed: app(tag: "v2", mode: mode), state: .upgrading, checkpoint: checkpoint,
                                                                         timestamp: nowMillis - 1_000), standbyReady: false)
            #expect(waiting.phase == .snapshotting && flinkSteps(waiting).isEmpty, "\(mode)")
            #expect(waiting.successorJobId == JobLifecycle.nextJobId(key: key, previous: "old"), "\(mode)")
            let ready = decide(app(tag: "v2", mode: mode), observation(deployed: app(tag: "v2", mode: mode), state: .upgrading, checkpoint: checkpoint,
                                                                       timestamp: nowMillis - 1_000))
            #expect(flinkSteps(ready).count == 1, "\(mode)")
        }
        let suspending = decide(app(state: .suspended), observation(deployed: app(state: .suspended), state: .upgrading), standbyReady: false)
        #expect(suspending.successorJobId == nil)
        #expect(flinkSteps(suspending) == [upgradeStop])
    }

    @Test func aStatelessUpgradeCancelsAndStartsFresh() {
        let lifecycle = decide(app(tag: "v2", mode: .stateless), observation(deployed: app(mode: .stateless), path: "/sp/0"))
        #expect(flinkSteps(lifecycle) == [.cancel(rest: .http(8081), jobId: "old")])
        #expect(lifecycle.phase == .run && lifecycle.restorePath == nil && lifecycle.jobId != "old")
    }

    @Test func suspendTakesASavepointAndResumeStartsFromIt() {
        let suspending = decide(app(state: .suspended), observation(deployed: app()))
        #expect(suspending.phase == .snapshotting)
        #expect(suspending.steps.contains(.event(type: .normal, reason: "SpecChanged", message: "Suspending (savepoint): spec.job.state")))
        let suspended = decide(app(state: .suspended), observation(deployed: app(state: .suspended), state: .upgrading, path: "/sp/s"), running: .finished)
        #expect(suspended.phase == .suspended && suspended.jobStatus.state == "SUSPENDED" && suspended.reconciliation.state == .deployed)
        #expect(suspended.jobStatus.upgradeSavepointPath == "/sp/s")

        var resumeObservation = observation(deployed: app(state: .suspended), path: "/sp/s")
        resumeObservation.recordedJob?.state = "SUSPENDED"
        let resumed = decide(app(), resumeObservation, running: nil, rest: nil)
        #expect(resumed.phase == .run && resumed.restorePath == "/sp/s" && resumed.jobId != "old")
    }

    @Test func aLostJobManagerIsRecoveredFromTheLatestCheckpointWithABackOff() {
        let checkpoint = ObservedCheckpoint(path: "file:///c/checkpoints/old/chk-9", timestamp: nowMillis - 1_000)
        let recovered = decide(app(), observation(deployed: app(), path: "/sp/0", checkpoint: checkpoint), running: nil, rest: nil, lost: true)
        #expect(recovered.phase == .run && recovered.restorePath == checkpoint.path && recovered.jobId != "old")
        #expect(events(recovered) == ["RecoverDeployment"])
        #expect(recovered.jobStatus.updateTime == String(nowMillis), "the time of the recovery, which the back-off counts from")

        var recent = observation(deployed: app(), path: "/sp/0", checkpoint: checkpoint)
        recent.recordedJob?.updateTime = String(nowMillis - 2_000)
        let tooSoon = decide(app(), recent, running: nil, rest: nil, lost: true)
        if case .waiting = tooSoon.phase {} else { Issue.record("\(tooSoon.phase)") }

        let noCheckpoint = decide(app(), observation(deployed: app(), path: "/sp/0"), running: nil, rest: nil, lost: true)
        #expect(noCheckpoint.restorePath == "/sp/0", "the snapshot the job started from, when no checkpoint completed")
    }

    @Test func aSavepointRedeployStartsFromTheInitialSavepointPath() {
        let lifecycle = decide(app(redeploy: 1, initial: "/sp/chosen"), observation(deployed: app(), path: "/sp/0"))
        #expect(lifecycle.writeAhead && lifecycle.phase == .run && lifecycle.restorePath == "/sp/chosen")
    }

    @Test func durationsParseInFlinksSyntax() {
        #expect(FlinkDuration.milliseconds("10s") == 10_000)
        #expect(FlinkDuration.milliseconds("5 min") == 300_000)
        #expect(FlinkDuration.milliseconds("250") == 250)
        #expect(FlinkDuration.milliseconds("1h") == 3_600_000)
        #expect(FlinkDuration.milliseconds("soon") == nil)
    }
}

@Suite struct SavepointPolicyTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)
    var nowMillis: Int64 { Int64(now.timeIntervalSince1970 * 1000) }

    func run(nonce: Int64? = nil, configuration: [String: String] = [:], info: SavepointInfo? = nil, keep: String? = nil,
             started: Int64? = nil, pending: SnapshotOperationState? = nil) -> (steps: [Step], status: JobStatus) {
        var status = JobStatus(jobId: "j", state: "RUNNING", startTime: started.map(String.init), upgradeSavepointPath: keep, savepointInfo: info)
        let steps = SavepointPolicy.steps(job: JobSpec(savepointTriggerNonce: nonce), configuration: FlinkConfiguration(configuration),
                                          status: &status, pending: pending, rest: .http(1), jobId: "j", savepointDirectory: "/sp", now: now)
        return (steps, status)
    }

    func steps(nonce: Int64? = nil, configuration: [String: String] = [:], info: SavepointInfo? = nil, keep: String? = nil,
               started: Int64? = nil) -> [Step] {
        run(nonce: nonce, configuration: configuration, info: info, keep: keep, started: started).steps
    }

    func trigger(_ type: SnapshotTriggerType, at millis: Int64? = nil, salt: String = "") -> SnapshotTrigger {
        SnapshotTrigger.make(jobId: "j", type: type, now: millis ?? nowMillis, salt: salt)
    }

    @Test func aNewNonceTriggersOneManualSavepointOnRecordFirst() {
        let first = run(nonce: 1)
        #expect(first.steps == [.flink(.triggerSavepoint(rest: .http(1), jobId: "j", directory: "/sp", triggerId: trigger(.manual, salt: "1").id))])
        #expect(SnapshotTrigger(first.status.savepointInfo) == trigger(.manual, salt: "1"), "recorded as pending before it is sent")
        #expect(steps(nonce: 1, info: SavepointInfo(triggerId: "manual:1")).isEmpty, "attempted already (even if it failed)")
        #expect(steps(nonce: 2, info: SavepointInfo(triggerId: "manual:1")).count == 1)
    }

    @Test func aPendingSavepointIsFollowedUntilItEndsNeverTriggeredTwice() {
        let pending = trigger(.manual, at: nowMillis - 2_000)
        let info = pending.recorded(in: nil)
        #expect(run(nonce: 1, info: info, pending: .inProgress).steps.isEmpty)
        let done = run(nonce: 1, info: info, pending: .completed(location: "file:/sp/savepoint-j-1"))
        #expect(done.status.savepointInfo?.savepointHistory?.map(\.location) == ["file:/sp/savepoint-j-1"])
        #expect(done.status.savepointInfo?.lastSavepoint?.triggerNonce == 1)
        #expect(done.status.savepointInfo?.triggerId == "manual:1" && SnapshotTrigger(done.status.savepointInfo) == nil)
        let failed = run(nonce: 1, info: info, pending: .failed(cause: "disk full"))
        #expect(failed.steps.contains { if case .event(.warning, "SavepointError", _) = $0 { true } else { false } })
        #expect(failed.status.savepointInfo?.triggerId == "manual:1", "a failed nonce is not retried")
        let lost = run(nonce: 1, info: info, pending: .notFound)
        #expect(lost.steps == [.flink(.triggerSavepoint(rest: .http(1), jobId: "j", directory: "/sp", triggerId: pending.id))],
                "Flink never got it: the same operation is asked for again")
        let stale = trigger(.periodic, at: nowMillis - SavepointPolicy.triggerTimeoutMillis - 1)
        let gaveUp = run(configuration: [SavepointPolicy.intervalKey: "1 min"], info: stale.recorded(in: nil), started: 0, pending: .unknown("unreachable"))
        #expect(SnapshotTrigger(gaveUp.status.savepointInfo) == nil && gaveUp.status.savepointInfo?.lastPeriodicSavepointTimestamp == stale.timestamp)
    }

    @Test func aRefusedAttemptIsRetriedOnlyAfterAPause() {
        var info = trigger(.periodic, at: nowMillis - 3_000).recorded(in: nil)
        info.endTrigger()
        #expect(steps(configuration: [SavepointPolicy.intervalKey: "1 min"], info: info, started: 0).isEmpty)
        var older = trigger(.periodic, at: nowMillis - 30_000).recorded(in: nil)
        older.endTrigger()
        #expect(steps(configuration: [SavepointPolicy.intervalKey: "1 min"], info: older, started: 0).count == 1)
    }

    @Test func periodicSavepointsFollowTheInterval() {
        let interval = [SavepointPolicy.intervalKey: "1 min"]
        #expect(steps(configuration: interval, started: nowMillis - 30_000).isEmpty)
        #expect(steps(configuration: interval, started: nowMillis - 61_000) == [.flink(.triggerSavepoint(rest: .http(1), jobId: "j", directory: "/sp", triggerId: trigger(.periodic).id))])
        #expect(steps(configuration: interval, info: SavepointInfo(lastPeriodicSavepointTimestamp: nowMillis - 10_000), started: 0).isEmpty)
    }

    @Test func theHistoryKeepsItsCountAndAgeButNeverTheNewestOrTheRestorePoint() {
        let history = (0..<5).map { Savepoint(timeStamp: nowMillis - Int64(5 - $0) * 1_000, location: "/sp/\($0)", triggerType: .manual) }
        let byCount = SavepointPolicy.expired(history: history, keep: nil, configuration: [SavepointPolicy.maxCountKey: "2"], now: nowMillis)
        #expect(byCount.map(\.location) == ["/sp/0", "/sp/1", "/sp/2"])
        let kept = SavepointPolicy.expired(history: history, keep: "/sp/1", configuration: [SavepointPolicy.maxCountKey: "2"], now: nowMillis)
        #expect(kept.map(\.location) == ["/sp/0", "/sp/2"])
        let byAge = SavepointPolicy.expired(history: history, keep: nil, configuration: [SavepointPolicy.maxAgeKey: "1s"], now: nowMillis)
        #expect(byAge.map(\.location) == ["/sp/0", "/sp/1", "/sp/2", "/sp/3"], "all but the newest are older than 1 s")
        #expect(SavepointPolicy.expired(history: [history[0]], keep: nil, configuration: [SavepointPolicy.maxAgeKey: "1s"], now: nowMillis).isEmpty)
    }
}

@Suite struct RollbackAndRestartTests {
    let base = JobLifecycleTests()

    func rollbackObservation(since: Int64) -> FlinkObservation {
        let enabled = ["kubernetes.operator.deployment.rollback.enabled": "true", "kubernetes.operator.deployment.readiness.timeout": "30s"]
        var observation = base.observation(deployed: base.app(tag: "broken", configuration: enabled), path: "/sp/upgrade", timestamp: since)
        observation.reconciliation?.lastStableSpec = JobLifecycle.specJSONOf(base.app(tag: "v1", configuration: enabled))
        return observation
    }

    var enabled: [String: String] { ["kubernetes.operator.deployment.rollback.enabled": "true", "kubernetes.operator.deployment.readiness.timeout": "30s"] }

    @Test func anUpgradeThatIsNotRunningWithinTheTimeoutRollsBackToTheLastStableSpecFromItsSavepoint() {
        let desired = base.app(tag: "broken", configuration: enabled)
        let early = base.decide(desired, rollbackObservation(since: base.nowMillis - 10_000), running: .failed)
        #expect(early.rolledBack == false, "within the readiness timeout: wait")

        let late = base.decide(desired, rollbackObservation(since: base.nowMillis - 60_000), running: .failed)
        #expect(late.rolledBack && late.reconciliation.state == .rolledBack && late.writeAhead)
        #expect(base.events(late) == ["Rollback"])
        #expect(late.restorePath == "/sp/upgrade", "from the savepoint taken at the upgrade")
        if case .deployment(let d) = late.target { #expect(d.spec.job?.args == ["--tag", "v1"]) } else { Issue.record("target") }
        #expect(late.jobId != "old")
    }

    @Test func rolledBackStaysUntilANewerSpecArrives() {
        var observation = rollbackObservation(since: base.nowMillis - 60_000)
        observation.reconciliation?.state = .rolledBack
        let same = base.decide(base.app(tag: "broken", configuration: enabled), observation, running: .running)
        #expect(same.rolledBack && same.steps.isEmpty && same.jobId == "old")
        if case .deployment(let d) = same.target { #expect(d.spec.job?.args == ["--tag", "v1"]) } else { Issue.record("target") }

        let newer = base.decide(base.app(tag: "fixed", configuration: enabled), observation, running: .running)
        #expect(!newer.rolledBack && newer.reconciliation.state == .upgrading, "a newer spec breaks out of the rollback")
        #expect(base.flinkSteps(newer) == [base.upgradeStop])
    }

    @Test func aFailedJobIsResubmittedWhenAsked() {
        let restart = ["kubernetes.operator.job.restart.failed": "true"]
        let checkpoint = ObservedCheckpoint(path: "file:///c/checkpoints/old/chk-4", timestamp: base.nowMillis - 1_000)
        let lifecycle = base.decide(base.app(configuration: restart),
                                    base.observation(deployed: base.app(configuration: restart), checkpoint: checkpoint), running: .failed)
        #expect(base.events(lifecycle) == ["RestartFailedJob"])
        #expect(lifecycle.phase == .run && lifecycle.restorePath == checkpoint.path && lifecycle.jobId != "old")
        let notAsked = base.decide(base.app(), base.observation(deployed: base.app(), checkpoint: checkpoint), running: .failed)
        #expect(notAsked.jobId == "old" && notAsked.steps.isEmpty)
    }
}
