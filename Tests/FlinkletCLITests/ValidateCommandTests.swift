import Foundation
import Testing

/// `flinklet validate` run as a child process: exit status, diagnostics on standard error,
/// per-resource lines and summary on standard output.
@Suite("flinklet validate (text output)")
struct ValidateCommandTests {

    // MARK: Valid and invalid manifests

    @Test func repositoryManifestsDirectoryValidatesWithFiveValidResources() throws {
        let manifests = FlinkletBinary.repositoryRoot.appendingPathComponent("manifests").path
        let result = try FlinkletBinary.run(["validate", "-f", manifests])

        #expect(result.exited && result.status == 0, "\(result)")
        #expect(result.stderr == "")
        #expect(result.stdoutLines == [
            "flinkdeployment.flink.apache.org/counter-lts valid",
            "flinkdeployment.flink.apache.org/counter-app valid",
            "flinkdeployment.flink.apache.org/counter-batch valid",
            "flinkdeployment.flink.apache.org/session valid",
            "flinksessionjob.flink.apache.org/counter-in-session valid",
            "5 resources in 5 files: 5 valid",
        ])
    }

    @Test func invalidFileBesideValidFileFailsWithDiagnosticAtItsLineAndColumn() throws {
        try withScratchDirectory { dir in
            let bad = ManifestText.application(name: "bad-app", upgradeMode: "savepiont")
            try dir.write("good.yaml", ManifestText.application(name: "good-app"))
            try dir.write("bad.yaml", bad)
            let at = try #require(position(of: "savepiont", in: bad))

            let result = try FlinkletBinary.run(["validate", "-f", "good.yaml", "-f", "bad.yaml"], in: dir.url)

            #expect(result.exited && result.status == 1, "\(result)")
            #expect(result.stderrLines == ["bad.yaml:\(at.line):\(at.column): \(ManifestText.savepiontDiagnostic)"])
            #expect(result.stdoutLines == [
                "flinkdeployment.flink.apache.org/good-app valid",
                "flinkdeployment.flink.apache.org/bad-app invalid (1 error)",
                "2 resources in 2 files: 1 valid, 1 invalid (1 error, 0 warnings)",
            ])
        }
    }

    @Test func diagnosticColumnCountsCharactersNotBytes() throws {
        try withScratchDirectory { dir in
            // A flow mapping puts the bad value after multi-byte characters on the same line.
            let text = """
                apiVersion: flink.apache.org/v1beta1
                kind: FlinkDeployment
                metadata: {name: unicode-app, labels: {team: "Ünïcødé"}}
                spec:
                  flinkVersion: v2_3
                  mode: application
                  jobManager: {resource: {memory: 768m}}
                  taskManager: {resource: {memory: 1g}}
                  job: {jarURI: "local:///opt/flink/usrlib/jöb-ä.jar", parallelism: 1, upgradeMode: savepiont}

                """
            try dir.write("unicode.yaml", text)
            let at = try #require(position(of: "savepiont", in: text))

            let result = try FlinkletBinary.run(["validate", "-f", "unicode.yaml"], in: dir.url)

            #expect(result.status == 1, "\(result)")
            #expect(result.stderrLines == ["unicode.yaml:\(at.line):\(at.column): \(ManifestText.savepiontDiagnostic)"])
        }
    }

    @Test func warningOnlyManifestIsValidAndExitsZero() throws {
        try withScratchDirectory { dir in
            let text = ManifestText.sessionWithServiceAccount(name: "warned")
            try dir.write("warned.yaml", text)
            let at = try #require(position(of: "serviceAccount", in: text))

            let result = try FlinkletBinary.run(["validate", "-f", "warned.yaml"], in: dir.url)

            #expect(result.exited && result.status == 0, "\(result)")
            #expect(result.stderrLines.count == 1)
            let line = try #require(result.stderrLines.first)
            #expect(line.hasPrefix("warned.yaml:\(at.line):\(at.column): warning: spec.serviceAccount: "), "\(line)")
            #expect(result.stdoutLines == [
                "flinkdeployment.flink.apache.org/warned valid (1 warning)",
                "1 resource in 1 file: 1 valid (0 errors, 1 warning)",
            ])
        }
    }

    @Test func documentOfAnotherAPIIsSkippedAndNamedByItsLocation() throws {
        try withScratchDirectory { dir in
            try dir.write("configmap.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n")

            let result = try FlinkletBinary.run(["validate", "-f", "configmap.yaml"], in: dir.url)

            #expect(result.status == 0, "\(result)")
            #expect(result.stderr == "")
            #expect(result.stdoutLines == [
                "skipped: v1/ConfigMap settings: not a Flinklet kind (configmap.yaml:1:1)",
                "0 resources in 1 file: 0 valid, 1 other document skipped",
            ])
        }
    }

    // MARK: Standard input

    @Test func standardInputIsReadWithDashAndDiagnosticsNameItDash() throws {
        let bad = ManifestText.application(name: "piped-app", upgradeMode: "savepiont")
        let at = try #require(position(of: "savepiont", in: bad))

        let result = try FlinkletBinary.run(["validate", "-f", "-"], stdin: Data(bad.utf8))

        #expect(result.exited && result.status == 1, "\(result)")
        #expect(result.stderrLines == ["-:\(at.line):\(at.column): \(ManifestText.savepiontDiagnostic)"])
        #expect(result.stdoutLines == [
            "flinkdeployment.flink.apache.org/piped-app invalid (1 error)",
            "1 resource in 1 file: 0 valid, 1 invalid (1 error, 0 warnings)",
        ])
    }

    @Test func validManifestOnStandardInputExitsZero() throws {
        let result = try FlinkletBinary.run(
            ["validate", "--filename", "-"], stdin: Data(ManifestText.sessionJob(name: "piped-job").utf8))

        #expect(result.exited && result.status == 0, "\(result)")
        #expect(result.stderr == "")
        #expect(result.stdoutLines == [
            "flinksessionjob.flink.apache.org/piped-job valid",
            "1 resource in 1 file: 1 valid",
        ])
    }

    // MARK: Multi-document files and duplicates

    @Test func multiDocumentFileGivesOneLinePerResource() throws {
        try withScratchDirectory { dir in
            try dir.write("both.yaml", ManifestText.application(name: "first-app") + "---\n" + ManifestText.sessionJob(name: "second-job"))

            let result = try FlinkletBinary.run(["validate", "-f", "both.yaml"], in: dir.url)

            #expect(result.exited && result.status == 0, "\(result)")
            #expect(result.stderr == "")
            #expect(result.stdoutLines == [
                "flinkdeployment.flink.apache.org/first-app valid",
                "flinksessionjob.flink.apache.org/second-job valid",
                "2 resources in 1 file: 2 valid",
            ])
        }
    }

    @Test func errorInSecondDocumentIsReportedAtItsLineInTheWholeFile() throws {
        try withScratchDirectory { dir in
            let text = ManifestText.application(name: "first-app") + "---\n"
                + ManifestText.application(name: "second-app", upgradeMode: "savepiont")
            try dir.write("both.yaml", text)
            let at = try #require(position(of: "savepiont", in: text))
            #expect(at.line > 20)  // really in the second document

            let result = try FlinkletBinary.run(["validate", "-f", "both.yaml"], in: dir.url)

            #expect(result.status == 1, "\(result)")
            #expect(result.stderrLines == ["both.yaml:\(at.line):\(at.column): \(ManifestText.savepiontDiagnostic)"])
            #expect(result.stdoutLines == [
                "flinkdeployment.flink.apache.org/first-app valid",
                "flinkdeployment.flink.apache.org/second-app invalid (1 error)",
                "2 resources in 1 file: 1 valid, 1 invalid (1 error, 0 warnings)",
            ])
        }
    }

    @Test func duplicateResourceAcrossFilesIsAnErrorNamingTheFirstFile() throws {
        try withScratchDirectory { dir in
            let text = ManifestText.application(name: "twice")
            try dir.write("first.yaml", text)
            try dir.write("second.yaml", text)
            let at = try #require(position(of: "twice", in: text))

            let result = try FlinkletBinary.run(["validate", "-f", "first.yaml", "-f", "second.yaml"], in: dir.url)

            #expect(result.exited && result.status == 1, "\(result)")
            #expect(result.stderrLines == [
                "second.yaml:\(at.line):\(at.column): metadata.name: Duplicate value: \"twice\": "
                    + "flinkdeployment \"default/twice\" is already defined at first.yaml:\(at.line):\(at.column); "
                    + "the first definition is used",
            ])
            #expect(result.stdoutLines == [
                "flinkdeployment.flink.apache.org/twice valid",
                "flinkdeployment.flink.apache.org/twice invalid (1 error)",
                "2 resources in 2 files: 1 valid, 1 invalid (1 error, 0 warnings)",
            ])
        }
    }

    @Test func duplicatesInADirectoryAreResolvedInPathOrder() throws {
        try withScratchDirectory { dir in
            let text = ManifestText.application(name: "twice")
            // Written in the opposite order to their names.
            try dir.write("manifests/b.yaml", text)
            try dir.write("manifests/a.yaml", text)

            let result = try FlinkletBinary.run(["validate", "-f", "manifests"], in: dir.url)

            #expect(result.status == 1, "\(result)")
            #expect(result.stderrLines.count == 1)
            #expect(result.stderr.hasPrefix("manifests/b.yaml:"), "\(result)")
            #expect(result.stderr.contains("is already defined at manifests/a.yaml:"), "\(result)")
        }
    }

    @Test func sameNameInDifferentNamespacesIsNotADuplicate() throws {
        try withScratchDirectory { dir in
            try dir.write("default.yaml", ManifestText.application(name: "shared"))
            try dir.write("team.yaml", ManifestText.application(name: "shared", namespace: "team"))

            let result = try FlinkletBinary.run(["validate", "-f", "default.yaml", "-f", "team.yaml"], in: dir.url)

            #expect(result.exited && result.status == 0, "\(result)")
            #expect(result.stderr == "")
            #expect(result.stdoutLines.last == "2 resources in 2 files: 2 valid")
        }
    }

    // MARK: Directories

    @Test func editorAndToolLitterInADirectoryIsNotRead() throws {
        try withScratchDirectory { dir in
            let invalid = ManifestText.application(name: "litter", upgradeMode: "savepiont")
            try dir.write("manifests/app.yaml", ManifestText.application(name: "real-app"))
            for name in [".hidden.yaml", "app.yaml~", "x.swp", "x.swx", "notes.txt", "4913", "old.bak", "new.tmp", "README"] {
                try dir.write("manifests/\(name)", invalid)
            }
            try dir.write("manifests/broken.txt", "not: [yaml")

            let result = try FlinkletBinary.run(["validate", "-f", "manifests"], in: dir.url)

            #expect(result.exited && result.status == 0, "\(result)")
            #expect(result.stderr == "")
            #expect(result.stdoutLines == [
                "flinkdeployment.flink.apache.org/real-app valid",
                "1 resource in 1 file: 1 valid",
            ])
        }
    }

    @Test func yamlYmlAndJSONFilesInADirectoryAreRead() throws {
        try withScratchDirectory { dir in
            try dir.write("manifests/a.yaml", ManifestText.application(name: "from-yaml"))
            try dir.write("manifests/b.yml", ManifestText.sessionJob(name: "from-yml"))
            try dir.write("manifests/c.json", ManifestText.applicationJSON(name: "from-json"))

            let result = try FlinkletBinary.run(["validate", "-f", "manifests/"], in: dir.url)

            #expect(result.exited && result.status == 0, "\(result)")
            #expect(result.stderr == "")
            #expect(result.stdoutLines == [
                "flinkdeployment.flink.apache.org/from-yaml valid",
                "flinksessionjob.flink.apache.org/from-yml valid",
                "flinkdeployment.flink.apache.org/from-json valid",
                "3 resources in 3 files: 3 valid",
            ])
        }
    }

    @Test func subdirectoriesAreSkippedWithoutRecursiveFlag() throws {
        try withScratchDirectory { dir in
            try dir.write("manifests/top.yaml", ManifestText.application(name: "top-app"))
            try dir.write("manifests/nested/deeper/job.yaml", ManifestText.sessionJob(name: "nested-job"))

            let result = try FlinkletBinary.run(["validate", "-f", "manifests"], in: dir.url)

            #expect(result.exited && result.status == 0, "\(result)")
            #expect(result.stdoutLines == [
                "flinkdeployment.flink.apache.org/top-app valid",
                "1 resource in 1 file: 1 valid",
            ])
        }
    }

    @Test(arguments: ["-R", "--recursive"])
    func subdirectoriesAreReadWithRecursiveFlagExceptHiddenOnes(flag: String) throws {
        try withScratchDirectory { dir in
            try dir.write("manifests/top.yaml", ManifestText.application(name: "top-app"))
            try dir.write("manifests/nested/deeper/job.yaml", ManifestText.sessionJob(name: "nested-job"))
            try dir.write("manifests/.git/bad.yaml", ManifestText.application(name: "hidden-app", upgradeMode: "savepiont"))
            try dir.write("manifests/nested/.cache/bad.yaml", ManifestText.application(name: "cached-app", upgradeMode: "savepiont"))

            let result = try FlinkletBinary.run(["validate", "-f", "manifests", flag], in: dir.url)

            #expect(result.exited && result.status == 0, "\(result)")
            #expect(result.stderr == "")
            #expect(result.stdoutLines == [
                "flinksessionjob.flink.apache.org/nested-job valid",
                "flinkdeployment.flink.apache.org/top-app valid",
                "2 resources in 2 files: 2 valid",
            ])
        }
    }

    @Test func emptyDirectoryHasNothingToValidateAndSucceeds() throws {
        try withScratchDirectory { dir in
            try dir.makeDirectory("empty")

            let result = try FlinkletBinary.run(["validate", "-f", "empty"], in: dir.url)

            #expect(result.exited && result.status == 0, "\(result)")
            #expect(result.stdoutLines == ["0 resources in 0 files: 0 valid"])
        }
    }

    /// `-R` does not follow symbolic links to directories (as `kubectl -R`): a link back to its
    /// parent used to make every file be read again at each level, 41 copies in all.
    @Test func recursiveValidationReadsEachFileOnceDespiteASymlinkCycle() throws {
        try withScratchDirectory { dir in
            try dir.write("manifests/app.yaml", ManifestText.application(name: "looped"))
            try FileManager.default.createSymbolicLink(
                atPath: dir.url.appendingPathComponent("manifests/loop").path, withDestinationPath: ".")

            let result = try FlinkletBinary.run(["validate", "-f", "manifests", "-R"], in: dir.url)

            #expect(result.exited, "\(result)")
            #expect(result.stdoutLines.last == "1 resource in 1 file: 1 valid")
            #expect(result.status == 0)
        }
    }

    @Test func aFileNamedTwiceIsReadOnce() throws {
        try withScratchDirectory { dir in
            try dir.write("a.yaml", ManifestText.application(name: "once"))

            let result = try FlinkletBinary.run(["validate", "-f", "a.yaml", "-f", "./a.yaml", "-f", "."], in: dir.url)

            #expect(result.exited && result.status == 0, "\(result)")
            #expect(result.stdoutLines.last == "1 resource in 1 file: 1 valid")
        }
    }

    @Test func standardInputCanBeNamedOnlyOnce() throws {
        try withScratchDirectory { dir in
            let result = try FlinkletBinary.run(["validate", "-f", "-", "-f", "-"], in: dir.url)

            #expect(result.exited && result.status == 2, "\(result)")
            #expect(result.stderr.contains("standard input (-) can be given to -f only once"))
        }
    }

    // MARK: Files that cannot be read as manifests

    @Test func yamlSyntaxErrorMakesTheFileUnreadable() throws {
        try withScratchDirectory { dir in
            let text = "apiVersion: flink.apache.org/v1beta1\nkind: FlinkDeployment\nmetadata:\n  name: [oops\n"
            try dir.write("syntax.yaml", text)
            let flow = try #require(position(of: "[oops", in: text))

            let result = try FlinkletBinary.run(["validate", "-f", "syntax.yaml"], in: dir.url)

            #expect(result.exited && result.status == 1, "\(result)")
            #expect(result.stderrLines.count == 1)
            // libyaml reports the end of input (line 5, column 1) and where the flow sequence began.
            #expect(result.stderr.hasPrefix("syntax.yaml:5:1: invalid YAML: "), "\(result)")
            #expect(result.stderr.contains("at line \(flow.line), column \(flow.column)"), "\(result)")
            #expect(result.stdoutLines == [
                "syntax.yaml unreadable",
                "0 resources in 1 file: 0 valid, 1 file unreadable (1 error, 0 warnings)",
            ])
        }
    }

    @Test func binaryFileIsReportedUnreadableBesideValidResources() throws {
        try withScratchDirectory { dir in
            var bytes: [UInt8] = [0x7F, 0x45, 0x4C, 0x46, 0x02, 0x01, 0x01, 0x00]  // an ELF header
            bytes += (0..<512).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
            try dir.write("binary.yaml", Data(bytes))
            try dir.write("good.yaml", ManifestText.application(name: "good-app"))

            let result = try FlinkletBinary.run(["validate", "-f", "binary.yaml", "-f", "good.yaml"], in: dir.url)

            #expect(result.exited, "crashed: \(result)")
            #expect(result.status == 1, "\(result)")
            #expect(result.stderrLines.count == 1)
            #expect(result.stderr.hasPrefix("binary.yaml: invalid YAML: "), "\(result)")
            #expect(result.stdoutLines == [
                "flinkdeployment.flink.apache.org/good-app valid",
                "binary.yaml unreadable",
                "1 resource in 2 files: 1 valid, 1 file unreadable (1 error, 0 warnings)",
            ])
        }
    }

    @Test func fileOverTheSizeLimitIsUnreadableWithoutBeingParsed() throws {
        try withScratchDirectory { dir in
            try dir.write("huge.yaml", Data(repeating: UInt8(ascii: " "), count: 4 * 1024 * 1024 + 1))

            let result = try FlinkletBinary.run(["validate", "-f", "huge.yaml"], in: dir.url)

            #expect(result.exited && result.status == 1, "\(result)")
            #expect(result.stderrLines == ["huge.yaml: file is larger than the limit of 4194304 bytes"])
            #expect(result.stdoutLines == [
                "huge.yaml unreadable",
                "0 resources in 1 file: 0 valid, 1 file unreadable (1 error, 0 warnings)",
            ])
        }
    }

    // MARK: Usage errors

    struct UsageError: Sendable, CustomTestStringConvertible {
        var arguments: [String]
        var message: String
        var testDescription: String { "flinklet " + arguments.joined(separator: " ") }
    }

    @Test(arguments: [
        UsageError(arguments: ["validate"], message: "Error: must specify one of -f or --filename"),
        UsageError(arguments: ["validate", "-f", "missing.yaml"], message: #"Error: the path "missing.yaml" does not exist"#),
        UsageError(arguments: ["validate", "-f", "good.yaml", "-f", "missing-dir/"], message: #"Error: the path "missing-dir/" does not exist"#),
        UsageError(arguments: ["validate", "-f", "good.yaml", "--bogus"], message: "Error: Unknown option '--bogus'"),
        UsageError(arguments: ["validate", "-f", "good.yaml", "-o", "yaml"], message: "Error: The value 'yaml' is invalid for '-o <output>'"),
    ])
    func usageErrorsExitTwoWithArgumentParsersMessage(_ usage: UsageError) throws {
        try withScratchDirectory { dir in
            try dir.write("good.yaml", ManifestText.application(name: "good-app"))

            let result = try FlinkletBinary.run(usage.arguments, in: dir.url)

            #expect(result.exited && result.status == 2, "\(result)")
            #expect(result.stdout == "")
            #expect(result.stderr.hasPrefix(usage.message), "\(result)")
            #expect(result.stderr.contains("Usage: flinklet validate"), "\(result)")
        }
    }
}
