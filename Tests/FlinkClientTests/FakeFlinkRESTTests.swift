import FlinkClient
import FlinkletTesting
import Foundation
import Testing

/// The in-memory Flink behaves as the real one was measured to, and fails when told to.
@Suite("FakeFlinkREST")
struct FakeFlinkRESTTests {
    static let port = 18081
    static let jobId = "00000000000000000000000000000001"

    /// A fake with one cluster (2 TaskManagers × 2 slots) and one uploaded jar.
    func fakeWithJar() async throws -> (FakeFlinkREST, String) {
        let fake = FakeFlinkREST()
        await fake.addCluster(port: Self.port, taskManagers: 2, slots: 2)
        let jar = try await fake.uploadJar(port: Self.port, path: "/srv/jobs/counter.jar")
        return (fake, jar)
    }

    @Test func aClusterAnswersUntilRemovedThenIsUnreachable() async throws {
        let fake = FakeFlinkREST()
        await #expect(throws: FlinkRESTError.unreachable(port: 8081, reason: "connect: Connection refused")) {
            _ = try await fake.overview(port: 8081)
        }
        await fake.addCluster(port: 8081, taskManagers: 2, slots: 3)
        #expect(try await fake.overview(port: 8081) == ClusterOverview(taskManagers: 2, slotsTotal: 6, slotsAvailable: 6, jobsRunning: 0, flinkVersion: "2.3.0"))
        await fake.removeCluster(port: 8081)
        await #expect(throws: FlinkRESTError.unreachable(port: 8081, reason: "connect: Connection refused")) {
            _ = try await fake.jobs(port: 8081)
        }
        #expect(await fake.calls == [.overview, .overview, .jobs])
    }

    @Test func runJarStartsARunningJobAndRecordsTheSubmission() async throws {
        let (fake, jar) = try await fakeWithJar()
        #expect(jar.hasSuffix("_counter.jar"))
        #expect(await fake.jarIds(port: Self.port) == [jar])
        let submission = JobSubmission(programArgs: ["--rate", "5"], parallelism: 3, jobId: Self.jobId)
        let id = try await fake.runJar(port: Self.port, jarId: jar, submission: submission)
        #expect(id == Self.jobId)
        #expect(await fake.submissions == [FakeFlinkREST.Submission(port: Self.port, jarId: jar, jobId: Self.jobId, submission: submission)])

        let job = try #require(try await fake.job(port: Self.port, id: id))
        #expect(job.state == .running && job.allVerticesRunning && job.endTime == nil)
        #expect(job.vertices.allSatisfy { $0.parallelism == 3 })
        let overview = try await fake.overview(port: Self.port)
        #expect(overview.jobsRunning == 1 && overview.slotsAvailable == 1)
        #expect(try await fake.jobs(port: Self.port).map(\.id) == [id])

        // Without a job id one is chosen: 32 hex digits, reproducible from the seed.
        let chosen = try await fake.runJar(port: Self.port, jarId: jar, submission: JobSubmission())
        #expect(chosen.count == 32 && chosen.allSatisfy(\.isHexDigit))
        let (again, againJar) = try await fakeWithJar()
        #expect(againJar == jar)
        _ = try await again.runJar(port: Self.port, jarId: againJar, submission: submission)
        #expect(try await again.runJar(port: Self.port, jarId: againJar, submission: JobSubmission()) == chosen)
    }

    @Test func aJobIdIsTakenForTheClustersLifetime() async throws {
        let (fake, jar) = try await fakeWithJar()
        let submission = JobSubmission(jobId: Self.jobId)
        _ = try await fake.runJar(port: Self.port, jarId: jar, submission: submission)
        await fake.setJobState(port: Self.port, jobId: Self.jobId, state: .finished)
        do {
            _ = try await fake.runJar(port: Self.port, jarId: jar, submission: submission)
            Issue.record("a second submission with the same id succeeded")
        } catch let error as FlinkRESTError {
            #expect(error.isDuplicateSubmission && error.status == 400)
            #expect(error.description.contains("DuplicateApplicationSubmissionException: Application has already been submitted."))
        }
        #expect(await fake.submissions.count == 1)
    }

    @Test func runJarNeedsAnUploadedJar() async throws {
        let (fake, jar) = try await fakeWithJar()
        try await fake.deleteJar(port: Self.port, jarId: jar)
        await #expect {
            _ = try await fake.runJar(port: Self.port, jarId: jar, submission: JobSubmission())
        } throws: { ($0 as? FlinkRESTError)?.status == 500 }
        await #expect {
            try await fake.deleteJar(port: Self.port, jarId: jar)
        } throws: { ($0 as? FlinkRESTError)?.status == 400 }
        await #expect {
            _ = try await fake.uploadJar(port: Self.port, path: "/srv/notes.txt")
        } throws: { $0 as? FlinkRESTError == .http(status: 400, errors: ["org.apache.flink.runtime.rest.handler.RestHandlerException: Only Jar files are allowed."]) }
    }

    @Test func cancelEndsAJobAndIsIdempotentOnlyForCanceledJobs() async throws {
        let (fake, jar) = try await fakeWithJar()
        let id = try await fake.runJar(port: Self.port, jarId: jar, submission: JobSubmission())
        try await fake.cancel(port: Self.port, jobId: id)
        let job = try #require(try await fake.job(port: Self.port, id: id))
        #expect(job.state == .canceled && job.endTime != nil && job.vertices.allSatisfy { $0.status == .canceled })
        try await fake.cancel(port: Self.port, jobId: id)

        await fake.addJob(port: Self.port, jobId: Self.jobId, state: .finished)
        await #expect { try await fake.cancel(port: Self.port, jobId: Self.jobId) } throws: { ($0 as? FlinkRESTError)?.status == 409 }
        await #expect { try await fake.cancel(port: Self.port, jobId: "ffffffffffffffffffffffffffffffff") } throws: { ($0 as? FlinkRESTError)?.status == 404 }
        #expect(try await fake.job(port: Self.port, id: "ffffffffffffffffffffffffffffffff") == nil)
    }

    @Test func aSavepointCompletesOnTheNextPoll() async throws {
        let (fake, jar) = try await fakeWithJar()
        let id = try await fake.runJar(port: Self.port, jarId: jar, submission: JobSubmission(jobId: Self.jobId))
        let request = try await fake.triggerSavepoint(port: Self.port, jobId: id, targetDirectory: "/srv/savepoints/", cancelJob: false)
        let status = try await fake.savepointStatus(port: Self.port, jobId: id, requestId: request)
        guard case .completed(let location) = status else {
            Issue.record("expected completed, got \(status)")
            return
        }
        #expect(location.hasPrefix("/srv/savepoints/savepoint-000000-") && location.count == "/srv/savepoints/savepoint-000000-".count + 12)
        #expect(try await fake.savepointStatus(port: Self.port, jobId: id, requestId: request) == status, "the result is kept")
        #expect(await fake.state(port: Self.port, jobId: id) == .running)

        let cancelling = try await fake.triggerSavepoint(port: Self.port, jobId: id, targetDirectory: "/srv/savepoints", cancelJob: true)
        _ = try await fake.savepointStatus(port: Self.port, jobId: id, requestId: cancelling)
        #expect(await fake.state(port: Self.port, jobId: id) == .canceled)
    }

    @Test func stopWithSavepointFinishesTheJob() async throws {
        let (fake, jar) = try await fakeWithJar()
        let id = try await fake.runJar(port: Self.port, jarId: jar, submission: JobSubmission())
        let request = try await fake.stopWithSavepoint(port: Self.port, jobId: id, targetDirectory: "/sp", drain: false)
        #expect(await fake.state(port: Self.port, jobId: id) == .running, "nothing happens before the poll")
        guard case .completed(let location) = try await fake.savepointStatus(port: Self.port, jobId: id, requestId: request) else {
            Issue.record("stop did not complete")
            return
        }
        #expect(location.hasPrefix("/sp/savepoint-\(id.prefix(6))-"))
        #expect(await fake.state(port: Self.port, jobId: id) == .finished)
    }

    @Test func savepointsUseTheClusterDirectoryOrAre400WithoutOne() async throws {
        let fake = FakeFlinkREST()
        await fake.addCluster(port: 1, savepointDirectory: "/default")
        await fake.addCluster(port: 2)
        await fake.addJob(port: 1, jobId: Self.jobId)
        await fake.addJob(port: 2, jobId: Self.jobId)
        let request = try await fake.triggerSavepoint(port: 1, jobId: Self.jobId, targetDirectory: nil, cancelJob: false)
        guard case .completed(let location) = try await fake.savepointStatus(port: 1, jobId: Self.jobId, requestId: request) else {
            Issue.record("savepoint into the default directory did not complete")
            return
        }
        #expect(location.hasPrefix("/default/savepoint-"))
        await #expect {
            _ = try await fake.triggerSavepoint(port: 2, jobId: Self.jobId, targetDirectory: nil, cancelJob: false)
        } throws: { error in
            guard case .http(400, let errors) = error as? FlinkRESTError else { return false }
            return errors.first?.contains("Property [target-directory] must be provided") == true
        }
    }

    @Test func failedSavepointsAreCompletedWithACauseAndLeaveTheJobRunning() async throws {
        let (fake, jar) = try await fakeWithJar()
        let id = try await fake.runJar(port: Self.port, jarId: jar, submission: JobSubmission())
        await fake.failSavepoints(cause: "java.io.IOException: disk full", times: 2)
        for _ in 0..<2 {
            let request = try await fake.stopWithSavepoint(port: Self.port, jobId: id, targetDirectory: "/sp", drain: true)
            #expect(try await fake.savepointStatus(port: Self.port, jobId: id, requestId: request) == .failed(cause: "java.io.IOException: disk full"))
            #expect(await fake.state(port: Self.port, jobId: id) == .running)
        }
        let third = try await fake.stopWithSavepoint(port: Self.port, jobId: id, targetDirectory: "/sp", drain: true)
        guard case .completed = try await fake.savepointStatus(port: Self.port, jobId: id, requestId: third) else {
            Issue.record("the third savepoint should succeed")
            return
        }
    }

    @Test func savepointsOfJobsThatAreNotRunningFailWhenPolled() async throws {
        let (fake, jar) = try await fakeWithJar()
        // Unknown job: accepted, fails on the poll (as Flink does for stop).
        let unknown = "00000000000000000000000000000009"
        let request = try await fake.stopWithSavepoint(port: Self.port, jobId: unknown, targetDirectory: "/sp", drain: false)
        #expect(try await fake.savepointStatus(port: Self.port, jobId: unknown, requestId: request) == .failed(
            cause: "java.util.concurrent.CompletionException: org.apache.flink.runtime.messages.FlinkJobNotFoundException: Could not find Flink job (\(unknown))"))

        // Tasks still deploying: the checkpoint cannot be triggered.
        let id = try await fake.runJar(port: Self.port, jarId: jar, submission: JobSubmission())
        await fake.setVertexStatus(port: Self.port, jobId: id, .deploying)
        #expect(try await fake.job(port: Self.port, id: id)?.allVerticesRunning == false)
        let early = try await fake.triggerSavepoint(port: Self.port, jobId: id, targetDirectory: "/sp", cancelJob: false)
        guard case .failed(let cause) = try await fake.savepointStatus(port: Self.port, jobId: id, requestId: early) else {
            Issue.record("a savepoint of a deploying job succeeded")
            return
        }
        #expect(cause.contains("is not being executed at the moment"))

        // An unknown request id is 404.
        await #expect {
            _ = try await fake.savepointStatus(port: Self.port, jobId: id, requestId: "0123")
        } throws: { ($0 as? FlinkRESTError)?.status == 404 }
    }

    @Test func checkpointsAppearWhenCompleted() async throws {
        let (fake, jar) = try await fakeWithJar()
        let id = try await fake.runJar(port: Self.port, jarId: jar, submission: JobSubmission())
        #expect(try await fake.latestCheckpoint(port: Self.port, jobId: id) == nil)
        await fake.completeCheckpoint(port: Self.port, jobId: id)
        let second = try #require(await fake.completeCheckpoint(port: Self.port, jobId: id))
        #expect(second.id == 2 && second.externalPath == "/fake/checkpoints/\(id)/chk-2")
        #expect(try await fake.latestCheckpoint(port: Self.port, jobId: id) == second)
        await #expect {
            _ = try await fake.latestCheckpoint(port: Self.port, jobId: "00000000000000000000000000000009")
        } throws: { ($0 as? FlinkRESTError)?.status == 404 }
    }

    @Test func injectedFailuresHitTheNamedMethodTheGivenNumberOfTimes() async throws {
        let (fake, jar) = try await fakeWithJar()
        let timeout = FlinkRESTError.unreachable(port: Self.port, reason: "timed out after 5s waiting for the answer")
        await fake.failNext(.runJar, with: timeout, times: 2)
        await fake.failNext(.runJar, with: .http(status: 500, errors: ["boom"]))
        for expected in [timeout, timeout, .http(status: 500, errors: ["boom"])] {
            await #expect(throws: expected) {
                _ = try await fake.runJar(port: Self.port, jarId: jar, submission: JobSubmission())
            }
            #expect(try await fake.jobs(port: Self.port).isEmpty, "a failed call changes nothing")
        }
        _ = try await fake.runJar(port: Self.port, jarId: jar, submission: JobSubmission())
        #expect(await fake.count(.runJar) == 4)
        #expect(await fake.submissions.count == 1)
        #expect(await fake.calls == [.uploadJar, .runJar, .jobs, .runJar, .jobs, .runJar, .jobs, .runJar])

        // Injected failures come before reachability: a removed cluster still fails as told.
        await fake.removeCluster(port: Self.port)
        await fake.failNext(.overview, with: .malformed("x"))
        await #expect(throws: FlinkRESTError.malformed("x")) { _ = try await fake.overview(port: Self.port) }
        await #expect(throws: FlinkRESTError.unreachable(port: Self.port, reason: "connect: Connection refused")) {
            _ = try await fake.overview(port: Self.port)
        }
    }

    @Test func everyMethodCanBeMadeToFail() async throws {
        let fake = FakeFlinkREST()
        await fake.addCluster(port: Self.port)
        let error = FlinkRESTError.http(status: 503, errors: ["injected"])
        for method in FakeFlinkREST.Method.allCases { await fake.failNext(method, with: error) }
        let p = Self.port
        let calls: [(FakeFlinkREST.Method, @Sendable () async throws -> Void)] = [
            (.overview, { _ = try await fake.overview(port: p) }),
            (.jobs, { _ = try await fake.jobs(port: p) }),
            (.job, { _ = try await fake.job(port: p, id: "j") }),
            (.uploadJar, { _ = try await fake.uploadJar(port: p, path: "/a.jar") }),
            (.runJar, { _ = try await fake.runJar(port: p, jarId: "a.jar", submission: JobSubmission()) }),
            (.deleteJar, { try await fake.deleteJar(port: p, jarId: "a.jar") }),
            (.cancel, { try await fake.cancel(port: p, jobId: "j") }),
            (.triggerSavepoint, { _ = try await fake.triggerSavepoint(port: p, jobId: "j", targetDirectory: "/s", cancelJob: false) }),
            (.stopWithSavepoint, { _ = try await fake.stopWithSavepoint(port: p, jobId: "j", targetDirectory: "/s", drain: false) }),
            (.savepointStatus, { _ = try await fake.savepointStatus(port: p, jobId: "j", requestId: "r") }),
            (.latestCheckpoint, { _ = try await fake.latestCheckpoint(port: p, jobId: "j") }),
            (.jobMetrics, { _ = try await fake.jobMetrics(port: p, jobId: "j", names: ["numRestarts"]) }),
            (.triggerCheckpoint, { _ = try await fake.triggerCheckpoint(port: p, jobId: "j", triggerId: nil) }),
            (.checkpointStatus, { _ = try await fake.checkpointStatus(port: p, jobId: "j", requestId: "r") }),
            (.checkpointPath, { _ = try await fake.checkpointPath(port: p, jobId: "j", checkpointId: 1) }),
        ]
        #expect(Set(calls.map(\.0)) == Set(FakeFlinkREST.Method.allCases))
        for (method, call) in calls {
            await #expect(throws: error, "\(method)") { try await call() }
        }
        #expect(await fake.calls == calls.map(\.0))
    }

    @Test func aCheckpointRequestCompletesWithAnIdAndAPathUnderItsTriggerId() async throws {
        let fake = FakeFlinkREST()
        await fake.addCluster(port: Self.port, savepointDirectory: "/fake/sp")
        await fake.addJob(port: Self.port, jobId: "j")
        let trigger = String(repeating: "ab", count: 16)
        #expect(try await fake.triggerCheckpoint(port: Self.port, jobId: "j", triggerId: trigger) == trigger)
        #expect(try await fake.triggerCheckpoint(port: Self.port, jobId: "j", triggerId: trigger) == trigger, "the same operation again")
        #expect(try await fake.checkpointStatus(port: Self.port, jobId: "j", requestId: trigger) == .completed(checkpointId: 1))
        #expect(try await fake.checkpointPath(port: Self.port, jobId: "j", checkpointId: 1) == "/fake/sp/checkpoints/j/chk-1")
        await #expect(throws: FlinkRESTError.self) { _ = try await fake.savepointStatus(port: Self.port, jobId: "j", requestId: trigger) }
        await #expect(throws: FlinkRESTError.self) { _ = try await fake.checkpointStatus(port: Self.port, jobId: "j", requestId: "unknown") }
    }

    @Test func theFakeIsUsableThroughTheProtocol() async throws {
        let fake = FakeFlinkREST()
        await fake.addCluster(port: Self.port)
        let rest: any FlinkREST = fake
        #expect(try await rest.overview(port: Self.port).taskManagers == 1)
    }
}
