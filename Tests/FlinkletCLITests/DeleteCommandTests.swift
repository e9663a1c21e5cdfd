import Foundation
import Testing

/// `flinklet delete`: manifests removed (never a shared file without `--force-rewrite`), then
/// by default a wait until the operator has forgotten the resource.
@Suite struct DeleteCommandTests {
    static let web = ManifestText.deployment(name: "web")

    @Test func aResourceAloneInItsFileHasTheFileRemoved() throws {
        try withWorkspace { ws in
            try ws.write("manifests/web.yaml", Self.web)
            try ws.write("manifests/other.yaml", ManifestText.deployment(name: "other"))
            for arguments in [["delete", "flinkdeployment", "web", "--wait=false"], ["delete", "fdep/other", "--wait=false"]] {
                let result = try ws.run(arguments)
                #expect(result.exited && result.status == 0, "\(arguments): \(result)")
                let name = arguments[1] == "fdep/other" ? "other" : "web"
                #expect(result.stdoutLines == [#"flinkdeployment.flink.apache.org "\#(name)" deleted"#], "\(result)")
            }
            #expect(ws.manifestFiles() == [])
        }
    }

    @Test func deleteByFileRemovesWhatTheFileDefines() throws {
        try withWorkspace { ws in
            let both = Self.web + "---\n" + ManifestText.sessionJob(name: "job1")
            try ws.write("manifests/web.yaml", Self.web)
            try ws.write("manifests/job1.yaml", ManifestText.sessionJob(name: "job1"))
            try ws.write("manifests/keep.yaml", ManifestText.deployment(name: "keep"))
            try ws.write("both.yaml", both)
            let result = try ws.run(["delete", "-f", "both.yaml", "--wait=false"])
            #expect(result.exited && result.status == 0, "\(result)")
            #expect(result.stdoutLines == [
                #"flinkdeployment.flink.apache.org "web" deleted"#,
                #"flinksessionjob.flink.apache.org "job1" deleted"#,
            ], "\(result)")
            #expect(ws.manifestFiles() == ["keep.yaml"])
        }
    }

    @Test func aResourceSharingItsFileIsRefusedNamingFileAndLine() throws {
        try withWorkspace { ws in
            let shared = Self.web + "---\n" + ManifestText.deployment(name: "b") + "---\n" + ManifestText.deployment(name: "c")
            try ws.write("manifests/all.yaml", shared)
            let result = try ws.run(["delete", "fdep", "b", "--wait=false"])
            #expect(result.exited && result.status == 1, "\(result)")
            let line = try #require(position(of: "name: b", in: shared)).line
            #expect(result.stderrLines == [
                "error: flinkdeployment.flink.apache.org/b is defined in manifests/all.yaml:\(line) together with 2 other objects; edit that file, or pass --force-rewrite",
            ], "\(result)")
            #expect(result.stdout == "")
            #expect(ws.read("manifests/all.yaml") == shared)
        }
    }

    @Test func forceRewriteDropsOnlyThatDocumentAndKeepsTheOthersByteForByte() throws {
        try withWorkspace { ws in
            let first = "# leading comment of the file\n" + Self.web
            let middle = "---\n# b, to be deleted\n" + ManifestText.deployment(name: "b")
            let last = "--- # c keeps this comment\n" + ManifestText.deployment(name: "c") + "# trailing comment\n"
            try ws.write("manifests/all.yaml", first + middle + last)
            let result = try ws.run(["delete", "fdep", "b", "--wait=false", "--force-rewrite"])
            #expect(result.exited && result.status == 0, "\(result)")
            #expect(result.stdoutLines == [#"flinkdeployment.flink.apache.org "b" deleted"#], "\(result)")
            #expect(ws.read("manifests/all.yaml") == first + last)

            // The first document too: the next document's `---` starts the file.
            let again = try ws.run(["delete", "fdep", "web", "--wait=false", "--force-rewrite"])
            #expect(again.exited && again.status == 0, "\(again)")
            #expect(ws.read("manifests/all.yaml") == last)
            #expect(ws.manifestFiles() == ["all.yaml"])  // no temporary file left behind

            let valid = try ws.run(["validate", "-f", "manifests/all.yaml"])
            #expect(valid.exited && valid.status == 0, "\(valid)")
        }
    }

    @Test func aMissingResourceIsNotFoundUnlessIgnoredAndNothingElseIsDeleted() throws {
        try withWorkspace { ws in
            try ws.write("manifests/web.yaml", Self.web)
            let missing = try ws.run(["delete", "fdep", "web", "nope", "--wait=false"])
            #expect(missing.exited && missing.status == 1, "\(missing)")
            #expect(missing.stderrLines == [#"Error from server (NotFound): flinkdeployments.flink.apache.org "nope" not found"#], "\(missing)")
            #expect(ws.manifestFiles() == ["web.yaml"])

            let ignored = try ws.run(["delete", "fdep", "web", "nope", "--wait=false", "--ignore-not-found"])
            #expect(ignored.exited && ignored.status == 0, "\(ignored)")
            #expect(ignored.stdoutLines == [#"flinkdeployment.flink.apache.org "web" deleted"#], "\(ignored)")
            #expect(ignored.stderr == "", "\(ignored)")
            #expect(ws.manifestFiles() == [])
        }
    }

    @Test func waitReturnsOnceTheOperatorHasForgottenTheResource() throws {
        try withWorkspace { ws in
            try ws.write("manifests/web.yaml", Self.web)
            try ws.seed(Self.web, status: status(.stable, observed: 1, ready: .true))
            let started = Date()
            let delete = try ws.start(["delete", "fdep", "web"])
            #expect(eventually { delete.stdout.contains("deleted") }, "\(delete.description)")
            #expect(!FileManager.default.fileExists(atPath: ws.manifests + "/web.yaml"))
            usleep(600_000)
            #expect(delete.process.isRunning, "returned before the operator tore the resource down: \(delete.description)")
            // The operator tears it down.
            try ws.store().deleteResource("FlinkDeployment/default/web")
            #expect(delete.waitForExit(timeout: 15), "\(delete.description)")
            #expect(delete.status == 0, "\(delete.description)")
            #expect(delete.stdoutLines == [#"flinkdeployment.flink.apache.org "web" deleted"#], "\(delete.description)")
            #expect(Date().timeIntervalSince(started) >= 0.6)
        }
    }

    @Test func waitTimesOutWhenTheResourceStays() throws {
        try withWorkspace { ws in
            try ws.write("manifests/web.yaml", Self.web)
            try ws.seed(Self.web, status: status(.stable, observed: 1, ready: .true))
            let result = try ws.run(["delete", "fdep", "web", "--timeout", "1s"])
            #expect(result.exited && result.status == 1, "\(result)")
            #expect(result.stdoutLines == [#"flinkdeployment.flink.apache.org "web" deleted"#], "\(result)")
            #expect(result.stderrLines == ["error: timed out waiting for the condition on flinkdeployments/web"], "\(result)")

            // Run again while the teardown is still pending: found (in the Store), waited for.
            try ws.store().deleteResource("FlinkDeployment/default/web")
            let done = try ws.run(["delete", "fdep", "web", "--timeout", "5s"])
            #expect(done.exited && done.status == 1, "gone from the manifests and the Store is not found: \(done)")
        }
    }

    @Test(arguments: [
        (["delete"], "resource(s) must be specified"),
        (["delete", "fdep"], "a resource name is required"),
        (["delete", "fdep", "a", "-f", "x.yaml"], "give either KIND NAME or -f FILE, not both"),
        (["delete", "widget", "a"], #"the server doesn't have a resource type "widget""#),
        (["delete", "fdep", "a", "--timeout", "soon"], #"invalid --timeout "soon""#),
    ])
    func usageErrorsExitTwo(arguments: [String], message: String) throws {
        try withWorkspace { ws in
            let result = try ws.run(arguments)
            #expect(result.exited && result.status == 2, "\(result)")
            #expect(result.stderr.contains(message), "\(result)")
        }
    }
}
