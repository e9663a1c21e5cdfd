import Foundation
import Planning
import Reconciliation
import YAML

/// Finds the Flink distributions the operator runs, one per version: `--flink-home` (that one
/// only), or `$FLINK_HOME` and every `.flink/flink-<release>/` that `hack/install-flink.sh`
/// installs (relative to the working directory), and the `.flink/venv` of earlier Flinklets.
public enum FlinkHome {
    /// The directories that may hold a distribution, in order of preference (the first of a
    /// version wins): `$FLINK_HOME`, `.flink/flink-*/` newest release first, then the legacy
    /// `.flink/venv/lib/python3.X/site-packages/pyflink` of earlier Flinklets.
    static func candidates(environment: [String: String], root: String) -> [String] {
        var candidates: [String] = []
        if let home = environment["FLINK_HOME"], !home.isEmpty { candidates.append(home) }
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []
        candidates += entries.filter { $0.hasPrefix("flink-") }
            .sorted { compareReleases(String($0.dropFirst(6)), String($1.dropFirst(6))) }.reversed()
            .map { root + "/" + $0 }
        let lib = root + "/venv/lib"
        let pythons = (try? FileManager.default.contentsOfDirectory(atPath: lib)) ?? []
        candidates += pythons.sorted().reversed().map { "\(lib)/\($0)/site-packages/pyflink" }
        return candidates.filter { FileManager.default.fileExists(atPath: $0 + "/lib") || $0 == environment["FLINK_HOME"] }
    }

    /// `1.20.5` < `2.0.2` < `2.10.0`: numerically by component.
    static func compareReleases(_ a: String, _ b: String) -> Bool {
        let left = a.split(separator: ".").map { Int($0) ?? 0 }, right = b.split(separator: ".").map { Int($0) ?? 0 }
        return left.lexicographicallyPrecedes(right)
    }

    /// Reads a distribution directory: its version (from `lib/flink-dist-*.jar`), its class
    /// path, the JVM options of its shipped configuration, and the `java` to run.
    public static func inspect(_ home: String, environment: [String: String]) -> Result<FlinkDistribution, FlinkHomeError> {
        // Symbolic links resolved: the same distribution reached through another link (a
        // symlinked .flink/flink-<release>, a --flink-home link) is the same directory, the same
        // pods and the same class-data archives, never a second set of each.
        let standardized = URL(fileURLWithPath: home).standardizedFileURL.path
        let home = realpath(standardized, nil).map { resolved in
            defer { free(resolved) }
            return String(cString: resolved)
        } ?? standardized
        let lib = home + "/lib"
        guard let jars = try? FileManager.default.contentsOfDirectory(atPath: lib).filter({ $0.hasSuffix(".jar") }).sorted(),
              let dist = jars.first(where: { $0.hasPrefix("flink-dist") }) else {
            return .failure(FlinkHomeError(message: "\(home) is not a Flink distribution: \(lib) has no flink-dist jar"))
        }
        let version = String(dist.dropFirst("flink-dist-".count).dropLast(".jar".count))
        let classpath = jars.filter { $0 != dist }.map { lib + "/" + $0 } + [lib + "/" + dist]
        guard let java = java(environment: environment) else {
            return .failure(FlinkHomeError(message: "no java found (JAVA_HOME unset and none on PATH); run hack/install-flink.sh"))
        }
        var distribution = FlinkDistribution(home: home, version: version, java: java, classpath: classpath,
                                             jvmOptions: shippedJVMOptions(home + "/conf/config.yaml"))
        distribution.loopbackPrometheusReporter = FileManager.default.fileExists(
            atPath: home + "/plugins/" + FlinkCluster.loopbackReporterPlugin + "/" + FlinkCluster.loopbackReporterPlugin + ".jar")
        return .success(distribution)
    }

    /// The `java` to run: `$JAVA_HOME/bin/java`, else the first on `PATH`.
    public static func java(environment: [String: String]) -> String? {
        if let javaHome = environment["JAVA_HOME"], FileManager.default.isExecutableFile(atPath: javaHome + "/bin/java") {
            return javaHome + "/bin/java"
        }
        return (environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":").map { "\($0)/java" }
            .first { FileManager.default.isExecutableFile(atPath: $0) }
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
