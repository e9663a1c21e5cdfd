import FlinkResources
import Foundation
import Testing

/// `flinklet wait`: conditions, JSONPath values and deletion, counted only once the operator has
/// observed the spec the manifest directory defines now.
@Suite struct WaitCommandTests {
    static let web = ManifestText.deployment(name: "web")
    static let webV2 = ManifestText.deployment(name: "web", args: ["--rate", "30"])
    static let key = "FlinkDeployment/default/web"

    @Test func aConditionOfTheCurrentGenerationIsMet() throws {
        try withWorkspace { ws in
            try ws.write("manifests/web.yaml", Self.web)
            try ws.seed(Self.web, generation: 2, status: status(.stable, observed: 2, ready: .true))
            for arguments in [["wait", "fdep/web", "--for=condition=Ready"], ["wait", "flinkdeployment", "web", "--for", "condition=ready"],
                              ["wait", "fdep/web", "--for=condition=Ready=true", "--timeout", "0"]] {
                let result = try ws.run(arguments)
                #expect(result.exited && result.status == 0, "\(arguments): \(result)")
                #expect(result.stdoutLines == ["flinkdeployment/web condition met"], "\(arguments): \(result)")
            }
        }
    }

    @Test func aConditionCanBeWaitedForToBeFalse() throws {
        try withWorkspace { ws in
            try ws.write("manifests/web.yaml", Self.web)
            try ws.seed(Self.web, status: status(.failed, observed: 1, ready: .false))
            let result = try ws.run(["wait", "fdep/web", "--for=condition=Ready=false", "--timeout=2s"])
            #expect(result.exited && result.status == 0, "\(result)")
            let ready = try ws.run(["wait", "fdep/web", "--for=condition=Ready", "--timeout=500ms"])
            #expect(ready.exited && ready.status == 1, "\(ready)")
        }
    }

    @Test func aConditionOfAnOlderGenerationDoesNotCount() throws {
        try withWorkspace { ws in
            try ws.write("manifests/web.yaml", Self.web)
            // Ready describes generation 1; the spec is at generation 2.
            try ws.seed(Self.web, generation: 2, status: status(.upgrading, observed: 2, ready: .true, readyObserved: 1))
            let result = try ws.run(["wait", "fdep/web", "--for=condition=Ready", "--timeout", "1s"])
            #expect(result.exited && result.status == 1, "\(result)")
            #expect(result.stdout == "", "\(result)")
            #expect(result.stderrLines == ["error: timed out waiting for the condition on flinkdeployments/web"], "\(result)")

            // A condition without a generation of its own takes the status's.
            try ws.setStatus(Self.key, status(.upgrading, observed: 1, ready: .true, readyObserved: nil).withoutConditionGeneration())
            let stale = try ws.run(["wait", "fdep/web", "--for=condition=Ready", "--timeout", "500ms"])
            #expect(stale.exited && stale.status == 1, "\(stale)")
        }
    }

    @Test func aStoreThatHasNotReadTheAppliedManifestDoesNotCountAndThenDoes() throws {
        try withWorkspace { ws in
            // Applied v2; the Store still holds v1, Ready at its (current) generation 1.
            try ws.write("manifests/web.yaml", Self.webV2)
            try ws.seed(Self.webV2, generation: 1, status: status(.stable, observed: 1, ready: .true), specFrom: Self.web)
            let stale = try ws.run(["wait", "fdep/web", "--for=condition=Ready", "--timeout", "1s"])
            #expect(stale.exited && stale.status == 1, "\(stale)")
            #expect(stale.stderrLines == ["error: timed out waiting for the condition on flinkdeployments/web"], "\(stale)")

            let wait = try ws.start(["wait", "fdep/web", "--for=condition=Ready", "--timeout", "30s"])
            usleep(500_000)
            // The operator reads v2 (generation 2) and reconciles it later.
            try ws.setStatus(Self.key, generation: 2, specFrom: Self.webV2, status(.stable, observed: 1, ready: .true))
            usleep(500_000)
            #expect(wait.process.isRunning, "met on generation 1: \(wait.description)")
            try ws.setStatus(Self.key, status(.stable, observed: 2, ready: .true))
            #expect(wait.waitForExit(timeout: 15), "\(wait.description)")
            #expect(wait.status == 0, "\(wait.description)")
            #expect(wait.stdoutLines == ["flinkdeployment/web condition met"], "\(wait.description)")
        }
    }

    @Test func aResourceAppliedButNotYetRecordedIsWaitedForNotNotFound() throws {
        try withWorkspace { ws in
            try ws.write("manifests/web.yaml", Self.web)
            let wait = try ws.start(["wait", "fdep/web", "--for=jsonpath={.status.lifecycleState}=STABLE", "--timeout", "30s"])
            usleep(500_000)
            #expect(wait.process.isRunning, "\(wait.description)")
            try ws.seed(Self.web, status: status(.stable, observed: 1))
            #expect(wait.waitForExit(timeout: 15), "\(wait.description)")
            #expect(wait.status == 0, "\(wait.description)")
            #expect(wait.stdoutLines == ["flinkdeployment/web condition met"], "\(wait.description)")
        }
    }

    @Test func jsonPathComparesTheValueAtTheObservedGeneration() throws {
        try withWorkspace { ws in
            try ws.write("manifests/web.yaml", Self.web)
            try ws.seed(Self.web, generation: 3, status: status(.stable, observed: 3, ready: .true))
            for condition in ["jsonpath={.status.lifecycleState}=STABLE", "jsonpath='{.status.lifecycleState}'=STABLE",
                              #"jsonpath={.status.conditions[?(@.type=="Ready")].status}=True"#, "jsonpath={.spec.job.args[1]}=20",
                              "jsonpath={.status.observedGeneration}"] {
                let result = try ws.run(["wait", "fdep/web", "--for=\(condition)", "--timeout", "2s"])
                #expect(result.exited && result.status == 0, "\(condition): \(result)")
                #expect(result.stdoutLines == ["flinkdeployment/web condition met"], "\(condition): \(result)")
            }
            let other = try ws.run(["wait", "fdep/web", "--for=jsonpath={.status.lifecycleState}=FAILED", "--timeout", "500ms"])
            #expect(other.exited && other.status == 1, "\(other)")

            try ws.setStatus(Self.key, status(.stable, observed: 2))
            let old = try ws.run(["wait", "fdep/web", "--for=jsonpath={.status.lifecycleState}=STABLE", "--timeout", "500ms"])
            #expect(old.exited && old.status == 1, "observed generation 2 < 3: \(old)")
        }
    }

    @Test func forDeleteIsMetOnceTheStoreAndTheManifestsNoLongerHaveIt() throws {
        try withWorkspace { ws in
            let gone = try ws.run(["wait", "fdep/nothing", "--for=delete", "--timeout", "1s"])
            #expect(gone.exited && gone.status == 0, "\(gone)")
            #expect(gone.stdoutLines == ["flinkdeployment/nothing condition met"], "\(gone)")

            try ws.seed(Self.web, status: status(.deleting, observed: 1))
            let wait = try ws.start(["wait", "fdep/web", "--for=delete", "--timeout", "30s"])
            usleep(500_000)
            #expect(wait.process.isRunning, "\(wait.description)")
            try ws.store().deleteResource(Self.key)
            #expect(wait.waitForExit(timeout: 15), "\(wait.description)")
            #expect(wait.status == 0, "\(wait.description)")

            // Still in the manifests: not deleted.
            try ws.write("manifests/web.yaml", Self.web)
            let defined = try ws.run(["wait", "fdep/web", "--for=delete", "--timeout", "500ms"])
            #expect(defined.exited && defined.status == 1, "\(defined)")
        }
    }

    @Test func anUnknownResourceIsNotFound() throws {
        try withWorkspace { ws in
            let result = try ws.run(["wait", "sessionjob/nope", "--for=condition=Ready"])
            #expect(result.exited && result.status == 1, "\(result)")
            #expect(result.stderrLines == [#"Error from server (NotFound): flinksessionjobs.flink.apache.org "nope" not found"#], "\(result)")
        }
    }

    @Test(arguments: [
        (["wait", "fdep/web"], "--for"),
        (["wait", "fdep/web", "--for=ready"], #"unrecognized condition: "ready""#),
        (["wait", "fdep/web", "--for=condition=Ready=maybe"], "the status must be true, false or unknown"),
        (["wait", "fdep/web", "--for=jsonpath={.status"], "unclosed"),
        (["wait", "fdep/web", "--for=delete", "--timeout", "5 minutes"], #"invalid --timeout "5 minutes""#),
        (["wait", "--for=delete"], "resource(s) must be specified"),
    ])
    func usageErrorsExitTwo(arguments: [String], message: String) throws {
        try withWorkspace { ws in
            let result = try ws.run(arguments)
            #expect(result.exited && result.status == 2, "\(result)")
            #expect(result.stderr.contains(message), "\(result)")
        }
    }
}

extension FlinkDeploymentStatus {
    /// The same status with its conditions' own observed generations removed.
    func withoutConditionGeneration() -> FlinkDeploymentStatus {
        var copy = self
        copy.conditions = conditions?.map { condition in
            var condition = condition
            condition.observedGeneration = nil
            return condition
        }
        return copy
    }
}
