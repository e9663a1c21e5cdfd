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

    /// Creates the directory (and its parents) if missing.
    public func create() throws(StoreError) {
        try Self.makeDirectory(path)
    }

    private static func makeDirectory(_ path: String) throws(StoreError) {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else { throw .system(path: path, operation: "create directory", errno: ENOTDIR) }
            return
        }
        let parent = (path as NSString).deletingLastPathComponent
        if !parent.isEmpty, parent != path { try makeDirectory(parent) }
        guard mkdir(path, 0o755) == 0 || errno == EEXIST else {
            throw .system(path: path, operation: "create directory", errno: errno)
        }
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
    public func lockForOperator() throws(StoreError) -> OperatorLock {
        try create()
        let fd = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
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
        return OperatorLock(path: lockPath, fd: fd)
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
    private let fd: Mutex<Int32?>

    fileprivate init(path: String, fd: Int32) {
        self.path = path
        self.fd = Mutex(fd)
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
