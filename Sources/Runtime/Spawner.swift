import CSystemShims
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Spawns one pod process: a new session (so a new process group whose id is the pid),
/// stdin from /dev/null, stdout and stderr appended to the log file, default signal
/// dispositions and an empty signal mask, and no other file descriptor of the operator.
enum Spawner {
    struct Spawned {
        var pid: Int32
        var stat: ProcessStat
        /// Size of the log file just before the spawn: where this process's output begins.
        var logOffset: Int64
    }

    /// With a `marker`, the pod's spec is written to the marker's spec file first and the marker
    /// variables are set over everything else (see `PodMarker`).
    static func spawn(_ spec: PodSpec, baseEnvironment: [String: String], marker: PodMarker? = nil) throws(DriverError) -> Spawned {
        let name = spec.name
        var environment = baseEnvironment
        environment.merge(spec.environment) { _, new in new }
        if let marker {
            try marker.writeSpec(spec)
            environment.merge(marker.environment(for: name)) { _, new in new }
        }

        // Directories first: the log's parent and the tmp directory are the driver's to create.
        let logDirectory = (spec.logPath as NSString).deletingLastPathComponent
        if !logDirectory.isEmpty {
            try makeDirectory(logDirectory, name: name)
        }
        var createdTmp: String?
        if let tmp = spec.tmpDirectory, access(tmp, F_OK) != 0 {
            try makeDirectory(tmp, name: name)
            createdTmp = tmp
        }
        do {
            return try spawnPrepared(spec, environment: environment)
        } catch {
            // A pod that never started leaves nothing behind.
            if let createdTmp { try? FileManager.default.removeItem(atPath: createdTmp) }
            throw error
        }
    }

    private static func spawnPrepared(_ spec: PodSpec, environment: [String: String]) throws(DriverError) -> Spawned {
        let name = spec.name
        let program = try resolve(spec.argv[0], path: environment["PATH"], name: name)

        // O_CLOEXEC: only the dup2 copies (0, 1, 2) survive exec. Keep it above 2 so the
        // dup2 actions always copy (dup2(fd, fd) would keep FD_CLOEXEC set).
        var logFD = open(spec.logPath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
        guard logFD >= 0 else { throw .spawnFailed(name: name, operation: "open \(spec.logPath)", errno: errno) }
        if logFD <= 2 {
            let moved = fcntl(logFD, F_DUPFD_CLOEXEC, 3)
            close(logFD)
            guard moved >= 0 else { throw .spawnFailed(name: name, operation: "fcntl(F_DUPFD_CLOEXEC)", errno: errno) }
            logFD = moved
        }
        defer { close(logFD) }
        var info = Glibc.stat()
        let logOffset: Int64 = fstat(logFD, &info) == 0 ? Int64(info.st_size) : 0

        guard GNUSpawnActions.addChdir != nil else {
            throw .spawnFailed(name: name, operation: "posix_spawn_file_actions_addchdir_np (glibc 2.29 or newer)", errno: ENOSYS)
        }
        let envp = environment.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
        let pid: pid_t
        switch ChildSpawn.spawn(program: program, argv: spec.argv, environment: envp,
                                standardStreams: [.open("/dev/null", O_RDONLY), .descriptor(logFD), .descriptor(logFD)],
                                workingDirectory: spec.workingDirectory, placement: .newSession) {
        case .success(let spawned): pid = spawned
        case .failure(let failure): throw .spawnFailed(name: name, operation: failure.operation, errno: failure.errno)
        }
        // The child is ours and unreaped, so its stat exists (as a zombie at worst).
        let stat = ProcessInfoReader.stat(pid: pid)
            ?? ProcessStat(pid: pid, state: "Z", parentPID: getpid(), pgid: pid, sessionID: pid, startTicks: 0, residentPages: 0)
        return Spawned(pid: pid, stat: stat, logOffset: logOffset)
    }

    /// `mkdir -p`, reporting errno.
    static func makeDirectory(_ path: String, name: String) throws(DriverError) {
        var info = Glibc.stat()
        if stat(path, &info) == 0 {
            guard (info.st_mode & S_IFMT) == S_IFDIR else { throw .spawnFailed(name: name, operation: "mkdir \(path)", errno: ENOTDIR) }
            return
        }
        let parent = (path as NSString).deletingLastPathComponent
        if !parent.isEmpty && parent != path {
            try makeDirectory(parent, name: name)
        }
        if mkdir(path, 0o700) != 0 && errno != EEXIST {
            throw .spawnFailed(name: name, operation: "mkdir \(path)", errno: errno)
        }
    }

    /// `program` itself when it holds a slash, else the first executable regular file named
    /// so in `path` (the pod's `PATH`, not the operator's).
    static func resolve(_ program: String, path: String?, name: String) throws(DriverError) -> String {
        if program.contains("/") { return program }
        for directory in (path ?? "/usr/local/bin:/usr/bin:/bin").split(separator: ":") {
            let candidate = "\(directory)/\(program)"
            var info = Glibc.stat()
            if stat(candidate, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG, access(candidate, X_OK) == 0 {
                return candidate
            }
        }
        throw .executableNotFound(name: name, program: program)
    }
}

/// The one `posix_spawn` of this module, for pods (`Spawner`) and helper processes
/// (`ChildProcess`) alike. What every child gets: default signal dispositions (an ignored
/// SIGPIPE would survive exec), an empty signal mask, only descriptors 0, 1 and 2 of ours
/// (everything else closed in the child, including descriptors other code opened without
/// `O_CLOEXEC`), and `argv` exactly as given: never a shell in between.
enum ChildSpawn {
    /// What one of the child's descriptors 0, 1 and 2 is.
    enum StandardStream {
        /// This process's own.
        case inherit
        /// A file opened in the child (`/dev/null`).
        case open(String, Int32)
        /// A copy of one of this process's descriptors.
        case descriptor(Int32)
    }

    enum Placement {
        /// This process's group and session (a terminal's Ctrl-C reaches the child too).
        case inherit
        /// A process group of its own whose id is the child's pid.
        case newGroup
        /// A session, and so a process group, of its own (pods).
        case newSession
    }

    struct Failure: Error {
        var operation: String
        var errno: Int32
    }

    /// Spawns `program` (a path: callers resolve names on `PATH`) with `argv`, and `environment`
    /// as `NAME=value` strings (nil: this process's own). Returns the child's pid.
    static func spawn(program: String, argv: [String], environment: [String]?, standardStreams: [StandardStream],
                      workingDirectory: String?, placement: Placement) -> Result<pid_t, Failure> {
        precondition(standardStreams.count == 3, "one stream each for descriptors 0, 1 and 2")
        // A source descriptor must lie above 2, so no dup2 overwrites another's source and
        // dup2(fd, fd), which keeps FD_CLOEXEC set, never happens.
        var sources: [Int32: Int32] = [:]
        defer { for moved in sources.values { close(moved) } }
        for case .descriptor(let fd) in standardStreams where fd <= 2 && sources[fd] == nil {
            let moved = fcntl(fd, F_DUPFD_CLOEXEC, 3)
            guard moved >= 0 else { return .failure(Failure(operation: "fcntl(F_DUPFD_CLOEXEC)", errno: errno)) }
            sources[fd] = moved
        }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }

        for (target, stream) in zip(Int32(0)..., standardStreams) {
            switch stream {
            case .inherit: break
            case .open(let path, let flags): posix_spawn_file_actions_addopen(&actions, target, path, flags, 0)
            case .descriptor(let fd): posix_spawn_file_actions_adddup2(&actions, sources[fd] ?? fd, target)
            }
        }
        // Closes everything else, including descriptors other code opened without O_CLOEXEC.
        if let closeFrom = GNUSpawnActions.addCloseFrom {
            let rc = closeFrom(&actions, 3)
            guard rc == 0 else { return .failure(Failure(operation: "posix_spawn_file_actions_addclosefrom_np", errno: rc)) }
        } else {
            for fd in ProcessInfoReader.openFileDescriptors(pid: getpid()) where fd > 2 {
                posix_spawn_file_actions_addclose(&actions, fd)
            }
        }
        if let workingDirectory {
            guard let addChdir = GNUSpawnActions.addChdir else {
                return .failure(Failure(operation: "posix_spawn_file_actions_addchdir_np (glibc 2.29 or newer)", errno: ENOSYS))
            }
            let rc = workingDirectory.withCString { addChdir(&actions, $0) }
            guard rc == 0 else { return .failure(Failure(operation: "posix_spawn_file_actions_addchdir_np", errno: rc)) }
        }

        var flags = Int32(POSIX_SPAWN_SETSIGMASK) | Int32(POSIX_SPAWN_SETSIGDEF)
        switch placement {
        case .inherit: break
        case .newGroup:
            flags |= Int32(POSIX_SPAWN_SETPGROUP)
            posix_spawnattr_setpgroup(&attributes, 0)
        case .newSession: flags |= Int32(flinklet_posix_spawn_setsid)
        }
        posix_spawnattr_setflags(&attributes, Int16(flags))
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        // Ignored dispositions survive exec: reset every signal (SIGPIPE above all) to default.
        var allSignals = sigset_t()
        sigfillset(&allSignals)
        posix_spawnattr_setsigdefault(&attributes, &allSignals)

        let argvStrings = CStringArray(argv)
        let envpStrings = environment.map(CStringArray.init)
        var pid: pid_t = 0
        let spawnResult = argvStrings.withPointer { argvPointer in
            if let envpStrings {
                envpStrings.withPointer { posix_spawn(&pid, program, &actions, &attributes, argvPointer, $0) }
            } else {
                posix_spawn(&pid, program, &actions, &attributes, argvPointer, flinklet_environ())
            }
        }
        guard spawnResult == 0 else {
            return .failure(Failure(operation: "posix_spawn \(program)" + (workingDirectory.map { " in \($0)" } ?? ""), errno: spawnResult))
        }
        return .success(pid)
    }
}

/// glibc's `_np` spawn file actions, which Swift's Glibc module does not import (they are
/// declared under `_GNU_SOURCE`); looked up once by symbol.
enum GNUSpawnActions {
    typealias AddCloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>?, Int32) -> Int32
    typealias AddChdir = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>?, UnsafePointer<CChar>?) -> Int32

    static let addCloseFrom: AddCloseFrom? = symbol("posix_spawn_file_actions_addclosefrom_np")
    static let addChdir: AddChdir? = symbol("posix_spawn_file_actions_addchdir_np")

    private static func symbol<T>(_ name: String) -> T? {
        guard let handle = dlopen(nil, RTLD_NOW), let pointer = dlsym(handle, name) else { return nil }
        return unsafeBitCast(pointer, to: T.self)
    }
}

/// A NULL-terminated array of C strings that lives as long as the value.
final class CStringArray {
    private var pointers: [UnsafeMutablePointer<CChar>?]

    init(_ strings: [String]) {
        pointers = strings.map { strdup($0) } + [nil]
    }

    deinit {
        for p in pointers { free(p) }
    }

    func withPointer<R>(_ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) -> R) -> R {
        pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
    }
}
