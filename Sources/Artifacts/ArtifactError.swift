import FileSafety
import Foundation

/// Why a jar URI could not be resolved to a usable local file. Every case names the URI as the
/// manifest spelled it, and the local path where there is one, so the message alone tells the
/// user what to fix.
public enum ArtifactError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The URI cannot be parsed, or names no file (a relative path, a host in a `local:` URI).
    case invalidURI(uri: String, reason: String)
    /// The scheme is not one Flinklet can fetch from (`s3`, `hdfs`, ...).
    case unsupportedScheme(uri: String, scheme: String)
    /// Nothing exists at the path the URI points at.
    case notFound(uri: String, path: String)
    /// The file exists but this process may not read it (or may not search a directory above it).
    case notReadable(uri: String, path: String)
    /// The path is a directory.
    case isDirectory(uri: String, path: String)
    /// The path is neither a regular file nor a directory (a socket, a FIFO, a device).
    case notRegularFile(uri: String, path: String)
    /// The server answered with a status outside 2xx. Nothing was cached.
    case httpStatus(uri: String, status: Int)
    /// The download did not complete: no connection, connection lost, timed out, body shorter
    /// than announced. Nothing was cached.
    case downloadFailed(uri: String, reason: String)
    /// The caller's task was cancelled while waiting. A download it joined goes on for others.
    case cancelled(uri: String)
    /// A file-system call on Flinklet's own copy or cache failed (disk full, permissions).
    case system(uri: String, path: String, operation: String, errno: Int32)
    /// The jar's content is not the one pinned: its SHA-256 is `actual`, `expected` was asked
    /// for. Nothing may be started with it.
    case checksumMismatch(uri: String, expected: String, actual: String)
    /// The download is larger than the store's limit (announced or counted). Nothing was cached.
    case tooLarge(uri: String, limit: Int64)
    /// The server redirected more times than the store follows. Nothing was cached.
    case tooManyRedirects(uri: String, limit: Int)
    /// Another local user could replace the local jar (`PathSafety`): nothing is run from it.
    case unsafe(uri: String, problem: PathSafety.Problem)

    /// The URI the error is about.
    public var uri: String {
        switch self {
        case .invalidURI(let uri, _), .unsupportedScheme(let uri, _), .notFound(let uri, _), .notReadable(let uri, _),
             .isDirectory(let uri, _), .notRegularFile(let uri, _), .httpStatus(let uri, _), .downloadFailed(let uri, _),
             .cancelled(let uri), .system(let uri, _, _, _), .checksumMismatch(let uri, _, _), .tooLarge(let uri, _),
             .tooManyRedirects(let uri, _), .unsafe(let uri, _):
            uri
        }
    }

    public var description: String {
        switch self {
        case .invalidURI(let uri, let reason):
            "jar \(quoted(uri)) is not a valid jar URI: \(reason)"
        case .unsupportedScheme(let uri, let scheme):
            "jar \(quoted(uri)) has unsupported scheme \(quoted(scheme)): use local://, file://, http:// or https://"
        case .notFound(let uri, let path):
            "jar \(quoted(uri)) not found: \(path) does not exist"
        case .notReadable(let uri, let path):
            "jar \(quoted(uri)) is not readable: \(path): permission denied"
        case .isDirectory(let uri, let path):
            "jar \(quoted(uri)) is not a file: \(path) is a directory"
        case .notRegularFile(let uri, let path):
            "jar \(quoted(uri)) is not a regular file: \(path)"
        case .httpStatus(let uri, let status):
            "jar \(quoted(uri)) download failed: HTTP \(status)\(reasonPhrases[status].map { " " + $0 } ?? "")"
        case .downloadFailed(let uri, let reason):
            "jar \(quoted(uri)) download failed: \(reason)"
        case .cancelled(let uri):
            "jar \(quoted(uri)): resolution cancelled"
        case .system(let uri, let path, let operation, let errno):
            "jar \(quoted(uri)): cannot \(operation) \(path): \(String(cString: strerror(errno)))"
        case .checksumMismatch(let uri, let expected, let actual):
            "jar \(quoted(uri)) does not match its pinned checksum: its SHA-256 is \(actual), the pin is \(expected)"
        case .tooLarge(let uri, let limit):
            "jar \(quoted(uri)) download failed: larger than the limit of \(byteCount(limit))"
        case .tooManyRedirects(let uri, let limit):
            "jar \(quoted(uri)) download failed: more than \(limit) redirects"
        case .unsafe(let uri, let problem):
            "jar \(quoted(uri)) is not run: \(problem), so another user could replace it and run their code as this user"
                + (problem.fix.map { "; fix: \($0)" } ?? "; use a jar of your own in a directory only you can write")
        }
    }
}

/// The common statuses a jar download meets.
private let reasonPhrases: [Int: String] = [
    400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
    407: "Proxy Authentication Required", 408: "Request Timeout", 410: "Gone", 429: "Too Many Requests",
    500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout",
]

private func quoted(_ text: String) -> String { "\"\(text)\"" }

/// `512 MiB`, `1 GiB`, `1000 bytes`: a limit as a person reads it.
private func byteCount(_ bytes: Int64) -> String {
    for (unit, factor) in [("GiB", Int64(1) << 30), ("MiB", Int64(1) << 20), ("KiB", Int64(1) << 10)] where bytes >= factor && bytes % factor == 0 {
        return "\(bytes / factor) \(unit)"
    }
    return "\(bytes) bytes"
}
