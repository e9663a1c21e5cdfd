@testable import Controller
import Foundation
import Testing

/// How `ClassDataArchives` tells an archive it must make again from one it keeps, and what it
/// clears away first (the archiving cluster itself: `EndToEndTests.ClassDataArchiveTests`).
struct ClassDataArchivesTests {
    private func scratch() throws -> String {
        let directory = NSTemporaryDirectory() + "flinklet-archives-test-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        return directory
    }

    @Test func anArchiveWithoutTheCurrentRecipeIsMadeAgainAtTheSamePath() throws {
        let directory = try scratch()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let archive = directory + "/2.3.0-abc-jobmanager.jsa"
        let withJob = ClassDataArchives.currentRecipe(exampleJob: true)
        let withoutJob = ClassDataArchives.currentRecipe(exampleJob: false)
        #expect(withJob != withoutJob)
        #expect(!ClassDataArchives.isMade(archive: archive, by: withJob), "no archive")
        #expect(FileManager.default.createFile(atPath: archive, contents: Data("archive".utf8)))
        #expect(!ClassDataArchives.isMade(archive: archive, by: withJob), "an earlier Flinklet's archive: no recipe beside it")
        ClassDataArchives.markMade(archive: archive, by: withoutJob)
        #expect(ClassDataArchives.isMade(archive: archive, by: withoutJob))
        #expect(!ClassDataArchives.isMade(archive: archive, by: withJob), "made before the example job was built")
        ClassDataArchives.markMade(archive: archive, by: withJob)
        #expect(ClassDataArchives.isMade(archive: archive, by: withJob))
        // The recipe is replaced whole (renamed into place), nothing else is left beside the archive.
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory).sorted() == ["2.3.0-abc-jobmanager.jsa", "2.3.0-abc-jobmanager.jsa.recipe"])
    }

    @Test func onlyTemporaryArchivesOlderThanTenMinutesAreRemoved() throws {
        let directory = try scratch()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let ages: [String: TimeInterval] = [
            "a.jsa.1a2b3c4d.tmp": 11 * 60,  // left by an operator killed while it wrote it
            "b.jsa.5e6f7a8b.tmp": 60,       // being written now
            "a.jsa": 3600,                  // an archive
        ]
        for (name, age) in ages {
            let path = directory + "/" + name
            #expect(FileManager.default.createFile(atPath: path, contents: Data()))
            try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSinceNow: -age)], ofItemAtPath: path)
        }
        ClassDataArchives.removeAbandonedTemporaries(in: [directory, directory])
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory).sorted() == ["a.jsa", "b.jsa.5e6f7a8b.tmp"])
    }

    @Test func onlyArchivingClusterDirectoriesUntouchedForTenMinutesAreRemoved() throws {
        let parent = try scratch()
        defer { try? FileManager.default.removeItem(atPath: parent) }
        let ages: [String: TimeInterval] = [
            "flinklet-cds-1a2b3c4d": 11 * 60,  // a killed operator's
            "flinklet-cds-5e6f7a8b": 60,       // an archiving cluster running now
            "flinklet-other-9c0d1e2f": 3600,   // not an archiving cluster's
        ]
        for (name, age) in ages {
            let path = parent + "/" + name
            try FileManager.default.createDirectory(atPath: path + "/cds-jobmanager-0", withIntermediateDirectories: true)
            try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSinceNow: -age)], ofItemAtPath: path)
        }
        #expect(FileManager.default.createFile(atPath: parent + "/flinklet-cds-file", contents: Data()))
        try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSinceNow: -3600)], ofItemAtPath: parent + "/flinklet-cds-file")
        ClassDataArchives.removeAbandonedClusterDirectories(in: parent)
        #expect(try FileManager.default.contentsOfDirectory(atPath: parent).sorted()
            == ["flinklet-cds-5e6f7a8b", "flinklet-cds-file", "flinklet-other-9c0d1e2f"])
    }
}
