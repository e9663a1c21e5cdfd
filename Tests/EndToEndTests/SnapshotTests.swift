import FlinkClient
import FlinkResources
import FlinkletTesting
import Foundation
import Runtime
import Store
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `FlinkStateSnapshot` against real Flink 2.3, on one cluster: a savepoint snapshot of a running
/// application job completes with a path; the job is later redeployed from that path and Flink
/// says it restored from it, and the job's own counts continue from the snapshot; a checkpoint
/// snapshot; an existing savepoint registered (`alreadyExists`); the operator's own savepoint
/// listed; deleting a snapshot with `disposeOnDelete` removes its directory.
@Suite(.serialized, .enabled(if: E2E.available)) struct SnapshotTests {
    func snapshot(_ name: String, _ body: String) -> String {
        """
        apiVersion: flink.apache.org/v1beta1
        kind: FlinkStateSnapshot
        metadata:
          name: \(name)
        spec:
        \(body)
        """
    }

    func state(_ world: Cluster, _ name: String) -> FlinkStateSnapshotStatus? {
        try? world.record(.flinkStateSnapshot, name)?.snapshotStatus()
    }

    /// `GET /jobs/{id}/checkpoints` of the running cluster, as JSON.
    func checkpointStatistics(_ world: Cluster, port: Int, jobId: String) throws -> [String: Any] {
        let output = try ChildProcess.collect(world.curlWithCertificate + ["-sf", "https://127.0.0.1:\(port)/jobs/\(jobId)/checkpoints"])
        let object = try JSONSerialization.jsonObject(with: Data(output.standardOutput.utf8))
        return try #require(object as? [String: Any], "\(output.standardOutput)")
    }

    /// A read-only `flinklet` verb on this world's state directory.
    func client(_ world: Cluster, _ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
        let output = try ChildProcess.collect([E2E.executable.path] + arguments + ["--state-dir", world.state], workingDirectory: world.root)
        return (output.status, output.standardOutput, output.standardError)
    }

    static func localPath(_ location: String) -> String {
        var path = Substring(location.hasPrefix("file:") ? String(location.dropFirst(5)) : location)
        while path.hasPrefix("//") { path = path.dropFirst() }
        return String(path)
    }

    @Test func snapshotsOfARunningJobAreTakenRestoredFromRegisteredAndDisposedOf() async throws {
        let started = Date()
        let world = try Cluster("snapshots")
        defer { world.tearDown() }
        try world.startOperator()
        func manifest(tag: String, extra: String = "") -> String {
            E2E.deployment(name: "app", mode: "application", args: ["--rate", "50", "--keys", "4", "--tag", tag, "--output", world.output + "/app.out"],
                           upgradeMode: "savepoint").replacingOccurrences(of: "upgradeMode: savepoint", with: "upgradeMode: savepoint" + extra)
        }
        let v1 = try await LifecycleTests.deployRunning(world, "app", manifest(tag: "v1"))

        // 1. A savepoint snapshot of the running job: COMPLETED, its path on disk.
        try world.apply("sp.yaml", snapshot("sp", "  jobReference: {kind: FlinkDeployment, name: app}\n  savepoint: {}\n"))
        #expect(world.waitUntil(timeout: 30) { state(world, "sp")?.state == .completed }, "\(world.summary(.flinkStateSnapshot, "sp"))")
        let taken = try #require(state(world, "sp"))
        let path = try #require(taken.path)
        let directory = Self.localPath(path)
        #expect(FileManager.default.fileExists(atPath: directory + "/_metadata"), "\(path)")
        #expect(directory.hasPrefix(world.state + "/clusters/default/app/savepoints/"), "\(path)")
        #expect(taken.triggerTimestamp != nil && taken.resultTimestamp != nil && taken.failures == nil)
        let countsAtSnapshot = world.counts("app.out")
        print("e2e evidence: snapshot sp COMPLETED at \(path) (trigger \(taken.triggerTimestamp ?? ""), result \(taken.resultTimestamp ?? ""))")

        // 2. A checkpoint snapshot: COMPLETED with Flink's checkpoint path.
        try world.apply("chk.yaml", snapshot("chk", "  jobReference: {kind: FlinkDeployment, name: app}\n  checkpoint: {}\n"))
        #expect(world.waitUntil(timeout: 30) { state(world, "chk")?.state == .completed }, "\(world.summary(.flinkStateSnapshot, "chk"))")
        let checkpoint = try #require(state(world, "chk")?.path)
        #expect(checkpoint.contains("/\(v1)/chk-"), "\(checkpoint)")
        // Flink's own checkpoint (its files go once a newer one subsumes it): in the job's history.
        let history = (try checkpointStatistics(world, port: try #require(world.restPort("app")), jobId: v1)["history"] as? [[String: Any]]) ?? []
        #expect(history.contains { ($0["external_path"] as? String) == checkpoint }, "\(history.compactMap { $0["external_path"] })")
        print("e2e evidence: snapshot chk COMPLETED at \(checkpoint)")

        // 3. The existing savepoint registered under another name; a missing one fails.
        try world.apply("old.yaml", snapshot("old", "  savepoint:\n    alreadyExists: true\n    disposeOnDelete: false\n    path: \(path)\n"))
        try world.apply("none.yaml", snapshot("none", "  backoffLimit: 0\n  savepoint:\n    alreadyExists: true\n    path: \(world.root)/nothing\n"))
        #expect(world.waitUntil(timeout: 20) { state(world, "old")?.state == .completed && state(world, "none")?.state == .failed },
                "\(world.summary(.flinkStateSnapshot, "old"))\n\(world.summary(.flinkStateSnapshot, "none"))")
        #expect(state(world, "old")?.path == path)
        #expect(state(world, "none")?.error?.contains("_metadata does not exist") == true)

        // 4. Redeploy from the snapshot's path (upstream's savepointRedeployNonce): Flink restores
        // from it, and the counts continue from what the snapshot holds.
        try await Task.sleep(for: .seconds(2))
        try world.apply("app.yaml", manifest(tag: "v2", extra: "\n    initialSavepointPath: \(path)\n    savepointRedeployNonce: 1"))
        try #require(LifecycleTests.waitRunning(world, "app", jobIdNot: v1), "\(world.summary(.flinkDeployment, "app"))")
        #expect(world.waitUntil(timeout: 20) { world.lines("app.out").filter { $0.last == "v2" }.count > 20 })
        let redeployed = try #require(world.deployment("app")?.jobStatus?.jobId)
        let port = try #require(world.restPort("app"))
        let statistics = try checkpointStatistics(world, port: port, jobId: redeployed)
        let restored = ((statistics["latest"] as? [String: Any])?["restored"] as? [String: Any])?["external_path"] as? String
        #expect(restored.map(Self.localPath) == directory, "Flink restored from \(restored ?? "nothing"), the snapshot is \(path)")
        print("e2e evidence: job \(redeployed) restored from \(restored ?? "nothing") (Flink REST /jobs/:id/checkpoints latest.restored)")
        // Per key: v2 starts right after a count v1 wrote no later than the snapshot completed, never from 1.
        let lines = world.lines("app.out")
        for key in countsAtSnapshot.keys.sorted() {
            let ofKey: [[String]] = lines.filter { (line: [String]) -> Bool in line.count == 3 && line[0] == key }
            let v1Counts: [Int] = ofKey.filter { $0[2] == "v1" }.compactMap { Int($0[1]) }
            let v2Line: [String]? = ofKey.first { $0[2] == "v2" }
            let firstV2: Int = try #require(v2Line.flatMap { Int($0[1]) }, "\(key)")
            let atSnapshot = countsAtSnapshot[key]?.last ?? 0
            #expect(firstV2 > 1 && firstV2 - 1 <= atSnapshot && v1Counts.contains(firstV2 - 1),
                    "\(key): v2 starts at \(firstV2); v1 had written up to \(atSnapshot) when the snapshot completed")
        }
        world.evidence("app.out", "snapshot restore")

        // 5. The operator's own savepoint (a manual nonce) is listed as a snapshot, not a manifest.
        try world.apply("app.yaml", manifest(tag: "v2", extra: "\n    initialSavepointPath: \(path)\n    savepointRedeployNonce: 1\n    savepointTriggerNonce: 1"))
        #expect(world.waitUntil(timeout: 30) { world.deployment("app")?.jobStatus?.savepointInfo?.lastSavepoint?.triggerType == .manual })
        let listing = try client(world, ["get", "flinksnp"])
        print("e2e evidence: flinklet get flinksnp\n\(listing.stdout)")
        #expect(listing.status == 0 && listing.stdout.contains("app-savepoint-manual-"), "\(listing)")
        let describe = try client(world, ["describe", "flinksnp", "sp"])
        print("e2e evidence: flinklet describe flinksnp sp\n\(describe.stdout)")
        #expect(describe.status == 0 && describe.stdout.contains("State:              COMPLETED"), "\(describe)")
        #expect(!FileManager.default.fileExists(atPath: world.manifests + "/app-savepoint-manual.yaml"))
        let files: [String] = try FileManager.default.contentsOfDirectory(atPath: world.manifests).filter { !$0.hasPrefix(".") }.sorted()
        #expect(files == ["app.yaml", "chk.yaml", "none.yaml", "old.yaml", "sp.yaml"], "never written into the manifest directory")

        // 6. Deleting a savepoint snapshot with disposeOnDelete (upstream's default) removes its
        // directory; the registration with disposeOnDelete: false leaves its savepoint alone.
        world.delete("old.yaml")
        #expect(world.waitUntil(timeout: 20) { world.record(.flinkStateSnapshot, "old") == nil })
        #expect(FileManager.default.fileExists(atPath: directory + "/_metadata"), "disposeOnDelete: false keeps it")
        world.delete("sp.yaml")
        #expect(world.waitUntil(timeout: 20) { world.record(.flinkStateSnapshot, "sp") == nil }, "\(world.summary(.flinkStateSnapshot, "sp"))")
        #expect(!FileManager.default.fileExists(atPath: directory), "the savepoint's directory is gone: \(directory)")
        // The job runs on, unaffected.
        let growing = world.lineCount("app.out")
        #expect(world.waitUntil(timeout: 10) { world.lineCount("app.out") > growing + 10 })
        #expect(world.deployment("app")?.jobStatus?.jobId == redeployed)

        world.delete("app.yaml")
        for file in ["chk.yaml", "none.yaml"] { world.delete(file) }
        #expect(world.waitUntil(timeout: 40) { world.processes().isEmpty })
        print("e2e evidence: snapshot scenario took \(Int(Date().timeIntervalSince(started))) s")
    }
}
