@testable import FlinkClient
import Foundation
import Testing

/// The real client against the test server: exactly what it sends, and how it reads what
/// Flink 2.3 answers (recorded answers in `Flink23`).
@Suite("FlinkRESTClient")
struct FlinkRESTClientTests {
    let client = FlinkRESTClient(timeout: .seconds(5))

    /// Serves one canned answer; returns what the call produced and the request it made.
    func exchange<T: Sendable>(_ reply: Reply, _ call: @Sendable (FlinkRESTClient, Int) async throws -> T) async throws -> (T, RecordedRequest) {
        let client = self.client
        return try await withServer({ _ in reply }) { server in
            let result = try await call(client, server.port)
            return (result, try #require(server.requests.first))
        }
    }

    /// The error a call throws against one canned answer.
    func failure(_ reply: Reply, _ call: @Sendable (FlinkRESTClient, Int) async throws -> Void) async throws -> FlinkRESTError {
        let client = self.client
        return try await withServer({ _ in reply }) { server in
            do {
                try await call(client, server.port)
            } catch let error as FlinkRESTError {
                return error
            }
            Issue.record("no error thrown")
            return .malformed("no error")
        }
    }

    static func date(_ millis: Int64) -> Date { Date(timeIntervalSince1970: Double(millis) / 1000) }

    // MARK: - Reads

    @Test func overviewReadsTheClusterSummary() async throws {
        let (overview, request) = try await exchange(.json(200, Flink23.overview)) { try await $0.overview(port: $1) }
        #expect(request.method == "GET" && request.target == "/overview")
        #expect(overview == ClusterOverview(taskManagers: 1, slotsTotal: 2, slotsAvailable: 2, jobsRunning: 0, flinkVersion: "2.3.0"))
    }

    @Test func jobsReadsEveryJobWithNoEndTimeWhileRunning() async throws {
        let (jobs, request) = try await exchange(.json(200, Flink23.jobsOverview)) { try await $0.jobs(port: $1) }
        #expect(request.target == "/jobs/overview")
        #expect(jobs == [JobOverview(id: "00000000000000000000000000000001", name: "flinklet-counter", state: .running,
                                     startTime: Self.date(1795256699918), endTime: nil, lastModification: Self.date(1795256701952),
                                     tasks: JobOverview.TaskCounts(total: 2, running: 2, finished: 0))])
        #expect(jobs.first?.allTasksStarted == true)
    }

    /// Chaos seed 1 round 2: a parallelism-2 source whose second subtask has no split finishes at
    /// once, and its vertex reads RUNNING: the job has started. Tasks still deploying have not.
    @Test func aJobHasStartedWhenEveryTaskRunsOrHasFinished() {
        func job(_ tasks: JobOverview.TaskCounts?, state: JobState = .running) -> JobOverview {
            JobOverview(id: "j", name: "n", state: state, startTime: nil, endTime: nil, lastModification: nil, tasks: tasks)
        }
        #expect(job(.init(total: 4, running: 3, finished: 1)).allTasksStarted == true)
        #expect(job(.init(total: 4, running: 3, finished: 0)).allTasksStarted == false, "one still deploying")
        #expect(job(.init(total: 4, running: 0, finished: 4)).allTasksStarted == false, "every task finished: not running")
        #expect(job(.init(total: 2, running: 2), state: .restarting).allTasksStarted == false)
        #expect(job(nil).allTasksStarted == nil)
    }

    @Test func jobReadsDetailsAndVertices() async throws {
        let (job, request) = try await exchange(.json(200, Flink23.jobDetailsCanceled)) {
            try await $0.job(port: $1, id: "f3a7e7bd51313c0813cd66e6139536ba")
        }
        #expect(request.target == "/jobs/f3a7e7bd51313c0813cd66e6139536ba")
        let details = try #require(job)
        #expect(details.state == .canceled && details.state.isGloballyTerminal)
        #expect(details.startTime == Self.date(1795256757055) && details.endTime == Self.date(1795256758364))
        #expect(details.now == Self.date(1795256826258))
        #expect(details.vertices == [
            JobVertex(id: "0c80f7e50ab54b30f6a2580946f9e942", name: "Source: events", parallelism: 1, status: .canceled),
            JobVertex(id: "5b61d6019ab04da71a4e62533c1a8c40", name: "count-per-key -> append-to-file: Writer", parallelism: 1, status: .canceled),
        ])
        #expect(!details.allVerticesRunning)
    }

    @Test func jobIsNilWhenFlinkDoesNotKnowIt() async throws {
        let (job, _) = try await exchange(.json(404, Flink23.jobNotFound, reason: "Not Found")) {
            try await $0.job(port: $1, id: "00000000000000000000000000000009")
        }
        #expect(job == nil)
    }

    @Test func allVerticesRunningNeedsTheJobAndEveryVertexRunning() {
        let running = JobVertex(id: "a", name: "a", parallelism: 1, status: .running)
        let deploying = JobVertex(id: "b", name: "b", parallelism: 1, status: .deploying)
        func job(_ state: JobState, _ vertices: [JobVertex]) -> JobDetails {
            JobDetails(id: "j", name: "j", state: state, startTime: nil, endTime: nil, now: nil, vertices: vertices)
        }
        #expect(job(.running, [running, running]).allVerticesRunning)
        #expect(!job(.running, [running, deploying]).allVerticesRunning, "Flink says RUNNING while tasks still deploy")
        #expect(!job(.running, []).allVerticesRunning)
        #expect(!job(.restarting, [running]).allVerticesRunning)
    }

    @Test func latestCheckpointReadsTheCompletedOne() async throws {
        let (checkpoint, request) = try await exchange(.json(200, Flink23.checkpoints)) {
            try await $0.latestCheckpoint(port: $1, jobId: "f3a7e7bd51313c0813cd66e6139536ba")
        }
        #expect(request.target == "/jobs/f3a7e7bd51313c0813cd66e6139536ba/checkpoints")
        #expect(checkpoint == CompletedCheckpoint(id: 2, externalPath: "file:/tmp/fcsmoke/ckpt/f3a7e7bd51313c0813cd66e6139536ba/chk-2",
                                                  completedAt: Self.date(1795256757379)))
    }

    @Test func latestCheckpointIsNilWithoutARestorableOne() async throws {
        let (none, _) = try await exchange(.json(200, Flink23.checkpointsNone)) { try await $0.latestCheckpoint(port: $1, jobId: "j") }
        #expect(none == nil)
        let inMemory = Flink23.checkpoints.replacingOccurrences(
            of: "file:/tmp/fcsmoke/ckpt/f3a7e7bd51313c0813cd66e6139536ba/chk-2", with: "<checkpoint-not-externally-addressable>")
        let (notAddressable, _) = try await exchange(.json(200, inMemory)) { try await $0.latestCheckpoint(port: $1, jobId: "j") }
        #expect(notAddressable == nil)
    }

    @Test func latestCheckpointOfAnUnknownJobIs404() async throws {
        let error = try await failure(.json(404, Flink23.jobNotFound, reason: "Not Found")) { _ = try await $0.latestCheckpoint(port: $1, jobId: "j") }
        #expect(error == .http(status: 404, errors: [
            "org.apache.flink.runtime.rest.NotFoundException: Job 00000000000000000000000000000009 not found; caused by: org.apache.flink.runtime.messages.FlinkJobNotFoundException: Could not find Flink job (00000000000000000000000000000009)",
        ]))
    }

    // MARK: - Jars

    @Test func uploadJarSendsOneMultipartFilePartAndReturnsTheJarId() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("flinkclient-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let jar = directory.appendingPathComponent("job.jar")
        let contents: [UInt8] = Array("PK\u{3}\u{4}".utf8) + (0..<3000).map { UInt8($0 % 256) } + Array("\r\n--\r\n".utf8)
        try Data(contents).write(to: jar)

        let (id, request) = try await exchange(.json(200, Flink23.upload)) { try await $0.uploadJar(port: $1, path: jar.path) }
        #expect(id == "13efa191-ff50-4bab-ab4b-fa648c5f7a81_job.jar")
        #expect(request.method == "POST" && request.target == "/jars/upload")
        let contentType = try #require(request.headers["content-type"])
        #expect(contentType.hasPrefix("multipart/form-data; boundary="))
        let boundary = String(contentType.dropFirst("multipart/form-data; boundary=".count))
        let expected = Array("--\(boundary)\r\nContent-Disposition: form-data; name=\"jarfile\"; filename=\"job.jar\"\r\nContent-Type: application/x-java-archive\r\n\r\n".utf8)
            + contents + Array("\r\n--\(boundary)--\r\n".utf8)
        #expect(request.body == expected)
        #expect(request.headers["content-length"] == "\(expected.count)")
    }

    @Test func uploadJarOfAMissingFileSendsNothing() async throws {
        let client = self.client
        try await withServer({ _ in .json(200, Flink23.upload) }) { server in
            await #expect(throws: FlinkRESTError.jarUnreadable(path: "/nonexistent/job.jar", reason: "No such file or directory")) {
                _ = try await client.uploadJar(port: server.port, path: "/nonexistent/job.jar")
            }
            #expect(server.requests.isEmpty)
        }
    }

    @Test func runJarSendsEveryFieldFlinkReadsAndReturnsTheJobId() async throws {
        let submission = JobSubmission(
            programArgs: ["--output", "/tmp/out file", "--rate", "5"], parallelism: 2, savepointPath: "file:/sp/savepoint-1",
            allowNonRestoredState: true, jobId: "00000000000000000000000000000001", entryClass: "dev.flinklet.examples.CounterJob",
            flinkConfiguration: ["pipeline.name": "orders"])
        let (jobId, request) = try await exchange(.json(200, Flink23.run)) {
            try await $0.runJar(port: $1, jarId: "13efa191_job.jar", submission: submission)
        }
        #expect(jobId == "00000000000000000000000000000001")
        #expect(request.method == "POST" && request.target == "/jars/13efa191_job.jar/run")
        #expect(request.headers["content-type"] == "application/json")
        #expect(request.bodyText == #"{"allowNonRestoredState":true,"claimMode":"NO_CLAIM","entryClass":"dev.flinklet.examples.CounterJob","flinkConfiguration":{"pipeline.name":"orders"},"jobId":"00000000000000000000000000000001","parallelism":2,"programArgsList":["--output","/tmp/out file","--rate","5"],"savepointPath":"file:/sp/savepoint-1"}"#)
    }

    @Test func runJarLeavesOutWhatIsNotSet() async throws {
        let (_, request) = try await exchange(.json(200, Flink23.run)) {
            try await $0.runJar(port: $1, jarId: "x.jar", submission: JobSubmission())
        }
        #expect(request.bodyText == #"{"claimMode":"NO_CLAIM","programArgsList":[]}"#)
    }

    @Test func runJarWithATakenJobIdIsADuplicateSubmission() async throws {
        let error = try await failure(.json(400, Flink23.duplicateSubmission, reason: "Bad Request")) {
            _ = try await $0.runJar(port: $1, jarId: "x.jar", submission: JobSubmission(jobId: "00000000000000000000000000000001"))
        }
        #expect(error == .http(status: 400, errors: [
            "org.apache.flink.runtime.rest.handler.RestHandlerException: Could not execute application.; caused by: org.apache.flink.runtime.client.DuplicateApplicationSubmissionException: Application has already been submitted.",
        ]))
        #expect(error.isDuplicateSubmission)
        #expect(error.status == 400)
    }

    @Test func runJarOfAnUnknownJarKeepsFlinksServerSideMessage() async throws {
        let error = try await failure(.json(500, Flink23.unknownJar, reason: "Internal Server Error")) {
            _ = try await $0.runJar(port: $1, jarId: "nope.jar", submission: JobSubmission())
        }
        #expect(error == .http(status: 500, errors: [
            "Internal server error.",
            "java.util.concurrent.CompletionException: org.apache.flink.runtime.rest.handler.RestHandlerException: Jar file /tmp/fcsmoke/web/flink-web-upload/nope.jar does not exist",
        ]))
        #expect(!error.isDuplicateSubmission)
    }

    @Test func deleteJarEncodesTheIdAsOnePathSegment() async throws {
        let (_, request) = try await exchange(.json(200, "{}")) { try await $0.deleteJar(port: $1, jarId: "a b/c.jar") }
        #expect(request.method == "DELETE" && request.target == "/jars/a%20b%2Fc.jar")
        #expect(request.headers["content-length"] == nil)
    }

    // MARK: - Cancel and savepoints

    @Test func cancelIsAPatchWithModeCancel() async throws {
        let (_, request) = try await exchange(.json(202, "{}", reason: "Accepted")) { try await $0.cancel(port: $1, jobId: "abc") }
        #expect(request.method == "PATCH" && request.target == "/jobs/abc?mode=cancel")
        #expect(request.headers["content-length"] == "0")
    }

    @Test func cancellingAFinishedJobIsAConflict() async throws {
        let error = try await failure(.json(409, Flink23.cancelFinished, reason: "Conflict")) { try await $0.cancel(port: $1, jobId: "abc") }
        #expect(error == .http(status: 409, errors: [
            "org.apache.flink.runtime.rest.handler.RestHandlerException: Job cancellation failed because the job has already reached another terminal state (FINISHED).",
        ]))
    }

    @Test func triggerSavepointSendsDashedKeysAndCanonicalFormat() async throws {
        let (id, request) = try await exchange(.json(202, #"{"request-id":"e6a0d93e296f821ec168db0a16179483"}"#, reason: "Accepted")) {
            try await $0.triggerSavepoint(port: $1, jobId: "abc", targetDirectory: "/srv/sp", cancelJob: false)
        }
        #expect(id == "e6a0d93e296f821ec168db0a16179483")
        #expect(request.method == "POST" && request.target == "/jobs/abc/savepoints")
        #expect(request.bodyText == #"{"cancel-job":false,"formatType":"CANONICAL","target-directory":"/srv/sp"}"#)
    }

    @Test func triggerSavepointWithoutADirectoryLeavesItToTheCluster() async throws {
        let (_, request) = try await exchange(.json(202, #"{"request-id":"r"}"#, reason: "Accepted")) {
            try await $0.triggerSavepoint(port: $1, jobId: "abc", targetDirectory: nil, cancelJob: true)
        }
        #expect(request.bodyText == #"{"cancel-job":true,"formatType":"CANONICAL"}"#)
        let error = try await failure(.json(400, Flink23.noSavepointDirectory, reason: "Bad Request")) {
            _ = try await $0.triggerSavepoint(port: $1, jobId: "abc", targetDirectory: nil, cancelJob: false)
        }
        #expect(error == .http(status: 400, errors: [
            "org.apache.flink.runtime.rest.handler.RestHandlerException: Config key [execution.checkpointing.savepoint-dir] is not set. Property [target-directory] must be provided.",
        ]))
    }

    @Test func stopWithSavepointSendsCamelCaseKeys() async throws {
        let (id, request) = try await exchange(.json(202, #"{"request-id":"e92a77693ac90d3d0bdf5cf608570c3b"}"#, reason: "Accepted")) {
            try await $0.stopWithSavepoint(port: $1, jobId: "abc", targetDirectory: "/srv/sp", drain: true)
        }
        #expect(id == "e92a77693ac90d3d0bdf5cf608570c3b")
        #expect(request.method == "POST" && request.target == "/jobs/abc/stop")
        #expect(request.bodyText == #"{"drain":true,"formatType":"CANONICAL","targetDirectory":"/srv/sp"}"#)
    }

    @Test func triggerSavepointInAFormatSendsItAndTheTriggerId() async throws {
        let (_, request) = try await exchange(.json(202, #"{"request-id":"r"}"#, reason: "Accepted")) {
            try await $0.triggerSavepoint(port: $1, jobId: "abc", targetDirectory: "/srv/sp", formatType: "NATIVE", triggerId: "0123456789abcdef0123456789abcdef")
        }
        #expect(request.target == "/jobs/abc/savepoints")
        #expect(request.bodyText == #"{"cancel-job":false,"formatType":"NATIVE","target-directory":"/srv/sp","triggerId":"0123456789abcdef0123456789abcdef"}"#)
    }

    @Test func triggerCheckpointPostsTheConfiguredTypeAndTheTriggerId() async throws {
        let (id, request) = try await exchange(.json(202, #"{"request-id":"0123456789abcdef0123456789abcdef"}"#, reason: "Accepted")) {
            try await $0.triggerCheckpoint(port: $1, jobId: "abc", triggerId: "0123456789abcdef0123456789abcdef")
        }
        #expect(id == "0123456789abcdef0123456789abcdef")
        #expect(request.method == "POST" && request.target == "/jobs/abc/checkpoints")
        #expect(request.bodyText == #"{"checkpointType":"CONFIGURED","triggerId":"0123456789abcdef0123456789abcdef"}"#)
    }

    @Test(arguments: [
        (#"{"status":{"id":"IN_PROGRESS"}}"#, CheckpointOperation.inProgress),
        (#"{"status":{"id":"COMPLETED"},"operation":{"checkpointId":7}}"#, .completed(checkpointId: 7)),
        (#"{"status":{"id":"COMPLETED"},"operation":{"failure-cause":{"class":"E","stack-trace":"E: declined"}}}"#, .failed(cause: "E: declined")),
    ])
    func checkpointStatusMapsFlinksAnswer(answer: String, expected: CheckpointOperation) async throws {
        let (status, request) = try await exchange(.json(200, answer)) {
            try await $0.checkpointStatus(port: $1, jobId: "abc", requestId: "r")
        }
        #expect(request.method == "GET" && request.target == "/jobs/abc/checkpoints/r")
        #expect(status == expected)
    }

    @Test func checkpointPathReadsTheDetailsExternalPath() async throws {
        let (path, request) = try await exchange(.json(200, #"{"id":7,"status":"COMPLETED","external_path":"file:/srv/chk/abc/chk-7"}"#)) {
            try await $0.checkpointPath(port: $1, jobId: "abc", checkpointId: 7)
        }
        #expect(request.target == "/jobs/abc/checkpoints/details/7")
        #expect(path == "file:/srv/chk/abc/chk-7")
    }

    static let statuses: [(String, SavepointOperation)] = [
        (Flink23.savepointInProgress, .inProgress),
        (#"{"status":{"id":"IN_PROGRESS"}}"#, .inProgress),
        (Flink23.savepointCompleted, .completed(location: "file:/tmp/fcsmoke/sp/savepoint-000000-71ad38747ea9")),
        // The trap: a failed savepoint is COMPLETED, with a failure cause and no location.
        (Flink23.savepointFailed, .failed(cause: "java.util.concurrent.CompletionException: org.apache.flink.runtime.checkpoint.CheckpointException: An Exception occurred while triggering the checkpoint. IO-problem detected.; caused by: java.io.IOException: Failed to create savepoint directory at /proc/nope")),
        (Flink23.stopUnknownJob, .failed(cause: "java.util.concurrent.CompletionException: org.apache.flink.runtime.messages.FlinkJobNotFoundException: Could not find Flink job (00000000000000000000000000000009)")),
        (#"{"status":{"id":"COMPLETED"},"operation":{"failure-cause":{"class":"java.lang.IllegalStateException"}}}"#, .failed(cause: "java.lang.IllegalStateException")),
        (#"{"status":{"id":"COMPLETED"},"operation":{"location":"file:/x","failure-cause":{"class":"E","stack-trace":"E: boom"}}}"#, .failed(cause: "E: boom")),
    ]

    @Test(arguments: statuses)
    func savepointStatusMapsFlinksAnswer(answer: String, expected: SavepointOperation) async throws {
        let (status, request) = try await exchange(.json(200, answer)) {
            try await $0.savepointStatus(port: $1, jobId: "abc", requestId: "e6a0d93e296f821ec168db0a16179483")
        }
        #expect(request.method == "GET" && request.target == "/jobs/abc/savepoints/e6a0d93e296f821ec168db0a16179483")
        #expect(status == expected)
    }

    @Test(arguments: [
        (#"{"status":{"id":"COMPLETED"},"operation":{}}"#, "COMPLETED without a location or a failure cause"),
        (#"{"status":{"id":"PAUSED"}}"#, "unknown status 'PAUSED'"),
        (#"{"operation":{}}"#, "missing key 'status'"),
    ])
    func savepointStatusRejectsWhatFlinkNeverSends(answer: String, detail: String) async throws {
        let error = try await failure(.json(200, answer)) { _ = try await $0.savepointStatus(port: $1, jobId: "abc", requestId: "r") }
        guard case .malformed(let text) = error else {
            Issue.record("expected .malformed, got \(error)")
            return
        }
        #expect(text.contains("GET /jobs/abc/savepoints/r: \(detail)"), "\(text)")
    }

    // MARK: - Failures

    @Test func answersThatAreNotFlinksAreMalformed() async throws {
        let html = try await failure(.json(200, "<html>hello</html>")) { _ = try await $0.overview(port: $1) }
        #expect(html.description.hasPrefix("Flink REST answer malformed: 127.0.0.1:"))
        #expect(html.description.hasSuffix(" GET /overview: not JSON"))
        let missing = try await failure(.json(200, #"{"taskmanagers":1}"#)) { _ = try await $0.overview(port: $1) }
        #expect(missing.description.hasSuffix("GET /overview: missing key 'slots-total' at the top level"))
        let wrongType = try await failure(.json(200, #"{"jobs":[{"jid":1}]}"#)) { _ = try await $0.jobs(port: $1) }
        #expect(wrongType.description.hasSuffix("GET /jobs/overview: expected String at jobs[0].jid"))
    }

    @Test func anErrorWithoutFlinksJSONKeepsTheBodyText() async throws {
        let error = try await failure(.raw("HTTP/1.1 502 Bad Gateway\r\nContent-Length: 12\r\n\r\nupstream sad")) { _ = try await $0.overview(port: $1) }
        #expect(error == .http(status: 502, errors: ["upstream sad"]))
        #expect(error.description == "Flink REST error (HTTP 502): upstream sad")
    }

    @Test func aRefusedPortIsUnreachable() async throws {
        let client = self.client
        try await withRefusedPort { port in
            await #expect(throws: FlinkRESTError.unreachable(port: port, reason: "connect: Connection refused")) {
                _ = try await client.overview(port: port)
            }
            let error = FlinkRESTError.unreachable(port: port, reason: "connect: Connection refused")
            #expect(error.description == "Flink REST 127.0.0.1:\(port) unreachable: connect: Connection refused")
        }
    }

    @Test func aSilentServerIsUnreachableAfterTheTimeout() async throws {
        let client = FlinkRESTClient(timeout: .milliseconds(200))
        try await withServer({ _ in .silence }) { server in
            await #expect(throws: FlinkRESTError.unreachable(port: server.port, reason: "timed out after 200ms waiting for the answer")) {
                _ = try await client.jobs(port: server.port)
            }
        }
    }

    @Test func anAnswerOverTheLimitIsMalformed() async throws {
        let client = FlinkRESTClient(maxResponseBytes: 64)
        try await withServer({ _ in .json(200, Flink23.jobsOverview) }) { server in
            await #expect(throws: FlinkRESTError.malformed("127.0.0.1:\(server.port) GET /jobs/overview: answer larger than 64 bytes")) {
                _ = try await client.jobs(port: server.port)
            }
        }
    }

    @Test(arguments: [
        ("Job cancellation failed.", "Job cancellation failed."),
        ("A: top\n\tat x.y(Z.java:1)\nCaused by: B: middle\n\t... 2 more\nCaused by: C: root\n\tat q", "A: top; caused by: C: root"),
        ("A: wraps C: root\nCaused by: C: root", "A: wraps C: root"),
        ("<Exception on server side:\nA: inner\n\tat x\n\nEnd of exception on server side>", "A: inner"),
        ("\n  \n", ""),
    ])
    func summariesKeepTheFirstLineAndTheRootCause(text: String, summary: String) {
        #expect(FlinkRESTError.summarize(text) == summary)
    }

    @Test func durationsReadLikeKubectl() {
        #expect(FlinkRESTClient.format(.seconds(5)) == "5s")
        #expect(FlinkRESTClient.format(.milliseconds(1500)) == "1.5s")
        #expect(FlinkRESTClient.format(.milliseconds(200)) == "200ms")
    }
}
