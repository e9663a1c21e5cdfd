/// Flink's memory model for a process whose total size is given (`*.memory.process.size`),
/// with Flink's defaults and the configuration keys that change it.
///
/// One model for every supported version: the defaults of every `jobmanager.memory.*` and
/// `taskmanager.memory.*` option are the same in Flink 1.20.5, 2.0.2, 2.1.3, 2.2.1 and 2.3.0
/// (read from each distribution's `JobManagerOptions` and `TaskManagerOptions`; 2.x only adds
/// `taskmanager.memory.starting-segment-size`, which sizes nothing here), so validation's
/// minimum sizes are those of the version a manifest names whichever it names. A version whose
/// defaults differ gets its own defaults here, chosen by `FlinkVersion`.
///
/// It answers "can Flink start a process of this size?" without starting one, and gives the
/// component sizes the JVM flags are made of. It covers the derivation from total process
/// size; when a manifest fixes heap or total Flink memory instead, `derive` returns nil and
/// Flink itself is the judge.
public enum FlinkMemoryModel {
    public struct JobManager: Sendable, Hashable {
        public var process, heap, offHeap, metaspace, overhead: Int64
    }

    public struct TaskManager: Sendable, Hashable {
        public var process, frameworkHeap, taskHeap, frameworkOffHeap, taskOffHeap, managed, network, metaspace, overhead: Int64
        /// The JVM heap: framework plus task heap.
        public var heap: Int64 { frameworkHeap + taskHeap }
    }

    /// The smallest JVM heap Flink recommends for a JobManager; below it a JobManager fails as
    /// soon as it has work. Flinklet treats it as the floor.
    public static let minimumJobManagerHeap: Int64 = 128 << 20

    public struct Problem: Error, Sendable, Hashable, CustomStringConvertible {
        public var message: String
        public var description: String { message }
    }

    private static let mb: Int64 = 1 << 20

    public static func jobManager(process: Int64, configuration: FlinkConfiguration) -> Result<JobManager, Problem>? {
        let c = Lookup(configuration, prefix: "jobmanager.memory.")
        if c.isSet("heap.size") || c.isSet("flink.size") { return nil }
        do {
            let metaspace = try c.size("jvm-metaspace.size", default: 256 * mb)
            let overhead = try c.overhead(process: process)
            let offHeap = try c.size("off-heap.size", default: 128 * mb)
            let flink = process.minus(metaspace).minus(overhead)
            let heap = flink.minus(offHeap)
            guard heap >= minimumJobManagerHeap else {
                return .failure(Problem(message: "is too small for a JobManager: \(show(process)) leaves \(show(max(heap, 0))) of JVM heap after JVM metaspace (\(show(metaspace))), JVM overhead (\(show(overhead))) and off-heap memory (\(show(offHeap))); the heap needs at least \(show(minimumJobManagerHeap)), so use at least \(show(process.minus(heap).plus(minimumJobManagerHeap)))"))
            }
            return .success(JobManager(process: process, heap: heap, offHeap: offHeap, metaspace: metaspace, overhead: overhead))
        } catch {
            return .failure(error)
        }
    }

    public static func taskManager(process: Int64, configuration: FlinkConfiguration) -> Result<TaskManager, Problem>? {
        let c = Lookup(configuration, prefix: "taskmanager.memory.")
        if c.isSet("task.heap.size") || c.isSet("flink.size") { return nil }
        return deriveTaskManager(process: process, c, suggestMinimum: true)
    }

    private static func deriveTaskManager(process: Int64, _ c: Lookup, suggestMinimum: Bool) -> Result<TaskManager, Problem> {
        do {
            let metaspace = try c.size("jvm-metaspace.size", default: 256 * mb)
            let overhead = try c.overhead(process: process)
            let flink = process.minus(metaspace).minus(overhead)
            guard flink > 0 else {
                return .failure(Problem(message: "is too small for a TaskManager: JVM metaspace (\(show(metaspace))) and JVM overhead (\(show(overhead))) alone need \(show(metaspace.plus(overhead)))"))
            }
            let frameworkHeap = try c.size("framework.heap.size", default: 128 * mb)
            let frameworkOffHeap = try c.size("framework.off-heap.size", default: 128 * mb)
            let taskOffHeap = try c.size("task.off-heap.size", default: 0)
            let managed = try c.isSet("managed.size")
                ? c.size("managed.size", default: 0)
                : Int64(saturating: Double(flink) * c.fraction("managed.fraction", default: 0.4))
            let networkFraction = try c.fraction("network.fraction", default: 0.1)
            let network = min(max(Int64(saturating: Double(flink) * networkFraction), try c.size("network.min", default: 64 * mb)),
                              try c.size("network.max", default: Int64.max))
            let taskHeap = flink.minus(frameworkHeap).minus(frameworkOffHeap).minus(taskOffHeap).minus(managed).minus(network)
            guard taskHeap >= 0 else {
                var message = "is too small for a TaskManager: after JVM metaspace and overhead (\(show(metaspace.plus(overhead)))) it leaves \(show(flink)) of Flink memory, less than framework heap and off-heap (\(show(frameworkHeap.plus(frameworkOffHeap)))), task off-heap (\(show(taskOffHeap))), managed (\(show(managed))) and network memory (\(show(network))) need"
                if suggestMinimum {
                    message += "; use at least \(show(smallestTaskManager(from: metaspace.plus(overhead).plus(frameworkHeap).plus(frameworkOffHeap).plus(taskOffHeap), c)))"
                }
                return .failure(Problem(message: message))
            }
            return .success(TaskManager(process: process, frameworkHeap: frameworkHeap, taskHeap: taskHeap,
                                        frameworkOffHeap: frameworkOffHeap, taskOffHeap: taskOffHeap, managed: managed,
                                        network: network, metaspace: metaspace, overhead: overhead))
        } catch {
            return .failure(error)
        }
    }

    /// The smallest process size, in whole mebibytes, whose derivation succeeds.
    private static func smallestTaskManager(from fixed: Int64, _ c: Lookup) -> Int64 {
        let high0 = Int64(1) << 30  // MiB: 1 PiB, beyond any machine
        var low = min(max(fixed, 0) / mb, high0), high = high0
        while low < high {
            let mid = (low + high) / 2
            if case .success = deriveTaskManager(process: mid * mb, c, suggestMinimum: false) { high = mid } else { low = mid + 1 }
        }
        return low * mb
    }

    /// Mebibytes as Flink writes them, with one decimal when not whole: `64m`, `25.6m`.
    static func show(_ bytes: Int64) -> String {
        if bytes % mb == 0 { return "\(bytes / mb)m" }
        let tenths = Int64(saturating: (Double(bytes) * 10 / Double(mb)).rounded())
        return "\(tenths / 10).\(tenths % 10)m"
    }

    private struct Lookup {
        let configuration: FlinkConfiguration
        let prefix: String

        init(_ configuration: FlinkConfiguration, prefix: String) {
            self.configuration = configuration
            self.prefix = prefix
        }

        func isSet(_ key: String) -> Bool { configuration[prefix + key] != nil }

        func size(_ key: String, default value: Int64) throws(Problem) -> Int64 {
            guard let text = configuration[prefix + key] else { return value }
            guard case .success(let size) = MemorySize.parseFlink(text.trimmingWhitespace) else {
                throw Problem(message: "cannot be checked: flinkConfiguration \(prefix + key) = \(FieldError.quoted(text)) is not a Flink memory size")
            }
            return size.bytes
        }

        func fraction(_ key: String, default value: Double) throws(Problem) -> Double {
            guard let text = configuration[prefix + key] else { return value }
            guard let fraction = Double(text.trimmingWhitespace), (0...1).contains(fraction) else {
                throw Problem(message: "cannot be checked: flinkConfiguration \(prefix + key) = \(FieldError.quoted(text)) is not a fraction between 0 and 1")
            }
            return fraction
        }

        func overhead(process: Int64) throws(Problem) -> Int64 {
            let fraction = try fraction("jvm-overhead.fraction", default: 0.1)
            let low = try size("jvm-overhead.min", default: 192 << 20)
            let high = try size("jvm-overhead.max", default: 1 << 30)
            return min(max(Int64(saturating: Double(process) * fraction), low), high)
        }
    }
}

/// Arithmetic that clamps instead of trapping: configuration values are user input, and sizes
/// near 8 EiB must give an error message, not a crash.
extension Int64 {
    func plus(_ other: Int64) -> Int64 {
        let (result, overflow) = addingReportingOverflow(other)
        return overflow ? (other > 0 ? .max : .min) : result
    }

    func minus(_ other: Int64) -> Int64 {
        let (result, overflow) = subtractingReportingOverflow(other)
        return overflow ? (other > 0 ? .min : .max) : result
    }

    init(saturating value: Double) {
        if value.isNaN { self = 0 }
        else if value >= 9.223372036854775e18 { self = .max }
        else if value <= -9.223372036854775e18 { self = .min }
        else { self = Int64(value) }
    }
}
