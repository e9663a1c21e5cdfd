import FlinkletTesting
import Foundation
import Runtime
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Pods carry their state directory in their environment, so a process is found by the state
/// directory it was started under, without any record of it.
@Suite("PodMarker")
struct PodMarkerTests {
    @Test func aMarkedPodAndItsChildrenAreFoundByTheirStateDirectoryWithoutAnyRecord() async throws {
        let state = try makeScratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: state) }
        let marker = PodMarker(stateDirectory: state + "/./")
        #expect(marker.stateDirectory == PodMarker.canonical(state), "canonical: absolute, standardized, symlinks resolved")
        var configuration = LocalProcessDriver.Configuration.fast
        configuration.marker = marker
        try await withHarness(configuration) { h in
            // A shell whose child (the sleep) inherits the environment, as a Flink script's JVM does.
            var spec = h.shell("ns/app-jobmanager-0", "sleep 30 & wait", environment: [PodMarker.stateDirectoryVariable: "/elsewhere"])
            spec.logPath = h.directory + "/jm.log"
            spec.labels = ["flinklet.dev/owner": "FlinkDeployment/ns/app"]
            let record = try await h.driver.start(spec)

            // posix_spawn returns once the child's exec released the parent (vfork), which the
            // kernel does before it copies the new image's arguments and environment: for that
            // moment /proc/PID/environ is empty (seen: 6 runs in 12 beside the driver's suite).
            var environment: [String: String] = [:]
            #expect(await eventually { environment = ProcessInfoReader.environment(pid: record.pid) ?? [:]; return !environment.isEmpty })
            #expect(environment[PodMarker.stateDirectoryVariable] == marker.stateDirectory, "the marker wins over the spec's environment")
            #expect(environment[PodMarker.podVariable] == "ns/app-jobmanager-0")
            #expect(environment[PodMarker.specFileVariable] == marker.specPath(of: "ns/app-jobmanager-0"))
            #expect(marker.specPath(of: "ns/app-jobmanager-0") == marker.stateDirectory + "/pod-specs/ns/app-jobmanager-0.json")

            var found: [MarkedProcess] = []
            #expect(await eventually { found = marker.scan(); return found.count == 2 }, "the shell and its sleep: \(found)")
            #expect(found.allSatisfy { $0.pgid == record.pgid && $0.pod == "ns/app-jobmanager-0" })
            let leader = try #require(found.first { $0.isGroupLeader })
            #expect(leader.pid == record.pid && leader.startTicks == record.processStartTicks)
            let rebuilt = try #require(leader.record(startedAt: Date()), "the spec file is readable")
            #expect(rebuilt.spec == spec, "the spec as started, labels and all")
            #expect(rebuilt.pid == record.pid && rebuilt.pgid == record.pgid && rebuilt.processStartTicks == record.processStartTicks)
            #expect(found.first { !$0.isGroupLeader }?.record(startedAt: Date()) == nil, "only a group's leader stands for the pod")

            #expect(PodMarker(stateDirectory: state + "-other").scan().isEmpty, "another state directory's scan sees none of them")
            let started = try #require(ProcessInfoReader.startDate(ticks: record.processStartTicks))
            #expect(abs(started.timeIntervalSinceNow) < 60)

            await h.driver.stop(spec.name, grace: .milliseconds(200))
            #expect(await eventually { marker.scan().isEmpty })
            #expect(!FileManager.default.fileExists(atPath: marker.specPath(of: spec.name)), "a stopped pod's spec file goes with it")
        }
    }

    @Test func aSpecFileThatCannotBeWrittenFailsTheStartAndSpawnsNothing() async throws {
        let state = try makeScratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: state) }
        // A file where the spec directory should be: the spec cannot be written.
        _ = FileManager.default.createFile(atPath: state + "/pod-specs", contents: Data())
        var configuration = LocalProcessDriver.Configuration.fast
        configuration.marker = PodMarker(stateDirectory: state)
        try await withHarness(configuration) { h in
            let spec = h.shell("unwritable", "exec sleep 30")
            await #expect(throws: DriverError.self) { try await h.driver.start(spec) }
            do {
                _ = try await h.driver.start(spec)
            } catch {
                #expect("\(error)".contains(state + "/pod-specs"), "the error names the path: \(error)")
            }
            #expect(h.events.startedGroups.isEmpty)
        }
    }

    @Test func unmarkedDriversSetNoMarker() async throws {
        try await withHarness { h in
            let record = try await h.driver.start(h.shell("plain", "exec sleep 30"))
            // posix_spawn returns once the child's exec released the parent (vfork), which the
            // kernel does before it copies the new image's arguments and environment: for that
            // moment /proc/PID/environ is empty (seen: 6 runs in 12 beside the driver's suite).
            var environment: [String: String] = [:]
            #expect(await eventually { environment = ProcessInfoReader.environment(pid: record.pid) ?? [:]; return !environment.isEmpty })
            #expect(environment[PodMarker.stateDirectoryVariable] == nil)
        }
    }
}
