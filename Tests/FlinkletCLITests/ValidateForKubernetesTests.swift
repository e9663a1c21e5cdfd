import Foundation
import Testing

/// `flinklet validate --for kubernetes`: what the Apache Flink Kubernetes Operator would reject
/// or read differently, at file:line:column, with what to write instead; exit 1 if anything.
@Suite struct ValidateForKubernetesTests {
    @Test func flinkletsOwnModeIsReportedWithWhatToWriteInstead() throws {
        try withScratchDirectory { dir in
            let text = ManifestText.application(name: "app")
            try dir.write("app.yaml", text)
            let at = try #require(position(of: "application\n", in: text))

            let plain = try FlinkletBinary.run(["validate", "-f", "app.yaml"], in: dir.url)
            #expect(plain.exited && plain.status == 0, "\(plain)")

            let result = try FlinkletBinary.run(["validate", "-f", "app.yaml", "--for", "kubernetes"], in: dir.url)
            #expect(result.exited && result.status == 1, "\(result)")
            #expect(result.stderrLines == [
                #"app.yaml:\#(at.line):\#(at.column): spec.mode: Unsupported value: "application": supported values: "native", "standalone": FKO infers application mode from spec.job; remove spec.mode"#,
            ])
            #expect(result.stdoutLines == [
                "flinkdeployment.flink.apache.org/app invalid (1 error)",
                "1 resource in 1 file: 0 valid, 1 invalid (1 error, 0 warnings)",
            ])
        }
    }

    /// `examples/upstream/`: manifests in upstream's shapes (resources, Kubernetes HA, a kustomize
    /// directory with a ConfigMap, an Ingress and an HPA, a FlinkStateSnapshot) load, and are portable.
    @Test(arguments: [[String](), ["--for", "kubernetes"]])
    func theUpstreamShapedExamplesLoad(extra: [String]) throws {
        let examples = FlinkletBinary.repositoryRoot.appendingPathComponent("examples/upstream").path
        let result = try FlinkletBinary.run(["validate", "-f", examples, "-R"] + extra)
        #expect(result.exited && result.status == 0, "\(result)")
        #expect(result.stderrLines.allSatisfy { $0.contains(": warning: ") }, "\(result)")
        #expect(result.stdoutLines.filter { !$0.hasPrefix("skipped: ") } == [
            "flinkdeployment.flink.apache.org/ha-example valid (4 warnings)",
            "flinkdeployment.flink.apache.org/kustomized-session valid",
            "flinkdeployment.flink.apache.org/resources-example valid (2 warnings)",
            "flinkstatesnapshot.flink.apache.org/resources-example-savepoint valid",
            "4 resources in 6 files: 4 valid, 4 other documents skipped (0 errors, 6 warnings)",
        ])
        #expect(result.stdoutLines.filter { $0.hasPrefix("skipped: ") }.count == 4)
    }

    @Test func anUnknownTargetIsAUsageError() throws {
        let result = try FlinkletBinary.run(["validate", "-f", "-", "--for", "mars"], stdin: Data())
        #expect(result.exited && result.status == 2, "\(result)")
        #expect(result.stderr.contains("Please provide one of 'kubernetes'"), "\(result)")
    }

    /// The shipped examples are portable, except per-job (upstream has no per-job mode) and the
    /// session job's local jar (upstream fetches session job jars over https): each says why in
    /// a comment.
    @Test func theShippedManifestsPassExceptPerJobAndTheSessionJobsLocalJar() throws {
        let manifests = FlinkletBinary.repositoryRoot.appendingPathComponent("manifests").path
        let result = try FlinkletBinary.run(["validate", "-f", manifests, "--for", "kubernetes"])
        #expect(result.exited && result.status == 1, "\(result)")
        // Each finding as FILE FIELD, without line and column.
        let findings = result.stderrLines.map { line -> String in
            let parts = line.dropFirst(manifests.count + 1).split(separator: ":", maxSplits: 4, omittingEmptySubsequences: false)
            return parts.count == 5 ? "\(parts[0]) \(parts[3].trimmingCharacters(in: .whitespaces))" : line
        }
        #expect(findings == ["per-job.yaml spec.mode", "session-job.yaml spec.job.jarURI"], "\(result)")
        for file in ["application.yaml", "session-cluster.yaml"] {
            let one = try FlinkletBinary.run(["validate", "-f", manifests + "/" + file, "--for", "kubernetes"])
            #expect(one.exited && one.status == 0 && one.stderr == "", "\(file): \(one)")
        }
        for file in ["per-job.yaml", "session-job.yaml"] {
            let text = try String(contentsOfFile: manifests + "/" + file, encoding: .utf8)
            #expect(text.contains("Not portable, on purpose"), "\(file) names its reason")
        }
    }
}
