import FlinkClient
import FlinkResources
import FlinkletTesting
import Foundation
import Runtime
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Only Flinklet can use its clusters, and what they write is private: a session cluster with a
/// session job (the one mode whose REST API uploads and runs jars) against `curl` without the
/// operator's client certificate, and `stat` of the files Flinklet and the JVMs wrote.
@Suite(.serialized, .enabled(if: E2E.available)) struct SecurityTests {
    /// `curl` as another local user would run it: every answer or failure, never an exception.
    static func curl(_ arguments: [String]) throws -> (exit: Int32, status: String, output: String) {
        let output = try ChildProcess.collect(["curl", "-sS", "-m", "10", "-o", "/dev/null", "-w", "%{http_code}"] + arguments)
        return (output.status, output.standardOutput, output.standardError)
    }

    static func mode(_ path: String) -> mode_t? {
        var info = stat()
        return stat(path, &info) == 0 ? info.st_mode & 0o7777 : nil
    }

    @Test func aPlainCurlCannotUploadRunOrCancelWhileFlinkletCanAndEverythingWrittenIsPrivate() async throws {
        let world = try Cluster("security")
        defer { world.tearDown() }
        try world.startOperator()
        try world.apply("session.yaml", """
            apiVersion: flink.apache.org/v1beta1
            kind: FlinkDeployment
            metadata:
              name: session
            spec:
              flinkVersion: v2_3
              mode: session
              flinkConfiguration:
                taskmanager.numberOfTaskSlots: "1"
                security.ssl.rest.enabled: "false"
              jobManager:
                resource:
                  memory: 768m
              taskManager:
                replicas: 1
                resource:
                  memory: 1024m

            """)
        try world.apply("job.yaml", """
            apiVersion: flink.apache.org/v1beta1
            kind: FlinkSessionJob
            metadata:
              name: counter
            spec:
              deploymentName: session
              flinkConfiguration:
                execution.checkpointing.interval: 1s
              job:
                jarURI: local:///opt/flink/usrlib/flinklet-counter-job.jar
                entryClass: dev.flinklet.examples.CounterJob
                args: ["--rate", "20", "--keys", "2", "--output", "\(world.output)/session.out"]
                parallelism: 1

            """)
        // Flinklet can: it uploaded and ran the jar over REST.
        let running = world.waitUntil(timeout: 120) {
            world.sessionJob("counter")?.jobStatus?.state == "RUNNING" && world.lineCount("session.out") > 0
        }
        try #require(running, "\(world.summary(.flinkSessionJob, "counter"))\n\(world.summary(.flinkDeployment, "session"))")
        let jobId = try #require(world.sessionJob("counter")?.jobStatus?.jobId)
        let port = try #require(world.restPort("session"))
        #expect(world.deployment("session")?.clusterInfo?["rest-url"] == "https://127.0.0.1:\(port)")
        let base = "https://127.0.0.1:\(port)"
        let jar = try #require(E2E.counterJar)

        // Another local user cannot: not over plain HTTP (Flink only redirects to https) ...
        let plainUpload = try Self.curl(["-F", "jarfile=@\(jar)", "http://127.0.0.1:\(port)/jars/upload"])
        #expect(plainUpload.status != "200", "\(plainUpload)")
        let plainFollowed = try Self.curl(["-L", "-F", "jarfile=@\(jar)", "http://127.0.0.1:\(port)/jars/upload"])
        #expect(plainFollowed.exit != 0 && plainFollowed.status != "200", "the redirect leads to the TLS handshake: \(plainFollowed)")
        // ... nor over HTTPS without the client certificate, trusting the server or not: the
        // handshake fails, so no request is ever read.
        for trust in [["--cacert", world.tlsFiles.certificateAuthority], ["--insecure"]] {
            let attempts = [
                ["-F", "jarfile=@\(jar)", base + "/jars/upload"],
                ["-X", "POST", "-H", "Content-Type: application/json", "-d", "{}", base + "/jars/x_counter.jar/run"],
                ["-X", "PATCH", base + "/jobs/\(jobId)?mode=cancel"],
                ["-X", "POST", "-H", "Content-Type: application/json", "-d", "{\"cancel-job\": true}", base + "/jobs/\(jobId)/savepoints"],
                [base + "/overview"],
            ]
            for attempt in attempts {
                let answer = try Self.curl(trust + attempt)
                #expect(answer.exit != 0 && answer.status == "000", "\(attempt): \(answer)")
            }
        }
        // A certificate of its own (self-signed, or any other) is no better.
        let stranger = world.root + "/stranger"
        try FileManager.default.createDirectory(atPath: stranger, withIntermediateDirectories: true)
        let made = try ChildProcess.collect(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                                             "-subj", "/CN=flinklet", "-days", "1", "-keyout", stranger + "/key.pem", "-out", stranger + "/cert.pem"])
        if made.status == 0 {
            let answer = try Self.curl(["--insecure", "--cert", stranger + "/cert.pem", "--key", stranger + "/key.pem", "-X", "PATCH",
                                        base + "/jobs/\(jobId)?mode=cancel"])
            #expect(answer.exit != 0 && answer.status == "000", "a stranger's certificate: \(answer)")
        }

        // The job ran on through all of it, and Flinklet still reaches the cluster.
        let details = try await world.rest.job(port: port, id: jobId)
        #expect(details?.state == .running)
        let jars = try ChildProcess.collect(world.curlWithCertificate + ["-sf", base + "/jars"])
        #expect(jars.status == 0 && !jars.standardOutput.contains("x_counter"), "\(jars.standardOutput) \(jars.standardError)")
        let before = world.lineCount("session.out")
        #expect(world.waitUntil(timeout: 10) { world.lineCount("session.out") > before })

        // Private: the state directory, the keys, what Flinklet rendered, and what the JVMs
        // wrote themselves (a checkpoint, a log, the job's own output), under umask 077.
        #expect(Self.mode(world.state) == 0o700)
        for file in ["state.db", "lock", "tls/flinklet.p12", "tls/flinklet.key", "tls/flinklet.crt", "tls/password"] {
            #expect(Self.mode(world.state + "/" + file) == 0o600, "\(file)")
        }
        let jobManager = world.state + "/pods/default/session/session-jobmanager-0"
        #expect(Self.mode(jobManager) == 0o700)
        #expect(Self.mode(jobManager + "/conf/config.yaml") == 0o600)
        #expect(Self.mode(jobManager + "/log") == 0o600)
        let checkpoints = world.state + "/clusters/default/session/checkpoints/" + jobId
        #expect(world.waitUntil(timeout: 20) {
            ((try? FileManager.default.contentsOfDirectory(atPath: checkpoints)) ?? []).contains { $0.hasPrefix("chk-") }
        }, "no checkpoint in \(checkpoints)")
        let checkpoint = try #require(try FileManager.default.contentsOfDirectory(atPath: checkpoints).first { $0.hasPrefix("chk-") })
        if let metadata = Self.mode(checkpoints + "/" + checkpoint + "/_metadata") {
            #expect(metadata == 0o600)
        }
        #expect(Self.mode(checkpoints) == 0o700)
        #expect(Self.mode(world.output + "/session.out") == 0o600, "the job's own output, written under the JVM's umask")
        let pid = try #require(world.processes(containing: "session-jobmanager-0").first)
        let procStatus = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
        #expect(procStatus.contains("Umask:\t0077"), "the JobManager's umask")
        // The keystore's password is in the 0600 configuration, never in an argv.
        let password = try String(contentsOfFile: world.state + "/tls/password", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        let configuration = try String(contentsOfFile: jobManager + "/conf/config.yaml", encoding: .utf8)
        #expect(configuration.contains(password))
        #expect(configuration.contains("\"security.ssl.rest.enabled\": \"true\""), "the manifest's security.ssl.* are replaced")
        for pid in world.processes() {
            let argv = try String(decoding: Data(contentsOf: URL(fileURLWithPath: "/proc/\(pid)/cmdline")), as: UTF8.self)
            #expect(!argv.contains(password), "pid \(pid)")
        }

        // Flinklet can cancel: deleting the session job cancels its job.
        world.delete("job.yaml")
        #expect(world.waitUntil(timeout: 40) { world.record(.flinkSessionJob, "counter") == nil }, "\(world.summary(.flinkSessionJob, "counter"))")
        let state = try await world.rest.jobs(port: port).first { $0.id == jobId }?.state
        #expect(state == .canceled || state == .cancelling, "\(String(describing: state))")
        world.delete("session.yaml")
        #expect(world.waitUntil(timeout: 40) { world.processes().isEmpty }, "\(world.processes())")
    }
}
