import Foundation

/// What a pod is: one process group started from an argv, with its own log file, limits and
/// restart policy. The Runtime knows pods only; mapping Flink resources to pods happens above it.
///
/// Paths are used as given; relative ones resolve against the operator's working directory.
/// `specHash` identifies the spec: two specs with the same hash run the same pod.
public struct PodSpec: Sendable, Hashable, Codable {
    /// Unique among the driver's pods, e.g. `orders-jobmanager-0`.
    public var name: String
    /// `argv[0]` is the program: a path, or a bare name looked up in the pod's `PATH`.
    public var argv: [String]
    /// The pod's whole environment, on top of the driver's `baseEnvironment` (by default only
    /// `PATH`): the operator's own environment is not inherited, as in a container.
    public var environment: [String: String]
    /// Must exist; the driver does not create it.
    public var workingDirectory: String
    /// Standard output and standard error are appended here; the parent directory is created.
    public var logPath: String
    /// When the log grows past this, it is rotated to `<logPath>.1` (see `LocalProcessDriver`).
    public var logLimitBytes: Int
    /// Resident memory of the whole group above which the group is killed (`OOMKilled`).
    /// Include any margin you want: the driver compares against this number exactly.
    public var memoryLimitBytes: Int64?
    public var restartPolicy: RestartPolicy
    /// nil: ready as soon as the process runs.
    public var readiness: ReadinessProbe?
    /// Time between SIGTERM and SIGKILL when the pod is stopped; encoded as seconds.
    public var terminationGracePeriod: Duration
    /// Created on start if missing; removed with everything in it when the pod is stopped.
    public var tmpDirectory: String?
    /// Free-form; carried into `PodStatus` so callers can group pods.
    public var labels: [String: String]

    public static let defaultLogLimitBytes = 10 * 1024 * 1024

    public init(
        name: String,
        argv: [String],
        environment: [String: String] = [:],
        workingDirectory: String,
        logPath: String,
        logLimitBytes: Int = PodSpec.defaultLogLimitBytes,
        memoryLimitBytes: Int64? = nil,
        restartPolicy: RestartPolicy = .always,
        readiness: ReadinessProbe? = nil,
        terminationGracePeriod: Duration = .seconds(30),
        tmpDirectory: String? = nil,
        labels: [String: String] = [:]
    ) {
        self.name = name
        self.argv = argv
        self.environment = environment
        self.workingDirectory = workingDirectory
        self.logPath = logPath
        self.logLimitBytes = logLimitBytes
        self.memoryLimitBytes = memoryLimitBytes
        self.restartPolicy = restartPolicy
        self.readiness = readiness
        self.terminationGracePeriod = terminationGracePeriod
        self.tmpDirectory = tmpDirectory
        self.labels = labels
    }

    enum CodingKeys: String, CodingKey {
        case name, argv, environment, workingDirectory, logPath, logLimitBytes, memoryLimitBytes
        case restartPolicy, readiness, terminationGracePeriodSeconds, tmpDirectory, labels
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        argv = try c.decode([String].self, forKey: .argv)
        environment = try c.decodeIfPresent([String: String].self, forKey: .environment) ?? [:]
        workingDirectory = try c.decode(String.self, forKey: .workingDirectory)
        logPath = try c.decode(String.self, forKey: .logPath)
        logLimitBytes = try c.decodeIfPresent(Int.self, forKey: .logLimitBytes) ?? Self.defaultLogLimitBytes
        memoryLimitBytes = try c.decodeIfPresent(Int64.self, forKey: .memoryLimitBytes)
        restartPolicy = try c.decodeIfPresent(RestartPolicy.self, forKey: .restartPolicy) ?? .always
        readiness = try c.decodeIfPresent(ReadinessProbe.self, forKey: .readiness)
        let grace = try c.decodeIfPresent(Double.self, forKey: .terminationGracePeriodSeconds) ?? 30
        terminationGracePeriod = .seconds(grace)
        tmpDirectory = try c.decodeIfPresent(String.self, forKey: .tmpDirectory)
        labels = try c.decodeIfPresent([String: String].self, forKey: .labels) ?? [:]
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(name, forKey: .name)
        try c.encode(argv, forKey: .argv)
        try c.encode(environment, forKey: .environment)
        try c.encode(workingDirectory, forKey: .workingDirectory)
        try c.encode(logPath, forKey: .logPath)
        try c.encode(logLimitBytes, forKey: .logLimitBytes)
        try c.encodeIfPresent(memoryLimitBytes, forKey: .memoryLimitBytes)
        try c.encode(restartPolicy, forKey: .restartPolicy)
        try c.encodeIfPresent(readiness, forKey: .readiness)
        try c.encode(terminationGracePeriod.seconds, forKey: .terminationGracePeriodSeconds)
        try c.encodeIfPresent(tmpDirectory, forKey: .tmpDirectory)
        try c.encode(labels, forKey: .labels)
    }

    /// FNV-1a 64 of the canonical JSON encoding (sorted keys), as 16 hex digits.
    ///
    /// Guarantee: equal specs hash equally, within one build and across runs (no per-process
    /// seed, unlike `hashValue`). Caveat: a Foundation upgrade that changed JSON number
    /// formatting would change hashes; callers that must survive that compare specs themselves.
    public var specHash: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Encoding plain strings, numbers and dictionaries cannot fail.
        let data = (try? encoder.encode(self)) ?? Data()
        return FNV1a64.hex(data)
    }
}

extension PodSpec {
    /// Checks what can be checked without the file system: non-empty name, argv, paths; positive
    /// limits; no NUL bytes; a probe port in range and a path without spaces or control bytes.
    public func validate() throws(DriverError) {
        let spec = self
        func fail(_ reason: String) -> DriverError { .invalidSpec(name: spec.name, reason: reason) }
        if spec.name.isEmpty { throw fail("name is empty") }
        guard let program = spec.argv.first, !program.isEmpty else { throw fail("argv is empty") }
        if spec.workingDirectory.isEmpty { throw fail("workingDirectory is empty") }
        if spec.logPath.isEmpty { throw fail("logPath is empty") }
        if spec.logLimitBytes <= 0 { throw fail("logLimitBytes must be positive") }
        if let limit = spec.memoryLimitBytes, limit <= 0 { throw fail("memoryLimitBytes must be positive") }
        if spec.terminationGracePeriod < .zero { throw fail("terminationGracePeriod is negative") }
        let strings = spec.argv + spec.environment.keys + spec.environment.values + [spec.workingDirectory, spec.logPath]
        if strings.contains(where: { $0.utf8.contains(0) }) { throw fail("a string contains a NUL byte") }
        if spec.environment.keys.contains(where: { $0.isEmpty || $0.contains("=") }) { throw fail("an environment name is empty or contains '='") }
        switch spec.readiness {
        case .httpGet(let port, let path)?, .httpsGet(let port, let path)?:
            if !(1...65535).contains(port) { throw fail("readiness port \(port) is not in 1...65535") }
            if !path.hasPrefix("/") || path.unicodeScalars.contains(where: { $0.value <= 0x20 || $0.value == 0x7F }) {
                throw fail("readiness path must start with / and contain no spaces or control characters")
            }
        case .logLine(let needle)?:
            if needle.isEmpty { throw fail("readiness log line is empty") }
        case nil:
            break
        }
    }
}

/// When a pod whose process exited is started again. As in Kubernetes.
public enum RestartPolicy: String, Sendable, Hashable, Codable {
    /// After every exit, including exit code 0.
    case always = "Always"
    /// After an exit that is a failure: non-zero code, a signal, OOMKilled, or an unknown status.
    case onFailure = "OnFailure"
    case never = "Never"

    /// Whether a process that ended in `phase` (`.succeeded` or `.failed`) is started again.
    public func restarts(after phase: PodPhase) -> Bool {
        switch self {
        case .always: true
        case .onFailure: phase == .failed
        case .never: false
        }
    }
}

/// How the driver decides that a running pod is ready.
public enum ReadinessProbe: Sendable, Hashable, Codable {
    /// `GET path` on `127.0.0.1:port`; a 2xx or 3xx answer within the timeout means ready.
    /// Probed periodically for the process's whole life, so readiness can also be lost.
    case httpGet(port: Int, path: String)
    /// `GET path` over TLS, by the driver's `Configuration.httpsProbe` (which holds the client
    /// certificate); never ready without one.
    case httpsGet(port: Int, path: String)
    /// Ready once the substring appears in the log output of the current process; stays ready
    /// until the process exits.
    case logLine(String)
}

public enum PodPhase: String, Sendable, Hashable, Codable {
    /// No process runs yet: waiting to restart (`CrashLoopBackOff`).
    case pending = "Pending"
    /// A process runs (or is being stopped).
    case running = "Running"
    /// The process exited with code 0 and will not be restarted.
    case succeeded = "Succeeded"
    /// The process failed (or was lost) and will not be restarted.
    case failed = "Failed"
}

/// One observation of a pod. `pid`, `pgid`, `processStartTicks` and `startedAt` describe the
/// current process and are nil when no process runs; `exitCode`, `signal` describe the last exit.
public struct PodStatus: Sendable, Hashable {
    public var name: String
    public var phase: PodPhase
    public var ready: Bool
    public var pid: Int32?
    public var pgid: Int32?
    /// Field 22 of `/proc/PID/stat`: clock ticks after boot at which the process started.
    public var processStartTicks: UInt64?
    public var startedAt: Date?
    /// The last exit's code; `128 + signal` when it died of a signal (as a shell reports it).
    public var exitCode: Int32?
    public var signal: Int32?
    /// One of `PodStatus.Reason`: why the pod is not simply running.
    public var reason: String?
    /// Human-readable detail for `reason`.
    public var message: String?
    /// How many times the driver started the pod again after an exit.
    public var restartCount: Int
    /// While in `CrashLoopBackOff`: when the next start is due.
    public var nextRestartAt: Date?
    /// Resident memory of the whole process group at the last sample (about once a second).
    public var residentBytes: Int64?
    /// CPU time (user + system, seconds) of the group's live processes at the same sample: a
    /// counter, as cAdvisor's `container_cpu_usage_seconds_total`.
    public var cpuSeconds: Double?
    public var specHash: String
    public var labels: [String: String]

    public init(
        name: String, phase: PodPhase, ready: Bool = false, pid: Int32? = nil, pgid: Int32? = nil,
        processStartTicks: UInt64? = nil, startedAt: Date? = nil, exitCode: Int32? = nil,
        signal: Int32? = nil, reason: String? = nil, message: String? = nil, restartCount: Int = 0,
        nextRestartAt: Date? = nil, residentBytes: Int64? = nil, specHash: String,
        labels: [String: String] = [:]
    ) {
        self.name = name
        self.phase = phase
        self.ready = ready
        self.pid = pid
        self.pgid = pgid
        self.processStartTicks = processStartTicks
        self.startedAt = startedAt
        self.exitCode = exitCode
        self.signal = signal
        self.reason = reason
        self.message = message
        self.restartCount = restartCount
        self.nextRestartAt = nextRestartAt
        self.residentBytes = residentBytes
        self.specHash = specHash
        self.labels = labels
    }

    /// The values of `reason`, spelled as Kubernetes spells them where it has a name.
    public enum Reason {
        /// Exited with code 0.
        public static let completed = "Completed"
        /// Exited with a non-zero code.
        public static let error = "Error"
        /// Died of a signal the driver did not send for the memory limit.
        public static let killed = "Killed"
        /// Killed by the driver because the group's resident memory exceeded the limit.
        public static let oomKilled = "OOMKilled"
        /// Waiting for the backoff delay before the next start.
        public static let crashLoopBackOff = "CrashLoopBackOff"
        /// A record given to `adopt` named a process that is gone or whose pid now belongs to
        /// another process. Terminal: the caller decides whether to start the pod again.
        public static let lost = "Lost"
        /// An adopted process (not a child of this operator) exited; its exit code cannot be known.
        public static let unknown = "Unknown"
        /// The process could not be spawned (for a restart; a first start throws instead).
        public static let startError = "StartError"
        /// `stop` is in progress.
        public static let terminating = "Terminating"
    }
}

/// What the caller persists so a later operator can adopt the pod: the spec and the identity
/// of its process. Pid and start ticks together name a process uniquely on one boot.
public struct PodRecord: Sendable, Hashable, Codable {
    public var spec: PodSpec
    public var pid: Int32
    public var pgid: Int32
    public var processStartTicks: UInt64
    public var startedAt: Date
    /// Carried across adoption so the count survives an operator restart.
    public var restartCount: Int

    public init(spec: PodSpec, pid: Int32, pgid: Int32, processStartTicks: UInt64, startedAt: Date, restartCount: Int = 0) {
        self.spec = spec
        self.pid = pid
        self.pgid = pgid
        self.processStartTicks = processStartTicks
        self.startedAt = startedAt
        self.restartCount = restartCount
    }

    enum CodingKeys: String, CodingKey { case spec, pid, pgid, processStartTicks, startedAt, restartCount }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        spec = try c.decode(PodSpec.self, forKey: .spec)
        pid = try c.decode(Int32.self, forKey: .pid)
        pgid = try c.decode(Int32.self, forKey: .pgid)
        processStartTicks = try c.decode(UInt64.self, forKey: .processStartTicks)
        startedAt = try c.decode(Date.self, forKey: .startedAt)
        restartCount = try c.decodeIfPresent(Int.self, forKey: .restartCount) ?? 0
    }

    public var name: String { spec.name }
}

/// Something changed; read `status` (or ask the driver) for the state. Events wake a
/// level-based controller: it must not depend on seeing every one (see `ProcessDriver.events`).
public enum PodEvent: Sendable, Hashable {
    /// A process was spawned (first start or restart).
    case started(PodStatus)
    /// The process exited (any reason but the memory limit).
    case exited(PodStatus)
    /// The process group was killed for exceeding its memory limit and has exited. Sent
    /// instead of `exited` for that exit.
    case oomKilled(PodStatus)
    /// A restart was scheduled: the pod is in `CrashLoopBackOff` until `nextRestartAt`.
    case restarting(PodStatus)
    /// Readiness changed, either way: `status.ready` says which.
    case ready(PodStatus)
    /// A `terminate` finished: no process of the group is left and the pod is forgotten.
    case stopped(PodStatus)

    public var status: PodStatus {
        switch self {
        case .started(let s), .exited(let s), .oomKilled(let s), .restarting(let s), .ready(let s), .stopped(let s): s
        }
    }
}

/// FNV-1a, 64 bits: a tiny, stable, non-cryptographic hash.
enum FNV1a64 {
    static func hash(_ bytes: some Sequence<UInt8>) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in bytes {
            h ^= UInt64(b)
            h = h &* 0x0000_0100_0000_01b3
        }
        return h
    }

    static func hex(_ bytes: some Sequence<UInt8>) -> String {
        let s = String(hash(bytes), radix: 16)
        return String(repeating: "0", count: 16 - s.count) + s
    }
}

extension Duration {
    /// The duration in (fractional) seconds.
    var seconds: Double {
        let c = components
        return Double(c.seconds) + Double(c.attoseconds) / 1e18
    }
}
