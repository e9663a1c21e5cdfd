import FlinkResources
import Foundation
import Testing
@testable import Planning
@testable import Reconciliation

/// A restore point is never a guess: recorded triggers are followed across reconciles (and
/// operator restarts), recorded points are checked to exist, and an unhealthy job is redeployed.
@Suite struct SnapshotTriggerTests {
    let base = JobLifecycleTests()
    var nowMillis: Int64 { base.nowMillis }

    /// Upgrading (or suspending) job "old" with a stop-with-savepoint on record.
    func upgrading(_ desired: FlinkResource, pending: SnapshotOperationState?, checkpoint: ObservedCheckpoint? = nil) -> FlinkObservation {
        var observation = base.observation(deployed: desired, state: .upgrading, checkpoint: checkpoint)
        observation.recordedJob?.savepointInfo = SnapshotTrigger.make(jobId: "old", type: .upgrade, now: nowMillis - 5_000).recorded(in: nil)
        observation.pendingSnapshot = pending
        return observation
    }

    @Test func aStopThatCompletedWhileTheOperatorWasDownIsCommittedAndRestoredFrom() {
        let location = "file:/c/savepoints/savepoint-old000-1"
        let lifecycle = base.decide(base.app(tag: "v2"), upgrading(base.app(tag: "v2"), pending: .completed(location: location)),
                                    running: nil, rest: nil)
        #expect(lifecycle.phase == .run && lifecycle.restorePath == location && lifecycle.jobId != "old")
        #expect(lifecycle.writeAhead, "the savepoint is on record before the old pods stop")
        #expect(lifecycle.jobStatus.upgradeSavepointPath == location)
        #expect(lifecycle.jobStatus.savepointInfo?.savepointHistory?.map(\.location) == [location])
        #expect(SnapshotTrigger(lifecycle.jobStatus.savepointInfo) == nil, "the trigger is over")
        #expect(base.events(lifecycle).contains("SavepointCreated"))

        let suspended = base.decide(base.app(state: .suspended), upgrading(base.app(state: .suspended), pending: .completed(location: location)),
                                    running: .finished, rest: nil)
        #expect(suspended.phase == .suspended && suspended.jobStatus.upgradeSavepointPath == location,
                "a suspend interrupted by an operator crash keeps the savepoint it took, not a checkpoint Flink deleted")
    }

    @Test func aStopInProgressIsWaitedForAcrossReconcilesNeverInsideOne() {
        let lifecycle = base.decide(base.app(tag: "v2"), upgrading(base.app(tag: "v2"), pending: .inProgress))
        #expect(lifecycle.phase == .snapshotting && lifecycle.steps.isEmpty)
        let unseen = base.decide(base.app(tag: "v2"), upgrading(base.app(tag: "v2"), pending: .unknown("connection refused")), running: nil, rest: nil)
        #expect(unseen.phase == .snapshotting && unseen.steps.isEmpty, "unknown is not failed: nothing destructive, look again")
    }

    @Test func aStopNobodyCanConfirmOnceTheJobManagerIsGoneFallsBackToTheNewestCheckpoint() {
        let checkpoint = ObservedCheckpoint(path: "file:/c/checkpoints/old/chk-9", timestamp: nowMillis - 3_000)
        let desired = base.app(tag: "v2")
        let lifecycle = JobLifecycle.decide(key: base.key, generation: 2, desired: desired, job: base.job(desired),
                                            observation: upgrading(desired, pending: .unknown("connection refused"), checkpoint: checkpoint),
                                            running: nil, rest: nil, jobManagerLost: false, jobManagerGone: true,
                                            savepointDirectory: "/c/savepoints", now: base.now)
        #expect(lifecycle.phase == .run && lifecycle.restorePath == checkpoint.path)
        #expect(base.events(lifecycle).contains("SavepointError"))
    }

    @Test func aFailedStopKeepsTheJobAndIsRetriedAfterAPause() {
        let failed = base.decide(base.app(tag: "v2"), upgrading(base.app(tag: "v2"), pending: .failed(cause: "task not running")))
        #expect(base.flinkSteps(failed).isEmpty && base.events(failed).contains("SavepointError"))
        #expect(SnapshotTrigger(failed.jobStatus.savepointInfo) == nil)
        var again = base.observation(deployed: base.app(tag: "v2"), state: .upgrading)
        again.recordedJob?.savepointInfo = failed.jobStatus.savepointInfo
        let paced = base.decide(base.app(tag: "v2"), again)
        #expect(base.flinkSteps(paced).isEmpty, "not retried at once")
        var later = again
        later.recordedJob?.savepointInfo?.triggerTimestamp = nowMillis - JobLifecycle.savepointRetryMillis - 1
        #expect(base.flinkSteps(base.decide(base.app(tag: "v2"), later)) == [base.upgradeStop])
    }

    @Test func aStopFlinkNeverReceivedIsSentAgainUnderTheSameId() {
        let observation = upgrading(base.app(tag: "v2"), pending: .notFound)
        let lifecycle = base.decide(base.app(tag: "v2"), observation)
        let recorded = SnapshotTrigger(observation.recordedJob?.savepointInfo)!
        #expect(base.flinkSteps(lifecycle) == [.stopWithSavepoint(rest: .http(8081), jobId: "old", directory: "/c/savepoints", triggerId: recorded.id)])
    }

    @Test func aRestorePointThatIsGoneIsReplacedByTheNewestThatExists() {
        let checkpoint = ObservedCheckpoint(path: "file:/c/checkpoints/old/chk-12", timestamp: nowMillis - 1_000)
        var observation = base.observation(deployed: base.app(state: .suspended), path: "file:/c/checkpoints/old/chk-50", checkpoint: checkpoint)
        observation.recordedJob?.state = "SUSPENDED"
        observation.missingSnapshots = ["file:/c/checkpoints/old/chk-50"]
        let resumed = base.decide(base.app(), observation, running: nil, rest: nil)
        #expect(resumed.phase == .run && resumed.restorePath == checkpoint.path)
        #expect(base.events(resumed).contains("RestorePointMissing"))

        var nothing = observation
        nothing.latestCheckpoint = nil
        let blocked = base.decide(base.app(), nothing, running: nil, rest: nil)
        guard case .blocked(let reason, _) = blocked.phase else { Issue.record("\(blocked.phase)"); return }
        #expect(reason == "RestorePointMissing", "never a deployment from a path that is gone, never silently empty")
    }

    @Test func anUnhealthyJobIsRedeployedFromItsNewestCheckpointAsANewJob() {
        let checkpoint = ObservedCheckpoint(path: "file:/c/checkpoints/old/chk-4", timestamp: nowMillis - 700_000)
        let desired = base.app()
        let lifecycle = JobLifecycle.decide(key: base.key, generation: 2, desired: desired, job: base.job(desired),
                                            observation: base.observation(deployed: desired, path: "/sp/0", checkpoint: checkpoint),
                                            running: ObservedJob(id: "old", name: "app", state: .restarting), rest: .http(8081), jobManagerLost: false,
                                            unhealthy: "job RESTARTING: no checkpoint completed for 700 s", savepointDirectory: "/c/savepoints", now: base.now)
        #expect(base.events(lifecycle) == ["RestartUnhealthyJob"])
        #expect(base.flinkSteps(lifecycle) == [.cancel(rest: .http(8081), jobId: "old")])
        #expect(lifecycle.phase == .run && lifecycle.restorePath == checkpoint.path && lifecycle.jobId != "old")
        #expect(FlinkCluster.side(ofJob: lifecycle.jobId) != FlinkCluster.side(ofJob: "old"), "fresh TaskManagers on the other side")
    }

    @Test func anUnansweringJobManagerIsLookedAtAgainBeforeItsJobCountsAsNotRunning() {
        let checkpoint = ObservedCheckpoint(path: "file:/c/checkpoints/old/chk-7", timestamp: nowMillis - 2_000)
        let desired = base.app(tag: "v2")
        func decide(since: Int64, gone: Bool) -> JobLifecycle {
            JobLifecycle.decide(key: base.key, generation: 2, desired: desired, job: base.job(desired),
                                observation: base.observation(deployed: desired, state: .upgrading, checkpoint: checkpoint, timestamp: since),
                                running: nil, rest: nil, jobManagerLost: false, jobManagerGone: gone, savepointDirectory: "/c/savepoints", now: base.now)
        }
        let fresh = decide(since: nowMillis - 5_000, gone: false)
        if case .waiting = fresh.phase {} else { Issue.record("\(fresh.phase)") }
        #expect(fresh.steps.isEmpty, "nothing destructive while the job cannot be seen")
        #expect(decide(since: nowMillis - 5_000, gone: true).restorePath == checkpoint.path, "no JobManager: nothing to wait for")
        #expect(decide(since: nowMillis - JobLifecycle.restUnreachableGraceMillis - 1, gone: false).restorePath == checkpoint.path,
                "not for ever")
    }

    @Test func aResourceCreatedAgainNeverReusesAnEarlierIncarnationsJobIds() {
        let desired = base.app()
        func firstJob(uid: String) -> String {
            let input = PlanInput(id: ResourceID(kind: .flinkDeployment, namespace: "default", name: "app"), uid: uid, resource: desired,
                                  isDefined: true, generation: 1, pods: [], now: base.now)
            return JobLifecycle.decide(key: JobLifecycle.lineage(input), generation: 1, desired: desired, job: base.job(desired),
                                       observation: FlinkObservation(distribution: nil, podRoot: "/p", clusterDirectory: "/c"),
                                       running: nil, rest: nil, jobManagerLost: false, savepointDirectory: "/c/savepoints", now: base.now).jobId
        }
        #expect(firstJob(uid: "a") == firstJob(uid: "a"), "a retry of the same incarnation: the same id")
        #expect(firstJob(uid: "a") != firstJob(uid: "b"),
                "deleted and created again (generation 1 again): a new id, so its restores never find the earlier one's checkpoints")
    }

    @Test func aLastStateCancelIsFollowedUntilTheJobIsCanceled() {
        let checkpoint = ObservedCheckpoint(path: "file:/c/checkpoints/old/chk-7", timestamp: nowMillis - 2_000)
        let observation = base.observation(deployed: base.app(tag: "v2", mode: .lastState), state: .upgrading, checkpoint: checkpoint)
        let cancelling = base.decide(base.app(tag: "v2", mode: .lastState), observation, running: .cancelling)
        #expect(cancelling.phase == .snapshotting && cancelling.steps.isEmpty)
        let canceled = base.decide(base.app(tag: "v2", mode: .lastState), observation, running: .canceled)
        #expect(canceled.phase == .run && canceled.restorePath == checkpoint.path)
    }
}

@Suite struct ClusterHealthTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)
    var nowMillis: Int64 { Int64(now.timeIntervalSince1970 * 1000) }

    func job(_ state: FlinkJobState = .running, started: Int64) -> ObservedJob { ObservedJob(id: "j", name: "c", state: state, startTime: started) }

    @Test func restartsBeyondTheThresholdWithinTheWindowAreUnhealthy() {
        let configuration: FlinkConfiguration = [ClusterHealth.restartsThresholdKey: "5"]
        let first = ClusterHealth.evaluate(configuration: configuration, recorded: nil, job: job(started: nowMillis - 10_000), restarts: 3,
                                           latestCheckpoint: nil, now: now)!
        #expect(first.unhealthy == nil && first.info.numRestarts == 3)
        let later = ClusterHealth.evaluate(configuration: configuration, recorded: first.info, job: job(.restarting, started: nowMillis - 10_000),
                                           restarts: 8, latestCheckpoint: nil, now: now.addingTimeInterval(30))!
        #expect(later.unhealthy?.contains("5 restarts") == true)
        let slow = ClusterHealth.evaluate(configuration: configuration, recorded: first.info, job: job(started: nowMillis - 10_000),
                                          restarts: 8, latestCheckpoint: nil, now: now.addingTimeInterval(180))!
        #expect(slow.unhealthy == nil && slow.info.numRestarts == 8, "a new window starts from the count it sees")
        #expect(ClusterHealth.evaluate(configuration: [ClusterHealth.enabledKey: "false"], recorded: nil, job: job(started: 0), restarts: 100,
                                       latestCheckpoint: nil, now: now) == nil)
    }

    @Test func noCheckpointForLongerThanTheWindowIsUnhealthyWhileCheckpointingIsOn() {
        let on: FlinkConfiguration = ["execution.checkpointing.interval": "2s", ClusterHealth.checkpointProgressWindowKey: "1 min"]
        let fresh = ObservedCheckpoint(path: "/c/chk-1", timestamp: nowMillis - 30_000)
        let stale = ObservedCheckpoint(path: "/c/chk-1", timestamp: nowMillis - 90_000)
        #expect(ClusterHealth.evaluate(configuration: on, recorded: nil, job: job(started: nowMillis - 600_000), restarts: nil,
                                       latestCheckpoint: fresh, now: now)?.unhealthy == nil)
        #expect(ClusterHealth.evaluate(configuration: on, recorded: nil, job: job(.restarting, started: nowMillis - 600_000), restarts: nil,
                                       latestCheckpoint: stale, now: now)?.unhealthy?.contains("no checkpoint completed for 90 s") == true)
        #expect(ClusterHealth.evaluate(configuration: on, recorded: nil, job: job(started: nowMillis - 20_000), restarts: nil,
                                       latestCheckpoint: nil, now: now)?.unhealthy == nil, "a young job has time")
        #expect(ClusterHealth.checkpointProgressWindow(["execution.checkpointing.interval": "2s"]) == 600_000,
                "upstream's default: the longer of interval and timeout, times the tolerable failures plus one")
        #expect(ClusterHealth.checkpointProgressWindow([:]) == nil, "no checkpointing, no check")
    }
}
