import Foundation
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// Pods as process groups on this machine.
///
/// Expected flow: create the driver, `adopt` the records the previous operator persisted,
/// run `run()` (as a service, for as long as the operator lives), then `start` and `stop` pods
/// and persist `records()` whenever a `.started` event arrives.
///
/// Guarantees:
/// - `start` spawns before it returns (no waiting for a tick): `posix_spawn` with
///   `POSIX_SPAWN_SETSID`, so the pod is a new session and process group with pgid == pid.
///   The child gets stdin from /dev/null, stdout and stderr appended to the pod's log, default
///   signal dispositions, an empty signal mask, the pod's environment only (over
///   `Configuration.baseEnvironment`), and no other descriptor of the operator (closed with
///   `posix_spawn_file_actions_addclosefrom_np`, besides `O_CLOEXEC` everywhere).
/// - Own children are reaped with `waitpid(pid, WNOHANG)` on exactly their pids (never
///   `waitpid(-1)`, which would steal other components' children), so no zombie remains.
///   Adopted processes, which are not our children, are watched through `/proc`.
/// - When a pod's main process exits, the rest of its group is SIGKILLed before the main
///   process is reaped (while its pid, and so the pgid, cannot be reused), as a container's
///   processes die with its init.
/// - A pid is signalled only after its start ticks still match (`/proc/PID/stat` field 22): a
///   recycled pid is never mistaken for a pod.
/// - Cancelling `run()` or releasing the driver never signals a pod.
///
/// Supervision: one loop (`run()`), ticking every `tickInterval` (100 ms): exits, restarts
/// that are due, `logLine` readiness; every `sampleInterval` (1 s) also the resident memory of
/// every group (one `/proc` scan; over the limit → SIGKILL to the group, `OOMKilled`) and log
/// rotation. HTTP readiness probes run beside it in the same task group, each on a
/// non-blocking socket, so a slow server never delays exit detection. Without `run()` nothing
/// is supervised; `supervise()` runs one pass by hand (tests).
///
/// Time: backoff and the "healthy for 10 minutes" reset use the injected `RuntimeClock`, and
/// so do reported timestamps; tick, sampling, probe and grace cadences use real time.
///
/// Logs: see `LogRotation` for why rotation is copytruncate by the driver rather than a pipe.
public actor LocalProcessDriver: ProcessDriver {
    public struct Configuration: Sendable {
        /// Exit detection, due restarts and log-line readiness.
        public var tickInterval: Duration
        /// Memory sampling (OOM) and log rotation.
        public var sampleInterval: Duration
        public var backoff: RestartBackoff
        /// Period of HTTP readiness probes.
        public var readinessProbeInterval: Duration
        public var readinessProbeTimeout: Duration
        /// Consecutive failed HTTP probes after which a ready pod is no longer ready.
        public var readinessFailureThreshold: Int
        /// Under every pod's environment. Default: the operator's `PATH` only.
        public var baseEnvironment: [String: String]
        /// Events kept for a slow reader; older ones are dropped.
        public var eventBufferSize: Int
        /// How long `stop` still waits after SIGKILL before giving up (a process stuck in the
        /// kernel); it logs an error then.
        public var killTimeout: Duration
        /// Answers `httpsGet` readiness probes (port, path, timeout → ready): the caller holds
        /// the TLS client identity the pods require. Without it an `httpsGet` pod is never ready.
        public var httpsProbe: (@Sendable (Int, String, Duration) async -> Bool)?
        /// Marks every pod's environment with the state directory (nil: unmarked), so a later
        /// operator finds the processes without the state database (`PodMarker.scan()`).
        public var marker: PodMarker?

        public init(
            tickInterval: Duration = .milliseconds(100),
            sampleInterval: Duration = .seconds(1),
            backoff: RestartBackoff = .standard,
            readinessProbeInterval: Duration = .milliseconds(500),
            readinessProbeTimeout: Duration = .seconds(1),
            readinessFailureThreshold: Int = 3,
            baseEnvironment: [String: String]? = nil,
            eventBufferSize: Int = 1024,
            killTimeout: Duration = .seconds(10),
            marker: PodMarker? = nil
        ) {
            self.tickInterval = tickInterval
            self.sampleInterval = sampleInterval
            self.backoff = backoff
            self.readinessProbeInterval = readinessProbeInterval
            self.readinessProbeTimeout = readinessProbeTimeout
            self.readinessFailureThreshold = readinessFailureThreshold
            self.baseEnvironment = baseEnvironment
                ?? ["PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"]
            self.eventBufferSize = eventBufferSize
            self.killTimeout = killTimeout
            self.marker = marker
        }
    }

    public nonisolated let events: AsyncStream<PodEvent>
    private let continuation: AsyncStream<PodEvent>.Continuation
    /// `terminate` wakes the termination loop: a stop is seen done within milliseconds, not at
    /// the next supervision tick.
    private nonisolated let terminations: AsyncStream<Void>
    private let terminationRequested: AsyncStream<Void>.Continuation
    private let configuration: Configuration
    private let clock: any RuntimeClock
    private let logger: Logger

    private var table: [String: Pod] = [:]
    private var nextGeneration: UInt64 = 0
    private var loopRunning = false

    public init(configuration: Configuration = Configuration(), clock: any RuntimeClock = SystemRuntimeClock(), logger: Logger) {
        self.configuration = configuration
        self.clock = clock
        self.logger = logger
        (events, continuation) = AsyncStream.makeStream(of: PodEvent.self, bufferingPolicy: .bufferingNewest(max(1, configuration.eventBufferSize)))
        (terminations, terminationRequested) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    deinit {
        continuation.finish()
        terminationRequested.finish()
    }

    // MARK: ProcessDriver

    public func start(_ spec: PodSpec) async throws -> PodRecord {
        try spec.validate()
        let hash = spec.specHash
        if let existing = table[spec.name], case .terminating = existing.state {
            throw DriverError.podTerminating(name: spec.name)
        }
        if let existing = table[spec.name] {
            switch existing.state {
            case .running:
                guard existing.specHash == hash, let record = existing.lastRecord else {
                    throw DriverError.podExists(name: spec.name, runningSpecHash: existing.specHash)
                }
                return record
            case .backingOff:
                if existing.specHash == hash, let record = existing.lastRecord { return record }
            case .ended, .terminating:
                break
            }
        }
        nextGeneration += 1
        var pod = Pod(generation: nextGeneration, spec: spec, specHash: hash, state: .ended)
        do {
            try launch(&pod)
        } catch {
            logger.warning("pod failed to start", metadata: ["pod.name": "\(spec.name)", "error": "\(error)"])
            throw error
        }
        table[spec.name] = pod
        announceStart(pod)
        // launch always sets the record.
        return pod.lastRecord!
    }

    public func stop(_ name: String, grace: Duration?) async {
        guard let pod = table[name] else { return }
        let generation = pod.generation
        let killAt = ContinuousClock.now + max(.zero, grace ?? pod.spec.terminationGracePeriod)
        switch pod.state {
        case .terminating(let earlier):
            // Another stop is in progress: bring its SIGKILL forward if asked, and wait for it.
            if killAt < earlier { table[name]?.state = .terminating(killAt: killAt) }
            while table[name]?.generation == generation {
                if Task.isCancelled { table[name]?.state = .terminating(killAt: .now) }
                await pause(.milliseconds(10))
            }
            return
        case .backingOff, .ended:
            forget(name, generation: generation)
            return
        case .running:
            break
        }
        guard let process = pod.process else {
            forget(name, generation: generation)
            return
        }
        table[name]?.state = .terminating(killAt: killAt)
        table[name]?.ready = false
        let metadata: Logger.Metadata = ["pod.name": "\(name)", "pod.pid": "\(process.pid)"]
        logger.info("stopping pod", metadata: metadata.merging(["pod.grace": "\(killAt - .now)"]) { $1 })
        signalGroup(process, SIGTERM)

        var killedAt: ContinuousClock.Instant?
        var interval = Duration.milliseconds(5)
        while !groupIsGone(process) {
            let now = ContinuousClock.now
            if let killedAt {
                if now - killedAt > configuration.killTimeout {
                    logger.error("pod's process group survived SIGKILL; giving up waiting", metadata: metadata)
                    break
                }
            } else {
                var deadline = killAt
                if case .terminating(let current)? = table[name]?.state { deadline = current }
                if now >= deadline || Task.isCancelled {
                    logger.info("grace period over; sending SIGKILL to the pod's group", metadata: metadata)
                    signalGroup(process, SIGKILL)
                    killedAt = now
                }
            }
            await pause(interval)
            interval = min(interval * 2, .milliseconds(50))
        }
        if process.isChild {
            // A JVM's leader shows as a zombie while its other threads still exit, and cannot be
            // reaped until they have: wait for it (bounded), or it stays a zombie for good.
            let reapBy = ContinuousClock.now + configuration.killTimeout
            while !Self.reap(process.pid) && ContinuousClock.now < reapBy { await pause(.milliseconds(10)) }
        }
        forget(name, generation: generation)
        logger.info("pod stopped", metadata: metadata)
    }

    public func terminate(_ name: String) {
        guard let pod = table[name] else { return }
        switch pod.state {
        case .terminating:
            return
        case .backingOff, .ended:
            let gone = status(of: pod)
            forget(name, generation: pod.generation)
            emit(.stopped(gone))
            return
        case .running:
            break
        }
        guard let process = pod.process else {
            let gone = status(of: pod)
            forget(name, generation: pod.generation)
            emit(.stopped(gone))
            return
        }
        let killAt = ContinuousClock.now + max(.zero, pod.spec.terminationGracePeriod)
        table[name]?.state = .terminating(killAt: killAt)
        table[name]?.ready = false
        logger.info("stopping pod", metadata: ["pod.name": "\(name)", "pod.pid": "\(process.pid)", "pod.grace": "\(pod.spec.terminationGracePeriod)"])
        signalGroup(process, SIGTERM)
        terminationRequested.yield()
    }

    /// Terminations begun by `terminate`: a group that is gone is reaped and forgotten (with
    /// `.stopped`); one past its grace period gets SIGKILL.
    private func finishTerminations() {
        let now = ContinuousClock.now
        for name in table.keys.sorted() {
            guard let pod = table[name], case .terminating(let killAt) = pod.state, let process = pod.process else { continue }
            if groupIsGone(process) {
                // A JVM's leader stays a zombie until its other threads are gone: reap it on a
                // later tick rather than wait here.
                if process.isChild && !Self.reap(process.pid) { continue }
                var gone = status(of: pod)
                gone.reason = PodStatus.Reason.completed
                forget(name, generation: pod.generation)
                logger.info("pod stopped", metadata: ["pod.name": "\(name)", "pod.pid": "\(process.pid)"])
                emit(.stopped(gone))
            } else if now >= killAt {
                if now - killAt < configuration.tickInterval * 2 {
                    logger.info("grace period over; sending SIGKILL to the pod's group", metadata: ["pod.name": "\(name)", "pod.pid": "\(process.pid)"])
                }
                signalGroup(process, SIGKILL)
            }
        }
    }

    public func status(_ name: String) -> PodStatus? {
        table[name].map(status(of:))
    }

    public func pods() -> [PodStatus] {
        table.values.sorted { $0.spec.name < $1.spec.name }.map(status(of:))
    }

    public func records() -> [PodRecord] {
        table.values.filter { $0.process != nil }.sorted { $0.spec.name < $1.spec.name }.compactMap(\.lastRecord)
    }

    public func adopt(_ records: [PodRecord]) -> [PodStatus] {
        var result: [PodStatus] = []
        for record in records {
            let name = record.spec.name
            if let existing = table[name] {
                logger.warning("not adopting a record for a pod this driver already knows", metadata: ["pod.name": "\(name)"])
                result.append(status(of: existing))
                continue
            }
            nextGeneration += 1
            var pod = Pod(generation: nextGeneration, spec: record.spec, specHash: record.spec.specHash, state: .ended)
            pod.restartCount = record.restartCount
            let stat = ProcessInfoReader.stat(pid: record.pid)
            if let stat, stat.startTicks == record.processStartTicks, stat.pgid == record.pgid, !stat.isZombie {
                let age = max(0, clock.currentDate.timeIntervalSince(record.startedAt))
                var process = PodProcess(
                    pid: record.pid, pgid: record.pgid, startTicks: record.processStartTicks,
                    startedAt: record.startedAt, startedInstant: clock.now - .seconds(age),
                    // Normally an earlier operator's child, reparented to init; our own only
                    // when this process adopts what an earlier driver in it started.
                    isChild: stat.parentPID == getpid())
                pod.ready = record.spec.readiness == nil
                if case .logLine(let needle) = record.spec.readiness {
                    // This run's output may have begun before the last rotation: look in both.
                    var scanner = LogScanner(path: record.spec.logPath, needle: needle, offset: 0)
                    if LogScanner.fileContains(path: record.spec.logPath + ".1", needle: needle) || scanner.scanToEnd() {
                        pod.ready = true
                    } else {
                        process.logScanner = scanner
                    }
                }
                pod.process = process
                pod.state = .running
                pod.lastRecord = record
                logger.info("adopted pod", metadata: ["pod.name": "\(name)", "pod.pid": "\(record.pid)"])
            } else {
                let message: String
                if let stat, stat.startTicks == record.processStartTicks {
                    if stat.isZombie, stat.parentPID == getpid() { Self.reap(record.pid) }
                    message = stat.isZombie
                        ? "process \(record.pid) exited while no operator watched it"
                        : "process \(record.pid) is in process group \(stat.pgid), not \(record.pgid)"
                } else if stat != nil {
                    message = "pid \(record.pid) now belongs to another process (its start time differs); not signalled"
                } else {
                    message = "process \(record.pid) is gone; it exited while no operator watched it"
                }
                pod.exit = ExitInfo(phase: .failed, reason: PodStatus.Reason.lost, message: message)
                logger.warning("pod lost", metadata: ["pod.name": "\(name)", "pod.pid": "\(record.pid)", "pod.reason": "\(message)"])
            }
            table[name] = pod
            result.append(status(of: pod))
        }
        return result
    }

    // MARK: Supervision

    /// Supervises until cancelled; cancellation ends supervision only, never a pod. Returns
    /// normally on cancellation (the `Service.run()` shape). Throws `DriverError.alreadyRunning`
    /// if the loop already runs.
    public func run() async throws {
        guard !loopRunning else { throw DriverError.alreadyRunning }
        loopRunning = true
        defer { loopRunning = false }
        logger.debug("pod supervision started")
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.supervisionLoop() }
            group.addTask { await self.probeLoop() }
            group.addTask { await self.terminationLoop() }
        }
        logger.debug("pod supervision stopped; pods keep running")
    }

    /// One supervision pass: exits, restarts due by the clock, log-line readiness and, when
    /// `sampling`, memory limits and log rotation. `run()` calls it every tick.
    public func supervise(sampling: Bool = true) {
        if sampling { applyMemory(ProcessInfoReader.usage(ofGroups: limitedGroups())) }
        reapExits()
        finishTerminations()
        scanLogProbes()
        if sampling { rotateLogs() }
        restartDue()
    }

    private func supervisionLoop() async {
        var nextSample = ContinuousClock.now
        while !Task.isCancelled {
            let now = ContinuousClock.now
            let sampling = now >= nextSample
            if sampling {
                nextSample = now + configuration.sampleInterval
                // The /proc scan reads every process on the machine: do it off the actor, so
                // a `start` never waits behind it.
                let groups = limitedGroups()
                if !groups.isEmpty { applyMemory(await Self.measure(groups)) }
            }
            supervise(sampling: false)
            if sampling { rotateLogs() }
            do { try await Task.sleep(for: configuration.tickInterval) } catch { break }
        }
    }

    /// While stops begun by `terminate` are under way, looks for their end every few
    /// milliseconds (2 ms, backing off to 50 ms), so a replaced pod's successor starts at once.
    private func terminationLoop() async {
        for await _ in terminations {
            var interval = Duration.milliseconds(2)
            while hasTerminations, !Task.isCancelled {
                finishTerminations()
                try? await Task.sleep(for: interval)
                interval = min(interval * 2, .milliseconds(50))
            }
            if Task.isCancelled { break }
        }
    }

    private var hasTerminations: Bool {
        table.values.contains { if case .terminating = $0.state { $0.process != nil } else { false } }
    }

    /// Resident memory and CPU time of the given groups, measured on the caller's executor (not
    /// the actor's).
    private nonisolated static func measure(_ groups: Set<Int32>) async -> [Int32: ProcessInfoReader.GroupUsage] {
        ProcessInfoReader.usage(ofGroups: groups)
    }

    private func probeLoop() async {
        let timeout = configuration.readinessProbeTimeout
        while !Task.isCancelled {
            let due = takeDueHTTPProbes()
            if !due.isEmpty {
                await withTaskGroup(of: (ProbeTicket, Bool).self) { group in
                    for ticket in due {
                        let httpsProbe = configuration.httpsProbe
                        group.addTask {
                            guard ticket.https else {
                                return (ticket, await HTTPProbe.check(port: ticket.port, path: ticket.path, timeout: timeout))
                            }
                            return (ticket, await httpsProbe?(ticket.port, ticket.path, timeout) ?? false)
                        }
                    }
                    for await (ticket, ok) in group {
                        recordProbe(ticket, ok: ok)
                    }
                }
            }
            do { try await Task.sleep(for: min(configuration.tickInterval, configuration.readinessProbeInterval)) } catch { break }
        }
    }

    private func reapExits() {
        for name in table.keys.sorted() {
            guard var pod = table[name], case .running = pod.state, let process = pod.process,
                  let outcome = checkExit(process)
            else { continue }
            handleExit(&pod, process: process, outcome: outcome)
        }
    }

    /// nil while the process runs. Kills what is left of the group before reaping.
    private func checkExit(_ process: PodProcess) -> ExitOutcome? {
        if process.isChild {
            var info = siginfo_t()
            let r = waitid(P_PID, id_t(process.pid), &info, WEXITED | WNOHANG | WNOWAIT)
            if r == 0 {
                guard info._sifields._kill.si_pid == process.pid else { return nil }
                kill(-process.pgid, SIGKILL)
                var status: Int32 = 0
                var w: pid_t
                repeat { w = waitpid(process.pid, &status, WNOHANG) } while w == -1 && errno == EINTR
                guard w == process.pid else { return .unknown }
                let low = status & 0x7f
                return low == 0 ? .exited((status >> 8) & 0xff) : .signaled(low)
            }
            guard errno == ECHILD else { return nil }
            // Someone else reaped it; fall through to /proc.
        }
        if let stat = ProcessInfoReader.stat(pid: process.pid), stat.startTicks == process.startTicks, !stat.isZombie {
            return nil
        }
        signalGroup(process, SIGKILL)
        return .unknown
    }

    private func handleExit(_ pod: inout Pod, process: PodProcess, outcome: ExitOutcome) {
        let name = pod.spec.name
        var exit: ExitInfo
        if process.oomKillRequested {
            exit = ExitInfo(phase: .failed, reason: PodStatus.Reason.oomKilled, message: process.oomMessage, exitCode: 128 + SIGKILL, signal: SIGKILL)
        } else {
            switch outcome {
            case .exited(0):
                exit = ExitInfo(phase: .succeeded, reason: PodStatus.Reason.completed, exitCode: 0)
            case .exited(let code):
                exit = ExitInfo(phase: .failed, reason: PodStatus.Reason.error, message: "exited with code \(code)", exitCode: code)
            case .signaled(let signal):
                exit = ExitInfo(phase: .failed, reason: PodStatus.Reason.killed, message: "killed by signal \(signal)", exitCode: 128 + signal, signal: signal)
            case .unknown:
                exit = ExitInfo(phase: .failed, reason: PodStatus.Reason.unknown,
                                message: "exited; its exit status is unknown (not a child of this operator)")
            }
        }
        pod.exit = exit
        pod.process = nil
        pod.ready = false
        pod.residentBytes = nil
        pod.cpuSeconds = nil
        pod.state = .ended
        let ended = status(of: pod)
        var metadata: Logger.Metadata = ["pod.name": "\(name)", "pod.pid": "\(process.pid)", "pod.reason": "\(exit.reason)"]
        if let code = exit.exitCode { metadata["pod.exit_code"] = "\(code)" }
        if exit.reason == PodStatus.Reason.oomKilled {
            logger.warning("pod killed: over its memory limit", metadata: metadata)
            emit(.oomKilled(ended))
        } else {
            logger.info("pod exited", metadata: metadata)
            emit(.exited(ended))
        }

        if pod.spec.restartPolicy.restarts(after: exit.phase) {
            scheduleRestart(&pod, ranFor: clock.now - process.startedInstant)
        }
        table[name] = pod
    }

    private func scheduleRestart(_ pod: inout Pod, ranFor runTime: Duration) {
        let backoff = configuration.backoff
        pod.backoffStep = backoff.nextStep(after: pod.backoffStep, ranFor: runTime)
        let delay = backoff.delay(step: pod.backoffStep)
        pod.state = .backingOff(until: clock.now + delay, at: clock.currentDate.addingTimeInterval(delay.seconds))
        logger.info("pod restarts after back-off", metadata: ["pod.name": "\(pod.spec.name)", "pod.backoff": "\(delay)"])
        emit(.restarting(status(of: pod)))
    }

    private func restartDue() {
        let now = clock.now
        for name in table.keys.sorted() {
            guard var pod = table[name], case .backingOff(let until, _) = pod.state, until <= now else { continue }
            do {
                pod.restartCount += 1
                try launch(&pod)
                table[name] = pod
                announceStart(pod)
            } catch {
                pod.restartCount -= 1
                logger.warning("pod failed to restart", metadata: ["pod.name": "\(name)", "error": "\(error)"])
                pod.exit = ExitInfo(phase: .failed, reason: PodStatus.Reason.startError, message: "\(error)")
                pod.state = .ended
                emit(.exited(status(of: pod)))
                scheduleRestart(&pod, ranFor: .zero)
                table[name] = pod
            }
        }
    }

    private func scanLogProbes() {
        for name in table.keys.sorted() {
            guard var pod = table[name], case .running = pod.state, !pod.ready, var process = pod.process,
                  var scanner = process.logScanner
            else { continue }
            let found = scanner.scan()
            process.logScanner = found ? nil : scanner
            pod.process = process
            if found { pod.ready = true }
            table[name] = pod
            if found {
                logger.info("pod ready", metadata: ["pod.name": "\(name)"])
                emit(.ready(status(of: pod)))
            }
        }
    }

    /// Process groups of pods that have a memory limit: only they are measured (a scan of
    /// /proc per second for pods nobody limits would be cost without use).
    private func limitedGroups() -> Set<Int32> {
        Set(table.values.compactMap { pod in pod.spec.memoryLimitBytes == nil ? nil : pod.process?.pgid })
    }

    /// Records measured memory and CPU time (what `flinklet top` shows) and kills groups over
    /// their limit. A group that exited since it was measured is skipped (its pod no longer has
    /// that process).
    private func applyMemory(_ usage: [Int32: ProcessInfoReader.GroupUsage]) {
        guard !usage.isEmpty else { return }
        for name in table.keys.sorted() {
            guard var pod = table[name], var process = pod.process, let measured = usage[process.pgid] else { continue }
            let bytes = measured.residentBytes
            pod.residentBytes = bytes
            pod.cpuSeconds = Double(measured.cpuTicks) / Double(ProcessInfoReader.clockTicksPerSecond)
            if case .running = pod.state, let limit = pod.spec.memoryLimitBytes, bytes > limit, !process.oomKillRequested {
                process.oomKillRequested = true
                process.oomMessage = "resident memory of the process group (\(bytes) bytes) exceeded the limit (\(limit) bytes)"
                logger.warning("pod over its memory limit; killing its group", metadata: [
                    "pod.name": "\(name)", "pod.pid": "\(process.pid)", "pod.rss_bytes": "\(bytes)", "pod.limit_bytes": "\(limit)",
                ])
                signalGroup(process, SIGKILL)
            }
            pod.process = process
            table[name] = pod
        }
    }

    private func rotateLogs() {
        for name in table.keys.sorted() {
            guard var pod = table[name], pod.process != nil else { continue }
            do {
                if try LogRotation.rotateIfNeeded(path: pod.spec.logPath, limit: pod.spec.logLimitBytes) {
                    pod.process?.logScanner?.restart()
                    table[name] = pod
                    logger.debug("pod log rotated", metadata: ["pod.name": "\(name)"])
                }
            } catch {
                logger.warning("pod log could not be rotated", metadata: ["pod.name": "\(name)", "errno": "\(error.errno)"])
            }
        }
    }

    private func takeDueHTTPProbes() -> [ProbeTicket] {
        let now = ContinuousClock.now
        var due: [ProbeTicket] = []
        for name in table.keys.sorted() {
            guard var pod = table[name], case .running = pod.state, var process = pod.process, !process.probeInFlight else { continue }
            let (port, path, https): (Int, String, Bool)
            switch pod.spec.readiness {
            case .httpGet(let p, let t)?: (port, path, https) = (p, t, false)
            case .httpsGet(let p, let t)?: (port, path, https) = (p, t, true)
            case .logLine?, nil: continue
            }
            if let last = process.lastProbe, now - last < configuration.readinessProbeInterval { continue }
            process.probeInFlight = true
            process.lastProbe = now
            pod.process = process
            table[name] = pod
            due.append(ProbeTicket(name: name, generation: pod.generation, pid: process.pid, port: port, path: path, https: https))
        }
        return due
    }

    private func recordProbe(_ ticket: ProbeTicket, ok: Bool) {
        guard var pod = table[ticket.name], pod.generation == ticket.generation, var process = pod.process,
              process.pid == ticket.pid
        else { return }
        process.probeInFlight = false
        var changed = false
        if ok {
            process.probeFailures = 0
            if !pod.ready, case .running = pod.state { pod.ready = true; changed = true }
        } else {
            process.probeFailures += 1
            if pod.ready, process.probeFailures >= configuration.readinessFailureThreshold { pod.ready = false; changed = true }
        }
        pod.process = process
        table[ticket.name] = pod
        if changed {
            logger.info(pod.ready ? "pod ready" : "pod no longer ready", metadata: ["pod.name": "\(ticket.name)"])
            emit(.ready(status(of: pod)))
        }
    }

    // MARK: Helpers

    /// Spawns the pod's process and makes the pod `Running`.
    private func launch(_ pod: inout Pod) throws(DriverError) {
        let spawned = try Spawner.spawn(pod.spec, baseEnvironment: configuration.baseEnvironment, marker: configuration.marker)
        var process = PodProcess(
            pid: spawned.pid, pgid: spawned.pid, startTicks: spawned.stat.startTicks,
            startedAt: clock.currentDate, startedInstant: clock.now, isChild: true)
        if case .logLine(let needle) = pod.spec.readiness {
            process.logScanner = LogScanner(path: pod.spec.logPath, needle: needle, offset: spawned.logOffset)
        }
        pod.process = process
        pod.state = .running
        pod.ready = pod.spec.readiness == nil
        pod.exit = nil
        pod.residentBytes = nil
        pod.cpuSeconds = nil
        pod.lastRecord = PodRecord(
            spec: pod.spec, pid: process.pid, pgid: process.pgid, processStartTicks: process.startTicks,
            startedAt: process.startedAt, restartCount: pod.restartCount)
        logger.info("pod started", metadata: [
            "pod.name": "\(pod.spec.name)", "pod.pid": "\(process.pid)", "pod.restarts": "\(pod.restartCount)",
        ])
    }

    private func announceStart(_ pod: Pod) {
        let status = status(of: pod)
        emit(.started(status))
        if status.ready { emit(.ready(status)) }
    }

    /// Signals the group unless the leader's pid now names another process (then the group,
    /// whose id is that pid, cannot hold any process of ours).
    @discardableResult
    private func signalGroup(_ process: PodProcess, _ signal: Int32) -> Bool {
        if let stat = ProcessInfoReader.stat(pid: process.pid), stat.startTicks != process.startTicks { return false }
        return kill(-process.pgid, signal) == 0
    }

    /// True when no live (non-zombie) process of the group remains.
    private func groupIsGone(_ process: PodProcess) -> Bool {
        if let stat = ProcessInfoReader.stat(pid: process.pid) {
            if stat.startTicks != process.startTicks { return true }
            if !stat.isZombie { return false }
        }
        return !ProcessInfoReader.groupHasLiveMembers(process.pgid)
    }

    /// True once `pid` is reaped (or is not ours to reap).
    @discardableResult
    private static func reap(_ pid: Int32) -> Bool {
        var status: Int32 = 0
        var w: pid_t
        repeat { w = waitpid(pid, &status, WNOHANG) } while w == -1 && errno == EINTR
        return w != 0
    }

    /// Sleeps the task; once the task is cancelled, blocks briefly instead (stop must still
    /// wait for the group to go, and cancelled sleeps return at once).
    private func pause(_ duration: Duration) async {
        if Task.isCancelled {
            usleep(1000)
        } else {
            try? await Task.sleep(for: duration)
        }
    }

    private func forget(_ name: String, generation: UInt64) {
        guard let pod = table[name], pod.generation == generation else { return }
        if let tmp = pod.spec.tmpDirectory, FileManager.default.fileExists(atPath: tmp) {
            do {
                try FileManager.default.removeItem(atPath: tmp)
            } catch {
                logger.warning("pod tmp directory not removed", metadata: ["pod.name": "\(name)", "path": "\(tmp)", "error": "\(error)"])
            }
        }
        configuration.marker?.removeSpec(of: name)
        table[name] = nil
    }

    private func emit(_ event: PodEvent) {
        continuation.yield(event)
    }

    private func status(of pod: Pod) -> PodStatus {
        var status = PodStatus(
            name: pod.spec.name, phase: .running, ready: pod.ready, restartCount: pod.restartCount,
            residentBytes: pod.residentBytes, specHash: pod.specHash, labels: pod.spec.labels)
        status.cpuSeconds = pod.cpuSeconds
        if let process = pod.process {
            status.pid = process.pid
            status.pgid = process.pgid
            status.processStartTicks = process.startTicks
            status.startedAt = process.startedAt
        }
        switch pod.state {
        case .running:
            break
        case .terminating:
            status.ready = false
            status.reason = PodStatus.Reason.terminating
        case .backingOff(_, let at):
            status.phase = .pending
            status.reason = PodStatus.Reason.crashLoopBackOff
            status.nextRestartAt = at
            if let exit = pod.exit {
                status.exitCode = exit.exitCode
                status.signal = exit.signal
                status.message = "back-off restarting; last exit: \(exit.reason)" + (exit.message.map { " (\($0))" } ?? "")
            }
        case .ended:
            let exit = pod.exit ?? ExitInfo(phase: .failed, reason: PodStatus.Reason.unknown)
            status.phase = exit.phase
            status.reason = exit.reason
            status.message = exit.message
            status.exitCode = exit.exitCode
            status.signal = exit.signal
        }
        return status
    }
}

// MARK: - Internal state

private enum PodState {
    /// A process runs.
    case running
    /// Waiting to restart: due at the instant (injected clock), reported as the date.
    case backingOff(until: ContinuousClock.Instant, at: Date)
    /// No process and none coming: Succeeded, Failed or Lost.
    case ended
    /// `stop` is in progress; SIGKILL at the instant (real time).
    case terminating(killAt: ContinuousClock.Instant)
}

private struct PodProcess {
    var pid: Int32
    var pgid: Int32
    var startTicks: UInt64
    var startedAt: Date
    /// On the injected clock, for the backoff reset.
    var startedInstant: ContinuousClock.Instant
    /// Spawned by this operator process: reaped with waitpid. Otherwise watched through /proc.
    var isChild: Bool
    var oomKillRequested = false
    var oomMessage: String?
    var logScanner: LogScanner?
    var probeFailures = 0
    var lastProbe: ContinuousClock.Instant?
    var probeInFlight = false
}

private struct ExitInfo {
    var phase: PodPhase
    var reason: String
    var message: String?
    var exitCode: Int32?
    var signal: Int32?
}

private enum ExitOutcome {
    case exited(Int32)
    case signaled(Int32)
    /// Gone, but not our child (or reaped by someone else): no status to read.
    case unknown
}

private struct Pod {
    let generation: UInt64
    var spec: PodSpec
    let specHash: String
    var state: PodState
    var process: PodProcess?
    var lastRecord: PodRecord?
    var ready = false
    var restartCount = 0
    var backoffStep = 0
    var exit: ExitInfo?
    var residentBytes: Int64?
    var cpuSeconds: Double?

    init(generation: UInt64, spec: PodSpec, specHash: String, state: PodState) {
        self.generation = generation
        self.spec = spec
        self.specHash = specHash
        self.state = state
    }
}

private struct ProbeTicket: Sendable {
    var name: String
    var generation: UInt64
    var pid: Int32
    var port: Int
    var path: String
    var https: Bool
}

extension LogScanner {
    /// Scans until the end of the file; true when the needle was found.
    mutating func scanToEnd() -> Bool {
        while true {
            let before = offset
            if scan() { return true }
            if offset == before { return false }
        }
    }
}
