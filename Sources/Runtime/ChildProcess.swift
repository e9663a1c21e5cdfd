import CSystemShims
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A helper process this one starts and waits for: a JVM tool, a user's diff program, or in
/// tests the `flinklet` binary itself. Not for pods (`LocalProcessDriver` supervises those).
///
/// Guarantees:
/// - Spawned by `posix_spawn` (`ChildSpawn`), never through a shell: `arguments` is the
///   child's argv as given, `arguments[0]` resolved on the child's `PATH` unless it holds a
///   slash. The child has default signal dispositions, an empty signal mask, and none of this
///   process's descriptors but 0, 1 and 2 as the options say.
/// - Reaped with `waitpid` on exactly its pid (never `waitpid(-1)`), once; the exit is kept,
///   so `poll`, `wait` and `isRunning` may be called from any thread, any number of times.
/// - Until it is reaped, its pid (and with `newProcessGroup`, its group id) cannot name another
///   process, so `signal` and `signalGroup` never reach a stranger; after, they do nothing.
///
/// Caveats: a child still running when its `ChildProcess` is released is neither killed nor
/// reaped (it stays a zombie once it exits, until this process ends): wait for what you start.
/// Reading the environment for `Environment.inherit` assumes no thread calls setenv meanwhile.
public final class ChildProcess: Sendable {
    /// How a child ended.
    public enum Termination: Sendable, Hashable, CustomStringConvertible {
        case exited(Int32)
        case signaled(Int32)

        public var description: String {
            switch self {
            case .exited(let status): "exit status \(status)"
            case .signaled(let signal): "killed by signal \(signal)"
            }
        }
    }

    /// One of the child's standard streams.
    public struct Stream: Sendable, Hashable {
        enum Kind: Hashable { case inherit, null, file(String), pipe }
        let kind: Kind

        /// This process's own descriptor.
        public static let inherit = Stream(kind: .inherit)
        /// `/dev/null`.
        public static let null = Stream(kind: .null)
        /// A file, created or truncated, written in append mode; standard output and standard
        /// error naming the same path share one open file, so neither overwrites the other.
        public static func file(_ path: String) -> Stream { Stream(kind: .file(path)) }
        /// A pipe whose other end this process gets (`standardInput`, `standardOutput`,
        /// `standardError`).
        public static let pipe = Stream(kind: .pipe)
    }

    /// The child's environment.
    public struct Environment: Sendable, Hashable {
        enum Kind: Hashable { case inherit, inheritAdding([String: String]), exactly([String: String]) }
        let kind: Kind

        /// This process's environment at the moment of the spawn.
        public static let inherit = Environment(kind: .inherit)
        /// This process's environment with `variables` set over it.
        public static func inherit(adding variables: [String: String]) -> Environment {
            variables.isEmpty ? .inherit : Environment(kind: .inheritAdding(variables))
        }
        /// Exactly `variables`.
        public static func exactly(_ variables: [String: String]) -> Environment { Environment(kind: .exactly(variables)) }
    }

    public struct Options: Sendable {
        /// nil: this process's working directory.
        public var workingDirectory: String?
        public var environment: Environment
        public var standardInput: Stream
        public var standardOutput: Stream
        public var standardError: Stream
        /// A process group of the child's own (id: its pid), so `signalGroup` reaches what it
        /// starts in turn, and a terminal's Ctrl-C, meant for this process, does not reach it.
        public var newProcessGroup: Bool

        public init(workingDirectory: String? = nil, environment: Environment = .inherit, standardInput: Stream = .inherit,
                    standardOutput: Stream = .inherit, standardError: Stream = .inherit, newProcessGroup: Bool = false) {
            self.workingDirectory = workingDirectory
            self.environment = environment
            self.standardInput = standardInput
            self.standardOutput = standardOutput
            self.standardError = standardError
            self.newProcessGroup = newProcessGroup
        }
    }

    public let pid: Int32
    /// With `newProcessGroup`: the child's group id (its pid).
    public let processGroup: Int32?
    /// The writing end of the child's standard input, when it is `.pipe`.
    public let standardInput: PipeEnd?
    /// The reading end of the child's standard output, when it is `.pipe`.
    public let standardOutput: PipeEnd?
    /// The reading end of the child's standard error, when it is `.pipe`.
    public let standardError: PipeEnd?
    private let termination = Mutex<Termination?>(nil)

    private init(pid: Int32, processGroup: Int32?, standardInput: PipeEnd?, standardOutput: PipeEnd?, standardError: PipeEnd?) {
        self.pid = pid
        self.processGroup = processGroup
        self.standardInput = standardInput
        self.standardOutput = standardOutput
        self.standardError = standardError
    }

    /// Starts `arguments[0]` with `arguments`; returns once it runs (an exec failure, such as a
    /// file that is not executable, is thrown, not reported as an exit status).
    public static func spawn(_ arguments: [String], options: Options = Options()) throws(ChildProcessError) -> ChildProcess {
        guard let name = arguments.first, !name.isEmpty else { throw .notFound(program: "") }
        let environment: [String]?
        let path: String?
        switch options.environment.kind {
        case .inherit:
            environment = nil
            path = getenv("PATH").map { String(cString: $0) }
        case .inheritAdding(let variables):
            let merged = ProcessInfo.processInfo.environment.merging(variables) { $1 }
            environment = merged.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
            path = merged["PATH"]
        case .exactly(let variables):
            environment = variables.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
            path = variables["PATH"]
        }
        let program: String
        do {
            program = try Spawner.resolve(name, path: path, name: name)
        } catch {
            throw .notFound(program: name)
        }

        // Descriptors opened here are O_CLOEXEC: only the child's dup2 copies survive its exec.
        var opened: [Int32] = []  // closed once the child has its copies
        var parentEnds: [Int32?] = [nil, nil, nil]
        var files: [String: Int32] = [:]
        func fail(_ operation: String, _ code: Int32) -> ChildProcessError {
            for fd in opened + parentEnds.compactMap({ $0 }) { close(fd) }
            return .failed(program: name, operation: operation, errno: code)
        }
        var streams: [ChildSpawn.StandardStream] = []
        for (target, stream) in zip(Int32(0)..., [options.standardInput, options.standardOutput, options.standardError]) {
            switch stream.kind {
            case .inherit:
                streams.append(.inherit)
            case .null:
                streams.append(.open("/dev/null", target == 0 ? O_RDONLY : O_WRONLY))
            case .file(let path):
                if let fd = files[path] {
                    streams.append(.descriptor(fd))
                    continue
                }
                let flags = target == 0 ? O_RDONLY : O_WRONLY | O_CREAT | O_TRUNC | O_APPEND
                let fd = open(path, flags | O_CLOEXEC, 0o644)
                guard fd >= 0 else { throw fail("open \(path)", errno) }
                opened.append(fd)
                files[path] = fd
                streams.append(.descriptor(fd))
            case .pipe:
                var fds: [Int32] = [-1, -1]
                guard flinklet_pipe_cloexec(&fds) == 0 else { throw fail("pipe2", errno) }
                // fds[0] reads, fds[1] writes: the child reads its standard input.
                let (childEnd, parentEnd) = target == 0 ? (fds[0], fds[1]) : (fds[1], fds[0])
                opened.append(childEnd)
                parentEnds[Int(target)] = parentEnd
                streams.append(.descriptor(childEnd))
            }
        }
        let result = ChildSpawn.spawn(program: program, argv: arguments, environment: environment, standardStreams: streams,
                                      workingDirectory: options.workingDirectory,
                                      placement: options.newProcessGroup ? .newGroup : .inherit)
        switch result {
        case .failure(let failure):
            throw fail(failure.operation, failure.errno)
        case .success(let pid):
            for fd in opened { close(fd) }
            return ChildProcess(pid: pid, processGroup: options.newProcessGroup ? pid : nil,
                                standardInput: parentEnds[0].map(PipeEnd.init), standardOutput: parentEnds[1].map(PipeEnd.init),
                                standardError: parentEnds[2].map(PipeEnd.init))
        }
    }

    /// Runs a helper to completion: its exit, or after `timeout` it (with `newProcessGroup`: its
    /// whole group) is SIGKILLed and reaped, and the exit is `.signaled(SIGKILL)`.
    public static func run(_ arguments: [String], options: Options = Options(), timeout: Duration) async throws(ChildProcessError) -> Termination {
        let child = try spawn(arguments, options: options)
        if let termination = await child.wait(timeout: timeout) { return termination }
        child.signalGroup(SIGKILL)
        return child.wait()
    }

    // MARK: Exit

    /// The exit, reaping the child if it has just ended; nil while it runs.
    public func poll() -> Termination? {
        termination.withLock { termination in
            if let termination { return termination }
            var status: Int32 = 0
            var w: pid_t
            repeat { w = waitpid(pid, &status, WNOHANG) } while w == -1 && errno == EINTR
            if w == pid {
                termination = Self.termination(status)
            } else if w == -1 {
                // ECHILD: reaped by someone else's waitpid(-1); how it ended is lost.
                termination = .signaled(0)
            }
            return termination
        }
    }

    public var isRunning: Bool { poll() == nil }

    /// Blocks the calling thread until the child exits.
    public func wait() -> Termination {
        while true {
            if let termination = poll() { return termination }
            // Waits without reaping (WNOWAIT), so no lock is held while blocked; poll reaps.
            var info = siginfo_t()
            let r = waitid(P_PID, id_t(pid), &info, WEXITED | WNOWAIT)
            if r == -1 && errno != EINTR, let termination = poll() { return termination }
        }
    }

    /// Waits up to `timeout` for the child to exit, without blocking a thread; nil if it still
    /// runs then (or the task was cancelled).
    public func wait(timeout: Duration) async -> Termination? {
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: timeout)
        var pause = Duration.milliseconds(1)
        while true {
            if let termination = poll() { return termination }
            if clock.now >= deadline || Task.isCancelled { return nil }
            try? await Task.sleep(for: min(pause, deadline - clock.now))
            pause = min(pause * 2, .milliseconds(50))
        }
    }

    // MARK: Signals

    /// Sends `signal` to the child, unless it has been reaped.
    public func signal(_ signal: Int32) {
        termination.withLock { termination in
            if termination == nil { _ = kill(pid, signal) }
        }
    }

    /// Sends `signal` to the child's process group (without `newProcessGroup`: to the child
    /// alone), unless the child has been reaped.
    public func signalGroup(_ signal: Int32) {
        termination.withLock { termination in
            if termination == nil { _ = kill(processGroup.map { -$0 } ?? pid, signal) }
        }
    }

    private static func termination(_ status: Int32) -> Termination {
        // WIFEXITED / WEXITSTATUS / WTERMSIG, which Swift does not import (macros).
        let signal = status & 0x7F
        return signal == 0 ? .exited((status >> 8) & 0xFF) : .signaled(signal)
    }
}

/// This process's end of a pipe to a child: closed once, by `close()` or on release.
public final class PipeEnd: Sendable {
    public let fileDescriptor: Int32
    private let closed = Mutex(false)

    init(_ fileDescriptor: Int32) {
        self.fileDescriptor = fileDescriptor
    }

    /// Reads what is there, blocking until something is: nil at end of file or on an error.
    public func read(maximum: Int = 65_536) -> [UInt8]? {
        var buffer = [UInt8](repeating: 0, count: maximum)
        while true {
            let n = buffer.withUnsafeMutableBytes { Glibc.read(fileDescriptor, $0.baseAddress, maximum) }
            if n > 0 { return Array(buffer[..<n]) }
            if n == -1 && errno == EINTR { continue }
            return nil
        }
    }

    /// Reads until end of file.
    public func readToEnd() -> [UInt8] {
        var data: [UInt8] = []
        while let chunk = read() { data += chunk }
        return data
    }

    /// Writes all of `bytes`; false when the reader has gone (EPIPE: SIGPIPE must be ignored) or
    /// on another error.
    @discardableResult
    public func write(_ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { Glibc.write(fileDescriptor, $0.baseAddress, $0.count) }
            if n > 0 {
                offset += n
            } else if !(n == -1 && errno == EINTR) {
                return false
            }
        }
        return true
    }

    public func close() {
        closed.withLock { closed in
            if !closed { _ = Glibc.close(fileDescriptor) }
            closed = true
        }
    }

    deinit { close() }
}

public enum ChildProcessError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Not an executable file on the child's `PATH` (or at the path given).
    case notFound(program: String)
    /// `posix_spawn` or a preparation step failed (errno).
    case failed(program: String, operation: String, errno: Int32)

    public var description: String {
        switch self {
        case .notFound(let program): "executable \"\(program)\" not found"
        case .failed(let program, let operation, let code):
            "\(program): \(operation) failed: \(String(cString: strerror(code))) (errno \(code))"
        }
    }
}
