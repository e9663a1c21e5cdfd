import Foundation
import Testing

/// `flinklet apply`: resources written into the manifest directory, one file each, atomically,
/// and only when everything is valid.
@Suite struct ApplyCommandTests {
    static let web = ManifestText.deployment(name: "web")

    @Test func applyCreatesAFileOfItsOwnThenReportsUnchangedWithoutRewritingIt() throws {
        try withWorkspace { ws in
            try ws.write("web.yaml", Self.web)
            let first = try ws.run(["apply", "-f", "web.yaml"])
            #expect(first.exited && first.status == 0, "\(first)")
            #expect(first.stdoutLines == ["flinkdeployment.flink.apache.org/web created"], "\(first)")
            #expect(ws.manifestFiles() == ["default.flinkdeployment.web.yaml"])
            // The document as written, comment included.
            #expect(ws.read("manifests/default.flinkdeployment.web.yaml") == Self.web)
            let before = ws.identity("manifests/default.flinkdeployment.web.yaml")

            let again = try ws.run(["apply", "-f", "web.yaml"])
            #expect(again.exited && again.status == 0, "\(again)")
            #expect(again.stdoutLines == ["flinkdeployment.flink.apache.org/web unchanged"], "\(again)")
            // Not rewritten: the operator sees no change, so nothing restarts.
            #expect(ws.identity("manifests/default.flinkdeployment.web.yaml") == before)
            #expect(ws.manifestFiles() == ["default.flinkdeployment.web.yaml"])
        }
    }

    @Test func reformattingIsUnchangedAndKeepsTheFileAsItWas() throws {
        try withWorkspace { ws in
            try ws.write("manifests/web.yaml", Self.web)
            // Same resource: other key order, flow style, quoting, comments, namespace spelled out.
            try ws.write("reformatted.yaml", """
                kind: FlinkDeployment   # the kind
                apiVersion: "flink.apache.org/v1beta1"
                metadata: {namespace: default, name: web}
                spec:
                  job: {upgradeMode: savepoint, parallelism: 1, args: ['--rate', '20'],
                        jarURI: "local:///opt/flink/usrlib/flinklet-counter-job.jar"}
                  taskManager: {resource: {memory: 1g}}
                  jobManager: {resource: {memory: 768m}}
                  mode: application
                  flinkVersion: v2_3

                """)
            let before = ws.identity("manifests/web.yaml")
            let result = try ws.run(["apply", "-f", "reformatted.yaml"])
            #expect(result.exited && result.status == 0, "\(result)")
            #expect(result.stdoutLines == ["flinkdeployment.flink.apache.org/web unchanged"], "\(result)")
            #expect(ws.identity("manifests/web.yaml") == before)
            #expect(ws.read("manifests/web.yaml") == Self.web)
        }
    }

    @Test func aChangedResourceIsConfiguredOverTheFileThatDefinesIt() throws {
        try withWorkspace { ws in
            try ws.write("manifests/hand-written.yaml", Self.web)
            let changed = ManifestText.deployment(name: "web", args: ["--rate", "30"])
            try ws.write("web.yaml", changed)
            let result = try ws.run(["apply", "-f", "web.yaml"])
            #expect(result.exited && result.status == 0, "\(result)")
            #expect(result.stdoutLines == ["flinkdeployment.flink.apache.org/web configured"], "\(result)")
            #expect(ws.manifestFiles() == ["hand-written.yaml"])
            #expect(ws.read("manifests/hand-written.yaml") == changed)
        }
    }

    @Test func labelsAndAnnotationsCountAsChanges() throws {
        try withWorkspace { ws in
            try ws.write("manifests/web.yaml", Self.web)
            try ws.write("web.yaml", ManifestText.deployment(name: "web", labels: ["team": "a"]))
            let result = try ws.run(["apply", "-f", "web.yaml"])
            #expect(result.stdoutLines == ["flinkdeployment.flink.apache.org/web configured"], "\(result)")
        }
    }

    @Test func aMultiDocumentInputFromStandardInputBecomesOneFilePerResourceWithItsComments() throws {
        try withWorkspace { ws in
            let second = ManifestText.sessionJob(name: "job1")
            let result = try ws.run(["apply", "-f", "-"], stdin: Self.web + "---\n# the session job\n" + second)
            #expect(result.exited && result.status == 0, "\(result)")
            #expect(result.stdoutLines == [
                "flinkdeployment.flink.apache.org/web created",
                "flinksessionjob.flink.apache.org/job1 created",
            ], "\(result)")
            #expect(ws.manifestFiles() == ["default.flinkdeployment.web.yaml", "default.flinksessionjob.job1.yaml"])
            #expect(ws.read("manifests/default.flinkdeployment.web.yaml") == Self.web)
            #expect(ws.read("manifests/default.flinksessionjob.job1.yaml") == "# the session job\n" + second)
        }
    }

    @Test func dryRunPrintsWhatWouldHappenAndWritesNothing() throws {
        try withWorkspace { ws in
            try ws.write("manifests/web.yaml", Self.web)
            try ws.write("in.yaml", ManifestText.deployment(name: "web", args: ["--rate", "5"]) + "---\n" + ManifestText.deployment(name: "new"))
            let before = ws.identity("manifests/web.yaml")
            let result = try ws.run(["apply", "-f", "in.yaml", "--dry-run=client"])
            #expect(result.exited && result.status == 0, "\(result)")
            #expect(result.stdoutLines == [
                "flinkdeployment.flink.apache.org/web configured (dry run)",
                "flinkdeployment.flink.apache.org/new created (dry run)",
            ], "\(result)")
            #expect(ws.manifestFiles() == ["web.yaml"])
            #expect(ws.identity("manifests/web.yaml") == before)
        }
    }

    @Test func anInvalidInputWritesNothingAndPrintsEveryDiagnosticWithItsPosition() throws {
        try withWorkspace { ws in
            let bad = ManifestText.application(name: "bad", upgradeMode: "savepiont")
            let input = ManifestText.deployment(name: "good") + "---\n" + bad
            try ws.write("in.yaml", input)
            let result = try ws.run(["apply", "-f", "in.yaml"])
            #expect(result.exited && result.status == 1, "\(result)")
            #expect(result.stdout == "", "\(result)")
            let at = try #require(position(of: "savepiont", in: input))
            #expect(result.stderrLines.contains("in.yaml:\(at.line):\(at.column): \(ManifestText.savepiontDiagnostic)"), "\(result)")
            #expect(result.stderrLines.last == "error: nothing applied: the input has 1 error", "\(result)")
            // Not even the valid resource, and not even the directory.
            #expect(!FileManager.default.fileExists(atPath: ws.manifests))
        }
    }

    @Test func aResourceInAFileSharedWithOthersIsRefusedNamingTheFileAndLineAndNothingIsWritten() throws {
        try withWorkspace { ws in
            let shared = Self.web + "---\n" + ManifestText.deployment(name: "other")
            try ws.write("manifests/all.yaml", shared)
            try ws.write("in.yaml", ManifestText.deployment(name: "fresh") + "---\n" + ManifestText.deployment(name: "web", args: ["--rate", "1"]))
            let result = try ws.run(["apply", "-f", "in.yaml"])
            #expect(result.exited && result.status == 1, "\(result)")
            #expect(result.stdout == "", "\(result)")
            let line = try #require(position(of: "name: web", in: shared)).line
            #expect(result.stderrLines == [
                "error: flinkdeployment.flink.apache.org/web is defined in manifests/all.yaml:\(line) together with 1 other object; "
                    + "apply cannot rewrite that file without losing its comments: edit it, or move the object into a file of its own",
            ], "\(result)")
            #expect(ws.manifestFiles() == ["all.yaml"])
            #expect(ws.read("manifests/all.yaml") == shared)

            // Unchanged resources of a shared file need no write, so they are fine.
            try ws.write("same.yaml", Self.web)
            let same = try ws.run(["apply", "-f", "same.yaml"])
            #expect(same.exited && same.status == 0, "\(same)")
            #expect(same.stdoutLines == ["flinkdeployment.flink.apache.org/web unchanged"], "\(same)")
        }
    }

    @Test func manifestsOptionAndEnvironmentChooseTheDirectory() throws {
        try withWorkspace { ws in
            try ws.write("web.yaml", Self.web)
            let option = try ws.run(["apply", "-f", "web.yaml", "--manifests", "elsewhere"])
            #expect(option.exited && option.status == 0, "\(option)")
            #expect(FileManager.default.fileExists(atPath: ws.path + "/elsewhere/default.flinkdeployment.web.yaml"))
            let environment = try ws.run(["apply", "-f", "web.yaml"], environment: ["FLINKLET_MANIFESTS": "fromenv"])
            #expect(environment.exited && environment.status == 0, "\(environment)")
            #expect(FileManager.default.fileExists(atPath: ws.path + "/fromenv/default.flinkdeployment.web.yaml"))
        }
    }

    @Test func pruneRemovesSelectedResourcesThatAreNotApplied() throws {
        try withWorkspace { ws in
            try ws.write("manifests/a.yaml", ManifestText.deployment(name: "a", labels: ["team": "x"]))
            try ws.write("manifests/b.yaml", ManifestText.deployment(name: "b", labels: ["team": "x"]))
            try ws.write("manifests/c.yaml", ManifestText.deployment(name: "c", labels: ["team": "y"]))
            try ws.write("in/a.yaml", ManifestText.deployment(name: "a", labels: ["team": "x"]))
            try ws.write("in/d.yaml", ManifestText.deployment(name: "d", labels: ["team": "x"]))
            // Not selected by -l: neither applied nor a reason to keep anything.
            try ws.write("in/e.yaml", ManifestText.deployment(name: "e", labels: ["team": "y"]))

            let dry = try ws.run(["apply", "-f", "in", "--prune", "-l", "team=x", "--dry-run=client"])
            #expect(dry.exited && dry.status == 0, "\(dry)")
            #expect(ws.manifestFiles() == ["a.yaml", "b.yaml", "c.yaml"])

            let result = try ws.run(["apply", "-f", "in", "--prune", "-l", "team=x"])
            #expect(result.exited && result.status == 0, "\(result)")
            #expect(result.stdoutLines == [
                "flinkdeployment.flink.apache.org/a unchanged",
                "flinkdeployment.flink.apache.org/d created",
                "flinkdeployment.flink.apache.org/b pruned",
            ], "\(result)")
            #expect(ws.manifestFiles() == ["a.yaml", "c.yaml", "default.flinkdeployment.d.yaml"])
        }
    }

    @Test func pruneRefusesToRemoveEverySelectedResourceUnlessAllowed() throws {
        try withWorkspace { ws in
            try ws.write("manifests/a.yaml", ManifestText.deployment(name: "a", labels: ["team": "x"]))
            try ws.write("manifests/b.yaml", ManifestText.deployment(name: "b", labels: ["team": "x"]))
            try ws.makeEmptyDirectory("empty")

            let refused = try ws.run(["apply", "-f", "empty", "--prune", "-l", "team=x"])
            #expect(refused.exited && refused.status == 1, "\(refused)")
            #expect(refused.stderrLines == [
                #"error: refusing to prune every resource with labels "team=x" (2): no applied resource has them; pass --prune-allow-empty to allow it"#,
            ], "\(refused)")
            #expect(ws.manifestFiles() == ["a.yaml", "b.yaml"])

            let allowed = try ws.run(["apply", "-f", "empty", "--prune", "-l", "team=x", "--prune-allow-empty"])
            #expect(allowed.exited && allowed.status == 0, "\(allowed)")
            #expect(allowed.stdoutLines == ["flinkdeployment.flink.apache.org/a pruned", "flinkdeployment.flink.apache.org/b pruned"], "\(allowed)")
            #expect(ws.manifestFiles() == [])
        }
    }

    @Test func pruneRefusesAFileSharedWithAResourceThatStays() throws {
        try withWorkspace { ws in
            let shared = ManifestText.deployment(name: "a", labels: ["team": "x"]) + "---\n" + ManifestText.deployment(name: "keep")
            try ws.write("manifests/all.yaml", shared)
            try ws.write("in/b.yaml", ManifestText.deployment(name: "b", labels: ["team": "x"]))
            let result = try ws.run(["apply", "-f", "in", "--prune", "-l", "team=x"])
            #expect(result.exited && result.status == 1, "\(result)")
            let line = try #require(position(of: "name: a", in: shared)).line
            #expect(result.stderrLines == [
                "error: cannot prune flinkdeployment.flink.apache.org/a: manifests/all.yaml:\(line) also defines 1 object not being pruned; edit that file",
            ], "\(result)")
            #expect(ws.manifestFiles() == ["all.yaml"])
        }
    }

    @Test(arguments: [
        (["apply"], "must specify one of -f or --filename"),
        (["apply", "-f", "missing.yaml"], #"the path "missing.yaml" does not exist"#),
        (["apply", "-f", "-", "--prune"], "--prune requires a label selector: -l/--selector"),
        (["apply", "-f", "-", "-l", "=x"], #"invalid label selector "=x""#),
        (["apply", "-f", "-", "--dry-run=server"], "--dry-run"),
    ])
    func usageErrorsExitTwo(arguments: [String], message: String) throws {
        try withWorkspace { ws in
            let result = try ws.run(arguments, stdin: "")
            #expect(result.exited && result.status == 2, "\(result)")
            #expect(result.stderr.contains(message), "\(result)")
        }
    }
}

extension Workspace {
    func makeEmptyDirectory(_ name: String) throws { try dir.makeDirectory(name) }
}
