import FlinkResources
import Foundation
import Testing
@testable import Observability

@Suite struct LifecycleTrackerTests {
    let t0 = Date(timeIntervalSince1970: 1_000_000)

    func at(_ seconds: Double) -> Date { t0.addingTimeInterval(seconds) }

    @Test func aFirstDeployTimesItsStabilizationAndHowLongItWasDeployed() {
        var tracker = LifecycleTracker()
        #expect(tracker.update(.created, at: at(0)) == .init())
        _ = tracker.update(.deployed, at: at(2))
        _ = tracker.update(.deployed, at: at(5))
        let stable = tracker.update(.stable, at: at(12))
        #expect(stable.transitions == [.stabilization: .seconds(10)])
        #expect(stable.stateTimes[.deployed] == .seconds(3))  // entered at 2, last seen at 5
        #expect(stable.stateTimes[.created] == .zero)
    }

    @Test func anUpgradeIsTimedFromTheLastStableSightingToTheNextStable() {
        var tracker = LifecycleTracker()
        _ = tracker.update(.stable, at: at(0))
        _ = tracker.update(.stable, at: at(100))
        let upgrading = tracker.update(.upgrading, at: at(101))
        #expect(upgrading.transitions == [.suspend: .seconds(1)])
        let deployed = tracker.update(.deployed, at: at(104))
        #expect(deployed.transitions == [.submission: .seconds(3)])
        let stable = tracker.update(.stable, at: at(120))
        #expect(stable.transitions == [.upgrade: .seconds(20), .stabilization: .seconds(16)])
    }

    @Test func aResumeIsTimedFromSuspendedToStableAndNotCountedAsAnUpgrade() {
        var tracker = LifecycleTracker()
        _ = tracker.update(.stable, at: at(0))
        #expect(tracker.update(.suspended, at: at(10)).transitions == [.suspend: .seconds(10)])
        _ = tracker.update(.suspended, at: at(50))
        _ = tracker.update(.upgrading, at: at(51))
        _ = tracker.update(.deployed, at: at(53))
        let stable = tracker.update(.stable, at: at(60))
        #expect(stable.transitions == [.resume: .seconds(10), .stabilization: .seconds(7)])
    }

    @Test func aRollbackIsTimedFromTheDeploy() {
        var tracker = LifecycleTracker()
        _ = tracker.update(.deployed, at: at(0))
        _ = tracker.update(.rollingBack, at: at(30))
        #expect(tracker.update(.rolledBack, at: at(45)).transitions == [.rollback: .seconds(45)])
    }
}
