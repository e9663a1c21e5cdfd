import Foundation
import Runtime
import Store
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

@Suite("Operator lock")
struct OperatorLockTests {
    @Test func aSecondOperatorInThisProcessIsRefusedWithTheHoldersPID() throws {
        try withStateDirectory { dir in
            let lock = try StateDirectory(path: dir).lockForOperator()
            #expect(lock.isHeld)
            let error = #expect(throws: StoreError.self) { try StateDirectory(path: dir).lockForOperator() }
            #expect(error == .locked(path: dir, pid: getpid()))
            #expect(error.map(String.init(describing:)) == "another flinklet is running with state dir \(dir) (pid \(getpid()))")
            lock.release()
        }
    }

    @Test func theLockCreatesTheDirectoryAndRecordsThePIDWhileHeld() throws {
        try withStateDirectory { dir in
            let directory = StateDirectory(path: dir + "/nested")
            let lock = try directory.lockForOperator()
            #expect(lock.path == directory.lockPath)
            #expect(try String(contentsOfFile: directory.lockPath, encoding: .utf8) == "\(getpid())\n")
            lock.release()
            #expect(!lock.isHeld)
            #expect(try String(contentsOfFile: directory.lockPath, encoding: .utf8) == "")
            lock.release()  // idempotent
        }
    }

    @Test func otherProcessesCannotLockUntilReleaseOrDeinit() throws {
        try withStateDirectory { dir in
            let directory = StateDirectory(path: dir)
            let lock = try directory.lockForOperator()
            #expect(try !otherProcessCanLock(directory.lockPath))
            lock.release()
            #expect(try otherProcessCanLock(directory.lockPath))

            do {
                let scoped = try directory.lockForOperator()
                #expect(try !otherProcessCanLock(directory.lockPath))
                _ = scoped
            }
            #expect(try otherProcessCanLock(directory.lockPath))
            _ = try directory.lockForOperator()  // and this process can lock again
        }
    }

    @Test func aLockHeldByAnotherProcessNamesItAndEndsWhenItDies() throws {
        try withStateDirectory { dir in
            let directory = StateDirectory(path: dir)
            try directory.create()
            // Another operator: locks the file the way flinklet does, writes its pid, then waits.
            let holder = try ChildProcess.spawn(
                ["/bin/sh", "-c", #"exec 9<>"$1" && /usr/bin/flock -n 9 && echo $$ > "$1" && echo ready && exec sleep 60"#,
                 "sh", directory.lockPath],
                options: .init(standardInput: .null, standardOutput: .pipe, newProcessGroup: true))
            defer { holder.signal(SIGTERM); _ = holder.wait() }
            var said: [UInt8] = []
            while !String(decoding: said, as: UTF8.self).contains("ready") {
                guard let chunk = holder.standardOutput?.read() else { throw TestFailure("the lock holder exited before locking") }
                said += chunk
            }

            let error = #expect(throws: StoreError.self) { try directory.lockForOperator() }
            #expect(error.map(String.init(describing:)) == "another flinklet is running with state dir \(dir) (pid \(holder.pid))")

            holder.signal(SIGTERM)
            _ = holder.wait()
            let lock = try directory.lockForOperator()
            #expect(lock.isHeld)
        }
    }
}
