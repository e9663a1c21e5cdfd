@testable import Artifacts
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

@Suite struct LocalArtifactTests {
    @Test func localAndPlainPathsAreUsedInPlace() async throws {
        try await withScratch { dir in
            let jar = dir + "/jobs/app.jar"
            try write("jar bytes", to: jar)
            let store = ArtifactStore(cacheDirectory: dir + "/cache", flinkHome: dir + "/flink")
            for uri in ["local://" + jar, jar, "LOCAL://" + jar, "local:" + jar] {
                let resolved = try await store.resolve(uri, artifactsDirectory: dir + "/artifacts")
                #expect(resolved == ResolvedArtifact(path: jar, sha256: nil, size: 9, source: .local), "\(uri)")
            }
            #expect(!FileManager.default.fileExists(atPath: dir + "/artifacts"))
            #expect(!FileManager.default.fileExists(atPath: dir + "/cache"))
        }
    }

    /// A jar another user could replace would run their code with the operator's rights: a
    /// local or file jar in a directory others may write (no sticky bit) is refused, read-only
    /// lookups and resolutions alike, naming the directory and the fix.
    @Test func aJarInADirectoryOthersMayWriteIsNotRun() async throws {
        try await withScratch { dir in
            let shared = dir + "/shared"
            let jar = shared + "/app.jar"
            try write("jar bytes", to: jar)
            #expect(chmod(shared, 0o777) == 0)
            let store = ArtifactStore(cacheDirectory: dir + "/cache", flinkHome: dir + "/flink")
            for uri in ["local://" + jar, "file://" + jar, jar] {
                let resolving = await #expect(throws: ArtifactError.self) { try await store.resolve(uri, artifactsDirectory: dir + "/artifacts") }
                let locating = await #expect(throws: ArtifactError.self) { try await store.locate(uri, artifactsDirectory: dir + "/artifacts") }
                for error in [resolving, locating] {
                    #expect(error.map(String.init(describing:)) == "jar \"\(uri)\" is not run: \(shared) is writable by everyone (mode 777), "
                        + "so another user could replace it and run their code as this user; fix: chmod go-w \(shared)")
                }
            }
            #expect(!FileManager.default.fileExists(atPath: dir + "/artifacts"), "nothing copied")
            #expect(chmod(shared, 0o1777) == 0)
            #expect(try await store.resolve("local://" + jar, artifactsDirectory: nil).path == jar, "sticky: others cannot replace this user's file")
        }
    }

    @Test func optFlinkPathsMapToFlinkHome() async throws {
        try await withScratch { dir in
            let home = dir + "/flink-2.3.0"
            try write("example", to: home + "/usrlib/x.jar")
            let store = ArtifactStore(cacheDirectory: dir + "/cache", flinkHome: home)
            let resolved = try await store.resolve("local:///opt/flink/usrlib/x.jar", artifactsDirectory: nil)
            #expect(resolved.path == home + "/usrlib/x.jar")
            #expect(resolved.source == .local)
            let plain = try await store.resolve("/opt/flink/usrlib/../usrlib/./x.jar", artifactsDirectory: nil)
            #expect(plain.path == home + "/usrlib/x.jar")
        }
    }

    @Test(arguments: [
        ("local:///opt/flink/usrlib/x.jar", "/home/u/flink/usrlib/x.jar"),
        ("local:///opt/flink/examples/streaming/WordCount.jar", "/home/u/flink/examples/streaming/WordCount.jar"),
        ("local:///opt/flinkish/x.jar", "/opt/flinkish/x.jar"),
        ("local:///opt/flink/../other/x.jar", "/opt/other/x.jar"),
        ("local:///srv//jobs/./x.jar", "/srv/jobs/x.jar"),
        ("/srv/jobs/x.jar", "/srv/jobs/x.jar"),
        ("/opt/flink/lib/x.jar", "/home/u/flink/lib/x.jar"),
        ("file:///opt/flink/x.jar", "/opt/flink/x.jar"),
        ("file:///srv/my%20jobs/x.jar", "/srv/my jobs/x.jar"),
        ("file://localhost/srv/x.jar", "/srv/x.jar"),
    ])
    func localPathNamesTheFileAURIPointsAt(uri: String, path: String) {
        #expect(ArtifactStore.localPath(of: uri, flinkHome: "/home/u/flink/") == path)
    }

    @Test(arguments: ["https://example.org/x.jar", "http://h/x.jar", "s3://bucket/x.jar", "x.jar", "", "local://host/x.jar"])
    func localPathIsNilForRemoteOrInvalidURIs(uri: String) {
        #expect(ArtifactStore.localPath(of: uri, flinkHome: "/home/u/flink") == nil)
    }

    @Test func aMissingJarNamesTheURIAndTheMappedPath() async throws {
        try await withScratch { dir in
            let home = dir + "/flink"
            let store = ArtifactStore(cacheDirectory: dir + "/cache", flinkHome: home)
            let uri = "local:///opt/flink/usrlib/missing.jar"
            let error = await artifactError { () async throws(ArtifactError) in try await store.resolve(uri, artifactsDirectory: nil) }
            #expect(error == .notFound(uri: uri, path: home + "/usrlib/missing.jar"))
            #expect(error?.description == "jar \"\(uri)\" not found: \(home)/usrlib/missing.jar does not exist")
        }
    }

    @Test func aDirectoryIsNotAJar() async throws {
        try await withScratch { dir in
            let store = ArtifactStore(cacheDirectory: dir + "/cache", flinkHome: dir)
            let error = await artifactError { () async throws(ArtifactError) in try await store.resolve("local://" + dir, artifactsDirectory: nil) }
            #expect(error == .isDirectory(uri: "local://" + dir, path: dir))
            #expect(error?.description == "jar \"local://\(dir)\" is not a file: \(dir) is a directory")
        }
    }

    @Test func anUnreadableJarIsReportedBeforeUse() async throws {
        try await withScratch { dir in
            let jar = dir + "/secret.jar"
            try write("x", to: jar)
            chmod(jar, 0)
            let store = ArtifactStore(cacheDirectory: dir + "/cache", flinkHome: dir)
            for uri in [jar, "file://" + jar] {
                let error = await artifactError { () async throws(ArtifactError) in try await store.resolve(uri, artifactsDirectory: dir + "/artifacts") }
                if geteuid() == 0 {
                    // root reads any file: nothing to report.
                    #expect(error == nil)
                } else {
                    #expect(error == .notReadable(uri: uri, path: jar))
                    #expect(error?.description == "jar \"\(uri)\" is not readable: \(jar): permission denied")
                }
            }
        }
    }

    @Test func aPathThroughAFileIsNotFound() async throws {
        try await withScratch { dir in
            try write("x", to: dir + "/plain")
            let store = ArtifactStore(cacheDirectory: dir + "/cache", flinkHome: dir)
            let error = await artifactError { () async throws(ArtifactError) in try await store.resolve(dir + "/plain/x.jar", artifactsDirectory: nil) }
            #expect(error == .notFound(uri: dir + "/plain/x.jar", path: dir + "/plain/x.jar"))
        }
    }

    @Test(arguments: [
        ("s3://bucket/app.jar", "jar \"s3://bucket/app.jar\" has unsupported scheme \"s3\": use local://, file://, http:// or https://"),
        ("app.jar", "jar \"app.jar\" is not a valid jar URI: give an absolute path or a local://, file://, http:// or https:// URI"),
        ("local://host/app.jar", "jar \"local://host/app.jar\" is not a valid jar URI: a local URI names no host: write local:///path"),
        ("", "jar \"\" is not a valid jar URI: it is empty"),
    ])
    func unusableURIsAreClearErrors(uri: String, message: String) async throws {
        let store = ArtifactStore(cacheDirectory: "/nonexistent/cache", flinkHome: "/nonexistent/flink")
        let error = await artifactError { () async throws(ArtifactError) in try await store.resolve(uri, artifactsDirectory: nil) }
        #expect(error?.description == message)
    }

    @Test func fileURIsAreCopiedOnceAndAgainWhenChanged() async throws {
        try await withScratch { dir in
            let source = dir + "/build/app.jar"
            try write("version 1", to: source)
            let artifacts = dir + "/cluster/artifacts"
            let store = ArtifactStore(cacheDirectory: dir + "/cache", flinkHome: dir)
            let uri = "file://" + source

            let first = try await store.resolve(uri, artifactsDirectory: artifacts)
            #expect(first.source == .file)
            #expect(first.size == 9)
            #expect(first.path.hasPrefix(artifacts + "/"))
            #expect(first.path.hasSuffix("/app.jar"))
            #expect(read(first.path) == "version 1")
            let copied = try #require(inode(first.path))

            let again = try await store.resolve(uri, artifactsDirectory: artifacts)
            #expect(again == first)
            #expect(inode(again.path) == copied, "an unchanged source is not copied again")

            try write("version 2!", to: source)
            let changed = try await store.resolve(uri, artifactsDirectory: artifacts)
            #expect(changed.path == first.path)
            #expect(changed.size == 10)
            #expect(read(changed.path) == "version 2!")
            #expect(inode(changed.path) != copied)
            #expect(files(under: artifacts).count == 1, "no temporary file is left: \(files(under: artifacts))")
        }
    }

    @Test func aSameSizeEditWithANewModificationTimeIsCopied() async throws {
        try await withScratch { dir in
            let source = dir + "/app.jar"
            try write("aaaa", to: source)
            let store = ArtifactStore(cacheDirectory: dir + "/cache", flinkHome: dir)
            let first = try await store.resolve("file://" + source, artifactsDirectory: dir + "/artifacts")
            try write("bbbb", to: source)
            var times = [timespec(tv_sec: 1_000_000, tv_nsec: 5), timespec(tv_sec: 1_000_000, tv_nsec: 5)]
            utimensat(AT_FDCWD, source, &times, 0)
            let second = try await store.resolve("file://" + source, artifactsDirectory: dir + "/artifacts")
            #expect(second.path == first.path)
            #expect(read(second.path) == "bbbb")
        }
    }

    @Test func twoFileJarsWithOneNameDoNotOverwriteEachOther() async throws {
        try await withScratch { dir in
            try write("first", to: dir + "/a/job.jar")
            try write("second", to: dir + "/b/job.jar")
            let store = ArtifactStore(cacheDirectory: dir + "/cache", flinkHome: dir)
            let a = try await store.resolve("file://\(dir)/a/job.jar", artifactsDirectory: dir + "/artifacts")
            let b = try await store.resolve("file://\(dir)/b/job.jar", artifactsDirectory: dir + "/artifacts")
            #expect(a.path != b.path)
            #expect(read(a.path) == "first")
            #expect(read(b.path) == "second")
        }
    }

    @Test func aMissingFileSourceCreatesNothing() async throws {
        try await withScratch { dir in
            let store = ArtifactStore(cacheDirectory: dir + "/cache", flinkHome: dir)
            let uri = "file://\(dir)/nope.jar"
            let error = await artifactError { () async throws(ArtifactError) in try await store.resolve(uri, artifactsDirectory: dir + "/artifacts") }
            #expect(error == .notFound(uri: uri, path: dir + "/nope.jar"))
            #expect(!FileManager.default.fileExists(atPath: dir + "/artifacts"))
        }
    }

    @Test func aFileURIWithoutAnArtifactsDirectoryIsAnError() async throws {
        try await withScratch { dir in
            try write("x", to: dir + "/app.jar")
            let store = ArtifactStore(cacheDirectory: dir + "/cache", flinkHome: dir)
            let error = await artifactError { () async throws(ArtifactError) in try await store.resolve("file://\(dir)/app.jar", artifactsDirectory: nil) }
            guard case .invalidURI = error else {
                Issue.record("expected invalidURI, got \(String(describing: error))")
                return
            }
        }
    }
}
