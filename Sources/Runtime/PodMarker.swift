import CSystemShims
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// What ties a process to the state directory whose operator started it, without the state
/// database: every pod a marking driver spawns carries `FLINKLET_STATE_DIR` (the canonical state
/// directory), `FLINKLET_POD` (the pod's name) and `FLINKLET_POD_SPEC` (a file holding the pod's
/// `PodSpec` as JSON, written before the spawn) in its environment. Children inherit the
/// environment (a Flink script's JVM, a shell's commands), so `scan()` finds every live process
/// started under the directory by reading `/proc/PID/environ`, even when `state.db` is gone.
///
/// Guarantees: the marker variables are set last, over the pod's own environment, so a spec
/// cannot hide a pod from the scan. Caveats: a process that clears or rewrites its environment
/// before exec (`env -i`) is not found; `/proc/PID/environ` shows the environment at exec.
public struct PodMarker: Sendable, Hashable {
    public static let stateDirectoryVariable = "FLINKLET_STATE_DIR"
    public static let podVariable = "FLINKLET_POD"
    public static let specFileVariable = "FLINKLET_POD_SPEC"

    /// Canonical: absolute, symbolic links resolved (when the directory exists).
    public let stateDirectory: String

    public init(stateDirectory: String) {
        self.stateDirectory = Self.canonical(stateDirectory)
    }

    /// `<state dir>/pod-specs`: one JSON `PodSpec` per pod.
    public var specDirectory: String { stateDirectory + "/pod-specs" }

    /// Where the spec of pod `name` is written (`/` in names, as `namespace/pod`, becomes a
    /// subdirectory).
    public func specPath(of name: String) -> String {
        let safe = name.split(separator: "/", omittingEmptySubsequences: true)
            .map { $0 == ".." || $0 == "." ? "_" : String($0) }.joined(separator: "/")
        return "\(specDirectory)/\(safe).json"
    }

    /// The variables a pod of this name carries.
    public func environment(for name: String) -> [String: String] {
        [Self.stateDirectoryVariable: stateDirectory, Self.podVariable: name, Self.specFileVariable: specPath(of: name)]
    }

    /// Writes `spec` where `environment(for:)` says (temp file + rename, mode 0600).
    func writeSpec(_ spec: PodSpec) throws(DriverError) {
        let path = specPath(of: spec.name)
        try Spawner.makeDirectory((path as NSString).deletingLastPathComponent, name: spec.name)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        // An empty spec file would leave a lost pod impossible to re-adopt: refuse the start instead.
        guard let data = try? encoder.encode(spec) else { throw .spawnFailed(name: spec.name, operation: "encode the pod's spec", errno: EINVAL) }
        let temporary = path + ".tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw .spawnFailed(name: spec.name, operation: "open \(temporary)", errno: errno) }
        var written = 0
        let failure: Int32? = data.withUnsafeBytes { bytes -> Int32? in
            while written < bytes.count {
                let n = write(fd, bytes.baseAddress! + written, bytes.count - written)
                if n < 0 {
                    if errno == EINTR { continue }
                    return errno
                }
                written += n
            }
            return nil
        }
        if let failure {
            close(fd)
            unlink(temporary)
            throw .spawnFailed(name: spec.name, operation: "write \(temporary)", errno: failure)
        }
        guard close(fd) == 0 else {
            let code = errno
            unlink(temporary)
            throw .spawnFailed(name: spec.name, operation: "write \(temporary)", errno: code)
        }
        guard rename(temporary, path) == 0 else {
            let code = errno
            unlink(temporary)
            throw .spawnFailed(name: spec.name, operation: "rename \(temporary)", errno: code)
        }
    }

    /// Removes the spec file of a pod that is gone (best effort).
    func removeSpec(of name: String) {
        unlink(specPath(of: name))
    }

    /// Every live (non-zombie) process on the machine that carries this marker, sorted by pid.
    /// Processes whose environment cannot be read (another user's, when not root) are not seen.
    public func scan() -> [MarkedProcess] {
        var found: [MarkedProcess] = []
        let own = getpid()
        ProcessInfoReader.forEachPID { pid in
            guard pid != own, let environment = ProcessInfoReader.environment(pid: pid),
                  environment[Self.stateDirectoryVariable] == stateDirectory,
                  let stat = ProcessInfoReader.stat(pid: pid), !stat.isZombie
            else { return }
            found.append(MarkedProcess(stat: stat, pod: environment[Self.podVariable] ?? "",
                                       specPath: environment[Self.specFileVariable]))
        }
        return found.sorted { $0.pid < $1.pid }
    }

    /// `realpath` of the absolute, standardized path; the standardized path when it does not
    /// exist (yet).
    public static func canonical(_ path: String) -> String {
        let absolute = URL(fileURLWithPath: path).standardizedFileURL.path
        guard let resolved = realpath(absolute, nil) else { return absolute }
        defer { free(resolved) }
        return String(cString: resolved)
    }
}

/// A live process that carries a state directory's marker.
public struct MarkedProcess: Sendable, Hashable, CustomStringConvertible {
    public var pid: Int32
    public var pgid: Int32
    /// Field 22 of `/proc/PID/stat`: with the pid, names the process for the life of the boot.
    public var startTicks: UInt64
    /// `FLINKLET_POD`: the pod it belongs to (its own process or a child of it).
    public var pod: String
    /// `FLINKLET_POD_SPEC`: where its pod's spec was written.
    public var specPath: String?

    public init(stat: ProcessStat, pod: String, specPath: String?) {
        self.pid = stat.pid
        self.pgid = stat.pgid
        self.startTicks = stat.startTicks
        self.pod = pod
        self.specPath = specPath
    }

    /// The process leads its pod's process group (the pod's main process).
    public var isGroupLeader: Bool { pid == pgid }

    /// `pid 123 (pod default/app-jobmanager-0)`.
    public var description: String { "pid \(pid) (pod \(pod.isEmpty ? "unnamed" : pod))" }

    /// The spec its pod was started with, when the file is there and readable.
    public func readSpec() -> PodSpec? {
        guard let specPath, let data = FileManager.default.contents(atPath: specPath) else { return nil }
        return try? JSONDecoder().decode(PodSpec.self, from: data)
    }

    /// A record to adopt the pod by, when this is its group's leader and its spec can be read.
    public func record(startedAt: Date) -> PodRecord? {
        guard isGroupLeader, let spec = readSpec(), spec.name == pod else { return nil }
        return PodRecord(spec: spec, pid: pid, pgid: pgid, processStartTicks: startTicks, startedAt: startedAt)
    }
}

extension ProcessInfoReader {
    /// The environment a process was exec'd with (`/proc/PID/environ`), or nil when it cannot
    /// be read (gone, another user's, a kernel thread). Empty for a moment after a spawn: the
    /// kernel lets `posix_spawn` (vfork) return once the child's exec dropped the old memory,
    /// before it copies the new image's arguments and environment (measured: `cmdline` and
    /// `environ` both empty, state R). `PodMarker.scan` runs before the operator spawns anything.
    public static func environment(pid: Int32) -> [String: String]? {
        let fd = open("/proc/\(pid)/environ", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16_384)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress!, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                return nil
            }
            if n == 0 { break }
            bytes.append(contentsOf: chunk[0..<n])
        }
        var environment: [String: String] = [:]
        for entry in bytes.split(separator: 0) {
            guard let equals = entry.firstIndex(of: UInt8(ascii: "=")) else { continue }
            let name = String(decoding: entry[entry.startIndex..<equals], as: UTF8.self)
            if environment[name] == nil {
                environment[name] = String(decoding: entry[(equals + 1)...], as: UTF8.self)
            }
        }
        return environment
    }

    /// When a process started, from its start ticks and the boot time (`/proc/stat` `btime`).
    public static func startDate(ticks: UInt64) -> Date? {
        guard let text = try? String(contentsOfFile: "/proc/stat", encoding: .utf8),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix("btime ") }),
              let boot = Double(line.dropFirst("btime ".count).trimmingCharacters(in: .whitespaces))
        else { return nil }
        return Date(timeIntervalSince1970: boot + Double(ticks) / Double(clockTicksPerSecond))
    }
}
