import FlinkResources
import Foundation
import Synchronization
import Testing
@testable import Observability

@Suite struct OperatorHealthTests {
    final class Clock: Sendable {
        let now = Mutex(Date(timeIntervalSince1970: 3_000_000))
        func advance(_ seconds: Double) { now.withLock { $0 = $0.addingTimeInterval(seconds) } }
    }

    let canary = ResourceID(kind: .flinkDeployment, namespace: "default", name: "canary")

    @Test func theCanaryLabelMustSayTrue() {
        #expect(OperatorHealth.isCanary(labels: ["flink.apache.org/canary": "true"]))
        #expect(OperatorHealth.isCanary(labels: ["flink.apache.org/canary": "True"]))
        #expect(!OperatorHealth.isCanary(labels: ["flink.apache.org/canary": "false"]))
        #expect(!OperatorHealth.isCanary(labels: nil))
    }

    @Test func readyOnlyOnceEveryCanaryReconciledWithinAMinute() async {
        let clock = Clock()
        let health = OperatorHealth(now: { clock.now.withLock { $0 } })
        health.addReadinessCheck("manifests-listed") { nil }
        #expect(OperatorHealth.render(await health.readiness(), verbose: false).passed)

        health.reconciled(canary, isCanary: true, succeeded: false)
        var answer = OperatorHealth.render(await health.readiness(), verbose: false)
        #expect(!answer.passed)
        #expect(answer.body.contains("[-]canary:FlinkDeployment/default/canary failed: no successful reconcile yet"))

        health.reconciled(canary, isCanary: true, succeeded: true)
        #expect(OperatorHealth.render(await health.readiness(), verbose: false) == (true, "ok\n"))

        clock.advance(61)
        answer = OperatorHealth.render(await health.readiness(), verbose: false)
        #expect(!answer.passed)
        #expect(answer.body.contains("last successful reconcile 61s ago"))

        // No longer a canary (label removed, or deleted): not waited for.
        health.reconciled(canary, isCanary: false, succeeded: true)
        #expect(OperatorHealth.render(await health.readiness(), verbose: false).passed)
    }

    @Test func aReadinessCheckThatFailsNamesItsReason() async {
        let health = OperatorHealth()
        health.addReadinessCheck("manifests-listed") { "the manifest directory has not been listed yet" }
        let answer = OperatorHealth.render(await health.readiness(), verbose: false)
        #expect(answer == (false, "[-]manifests-listed failed: the manifest directory has not been listed yet\ncheck failed\n"))
    }

    @Test func aServiceThatEndedFailsLiveness() async {
        let health = OperatorHealth()
        health.serviceStarted("reconcile-workers")
        health.serviceStarted("pod-supervision")
        health.addProbe("work-queue") {}
        #expect(OperatorHealth.render(await health.liveness(), verbose: false).passed)
        health.serviceEnded("pod-supervision")
        let answer = OperatorHealth.render(await health.liveness(), verbose: true)
        #expect(answer == (false, "[-]pod-supervision failed: ended\n[+]reconcile-workers ok\n[+]work-queue ok\ncheck failed\n"))
    }
}
