import FlinkResources
import Foundation
import Testing
@testable import Planning
@testable import Reconciliation

/// The one status writer: a plan's status and step outcomes fold into the recorded status.
@Suite struct StatusReducerTests {
    let condition = Condition(type: "Ready", status: .true, reason: "JobRunning", message: "running", observedGeneration: 2)

    @Test func thePlanDecidesWhatItNamesAndLeavesTheRest() {
        var recorded = FlinkDeploymentStatus()
        recorded.clusterInfo = ["rest-port": "20000"]
        recorded.observedGeneration = 1
        recorded.lifecycleState = .deployed
        recorded.jobStatus = JobStatus(jobId: "old", state: "RUNNING")
        let plan = Plan(conditions: [condition], lifecycleState: nil, observedGeneration: nil,
                        domainStatus: FlinkStatus(jobStatus: JobStatus(jobId: "new", state: "RECONCILING"),
                                                 jobManagerDeploymentStatus: .deploying))
        guard case .deployment(let status) = StatusReducer.reduce(.deployment(recorded), plan: plan) else { Issue.record("kind"); return }
        #expect(status.conditions == [condition] && status.error == nil)
        #expect(status.lifecycleState == .deployed && status.observedGeneration == 1, "nil in the plan: kept")
        #expect(status.jobStatus?.jobId == "new" && status.jobManagerDeploymentStatus == .deploying)
        #expect(status.clusterInfo == ["rest-port": "20000"])
    }

    @Test func aRefusedTriggerEndsTheRecordedTriggerOnly() {
        let trigger = SnapshotTrigger.make(jobId: "j", type: .manual, now: 1_000)
        var job = JobStatus(jobId: "j", state: "RUNNING")
        job.savepointInfo = trigger.recorded(in: SavepointInfo(savepointHistory: [Savepoint(timeStamp: 1, location: "/sp/1")]))
        let recorded = AnyResourceStatus.sessionJob(FlinkSessionJobStatus(jobStatus: job))
        let reduced = FlinkStatusReducer.reduce(recorded, outcome: .snapshotTriggerRefused)
        let info = reduced.common.jobStatus?.savepointInfo
        #expect(SnapshotTrigger(info) == nil && info?.triggerTimestamp == 1_000 && info?.savepointHistory?.count == 1)
        let none = AnyResourceStatus.sessionJob(FlinkSessionJobStatus(jobStatus: JobStatus(jobId: "j")))
        #expect(FlinkStatusReducer.reduce(none, outcome: .snapshotTriggerRefused) == none)
    }
}
