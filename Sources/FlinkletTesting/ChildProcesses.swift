import Foundation
import Runtime
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The tests' one way to run a program (the `flinklet` binary, `flock`, a shell): Runtime's
/// `ChildProcess`, so every test child is spawned as the product spawns its helpers, never by
/// Foundation's `Process` (whose `run()` on Linux copies 256 bytes per `/proc/self/fd` entry
/// and crashed CI with SIGSEGV in memcpy).

/// What a finished child wrote and how it ended.
public struct CollectedOutput: Sendable, CustomStringConvertible {
    public var termination: ChildProcess.Termination
    public var standardOutput: String
    public var standardError: String

    /// The exit status, or the signal's number when it was killed.
    public var status: Int32 {
        switch termination {
        case .exited(let status), .signaled(let status): status
        }
    }

    /// False when the child died of a signal instead of exiting.
    public var exited: Bool {
        if case .exited = termination { return true }
        return false
    }

    public var description: String {
        "\(termination)\n--- stdout ---\n\(standardOutput)--- stderr ---\n\(standardError)"
    }
}

extension ChildProcess {
    /// Runs `arguments` to completion: feeds it `input` (nil: standard input is /dev/null) and
    /// collects standard output and standard error apart, all at once, so no pipe fills up.
    /// The child gets a process group of its own, as Foundation's `Process` gave it.
    public static func collect(_ arguments: [String], workingDirectory: String? = nil, environment: Environment = .inherit,
                               input: [UInt8]? = nil) throws -> CollectedOutput {
        ignoreSIGPIPE()
        let child = try spawn(arguments, options: Options(
            workingDirectory: workingDirectory, environment: environment, standardInput: input == nil ? .null : .pipe,
            standardOutput: .pipe, standardError: .pipe, newProcessGroup: true))
        var outputs: [[UInt8]] = [[], []]
        Pump.run(input: child.standardInput.map { ($0, input ?? []) },
                 outputs: [child.standardOutput!, child.standardError!]) { index, bytes in outputs[index] += bytes }
        return CollectedOutput(termination: child.wait(), standardOutput: String(decoding: outputs[0], as: UTF8.self),
                               standardError: String(decoding: outputs[1], as: UTF8.self))
    }
}

extension ChildProcess {
    /// SIGTERM, and SIGKILL (to its group, if it has one) when it still runs after `grace`;
    /// returns once it is reaped.
    @discardableResult
    public func terminate(grace: Duration = .seconds(10)) -> Termination {
        signal(SIGTERM)
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: grace)
        while isRunning && clock.now < deadline { usleep(10_000) }
        if isRunning { signalGroup(SIGKILL) }
        return wait()
    }
}

/// A child running in the background (standard input /dev/null, a process group of its own),
/// its standard output and standard error collected as they come by a thread of its own.
/// Released, it is sent SIGTERM and reaped.
public final class BackgroundProcess: Sendable {
    public let process: ChildProcess
    private let collected: Collected

    public init(_ arguments: [String], workingDirectory: String? = nil, environment: ChildProcess.Environment = .inherit) throws {
        process = try ChildProcess.spawn(arguments, options: .init(
            workingDirectory: workingDirectory, environment: environment, standardInput: .null,
            standardOutput: .pipe, standardError: .pipe, newProcessGroup: true))
        let collected = Collected()
        self.collected = collected
        let outputs = [process.standardOutput!, process.standardError!]
        Thread.detachNewThread {
            Pump.run(input: nil, outputs: outputs) { index, bytes in collected.append(bytes, to: index) }
            collected.finish()
        }
    }

    public var standardOutput: String { collected.text(0) }
    public var standardError: String { collected.text(1) }

    /// Waits up to `timeout` for the child to exit, then (up to 2 s more) for what it wrote
    /// to be collected; nil if it still runs.
    @discardableResult
    public func waitForExit(timeout: Duration) -> ChildProcess.Termination? {
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: timeout)
        while process.isRunning && clock.now < deadline { usleep(10_000) }
        guard let termination = process.poll() else { return nil }
        collected.waitUntilFinished(timeout: .seconds(2))
        return termination
    }

    /// SIGTERM unless it has exited; waits for it and for its output.
    @discardableResult
    public func stop() -> ChildProcess.Termination {
        process.signal(SIGTERM)
        let termination = process.wait()
        collected.waitUntilFinished(timeout: .seconds(2))
        return termination
    }

    deinit { stop() }

    private final class Collected: Sendable {
        private let state = Mutex<(outputs: [[UInt8]], finished: Bool)>(([[], []], false))

        func append(_ bytes: [UInt8], to index: Int) { state.withLock { $0.outputs[index] += bytes } }
        func finish() { state.withLock { $0.finished = true } }
        func text(_ index: Int) -> String { state.withLock { String(decoding: $0.outputs[index], as: UTF8.self) } }

        func waitUntilFinished(timeout: Duration) {
            let clock = ContinuousClock()
            let deadline = clock.now.advanced(by: timeout)
            while !state.withLock({ $0.finished }) && clock.now < deadline { usleep(5_000) }
        }
    }
}

/// Writes to a pipe whose reader has gone must fail with EPIPE, not kill the test process.
private let ignoringSIGPIPE: Void = { _ = signal(SIGPIPE, SIG_IGN) }()
private func ignoreSIGPIPE() { _ = ignoringSIGPIPE }

/// Moves bytes between this process and a child's pipes with poll(2), on the calling thread:
/// `input` is written as the child reads it, `outputs` are read until end of file.
private enum Pump {
    static func run(input: (end: PipeEnd, bytes: [UInt8])?, outputs: [PipeEnd], received: (Int, [UInt8]) -> Void) {
        var open = Array(outputs.indices)
        var writer = input?.end
        var pending = input?.bytes[...] ?? []
        if let writer {
            if pending.isEmpty {
                writer.close()
            } else {
                _ = fcntl(writer.fileDescriptor, F_SETFL, fcntl(writer.fileDescriptor, F_GETFL) | O_NONBLOCK)
            }
        }
        if pending.isEmpty { writer = nil }
        while !open.isEmpty || writer != nil {
            var fds = open.map { pollfd(fd: outputs[$0].fileDescriptor, events: Int16(POLLIN), revents: 0) }
            if let writer { fds.append(pollfd(fd: writer.fileDescriptor, events: Int16(POLLOUT), revents: 0)) }
            let ready = poll(&fds, nfds_t(fds.count), -1)
            if ready < 0 {
                if errno == EINTR { continue }
                return
            }
            if let end = writer, fds[fds.count - 1].revents != 0 {
                let n = pending.withUnsafeBytes { write(end.fileDescriptor, $0.baseAddress, min($0.count, 65_536)) }
                if n > 0 { pending = pending.dropFirst(n) }
                if pending.isEmpty || (n < 0 && errno != EAGAIN && errno != EINTR) {
                    end.close()  // end of file for the child, or it stopped reading
                    writer = nil
                }
            }
            for (slot, index) in open.enumerated().reversed() where fds[slot].revents != 0 {
                if let bytes = outputs[index].read() {
                    received(index, bytes)
                } else {
                    outputs[index].close()
                    open.remove(at: slot)
                }
            }
        }
    }
}

/// Writes `text` to the executable file `path` (mode 0755) without this process ever holding
/// it open for writing.
///
/// A test that writes a script and then runs it races with every other test thread that
/// spawns a child meanwhile: the child is a copy of this process until its `exec`, descriptors
/// included, and while any process holds the script open for writing, `exec` of it fails with
/// `ETXTBSY` ("Text file busy", seen in CI-like runs). So the text goes to a scratch file that
/// is never executed, and `install(1)`, in a process of its own, writes the executable.
public func writeExecutable(_ text: String, to path: String) throws {
    let scratch = path + ".source-\(UUID().uuidString.prefix(8))"
    try text.write(toFile: scratch, atomically: false, encoding: .utf8)
    defer { unlink(scratch) }
    let result = try ChildProcess.collect(["install", "-m", "755", scratch, path])
    guard result.exited && result.status == 0 else {
        throw POSIXError(.EIO, userInfo: [NSLocalizedDescriptionKey: "install \(path): \(result)"])
    }
}
