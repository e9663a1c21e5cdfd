import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A regular file's size and modification time, to the nanosecond.
struct FileStamp: Sendable, Hashable {
    var size: Int64
    var seconds: Int
    var nanoseconds: Int
}

/// The POSIX calls behind the store, each failure mapped to an `ArtifactError` naming the URI.
/// Files Flinklet creates appear under their final name only complete and fsynced: every write
/// goes to a temporary name in the same directory and is renamed at the end.
enum FileOperations {
    /// Suffix of every temporary file; nothing else in the store's directories ends with it.
    static let temporarySuffix = ".part"

    /// The stamp of `path` when it is an existing regular file this process may read; otherwise
    /// the error a user should see, checked in the order they would fix things.
    static func readableFile(_ path: String, uri: String) throws(ArtifactError) -> FileStamp {
        var info = stat()
        guard stat(path, &info) == 0 else {
            switch errno {
            case EACCES: throw .notReadable(uri: uri, path: path)
            case ENOENT, ENOTDIR: throw .notFound(uri: uri, path: path)
            case let code: throw .system(uri: uri, path: path, operation: "stat", errno: code)
            }
        }
        switch info.st_mode & S_IFMT {
        case S_IFREG: break
        case S_IFDIR: throw .isDirectory(uri: uri, path: path)
        default: throw .notRegularFile(uri: uri, path: path)
        }
        guard access(path, R_OK) == 0 else { throw .notReadable(uri: uri, path: path) }
        return stamp(info)
    }

    /// The stamp of `path` when it is a regular file, else nil.
    static func regularFile(_ path: String) -> FileStamp? {
        var info = stat()
        guard stat(path, &info) == 0, info.st_mode & S_IFMT == S_IFREG else { return nil }
        return stamp(info)
    }

    private static func stamp(_ info: stat) -> FileStamp {
        #if canImport(Darwin)
        FileStamp(size: Int64(info.st_size), seconds: info.st_mtimespec.tv_sec, nanoseconds: info.st_mtimespec.tv_nsec)
        #else
        FileStamp(size: Int64(info.st_size), seconds: info.st_mtim.tv_sec, nanoseconds: info.st_mtim.tv_nsec)
        #endif
    }

    /// Creates `path` and any missing parents (`mkdir -p`).
    static func makeDirectories(_ path: String, uri: String) throws(ArtifactError) {
        if mkdir(path, 0o700) == 0 { return }
        switch errno {
        case EEXIST:
            var info = stat()
            guard stat(path, &info) == 0, info.st_mode & S_IFMT == S_IFDIR else {
                throw .system(uri: uri, path: path, operation: "create directory", errno: EEXIST)
            }
        case ENOENT:
            let parent = (path as NSString).deletingLastPathComponent
            guard !parent.isEmpty, parent != path else { throw .system(uri: uri, path: path, operation: "create directory", errno: ENOENT) }
            try makeDirectories(parent, uri: uri)
            guard mkdir(path, 0o700) == 0 || errno == EEXIST else {
                throw .system(uri: uri, path: path, operation: "create directory", errno: errno)
            }
        case let code:
            throw .system(uri: uri, path: path, operation: "create directory", errno: code)
        }
    }

    /// A temporary file's path in `directory`, unique across processes and calls.
    static func temporaryPath(in directory: String, for name: String) -> String {
        let token = String(UInt64.random(in: 0...UInt64.max), radix: 16)
        return "\(directory)/.\(name).\(getpid())-\(token)\(temporarySuffix)"
    }

    /// Opens a new temporary file for writing; fails rather than reuse an existing one.
    static func createTemporary(_ path: String, uri: String) throws(ArtifactError) -> Int32 {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw .system(uri: uri, path: path, operation: "create", errno: errno) }
        return fd
    }

    /// Writes all of `bytes`; returns 0 or the errno of the failed write.
    static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) -> Int32 {
        var offset = 0
        while offset < bytes.count {
            let n = write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if n > 0 {
                offset += n
            } else if n < 0 && errno == EINTR {
                continue
            } else {
                return n < 0 ? errno : EIO
            }
        }
        return 0
    }

    /// fsyncs and closes `fd`, then renames `temporary` to `destination` and fsyncs the
    /// directory, so the rename survives a crash. The temporary file is removed on failure.
    static func commit(_ fd: Int32, temporary: String, to destination: String, uri: String) throws(ArtifactError) {
        try syncAndClose(fd, temporary: temporary, uri: uri)
        guard rename(temporary, destination) == 0 else {
            let code = errno
            unlink(temporary)
            throw .system(uri: uri, path: destination, operation: "rename \(temporary) to", errno: code)
        }
        syncDirectory(of: destination)
    }

    /// fsyncs and closes the temporary file `fd`; removes it on failure.
    static func syncAndClose(_ fd: Int32, temporary: String, uri: String) throws(ArtifactError) {
        guard fsync(fd) == 0 else {
            let code = errno
            close(fd)
            unlink(temporary)
            throw .system(uri: uri, path: temporary, operation: "fsync", errno: code)
        }
        close(fd)
    }

    /// fsyncs the directory holding `path`: best effort, a failure only weakens crash safety.
    static func syncDirectory(of path: String) {
        let fd = open((path as NSString).deletingLastPathComponent, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return }
        fsync(fd)
        close(fd)
    }

    /// Writes `data` to `path` atomically: readers see the old file or the whole new one.
    static func writeAtomically(_ data: Data, to path: String, uri: String) throws(ArtifactError) {
        let temporary = temporaryPath(in: (path as NSString).deletingLastPathComponent, for: (path as NSString).lastPathComponent)
        let fd = try createTemporary(temporary, uri: uri)
        let code = data.withUnsafeBytes { writeAll(fd, $0) }
        guard code == 0 else {
            close(fd)
            unlink(temporary)
            throw .system(uri: uri, path: temporary, operation: "write", errno: code)
        }
        try commit(fd, temporary: temporary, to: path, uri: uri)
    }

    /// Copies `source` (whose stamp was `stamp` before the copy) to `destination` atomically,
    /// giving the copy `stamp`'s modification time, so an unchanged source is recognised later.
    static func copy(_ source: String, stamp: FileStamp, to destination: String, uri: String) throws(ArtifactError) {
        let input = open(source, O_RDONLY | O_CLOEXEC)
        guard input >= 0 else {
            throw errno == EACCES ? .notReadable(uri: uri, path: source) : .system(uri: uri, path: source, operation: "open", errno: errno)
        }
        defer { close(input) }
        let directory = (destination as NSString).deletingLastPathComponent
        let temporary = temporaryPath(in: directory, for: (destination as NSString).lastPathComponent)
        let output = try createTemporary(temporary, uri: uri)
        func fail(_ operation: String, _ path: String, _ code: Int32) -> ArtifactError {
            close(output)
            unlink(temporary)
            return .system(uri: uri, path: path, operation: operation, errno: code)
        }
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(input, $0.baseAddress!, $0.count) }
            if n == 0 { break }
            if n < 0 {
                if errno == EINTR { continue }
                throw fail("read", source, errno)
            }
            let code = buffer.withUnsafeBytes { writeAll(output, UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
            guard code == 0 else { throw fail("write", temporary, code) }
        }
        let mtime = timespec(tv_sec: stamp.seconds, tv_nsec: stamp.nanoseconds)
        var times = [mtime, mtime]
        guard futimens(output, &times) == 0 else { throw fail("set the modification time of", temporary, errno) }
        try commit(output, temporary: temporary, to: destination, uri: uri)
    }

    /// Removes temporary files in `directory` last modified more than `age` ago: leftovers of a
    /// process that died mid-write. A younger one may belong to a write still in progress.
    static func removeStaleTemporaries(in directory: String, olderThan age: Duration) {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return }
        let cutoff = Date().timeIntervalSince1970 - age.seconds
        for name in names where name.hasSuffix(temporarySuffix) {
            let path = directory + "/" + name
            guard let stamp = regularFile(path), Double(stamp.seconds) < cutoff else { continue }
            unlink(path)
        }
    }
}

extension Duration {
    /// The duration in seconds, with its fraction.
    var seconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}
