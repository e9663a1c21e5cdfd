import Controller
import FlinkResources
import Foundation
import Planning
import Testing

/// Installed distributions side by side, found again on every look: what `flinklet run` and
/// `flinklet version` see (only `lib/flink-dist-<release>.jar` is read here).
@Suite struct FlinkDistributionCatalogTests {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("flinklet-catalog-\(UUID().uuidString.prefix(8))").path
    let environment = ["PATH": "/usr/bin:/bin"]

    func install(_ release: String, at home: String? = nil) throws {
        let lib = (home ?? directory + "/.flink/flink-\(release)") + "/lib"
        try FileManager.default.createDirectory(atPath: lib, withIntermediateDirectories: true)
        try Data().write(to: URL(fileURLWithPath: lib + "/flink-dist-\(release).jar"))
        try Data().write(to: URL(fileURLWithPath: lib + "/flink-core-\(release).jar"))
    }

    @Test func aVersionInstalledLaterIsFoundByTheNextLookWithoutANewCatalog() throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try install("2.3.0")
        let catalog = FlinkDistributionCatalog(explicit: nil, environment: environment, workingDirectory: directory)
        #expect(catalog.current().installed.keys.sorted { $0.rawValue < $1.rawValue } == [.v2_3])
        #expect(catalog.current().resolve(.v1_20).failure?.reason == "FlinkNotInstalled")

        try install("1.20.5")
        let found = catalog.current()
        #expect(Set(found.installed.keys) == [.v1_20, .v2_3])
        let older = try found.resolve(.v1_20).get()
        #expect(older.home == directory + "/.flink/flink-1.20.5" && older.version == "1.20.5")
        #expect(older.classpath.last == older.home + "/lib/flink-dist-1.20.5.jar", "flink-dist last, as Flink's scripts order it")
        #expect(found.newest?.version == "2.3.0")
        #expect(found.problem == nil)
    }

    @Test func flinkHomeComesFirstAndFlinkHomeOptionIsTheOnlyOne() throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try install("2.3.0")
        try install("2.3.0", at: directory + "/elsewhere")
        try install("1.20.5")
        let withEnvironment = FlinkDistributionCatalog(explicit: nil, environment: environment.merging(["FLINK_HOME": directory + "/elsewhere"]) { $1 },
                                                       workingDirectory: directory).current()
        #expect(withEnvironment.installed[.v2_3]?.home == directory + "/elsewhere", "$FLINK_HOME wins for its version")
        #expect(withEnvironment.installed[.v1_20] != nil, "the others are still found")

        let explicit = FlinkDistributionCatalog(explicit: directory + "/.flink/flink-1.20.5", environment: environment, workingDirectory: directory).current()
        #expect(Array(explicit.installed.keys) == [.v1_20])
        #expect(explicit.resolve(.v2_3).failure?.message.hasPrefix("Flink 2.3 is not installed: run hack/install-flink.sh 2.3 (this operator runs only --flink-home") == true)

        let wrong = FlinkDistributionCatalog(explicit: directory + "/nothing", environment: environment, workingDirectory: directory).current()
        #expect(wrong.installed.isEmpty && wrong.problem?.contains("is not a Flink distribution") == true)
    }

    /// A distribution linked into `.flink/` is its real directory: the same pods and class-data
    /// archives however it is reached (each e2e world links the installed ones).
    @Test func aLinkedDistributionIsItsRealDirectory() throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try install("1.20.5", at: directory + "/real/flink-1.20.5")
        try FileManager.default.createDirectory(atPath: directory + "/.flink", withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: directory + "/.flink/flink-1.20.5", withDestinationPath: directory + "/real/flink-1.20.5")
        let found = try FlinkDistributionCatalog(explicit: nil, environment: environment, workingDirectory: directory).current().resolve(.v1_20).get()
        #expect(found.home == directory + "/real/flink-1.20.5")
        #expect(found.classpath.allSatisfy { $0.hasPrefix(directory + "/real/flink-1.20.5/lib/") })
    }

    @Test func aHalfInstalledDirectoryIsNotADistribution() throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try FileManager.default.createDirectory(atPath: directory + "/.flink/flink-2.2.1/lib", withIntermediateDirectories: true)
        let found = FlinkDistributionCatalog(explicit: nil, environment: environment, workingDirectory: directory).current()
        #expect(found.installed.isEmpty)
        #expect(found.problem?.contains("has no flink-dist jar") == true)
    }
}

extension Result {
    var failure: Failure? { if case .failure(let error) = self { error } else { nil } }
}
