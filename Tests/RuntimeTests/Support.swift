import FlinkletTesting
import Foundation
import Logging
import Runtime
import Synchronization
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Fast cadences so integration tests take milliseconds, not seconds.
extension LocalProcessDriver.Configuration {
    static var fast: Self {
        Self(
            tickInterval: .milliseconds(20), sampleInterval: .milliseconds(100),
            backoff: RestartBackoff(initial: .milliseconds(50), maximum: .milliseconds(400), resetAfter: .seconds(600)),
            readinessProbeInterval: .milliseconds(100), readinessProbeTimeout: .milliseconds(500))
    }
}

/// Events as they arrive, readable from any task.
final class EventLog: Sendable {
    private let events = Mutex<[PodEvent]>([])

    func append(_ event: PodEvent) { events.withLock { $0.append(event) } }
    var all: [PodEvent] { events.withLock { $0 } }

    func of(_ name: String) -> [PodEvent] { all.filter { $0.status.name == name } }

    /// The pod's events once `condition` holds for them (they arrive through a task, a little
    /// after the state they announce), or as they are after two seconds.
    func of(_ name: String, once condition: ([PodEvent]) -> Bool) async -> [PodEvent] {
        _ = await eventually(timeout: .seconds(2)) { condition(of(name)) }
        return of(name)
    }
    /// Every process group a `.started` event named.
    var startedGroups: Set<Int32> {
        Set(all.compactMap { if case .started(let s) = $0 { s.pgid } else { nil } })
    }
}

/// A captured log line: level, message and metadata.
struct CapturedLog: Sendable {
    var level: Logger.Level
    var message: String
    var metadata: [String: String]
}

/// An in-memory swift-log handler (never the global bootstrap).
struct CapturingLogHandler: LogHandler {
    let store: Locked<[CapturedLog]>
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var all = metadata
        if let extra = event.metadata { all.merge(extra) { $1 } }
        let line = CapturedLog(level: event.level, message: "\(event.message)", metadata: all.mapValues { "\($0)" })
        store.mutex.withLock { $0.append(line) }
    }
}

/// A shared, locked value, so value types (a `LogHandler`) can share one.
final class Locked<Value: Sendable>: Sendable {
    let mutex: Mutex<Value>
    init(_ initial: Value) { mutex = Mutex(initial) }
    var value: Value { mutex.withLock { $0 } }
}

let quietLogger = Logger(label: "flinklet.runtime.tests") { _ in SwiftLogNoOpLogHandler() }

/// One test's world: a scratch directory, a driver (supervising unless told not to) and its
/// events. Guarantees on exit, pass or fail: every pod stopped, supervision cancelled, and
/// no process left in any group the driver started (checked), scratch directory removed.
struct Harness: Sendable {
    let directory: String
    let driver: LocalProcessDriver
    let events: EventLog

    /// A pod running `/bin/sh -c script`, logging to `<directory>/<name>.log`.
    func shell(_ name: String, _ script: String, restart: RestartPolicy = .never, readiness: ReadinessProbe? = nil,
               memoryLimit: Int64? = nil, grace: Duration = .seconds(5), logLimit: Int = PodSpec.defaultLogLimitBytes,
               environment: [String: String] = [:], tmp: Bool = false) -> PodSpec {
        PodSpec(
            name: name, argv: ["/bin/sh", "-c", script], environment: environment, workingDirectory: directory,
            logPath: "\(directory)/\(name).log", logLimitBytes: logLimit, memoryLimitBytes: memoryLimit,
            restartPolicy: restart, readiness: readiness, terminationGracePeriod: grace,
            tmpDirectory: tmp ? "\(directory)/\(name)-tmp" : nil, labels: ["test": name])
    }

    func log(_ name: String) -> String {
        (try? String(contentsOfFile: "\(directory)/\(name).log", encoding: .utf8)) ?? ""
    }
}

func withHarness(
    _ configuration: LocalProcessDriver.Configuration = .fast,
    clock: any RuntimeClock = SystemRuntimeClock(),
    logger: Logger = quietLogger,
    supervise: Bool = true,
    _ body: (Harness) async throws -> Void
) async throws {
    let directory = try makeScratchDirectory()
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let driver = LocalProcessDriver(configuration: configuration, clock: clock, logger: logger)
    let harness = Harness(directory: directory, driver: driver, events: EventLog())
    try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { for await event in driver.events { harness.events.append(event) } }
        if supervise { group.addTask { try await driver.run() } }
        var failure: (any Error)?
        do { try await body(harness) } catch { failure = error }
        let remaining = await driver.pods()
        for pod in remaining { await driver.stop(pod.name, grace: .milliseconds(100)) }
        #expect(await driver.pods().isEmpty)
        let groups = harness.events.startedGroups.union(remaining.compactMap(\.pgid))
        await expectGroupsGone(groups)
        group.cancelAll()
        if let failure { throw failure }
    }
}

/// No live process in the groups, and none of ours left as a zombie (orphans that died are
/// init's to reap; give it a moment).
func expectGroupsGone(_ groups: Set<Int32>, sourceLocation: SourceLocation = #_sourceLocation) async {
    func leftovers() -> [ProcessStat] {
        ProcessInfoReader.allProcesses().filter { groups.contains($0.pgid) && (!$0.isZombie || $0.parentPID == getpid()) }
    }
    let gone = await eventually(timeout: .seconds(10)) { leftovers().isEmpty }
    #expect(gone, "processes left behind: \(leftovers())", sourceLocation: sourceLocation)
}


/// Waits for the pod's status to satisfy `condition`; returns the last status seen.
@discardableResult
func waitForStatus(_ driver: LocalProcessDriver, _ name: String, timeout: Duration = .seconds(5),
                   sourceLocation: SourceLocation = #_sourceLocation,
                   _ condition: (PodStatus) -> Bool) async -> PodStatus? {
    var last: PodStatus?
    let ok = await eventually(timeout: timeout) {
        last = await driver.status(name)
        return last.map(condition) ?? false
    }
    #expect(ok, "pod \(name) never reached the expected state; last: \(String(describing: last))", sourceLocation: sourceLocation)
    return last
}

func isAlive(_ pid: Int32) -> Bool {
    guard let stat = ProcessInfoReader.stat(pid: pid) else { return false }
    return !stat.isZombie
}

/// The pid no longer exists at all (not even as a zombie).
func isGone(_ pid: Int32) -> Bool {
    kill(pid, 0) == -1 && errno == ESRCH
}

func makeScratchDirectory() throws -> String {
    let path = NSTemporaryDirectory() + "flinklet-runtime-\(UUID().uuidString.prefix(8))"
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

/// A TCP port on 127.0.0.1 that was free a moment ago.
func freePort() -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = 0
    address.sin_addr.s_addr = in_addr_t(0x7F00_0001).bigEndian
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
            bind(fd, pointer, length)
            return getsockname(fd, pointer, &length)
        }
    }
    return Int(UInt16(bigEndian: address.sin_port))
}

/// A real interpreter (not a pyenv shim, which costs a bash and a pyenv per start).
let python3: String? = {
    var candidates = ["/usr/bin/python3", "/usr/local/bin/python3"]
    for directory in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":") {
        candidates.append("\(directory)/python3")
    }
    return candidates.first { access($0, X_OK) == 0 }
}()
