import DequeModule
import HeapModule

/// The queue of keys waiting to be reconciled, with controller-runtime's guarantees and one more.
///
/// Guarantees:
/// - **Deduplication.** A key waiting in the queue is there once, however often it is added.
/// - **One worker per key.** A key handed out by `next()` is not handed out again until `done`
///   is called for it; an `add` meanwhile marks it dirty and it is queued again on `done`.
/// - **Changes before timers.** Keys added by `add` (a manifest or a pod changed) are always
///   handed out before keys whose timer fired (`addAfter`, `addRateLimited`): a burst of 10,000
///   periodic requeues never delays a user's change. A timer-lane key that is `add`ed moves to
///   the change lane.
/// - **Per-key backoff.** `addRateLimited` waits `baseDelay × 2^(failures)`, capped at
///   `maxDelay` (100 ms → 5 min by default); `forget` resets the count after a success.
/// - **Earliest timer wins.** Scheduling a key that already has a timer keeps the earlier one.
///
/// `observer`, when given, hears of every add, hand-out (with the time the key waited since it
/// was queued: client-go's queue duration), backoff retry, and depth change; it must return at
/// once (it runs on the queue's actor).
///
/// Timers need `runTimers()` to be running (one task, e.g. a service in the operator's group).
/// `shutDown()` makes `next()` return nil to every waiting and future caller.
public actor WorkQueue<Key: Hashable & Sendable, C: Clock> where C.Duration == Duration {
    public struct Configuration: Sendable {
        public var baseDelay: Duration = .milliseconds(100)
        public var maxDelay: Duration = .seconds(300)
        public init() {}
    }

    private enum Lane { case change, timer }

    private let clock: C
    private let configuration: Configuration
    private let observer: WorkQueueObserver?
    /// When each queued key entered its lane (for the observer's wait times).
    private var queuedAt: [Key: C.Instant] = [:]

    private var changeLane = Deque<Key>()
    private var timerLane = Deque<Key>()
    /// Keys waiting in a lane (not being processed), and which lane holds them.
    private var queued: [Key: Lane] = [:]
    private var processing: Set<Key> = []
    /// Keys added while being processed: queued again, in this lane, when `done`.
    private var dirtyWhileProcessing: [Key: Lane] = [:]
    private var failures: [Key: Int] = [:]
    private var timers = TimerHeap<Key, C.Instant>()
    private var waiters: Deque<CheckedContinuation<Key?, Never>> = []
    private var timerWakeup: CheckedContinuation<Void, Never>?
    /// A wake-up that arrived while no timer loop was waiting: the next wait returns at once.
    private var timerWakeupPending = false
    /// Counts the timer loop's rounds, so a waiter from a finished round never blocks.
    private var timerRound = 0
    private var isShutDown = false

    public init(clock: C, configuration: Configuration = Configuration(), observer: WorkQueueObserver? = nil) {
        self.clock = clock
        self.configuration = configuration
        self.observer = observer
    }

    // MARK: Adding

    /// Queues `key` in the change lane: a user's edit or an observed change.
    public func add(_ key: Key) {
        enqueue(key, lane: .change)
    }

    /// Queues `key` in the timer lane after `delay` (a periodic requeue).
    public func addAfter(_ key: Key, _ delay: Duration) {
        guard !isShutDown else { return }
        guard delay > .zero else { return enqueue(key, lane: .timer) }
        let deadline = clock.now.advanced(by: delay)
        if timers.schedule(key, at: deadline) { wakeTimers() }
    }

    /// Queues `key` in the timer lane after its backoff delay, which doubles with each call
    /// until `forget`. Returns the delay chosen.
    @discardableResult
    public func addRateLimited(_ key: Key) -> Duration {
        let count = failures[key, default: 0]
        failures[key] = count + 1
        let delay = Self.backoff(failures: count, base: configuration.baseDelay, max: configuration.maxDelay)
        observer?.retried()
        addAfter(key, delay)
        return delay
    }

    /// Clears the key's failure count: its next `addRateLimited` starts from the base delay.
    public func forget(_ key: Key) {
        failures[key] = nil
    }

    public func failureCount(_ key: Key) -> Int { failures[key, default: 0] }

    static func backoff(failures: Int, base: Duration, max: Duration) -> Duration {
        var delay = base
        for _ in 0..<failures {
            delay = delay * 2
            if delay >= max { return max }
        }
        return delay
    }

    private func enqueue(_ key: Key, lane: Lane) {
        guard !isShutDown else { return }
        if processing.contains(key) {
            // Re-run after the current reconcile; a change outranks a timer.
            if dirtyWhileProcessing[key] != .change { dirtyWhileProcessing[key] = lane }
            return
        }
        switch (queued[key], lane) {
        case (.change?, _), (.timer?, .timer):
            return  // already waiting in an equal or better lane
        case (.timer?, .change):
            if let index = timerLane.firstIndex(of: key) { timerLane.remove(at: index) }
            fallthrough
        case (nil, _):
            queued[key] = lane
            if lane == .change { changeLane.append(key) } else { timerLane.append(key) }
            if let observer {
                if queuedAt[key] == nil { queuedAt[key] = clock.now }
                observer.added()
                observer.depth(queued.count)
            }
            handOut()
        }
    }

    // MARK: Taking

    /// The next key to reconcile, changes first; waits while the queue is empty. Returns nil once
    /// the queue is shut down. The caller must call `done` with the key afterwards.
    public func next() async -> Key? {
        if let key = take() { return key }
        if isShutDown { return nil }
        return await withCheckedContinuation { waiters.append($0) }
    }

    /// Marks `key` processed; if it was added meanwhile it is queued again.
    public func done(_ key: Key) {
        processing.remove(key)
        if let lane = dirtyWhileProcessing.removeValue(forKey: key) {
            enqueue(key, lane: lane)
        }
    }

    private func take() -> Key? {
        guard let key = changeLane.popFirst() ?? timerLane.popFirst() else { return nil }
        queued[key] = nil
        processing.insert(key)
        if let observer {
            if let since = queuedAt.removeValue(forKey: key) { observer.waited(since.duration(to: clock.now)) }
            observer.depth(queued.count)
        }
        return key
    }

    private func handOut() {
        while !waiters.isEmpty, let key = take() {
            waiters.removeFirst().resume(returning: key)
        }
    }

    // MARK: Timers

    /// Moves keys whose timers are due into the timer lane, sleeping until the next deadline.
    /// Runs until the queue is shut down or the task is cancelled.
    public func runTimers() async {
        while !isShutDown, !Task.isCancelled {
            timerLoopIterations += 1
            let now = clock.now
            while let key = timers.popDue(now: now) { enqueue(key, lane: .timer) }
            let deadline = timers.earliest
            let clock = self.clock
            let round = timerRound
            await withTaskGroup(of: Void.self) { group in
                if let deadline {
                    group.addTask { try? await clock.sleep(until: deadline, tolerance: nil) }
                } else {
                    // Nothing scheduled: the round still ends when the task is cancelled, which
                    // the wait below (a checked continuation) does not hear. Without this, an
                    // operator with no resource never finished its graceful shutdown (SIGTERM
                    // hung it until SIGKILL). An hour later the round just starts over.
                    group.addTask { try? await Task.sleep(for: .seconds(3600)) }
                }
                group.addTask { await self.waitForTimerChange(round: round) }
                await group.next()
                group.cancelAll()
                // End this round: a waiter of it that is still waiting, or has yet to start
                // waiting, returns at once. (No pending wake-up is left behind: that would make
                // the next round return at once too, and the loop spin.)
                timerRound += 1
                releaseTimerWaiter()
            }
        }
    }

    private func waitForTimerChange(round: Int) async {
        await withCheckedContinuation { continuation in
            if isShutDown || round != timerRound {
                continuation.resume()
            } else if timerWakeupPending {
                timerWakeupPending = false
                continuation.resume()
            } else {
                timerWakeup = continuation
            }
        }
    }

    /// A timer was scheduled earlier than the one slept on, or the queue shuts down: wake the
    /// timer loop (now, or at its next wait if it is between waits).
    private func wakeTimers() {
        if let waiter = timerWakeup {
            timerWakeup = nil
            waiter.resume()
        } else {
            timerWakeupPending = true
        }
    }

    private func releaseTimerWaiter() {
        timerWakeup?.resume()
        timerWakeup = nil
    }

    // MARK: State

    /// Stops handing out keys: `next()` returns nil from now on; timers stop.
    public func shutDown() {
        isShutDown = true
        for waiter in waiters { waiter.resume(returning: nil) }
        waiters.removeAll()
        wakeTimers()
    }

    /// Number of keys waiting (not counting keys being processed or waiting for a timer).
    public var count: Int { queued.count }
    public var pendingTimers: Int { timers.count }
    /// How often the timer loop has gone round: it must rest while nothing is due.
    var timerRounds: Int { timerLoopIterations }
    private var timerLoopIterations = 0
    public func isProcessing(_ key: Key) -> Bool { processing.contains(key) }
}

/// Hears what a `WorkQueue` does (for metrics). Each callback must return at once.
public struct WorkQueueObserver: Sendable {
    public var added: @Sendable () -> Void
    public var waited: @Sendable (Duration) -> Void
    public var retried: @Sendable () -> Void
    public var depth: @Sendable (Int) -> Void

    public init(added: @escaping @Sendable () -> Void = {}, waited: @escaping @Sendable (Duration) -> Void = { _ in },
                retried: @escaping @Sendable () -> Void = {}, depth: @escaping @Sendable (Int) -> Void = { _ in }) {
        self.added = added
        self.waited = waited
        self.retried = retried
        self.depth = depth
    }
}

/// Keys with deadlines; one deadline per key (the earliest scheduled). Keys due at the same
/// instant come out in the order they were scheduled.
struct TimerHeap<Key: Hashable, Instant: Comparable> {
    private struct Entry: Comparable {
        var deadline: Instant
        /// Scheduling order: breaks ties between equal deadlines.
        var sequence: UInt64
        var key: Key

        static func < (a: Entry, b: Entry) -> Bool { (a.deadline, a.sequence) < (b.deadline, b.sequence) }
        static func == (a: Entry, b: Entry) -> Bool { a.sequence == b.sequence }
    }

    private var heap = Heap<Entry>()
    private var deadlines: [Key: Instant] = [:]
    private var scheduled: UInt64 = 0

    var count: Int { deadlines.count }
    var earliest: Instant? { heap.min?.deadline }

    /// Returns true when this deadline is now the earliest of all (the sleeper must wake up).
    mutating func schedule(_ key: Key, at deadline: Instant) -> Bool {
        if let existing = deadlines[key], existing <= deadline { return false }
        deadlines[key] = deadline  // an older, later entry stays in the heap and is skipped when popped
        scheduled += 1
        heap.insert(Entry(deadline: deadline, sequence: scheduled, key: key))
        return heap.min?.deadline == deadline
    }

    mutating func popDue(now: Instant) -> Key? {
        while let top = heap.min, top.deadline <= now {
            heap.removeMin()
            if deadlines[top.key] == top.deadline {
                deadlines[top.key] = nil
                return top.key
            }
        }
        return nil
    }
}
