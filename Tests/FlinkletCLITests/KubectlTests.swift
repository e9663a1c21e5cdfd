import FlinkletTesting
import Foundation
import Runtime
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The real kubectl (and the official Python client) against a real `flinklet run` with the
/// command engine: the Kubernetes API as its users meet it.
@Suite(.serialized) struct KubectlTests {
    static let kubectlPath = "/usr/bin/kubectl"

    /// An operator with its Kubernetes API on a free port, in a scratch directory.
    final class APIOperator {
        let dir: ScratchDirectory
        let process: ChildProcess
        var kubeconfig: String { dir.path + "/state/kubeconfig" }

        init(_ dir: ScratchDirectory, emptyGrace: Int = 300) throws {
            self.dir = dir
            try dir.makeDirectory("manifests")
            let log = dir.path + "/operator.log"
            process = try ChildProcess.spawn(
                [FlinkletBinary.executable.path, "run", "--manifests", "manifests", "--state-dir", "state", "--engine", "command",
                 "--http", "127.0.0.1:0", "--api", "127.0.0.1:0", "--empty-grace", String(emptyGrace)],
                options: .init(workingDirectory: dir.path, standardInput: .null, standardOutput: .file(log), standardError: .file(log),
                               newProcessGroup: true))
            let deadline = Date().addingTimeInterval(30)
            while Date() < deadline, !FileManager.default.fileExists(atPath: kubeconfig) { usleep(50_000) }
        }

        deinit { _ = process.terminate() }

        var log: String { (try? String(contentsOfFile: dir.path + "/operator.log", encoding: .utf8)) ?? "" }

        /// Runs kubectl with the operator's kubeconfig (and its own discovery cache).
        func kubectl(_ arguments: [String], stdin: String? = nil) throws -> FlinkletResult {
            let output = try ChildProcess.collect(
                [KubectlTests.kubectlPath, "--kubeconfig", kubeconfig, "--cache-dir", dir.path + "/kube-cache"] + arguments,
                workingDirectory: dir.path, environment: .inherit(adding: ["HOME": dir.path]), input: stdin.map { Array($0.utf8) })
            return FlinkletResult(status: output.status, exited: output.exited, stdout: output.standardOutput, stderr: output.standardError)
        }

        /// Starts kubectl in the background (stopped when released).
        func kubectlInBackground(_ arguments: [String]) throws -> BackgroundProcess {
            try BackgroundProcess([KubectlTests.kubectlPath, "--kubeconfig", kubeconfig, "--cache-dir", dir.path + "/kube-cache"] + arguments,
                                  workingDirectory: dir.path, environment: .inherit(adding: ["HOME": dir.path]))
        }
    }

    static func app(_ name: String, labels: String = "{team: a}", extra: String = "") -> String {
        """
        apiVersion: flink.apache.org/v1beta1
        kind: FlinkDeployment
        metadata:
          name: \(name)
          labels: \(labels)
          annotations:
            flinklet.dev/command: "sleep 300"
        spec:
          flinkVersion: v2_3
          mode: session
        \(extra)
        """
    }

    static func waitUntil(timeout: TimeInterval = 20, _ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if condition() { return true }
            usleep(50_000)
        }
        return condition()
    }

    @Test func kubectlAppliesGetsWaitsDescribesAndDeletesThroughTheAPI() throws {
        try withScratchDirectory { dir in
            let op = try APIOperator(dir)
            #expect(FileManager.default.fileExists(atPath: op.kubeconfig), "kubeconfig written: \(op.log)")
            let mode = (try FileManager.default.attributesOfItem(atPath: op.kubeconfig)[.posixPermissions] as? Int) ?? 0
            #expect(mode == 0o600)
            let printed = try FlinkletBinary.run(["kubeconfig", "--state-dir", "state"], in: dir.url)
            #expect(printed.stdout == (try String(contentsOfFile: op.kubeconfig, encoding: .utf8)), "flinklet kubeconfig prints it")
            try dir.write("app.yaml", Self.app("web"))

            let created = try op.kubectl(["apply", "-f", "app.yaml"])
            #expect(created.stdout == "flinkdeployment.flink.apache.org/web created\n", "\(created)")
            #expect(try op.kubectl(["apply", "-f", "app.yaml"]).stdout == "flinkdeployment.flink.apache.org/web unchanged\n")
            let file = try String(contentsOfFile: dir.path + "/manifests/default.flinkdeployment.web.yaml", encoding: .utf8)
            #expect(file.contains("kubectl.kubernetes.io/last-applied-configuration"), "the file keeps kubectl's annotation: \(file)")

            let ready = try op.kubectl(["wait", "flinkdep/web", "--for=condition=Ready", "--timeout=30s"])
            #expect(ready.status == 0, "\(ready)")
            let stable = try op.kubectl(["wait", "fdep/web", "--for=jsonpath={.status.lifecycleState}=STABLE", "--timeout=30s"])
            #expect(stable.status == 0, "\(stable)")

            let table = try op.kubectl(["get", "flinkdep"])
            #expect(table.stdoutLines.first?.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ")
                    == "NAME JOB STATUS LIFECYCLE STATE READY AGE", "\(table)")
            #expect(table.stdoutLines.contains { $0.hasPrefix("web ") && $0.contains("STABLE") && $0.contains("True") }, "\(table)")
            let yaml = try op.kubectl(["get", "flinkdep", "web", "-o", "yaml"])
            #expect(yaml.stdout.contains("lifecycleState: STABLE") && yaml.stdout.contains("mode: session")
                    && yaml.stdout.contains("resourceVersion:"), "\(yaml)")

            try dir.write("app.yaml", Self.app("web", labels: "{team: b}"))
            #expect(try op.kubectl(["apply", "-f", "app.yaml"]).stdout == "flinkdeployment.flink.apache.org/web configured\n")
            #expect(try op.kubectl(["get", "fdep", "-l", "team=b", "-o", "name"]).stdout == "flinkdeployment.flink.apache.org/web\n")

            let describe = try op.kubectl(["describe", "flinkdeployment", "web"])
            #expect(describe.stdout.contains("Events:") && describe.stdout.contains("Started"), "\(describe)")
            let events = try op.kubectl(["get", "events"])
            #expect(events.stdoutLines.first?.contains("REASON") == true && events.stdout.contains("flinkdeployment/web"), "\(events)")

            let deleted = try op.kubectl(["delete", "flinkdep", "web", "--timeout=60s"])
            #expect(deleted.stdout == "flinkdeployment.flink.apache.org \"web\" deleted\n", "\(deleted)")
            #expect(!FileManager.default.fileExists(atPath: dir.path + "/manifests/default.flinkdeployment.web.yaml"))
            let gone = try op.kubectl(["get", "flinkdep", "web"])
            #expect(gone.status == 1 && gone.stderr.contains("NotFound"), "deleted means torn down and gone: \(gone)")
            #expect(try op.kubectl(["wait", "flinkdep/web", "--for=delete", "--timeout=5s"]).status == 0)
        }
    }

    @Test func kubectlGetWatchSeesAStatusChangeAndWaitForDeleteSeesTheTeardown() throws {
        try withScratchDirectory { dir in
            let op = try APIOperator(dir)
            // Another resource stays: the last manifest vanishing by itself is held by the empty-directory guard.
            try dir.write("manifests/keeper.yaml", Self.app("keeper"))
            #expect(Self.waitUntil { (try? op.kubectl(["get", "fdep", "keeper"]).status) == 0 })
            let watcher = try op.kubectlInBackground(["get", "flinkdep", "-w"])
            defer { watcher.stop() }
            #expect(Self.waitUntil { watcher.standardOutput.contains("keeper") }, "\(watcher.standardOutput)\(watcher.standardError)")
            try dir.write("manifests/web.yaml", Self.app("web"))
            #expect(Self.waitUntil { watcher.standardOutput.split(separator: "\n").contains { $0.hasPrefix("web") && $0.contains("STABLE") } },
                    "a manifest written by hand shows up, then its status changes: \(watcher.standardOutput)")

            let waiter = try op.kubectlInBackground(["wait", "flinkdep/web", "--for=delete", "--timeout=60s"])
            usleep(500_000)
            try FileManager.default.removeItem(atPath: dir.path + "/manifests/web.yaml")
            let ended = waiter.waitForExit(timeout: .seconds(60))
            #expect(ended == .exited(0), "kubectl wait --for=delete ends once torn down: \(waiter.standardOutput)\(waiter.standardError)")
        }
    }

    @Test func anInvalidObjectIs422AStaleUpdate409AMissingToken401AndASharedFileIsNeverRewritten() throws {
        try withScratchDirectory { dir in
            let op = try APIOperator(dir)
            try dir.write("bad.yaml", """
                apiVersion: flink.apache.org/v1beta1
                kind: FlinkDeployment
                metadata:
                  name: bad
                spec:
                  flinkVersion: v2_3
                  job:
                    jarURI: local:///tmp/x.jar
                    upgradeMode: savepiont
                """)
            let bad = try op.kubectl(["apply", "-f", "bad.yaml"])
            #expect(bad.status == 1)
            #expect(bad.stderr.contains(#"The FlinkDeployment "bad" is invalid: spec.job.upgradeMode: Unsupported value: "savepiont""#), "\(bad)")
            #expect((try FileManager.default.contentsOfDirectory(atPath: dir.path + "/manifests")).isEmpty, "nothing written")

            try dir.write("app.yaml", Self.app("web"))
            #expect(try op.kubectl(["apply", "-f", "app.yaml"]).status == 0)
            let live = try op.kubectl(["get", "fdep", "web", "-o", "json"])
            try dir.write("stale.json", live.stdout)
            #expect(try op.kubectl(["label", "fdep", "web", "x=y"]).status == 0)
            let stale = try op.kubectl(["replace", "-f", "stale.json"])
            #expect(stale.status == 1 && stale.stderr.contains("Conflict") && stale.stderr.contains("the object has been modified"), "\(stale)")

            let anonymous = try ChildProcess.collect(
                [Self.kubectlPath, "--kubeconfig", op.kubeconfig, "--cache-dir", dir.path + "/other-cache", "--token", "wrong", "get", "fdep"],
                environment: .inherit(adding: ["HOME": dir.path]))
            #expect(anonymous.status == 1 && anonymous.standardError.contains("provide credentials"), "\(anonymous.standardError)")

            try dir.write("manifests/pair.yaml", Self.app("one") + "\n---\n" + Self.app("two"))
            #expect(Self.waitUntil { (try? op.kubectl(["get", "fdep", "two"]).status) == 0 })
            let shared = try op.kubectl(["label", "fdep", "two", "x=y"])
            #expect(shared.status == 1 && shared.stderr.contains("manifests/pair.yaml:"), "\(shared)")
            let refused = try op.kubectl(["delete", "fdep", "one", "--wait=false"])
            #expect(refused.status == 1 && refused.stderr.contains("several documents"), "\(refused)")
        }
    }

    @Test func explainServerSideApplyAndDiffWork() throws {
        try withScratchDirectory { dir in
            let op = try APIOperator(dir)
            let explain = try op.kubectl(["explain", "flinkdeployment.spec.job"])
            #expect(explain.status == 0 && explain.stdout.contains("jarURI") && explain.stdout.contains("upgradeMode"), "\(explain)")

            try dir.write("app.yaml", Self.app("ssa"))
            let applied = try op.kubectl(["apply", "--server-side", "-f", "app.yaml"])
            #expect(applied.stdout == "flinkdeployment.flink.apache.org/ssa serverside-applied\n", "\(applied)")
            #expect(try op.kubectl(["diff", "-f", "app.yaml"]).status == 0)
            try dir.write("app.yaml", Self.app("ssa", extra: "  flinkConfiguration: {taskmanager.numberOfTaskSlots: \"2\"}"))
            let diff = try op.kubectl(["diff", "-f", "app.yaml"])
            #expect(diff.status == 1 && diff.stdout.contains("+    taskmanager.numberOfTaskSlots: \"2\""), "\(diff)")
            #expect(!(try String(contentsOfFile: dir.path + "/manifests/default.flinkdeployment.ssa.yaml", encoding: .utf8)).contains("numberOfTaskSlots"),
                    "diff's dry run writes nothing")
        }
    }

    @Test func serverSideApplyReportsConflictsByManagerForceTakesOwnershipAndClientSideApplyKeepsWorking() throws {
        try withScratchDirectory { dir in
            let op = try APIOperator(dir)
            let slots = { (n: Int) in Self.app("ssa", extra: "  flinkConfiguration: {taskmanager.numberOfTaskSlots: \"\(n)\"}") }
            try dir.write("app.yaml", slots(2))
            #expect(try op.kubectl(["apply", "--server-side", "-f", "app.yaml"]).status == 0)
            try dir.write("app.yaml", slots(4))
            let conflict = try op.kubectl(["apply", "--server-side", "--field-manager=ci", "-f", "app.yaml"])
            #expect(conflict.status == 1 && conflict.stderr.hasPrefix(
                #"error: Apply failed with 1 conflict: conflict with "kubectl": .spec.flinkConfiguration.taskmanager.numberOfTaskSlots"#),
                    "\(conflict)")
            let path = dir.path + "/manifests/default.flinkdeployment.ssa.yaml"
            #expect(try String(contentsOfFile: path, encoding: .utf8).contains(#"numberOfTaskSlots: "2""#), "a conflict writes nothing")
            let forced = try op.kubectl(["apply", "--server-side", "--field-manager=ci", "--force-conflicts", "-f", "app.yaml"])
            #expect(forced.stdout == "flinkdeployment.flink.apache.org/ssa serverside-applied\n", "\(forced)")
            let owners = try op.kubectl(["get", "fdep", "ssa", "--show-managed-fields", "-o",
                                         #"jsonpath={range .metadata.managedFields[*]}{.manager}/{.operation}={.fieldsV1.f:spec.f:flinkConfiguration}{"\n"}{end}"#])
            #expect(owners.stdoutLines == ["kubectl/Apply=", #"ci/Apply={"f:taskmanager.numberOfTaskSlots":{}}"#], "\(owners)")
            let listed = try op.kubectl(["get", "fdep", "--show-managed-fields", "-o", "jsonpath={.items[*].metadata.managedFields[*].manager}"])
            #expect(listed.stdout == "kubectl ci", "lists serve them too (informers, GitOps tools): \(listed)")
            let file = try String(contentsOfFile: path, encoding: .utf8)
            #expect(file.contains(#"numberOfTaskSlots: "4""#) && !file.contains("managedFields"), "the manifest stays portable: \(file)")
            // ci drops the field from its configuration: nobody else owns it, so it goes.
            try dir.write("app.yaml", Self.app("ssa"))
            #expect(try op.kubectl(["apply", "--server-side", "--field-manager=ci", "-f", "app.yaml"]).status == 0)
            #expect(!(try String(contentsOfFile: path, encoding: .utf8)).contains("numberOfTaskSlots"))

            // Client-side apply, then kubectl's server-side apply: the fields move to kubectl as on
            // Kubernetes, and last-applied-configuration stays in the file, kept current.
            try dir.write("csa.yaml", Self.app("csa", extra: "  flinkConfiguration: {taskmanager.numberOfTaskSlots: \"2\"}"))
            #expect(try op.kubectl(["apply", "-f", "csa.yaml"]).stdout == "flinkdeployment.flink.apache.org/csa created\n")
            try dir.write("csa.yaml", Self.app("csa", extra: "  flinkConfiguration: {taskmanager.numberOfTaskSlots: \"3\"}"))
            let migrated = try op.kubectl(["apply", "--server-side", "-f", "csa.yaml"])
            #expect(migrated.status == 0 && migrated.stderr.isEmpty, "\(migrated)")
            let csaPath = dir.path + "/manifests/default.flinkdeployment.csa.yaml"
            let csaFile = try String(contentsOfFile: csaPath, encoding: .utf8)
            #expect(csaFile.contains("kubectl.kubernetes.io/last-applied-configuration"), "\(csaFile)")
            let lastApplied = try op.kubectl(["get", "fdep", "csa", "-o", #"jsonpath={.metadata.annotations.kubectl\.kubernetes\.io/last-applied-configuration}"#])
            #expect(lastApplied.stdout.contains(#""taskmanager.numberOfTaskSlots":"3""#), "the server keeps it current: \(lastApplied)")
            let csaOwners = try op.kubectl(["get", "fdep", "csa", "--show-managed-fields", "-o", "jsonpath={.metadata.managedFields[*].manager}"])
            #expect(csaOwners.stdout == "kubectl kubectl-last-applied", "\(csaOwners)")
            try dir.write("csa.yaml", Self.app("csa", extra: "  flinkConfiguration: {taskmanager.numberOfTaskSlots: \"5\"}"))
            #expect(try op.kubectl(["apply", "-f", "csa.yaml"]).stdout == "flinkdeployment.flink.apache.org/csa configured\n")

            // An edit of the file by hand belongs to the manifest file.
            let edited = try String(contentsOfFile: csaPath, encoding: .utf8).replacingOccurrences(of: #"numberOfTaskSlots: "5""#, with: #"numberOfTaskSlots: "7""#)
            try edited.write(toFile: csaPath, atomically: true, encoding: .utf8)
            #expect(Self.waitUntil { (try? op.kubectl(["get", "fdep", "csa", "-o", "jsonpath={.spec.flinkConfiguration}"]).stdout.contains("7")) == true })
            let other = try op.kubectl(["apply", "--server-side", "--field-manager=ci", "-f", "csa.yaml"])
            #expect(other.status == 1 && other.stderr.contains(
                #"conflict with "manifest-file" using flink.apache.org/v1beta1: .spec.flinkConfiguration.taskmanager.numberOfTaskSlots"#), "\(other)")
        }
    }

    @Test func theOfficialPythonClientListsWatchesFromARevisionAndPatches() throws {
        try withScratchDirectory { dir in
            let op = try APIOperator(dir)
            try dir.write("manifests/web.yaml", Self.app("web"))
            #expect(Self.waitUntil { (try? op.kubectl(["get", "fdep", "web"]).status) == 0 })
            let python = FlinkletBinary.repositoryRoot.path + "/.python/bin/python"
            #expect(FileManager.default.isExecutableFile(atPath: python), "the Kubernetes Python client is installed by hack/install-deps.sh")
            let script = FlinkletBinary.repositoryRoot.path + "/Tests/KubeAPITests/Fixtures/python_client.py"
            let result = try ChildProcess.collect([python, script, op.kubeconfig, "web"], environment: .inherit(adding: ["HOME": dir.path]))
            #expect(result.status == 0 && result.standardOutput.contains("all checks passed"), "\(result.standardOutput)\(result.standardError)")
        }
    }

    @Test func deletingTheLastResourceIsNotHeldByTheEmptyDirectoryGuard() throws {
        try withScratchDirectory { dir in
            let op = try APIOperator(dir, emptyGrace: 300)
            try dir.write("manifests/only.yaml", Self.app("only"))
            #expect(Self.waitUntil { (try? op.kubectl(["get", "fdep", "only"]).status) == 0 })
            // flinklet delete from another process: the operator is told through a note in the state directory.
            let deleted = try FlinkletBinary.run(["delete", "flinkdep", "only", "--manifests", "manifests", "--state-dir", "state", "--timeout", "60s"],
                                                 in: dir.url)
            #expect(deleted.status == 0, "the last resource goes within a minute, not after the 300 s grace: \(deleted)")
            try dir.write("manifests/again.yaml", Self.app("again"))
            #expect(Self.waitUntil { (try? op.kubectl(["get", "fdep", "again"]).status) == 0 })
            let viaAPI = try op.kubectl(["delete", "fdep", "again", "--timeout=60s"])
            #expect(viaAPI.status == 0, "and so through the API: \(viaAPI)")
        }
    }
}
