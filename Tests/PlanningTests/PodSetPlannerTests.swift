import Foundation
import Testing
import FlinkResources
@testable import Planning
@testable import Reconciliation

/// Two `sleep` pods per resource; the TaskManager count follows `taskManager.replicas`.
let sleepPods = PodSetPlanner { id, resource in
    guard case .deployment(let d) = resource else { return [] }
    let jm = PodPlan(name: "\(id.name)-jobmanager-0", role: .jobManager, argv: ["sleep", "1000"])
    let tms = (0..<(d.spec.taskManager?.replicas ?? 1)).map {
        PodPlan(name: "\(id.name)-taskmanager-\($0)", role: .taskManager, argv: ["sleep", "1000"])
    }
    return [jm] + tms
}

let id = ResourceID(kind: .flinkDeployment, namespace: "default", name: "app")
let t0 = Date(timeIntervalSince1970: 1_800_000_000)

func app(replicas: Int = 1) -> FlinkResource {
    .deployment(FlinkDeployment(metadata: ObjectMeta(name: "app"), spec: FlinkDeploymentSpec(
        flinkVersion: .v2_3, taskManager: TaskManagerSpec(replicas: replicas), mode: .session)))
}

func running(_ plan: PodPlan, ready: Bool = true) -> ObservedPod {
    ObservedPod(name: plan.name, phase: .running, ready: ready, planHash: plan.planHash)
}

func wanted(_ resource: FlinkResource) -> [PodPlan] { sleepPods.template(id, resource) }

func input(_ resource: FlinkResource?, pods: [ObservedPod], defined: Bool = true, errors: [String] = [],
           conditions: [Condition] = [], generation: Int64 = 1, now: Date = t0) -> PlanInputOf<NoObservation> {
    PlanInputOf(id: id, resource: resource, isDefined: defined, generation: generation, validationErrors: errors,
              pods: pods, conditions: conditions, now: now)
}

@Suite struct PodSetPlannerTests {
    @Test func aNewResourceStartsItsPodsAndIsReconciling() {
        let plan = sleepPods.plan(input(app(replicas: 2), pods: []))
        #expect(plan.steps == [
            .startPod(wanted(app(replicas: 2))[0]), .startPod(wanted(app(replicas: 2))[1]), .startPod(wanted(app(replicas: 2))[2]),
            .event(type: .normal, reason: "Started", message: "Starting 3 pod(s)"),
        ])
        #expect(plan.conditions.map(\.type) == ["Ready", "Reconciling"])
        #expect(plan.conditions[0].status == .false)
        #expect(plan.next == .requeue(after: .seconds(2)))
    }

    @Test func readyPodsNeedNothingAndMakeTheResourceReady() {
        let plan = sleepPods.plan(input(app(), pods: wanted(app()).map { running($0) }))
        #expect(plan.steps.isEmpty)
        #expect(plan.conditions.map(\.type) == ["Ready"])
        #expect(plan.conditions[0].status == .true)
        #expect(plan.conditions[0].observedGeneration == 1)
        #expect(plan.error == nil)
        #expect(plan.next == .awaitChange)
    }

    @Test func podsNotYetReadyKeepItReconcilingWithoutSteps() {
        let plan = sleepPods.plan(input(app(), pods: wanted(app()).map { running($0, ready: false) }))
        #expect(plan.steps.isEmpty)
        #expect(plan.conditions.first { $0.type == "Reconciling" }?.reason == "WaitingForReadiness")
    }

    @Test func aChangedPodIsReplacedAndAnUnwantedOneStopped() {
        let old = wanted(app(replicas: 2))
        var edited = wanted(app(replicas: 1))
        edited[0].environment["VERSION"] = "2"
        let changed = edited
        let planner = PodSetPlanner { _, _ in changed }
        let plan = planner.plan(input(app(replicas: 1), pods: old.map { running($0) }))
        #expect(plan.steps == [
            .stopPod(name: "app-taskmanager-1", reason: "no longer wanted"),
            .stopPod(name: "app-jobmanager-0", reason: "spec changed"),
            .event(type: .normal, reason: "Killing", message: "Stopping pod(s) app-taskmanager-1, app-jobmanager-0"),
        ], "the replacement waits for its predecessor to be gone: never a stop and a start of one name")
        #expect(plan.next == .requeue(after: planner.progressInterval))
        // The old pod on its way out: nothing more to do, nothing started.
        var leaving = running(old[0])
        leaving.reason = "Terminating"
        let kept = running(changed[1])
        #expect(planner.plan(input(app(replicas: 1), pods: [leaving, kept])).steps.isEmpty)
        // Gone: its successor starts.
        let next = planner.plan(input(app(replicas: 1), pods: [kept]))
        #expect(next.steps == [
            .startPod(changed[0]),
            .event(type: .normal, reason: "Started", message: "Starting 1 pod(s)"),
        ])
    }

    @Test func aDeletedResourceStopsEveryPodThenIsForgottenOnceTheyAreGone() {
        let pods = wanted(app()).map { running($0) }
        let plan = sleepPods.plan(input(nil, pods: pods, defined: false))
        #expect(plan.steps == [
            .stopPod(name: "app-jobmanager-0", reason: "resource deleted"),
            .stopPod(name: "app-taskmanager-0", reason: "resource deleted"),
            .event(type: .normal, reason: "Cleanup", message: "Stopping 2 pod(s): the manifest was removed"),
        ])
        #expect(plan.lifecycleState == .deleting && plan.next != .awaitChange, "looked at again until no pod is left")
        var stopping = pods
        for index in stopping.indices { stopping[index].reason = "Terminating" }
        #expect(sleepPods.plan(input(nil, pods: stopping, defined: false)).steps.isEmpty, "asked once, never waited for")
        #expect(sleepPods.plan(input(nil, pods: [], defined: false)).steps == [.forget])
    }

    @Test func aPodOnItsWayOutIsNeitherStoppedAgainNorReplacedUntilItIsGone() {
        var old = running(wanted(app())[0])
        old.planHash = "older"
        old.reason = "Terminating"
        let diff = PodDiff(wanted: [wanted(app())[0]], observed: [old])
        #expect(diff.steps.isEmpty && diff.waiting == ["app-jobmanager-0"])
    }

    @Test func aManifestThatWasNeverValidRunsNothingAndIsStalled() {
        let error = "a.yaml:9:15: spec.taskManager.replicas: Invalid value: 0: must be greater than or equal to 1"
        let plan = sleepPods.plan(input(nil, pods: [], errors: [error]))
        #expect(plan.steps == [.event(type: .warning, reason: "ValidationError", message: error)])
        #expect(plan.error == error)
        #expect(plan.conditions.map { "\($0.type)=\($0.status.rawValue)/\($0.reason ?? "")" } == ["Ready=False/InvalidSpec", "Stalled=True/InvalidSpec"])
    }

    @Test func anInvalidEditKeepsTheRunningPodsAndReportsTheError() {
        let error = "a.yaml:9:15: spec.taskManager.replicas: Invalid value: 0: must be greater than or equal to 1"
        let plan = sleepPods.plan(input(app(), pods: wanted(app()).map { running($0) }, errors: [error]))
        #expect(plan.steps == [.event(type: .warning, reason: "ValidationError", message: error)], "no pod is touched")
        #expect(plan.error == error)
        #expect(plan.conditions.first?.status == .true, "the last good spec still runs")
    }

    @Test func aCrashLoopingPodStallsTheResource() {
        var pods = wanted(app()).map { running($0) }
        pods[1].phase = .running
        pods[1].ready = false
        pods[1].reason = "CrashLoopBackOff"
        pods[1].exitCode = 3
        pods[1].restartCount = 4
        let plan = sleepPods.plan(input(app(), pods: pods))
        #expect(plan.steps.isEmpty, "the driver restarts it; the plan does not fight the backoff")
        let stalled = plan.conditions.first { $0.type == "Stalled" }
        #expect(stalled?.message == "pod app-taskmanager-0: CrashLoopBackOff (exit code 3), 4 restart(s)")
        #expect(plan.error == "pod app-taskmanager-0 is CrashLoopBackOff")
    }

    @Test func lastTransitionTimeMovesOnlyWhenAConditionFlips() {
        let pods = wanted(app()).map { running($0) }
        let first = sleepPods.plan(input(app(), pods: pods, now: t0))
        let later = t0.addingTimeInterval(60)
        let again = sleepPods.plan(input(app(), pods: pods, conditions: first.conditions, now: later))
        #expect(again.conditions[0].lastTransitionTime == first.conditions[0].lastTransitionTime)
        let notReady = sleepPods.plan(input(app(), pods: pods.map { var p = $0; p.ready = false; return p }, conditions: again.conditions, now: later))
        #expect(notReady.conditions[0].lastTransitionTime == Conditions.rfc3339(later))
    }

    @Test func planningIsDeterministic() {
        let i = input(app(replicas: 3), pods: [running(wanted(app(replicas: 3))[1])])
        #expect(sleepPods.plan(i) == sleepPods.plan(i))
    }
}

@Suite struct RFC3339Tests {
    @Test(arguments: [
        (0.0, "1970-01-01T00:00:00Z"), (951_782_400, "2000-02-29T00:00:00Z"), (1_800_000_000, "2027-01-15T08:00:00Z"),
        (1_795_251_701.9, "2026-11-21T09:01:41Z"), (-1, "1969-12-31T23:59:59Z"), (4_102_444_800, "2100-01-01T00:00:00Z"),
    ])
    func formatsLikeKubernetes(seconds: Double, expected: String) {
        #expect(Conditions.rfc3339(Date(timeIntervalSince1970: seconds)) == expected)
    }

    @Test func parsesWhatItWritesAndNothingElse() {
        var x: UInt64 = 7
        for _ in 0..<2_000 {
            x = x &* 6364136223846793005 &+ 1442695040888963407
            let date = Date(timeIntervalSince1970: Double(x % 8_000_000_000) - 1_000_000_000)
            #expect(RFC3339.date(from: RFC3339.string(from: date)) == Date(timeIntervalSince1970: date.timeIntervalSince1970.rounded(.down)))
        }
        #expect(RFC3339.date(from: "2026-11-21T09:01:41.042Z").map { ($0.timeIntervalSince1970 * 1000).rounded() } == 1_795_251_701_042)
        for bad in ["", "2026-11-21", "2026-11-21T09:01:41", "2026-11-21T09:01:41+01:00", "2026-13-21T09:01:41Z", "2026-11-21T09:01:41.Z", "x026-11-21T09:01:41Z"] {
            #expect(RFC3339.date(from: bad) == nil, "\(bad)")
        }
    }

    @Test func millisecondsAreAppendedWhenAsked() {
        #expect(RFC3339.string(from: Date(timeIntervalSince1970: 1_795_251_701.0421), milliseconds: true) == "2026-11-21T09:01:41.042Z")
        #expect(RFC3339.string(from: Date(timeIntervalSince1970: 0.9999), milliseconds: true) == "1970-01-01T00:00:00.999Z")
    }

    @Test func agreesWithFoundationsFormatterOverManyDates() {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        var x: UInt64 = 42
        for _ in 0..<2_000 {
            x = x &* 6364136223846793005 &+ 1442695040888963407
            let date = Date(timeIntervalSince1970: Double(x % 8_000_000_000) - 1_000_000_000)
            #expect(Conditions.rfc3339(date) == formatter.string(from: date))
        }
    }
}
