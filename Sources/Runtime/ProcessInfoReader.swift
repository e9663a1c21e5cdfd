import CSystemShims
#if canImport(Glibc)
import Glibc
#endif

/// The fields of `/proc/PID/stat` the Runtime uses (proc(5) numbering in comments).
public struct ProcessStat: Sendable, Hashable {
    /// (1)
    public var pid: Int32
    /// (3) `R`, `S`, `D`, `Z` (zombie), `T`, ...
    public var state: Character
    /// (4)
    public var parentPID: Int32
    /// (5)
    public var pgid: Int32
    /// (6)
    public var sessionID: Int32
    /// (22) Clock ticks after boot at which the process started. Set at fork, kept across exec:
    /// with the pid it names one process for the life of the boot.
    public var startTicks: UInt64
    /// (24) Resident set size in pages.
    public var residentPages: Int64
    /// (14) + (15) Clock ticks spent in user and kernel mode (this process, not its children).
    public var cpuTicks: UInt64 = 0

    public var residentBytes: Int64 { residentPages * Int64(ProcessInfoReader.pageSize) }
    /// Exited but not yet reaped by its parent (or being torn down).
    public var isZombie: Bool { state == "Z" || state == "X" || state == "x" }
}

/// Reads `/proc` without Foundation: small fixed buffers, no allocation per field, so a
/// scan of every process each second stays cheap.
public enum ProcessInfoReader {
    public static let pageSize: Int = sysconf(Int32(_SC_PAGESIZE))
    public static let clockTicksPerSecond: Int = sysconf(Int32(_SC_CLK_TCK))

    /// Parses one `/proc/PID/stat` line. The command name (field 2) may hold spaces and
    /// parentheses, so fields are counted from the last `)`.
    public static func parseStat<C: Collection>(_ bytes: C) -> ProcessStat? where C.Element == UInt8 {
        let text = Array(bytes)
        guard let open = text.firstIndex(of: UInt8(ascii: "(")),
              let close = text.lastIndex(of: UInt8(ascii: ")")), open < close,
              let pid = parseInt(text[..<open])
        else { return nil }
        // Fields 3... after ") ".
        var fields: [ArraySlice<UInt8>] = []
        fields.reserveCapacity(24)
        var i = close + 1
        while i < text.count && fields.count < 22 {
            while i < text.count && (text[i] == 0x20 || text[i] == 0x0A) { i += 1 }
            let start = i
            while i < text.count && text[i] != 0x20 && text[i] != 0x0A { i += 1 }
            if start < i { fields.append(text[start..<i]) }
        }
        // fields[n - 3] is field n.
        guard fields.count >= 22, let stateByte = fields[0].first,
              let ppid = parseInt(fields[1]), let pgid = parseInt(fields[2]), let sid = parseInt(fields[3]),
              let start = parseInt(fields[19]), let rss = parseInt(fields[21]),
              let utime = parseInt(fields[11]), let stime = parseInt(fields[12])
        else { return nil }
        return ProcessStat(
            pid: Int32(truncatingIfNeeded: pid), state: Character(Unicode.Scalar(stateByte)),
            parentPID: Int32(truncatingIfNeeded: ppid), pgid: Int32(truncatingIfNeeded: pgid),
            sessionID: Int32(truncatingIfNeeded: sid), startTicks: UInt64(max(0, start)),
            residentPages: rss, cpuTicks: UInt64(max(0, utime)) + UInt64(max(0, stime)))
    }

    /// The stat of one process, or nil when it does not exist (any more).
    public static func stat(pid: Int32) -> ProcessStat? {
        guard pid > 0 else { return nil }
        return withStatBytes(path: "/proc/\(pid)/stat") { parseStat($0) } ?? nil
    }

    /// Every process on the machine (one entry per thread group, not per thread).
    public static func allProcesses() -> [ProcessStat] {
        var result: [ProcessStat] = []
        forEachPID { pid in
            if let s = stat(pid: pid) { result.append(s) }
        }
        return result
    }

    /// The members of a process group, zombies included.
    public static func processes(inGroup pgid: Int32) -> [ProcessStat] {
        allProcesses().filter { $0.pgid == pgid }
    }

    /// Resident bytes summed per process group, for the given groups only, in one scan.
    public static func residentBytes(ofGroups pgids: Set<Int32>) -> [Int32: Int64] {
        var sums: [Int32: Int64] = [:]
        guard !pgids.isEmpty else { return sums }
        for pgid in pgids { sums[pgid] = 0 }
        forEachPID { pid in
            if let s = stat(pid: pid), pgids.contains(s.pgid) {
                sums[s.pgid, default: 0] += s.residentBytes
            }
        }
        return sums
    }

    /// What a process group uses: resident memory and CPU time of its live members.
    public struct GroupUsage: Sendable, Hashable {
        public var residentBytes: Int64 = 0
        /// User + system clock ticks of the members alive now (an exited member's time is gone).
        public var cpuTicks: UInt64 = 0
    }

    /// Resident bytes and CPU ticks summed per process group, for the given groups only, in one
    /// scan.
    public static func usage(ofGroups pgids: Set<Int32>) -> [Int32: GroupUsage] {
        var sums: [Int32: GroupUsage] = [:]
        guard !pgids.isEmpty else { return sums }
        for pgid in pgids { sums[pgid] = GroupUsage() }
        forEachPID { pid in
            if let s = stat(pid: pid), pgids.contains(s.pgid) {
                sums[s.pgid]?.residentBytes += s.residentBytes
                sums[s.pgid]?.cpuTicks += s.cpuTicks
            }
        }
        return sums
    }

    /// True when some non-zombie process is in the group.
    public static func groupHasLiveMembers(_ pgid: Int32) -> Bool {
        var found = false
        forEachPID { pid in
            if !found, let s = stat(pid: pid), s.pgid == pgid, !s.isZombie { found = true }
        }
        return found
    }

    /// The open file descriptors of a process (`/proc/PID/fd`), sorted; empty if unreadable.
    public static func openFileDescriptors(pid: Int32) -> [Int32] {
        var fds: [Int32] = []
        forEachNumericEntry(in: "/proc/\(pid)/fd") { fds.append($0) }
        return fds.sorted()
    }

    // MARK: Internals

    static func forEachPID(_ body: (Int32) -> Void) {
        forEachNumericEntry(in: "/proc", body)
    }

    static func forEachNumericEntry(in directory: String, _ body: (Int32) -> Void) {
        guard let dir = opendir(directory) else { return }
        defer { closedir(dir) }
        while let entry = readdir(dir) {
            // In place: a copy of d_name would read 256 bytes, past the end of short records.
            let name = UnsafeRawPointer(flinklet_dirent_name(entry)).assumingMemoryBound(to: UInt8.self)
            let value: Int32? = {
                var n: Int64 = 0
                var digits = 0
                while name[digits] != 0 {
                    let byte = name[digits]
                    guard byte >= 0x30 && byte <= 0x39, digits < 10 else { return nil }
                    n = n * 10 + Int64(byte - 0x30)
                    digits += 1
                }
                return digits > 0 && n <= Int64(Int32.max) ? Int32(n) : nil
            }()
            if let value { body(value) }
        }
    }

    static func parseInt(_ bytes: ArraySlice<UInt8>) -> Int64? {
        var s = bytes
        while let f = s.first, f == 0x20 { s = s.dropFirst() }
        while let l = s.last, l == 0x20 { s = s.dropLast() }
        var negative = false
        if s.first == UInt8(ascii: "-") { negative = true; s = s.dropFirst() }
        guard !s.isEmpty, s.count <= 19 else { return nil }
        var n: Int64 = 0
        for b in s {
            guard b >= 0x30 && b <= 0x39 else { return nil }
            n = n * 10 + Int64(b - 0x30)
        }
        return negative ? -n : n
    }

    /// Reads a small file (at most 4 KiB) into a stack-like buffer and hands its bytes over.
    static func withStatBytes<T>(path: String, _ body: (UnsafeBufferPointer<UInt8>) -> T) -> T? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 4096) { buffer -> T? in
            var total = 0
            while total < buffer.count {
                let n = read(fd, buffer.baseAddress! + total, buffer.count - total)
                if n < 0 {
                    if errno == EINTR { continue }
                    return nil
                }
                if n == 0 { break }
                total += n
            }
            return body(UnsafeBufferPointer(rebasing: buffer[..<total]))
        }
    }
}
