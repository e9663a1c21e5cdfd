import Foundation
import Testing

/// `flinklet version`, `--version`, `--help` and `crds`, run as a child process.
@Suite("flinklet version, help and crds")
struct InformationCommandsTests {

    @Test func versionSubcommandListsEverySupportedFlinkVersionAndWhereItIsInstalled() throws {
        // A working directory with two distributions as hack/install-flink.sh lays them out
        // (only lib/flink-dist-<release>.jar is read), and no $FLINK_HOME.
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("flinklet-version-\(UUID().uuidString.prefix(8))")
        defer { try? FileManager.default.removeItem(at: directory) }
        for release in ["1.20.5", "2.3.0"] {
            let lib = directory.appendingPathComponent(".flink/flink-\(release)/lib")
            try FileManager.default.createDirectory(at: lib, withIntermediateDirectories: true)
            try Data().write(to: lib.appendingPathComponent("flink-dist-\(release).jar"))
        }
        let result = try FlinkletBinary.run(["version"], in: directory, environment: ["FLINK_HOME": ""])

        #expect(result.exited && result.status == 0, "\(result)")
        #expect(result.stderr == "")
        let lines = result.stdoutLines
        try #require(lines.count == 8, "\(result)")
        #expect(lines[0] == "flinklet version 0.1.0")
        #expect(lines[1].hasPrefix("API: flink.apache.org/v1beta1"), "\(lines[1])")
        let rows = lines[2...].map { $0.split(separator: " ", omittingEmptySubsequences: true).map(String.init) }
        #expect(rows.map { $0.first ?? "" } == ["FLINK", "v1_20", "v2_0", "v2_1", "v2_2", "v2_3"], "\(lines)")
        let home = directory.standardizedFileURL.path + "/.flink/flink-"
        #expect(rows[1] == ["v1_20", "1.20.5", home + "1.20.5"], "\(lines)")
        #expect(rows[2] == ["v2_0", "2.0.2", "no", "(hack/install-flink.sh", "2.0)"], "\(lines)")
        #expect(rows[5] == ["v2_3", "2.3.0", home + "2.3.0"], "\(lines)")
    }

    @Test func versionFlagPrintsOneLine() throws {
        let result = try FlinkletBinary.run(["--version"])

        #expect(result.exited && result.status == 0, "\(result)")
        #expect(result.stdoutLines.count == 1, "\(result)")
        #expect(result.stdout.hasPrefix("flinklet 0.1.0 ("), "\(result)")
        #expect(result.stdout.contains("flink.apache.org/v1beta1"), "\(result)")
    }

    @Test func helpListsTheSubcommands() throws {
        let result = try FlinkletBinary.run(["--help"])

        #expect(result.exited && result.status == 0, "\(result)")
        #expect(result.stdout.contains("USAGE: flinklet <subcommand>"), "\(result)")
        let subcommands = result.stdoutLines
            .drop { !$0.hasPrefix("SUBCOMMANDS:") }.dropFirst()
            .compactMap { line -> String? in
                // Subcommand rows are indented by two spaces; wrapped abstracts by more.
                guard line.hasPrefix("  "), !line.hasPrefix("   ") else { return nil }
                return line.split(separator: " ").first.map(String.init)
            }
        #expect(subcommands.starts(with: ["run", "recover", "validate", "apply", "diff", "delete", "get", "describe", "events", "wait", "logs", "top", "crds", "kubeconfig",
                                           "completion", "version"]), "\(subcommands)")
    }

    @Test func validateHelpDocumentsItsOptions() throws {
        let result = try FlinkletBinary.run(["validate", "--help"])

        #expect(result.exited && result.status == 0, "\(result)")
        for option in ["-f, --filename <path>", "-R, --recursive", "-o, --output <output>"] {
            #expect(result.stdout.contains(option), "missing \(option): \(result)")
        }
    }

    @Test func crdsPrintsEveryCustomResourceDefinitionAsAYAMLStream() throws {
        let result = try FlinkletBinary.run(["crds"])

        #expect(result.exited && result.status == 0, "\(result)")
        #expect(result.stderr == "")
        let lines = result.stdoutLines
        #expect(lines.first == "---")
        #expect(lines.filter { $0 == "---" }.count == 3)
        #expect(lines.filter { $0 == "kind: CustomResourceDefinition" }.count == 3)
        #expect(lines.contains("  name: flinkdeployments.flink.apache.org"))
        #expect(lines.contains("  name: flinksessionjobs.flink.apache.org"))
        #expect(lines.contains("  name: flinkstatesnapshots.flink.apache.org"))
        #expect(lines.filter { $0 == "apiVersion: apiextensions.k8s.io/v1" }.count == 3)

        // Each document is one CRD, in kind order: deployments first.
        let documents = result.stdout.components(separatedBy: "---\n").filter { !$0.isEmpty }
        try #require(documents.count == 3)
        #expect(documents[0].contains("name: flinkdeployments.flink.apache.org"))
        #expect(documents[0].contains("kind: FlinkDeployment\n"))
        #expect(documents[1].contains("name: flinksessionjobs.flink.apache.org"))
        #expect(documents[1].contains("kind: FlinkSessionJob\n"))
        #expect(documents[2].contains("name: flinkstatesnapshots.flink.apache.org"))
        #expect(documents[2].contains("kind: FlinkStateSnapshot\n"))
        #expect(documents[2].contains("- flinksnp\n"), "upstream's short name")
        #expect(documents[2].contains("jsonPath: .status.path"), "upstream's printer columns")
    }

    @Test func crdsOutputMatchesTheCheckedInCRDFiles() throws {
        let result = try FlinkletBinary.run(["crds"])
        let crds = FlinkletBinary.repositoryRoot.appendingPathComponent("crds")
        let expected = try ["flinkdeployments.flink.apache.org.yaml", "flinksessionjobs.flink.apache.org.yaml", "flinkstatesnapshots.flink.apache.org.yaml"]
            .map { "---\n" + (try String(contentsOf: crds.appendingPathComponent($0), encoding: .utf8)) }
            .joined()

        #expect(result.status == 0, "\(result)")
        #expect(result.stdout == expected, "crds/ is out of date: regenerate with `flinklet crds --output-dir crds`")
    }

    @Test func crdsWithOutputDirWritesOneFilePerKind() throws {
        try withScratchDirectory { dir in
            let printed = try FlinkletBinary.run(["crds"])
            let result = try FlinkletBinary.run(["crds", "--output-dir", dir.path])

            #expect(result.exited && result.status == 0, "\(result)")
            let names = ["flinkdeployments.flink.apache.org.yaml", "flinksessionjobs.flink.apache.org.yaml", "flinkstatesnapshots.flink.apache.org.yaml"]
            #expect(result.stdoutLines == names.map { "wrote \(dir.path)/\($0)" })
            let written = try names.map { "---\n" + (try String(contentsOf: dir.url.appendingPathComponent($0), encoding: .utf8)) }
            #expect(written.joined() == printed.stdout)
        }
    }
}
