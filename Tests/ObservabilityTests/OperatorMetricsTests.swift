import CoreMetrics
import FlinkResources
import Foundation
import MetricsTestKit
import Testing
@testable import Observability

@Suite struct OperatorMetricsTests {
    let app = ResourceID(kind: .flinkDeployment, namespace: "default", name: "app")
    let now = Date(timeIntervalSince1970: 2_000_000)

    func gauge(_ metrics: TestMetrics, _ name: String, _ namespace: String = "default", kind: ResourceKind = .flinkDeployment) -> Double? {
        try? metrics.expectGauge(name, [("resourcens", namespace), ("resourcetype", kind.rawValue)]).lastValue
    }

    func deployment(_ lifecycle: ResourceLifecycleState, jm: JobManagerDeploymentStatus, job: String? = nil,
                    savepoint: SavepointInfo? = nil) -> AnyResourceStatus {
        .deployment(FlinkDeploymentStatus(jobStatus: JobStatus(state: job, savepointInfo: savepoint), lifecycleState: lifecycle,
                                          jobManagerDeploymentStatus: jm))
    }

    @Test func reconcilesAreCountedPerResourceAndTimedPerKindAndResult() throws {
        let test = TestMetrics()
        let metrics = OperatorMetrics(factory: test)
        metrics.reconcileStarted(app, isRetry: false)
        metrics.reconcileEnded(app, duration: .milliseconds(12), result: .success)
        metrics.reconcileStarted(app, isRetry: false)
        metrics.reconcileEnded(app, duration: .milliseconds(3), result: .failed)
        metrics.reconcileStarted(app, isRetry: true)
        metrics.reconcileEnded(app, duration: .milliseconds(4), result: .success)
        let counts = try #require(metrics.reconcileCounts(app))
        #expect((counts.started, counts.finished, counts.failed, counts.retries) == (3, 2, 1, 1))
        let success = try test.expectTimer(MetricNames.reconcileSeconds, [("resourcens", "default"), ("resourcetype", "FlinkDeployment"), ("result", "success")])
        #expect(success.values == [12_000_000, 4_000_000])
    }

    @Test func perResourceSeriesAreWrittenInTheTextFormatFailuresOnlyOnceAResourceFailed() throws {
        let metrics = OperatorMetrics(factory: TestMetrics())
        let odd = ResourceID(kind: .flinkSessionJob, namespace: "default", name: #"a"b\c"#)
        metrics.reconcileStarted(app, isRetry: false)
        metrics.reconcileEnded(app, duration: .milliseconds(1), result: .success)
        metrics.reconcileStarted(odd, isRetry: false)
        metrics.reconcileEnded(odd, duration: .milliseconds(1), result: .failed)
        var buffer: [UInt8] = []
        metrics.writeResourceSeries(into: &buffer)
        let text = String(decoding: buffer, as: UTF8.self)
        #expect(text == """
            # TYPE \(MetricNames.reconciliations) counter
            \(MetricNames.reconciliations){resourcens="default",resourcename="app",resourcetype="FlinkDeployment"} 1
            \(MetricNames.reconciliations){resourcens="default",resourcename="a\\"b\\\\c",resourcetype="FlinkSessionJob"} 1
            # TYPE \(MetricNames.reconciliationsFinished) counter
            \(MetricNames.reconciliationsFinished){resourcens="default",resourcename="app",resourcetype="FlinkDeployment"} 1
            \(MetricNames.reconciliationsFinished){resourcens="default",resourcename="a\\"b\\\\c",resourcetype="FlinkSessionJob"} 0
            # TYPE \(MetricNames.reconciliationsFailed) counter
            \(MetricNames.reconciliationsFailed){resourcens="default",resourcename="a\\"b\\\\c",resourcetype="FlinkSessionJob"} 1
            # TYPE \(MetricNames.reconciliationsRetries) counter
            \(MetricNames.reconciliationsRetries){resourcens="default",resourcename="a\\"b\\\\c",resourcetype="FlinkSessionJob"} 0

            """)
        metrics.resourceForgotten(odd)
        metrics.resourceForgotten(app)
        #expect(metrics.reconcileCounts(app) == nil)
        buffer = []
        metrics.writeResourceSeries(into: &buffer)
        #expect(buffer.isEmpty)
    }

    @Test func statesAreCountedPerKindAndMoveWithTheResource() {
        let test = TestMetrics()
        let metrics = OperatorMetrics(factory: test)
        let other = ResourceID(kind: .flinkDeployment, namespace: "default", name: "other")
        metrics.statusRecorded(app, status: deployment(.deployed, jm: .deployedNotReady, job: "RECONCILING"), at: now)
        metrics.statusRecorded(other, status: deployment(.deployed, jm: .deployedNotReady), at: now)
        #expect(gauge(test, MetricNames.resources) == 2)
        #expect(gauge(test, MetricNames.lifecycleStateCount("DEPLOYED")) == 2)
        #expect(gauge(test, MetricNames.jobManagerDeploymentStatusCount("DEPLOYED_NOT_READY")) == 2)
        #expect(gauge(test, MetricNames.jobStatusCount("RECONCILING")) == 1)

        metrics.statusRecorded(app, status: deployment(.stable, jm: .ready, job: "RUNNING"), at: now.addingTimeInterval(8))
        #expect(gauge(test, MetricNames.lifecycleStateCount("DEPLOYED")) == 1)
        #expect(gauge(test, MetricNames.lifecycleStateCount("STABLE")) == 1)
        #expect(gauge(test, MetricNames.jobManagerDeploymentStatusCount("READY")) == 1)
        #expect(gauge(test, MetricNames.jobStatusCount("RECONCILING")) == 0)
        #expect(gauge(test, MetricNames.jobStatusCount("RUNNING")) == 1)
        let stabilization = try? test.expectTimer(MetricNames.lifecycleTransitionSeconds(.stabilization),
                                                  [("resourcens", "default"), ("resourcetype", "FlinkDeployment")])
        #expect(stabilization?.values == [8_000_000_000])

        metrics.resourceForgotten(app)
        #expect(gauge(test, MetricNames.resources) == 1)
        #expect(gauge(test, MetricNames.lifecycleStateCount("STABLE")) == 0)
    }

    @Test func savepointsTriggeredCompletedAndFailedAreCountedFromStatusChanges() throws {
        let test = TestMetrics()
        let metrics = OperatorMetrics(factory: test)
        let first = Savepoint(timeStamp: 1, location: "file:///sp/1")
        // The first status is a baseline: an old trigger is not counted again after a restart.
        metrics.statusRecorded(app, status: deployment(.stable, jm: .ready, savepoint: SavepointInfo(triggerId: "old")), at: now)
        metrics.statusRecorded(app, status: deployment(.stable, jm: .ready, savepoint: SavepointInfo(lastSavepoint: first)), at: now)
        metrics.statusRecorded(app, status: deployment(.stable, jm: .ready, savepoint: SavepointInfo(lastSavepoint: first, triggerId: "t2")), at: now)
        metrics.statusRecorded(app, status: deployment(.stable, jm: .ready, savepoint: SavepointInfo(lastSavepoint: first)), at: now)  // t2 failed
        let labels = [("resourcens", "default"), ("resourcetype", "FlinkDeployment"), ("snapshot", "Savepoint")]
        #expect(try test.expectCounter(MetricNames.snapshots(.triggered), labels).totalValue == 1)
        #expect(try test.expectCounter(MetricNames.snapshots(.completed), labels).totalValue == 1)
        #expect(try test.expectCounter(MetricNames.snapshots(.failed), labels).totalValue == 1)
    }

    @Test func podRestartsAndOOMKillsAreCountedPerPod() throws {
        let test = TestMetrics()
        let metrics = OperatorMetrics(factory: test)
        metrics.podRestarted(namespace: "default", pod: "app-taskmanager-0")
        metrics.podRestarted(namespace: "default", pod: "app-taskmanager-0")
        metrics.podOOMKilled(namespace: "default", pod: "app-taskmanager-0")
        metrics.podPhases(["Running": 3, "Pending": 1])
        let pod = [("namespace", "default"), ("pod", "app-taskmanager-0")]
        #expect(try test.expectCounter(MetricNames.podRestarts, pod).totalValue == 2)
        #expect(try test.expectCounter(MetricNames.podOOMKills, pod).totalValue == 1)
        #expect(try test.expectGauge(MetricNames.podPhase, [("phase", "Running")]).lastValue == 3)
        #expect(try test.expectGauge(MetricNames.podPhase, [("phase", "Failed")]).lastValue == 0)
    }

    @Test func theOperatorSamplesItsOwnProcess() throws {
        let test = TestMetrics()
        let metrics = OperatorMetrics(factory: test)
        metrics.sampleProcess()
        #expect(try #require(test.expectGauge(MetricNames.processResidentMemory).lastValue) > 1_000_000)
        #expect(try #require(test.expectGauge(MetricNames.processOpenFDs).lastValue) >= 3)
        #expect(try #require(test.expectGauge(MetricNames.processStartTime).lastValue) > 1_600_000_000)
    }
}
