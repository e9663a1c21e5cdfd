import Foundation
import Synchronization
import FlinkletTesting
import Testing
@testable import Engine

@Suite struct WorkQueueTests {
    typealias Queue = WorkQueue<String, TestClock>

    @Test func duplicateAddsCollapseToOneEntry() async {
        let queue = Queue(clock: TestClock())
        await queue.add("a")
        await queue.add("a")
        await queue.add("b")
        await queue.add("a")
        #expect(await queue.count == 2)
        #expect(await queue.next() == "a")
        #expect(await queue.next() == "b")
        #expect(await queue.count == 0)
    }

    @Test func aKeyIsNeverHandedToTwoWorkersAndReaddsRunAfterDone() async {
        let queue = Queue(clock: TestClock())
        await queue.add("a")
        #expect(await queue.next() == "a")
        await queue.add("a")  // a change during the reconcile
        await queue.add("b")
        #expect(await queue.next() == "b")  // not "a": it is still being processed
        #expect(await queue.count == 0)
        await queue.done("a")
        #expect(await queue.next() == "a")  // queued again after done
    }

    @Test func userChangesOvertakeABurstOfTenThousandTimerRequeues() async {
        let clock = TestClock()
        let queue = Queue(clock: clock)
        let timers = Task { await queue.runTimers() }
        defer { timers.cancel() }
        for i in 0..<10_000 { await queue.addAfter("periodic-\(i)", .seconds(10)) }
        clock.advance(by: .seconds(10))
        #expect(await eventually(poll: .milliseconds(1)) { await queue.count == 10_000 })
        await queue.add("new-manifest")
        #expect(await queue.next() == "new-manifest")
        #expect(await queue.next() == "periodic-0")
        await queue.shutDown()
    }

    @Test func theObserverHearsAddsDepthWaitTimesAndRetries() async {
        final class Heard: @unchecked Sendable {
            let lock = NSLock()
            var adds = 0, retries = 0, depths: [Int] = [], waits: [Duration] = []
            func with(_ body: (Heard) -> Void) { lock.lock(); body(self); lock.unlock() }
        }
        let heard = Heard()
        let clock = TestClock()
        let queue = Queue(clock: clock, observer: WorkQueueObserver(
            added: { heard.with { $0.adds += 1 } }, waited: { wait in heard.with { $0.waits.append(wait) } },
            retried: { heard.with { $0.retries += 1 } }, depth: { depth in heard.with { $0.depths.append(depth) } }))
        await queue.add("a")
        await queue.add("a")  // deduplicated: not an add
        await queue.add("b")
        clock.advance(by: .milliseconds(250))
        #expect(await queue.next() == "a")
        await queue.addRateLimited("a")
        heard.with { heard in
            #expect(heard.adds == 2)
            #expect(heard.depths == [1, 2, 1])
            #expect(heard.waits == [.milliseconds(250)])
            #expect(heard.retries == 1)
        }
    }

    @Test func aTimerKeyThatChangesMovesToTheChangeLane() async {
        let queue = Queue(clock: TestClock())
        await queue.addAfter("a", .zero)  // timer lane now
        await queue.addAfter("b", .zero)
        await queue.add("b")              // a change: b jumps ahead of a
        #expect(await queue.count == 2)
        #expect(await queue.next() == "b")
        #expect(await queue.next() == "a")
    }

    @Test func timersFireWhenTheirDeadlinePassesAndTheEarliestWins() async {
        let clock = TestClock()
        let queue = Queue(clock: clock)
        let timers = Task { await queue.runTimers() }
        defer { timers.cancel() }
        await queue.addAfter("a", .seconds(5))
        await queue.addAfter("a", .seconds(2))   // earlier: replaces
        await queue.addAfter("a", .seconds(9))   // later: ignored
        #expect(await queue.pendingTimers == 1)
        clock.advance(by: .seconds(1))
        try? await Task.sleep(for: .milliseconds(20))
        #expect(await queue.count == 0)
        clock.advance(by: .seconds(1))
        #expect(await eventually(poll: .milliseconds(1)) { await queue.count == 1 })
        #expect(await queue.next() == "a")
        clock.advance(by: .seconds(10))
        try? await Task.sleep(for: .milliseconds(20))
        #expect(await queue.count == 0, "the 9 s timer was dropped when the 2 s one was kept")
        await queue.shutDown()
    }

    /// Regression: releasing a finished round's waiter used to leave a wake-up pending, so an
    /// idle operator spun at full CPU.
    @Test func anIdleTimerLoopRests() async {
        let clock = TestClock()
        let queue = Queue(clock: clock)
        let timers = Task { await queue.runTimers() }
        defer { timers.cancel() }
        await queue.addAfter("a", .seconds(60))  // one wake-up for a new earliest timer
        try? await Task.sleep(for: .milliseconds(200))
        let rounds = await queue.timerRounds
        #expect(rounds <= 2, "the loop went round \(rounds) times while nothing was due")
        clock.advance(by: .seconds(60))
        #expect(await eventually(poll: .milliseconds(1)) { await queue.count == 1 })
        try? await Task.sleep(for: .milliseconds(200))
        #expect(await queue.timerRounds <= rounds + 2)
        await queue.shutDown()
    }

    /// Regression: with no timer scheduled the loop waited on a continuation that cancellation
    /// does not resume, so an operator without resources ignored SIGTERM (graceful shutdown
    /// cancels this loop first).
    @Test func theTimerLoopEndsOnCancellationWithNothingScheduled() async {
        let queue = Queue(clock: TestClock())
        let ended = Mutex(false)
        let timers = Task {
            await queue.runTimers()
            ended.withLock { $0 = true }
        }
        try? await Task.sleep(for: .milliseconds(50))
        timers.cancel()
        #expect(await eventually(timeout: .seconds(5)) { ended.withLock { $0 } })
        await queue.shutDown()
    }

    @Test func backoffDoublesFrom100msToFiveMinutesAndForgetResetsIt() async {
        let queue = Queue(clock: TestClock())
        var delays: [Duration] = []
        for _ in 0..<14 { delays.append(await queue.addRateLimited("k")) }
        #expect(delays.prefix(5) == [.milliseconds(100), .milliseconds(200), .milliseconds(400), .milliseconds(800), .milliseconds(1600)])
        #expect(delays.last == .seconds(300))
        #expect(delays.allSatisfy { $0 <= .seconds(300) })
        await queue.forget("k")
        #expect(await queue.addRateLimited("k") == .milliseconds(100))
    }

    @Test func shutDownReleasesWaitingWorkers() async {
        let queue = Queue(clock: TestClock())
        async let first = queue.next()
        async let second = queue.next()
        try? await Task.sleep(for: .milliseconds(10))
        await queue.shutDown()
        #expect(await first == nil)
        #expect(await second == nil)
        await queue.add("late")
        #expect(await queue.next() == nil)
    }

    /// Many workers, many adds of few keys: no key is ever reconciled twice at the same time,
    /// and every key added is reconciled after its last add.
    @Test func concurrentWorkersNeverShareAKey() async {
        let queue = Queue(clock: TestClock())
        let tracker = Tracker()
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<4 {
                group.addTask {
                    while let key = await queue.next() {
                        await tracker.begin(key)
                        await Task.yield()
                        await tracker.end(key)
                        await queue.done(key)
                    }
                }
            }
            for round in 0..<200 {
                await queue.add("k\(round % 7)")
                if round % 10 == 0 { await Task.yield() }
            }
            _ = await eventually(poll: .milliseconds(1)) {
                let idle = await queue.count == 0
                let busy = await tracker.busy
                return idle && !busy
            }
            await queue.shutDown()
        }
        #expect(await tracker.overlaps == 0)
        #expect(await tracker.seen == Set((0..<7).map { "k\($0)" }))
    }
}

actor Tracker {
    private var active: Set<String> = []
    private(set) var overlaps = 0
    private(set) var seen: Set<String> = []
    var busy: Bool { !active.isEmpty }

    func begin(_ key: String) {
        if !active.insert(key).inserted { overlaps += 1 }
        seen.insert(key)
    }

    func end(_ key: String) { active.remove(key) }
}
