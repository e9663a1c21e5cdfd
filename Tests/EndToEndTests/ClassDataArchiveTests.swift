import Controller
import FlinkClient
import FlinkletTesting
import Foundation
import Logging
import Planning
import Runtime
import Testing

/// The class data archives a distribution's JVMs start from (`ClassDataArchives.ensure`), made
/// by a real archiving cluster into a scratch directory: they hold what running a job loads
/// (and, for the client, submitting one), not only what a cluster start loads, and nothing of
/// the archiving cluster is left.
@Suite(.serialized, .enabled(if: E2E.available)) struct ClassDataArchiveTests {
    @Test func theArchivesHoldWhatRunningAndCheckpointingAJobLoads() async throws {
        let root = NSTemporaryDirectory() + "flinklet-e2e-cds-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: root + "/state", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: root) }
        let home = try #require(E2E.flinkHome)
        var distribution = try FlinkHome.inspect(home, environment: ProcessInfo.processInfo.environment).get()
        distribution.classDataArchives = [.jobManager: root + "/jobmanager.jsa", .taskManager: root + "/taskmanager.jsa",
                                          .submitter: root + "/submitter.jsa"]
        let logger = Logger(label: "e2e-cds")
        let (tls, context) = try await ClusterCredentials.ensure(stateDirectory: root + "/state", java: distribution.java, logger: logger)

        await ClassDataArchives.ensure(distribution, tls: tls, rest: FlinkRESTClient(tls: context), logger: logger)

        for archive in distribution.classDataArchives.values {
            #expect(try String(contentsOfFile: archive + ".recipe", encoding: .utf8) == "written at exit, after the example job ran (submitted through REST and by the client)\n")
        }
        // Classes a JVM loads only once a job runs and checkpoints (an idle cluster's archive has none of them).
        let classpath = distribution.classpath.joined(separator: ":")
        func archivedClasses(_ archive: String) throws -> Set<Substring> {
            let listing = try ChildProcess.collect([distribution.java, "-XX:SharedArchiveFile=\(archive)", "-XX:+PrintSharedArchiveAndExit",
                                                    "-cp", classpath])
            #expect(listing.termination == .exited(0), "\(listing.standardError)")
            // Lines like "4616: org.apache.flink.streaming.api.graph.StreamGraphGenerator app_loader".
            return Set(listing.standardOutput.split(separator: "\n").compactMap { $0.split(separator: " ").dropFirst().first })
        }
        let jobManager = try archivedClasses(root + "/jobmanager.jsa")
        for name in ["org.apache.flink.runtime.checkpoint.CheckpointCoordinator", "org.apache.flink.streaming.api.graph.StreamGraphGenerator",
                     "org.apache.flink.runtime.webmonitor.handlers.JarRunHandler"] {
            let archived = jobManager.contains(Substring(name))
            #expect(archived, "\(name) not in the JobManager's archive (\(jobManager.count) classes)")
        }
        let taskManager = try archivedClasses(root + "/taskmanager.jsa")
        for name in ["org.apache.flink.streaming.runtime.tasks.StreamTask", "org.apache.flink.runtime.state.heap.HeapKeyedStateBackend"] {
            let archived = taskManager.contains(Substring(name))
            #expect(archived, "\(name) not in the TaskManager's archive (\(taskManager.count) classes)")
        }
        let client = try archivedClasses(root + "/submitter.jsa")
        for name in ["org.apache.flink.client.program.rest.RestClusterClient", "org.apache.flink.streaming.api.graph.StreamGraphGenerator"] {
            let archived = client.contains(Substring(name))
            #expect(archived, "\(name) not in the client's archive (\(client.count) classes)")
        }
        // Nothing of the archiving cluster is left: no process, no temporary archive.
        // (The archiving JVMs' command lines name their temporary archives, in `root`.)
        let leftovers = ProcessInfoReader.allProcesses().filter {
            !$0.isZombie && ((try? String(contentsOfFile: "/proc/\($0.pid)/cmdline", encoding: .utf8)) ?? "").contains(root)
        }
        #expect(leftovers.isEmpty)
        #expect(try FileManager.default.contentsOfDirectory(atPath: root).filter { $0.hasSuffix(".tmp") }.isEmpty)
    }
}
