import Foundation
import Logging
import Runtime
import Store
#if canImport(Glibc)
import Glibc
#endif

/// Why an operator refuses to start: live processes carry the state directory's marker
/// (`PodMarker`) but its state database does not record them (missing, unreadable, or without
/// their records). Starting would reconcile their resources from nothing and start a second copy
/// of each cluster next to the first; `flinklet recover` re-adopts or stops them first.
public struct RecoveryNeeded: Error, Sendable, CustomStringConvertible {
    public var stateDirectory: String
    /// The manifest directory the operator was started on (for the command to suggest).
    public var manifests: String
    public var processes: [MarkedProcess]
    /// What is wrong with the state database.
    public var cause: String

    public init(stateDirectory: String, manifests: String, processes: [MarkedProcess], cause: String) {
        self.stateDirectory = stateDirectory
        self.manifests = manifests
        self.processes = processes
        self.cause = cause
    }

    /// The processes of `marked` that no recorded pod accounts for (a recorded pod's process
    /// group holds its children too).
    public static func unknown(_ marked: [MarkedProcess], recorded: [PodRecordRow]) -> [MarkedProcess] {
        let groups = Set(recorded.map(\.pgid))
        let pids = Set(recorded.map(\.pid))
        return marked.filter { !groups.contains($0.pgid) && !pids.contains($0.pid) }
    }

    public var description: String {
        let byPod = Dictionary(grouping: processes, by: \.pod)
        let pods = byPod.keys.sorted()
        let count = "\(pods.count) pod\(pods.count == 1 ? "" : "s") (\(processes.count) live process\(processes.count == 1 ? "" : "es"))"
        let list = pods.prefix(20).map { pod in
            "  \(pod.isEmpty ? "unnamed" : pod): pid \(byPod[pod]!.map { String($0.pid) }.joined(separator: ", "))"
        }.joined(separator: "\n") + (pods.count > 20 ? "\n  ... and \(pods.count - 20) more" : "")
        return """
            refusing to start: \(count) started under state dir \(stateDirectory) are unknown to its state database (\(cause)):
            \(list)
            Starting now could run a second copy of their clusters next to them. Run \
            `flinklet recover --manifests \(manifests) --state-dir \(stateDirectory)` to re-adopt or stop them, then start the operator again.
            """
    }
}

/// The process side of `flinklet recover`: finds a state directory's marked processes that its
/// database does not know, and adopts (records) or stops them. The resources themselves are
/// rebuilt by the domain (`FlinkRecovery`).
public enum ProcessRecovery {
    /// One pod (a marked process group) the database does not know.
    public struct Orphan: Sendable, Hashable {
        /// The pod's name (`FLINKLET_POD`).
        public var pod: String
        public var pgid: Int32
        public var processes: [MarkedProcess]
        /// The record to adopt it by: its group leader lives and its spec file is readable.
        public var record: PodRecord?
        /// The resource key that owns it (its spec's `flinklet.dev/owner` label), when known.
        public var owner: String? { record?.spec.labels[PodLabels.owner] }
    }

    /// The marked processes of `stateDirectory` no row of `recorded` accounts for, by pod.
    public static func orphans(marker: PodMarker, recorded: [PodRecordRow]) -> [Orphan] {
        let unknown = RecoveryNeeded.unknown(marker.scan(), recorded: recorded)
        let groups = Dictionary(grouping: unknown, by: \.pgid)
        return groups.keys.sorted().map { pgid in
            let processes = groups[pgid]!.sorted { $0.pid < $1.pid }
            let leader = processes.first { $0.isGroupLeader }
            let record = leader.flatMap { leader in
                leader.record(startedAt: ProcessInfoReader.startDate(ticks: leader.startTicks) ?? Date())
            }
            return Orphan(pod: leader?.pod ?? processes[0].pod, pgid: pgid, processes: processes, record: record)
        }
    }

    /// SIGTERM to each orphan's process group, up to `grace`, then SIGKILL; all at once, so a
    /// thousand pods take one grace period, not a thousand. Returns the orphans some of whose
    /// processes still live `grace` + 10 s after the SIGTERM (stuck in the kernel). Only
    /// processes that still carry the start ticks the scan saw are signalled (a recycled pid
    /// never is).
    public static func stop(_ orphans: [Orphan], grace: Duration) async -> [Orphan] {
        func alive(_ orphan: Orphan) -> [MarkedProcess] {
            orphan.processes.filter { process in
                ProcessInfoReader.stat(pid: process.pid).map { $0.startTicks == process.startTicks && !$0.isZombie } ?? false
            }
        }
        func signal(_ orphan: Orphan, _ number: Int32) {
            let live = alive(orphan)
            guard !live.isEmpty else { return }
            if live.contains(where: \.isGroupLeader) {
                kill(-orphan.pgid, number)
            } else {
                for process in live { kill(process.pid, number) }
            }
        }
        for orphan in orphans { signal(orphan, SIGTERM) }
        let clock = ContinuousClock()
        let killAt = clock.now + grace
        let giveUp = killAt + .seconds(10)
        var killed = false
        var remaining = orphans
        while true {
            remaining = remaining.filter { !alive($0).isEmpty }
            if remaining.isEmpty || clock.now >= giveUp { return remaining }
            if !killed, clock.now >= killAt {
                for orphan in remaining { signal(orphan, SIGKILL) }
                killed = true
            }
            try? await Task.sleep(for: .milliseconds(20))
        }
    }
}
