import FlinkletTesting
import Foundation
import Runtime
import Testing

/// `flinklet run` as a user runs it: a real operator process, real pods, `ps` (here: /proc) as
/// the judge of what runs.
@Suite(.serialized) struct RunCommandTests {
    /// Starts `flinklet run` in the background; its output goes to files in the scratch directory.
    static func startOperator(in dir: ScratchDirectory, log: String) throws -> ChildProcess {
        let logPath = dir.path + "/" + log
        return try ChildProcess.spawn(
            [FlinkletBinary.executable.path, "run", "--manifests", "manifests", "--state-dir", "state", "--engine", "command"],
            options: .init(workingDirectory: dir.path, standardInput: .null, standardOutput: .file(logPath), standardError: .file(logPath),
                           newProcessGroup: true))
    }

    /// Live pods (process-group leaders) whose command line contains `marker`. Leaders only: a
    /// shell's child between fork and exec briefly shows the shell's command line too.
    static func processes(_ marker: String) -> [Int32] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap(Int32.init).filter { pid in
            guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                  let fields = stat.split(separator: ")").last?.split(separator: " "), fields.count > 2,
                  fields[0] != "Z", Int32(fields[2]) == pid,
                  let cmdline = try? Data(contentsOf: URL(fileURLWithPath: "/proc/\(pid)/cmdline")) else { return false }
            return String(decoding: cmdline.map { $0 == 0 ? 32 : $0 }, as: UTF8.self).contains(marker)
        }.sorted()
    }

    static func ready(_ dir: ScratchDirectory, _ name: String) -> Bool {
        guard let result = try? FlinkletBinary.run(["get", "flinkdep", name, "-o", "json", "--state-dir", "state"], in: dir.url),
              result.status == 0, let object = try? JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any],
              let conditions = (object["status"] as? [String: Any])?["conditions"] as? [[String: Any]] else { return false }
        return conditions.contains { $0["type"] as? String == "Ready" && $0["status"] as? String == "True" }
    }

    static func waitUntil(timeout: TimeInterval = 15, _ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if condition() { return true }
            usleep(50_000)
        }
        return condition()
    }

    @Test func anOperatorKilledWithSIGKILLIsReplacedAndAdoptsItsPodsWithoutDuplicates() throws {
        try withScratchDirectory { dir in
            let marker = "flinklet-run-\(UUID().uuidString.prefix(8))"
            try dir.makeDirectory("manifests")
            try dir.write("manifests/demo.yaml", """
                apiVersion: flink.apache.org/v1beta1
                kind: FlinkDeployment
                metadata:
                  name: demo
                  annotations:
                    flinklet.dev/command: "sleep 310; : \(marker)"
                    flinklet.dev/replicas: "2"
                spec:
                  flinkVersion: v2_3
                  mode: session
                """)
            let first = try Self.startOperator(in: dir, log: "run-1.log")
            defer { first.terminate() }
            #expect(Self.waitUntil { Self.ready(dir, "demo") && Self.processes(marker).count == 2 })
            let pods = Self.processes(marker)

            first.signal(SIGKILL)
            _ = first.wait()
            #expect(Self.processes(marker) == pods, "pods outlive a killed operator")

            let second = try Self.startOperator(in: dir, log: "run-2.log")
            defer { second.terminate() }
            #expect(Self.waitUntil {
                (try? String(contentsOfFile: dir.path + "/run-2.log", encoding: .utf8))?.contains("pods.adopted=2") == true
            })
            usleep(500_000)
            #expect(Self.ready(dir, "demo"))
            #expect(Self.processes(marker) == pods, "the same two pods, adopted; none added, none leaked")

            let describe = try FlinkletBinary.run(["describe", "flinkdep/demo", "--state-dir", "state"], in: dir.url)
            #expect(describe.status == 0)
            #expect(describe.stdout.contains("demo-main-0   main   Running"), "\(describe.stdout)")

            // SIGTERM: graceful, exit 0, pods keep running.
            second.signal(SIGTERM)
            #expect(second.wait() == .exited(0))
            #expect(Self.processes(marker) == pods)

            for pid in pods { kill(-pid, SIGKILL) }
            #expect(Self.waitUntil(timeout: 5) { Self.processes(marker).isEmpty })
        }
    }
    /// The operator is killed and its database damaged while pods run: `flinklet run` refuses
    /// to start (naming the pods and `flinklet recover`), `flinklet recover` moves the damaged
    /// database aside and re-adopts the pods, and the next `flinklet run` adopts them: no pod
    /// is ever started twice.
    @Test func aCorruptDatabaseIsRefusedUntilRecoverReadoptsThePods() throws {
        try withScratchDirectory { dir in
            let marker = "flinklet-recover-\(UUID().uuidString.prefix(8))"
            try dir.makeDirectory("manifests")
            try dir.write("manifests/demo.yaml", """
                apiVersion: flink.apache.org/v1beta1
                kind: FlinkDeployment
                metadata:
                  name: demo
                  annotations:
                    flinklet.dev/command: "sleep 310; : \(marker)"
                    flinklet.dev/replicas: "2"
                spec:
                  flinkVersion: v2_3
                  mode: session
                """)
            let first = try Self.startOperator(in: dir, log: "run-1.log")
            defer { first.terminate() }
            #expect(Self.waitUntil { Self.ready(dir, "demo") && Self.processes(marker).count == 2 })
            let pods = Self.processes(marker)
            defer { for pid in pods { kill(-pid, SIGKILL) } }
            first.signal(SIGKILL)
            _ = first.wait()
            for suffix in ["-wal", "-shm"] { unlink(dir.path + "/state/state.db" + suffix) }
            try Data(repeating: 0x5A, count: 8192).write(to: dir.url.appendingPathComponent("state/state.db"))

            let refused = try FlinkletBinary.run(["run", "--manifests", "manifests", "--state-dir", "state", "--engine", "command", "--http", "0"],
                                                 in: dir.url)
            #expect(refused.status == 1)
            #expect(refused.stderr.contains("error: refusing to start: 2 pods"), "\(refused.stderr)")
            #expect(refused.stderr.contains("default/demo-main-0: pid \(pods[0])"), "\(refused.stderr)")
            #expect(refused.stderr.contains("not a usable Flinklet state database"), "the cause: \(refused.stderr)")
            #expect(refused.stderr.contains("flinklet recover --manifests manifests --state-dir "), "\(refused.stderr)")
            #expect(Self.processes(marker) == pods, "nothing started, nothing stopped")

            let recover = try FlinkletBinary.run(["recover", "--manifests", "manifests", "--state-dir", "state", "--engine", "command"], in: dir.url)
            #expect(recover.status == 0, "\(recover.stderr)")
            #expect(recover.stderr.contains("is corrupt") && recover.stderr.contains("moved to "), "\(recover.stderr)")
            #expect(recover.stdout.contains("adopted pod default/demo-main-0 (pid \(pods[0]))"), "\(recover.stdout)")
            #expect(recover.stdout.contains("2 pods adopted, 0 pods stopped"), "\(recover.stdout)")
            let aside = try FileManager.default.contentsOfDirectory(atPath: dir.path + "/state").filter { $0.hasPrefix("state.db.corrupt-") }
            #expect(aside.count == 1, "the damaged database is kept aside, untouched: \(aside)")

            let second = try Self.startOperator(in: dir, log: "run-2.log")
            defer { second.terminate() }
            #expect(Self.waitUntil {
                (try? String(contentsOfFile: dir.path + "/run-2.log", encoding: .utf8))?.contains("pods.adopted=2") == true
            })
            #expect(Self.waitUntil { Self.ready(dir, "demo") })
            usleep(500_000)
            #expect(Self.processes(marker) == pods, "the same two pods, adopted; none added")
            second.signal(SIGTERM)
            _ = second.wait()
        }
    }

    /// `flinklet recover` stops what it cannot re-adopt: a pod whose resource left the manifests.
    @Test func recoverStopsPodsWhoseResourceIsNoLongerInTheManifests() throws {
        try withScratchDirectory { dir in
            let marker = "flinklet-recover-\(UUID().uuidString.prefix(8))"
            try dir.makeDirectory("manifests")
            try dir.write("manifests/gone.yaml", """
                apiVersion: flink.apache.org/v1beta1
                kind: FlinkDeployment
                metadata:
                  name: gone
                  annotations:
                    flinklet.dev/command: "sleep 310; : \(marker)"
                spec:
                  flinkVersion: v2_3
                  mode: session
                """)
            let first = try Self.startOperator(in: dir, log: "run-1.log")
            defer { first.terminate() }
            #expect(Self.waitUntil { Self.ready(dir, "gone") && Self.processes(marker).count == 1 })
            let pods = Self.processes(marker)
            defer { for pid in pods { kill(-pid, SIGKILL) } }
            first.signal(SIGKILL)
            _ = first.wait()
            for suffix in ["", "-wal", "-shm"] { unlink(dir.path + "/state/state.db" + suffix) }
            unlink(dir.path + "/manifests/gone.yaml")

            let recover = try FlinkletBinary.run(["recover", "--manifests", "manifests", "--state-dir", "state", "--engine", "command",
                                                  "--grace", "1"], in: dir.url)
            #expect(recover.status == 0, "\(recover.stderr)")
            #expect(recover.stdout.contains("stopped pod default/gone-main-0 (pid \(pods[0])")
                    && recover.stdout.contains("its resource FlinkDeployment/default/gone is not in the manifests"),
                    "\(recover.stdout)")
            #expect(Self.processes(marker).isEmpty)
            let run = try Self.startOperator(in: dir, log: "run-2.log")
            defer { run.terminate() }
            #expect(Self.waitUntil {
                (try? String(contentsOfFile: dir.path + "/run-2.log", encoding: .utf8))?.contains("adopted pods") == true
            })
            #expect(!((try? String(contentsOfFile: dir.path + "/run-2.log", encoding: .utf8)) ?? "").contains("refusing"))
            // (SIGKILL: an operator on an empty manifest directory does not yet stop on SIGTERM.)
            run.signal(SIGKILL)
            _ = run.wait()
        }
    }
    /// A pod whose manifest is invalid while its record is lost is left running, not stopped:
    /// nothing can be rebuilt for it until the manifest is fixed.
    @Test func recoverLeavesAPodRunningWhileItsManifestIsInvalid() throws {
        try withScratchDirectory { dir in
            let marker = "flinklet-recover-\(UUID().uuidString.prefix(8))"
            try dir.makeDirectory("manifests")
            let valid = """
                apiVersion: flink.apache.org/v1beta1
                kind: FlinkDeployment
                metadata:
                  name: edited
                  annotations:
                    flinklet.dev/command: "sleep 310; : \(marker)"
                spec:
                  flinkVersion: v2_3
                  mode: session
                """
            try dir.write("manifests/edited.yaml", valid)
            let first = try Self.startOperator(in: dir, log: "run-1.log")
            defer { first.terminate() }
            #expect(Self.waitUntil { Self.ready(dir, "edited") && Self.processes(marker).count == 1 })
            let pods = Self.processes(marker)
            defer { for pid in pods { kill(-pid, SIGKILL) } }
            first.signal(SIGKILL)
            _ = first.wait()
            for suffix in ["", "-wal", "-shm"] { unlink(dir.path + "/state/state.db" + suffix) }
            try dir.write("manifests/edited.yaml", valid.replacingOccurrences(of: "flinkVersion: v2_3", with: "flinkVersion: v0_1"))

            let recover = try FlinkletBinary.run(["recover", "--manifests", "manifests", "--state-dir", "state", "--engine", "command"], in: dir.url)
            #expect(recover.status == 1, "\(recover)")
            #expect(recover.stdout.contains("left pod default/edited-main-0 (pid \(pods[0])") && recover.stdout.contains(" running: its manifest manifests/edited.yaml is not valid (manifests/edited.yaml:8:17: spec.flinkVersion"), "\(recover.stdout)")
            #expect(recover.stdout.contains("fix it and run `flinklet recover` again"), "\(recover.stdout)")
            #expect(Self.processes(marker) == pods, "not stopped")

            try dir.write("manifests/edited.yaml", valid)
            let again = try FlinkletBinary.run(["recover", "--manifests", "manifests", "--state-dir", "state", "--engine", "command"], in: dir.url)
            #expect(again.status == 0 && again.stdout.contains("adopted pod default/edited-main-0"), "\(again)")
        }
    }

    /// No database, but the snapshots of an earlier cluster: the Flink operator refuses to run
    /// the job again from empty state, and `recover` rebuilds the deployment from them.
    @Test func aMissingDatabaseNextToSnapshotsIsRefusedUntilRecovered() throws {
        try withScratchDirectory { dir in
            try dir.makeDirectory("manifests")
            try dir.write("manifests/app.yaml", """
                apiVersion: flink.apache.org/v1beta1
                kind: FlinkDeployment
                metadata:
                  name: app
                spec:
                  flinkVersion: v2_3
                  mode: application
                  jobManager:
                    resource:
                      memory: 768m
                  taskManager:
                    resource:
                      memory: 1024m
                  job:
                    jarURI: local:///opt/flink/usrlib/job.jar
                    entryClass: dev.Example
                    parallelism: 1
                """)
            let jobId = String(repeating: "c", count: 32)
            try dir.write("state/clusters/default/app/checkpoints/\(jobId)/chk-7/_metadata", "x")
            let run = try FlinkletBinary.run(["run", "--manifests", "manifests", "--state-dir", "state", "--http", "0", "--flink-home", dir.path + "/none"],
                                             in: dir.url)
            #expect(run.status == 1, "\(run)")
            #expect(run.stderr.contains("error: refusing to start: ") && run.stderr.contains("state.db is missing"), "\(run.stderr)")
            #expect(run.stderr.contains("(default/app)") && run.stderr.contains("flinklet recover --manifests manifests"), "\(run.stderr)")
            #expect(!FileManager.default.fileExists(atPath: dir.path + "/state/state.db"), "nothing written")

            let recover = try FlinkletBinary.run(["recover", "--manifests", "manifests", "--state-dir", "state"], in: dir.url)
            #expect(recover.status == 0, "\(recover)")
            #expect(recover.stdout.contains("rebuilt flinkdeployment/app (namespace default): restores from file://"), "\(recover.stdout)")
            #expect(recover.stdout.contains("\(jobId)/chk-7"), "\(recover.stdout)")
            let get = try FlinkletBinary.run(["get", "flinkdep", "app", "-o", "json", "--state-dir", "state"], in: dir.url)
            #expect(get.stdout.contains(jobId), "the rebuilt status names the job: \(get.stdout)")
        }
    }
}
