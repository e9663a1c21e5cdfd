import Foundation
import Planning
import Reconciliation
import YAML

/// Finds the Flink distribution the operator runs: `--flink-home`, then `$FLINK_HOME`, then the
/// one `hack/install-flink.sh` put under `.flink/` (relative to the working directory).
public enum FlinkHome {
    /// Where the distribution was looked for and what was found; an error names every place tried.
    public static func locate(explicit: String?, environment: [String: String] = ProcessInfo.processInfo.environment,
                              workingDirectory: String = FileManager.default.currentDirectoryPath) -> Result<FlinkDistribution, FlinkHomeError> {
        var tried: [String] = []
        var candidates: [String] = []
        if let explicit { candidates.append(explicit) } else {
            if let home = environment["FLINK_HOME"], !home.isEmpty { candidates.append(home) }
            candidates += installedUnder(workingDirectory + "/.flink")
        }
        for candidate in candidates {
            tried.append(candidate)
            switch inspect(candidate, environment: environment) {
            case .success(let distribution): return .success(distribution)
            case .failure(let error) where explicit != nil: return .failure(error)
            case .failure: continue
            }
        }
        return .failure(FlinkHomeError(message: "no Flink distribution found (tried \(tried.isEmpty ? "--flink-home, $FLINK_HOME and .flink/" : tried.joined(separator: ", "))); run hack/install-flink.sh or pass --flink-home"))
    }

    /// `.flink/venv/lib/python3.X/site-packages/pyflink`, as `hack/install-flink.sh` installs it.
    static func installedUnder(_ root: String) -> [String] {
        let lib = root + "/venv/lib"
        guard let pythons = try? FileManager.default.contentsOfDirectory(atPath: lib) else { return [] }
        return pythons.sorted().reversed().map { "\(lib)/\($0)/site-packages/pyflink" }
            .filter { FileManager.default.fileExists(atPath: $0 + "/lib") }
    }

    /// Reads a distribution directory: its version (from `lib/flink-dist-*.jar`), its class
    /// path, the JVM options of its shipped configuration, and the `java` to run.
    public static func inspect(_ home: String, environment: [String: String]) -> Result<FlinkDistribution, FlinkHomeError> {
        let home = URL(fileURLWithPath: home).standardizedFileURL.path
        let lib = home + "/lib"
        guard let jars = try? FileManager.default.contentsOfDirectory(atPath: lib).filter({ $0.hasSuffix(".jar") }).sorted(),
              let dist = jars.first(where: { $0.hasPrefix("flink-dist") }) else {
            return .failure(FlinkHomeError(message: "\(home) is not a Flink distribution: \(lib) has no flink-dist jar"))
        }
        let version = String(dist.dropFirst("flink-dist-".count).dropLast(".jar".count))
        let classpath = jars.filter { $0 != dist }.map { lib + "/" + $0 } + [lib + "/" + dist]
        let java: String
        if let javaHome = environment["JAVA_HOME"], FileManager.default.isExecutableFile(atPath: javaHome + "/bin/java") {
            java = javaHome + "/bin/java"
        } else if let found = (environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":").map({ "\($0)/java" })
            .first(where: { FileManager.default.isExecutableFile(atPath: $0) }) {
            java = found
        } else {
            return .failure(FlinkHomeError(message: "no java found (JAVA_HOME unset and none on PATH); run hack/install-flink.sh"))
        }
        var distribution = FlinkDistribution(home: home, version: version, java: java, classpath: classpath,
                                             jvmOptions: shippedJVMOptions(home + "/conf/config.yaml"))
        distribution.loopbackPrometheusReporter = FileManager.default.fileExists(
            atPath: home + "/plugins/" + FlinkCluster.loopbackReporterPlugin + "/" + FlinkCluster.loopbackReporterPlugin + ".jar")
        return .success(distribution)
    }

    /// `env.java.opts.all` of the shipped `config.yaml` (nested or flat), split on spaces.
    static func shippedJVMOptions(_ path: String) -> [String] {
        guard let data = FileManager.default.contents(atPath: path),
              let root = try? parseYAML(Array(data)).first?.root else { return [] }
        let value = root["env.java.opts.all"]?.scalar?.text
            ?? root["env"]?["java"]?["opts"]?["all"]?.scalar?.text
            ?? root["env"]?["java"]?["opts.all"]?.scalar?.text
        return value?.split(separator: " ").map(String.init) ?? []
    }
}

public struct FlinkHomeError: Error, Sendable, Hashable, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}
