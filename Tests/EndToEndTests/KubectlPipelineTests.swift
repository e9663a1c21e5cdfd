import FlinkletTesting
import Foundation
import Runtime
import Testing

/// The pipeline of issue 15 against real Flink, through the Kubernetes API with the real
/// kubectl: `kubectl apply` an application, `kubectl wait --for=condition=Ready`, `kubectl
/// apply` a new job version (args and parallelism, savepoint upgrade), `kubectl wait`, and the
/// job's own output shows every key's count continuing.
@Suite(.serialized, .enabled(if: E2E.available)) struct KubectlPipelineTests {
    @Test func kubectlApplyWaitAndTheNewJobVersionContinuesTheCounts() async throws {
        let world = try Cluster("kubectl")
        defer { world.tearDown() }
        // Ports of its own: other operators on this machine may hold the defaults.
        try world.startOperator(extra: ["--http", "127.0.0.1:0", "--api", "127.0.0.1:0"])
        let kubeconfig = world.state + "/kubeconfig"
        #expect(world.waitUntil(timeout: 30) { FileManager.default.fileExists(atPath: kubeconfig) }, "\(world.operatorLog())")
        func kubectl(_ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
            let output = try ChildProcess.collect(
                ["/usr/bin/kubectl", "--kubeconfig", kubeconfig, "--cache-dir", world.root + "/kube-cache"] + arguments,
                workingDirectory: world.root, environment: .inherit(adding: ["HOME": world.root]))
            return (output.status, output.standardOutput, output.standardError)
        }
        func manifest(tag: String, parallelism: Int) -> String {
            E2E.deployment(name: "app", mode: "application", args: ["--rate", "50", "--keys", "4", "--tag", tag, "--output", world.output + "/app.out"],
                           parallelism: parallelism, upgradeMode: "savepoint", slots: 2)
        }

        try manifest(tag: "v1", parallelism: 1).write(toFile: world.root + "/app.yaml", atomically: true, encoding: .utf8)
        var result = try kubectl(["apply", "-f", "app.yaml"])
        #expect(result.status == 0 && result.stdout == "flinkdeployment.flink.apache.org/app created\n", "\(result)")
        result = try kubectl(["wait", "flinkdeployment/app", "--for=condition=Ready", "--timeout=180s"])
        #expect(result.status == 0 && result.stdout == "flinkdeployment.flink.apache.org/app condition met\n",
                "\(result) \(world.summary(.flinkDeployment, "app"))")
        let v1 = try #require(world.deployment("app")?.jobStatus?.jobId)
        #expect(world.waitUntil(timeout: 60) { world.lines("app.out").count >= 8 }, "v1 counts: \(world.summary(.flinkDeployment, "app"))")

        try manifest(tag: "v2", parallelism: 2).write(toFile: world.root + "/app.yaml", atomically: true, encoding: .utf8)
        result = try kubectl(["apply", "-f", "app.yaml"])
        #expect(result.status == 0 && result.stdout == "flinkdeployment.flink.apache.org/app configured\n", "\(result)")
        result = try kubectl(["wait", "flinkdeployment/app", "--for=condition=Ready", "--timeout=180s"])
        #expect(result.status == 0, "\(result) \(world.summary(.flinkDeployment, "app"))")
        // kubectl wait compares the condition's observedGeneration with the object's generation:
        // it must not pass on the old version's Ready.
        let upgraded = try #require(world.deployment("app"))
        #expect(upgraded.jobStatus?.jobId != v1 && upgraded.lifecycleState == .stable,
                "wait returned on the new version: \(world.summary(.flinkDeployment, "app"))")
        let parallelism = try kubectl(["get", "flinkdep", "app", "-o", "jsonpath={.spec.job.parallelism} {.status.observedGeneration}"])
        #expect(parallelism.stdout == "2 2", "\(parallelism)")
        #expect(world.waitUntil(timeout: 30) { world.lines("app.out").filter { $0.last == "v2" }.count >= 8 })
        world.evidence("app.out", "kubectl apply of a new version (savepoint)")
        #expect(LifecycleTests.continues(world.counts("app.out"), replay: 0) == nil,
                "\(LifecycleTests.continues(world.counts("app.out"), replay: 0) ?? "")")
    }
}
