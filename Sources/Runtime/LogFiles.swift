#if canImport(Glibc)
import Glibc
#endif

/// Size-capped pod logs with one rotation, done copytruncate-style.
///
/// Why copytruncate and not a pipe the driver drains: the child writes straight into the file
/// (opened `O_APPEND`), so a pod keeps running and keeps logging while the operator is down or
/// restarting, and a full pipe can never block (or SIGPIPE) a JobManager. The price: rotation
/// needs the driver, so while no operator runs the log grows past its cap; lines written in the
/// microseconds between the last copied byte and the truncate are lost; and `<log>.1` is as large
/// as the log was when rotated (the cap plus up to one sampling interval of output). Because
/// the writer uses `O_APPEND`, after the truncate it writes at the new end: no sparse file.
enum LogRotation {
    /// When `path` is larger than `limit`: copies it to `<path>.1` (through `<path>.1.tmp` and
    /// a rename, replacing an older `.1`) and truncates it to zero. Returns whether it rotated.
    /// When copying fails (disk full) the log is truncated anyway: the cap is what protects the
    /// disk. Throws (errno) only when the log cannot be truncated.
    @discardableResult
    static func rotateIfNeeded(path: String, limit: Int) throws(RotationError) -> Bool {
        var info = stat()
        guard stat(path, &info) == 0, Int64(info.st_size) > Int64(limit) else { return false }
        let rotated = path + ".1"
        let temporary = path + ".1.tmp"
        let copied = copy(from: path, to: temporary)
        guard truncate(path, 0) == 0 else {
            let code = errno
            unlink(temporary)
            throw RotationError(errno: code)
        }
        if copied {
            if rename(temporary, rotated) != 0 { unlink(temporary) }
        } else {
            unlink(temporary)
        }
        return true
    }

    struct RotationError: Error { var errno: Int32 }

    /// Copies until end of file, so bytes written while copying are copied too.
    private static func copy(from source: String, to destination: String) -> Bool {
        let input = open(source, O_RDONLY | O_CLOEXEC)
        guard input >= 0 else { return false }
        defer { close(input) }
        let output = open(destination, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard output >= 0 else { return false }
        defer { close(output) }
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 64 * 1024) { buffer in
            while true {
                let n = read(input, buffer.baseAddress!, buffer.count)
                if n < 0 {
                    if errno == EINTR { continue }
                    return false
                }
                if n == 0 { return true }
                var written = 0
                while written < n {
                    let w = write(output, buffer.baseAddress! + written, n - written)
                    if w < 0 {
                        if errno == EINTR { continue }
                        return false
                    }
                    written += w
                }
            }
        }
    }
}

/// Incremental substring search over a growing (and sometimes truncated) log file, for the
/// `logLine` readiness probe. Finds the needle also when it straddles two reads.
struct LogScanner: Sendable {
    let path: String
    let needle: [UInt8]
    private(set) var offset: Int64
    private var carry: [UInt8] = []

    init(path: String, needle: String, offset: Int64) {
        self.path = path
        self.needle = Array(needle.utf8)
        self.offset = offset
    }

    /// Reads what was appended since the last call (at most `maxBytes`) and reports whether
    /// the needle appeared. A file now shorter than the offset was truncated: start over at 0.
    mutating func scan(maxBytes: Int = 1 << 20) -> Bool {
        guard !needle.isEmpty else { return true }
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { return false }
        if Int64(info.st_size) < offset { restart() }
        let available = Int(min(Int64(maxBytes), Int64(info.st_size) - offset))
        guard available > 0 else { return false }
        var chunk = [UInt8](repeating: 0, count: available)
        let n = chunk.withUnsafeMutableBytes { pread(fd, $0.baseAddress!, available, off_t(offset)) }
        guard n > 0 else { return false }
        offset += Int64(n)
        let window = carry + chunk[..<n]
        if Self.contains(window, needle) { return true }
        carry = Array(window.suffix(needle.count - 1))
        return false
    }

    /// The file was truncated or replaced: read it from the start.
    mutating func restart() {
        offset = 0
        carry = []
    }

    /// Searches a whole file once (used on adoption, for `<log>.1` and `<log>`).
    static func fileContains(path: String, needle: String) -> Bool {
        var scanner = LogScanner(path: path, needle: needle, offset: 0)
        return scanner.scanToEnd()
    }

    static func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
        guard needle.count <= haystack.count, let first = needle.first else { return needle.isEmpty }
        let last = haystack.count - needle.count
        var i = 0
        while i <= last {
            if haystack[i] == first {
                var j = 1
                while j < needle.count && haystack[i + j] == needle[j] { j += 1 }
                if j == needle.count { return true }
            }
            i += 1
        }
        return false
    }
}
