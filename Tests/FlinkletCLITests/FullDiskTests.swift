import FlinkletTesting
import Foundation
import Runtime
import Store
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The state directory's file system fills up under a running operator (the command engine, a
/// real `flinklet run`): the errors name the resource and the path, the operator keeps running
/// and its pods with it, `state.db` stays intact (`PRAGMA integrity_check`), and once space
/// returns what was asked meanwhile happens.
@Suite(.serialized) struct FullDiskTests {
    /// Mounts an 8 MiB tmpfs on `path`; nil (with the reason) when this process may not mount.
    static func mountSmallFileSystem(at path: String) -> String? {
        guard let result = try? ChildProcess.collect(["mount", "-t", "tmpfs", "-o", "size=8m,mode=0700", "tmpfs", path]) else {
            return "mount could not be run"
        }
        return result.status == 0 ? nil : "mount -t tmpfs failed: \(result.standardError.trimmingCharacters(in: .whitespacesAndNewlines))"
    }

    static func unmount(_ path: String) {
        _ = try? ChildProcess.collect(["umount", "-l", path])
    }

    /// Writes zeros to `path` until the file system is full; returns the bytes written.
    static func fill(_ path: String) -> Int {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return 0 }
        defer { close(fd) }
        let chunk = [UInt8](repeating: 0, count: 64 * 1024)
        var total = 0
        while true {
            let n = chunk.withUnsafeBytes { write(fd, $0.baseAddress!, $0.count) }
            if n <= 0 { break }
            total += n
        }
        // The last pages: whatever is left, a byte at a time would take long; 4 KiB does.
        let small = [UInt8](repeating: 0, count: 4096)
        while small.withUnsafeBytes({ write(fd, $0.baseAddress!, $0.count) }) > 0 { total += 4096 }
        return total
    }

    static func manifest(_ name: String, _ marker: String) -> String {
        """
        apiVersion: flink.apache.org/v1beta1
        kind: FlinkDeployment
        metadata:
          name: \(name)
          annotations:
            flinklet.dev/command: "sleep 310; : \(marker)"
        spec:
          flinkVersion: v2_3
          mode: session
        """
    }

    @Test func aFullDiskGivesClearErrorsNeverACorruptDatabaseAndTheOperatorCatchesUpWhenSpaceReturns() throws {
        try withScratchDirectory { dir in
            try dir.makeDirectory("manifests")
            try dir.makeDirectory("state")
            let state = dir.path + "/state"
            if let reason = Self.mountSmallFileSystem(at: state) {
                print("FullDiskTests skipped: cannot mount a small tmpfs (\(reason)); run as root to test a full disk")
                return
            }
            defer { Self.unmount(state) }
            let marker = "flinklet-fulldisk-\(UUID().uuidString.prefix(8))"
            let logPath = dir.path + "/run.log"
            let operatorProcess = try ChildProcess.spawn(
                [FlinkletBinary.executable.path, "run", "--manifests", "manifests", "--state-dir", "state", "--engine", "command",
                 "--http", "0", "--resync", "1"],
                options: .init(workingDirectory: dir.path, standardInput: .null, standardOutput: .file(logPath), standardError: .file(logPath),
                               newProcessGroup: true))
            var pods: [Int32] = []
            defer {
                operatorProcess.signal(SIGKILL)
                _ = operatorProcess.wait()
                for pid in RunCommandTests.processes(marker) { kill(-pid, SIGKILL) }
            }
            func log() -> String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

            try dir.write("manifests/before.yaml", Self.manifest("before", marker))
            #expect(RunCommandTests.waitUntil { RunCommandTests.ready(dir, "before") }, "\(log())")
            pods = RunCommandTests.processes(marker)
            #expect(pods.count == 1)

            // The disk fills up; a new resource arrives meanwhile.
            let filled = Self.fill(state + "/filler")
            #expect(filled > 0)
            try dir.write("manifests/during.yaml", Self.manifest("during", marker))
            let reported = RunCommandTests.waitUntil(timeout: 20) {
                log().split(separator: "\n").contains { line in
                    line.contains("FlinkDeployment/default/during") && line.contains(state)
                        && (line.contains("disk is full") || line.contains("No space left on device"))
                }
            }
            #expect(reported, "an error naming the resource, the path and the cause: \(log().suffix(3000))")
            print("full disk: operator log: " + (log().split(separator: "\n").first { $0.contains("FlinkDeployment/default/during") && $0.contains("error") } ?? "none"))
            // Full for a while: the operator retries (with backoff) and stays up.
            usleep(3_000_000)
            let failures = log().split(separator: "\n").filter { $0.contains("reconcile failed") && $0.contains("default/during") }.count
            #expect(failures >= 2, "retried while full: \(failures) failed reconciles")
            print("full disk: \(failures) failed reconciles of the new resource while full; \(filled) bytes filled")
            #expect(operatorProcess.isRunning, "the operator keeps running")
            #expect(RunCommandTests.processes(marker) == pods, "the running pod is left alone, nothing half-started")

            // Space returns: the operator catches up without being restarted.
            unlink(state + "/filler")
            let caughtUp = RunCommandTests.waitUntil(timeout: 40) { RunCommandTests.ready(dir, "during") }
            #expect(caughtUp, "\(log().suffix(3000))")
            #expect(RunCommandTests.processes(marker).count == 2, "one pod per resource, none twice")
            #expect(RunCommandTests.ready(dir, "before"))

            // The database is intact.
            operatorProcess.signal(SIGTERM)
            _ = operatorProcess.wait()
            let database = try Database(path: state + "/state.db", readOnly: true)
            #expect(try database.pragma("integrity_check") == "ok")
            let store = try Store.open(stateDirectory: state, readOnly: true)
            #expect(try store.resources().map(\.name).sorted() == ["before", "during"])
            #expect(try store.pods().count == 2)
        }
    }
}
