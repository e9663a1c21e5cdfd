@testable import Artifacts
import Foundation
import Testing

/// A jar pinned by its SHA-256 (`resolve`/`locate` with `sha256:`), and the bounds on a
/// download: its size, its redirects.
@Suite struct PinnedJarTests {
    let jar = Array("PK\u{3}\u{4} a pinned jar: ".utf8) + (0..<20_000).map { UInt8(truncatingIfNeeded: $0 &* 13) }
    var digest: String { SHA256.hexDigest(of: jar) }
    let otherDigest = String(repeating: "ab", count: 32)

    func withServer(maxBytes: Int64 = 1 << 30, maxRedirects: Int = 5,
                    _ body: (TestHTTPServer, ArtifactStore, String) async throws -> Void) async throws {
        let server = try TestHTTPServer()
        defer { server.stop() }
        try await withScratch { dir in
            let store = ArtifactStore(cacheDirectory: dir + "/cache", flinkHome: dir + "/flink", downloadTimeout: .seconds(30),
                                      maxDownloadBytes: maxBytes, maxRedirects: maxRedirects)
            try await body(server, store, dir)
        }
    }

    @Test func aLocalJarMatchingItsPinResolvesAndAnyCaseOfHexIsAccepted() async throws {
        try await withScratch { dir in
            let path = dir + "/job.jar"
            try Data(jar).write(to: URL(fileURLWithPath: path))
            let store = ArtifactStore(cacheDirectory: dir + "/cache", flinkHome: dir)
            let resolved = try await store.resolve("local://" + path, artifactsDirectory: nil, sha256: digest.uppercased())
            #expect(resolved.path == path)
            #expect(resolved.sha256 == digest)
            guard case .ready(let located) = try await store.locate("local://" + path, artifactsDirectory: nil, sha256: digest) else {
                Issue.record("a local jar is ready")
                return
            }
            #expect(located.sha256 == digest)
        }
    }

    @Test func aLocalJarNotMatchingItsPinIsAnErrorNamingBothChecksums() async throws {
        try await withScratch { dir in
            let path = dir + "/job.jar"
            try Data(jar).write(to: URL(fileURLWithPath: path))
            let store = ArtifactStore(cacheDirectory: dir + "/cache", flinkHome: dir)
            let uri = "local://" + path
            let error = await artifactError { () async throws(ArtifactError) in try await store.resolve(uri, artifactsDirectory: nil, sha256: otherDigest) }
            #expect(error == .checksumMismatch(uri: uri, expected: otherDigest, actual: digest))
            #expect(error?.description == "jar \"\(uri)\" does not match its pinned checksum: its SHA-256 is \(digest), the pin is \(otherDigest)")
            await #expect(throws: ArtifactError.checksumMismatch(uri: uri, expected: otherDigest, actual: digest)) {
                _ = try await store.locate(uri, artifactsDirectory: nil, sha256: otherDigest)
            }
            // Unpinned, the same jar is fine.
            let resolved = try await store.resolve(uri, artifactsDirectory: nil)
            #expect(resolved.path == path)
        }
    }

    @Test func aLocalJarReplacedInPlaceIsHashedAgain() async throws {
        try await withScratch { dir in
            let path = dir + "/job.jar"
            try Data(jar).write(to: URL(fileURLWithPath: path))
            let store = ArtifactStore(cacheDirectory: dir + "/cache", flinkHome: dir)
            _ = try await store.resolve("local://" + path, artifactsDirectory: nil, sha256: digest)
            // A new build of the jar: other content, other size; the cached digest must not be reused.
            let rebuilt = jar + Array("v2".utf8)
            try Data(rebuilt).write(to: URL(fileURLWithPath: path))
            let error = await artifactError { () async throws(ArtifactError) in
                try await store.resolve("local://" + path, artifactsDirectory: nil, sha256: digest)
            }
            #expect(error == .checksumMismatch(uri: "local://" + path, expected: digest, actual: SHA256.hexDigest(of: rebuilt)))
        }
    }

    @Test func aCopiedJarIsCheckedAsCopied() async throws {
        try await withScratch { dir in
            let path = dir + "/src/job.jar"
            try FileManager.default.createDirectory(atPath: dir + "/src", withIntermediateDirectories: true)
            try Data(jar).write(to: URL(fileURLWithPath: path))
            let store = ArtifactStore(cacheDirectory: dir + "/cache", flinkHome: dir)
            let resolved = try await store.resolve("file://" + path, artifactsDirectory: dir + "/artifacts", sha256: digest)
            #expect(resolved.source == .file)
            #expect(resolved.sha256 == digest)
            let error = await artifactError { () async throws(ArtifactError) in
                try await store.resolve("file://" + path, artifactsDirectory: dir + "/artifacts", sha256: otherDigest)
            }
            #expect(error == .checksumMismatch(uri: "file://" + path, expected: otherDigest, actual: digest))
        }
    }

    @Test func aDownloadMatchingItsPinResolvesAndAMismatchIsSeenFromTheCacheWithoutDownloadingAgain() async throws {
        try await withServer { server, store, _ in
            server.route("/app.jar", .ok(jar))
            let uri = server.url("/app.jar")
            let resolved = try await store.resolve(uri, artifactsDirectory: nil, sha256: digest)
            #expect(resolved.sha256 == digest)
            let error = await artifactError { () async throws(ArtifactError) in try await store.resolve(uri, artifactsDirectory: nil, sha256: otherDigest) }
            #expect(error == .checksumMismatch(uri: uri, expected: otherDigest, actual: digest))
            await #expect(throws: ArtifactError.checksumMismatch(uri: uri, expected: otherDigest, actual: digest)) {
                _ = try await store.locate(uri, artifactsDirectory: nil, sha256: otherDigest)
            }
            #expect(server.hits("/app.jar") == 1)
        }
    }

    @Test func aFirstDownloadNotMatchingItsPinIsAnError() async throws {
        try await withServer { server, store, _ in
            server.route("/app.jar", .ok(jar))
            let uri = server.url("/app.jar")
            let error = await artifactError { () async throws(ArtifactError) in try await store.resolve(uri, artifactsDirectory: nil, sha256: otherDigest) }
            #expect(error == .checksumMismatch(uri: uri, expected: otherDigest, actual: digest))
        }
    }

    @Test func aBodyAnnouncedLargerThanTheLimitIsRefusedAndCachesNothing() async throws {
        try await withServer(maxBytes: 10_000) { server, store, dir in
            server.route("/big.jar", .ok(jar))
            let uri = server.url("/big.jar")
            let error = await artifactError { () async throws(ArtifactError) in try await store.resolve(uri, artifactsDirectory: nil) }
            #expect(error == .tooLarge(uri: uri, limit: 10_000))
            #expect(error?.description == "jar \"\(uri)\" download failed: larger than the limit of 10000 bytes")
            #expect(files(under: dir + "/cache").isEmpty)
        }
    }

    @Test func aBodyWithoutLengthIsCutAtTheLimit() async throws {
        try await withServer(maxBytes: 16 << 10) { server, store, dir in
            server.route("/unsized.jar", .unsized(jar))
            let uri = server.url("/unsized.jar")
            let error = await artifactError { () async throws(ArtifactError) in try await store.resolve(uri, artifactsDirectory: nil) }
            #expect(error == .tooLarge(uri: uri, limit: 16 << 10))
            #expect(error?.description == "jar \"\(uri)\" download failed: larger than the limit of 16 KiB")
            #expect(files(under: dir + "/cache").isEmpty)
            // Within the limit, the same kind of answer is fine.
            server.route("/small.jar", .unsized(Array(jar.prefix(1000))))
            let resolved = try await store.resolve(server.url("/small.jar"), artifactsDirectory: nil)
            #expect(resolved.size == 1000)
        }
    }

    @Test func aRedirectLoopStopsAtTheLimitWithItsOwnError() async throws {
        try await withServer(maxRedirects: 3) { server, store, dir in
            server.route("/a.jar", .redirect("/b.jar"))
            server.route("/b.jar", .redirect("/a.jar"))
            let uri = server.url("/a.jar")
            let error = await artifactError { () async throws(ArtifactError) in try await store.resolve(uri, artifactsDirectory: nil) }
            #expect(error == .tooManyRedirects(uri: uri, limit: 3))
            #expect(error?.description == "jar \"\(uri)\" download failed: more than 3 redirects")
            #expect(server.hits("/a.jar") + server.hits("/b.jar") == 4)
            #expect(files(under: dir + "/cache").isEmpty)
        }
    }

    @Test func redirectsUpToTheLimitAreFollowed() async throws {
        try await withServer(maxRedirects: 2) { server, store, _ in
            server.route("/1.jar", .redirect("/2.jar"))
            server.route("/2.jar", .redirect("/3.jar"))
            server.route("/3.jar", .ok(jar))
            let resolved = try await store.resolve(server.url("/1.jar"), artifactsDirectory: nil)
            #expect(resolved.sha256 == digest)
        }
    }
}
