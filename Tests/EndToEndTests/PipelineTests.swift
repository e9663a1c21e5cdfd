import FlinkResources
import FlinkletTesting
import Foundation
import Runtime
import Testing

#if canImport(Glibc)
import Glibc
#endif

extension Cluster {
    /// Runs the `flinklet` client in this world's directory (manifests in `manifests/`, state in
    /// `state/`), as a pipeline step would.
    func flinklet(_ arguments: [String], stdin: String? = nil) throws -> (status: Int32, stdout: String, stderr: String) {
        // `apply` writes manifests only; the other verbs also read the Store.
        let output = try ChildProcess.collect(
            [E2E.executable.path] + arguments + ["--manifests", manifests] + (arguments.first == "apply" ? [] : ["--state-dir", state]),
            workingDirectory: root, input: stdin.map { Array($0.utf8) })
        return (output.status, output.standardOutput, output.standardError)
    }
}

/// The upgrade pipeline of issue 6 against real Flink: `apply` a new jar version, `wait` for
/// STABLE, and the new version runs with the old one's state.
@Suite(.serialized, .enabled(if: E2E.available)) struct PipelineTests {
    @Test func applyWaitAndTheNewVersionRunsWithItsState() async throws {
        let world = try Cluster("pipeline")
        defer { world.tearDown() }
        try world.startOperator()
        // Version 2 of the job is a new jar file (same classes), copied into the cluster by file://.
        let v2Jar = world.root + "/counter-job-v2.jar"
        try FileManager.default.copyItem(atPath: try #require(E2E.counterJar), toPath: v2Jar)
        func manifest(tag: String, jar: String? = nil) -> String {
            E2E.deployment(name: "app", mode: "application", args: ["--rate", "50", "--keys", "4", "--tag", tag, "--output", world.output + "/app.out"],
                           jarURI: jar, upgradeMode: "savepoint")
        }
        try manifest(tag: "v1").write(toFile: world.root + "/app.yaml", atomically: true, encoding: .utf8)

        var result = try world.flinklet(["apply", "-f", "app.yaml"])
        #expect(result.status == 0 && result.stdout == "flinkdeployment.flink.apache.org/app created\n", "\(result)")
        result = try world.flinklet(["wait", "flinkdeployment/app", "--for=jsonpath={.status.lifecycleState}=STABLE", "--timeout", "180s"])
        #expect(result.status == 0 && result.stdout == "flinkdeployment/app condition met\n", "\(result) \(world.summary(.flinkDeployment, "app"))")
        let v1 = try #require(world.deployment("app")?.jobStatus?.jobId)
        try await Task.sleep(for: .seconds(2))

        // diff: nothing to change (exit 0); the new version (exit 1, with the kind of change).
        result = try world.flinklet(["diff", "-f", "app.yaml"])
        #expect(result.status == 0, "\(result)")
        try manifest(tag: "v2", jar: "file://" + v2Jar).write(toFile: world.root + "/app.yaml", atomically: true, encoding: .utf8)
        result = try world.flinklet(["diff", "-f", "app.yaml"])
        #expect(result.status == 1, "\(result)")
        #expect(result.stdout.contains("# upgrade (savepoint): spec.job.args, spec.job.jarURI"), "\(result.stdout)")

        // apply → wait: the pipeline never passes on the old version.
        result = try world.flinklet(["apply", "-f", "app.yaml"])
        #expect(result.stdout == "flinkdeployment.flink.apache.org/app configured\n", "\(result)")
        result = try world.flinklet(["wait", "flinkdeployment/app", "--for=jsonpath={.status.lifecycleState}=STABLE", "--timeout", "180s"])
        #expect(result.status == 0, "\(result)")
        let upgraded = try #require(world.deployment("app"))
        #expect(upgraded.jobStatus?.jobId != v1, "wait returned on the new version's job, not the old one")
        #expect(upgraded.clusterInfo?["jar"]?.contains("counter-job-v2.jar") == true, "\(upgraded.clusterInfo ?? [:])")
        #expect(world.waitUntil(timeout: 20) { world.lines("app.out").contains { $0.last == "v2" } })
        try await Task.sleep(for: .seconds(2))
        #expect(LifecycleTests.continues(world.counts("app.out"), replay: 0) == nil, "\(LifecycleTests.continues(world.counts("app.out"), replay: 0) ?? "")")

        // The same file again: unchanged, and nothing restarts.
        let v2 = upgraded.jobStatus?.jobId
        result = try world.flinklet(["apply", "-f", "app.yaml"])
        #expect(result.stdout == "flinkdeployment.flink.apache.org/app unchanged\n", "\(result)")
        try await Task.sleep(for: .seconds(4))
        #expect(world.deployment("app")?.jobStatus?.jobId == v2 && world.deployment("app")?.lifecycleState == .stable)

        // An invalid file: nothing written, exit 1; diff of it: exit 2.
        let before = try String(contentsOfFile: world.manifests + "/" + (try FileManager.default.contentsOfDirectory(atPath: world.manifests).first { $0.hasSuffix(".yaml") } ?? ""), encoding: .utf8)
        try manifest(tag: "v3").replacingOccurrences(of: "upgradeMode: savepoint", with: "upgradeMode: savepiont")
            .write(toFile: world.root + "/bad.yaml", atomically: true, encoding: .utf8)
        result = try world.flinklet(["apply", "-f", "bad.yaml"])
        #expect(result.status == 1 && result.stderr.contains("bad.yaml:") && result.stderr.contains("spec.job.upgradeMode"), "\(result)")
        let after = try String(contentsOfFile: world.manifests + "/" + (try FileManager.default.contentsOfDirectory(atPath: world.manifests).first { $0.hasSuffix(".yaml") } ?? ""), encoding: .utf8)
        #expect(before == after, "nothing written")
        result = try world.flinklet(["diff", "-f", "bad.yaml"])
        #expect(result.status == 2, "\(result)")

        result = try world.flinklet(["delete", "flinkdeployment", "app", "--timeout", "120s"])
        #expect(result.status == 0 && result.stdout == "flinkdeployment.flink.apache.org \"app\" deleted\n", "\(result)")
        #expect(world.waitUntil(timeout: 30) { world.processes().isEmpty })
    }
}
