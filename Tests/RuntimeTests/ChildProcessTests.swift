import FlinkletTesting
import Foundation
import Runtime
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Helper processes (`ChildProcess`): spawned as pods are, argv never through a shell, reaped
/// exactly once; and the tests' `collect` / `BackgroundProcess` built on them.
@Suite struct ChildProcessTests {
    @Test func argumentsReachTheProgramAsGivenWithNoShellInBetween() throws {
        let output = try ChildProcess.collect(["/bin/echo", "$HOME", "a  b", "'q'", "`id`;", "*"])
        #expect(output.termination == .exited(0))
        #expect(output.standardOutput == "$HOME a  b 'q' `id`; *\n")
    }

    @Test func exitStatusesAndSignalsAreReportedApart() throws {
        #expect(try ChildProcess.collect(["/bin/sh", "-c", "exit 3"]).termination == .exited(3))
        #expect(try ChildProcess.collect(["/bin/sh", "-c", "kill -TERM $$"]).termination == .signaled(SIGTERM))
    }

    @Test func aMissingProgramOrDirectoryIsThrownNotReportedAsAnExit() throws {
        let name = "no-such-program-\(UUID().uuidString.prefix(6))"
        #expect(throws: ChildProcessError.notFound(program: name)) { try ChildProcess.spawn([name]) }
        do {
            _ = try ChildProcess.spawn(["/bin/true"], options: .init(workingDirectory: "/nonexistent-\(UUID().uuidString)"))
            Issue.record("a missing working directory must fail the spawn")
        } catch {
            guard case .failed(_, _, let code) = error else { Issue.record("\(error)"); return }
            #expect(code == ENOENT)
        }
    }

    @Test func aProgramNameIsLookedUpOnTheChildsPath() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try writeExecutable("#!/bin/sh\necho found \"$@\"\n", to: directory + "/helper")
        let output = try ChildProcess.collect(["helper", "x"], environment: .exactly(["PATH": directory]))
        #expect(output.standardOutput == "found x\n", "\(output)")
    }

    @Test func theChildGetsOnlyItsStandardDescriptorsDefaultSignalsAndItsWorkingDirectory() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // A descriptor opened without O_CLOEXEC, as careless code does.
        let leaky = open("/dev/null", O_RDONLY)
        defer { close(leaky) }
        let signals = signal(SIGUSR1, SIG_IGN)
        defer { signal(SIGUSR1, signals) }
        // A shell lists its own descriptors while it waits for ls. Read from outside right
        // after spawn, /proc/PID/fd can show a file the new program opens as it starts, which
        // is no leak (CI saw [0, 1, 2, 3]; measured: sleep's locale file as descriptor 3, 1 in
        // 8,000 spawns under load).
        let listing = try ChildProcess.collect(["/bin/sh", "-c", "ls /proc/$$/fd"])
        #expect(listing.termination == .exited(0))
        #expect(listing.standardOutput.split(separator: "\n").compactMap { Int($0) }.sorted() == [0, 1, 2], "\(listing)")
        let child = try ChildProcess.spawn(["/bin/sleep", "30"], options: .init(workingDirectory: directory, newProcessGroup: true))
        defer { child.terminate() }
        let status = try String(contentsOfFile: "/proc/\(child.pid)/status", encoding: .utf8).split(separator: "\n")
        // glibc's own signals (32, 33) stay as they are; every other one is back to its default.
        let ignored = try #require(status.first { $0.hasPrefix("SigIgn:") }.flatMap { UInt64($0.dropFirst(7).trimmingCharacters(in: .whitespaces), radix: 16) })
        #expect(ignored & ((1 << 31) - 1) == 0, "ignored: \(String(ignored, radix: 16))")
        #expect(status.contains("SigBlk:\t0000000000000000"), "\(status)")
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(child.pid)/cwd") == directory)
        #expect(child.processGroup == child.pid && getpgid(child.pid) == child.pid)
    }

    @Test func environmentsAreInheritedExtendedOrExact() throws {
        let exact = try ChildProcess.collect(["/usr/bin/env"], environment: .exactly(["A": "1", "B": "two words"]))
        #expect(exact.standardOutput == "A=1\nB=two words\n")
        let added = try ChildProcess.collect(["/usr/bin/env"], environment: .inherit(adding: ["FLINKLET_CHILD_TEST": "x"]))
        let lines = added.standardOutput.split(separator: "\n")
        #expect(lines.contains("FLINKLET_CHILD_TEST=x"))
        #expect(lines.contains { $0.hasPrefix("PATH=") })
    }

    @Test func standardOutputAndStandardErrorToOneFileShareIt() async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let log = directory + "/log"
        try "old content that is truncated\n".write(toFile: log, atomically: true, encoding: .utf8)
        let termination = try await ChildProcess.run(["/bin/sh", "-c", "echo one; echo two >&2; echo three"],
                                                     options: .init(standardOutput: .file(log), standardError: .file(log)),
                                                     timeout: .seconds(30))
        #expect(termination == .exited(0))
        #expect(try String(contentsOfFile: log, encoding: .utf8) == "one\ntwo\nthree\n")
    }

    @Test func runKillsTheWholeGroupOnceTheTimeoutPasses() async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let started = ContinuousClock.now
        let termination = try await ChildProcess.run(["/bin/sh", "-c", "sleep 60 & echo $! > \"$0\"; wait", directory + "/pid"],
                                                     options: .init(newProcessGroup: true), timeout: .milliseconds(300))
        #expect(termination == .signaled(SIGKILL))
        #expect(ContinuousClock.now - started < .seconds(30))
        let grandchild = try #require(Int32(try String(contentsOfFile: directory + "/pid", encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)))
        // The sleep, reparented, is reaped by init once killed.
        #expect(await eventually(timeout: .seconds(10)) { kill(grandchild, 0) != 0 })
    }

    @Test func inputLargerThanAPipeIsFedWhileBothOutputsAreDrained() throws {
        let input = (0..<200_000).map { "line \($0)\n" }.joined()
        let output = try ChildProcess.collect(["/bin/sh", "-c", "tee /dev/stderr"], input: Array(input.utf8))
        #expect(output.termination == .exited(0))
        #expect(output.standardOutput == input)
        #expect(output.standardError == input)
    }

    @Test func aChildIsReapedOnceAndItsExitKept() async throws {
        let child = try ChildProcess.spawn(["/bin/sh", "-c", "exit 7"])
        #expect(child.wait() == .exited(7))
        #expect(child.poll() == .exited(7))
        #expect(await child.wait(timeout: .zero) == .exited(7))
        #expect(!child.isRunning)
        child.signal(SIGKILL)  // reaped: nothing is sent
        #expect(kill(child.pid, 0) != 0, "no zombie left")
    }

    @Test func aBackgroundProcessCollectsOutputAsItComes() async throws {
        let running = try BackgroundProcess(["/bin/sh", "-c", "echo first; echo err >&2; exec sleep 30"])
        #expect(await eventually(timeout: .seconds(10)) { running.standardOutput == "first\n" && running.standardError == "err\n" })
        #expect(running.process.isRunning)
        #expect(running.stop() == .signaled(SIGTERM))
    }

    private func temporaryDirectory() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("flinklet-child-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return (path as NSString).resolvingSymlinksInPath
    }
}
