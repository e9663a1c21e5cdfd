import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The content-addressed download cache on disk:
///
///     <root>/sha256/<hex>/<file name>   the downloaded files, never modified once renamed here
///     <root>/uris/<sha256 of URI>.json  one index entry per URI: which file holds its download
///     <root>/tmp/*.part                 downloads in progress (or left by a crash)
///
/// Guarantees: a file under `sha256/` or `uris/` is complete (written under a temporary name,
/// fsynced, renamed). Processes may share the directory: two downloads of the same URI both
/// complete and the second rename replaces identical content.
struct DownloadCache: Sendable {
    let root: String

    var temporaryDirectory: String { root + "/tmp" }

    func blobPath(sha256: String, fileName: String) -> String { "\(root)/sha256/\(sha256)/\(fileName)" }

    func indexPath(uri: String) -> String { "\(root)/uris/\(SHA256.hexDigest(of: Array(uri.utf8))).json" }

    /// One URI's index entry.
    struct Entry: Codable, Sendable, Hashable {
        var uri: String
        var sha256: String
        var size: Int64
        var downloadedAt: Date
        /// The cached file, relative to the cache root.
        var path: String
    }

    /// The cached file for `uri`, when the index names one that is still there with its size.
    func lookup(uri: String) -> ResolvedArtifact? {
        guard let data = FileManager.default.contents(atPath: indexPath(uri: uri)),
              let entry = try? Self.decoder.decode(Entry.self, from: data),
              entry.uri == uri, !entry.path.contains("..")
        else { return nil }
        let path = root + "/" + entry.path
        guard let stamp = FileOperations.regularFile(path), stamp.size == entry.size else { return nil }
        return ResolvedArtifact(path: path, sha256: entry.sha256, size: entry.size, source: .http)
    }

    /// Moves a finished download from `temporary` to its content address and records it in
    /// the index, in that order, so the index never names a missing file.
    func store(temporary: String, outcome: Download.Outcome, uri: String, fileName: String, at date: Date) throws(ArtifactError) -> ResolvedArtifact {
        let path = blobPath(sha256: outcome.sha256, fileName: fileName)
        do throws(ArtifactError) {
            try FileOperations.makeDirectories((path as NSString).deletingLastPathComponent, uri: uri)
            guard rename(temporary, path) == 0 else {
                throw .system(uri: uri, path: path, operation: "rename \(temporary) to", errno: errno)
            }
        } catch {
            unlink(temporary)
            throw error
        }
        FileOperations.syncDirectory(of: path)
        let entry = Entry(uri: uri, sha256: outcome.sha256, size: outcome.size, downloadedAt: date,
                          path: "sha256/\(outcome.sha256)/\(fileName)")
        let index = indexPath(uri: uri)
        try FileOperations.makeDirectories((index as NSString).deletingLastPathComponent, uri: uri)
        let data: Data
        do { data = try Self.encoder.encode(entry) } catch { preconditionFailure("an index entry always encodes: \(error)") }
        try FileOperations.writeAtomically(data, to: index, uri: uri)
        return ResolvedArtifact(path: path, sha256: outcome.sha256, size: outcome.size, source: .http)
    }

    /// The name a download is cached under: the URL's last path segment, or `artifact.jar`
    /// when it has none usable as a file name.
    static func fileName(of url: URL) -> String {
        let name = url.lastPathComponent
        guard !name.isEmpty, name != "/", name != ".", name != "..", !name.contains("/"),
              !name.hasSuffix(FileOperations.temporarySuffix), !name.contains("\0")
        else { return "artifact.jar" }
        return name
    }

    private static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        return encoder
    }()

    private static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }()
}

/// A download that several callers wait for. Each waiter can stop waiting when its task is
/// cancelled; the download itself runs on for the others and for the cache.
final class SharedDownload: Sendable {
    private enum State {
        case pending([UInt64: CheckedContinuation<Result<ResolvedArtifact, ArtifactError>?, Never>], next: UInt64)
        case finished(Result<ResolvedArtifact, ArtifactError>)
    }

    private let state = Mutex(State.pending([:], next: 0))

    /// The download's result, or nil when the calling task was cancelled first.
    func wait() async -> Result<ResolvedArtifact, ArtifactError>? {
        let id = Mutex<UInt64?>(nil)
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                state.withLock { state in
                    switch state {
                    case .finished(let result):
                        continuation.resume(returning: result)
                    case .pending(var waiters, let next):
                        // Checked under the lock that onCancel takes: a cancellation either
                        // happened before (seen here) or finds the waiter registered.
                        if Task.isCancelled {
                            continuation.resume(returning: nil)
                            return
                        }
                        waiters[next] = continuation
                        id.withLock { $0 = next }
                        state = .pending(waiters, next: next + 1)
                    }
                }
            }
        } onCancel: {
            let continuation = state.withLock { state -> CheckedContinuation<Result<ResolvedArtifact, ArtifactError>?, Never>? in
                guard case .pending(var waiters, let next) = state, let key = id.withLock({ $0 }),
                      let continuation = waiters.removeValue(forKey: key) else { return nil }
                state = .pending(waiters, next: next)
                return continuation
            }
            continuation?.resume(returning: nil)
        }
    }

    /// Records the result and wakes every waiter. Later `wait()` calls return it at once.
    func finish(_ result: Result<ResolvedArtifact, ArtifactError>) {
        let waiters = state.withLock { state in
            guard case .pending(let waiters, _) = state else { return [CheckedContinuation<Result<ResolvedArtifact, ArtifactError>?, Never>]() }
            state = .finished(result)
            return Array(waiters.values)
        }
        for waiter in waiters { waiter.resume(returning: result) }
    }
}
