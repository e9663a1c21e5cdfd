import FileSafety
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A jar URI resolved to a file on this machine.
public struct ResolvedArtifact: Sendable, Hashable {
    /// An absolute path to a regular file that was readable when it was resolved.
    public var path: String
    /// Lowercase hex SHA-256 of the file's content. Known for downloads; nil for local files
    /// and copies, which are not hashed.
    public var sha256: String?
    /// The file's size in bytes.
    public var size: Int64
    /// Which kind of URI it came from.
    public var source: ArtifactSource

    public init(path: String, sha256: String?, size: Int64, source: ArtifactSource) {
        self.path = path
        self.sha256 = sha256
        self.size = size
        self.source = source
    }
}

/// Resolves a Flink job's `jarURI` to a local file, before any process is started with it.
///
/// - `local:///path`, or a plain absolute path: used in place. A path under `/opt/flink/` means
///   the Flink distribution, as inside the official image, and maps to `flinkHome`.
/// - `file:///path`: copied into the caller's artifacts directory, under a subdirectory named
///   by the URI (so two jars with one file name never overwrite each other). The copy is made
///   only when missing or when the source's size or modification time differs from it.
/// - `http://`, `https://`: downloaded once into the cache directory, shared by every cluster
///   that names the same URI; later resolutions read the cache index and use no network.
///
/// Guarantees:
/// - A returned path is a regular file that this process could read at the time of the check;
///   a missing, unreadable or directory path is an error naming the URI and the path.
/// - No partial file is ever returned or left under a final name: copies and downloads are
///   written under temporary names, fsynced, and renamed. Temporary files of failed attempts
///   are removed; those of a crashed process are removed by the first download that finds
///   them older than the download timeout.
/// - Concurrent resolutions of one URI in this store download it once and share the result.
///   A caller cancelled while waiting gets `ArtifactError.cancelled`; the download runs on, to
///   completion or timeout, and its result is cached for later calls.
///
/// - A pinned checksum (`sha256`) is compared with the SHA-256 of the file returned: the
///   download's (computed while it was written), or the local file's or copy's (hashed once
///   per size and modification time). A mismatch is `ArtifactError.checksumMismatch` and no
///   path is returned.
/// - A download follows at most `maxRedirects` redirects, takes at most `downloadTimeout` and
///   accepts at most `maxDownloadBytes`; past any of them it fails with its own error.
///
/// Assumptions: the cache directory belongs to Flinklet; a cached file is never modified in
/// place (its size is checked on each use, its content is not re-hashed). Other processes
/// sharing the cache use the same download timeout.
public actor ArtifactStore {
    private let cache: DownloadCache
    private let flinkHome: String
    private let limits: Download.Limits
    private var downloadTimeout: Duration { limits.timeout }
    private var inFlight: [String: SharedDownload] = [:]
    private var leftoversRemoved = false
    /// SHA-256 of local files and copies, by path, valid while the size and mtime hold.
    private var digests: [String: (stamp: FileStamp, sha256: String)] = [:]

    /// - Parameters:
    ///   - cacheDirectory: the download cache, e.g. `<state>/artifacts/cache`; created on the
    ///     first download.
    ///   - flinkHome: the Flink distribution that `local:///opt/flink/...` paths map into.
    ///   - downloadTimeout: the longest one download may take, stalls included.
    ///   - maxDownloadBytes: the largest jar downloaded (default 1 GiB).
    ///   - maxRedirects: the most redirects one download follows (default 5).
    public init(cacheDirectory: String, flinkHome: String, downloadTimeout: Duration = .seconds(300),
                maxDownloadBytes: Int64 = 1 << 30, maxRedirects: Int = 5) {
        self.cache = DownloadCache(root: cacheDirectory)
        self.flinkHome = flinkHome
        self.limits = Download.Limits(timeout: downloadTimeout, maxBytes: maxDownloadBytes, maxRedirects: maxRedirects)
    }

    /// The local file `uri` names, checked to be a readable regular file.
    ///
    /// - Parameter artifactsDirectory: where `file://` URIs are copied (the cluster's own
    ///   directory); created if missing. A `file://` URI with no directory given is an error.
    ///   Ignored for other schemes.
    /// - Parameter sha256: the checksum pinned for the jar (64 hex digits, any case), or nil.
    public func resolve(_ uri: String, artifactsDirectory: String?, sha256 pinned: String? = nil) async throws(ArtifactError) -> ResolvedArtifact {
        let artifact: ResolvedArtifact
        switch try ArtifactLocation.parse(uri, flinkHome: flinkHome) {
        case .local(let path):
            try Self.ensureSafe(path, uri: uri)
            let stamp = try FileOperations.readableFile(path, uri: uri)
            artifact = ResolvedArtifact(path: path, sha256: nil, size: stamp.size, source: .local)
        case .file(let path):
            guard let artifactsDirectory else {
                throw .invalidURI(uri: uri, reason: "file:// jars need an artifacts directory to be copied into")
            }
            try Self.ensureSafe(path, uri: uri)
            artifact = try await Self.copy(uri: uri, from: path, into: artifactsDirectory)
        case .http(let url):
            artifact = try await download(uri: uri, url: url)
        }
        return try await verify(artifact, uri: uri, pinned: pinned)
    }

    /// `artifact` when no checksum is pinned or its content matches the pin; otherwise
    /// `checksumMismatch`. Local files and copies are hashed off the actor, once per stamp.
    private func verify(_ artifact: ResolvedArtifact, uri: String, pinned: String?) async throws(ArtifactError) -> ResolvedArtifact {
        guard let pinned else { return artifact }
        var checked = artifact
        if checked.sha256 == nil {
            let stamp = try FileOperations.readableFile(artifact.path, uri: uri)
            if let known = digests[artifact.path], known.stamp == stamp {
                checked.sha256 = known.sha256
            } else {
                let digest = try await Self.hash(artifact.path, uri: uri)
                digests[artifact.path] = (stamp, digest)
                checked.sha256 = digest
            }
        }
        guard let actual = checked.sha256, actual == pinned.lowercased() else {
            throw .checksumMismatch(uri: uri, expected: pinned.lowercased(), actual: checked.sha256 ?? "unknown")
        }
        return checked
    }

    /// The SHA-256 of the file at `path`, read in 1 MiB chunks on a thread of the pool.
    @concurrent
    private static func hash(_ path: String, uri: String) async throws(ArtifactError) -> String {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .system(uri: uri, path: path, operation: "open", errno: errno) }
        defer { close(fd) }
        var hasher = SHA256()
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw .system(uri: uri, path: path, operation: "read", errno: errno)
            }
            if count == 0 { break }
            buffer.withUnsafeBytes { hasher.update(UnsafeRawBufferPointer(rebasing: $0[..<count])) }
        }
        return hasher.hexDigest()
    }

    /// Where `uri` stands, without changing anything (no copy, no download, no directory made).
    public enum Location: Sendable, Hashable {
        /// The file to use: a local file, an up-to-date copy, or a cached download.
        case ready(ResolvedArtifact)
        /// A copy or a download must be made first (`resolve` makes it).
        case needsFetch
    }

    /// Looks `uri` up read-only: what `resolve` would return if it needed no copy or download,
    /// else `.needsFetch`. Errors are those `resolve` gives for a missing or unreadable source,
    /// and `checksumMismatch` for a ready file whose content is not the pinned one.
    public func locate(_ uri: String, artifactsDirectory: String?, sha256 pinned: String? = nil) async throws(ArtifactError) -> Location {
        let artifact: ResolvedArtifact
        switch try ArtifactLocation.parse(uri, flinkHome: flinkHome) {
        case .local(let path):
            try Self.ensureSafe(path, uri: uri)
            let stamp = try FileOperations.readableFile(path, uri: uri)
            artifact = ResolvedArtifact(path: path, sha256: nil, size: stamp.size, source: .local)
        case .file(let path):
            guard let artifactsDirectory else {
                throw .invalidURI(uri: uri, reason: "file:// jars need an artifacts directory to be copied into")
            }
            try Self.ensureSafe(path, uri: uri)
            let stamp = try FileOperations.readableFile(path, uri: uri)
            let destination = Self.copyDestination(uri: uri, source: path, artifactsDirectory: artifactsDirectory)
            guard FileOperations.regularFile(destination) == stamp else { return .needsFetch }
            artifact = ResolvedArtifact(path: destination, sha256: nil, size: stamp.size, source: .file)
        case .http:
            guard let cached = cache.lookup(uri: uri) else { return .needsFetch }
            artifact = cached
        }
        return .ready(try await verify(artifact, uri: uri, pinned: pinned))
    }

    /// Refuses a local jar that another user could replace (`PathSafety`): running it would run
    /// their code with the operator's rights.
    static func ensureSafe(_ path: String, uri: String) throws(ArtifactError) {
        if let problem = PathSafety.problem(path) { throw .unsafe(uri: uri, problem: problem) }
    }

    /// Where a `file://` jar is copied: a subdirectory named by the URI, the source's file name.
    static func copyDestination(uri: String, source: String, artifactsDirectory: String) -> String {
        "\(artifactsDirectory)/\(String(SHA256.hexDigest(of: Array(uri.utf8)).prefix(16)))/\((source as NSString).lastPathComponent)"
    }

    /// The path a `local:`, `file:` or plain-path URI points at (for `local:///opt/flink/...`,
    /// inside `flinkHome`), without touching the file system; nil for `http(s)` and for URIs
    /// that cannot be parsed. For `file:` it is the source, not the copy.
    public static func localPath(of uri: String, flinkHome: String) -> String? {
        switch try? ArtifactLocation.parse(uri, flinkHome: flinkHome) {
        case .local(let path), .file(let path): path
        case .http, nil: nil
        }
    }

    /// Copies off the actor: a large jar must not hold up other resolutions.
    @concurrent
    private static func copy(uri: String, from source: String, into artifactsDirectory: String) async throws(ArtifactError) -> ResolvedArtifact {
        let stamp = try FileOperations.readableFile(source, uri: uri)
        let destination = copyDestination(uri: uri, source: source, artifactsDirectory: artifactsDirectory)
        let directory = (destination as NSString).deletingLastPathComponent
        if FileOperations.regularFile(destination) != stamp {
            try FileOperations.makeDirectories(directory, uri: uri)
            FileOperations.removeStaleTemporaries(in: directory, olderThan: .seconds(3600))
            try FileOperations.copy(source, stamp: stamp, to: destination, uri: uri)
        }
        return ResolvedArtifact(path: destination, sha256: nil, size: stamp.size, source: .file)
    }

    private func download(uri: String, url: URL) async throws(ArtifactError) -> ResolvedArtifact {
        if let cached = cache.lookup(uri: uri) { return cached }
        let shared: SharedDownload
        if let existing = inFlight[uri] {
            shared = existing
        } else {
            try prepareCache(uri: uri)
            shared = SharedDownload()
            inFlight[uri] = shared
            let (cache, limits) = (self.cache, self.limits)
            let temporary = FileOperations.temporaryPath(in: cache.temporaryDirectory, for: DownloadCache.fileName(of: url))
            // Unstructured on purpose: the download belongs to every waiter, not to the first
            // caller, and must outlive any one of them being cancelled.
            Task {
                let result: Result<ResolvedArtifact, ArtifactError>
                do throws(ArtifactError) {
                    let outcome = try await Download.fetch(url, uri: uri, into: temporary, limits: limits)
                    result = .success(try cache.store(temporary: temporary, outcome: outcome, uri: uri,
                                                      fileName: DownloadCache.fileName(of: url), at: Date()))
                } catch {
                    result = .failure(error)
                }
                self.finished(uri)
                shared.finish(result)
            }
        }
        guard let result = await shared.wait() else { throw .cancelled(uri: uri) }
        return try result.get()
    }

    private func finished(_ uri: String) { inFlight[uri] = nil }

    /// Creates the cache's temporary directory and, once per store, removes leftovers there.
    private func prepareCache(uri: String) throws(ArtifactError) {
        try FileOperations.makeDirectories(cache.temporaryDirectory, uri: uri)
        guard !leftoversRemoved else { return }
        leftoversRemoved = true
        FileOperations.removeStaleTemporaries(in: cache.temporaryDirectory, olderThan: downloadTimeout + .seconds(60))
    }
}
