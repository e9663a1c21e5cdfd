import ArgumentParser
import FlinkResources

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
        version: "flinklet \(version) (Flink \(FlinkVersion.supported.rawValue), \(FlinkAPI.apiVersion))",
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
    static let configuration = CommandConfiguration(abstract: "Print the version of flinklet and of the Flink it runs.")

    func run() {
        print("flinklet version \(Flinklet.version)")
        print("Flink: \(FlinkVersion.supported.rawValue) (Apache Flink 2.3)")
        print("API: \(FlinkAPI.apiVersion) (FlinkDeployment, FlinkSessionJob)")
    }
}
