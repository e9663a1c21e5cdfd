import FlinkResources
import Reconciliation

/// The JVM options of a Flink process besides its memory flags, in one place: Flinklet's
/// start-up tuning, then the manifest's `env.java.opts.*`, in the order Flink's own scripts use
/// (so a manifest's option wins: HotSpot takes the last of two values).
///
/// Contract:
/// - `startup(for:)` never changes what a long-running process computes, only when its code is
///   compiled (measured on 2 cores, one captured 2.3 session cluster's command lines, medians of
///   3: with the delayed C2 alone its JobManager answers REST after 1.84 s instead of 2.77 s and
///   its TaskManager registers after 2.20 s instead of 3.21 s; with the one-iteration keystore
///   too, `ClusterCredentials`, 1.74 s and 2.16 s instead of 2.60 s and 3.38 s).
/// - `user(_:role:)` is the manifest's options split on whitespace, as Flink's scripts split
///   them (they expand the value unquoted): no quoting, no shell.
public enum FlinkJVMOptions {
    /// How much later than HotSpot's default a long-running JVM compiles a method with C2.
    ///
    /// On 2 cores, starting JVMs spend much of their CPU in C2 compilations of start-up code
    /// (configuration parsing, class loading, TLS, actor system), which runs a few thousand
    /// times and never again. With the tier-4 thresholds raised, that code stays in C1; a job's
    /// per-record code, run millions of times, still reaches C2 within seconds: measured with a
    /// hot loop (`HashMap.merge` per record), 63 M records/s at the default and the same at 10×
    /// and 100× from the second second on, but 30 M with C1 alone.
    /// The JobManager coordinates (its own code is rarely hot): 100×. TaskManagers run the
    /// job's code: 10×, so moderately hot operators reach C2 sooner.
    static func delayedC2(_ factor: Int) -> [String] {
        [
            "-XX:Tier4InvocationThreshold=\(5_000 * factor)",
            "-XX:Tier4MinInvocationThreshold=\(600 * factor)",
            "-XX:Tier4CompileThreshold=\(15_000 * factor)",
            "-XX:Tier4BackEdgeThreshold=\(40_000 * factor)",
        ]
    }

    /// Flinklet's start-up options for a process of `role`. The Flink client (the per-job
    /// submitter) lives for a few seconds: it never reaches C2's payoff, so it runs C1 only.
    public static func startup(for role: PodRole) -> [String] {
        switch role {
        case .jobManager: delayedC2(100)
        case .taskManager: delayedC2(10)
        case .submitter: ["-XX:TieredStopAtLevel=1"]
        default: []
        }
    }

    /// The keys of the role's own options, as Flink's scripts read them: the default ones, then
    /// the user's.
    static func roleKeys(_ role: PodRole) -> [String] {
        switch role {
        case .jobManager: ["env.java.default-opts.jobmanager", "env.java.opts.jobmanager"]
        case .taskManager: ["env.java.default-opts.taskmanager", "env.java.opts.taskmanager"]
        case .submitter: ["env.java.opts.client"]
        default: []
        }
    }

    /// The manifest's options for a process of `role`, in the order of Flink's scripts:
    /// `env.java.default-opts.all`, `env.java.opts.all` (or its older name `env.java.opts`), then
    /// the role's own (`env.java.default-opts.jobmanager`, `env.java.opts.jobmanager`, ...; the
    /// client's is `env.java.opts.client`). Each value is split on whitespace, without the double
    /// quotes around it that the scripts remove too. The distribution's own options
    /// (`FlinkDistribution.jvmOptions`, its shipped `env.java.opts.all`: the JDK module flags
    /// Flink needs) stay on the command line before these.
    public static func user(_ configuration: [String: String], role: PodRole) -> [String] {
        let keys = ["env.java.default-opts.all", configuration["env.java.opts.all"] == nil ? "env.java.opts" : "env.java.opts.all"] + roleKeys(role)
        return keys.compactMap { configuration[$0] }.flatMap { value -> [String] in
            var value = Substring(value)
            if value.hasPrefix("\"") { value = value.dropFirst() }
            if value.hasSuffix("\"") { value = value.dropLast() }
            return value.split(whereSeparator: \.isWhitespace).map(String.init)
        }
    }
}
