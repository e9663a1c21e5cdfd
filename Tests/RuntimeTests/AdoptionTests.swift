import FlinkletTesting
import Foundation
import Runtime
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Pods outlive the operator: a later driver adopts what an earlier one started, and never
/// mistakes a recycled pid for a pod.
@Suite("Adoption")
struct AdoptionTests {
    /// Plays an operator that starts a pod and then exits without stopping it: its
    /// supervision is cancelled and the driver released. Returns the record it would persist.
    static func startAndAbandon(_ spec: PodSpec, until condition: @escaping @Sendable (PodStatus) -> Bool) async throws -> PodRecord {
        let earlier = LocalProcessDriver(configuration: .fast, logger: quietLogger)
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await earlier.run() }
            let record = try await earlier.start(spec)
            await waitForStatus(earlier, spec.name, condition)
            group.cancelAll()
            try await group.waitForAll()
            return record
        }
    }

    @Test func aNewDriverAdoptsALivePodWithoutStartingAnother() async throws {
        try await withHarness { h in
            let spec = h.shell("survivor", "echo listening; exec sleep 30", restart: .always, readiness: .logLine("listening"))
            let record = try await Self.startAndAbandon(spec) { $0.ready }
            #expect(isAlive(record.pid), "the earlier driver's end did not stop its pod")

            let statuses = await h.driver.adopt([record])
            let status = try #require(statuses.first)
            #expect(status.phase == .running)
            #expect(status.pid == record.pid && status.pgid == record.pgid)
            #expect(status.processStartTicks == record.processStartTicks)
            #expect(status.startedAt == record.startedAt)
            #expect(status.ready, "the log line is already in the log")
            #expect(ProcessInfoReader.processes(inGroup: record.pgid).count == 1, "no new process")
            #expect(await h.driver.records() == [record])
            // Starting the same spec again returns the adopted pod.
            #expect(try await h.driver.start(spec) == record)

            await h.driver.stop("survivor", grace: .milliseconds(200))
            #expect(isGone(record.pid))
        }
    }

    @Test func anAdoptedNonChildIsWatchedThroughProc() async throws {
        try await withHarness { h in
            // A process that is not our child, in its own session: what an operator finds
            // after a restart (the earlier operator's children were reparented to init).
            let pidFile = h.directory + "/orphan.pid"
            let launcher = h.shell("launcher", "setsid /bin/sh -c 'echo $$ > \(pidFile); exec sleep 30' & sleep 0.1; exit 0")
            _ = try await h.driver.start(launcher)
            await waitForStatus(h.driver, "launcher") { $0.phase == .succeeded }
            await h.driver.stop("launcher")
            let written = await eventually { ((try? String(contentsOfFile: pidFile, encoding: .utf8)) ?? "").hasSuffix("\n") }
            #expect(written)
            let pid = try #require(Int32(try String(contentsOfFile: pidFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)))
            let stat = try #require(ProcessInfoReader.stat(pid: pid))
            #expect(stat.parentPID != getpid())
            defer { kill(pid, SIGKILL) }

            var spec = h.shell("orphan", "exec sleep 30", restart: .onFailure)
            spec.labels = ["adopted": "yes"]
            let record = PodRecord(spec: spec, pid: pid, pgid: stat.pgid, processStartTicks: stat.startTicks,
                                   startedAt: Date().addingTimeInterval(-5), restartCount: 2)
            #expect(await h.driver.adopt([record]).first?.phase == .running)

            kill(pid, SIGTERM)
            // Its exit status is unknowable; OnFailure treats that as a failure and restarts.
            let status = await waitForStatus(h.driver, "orphan") { $0.restartCount == 3 && $0.phase == .running }
            #expect(status?.pid != pid)
            let exits = await h.events.of("orphan") { $0.contains { $0.kind == "exited" } }
                .compactMap { if case .exited(let s) = $0 { s } else { nil } }
            #expect(exits.first?.reason == "Unknown")
            #expect(exits.first?.exitCode == nil)
        }
    }

    @Test func aRecycledPidIsLostAndNeverSignalled() async throws {
        try await withHarness { h in
            // This test process's own pid with the wrong start time: if the driver signalled
            // it, the test run would die.
            let me = try #require(ProcessInfoReader.stat(pid: getpid()))
            let record = PodRecord(spec: h.shell("impostor", "sleep 30"), pid: getpid(), pgid: getpid(),
                                   processStartTicks: me.startTicks + 1, startedAt: Date())
            let status = try #require(await h.driver.adopt([record]).first)
            #expect(status.phase == .failed)
            #expect(status.reason == "Lost")
            #expect(status.pid == nil)
            #expect(status.message?.contains("another process") == true)
            #expect(await h.driver.records().isEmpty)
            // Stopping a lost pod only forgets it.
            await h.driver.stop("impostor", grace: .zero)
            #expect(await h.driver.status("impostor") == nil)
            #expect(ProcessInfoReader.stat(pid: getpid())?.startTicks == me.startTicks, "still alive")
        }
    }

    @Test func aDeadPidIsLost() async throws {
        try await withHarness { h in
            let record = try await Self.startAndAbandon(h.shell("gone", "exit 0", restart: .never)) { $0.phase == .succeeded }
            #expect(isGone(record.pid))
            let status = try #require(await h.driver.adopt([record]).first)
            #expect(status.phase == .failed)
            #expect(status.reason == "Lost")
            #expect(status.restartCount == 0)
            // Lost is terminal: a start runs the pod afresh.
            let fresh = try await h.driver.start(record.spec)
            #expect(fresh.pid != record.pid)
        }
    }

    @Test func adoptLeavesPodsTheDriverAlreadyKnows() async throws {
        try await withHarness { h in
            let spec = h.shell("known", "exec sleep 30")
            let current = try await h.driver.start(spec)
            let stale = PodRecord(spec: spec, pid: 1, pgid: 1, processStartTicks: 1, startedAt: Date())
            let status = try #require(await h.driver.adopt([stale]).first)
            #expect(status.pid == current.pid)
            #expect(status.phase == .running)
        }
    }
}
