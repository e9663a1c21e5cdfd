@testable import Artifacts
import FlinkletTesting
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Downloads from a server on 127.0.0.1 run inside the test.
@Suite struct DownloadTests {
    let jar = Array("PK\u{3}\u{4} a pretend jar, long enough to matter: ".utf8) + (0..<50_000).map { UInt8(truncatingIfNeeded: $0 &* 7) }

    /// One test's world: a server, a scratch directory, and a store caching under it.
    func withServer(timeout: Duration = .seconds(30),
                    _ body: (TestHTTPServer, ArtifactStore, String) async throws -> Void) async throws {
        let server = try TestHTTPServer()
        defer { server.stop() }
        try await withScratch { dir in
            let store = ArtifactStore(cacheDirectory: dir + "/cache", flinkHome: dir + "/flink", downloadTimeout: timeout)
            try await body(server, store, dir)
        }
    }

    @Test func downloadsOnceAndServesLaterResolutionsFromTheCache() async throws {
        try await withServer { server, store, dir in
            server.route("/jobs/app.jar", .ok(jar))
            let uri = server.url("/jobs/app.jar")
            let first = try await store.resolve(uri, artifactsDirectory: nil)
            let digest = SHA256.hexDigest(of: jar)
            #expect(first == ResolvedArtifact(path: "\(dir)/cache/sha256/\(digest)/app.jar", sha256: digest,
                                              size: Int64(jar.count), source: .http))
            #expect(FileManager.default.contents(atPath: first.path) == Data(jar))

            let second = try await store.resolve(uri, artifactsDirectory: nil)
            #expect(second == first)
            // A new store on the same cache (an operator restart) finds it through the index.
            let restarted = ArtifactStore(cacheDirectory: dir + "/cache", flinkHome: dir)
            let fromIndex = try await restarted.resolve(uri, artifactsDirectory: nil)
            #expect(fromIndex == first)
            #expect(server.hits("/jobs/app.jar") == 1)
            #expect(files(under: dir + "/cache/tmp").isEmpty)
        }
    }

    @Test func theIndexRecordsTheURIAndItsChecksum() async throws {
        try await withServer { server, store, dir in
            server.route("/app.jar", .ok(jar))
            let uri = server.url("/app.jar")
            let resolved = try await store.resolve(uri, artifactsDirectory: nil)
            let indexPath = "\(dir)/cache/uris/\(SHA256.hexDigest(of: Array(uri.utf8))).json"
            let data = try #require(FileManager.default.contents(atPath: indexPath))
            let entry = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
            #expect(entry["uri"] as? String == uri)
            #expect(entry["sha256"] as? String == resolved.sha256)
            #expect(entry["size"] as? Int == jar.count)
            #expect(entry["path"] as? String == "sha256/\(SHA256.hexDigest(of: jar))/app.jar")
            let downloadedAt = try #require(entry["downloadedAt"] as? String)
            #expect(ISO8601DateFormatter().date(from: downloadedAt) != nil)
        }
    }

    @Test func concurrentResolutionsOfOneURIDownloadOnce() async throws {
        try await withServer { server, store, _ in
            server.route("/slow.jar", .ok(jar, delay: .milliseconds(300)))
            let uri = server.url("/slow.jar")
            let results = await withTaskGroup(of: Result<ResolvedArtifact, ArtifactError>.self) { group in
                for _ in 0..<8 {
                    group.addTask {
                        do throws(ArtifactError) { return .success(try await store.resolve(uri, artifactsDirectory: nil)) } catch { return .failure(error) }
                    }
                }
                return await group.reduce(into: []) { $0.append($1) }
            }
            let paths = Set(try results.map { try $0.get().path })
            #expect(paths.count == 1)
            #expect(server.hits("/slow.jar") == 1)
        }
    }

    @Test func twoURIsWithOneContentShareItsDirectory() async throws {
        try await withServer { server, store, dir in
            server.route("/a/app.jar", .ok(jar))
            server.route("/b/app.jar", .ok(jar))
            let a = try await store.resolve(server.url("/a/app.jar"), artifactsDirectory: nil)
            let b = try await store.resolve(server.url("/b/app.jar"), artifactsDirectory: nil)
            #expect(a.path == b.path)
            #expect(files(under: dir + "/cache/sha256").count == 1)
            #expect(files(under: dir + "/cache/uris").count == 2)
        }
    }

    @Test func aNotFoundAnswerIsAnErrorAndCachesNothing() async throws {
        try await withServer { server, store, dir in
            server.route("/missing.jar", .status(404))
            let uri = server.url("/missing.jar")
            let error = await artifactError { () async throws(ArtifactError) in try await store.resolve(uri, artifactsDirectory: nil) }
            #expect(error == .httpStatus(uri: uri, status: 404))
            #expect(error?.description == "jar \"\(uri)\" download failed: HTTP 404 Not Found")
            #expect(files(under: dir + "/cache") == [])

            // Not remembered as a failure: once the jar is there, it is downloaded.
            server.route("/missing.jar", .ok(jar))
            let resolved = try await store.resolve(uri, artifactsDirectory: nil)
            #expect(resolved.size == Int64(jar.count))
        }
    }

    @Test func aServerErrorNamesItsStatus() async throws {
        try await withServer { server, store, _ in
            server.route("/broken.jar", .status(503))
            let uri = server.url("/broken.jar")
            let error = await artifactError { () async throws(ArtifactError) in try await store.resolve(uri, artifactsDirectory: nil) }
            #expect(error == .httpStatus(uri: uri, status: 503))
        }
    }

    @Test func aConnectionDroppedMidBodyLeavesNoCachedFile() async throws {
        try await withServer { server, store, dir in
            server.route("/cut.jar", .truncated(jar, sentBytes: 20_000))
            let uri = server.url("/cut.jar")
            let error = await artifactError { () async throws(ArtifactError) in try await store.resolve(uri, artifactsDirectory: nil) }
            #expect(error == .downloadFailed(uri: uri, reason: "connection closed after 20000 of \(jar.count) bytes"))
            #expect(files(under: dir + "/cache") == [])

            server.route("/cut.jar", .ok(jar))
            let resolved = try await store.resolve(uri, artifactsDirectory: nil)
            #expect(resolved.sha256 == SHA256.hexDigest(of: jar))
        }
    }

    @Test func aStalledDownloadTimesOutAndLeavesNoFile() async throws {
        try await withServer(timeout: .milliseconds(300)) { server, store, dir in
            server.route("/stuck.jar", .stall(length: 1000, duration: .seconds(10)))
            let uri = server.url("/stuck.jar")
            let started = ContinuousClock.now
            let error = await artifactError { () async throws(ArtifactError) in try await store.resolve(uri, artifactsDirectory: nil) }
            let elapsed = ContinuousClock.now - started
            // Far below the 10 s stall (load may delay the end of the transfer).
            #expect(elapsed >= .milliseconds(300) && elapsed < .seconds(5), "\(elapsed)")
            #expect(error == .downloadFailed(uri: uri, reason: "timed out after 0.3 s (0 bytes received)"))
            #expect(files(under: dir + "/cache") == [])
        }
    }

    @Test func theTimeoutBoundsTheWholeDownloadNotEachStall() async throws {
        try await withServer(timeout: .milliseconds(500)) { server, store, dir in
            // 6 s of trickle, each stall far below the 0.5 s timeout: only a whole-download bound stops it.
            server.route("/trickle.jar", .trickle(jar, chunks: 40, interval: .milliseconds(150)))
            let uri = server.url("/trickle.jar")
            let started = ContinuousClock.now
            let error = await artifactError { () async throws(ArtifactError) in try await store.resolve(uri, artifactsDirectory: nil) }
            #expect(ContinuousClock.now - started < .milliseconds(4500), "stopped well before the trickle ends (load may delay it)")
            guard case .downloadFailed(uri, let reason) = error else {
                Issue.record("expected a timeout, got \(String(describing: error))")
                return
            }
            #expect(reason.hasPrefix("timed out after 0.5 s ("), "\(reason)")
            #expect(files(under: dir + "/cache") == [])
        }
    }

    @Test func redirectsAreFollowed() async throws {
        try await withServer { server, store, _ in
            server.route("/latest.jar", .redirect("/releases/app-1.0.jar"))
            server.route("/releases/app-1.0.jar", .ok(jar))
            let resolved = try await store.resolve(server.url("/latest.jar"), artifactsDirectory: nil)
            #expect(resolved.sha256 == SHA256.hexDigest(of: jar))
            #expect(server.hits("/releases/app-1.0.jar") == 1)
        }
    }

    @Test func aCancelledDownloadStopsAndLeavesNoFile() async throws {
        let server = try TestHTTPServer()
        defer { server.stop() }
        try await withScratch { dir in
            server.route("/stuck.jar", .stall(length: 1000, duration: .seconds(10)))
            let url = try #require(URL(string: server.url("/stuck.jar")))
            let temporary = dir + "/.stuck.jar.part"
            let download = Task { () async -> ArtifactError? in
                do throws(ArtifactError) {
                    _ = try await Download.fetch(url, uri: url.absoluteString, into: temporary,
                                                limits: Download.Limits(timeout: .seconds(30), maxBytes: 1 << 30, maxRedirects: 5))
                    return nil
                } catch {
                    return error
                }
            }
            #expect(await eventually { server.hits("/stuck.jar") == 1 })
            let cancelled = ContinuousClock.now
            download.cancel()
            #expect(await download.value == .downloadFailed(uri: url.absoluteString, reason: "cancelled"))
            // libcurl asks whether to go on about once a second while nothing arrives; on a busy
            // 2-core machine its thread may wait seconds more for a core (4.1 s seen at load 8).
            // Well before the stall's 10 s: the cancel, not the server, ended it.
            #expect(ContinuousClock.now - cancelled < .seconds(8))
            #expect(!FileManager.default.fileExists(atPath: temporary))
        }
    }

    @Test func aRefusedConnectionIsAnError() async throws {
        try await withServer { _, store, dir in
            let refusing = try RefusingPort()
            let uri = refusing.url("/app.jar")
            let error = await artifactError { () async throws(ArtifactError) in try await store.resolve(uri, artifactsDirectory: nil) }
            #expect(error == .downloadFailed(uri: uri, reason: "connection refused"))
            #expect(files(under: dir + "/cache") == [])
            withExtendedLifetime(refusing) {}
        }
    }

    @Test func leftoversOfACrashedDownloadAreRemoved() async throws {
        try await withServer { server, store, dir in
            let stale = dir + "/cache/tmp/.app.jar.12345-abc.part"
            let fresh = dir + "/cache/tmp/.app.jar.12345-def.part"
            try write("half a jar", to: stale)
            try write("a download in progress", to: fresh)
            var times = [timespec(tv_sec: 1_000_000, tv_nsec: 0), timespec(tv_sec: 1_000_000, tv_nsec: 0)]
            utimensat(AT_FDCWD, stale, &times, 0)
            server.route("/app.jar", .ok(jar))
            _ = try await store.resolve(server.url("/app.jar"), artifactsDirectory: nil)
            #expect(!FileManager.default.fileExists(atPath: stale))
            #expect(FileManager.default.fileExists(atPath: fresh))
        }
    }

    @Test func aCancelledWaiterStopsWaitingWhileTheDownloadCompletesForOthers() async throws {
        try await withServer { server, store, _ in
            server.route("/slow.jar", .ok(jar, delay: .milliseconds(500)))
            let uri = server.url("/slow.jar")
            let waiter = Task { () -> ArtifactError? in
                await artifactError { () async throws(ArtifactError) in try await store.resolve(uri, artifactsDirectory: nil) }
            }
            #expect(await eventually { server.hits("/slow.jar") == 1 })
            waiter.cancel()
            #expect(await waiter.value == .cancelled(uri: uri))
            let resolved = try await store.resolve(uri, artifactsDirectory: nil)
            #expect(resolved.size == Int64(jar.count))
            #expect(server.hits("/slow.jar") == 1)
        }
    }

    @Test(arguments: [
        ("http://h/jobs/app.jar", "app.jar"),
        ("http://h/jobs/app-1.0.jar?token=x", "app-1.0.jar"),
        ("http://h/", "artifact.jar"),
        ("http://h", "artifact.jar"),
        ("http://h/a%20b.jar", "a b.jar"),
    ])
    func downloadsAreCachedUnderTheURLsFileName(url: String, name: String) throws {
        #expect(DownloadCache.fileName(of: try #require(URL(string: url))) == name)
    }
}
