import FileSafety
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The directory that holds everything the operator keeps: `state.db`, `lock`, pods' files,
/// savepoints, checkpoints and artifacts.
public struct StateDirectory: Sendable, Hashable {
    /// The directory as given (relative paths stay relative, and error messages show them so).
    public let path: String

    /// `.flinklet`, in the working directory.
    public static let defaultPath = ".flinklet"

    public init(path: String = StateDirectory.defaultPath) {
        self.path = path
    }

    /// `<path>/state.db`.
    public var databasePath: String { (path as NSString).appendingPathComponent("state.db") }
    /// `<path>/lock`.
    public var lockPath: String { (path as NSString).appendingPathComponent("lock") }

    /// Creates the directory (and its parents) if missing: the directory itself private to
    /// this user (0700), missing parents as `mkdir -p` makes them.
    public func create() throws(StoreError) {
        try Self.makeDirectory(path, mode: 0o700)
    }

    private static func makeDirectory(_ path: String, mode: mode_t) throws(StoreError) {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else { throw .system(path: path, operation: "create directory", errno: ENOTDIR) }
            return
        }
        let parent = (path as NSString).deletingLastPathComponent
        if !parent.isEmpty, parent != path { try makeDirectory(parent, mode: 0o755) }
        guard mkdir(path, mode) == 0 || errno == EEXIST else {
            throw .system(path: path, operation: "create directory", errno: errno)
        }
    }

    /// Files directly in the directory that an older Flinklet created readable by others.
    static let tightenedFiles = ["state.db", "state.db-wal", "state.db-shm", "lock"]

    /// Makes sure the directory is this user's alone, as the operator needs it: everything a
    /// cluster writes (configuration with its keystore password, savepoints, checkpoints, logs)
    /// is under it.
    ///
    /// - A directory of another user, or writable by its group or others, is refused
    ///   (`StoreError.notPrivate`, with the fix to run): someone else could plant or swap files
    ///   the operator and its JVMs read and run. So is one inside a directory another user can
    ///   change (`PathSafety`: another's, or writable by others without the sticky bit).
    /// - One readable or searchable by others (0755, as Flinklet created them before) is
    ///   tightened to 0700, and `state.db`, its journal files and `lock` to 0600.
    ///
    /// Returns the mode the directory had when it was tightened, nil when it already was private.
    public func ensurePrivate() throws(StoreError) -> mode_t? {
        var info = stat()
        guard stat(path, &info) == 0 else { throw .system(path: path, operation: "inspect", errno: errno) }
        let mode = info.st_mode & 0o7777
        guard info.st_uid == geteuid() else {
            throw .notPrivate(path: path, problem: "belongs to uid \(info.st_uid), not to this user (uid \(geteuid()))",
                              fix: "use a state dir of your own (--state-dir DIR)")
        }
        guard mode & 0o022 == 0 else {
            let who = mode & 0o002 != 0 ? "everyone" : "its group"
            throw .notPrivate(path: path, problem: "is writable by \(who) (mode \(String(mode, radix: 8)))",
                              fix: "chmod 700 \(Self.shellQuoted(path))")
        }
        // The directories above it too: whoever can rename it away can put another in its place.
        if let problem = PathSafety.problem(path) {
            throw .notPrivate(path: path, problem: "is inside a directory another user can change: \(problem)",
                              fix: problem.fix ?? "use a state dir inside a directory of your own (--state-dir DIR)")
        }
        guard mode & 0o077 != 0 else { return nil }
        guard chmod(path, 0o700) == 0 else { throw .system(path: path, operation: "chmod 700", errno: errno) }
        for name in Self.tightenedFiles {
            let file = (path as NSString).appendingPathComponent(name)
            if chmod(file, 0o600) != 0 && errno != ENOENT { throw .system(path: file, operation: "chmod 600", errno: errno) }
        }
        return mode
    }

    /// `path` as a shell word: single-quoted unless it is plain.
    static func shellQuoted(_ path: String) -> String {
        let plain = path.unicodeScalars.allSatisfy { CharacterSet.alphanumerics.contains($0) || "/._-+,:@%".unicodeScalars.contains($0) }
        return plain && !path.isEmpty ? path : "'" + path.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }

    /// Makes this process the one operator of the directory: creates it if missing and takes an
    /// exclusive lock on `<path>/lock`, writing this process's pid into the file.
    ///
    /// Guarantees: while the returned lock is held, every other `lockForOperator` on the same
    /// directory — in this process or any other — throws `StoreError.locked`, whose description
    /// is `another flinklet is running with state dir <path> (pid <holder>)`. The lock ends when
    /// the `OperatorLock` is released or deinitialized, or when the process dies however it
    /// dies; processes this one spawns never inherit it, so pods that outlive the operator do not
    /// keep the directory locked.
    ///
    /// Before locking, the directory is made private or refused (`ensurePrivate`); the lock's
    /// `tightenedFrom` says when it was tightened.
    public func lockForOperator() throws(StoreError) -> OperatorLock {
        try create()
        let tightened = try ensurePrivate()
        let fd = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw .system(path: lockPath, operation: "open lock file", errno: errno) }
        var result: Int32
        repeat { result = flock(fd, LOCK_EX | LOCK_NB) } while result != 0 && errno == EINTR
        guard result == 0 else {
            let error = errno
            defer { close(fd) }
            if error == EWOULDBLOCK {
                throw .locked(path: path, pid: Self.holderPID(fd: fd))
            }
            throw .system(path: lockPath, operation: "lock", errno: error)
        }
        let pid = Array("\(getpid())\n".utf8)
        guard ftruncate(fd, 0) == 0, pwrite(fd, pid, pid.count, 0) == pid.count else {
            let error = errno
            close(fd)  // also releases the lock
            throw .system(path: lockPath, operation: "write pid to", errno: error)
        }
        return OperatorLock(path: lockPath, fd: fd, tightenedFrom: tightened)
    }

    /// The pid the lock holder wrote. A holder writes it just after locking, so an empty file is
    /// read again for a moment before giving up.
    private static func holderPID(fd: Int32) -> Int32? {
        for attempt in 0..<20 {
            var buffer = [UInt8](repeating: 0, count: 32)
            let count = pread(fd, &buffer, buffer.count, 0)
            if count > 0, let text = String(bytes: buffer[0..<count], encoding: .utf8),
               let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)) {
                return pid
            }
            if attempt < 19 { usleep(5_000) }
        }
        return nil
    }
}

/// The exclusive operator lock on a state directory, held until `release()` or deinit.
public final class OperatorLock: Sendable {
    /// The lock file.
    public let path: String
    /// The state directory's mode before `lockForOperator` tightened it to 0700 (it was
    /// readable by others); nil when it was private already.
    public let tightenedFrom: mode_t?
    private let fd: Mutex<Int32?>

    fileprivate init(path: String, fd: Int32, tightenedFrom: mode_t?) {
        self.path = path
        self.fd = Mutex(fd)
        self.tightenedFrom = tightenedFrom
    }

    /// True until `release()`.
    public var isHeld: Bool { fd.withLock { $0 != nil } }

    /// Clears the pid from the lock file and releases the lock. Idempotent.
    public func release() {
        fd.withLock { fd in
            guard let descriptor = fd else { return }
            _ = ftruncate(descriptor, 0)  // still locked here, so no other holder's pid is erased
            // Unlocked explicitly, not by the close: the lock belongs to the open file description,
            // and a child another thread is spawning holds a copy of it until its exec, which
            // kept the lock after our close (other processes were refused after a release).
            _ = flock(descriptor, LOCK_UN)
            close(descriptor)
            fd = nil
        }
    }

    deinit { release() }
}
