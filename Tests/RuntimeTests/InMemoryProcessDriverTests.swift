import FlinkletTesting
import Foundation
import Runtime
import Testing

/// The fake follows the real driver's contract, so controller tests against it mean something.
@Suite("InMemoryProcessDriver")
struct InMemoryProcessDriverTests {
    static func spec(_ name: String, restart: RestartPolicy = .always, readiness: ReadinessProbe? = nil) -> PodSpec {
        PodSpec(name: name, argv: ["java"], workingDirectory: "/w", logPath: "/w/\(name).log", restartPolicy: restart, readiness: readiness)
    }

    @Test func startStopAndTheCallRecord() async throws {
        let driver = InMemoryProcessDriver()
        let spec = Self.spec("jm")
        let record = try await driver.start(spec)
        #expect(record.pid == record.pgid)
        #expect(try await driver.start(spec) == record, "idempotent")
        await #expect(throws: DriverError.self) {
            var other = spec
            other.argv.append("-Xmx1g")
            _ = try await driver.start(other)
        }
        let status = try #require(await driver.status("jm"))
        #expect(status.phase == .running && status.ready && status.pid == record.pid)
        #expect(await driver.records() == [record])
        await driver.stop("jm", grace: .seconds(1))
        #expect(await driver.pods().isEmpty)
        let calls = await driver.calls
        #expect(calls.count == 4)
        #expect(calls.first == .start(name: "jm", specHash: spec.specHash))
        #expect(calls.last == .stop(name: "jm", grace: .seconds(1)))
    }

    @Test func exitsFollowTheRestartPolicyAndBackoffOnTheClock() async throws {
        let clock = ManualClock()
        let driver = InMemoryProcessDriver(clock: clock)
        var iterator = driver.events.makeAsyncIterator()
        _ = try await driver.start(Self.spec("tm"))
        #expect(await iterator.next()?.kind == "started")
        #expect(await iterator.next()?.kind == "ready")

        await driver.simulateExit(name: "tm", code: 1)
        let exited = try #require(await iterator.next())
        #expect(exited.kind == "exited" && exited.status.phase == .failed && exited.status.exitCode == 1)
        let restarting = try #require(await iterator.next())
        #expect(restarting.kind == "restarting")
        #expect(restarting.status.reason == "CrashLoopBackOff")
        #expect(restarting.status.nextRestartAt == clock.currentDate.addingTimeInterval(1))

        await driver.supervise()
        #expect(await driver.status("tm")?.phase == .pending, "not yet due")
        clock.advance(by: .seconds(1))
        await driver.supervise()
        #expect(await driver.status("tm")?.restartCount == 1)
        #expect(await driver.status("tm")?.phase == .running)

        await driver.simulateExit(name: "tm", code: 1)
        #expect(await driver.status("tm")?.nextRestartAt == clock.currentDate.addingTimeInterval(2))
    }

    @Test func oomAndNeverRestart() async throws {
        let driver = InMemoryProcessDriver()
        var iterator = driver.events.makeAsyncIterator()
        _ = try await driver.start(Self.spec("sub", restart: .never))
        _ = await iterator.next()
        _ = await iterator.next()
        await driver.simulateOOM(name: "sub")
        let event = try #require(await iterator.next())
        #expect(event.kind == "oomKilled")
        let status = try #require(await driver.status("sub"))
        #expect(status.phase == .failed && status.reason == "OOMKilled" && status.exitCode == 137)
        #expect(await driver.records().isEmpty)
    }

    @Test func readinessIsSetByTheTest() async throws {
        let driver = InMemoryProcessDriver()
        var iterator = driver.events.makeAsyncIterator()
        _ = try await driver.start(Self.spec("jm", readiness: .httpGet(port: 8081, path: "/")))
        #expect(await iterator.next()?.kind == "started")
        #expect(await driver.status("jm")?.ready == false)
        await driver.setReady(name: "jm", true)
        let ready = try #require(await iterator.next())
        #expect(ready.kind == "ready" && ready.status.ready)
    }

    @Test func injectedStartFailure() async throws {
        struct Boom: Error {}
        let driver = InMemoryProcessDriver()
        await driver.failStart(name: "jm", error: Boom())
        await #expect(throws: Boom.self) { try await driver.start(Self.spec("jm")) }
        #expect(await driver.pods().isEmpty)
        await driver.failStart(name: "jm", error: nil)
        _ = try await driver.start(Self.spec("jm"))
        #expect(await driver.status("jm")?.phase == .running)
    }

    @Test func adoptionWithALostPod() async throws {
        let driver = InMemoryProcessDriver()
        await driver.loseOnAdoption("tm-1")
        let records = [
            PodRecord(spec: Self.spec("tm-0"), pid: 500, pgid: 500, processStartTicks: 9, startedAt: Date()),
            PodRecord(spec: Self.spec("tm-1"), pid: 501, pgid: 501, processStartTicks: 9, startedAt: Date()),
        ]
        let statuses = await driver.adopt(records)
        #expect(statuses.map(\.phase) == [.running, .failed])
        #expect(statuses[1].reason == "Lost")
        #expect(await driver.records() == [records[0]])
        #expect(await driver.calls == [.adopt(names: ["tm-0", "tm-1"])])
    }
}

@Suite("ManualClock")
struct ManualClockTests {
    @Test func sleepersWakeWhenTheClockPassesTheirDeadline() async throws {
        let clock = ManualClock()
        let start = clock.now
        let woke = Locked<[Int]>([])
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                try await clock.sleep(for: .seconds(2))
                woke.mutex.withLock { $0.append(2) }
            }
            group.addTask {
                try await clock.sleep(for: .seconds(1))
                woke.mutex.withLock { $0.append(1) }
            }
            #expect(await eventually { clock.sleeperCount == 2 })
            clock.advance(by: .milliseconds(1500))
            #expect(await eventually { woke.value == [1] })
            #expect(clock.sleeperCount == 1)
            clock.advance(by: .seconds(1))
            try await group.waitForAll()
        }
        #expect(woke.value == [1, 2])
        #expect(clock.now - start == .milliseconds(2500))
        #expect(clock.currentDate == Date(timeIntervalSince1970: 1_700_000_002.5))
    }

    @Test func cancellingASleeperThrows() async {
        let clock = ManualClock()
        let task = Task { try await clock.sleep(for: .seconds(60)) }
        #expect(await eventually { clock.sleeperCount == 1 })
        task.cancel()
        await #expect(throws: CancellationError.self) { try await task.value }
        #expect(clock.sleeperCount == 0)
    }
}
