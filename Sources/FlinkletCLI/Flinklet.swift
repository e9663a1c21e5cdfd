import ArgumentParser
import Controller
import FlinkResources
import Planning

/// The `flinklet` command: the operator and its kubectl-like client in one binary.
public struct Flinklet: AsyncParsableCommand {
    public static let version = "0.1.0"

    public static let configuration = CommandConfiguration(
        commandName: "flinklet",
        abstract: "Runs Apache Flink clusters on one machine from FlinkDeployment and FlinkSessionJob manifests.",
        discussion: """
            Flinklet reads the same flink.apache.org/v1beta1 resources as the Apache Flink \
            Kubernetes Operator and keeps real Flink clusters running as local process groups.
            """,
        version: "flinklet \(version) (Flink \(FlinkVersion.supportedVersions.map(\.rawValue).joined(separator: ", ")), \(FlinkAPI.apiVersion))",
        subcommands: [Run.self, Recover.self, Validate.self, Apply.self, Diff.self, Delete.self, Get.self, Describe.self, Events.self, Wait.self, Logs.self, Top.self,
                      CRDs.self, Kubeconfig.self, Completion.self, Version.self]
    )

    public init() {}

    /// Runs the command line and exits with kubectl's codes: 0 success, 1 failure, 2 usage error.
    public static func runMain(_ arguments: [String]? = nil) async -> Never {
        do {
            var command = try parseAsRoot(arguments)
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
            exit()
        } catch {
            let code = exitCode(for: error)
            if code == .validationFailure {
                // Usage errors: argument-parser's message and usage, then exit 2 like kubectl.
                var stderr = StandardError()
                print(fullMessage(for: error), to: &stderr)
                exit(withError: ExitCode(2))
            }
            exit(withError: error)
        }
    }
}

struct Version: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the version of flinklet and the Flink versions it runs, with where each is installed.",
        discussion: "Installed distributions are found as `flinklet run` finds them: --flink-home, else $FLINK_HOME and .flink/flink-*/ in the working directory.")

    @Option(name: .customLong("flink-home"), help: ArgumentHelp("Report this Flink distribution only, as `flinklet run --flink-home` would run it.", valueName: "dir"))
    var flinkHome: String?

    func run() {
        print("flinklet version \(Flinklet.version)")
        print("API: \(FlinkAPI.apiVersion) (FlinkDeployment, FlinkSessionJob, FlinkStateSnapshot)")
        let found = FlinkDistributionCatalog(explicit: flinkHome).current()
        print(Self.table(found), terminator: "")
        if let problem = found.problem { print("note: \(problem)") }
    }

    /// One row per supported version: its release and where it is installed, or how to install it.
    static func table(_ found: FlinkDistributions) -> String {
        var rows = [["FLINK VERSION", "RELEASE", "INSTALLED"]]
        for version in FlinkVersion.supportedVersions {
            if let distribution = found.installed[version] {
                rows.append([version.rawValue, distribution.version, distribution.home])
            } else {
                rows.append([version.rawValue, FlinkVersion.releases[version] ?? "", "no (\(version.installCommand))"])
            }
        }
        let widths = (0..<2).map { column in rows.map { $0[column].count }.max() ?? 0 }
        return rows.map { row in
            row[0].padding(toLength: widths[0] + 3, withPad: " ", startingAt: 0) + row[1].padding(toLength: widths[1] + 3, withPad: " ", startingAt: 0) + row[2]
        }.joined(separator: "\n") + "\n"
    }
}
