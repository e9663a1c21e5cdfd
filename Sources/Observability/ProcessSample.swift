#if canImport(Glibc)
import Glibc
#endif
import Runtime

/// This process's own figures, read from `/proc/self` (Linux): what the Prometheus client
/// libraries' standard `process_*` metrics report.
public struct ProcessSample: Sendable, Hashable {
    /// User + system CPU time, seconds.
    public var cpuSeconds: Double
    public var residentBytes: Int64
    public var openDescriptors: Int
    /// The soft limit on open descriptors (`RLIMIT_NOFILE`).
    public var maxDescriptors: Int
    /// Seconds since the epoch at which the process started.
    public var startTime: Double

    /// Reads the current process; nil when `/proc` cannot be read.
    public static func current() -> ProcessSample? {
        let pid = getpid()
        guard let stat = ProcessInfoReader.stat(pid: pid) else { return nil }
        let ticks = Double(ProcessInfoReader.clockTicksPerSecond)
        var limit = rlimit()
        let maxDescriptors = getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 ? Int(clamping: limit.rlim_cur) : 0
        return ProcessSample(
            cpuSeconds: Double(stat.cpuTicks) / ticks,
            residentBytes: stat.residentBytes,
            openDescriptors: ProcessInfoReader.openFileDescriptors(pid: pid).count,
            maxDescriptors: maxDescriptors,
            startTime: bootTime.map { $0 + Double(stat.startTicks) / ticks } ?? 0)
    }

    /// `btime` of `/proc/stat`: seconds since the epoch at boot.
    static let bootTime: Double? = {
        guard let file = fopen("/proc/stat", "r") else { return nil }
        defer { fclose(file) }
        var line: UnsafeMutablePointer<CChar>?
        var capacity = 0
        defer { free(line) }
        while getline(&line, &capacity, file) > 0, let line {
            let text = String(cString: line)
            if text.hasPrefix("btime ") {
                return Double(text.dropFirst(6).trimmingCharacters(in: .whitespacesAndNewlines))
            }
        }
        return nil
    }()
}

extension Substring {
    fileprivate func trimmingCharacters(in set: Set<Character>) -> Substring {
        var s = self
        while let first = s.first, set.contains(first) { s = s.dropFirst() }
        while let last = s.last, set.contains(last) { s = s.dropLast() }
        return s
    }
}

extension Set where Element == Character {
    fileprivate static let whitespacesAndNewlines: Set<Character> = [" ", "\t", "\n", "\r"]
}
