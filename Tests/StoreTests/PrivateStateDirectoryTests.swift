import Foundation
import Store
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The state directory is the operator's alone: created 0700, an older 0755 one tightened, one
/// others may write into (or another user's) refused with the fix to run.
@Suite("Private state directory")
struct PrivateStateDirectoryTests {
    private func mode(_ path: String) -> mode_t {
        var info = stat()
        #expect(stat(path, &info) == 0, "stat \(path)")
        return info.st_mode & 0o7777
    }

    @Test func aNewStateDirectoryIsPrivateAndSoAreTheLockAndDatabase() throws {
        try withStateDirectory { dir in
            let lock = try StateDirectory(path: dir).lockForOperator()
            defer { lock.release() }
            #expect(lock.tightenedFrom == nil)
            let store = try Store.open(stateDirectory: dir)
            _ = store
            #expect(mode(dir) == 0o700)
            #expect(mode(dir + "/lock") & 0o077 == 0)
            // SQLite's files follow the umask the operator sets; the directory keeps them from
            // other users whatever their mode, and the lock is opened 0600 explicitly.
            #expect(mode(dir + "/lock") == 0o600)
        }
    }

    @Test func anOlderWorldReadableStateDirectoryIsTightened() throws {
        try withStateDirectory { dir in
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            chmod(dir, 0o755)
            _ = FileManager.default.createFile(atPath: dir + "/state.db", contents: Data())
            chmod(dir + "/state.db", 0o644)
            let lock = try StateDirectory(path: dir).lockForOperator()
            defer { lock.release() }
            #expect(lock.tightenedFrom == 0o755)
            #expect(mode(dir) == 0o700)
            #expect(mode(dir + "/state.db") == 0o600)
        }
    }

    @Test(arguments: [(mode_t(0o777), "everyone"), (mode_t(0o770), "its group"), (mode_t(0o702), "everyone")])
    func aStateDirectoryOthersMayWriteIsRefusedWithTheFix(mode: mode_t, who: String) throws {
        try withStateDirectory { dir in
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            chmod(dir, mode)
            let error = #expect(throws: StoreError.self) { try StateDirectory(path: dir).lockForOperator() }
            #expect(error.map(String.init(describing:)) == "state dir \(dir) is writable by \(who) (mode \(String(mode, radix: 8))): "
                + "another user could change what the operator and its clusters read and run; refusing to use it: chmod 700 \(dir)")
            #expect(self.mode(dir) == mode, "a refused directory is left as it was")
            #expect(!FileManager.default.fileExists(atPath: dir + "/lock"))
        }
    }

    @Test func aStateDirectoryInsideADirectoryOthersMayWriteIsRefused() throws {
        try withStateDirectory { dir in
            let parent = (dir as NSString).deletingLastPathComponent
            chmod(parent, 0o777)
            let error = #expect(throws: StoreError.self) { try StateDirectory(path: dir).lockForOperator() }
            #expect(error.map(String.init(describing:)) == "state dir \(dir) is inside a directory another user can change: \(parent) is writable by "
                + "everyone (mode 777): another user could change what the operator and its clusters read and run; refusing to use it: chmod go-w \(parent)")
            chmod(parent, 0o1777)
            let lock = try StateDirectory(path: dir).lockForOperator()
            lock.release()
        }
    }

    @Test func theFixQuotesAPathTheShellWouldSplit() throws {
        try withStateDirectory { dir in
            let odd = dir + "/my state's dir"
            try FileManager.default.createDirectory(atPath: odd, withIntermediateDirectories: true)
            chmod(odd, 0o777)
            let error = #expect(throws: StoreError.self) { try StateDirectory(path: odd).lockForOperator() }
            #expect(error.map(String.init(describing:))?.hasSuffix("chmod 700 '\(dir)/my state'\\''s dir'") == true)
        }
    }

    @Test(.enabled(if: geteuid() == 0, "only root can give a directory to another user"))
    func anotherUsersStateDirectoryIsRefused() throws {
        try withStateDirectory { dir in
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            chmod(dir, 0o700)
            #expect(chown(dir, 65534, 65534) == 0)
            let error = #expect(throws: StoreError.self) { try StateDirectory(path: dir).lockForOperator() }
            #expect(error.map(String.init(describing:)) == "state dir \(dir) belongs to uid 65534, not to this user (uid 0): another user could "
                + "change what the operator and its clusters read and run; refusing to use it: use a state dir of your own (--state-dir DIR)")
        }
    }
}
