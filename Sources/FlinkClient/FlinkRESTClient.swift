import Foundation
@_exported import LoopbackTLS
#if canImport(Glibc)
import Glibc
#endif

/// The real `FlinkREST`: HTTP/1.1 to `127.0.0.1:port`, one connection per call.
///
/// Guarantees: each call ends within its timeout (`timeout`, or `uploadTimeout` for
/// `uploadJar`) and never blocks a cooperative thread on the network; answers larger than
/// `maxResponseBytes` are refused (`.malformed`). Cancelling the calling task ends the call
/// with `CancellationError`.
///
/// With `tls`, every call is HTTPS with the context's client certificate: what clusters with
/// REST SSL and mutual authentication (`security.ssl.rest.authentication-enabled`) require.
public struct FlinkRESTClient: FlinkREST {
    public var timeout: Duration
    public var uploadTimeout: Duration
    public var maxResponseBytes: Int
    /// The client identity for clusters that require one; nil: plain HTTP.
    public var tls: TLSClientContext?

    public init(timeout: Duration = .seconds(5), uploadTimeout: Duration = .seconds(30), maxResponseBytes: Int = 16 << 20,
                tls: TLSClientContext? = nil) {
        self.timeout = timeout
        self.uploadTimeout = uploadTimeout
        self.maxResponseBytes = maxResponseBytes
        self.tls = tls
    }

    /// Whether `GET path` answers 2xx or 3xx within `timeout`: a readiness probe that speaks
    /// this client's protocol (HTTPS with its certificate when it has one).
    public func probe(port: Int, path: String, timeout: Duration) async -> Bool {
        let request = LoopbackHTTP.Request(method: .get, target: path)
        guard let response = try? await LoopbackHTTP.exchange(request, port: port, timeout: timeout, maxResponseBytes: 1 << 20, tls: tls) else {
            return false
        }
        return (200..<400).contains(response.status)
    }

    public func overview(port: Int) async throws -> ClusterOverview {
        let wire: OverviewWire = try await call(port, .get, "/overview")
        return ClusterOverview(taskManagers: wire.taskmanagers, slotsTotal: wire.slotsTotal, slotsAvailable: wire.slotsAvailable,
                               jobsRunning: wire.jobsRunning, flinkVersion: wire.flinkVersion)
    }

    public func jobs(port: Int) async throws -> [JobOverview] {
        let wire: JobsWire = try await call(port, .get, "/jobs/overview")
        return wire.jobs.map {
            JobOverview(id: $0.jid, name: $0.name, state: JobState(rawValue: $0.state), startTime: date($0.startTime),
                        endTime: date($0.endTime), lastModification: date($0.lastModification),
                        tasks: $0.tasks.map { JobOverview.TaskCounts(total: $0.total, running: $0.running, finished: $0.finished ?? 0) })
        }
    }

    public func job(port: Int, id: String) async throws -> JobDetails? {
        let target = "/jobs/\(segment(id))"
        let response = try await send(port, .get, target, accepting: [404])
        if response.status == 404 { return nil }
        let wire: JobDetailsWire = try decode(response, port, .get, target)
        return JobDetails(
            id: wire.jid, name: wire.name, state: JobState(rawValue: wire.state), startTime: date(wire.startTime),
            endTime: date(wire.endTime), now: date(wire.now),
            vertices: wire.vertices.map { JobVertex(id: $0.id, name: $0.name, parallelism: $0.parallelism, status: ExecutionState(rawValue: $0.status)) })
    }

    public func uploadJar(port: Int, path: String) async throws -> String {
        let contents = try Self.readFile(path)
        let form = MultipartForm.random()
        let filename = URL(fileURLWithPath: path).lastPathComponent
        let body = form.file(field: "jarfile", filename: filename, contentType: "application/x-java-archive", contents: contents)
        let wire: UploadWire = try await call(port, .post, "/jars/upload", body: body, contentType: form.contentType, timeout: uploadTimeout)
        guard let id = wire.filename.split(separator: "/").last.map(String.init), !id.isEmpty else {
            throw FlinkRESTError.malformed("127.0.0.1:\(port) POST /jars/upload: no file name in '\(wire.filename)'")
        }
        return id
    }

    public func runJar(port: Int, jarId: String, submission: JobSubmission) async throws -> String {
        let request = RunRequest(
            programArgsList: submission.programArgs, parallelism: submission.parallelism, savepointPath: submission.savepointPath,
            allowNonRestoredState: submission.allowNonRestoredState, claimMode: "NO_CLAIM", jobId: submission.jobId,
            entryClass: submission.entryClass, flinkConfiguration: submission.flinkConfiguration.isEmpty ? nil : submission.flinkConfiguration)
        let wire: RunWire = try await call(port, .post, "/jars/\(segment(jarId))/run", json: request)
        return wire.jobid
    }

    public func deleteJar(port: Int, jarId: String) async throws {
        _ = try await send(port, .delete, "/jars/\(segment(jarId))")
    }

    public func cancel(port: Int, jobId: String) async throws {
        _ = try await send(port, .patch, "/jobs/\(segment(jobId))?mode=cancel")
    }

    public func triggerSavepoint(port: Int, jobId: String, targetDirectory: String?, cancelJob: Bool, triggerId: String?) async throws -> String {
        let request = SavepointRequest(targetDirectory: targetDirectory, cancelJob: cancelJob, formatType: "CANONICAL", triggerId: triggerId)
        let wire: TriggerWire = try await call(port, .post, "/jobs/\(segment(jobId))/savepoints", json: request)
        return wire.requestId
    }

    public func triggerSavepoint(port: Int, jobId: String, targetDirectory: String?, formatType: String, triggerId: String?) async throws -> String {
        let request = SavepointRequest(targetDirectory: targetDirectory, cancelJob: false, formatType: formatType, triggerId: triggerId)
        let wire: TriggerWire = try await call(port, .post, "/jobs/\(segment(jobId))/savepoints", json: request)
        return wire.requestId
    }

    public func triggerCheckpoint(port: Int, jobId: String, triggerId: String?) async throws -> String {
        let request = CheckpointRequest(checkpointType: "CONFIGURED", triggerId: triggerId)
        let wire: TriggerWire = try await call(port, .post, "/jobs/\(segment(jobId))/checkpoints", json: request)
        return wire.requestId
    }

    public func checkpointStatus(port: Int, jobId: String, requestId: String) async throws -> CheckpointOperation {
        let target = "/jobs/\(segment(jobId))/checkpoints/\(segment(requestId))"
        let wire: CheckpointStatusWire = try await call(port, .get, target)
        switch wire.status.id {
        case "IN_PROGRESS":
            return .inProgress
        case "COMPLETED":
            if let cause = wire.operation?.failureCause {
                return .failed(cause: cause.stackTrace.map(FlinkRESTError.summarize) ?? cause.className ?? "checkpoint failed (Flink gave no cause)")
            }
            if let id = wire.operation?.checkpointId { return .completed(checkpointId: id) }
            throw FlinkRESTError.malformed("127.0.0.1:\(port) GET \(target): COMPLETED without a checkpoint id or a failure cause")
        default:
            throw FlinkRESTError.malformed("127.0.0.1:\(port) GET \(target): unknown status '\(wire.status.id)'")
        }
    }

    public func checkpointPath(port: Int, jobId: String, checkpointId: Int) async throws -> String? {
        let wire: CheckpointDetailsWire = try await call(port, .get, "/jobs/\(segment(jobId))/checkpoints/details/\(checkpointId)")
        guard let path = wire.externalPath, Self.isAddressable(path) else { return nil }
        return path
    }

    public func stopWithSavepoint(port: Int, jobId: String, targetDirectory: String?, drain: Bool, triggerId: String?) async throws -> String {
        let request = StopRequest(targetDirectory: targetDirectory, drain: drain, formatType: "CANONICAL", triggerId: triggerId)
        let wire: TriggerWire = try await call(port, .post, "/jobs/\(segment(jobId))/stop", json: request)
        return wire.requestId
    }

    public func savepointStatus(port: Int, jobId: String, requestId: String) async throws -> SavepointOperation {
        let target = "/jobs/\(segment(jobId))/savepoints/\(segment(requestId))"
        let wire: StatusWire = try await call(port, .get, target)
        switch wire.status.id {
        case "IN_PROGRESS":
            return .inProgress
        case "COMPLETED":
            // A failed savepoint is COMPLETED too: with a failure cause and no location.
            if let cause = wire.operation?.failureCause {
                let text = cause.stackTrace.map(FlinkRESTError.summarize) ?? cause.className ?? "savepoint failed (Flink gave no cause)"
                return .failed(cause: text)
            }
            if let location = wire.operation?.location, !location.isEmpty {
                return .completed(location: location)
            }
            throw FlinkRESTError.malformed("127.0.0.1:\(port) GET \(target): COMPLETED without a location or a failure cause")
        default:
            throw FlinkRESTError.malformed("127.0.0.1:\(port) GET \(target): unknown status '\(wire.status.id)'")
        }
    }

    public func latestCheckpoint(port: Int, jobId: String) async throws -> CompletedCheckpoint? {
        let wire: CheckpointsWire = try await call(port, .get, "/jobs/\(segment(jobId))/checkpoints")
        guard let completed = wire.latest?.completed, let path = completed.externalPath, Self.isAddressable(path) else { return nil }
        let millis: Int64 = [completed.latestAckTimestamp, completed.triggerTimestamp].compactMap { $0 }.first { $0 > 0 } ?? 0
        return CompletedCheckpoint(id: completed.id, externalPath: path, completedAt: Date(timeIntervalSince1970: Double(millis) / 1000))
    }

    public func jobMetrics(port: Int, jobId: String, names: [String]) async throws -> [String: String] {
        let query = names.map { $0.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? $0 }.joined(separator: ",")
        let wire: [MetricWire] = try await call(port, .get, "/jobs/\(segment(jobId))/metrics?get=\(query)")
        return Dictionary(wire.compactMap { metric in metric.value.map { (metric.id, $0) } }, uniquingKeysWith: { first, _ in first })
    }

    // MARK: - Plumbing

    /// A checkpoint kept only in the JobManager's memory reports this instead of a path.
    static func isAddressable(_ path: String) -> Bool {
        !path.isEmpty && !path.hasPrefix("<")
    }

    private func call<Answer: Decodable>(_ port: Int, _ method: LoopbackHTTP.Method, _ target: String, json: some Encodable) async throws -> Answer {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let body = try Array(encoder.encode(json))
        return try await call(port, method, target, body: body, contentType: "application/json")
    }

    private func call<Answer: Decodable>(_ port: Int, _ method: LoopbackHTTP.Method, _ target: String, body: [UInt8] = [],
                                         contentType: String? = nil, timeout: Duration? = nil) async throws -> Answer {
        let response = try await send(port, method, target, body: body, contentType: contentType, timeout: timeout)
        return try decode(response, port, method, target)
    }

    /// The answer when its status is 2xx or in `accepting`; throws `FlinkRESTError` otherwise.
    private func send(_ port: Int, _ method: LoopbackHTTP.Method, _ target: String, body: [UInt8] = [],
                      contentType: String? = nil, timeout: Duration? = nil, accepting: Set<Int> = []) async throws -> LoopbackHTTP.Response {
        let limit = timeout ?? self.timeout
        let request = LoopbackHTTP.Request(method: method, target: target, body: body, contentType: contentType)
        let response: LoopbackHTTP.Response
        do {
            response = try await LoopbackHTTP.exchange(request, port: port, timeout: limit, maxResponseBytes: maxResponseBytes, tls: tls)
        } catch let failure as LoopbackHTTP.Failure {
            switch failure {
            case .connect(let reason), .connectionLost(let reason):
                throw FlinkRESTError.unreachable(port: port, reason: reason)
            case .timedOut(let phase):
                throw FlinkRESTError.unreachable(port: port, reason: "timed out after \(Self.format(limit)) \(phase)")
            case .malformed(let detail):
                throw FlinkRESTError.malformed("127.0.0.1:\(port) \(method.rawValue) \(target): \(detail)")
            case .tooLarge(let bytes):
                throw FlinkRESTError.malformed("127.0.0.1:\(port) \(method.rawValue) \(target): answer larger than \(bytes) bytes")
            }
        }
        guard (200..<300).contains(response.status) || accepting.contains(response.status) else {
            throw FlinkRESTError.http(status: response.status, errors: Self.errorMessages(response.body))
        }
        return response
    }

    private func decode<Answer: Decodable>(_ response: LoopbackHTTP.Response, _ port: Int, _ method: LoopbackHTTP.Method,
                                           _ target: String) throws -> Answer {
        do {
            return try JSONDecoder().decode(Answer.self, from: Data(response.body))
        } catch {
            let detail = (error as? DecodingError).map(Self.describe) ?? "\(error)"
            throw FlinkRESTError.malformed("127.0.0.1:\(port) \(method.rawValue) \(target): \(detail)")
        }
    }

    /// Flink's `{"errors": [...]}`, each summarized; otherwise the body's text, summarized.
    static func errorMessages(_ body: [UInt8]) -> [String] {
        if let wire = try? JSONDecoder().decode(ErrorsWire.self, from: Data(body)) {
            return wire.errors.map(FlinkRESTError.summarize).filter { !$0.isEmpty }
        }
        let text = String(decoding: body.prefix(2048), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return text.isEmpty ? [] : [FlinkRESTError.summarize(text)]
    }

    static func describe(_ error: DecodingError) -> String {
        func path(_ keys: [any CodingKey]) -> String {
            guard !keys.isEmpty else { return "the top level" }
            return keys.reduce(into: "") { text, key in
                if let index = key.intValue { text += "[\(index)]" } else { text += (text.isEmpty ? "" : ".") + key.stringValue }
            }
        }
        switch error {
        case .keyNotFound(let key, let context):
            return "missing key '\(key.stringValue)' at \(path(context.codingPath))"
        case .valueNotFound(_, let context):
            return "null at \(path(context.codingPath))"
        case .typeMismatch(let type, let context):
            return "expected \(type) at \(path(context.codingPath))"
        case .dataCorrupted(let context):
            return context.codingPath.isEmpty ? "not JSON" : "bad value at \(path(context.codingPath))"
        @unknown default:
            return "\(error)"
        }
    }

    /// `5s`, `1.5s`, `200ms`.
    static func format(_ duration: Duration) -> String {
        let (seconds, attoseconds) = duration.components
        let millis = seconds * 1000 + attoseconds / 1_000_000_000_000_000
        if millis < 1000 { return "\(millis)ms" }
        if millis % 1000 == 0 { return "\(millis / 1000)s" }
        return String(format: "%.1fs", Double(millis) / 1000)
    }

    private static let unreserved = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")

    /// One path segment, percent-encoded.
    private func segment(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: Self.unreserved) ?? text
    }

    private func date(_ millis: Int64?) -> Date? {
        guard let millis, millis > 0 else { return nil }
        return Date(timeIntervalSince1970: Double(millis) / 1000)
    }

    /// The whole file, or `.jarUnreadable` with the system's reason.
    static func readFile(_ path: String) throws -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw FlinkRESTError.jarUnreadable(path: path, reason: LoopbackHTTP.errorText(errno)) }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw FlinkRESTError.jarUnreadable(path: path, reason: LoopbackHTTP.errorText(errno)) }
        guard (info.st_mode & S_IFMT) == S_IFREG else { throw FlinkRESTError.jarUnreadable(path: path, reason: "not a regular file") }
        var contents: [UInt8] = []
        contents.reserveCapacity(Int(info.st_size))
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress!, $0.count) }
            if n > 0 {
                contents.append(contentsOf: chunk[..<n])
            } else if n == 0 {
                return contents
            } else if errno != EINTR {
                throw FlinkRESTError.jarUnreadable(path: path, reason: LoopbackHTTP.errorText(errno))
            }
        }
    }
}

// MARK: - Wire formats (Flink 2.3)

private struct OverviewWire: Decodable {
    var taskmanagers: Int
    var slotsTotal: Int
    var slotsAvailable: Int
    var jobsRunning: Int
    var flinkVersion: String

    enum CodingKeys: String, CodingKey {
        case taskmanagers
        case slotsTotal = "slots-total"
        case slotsAvailable = "slots-available"
        case jobsRunning = "jobs-running"
        case flinkVersion = "flink-version"
    }
}

private struct JobsWire: Decodable {
    var jobs: [Job]

    struct Job: Decodable {
        var jid: String
        var name: String
        var state: String
        var startTime: Int64?
        var endTime: Int64?
        var lastModification: Int64?
        var tasks: Tasks?

        struct Tasks: Decodable {
            var total: Int
            var running: Int
            var finished: Int?
        }

        enum CodingKeys: String, CodingKey {
            case jid, name, state, tasks
            case startTime = "start-time"
            case endTime = "end-time"
            case lastModification = "last-modification"
        }
    }
}

private struct JobDetailsWire: Decodable {
    var jid: String
    var name: String
    var state: String
    var startTime: Int64?
    var endTime: Int64?
    var now: Int64?
    var vertices: [Vertex]

    struct Vertex: Decodable {
        var id: String
        var name: String
        var parallelism: Int
        var status: String
    }

    enum CodingKeys: String, CodingKey {
        case jid, name, state, now, vertices
        case startTime = "start-time"
        case endTime = "end-time"
    }
}

private struct UploadWire: Decodable {
    var filename: String
}

private struct RunRequest: Encodable {
    var programArgsList: [String]
    var parallelism: Int?
    var savepointPath: String?
    var allowNonRestoredState: Bool?
    var claimMode: String
    var jobId: String?
    var entryClass: String?
    var flinkConfiguration: [String: String]?
}

private struct RunWire: Decodable {
    var jobid: String
}

private struct SavepointRequest: Encodable {
    var targetDirectory: String?
    var cancelJob: Bool
    var formatType: String
    var triggerId: String?

    enum CodingKeys: String, CodingKey {
        case targetDirectory = "target-directory"
        case cancelJob = "cancel-job"
        case formatType
        case triggerId
    }
}

private struct CheckpointRequest: Encodable {
    var checkpointType: String
    var triggerId: String?
}

/// `status` of an asynchronous operation (savepoint, checkpoint): `IN_PROGRESS` or `COMPLETED`.
private struct AsyncOperationStatusWire: Decodable {
    var id: String
}

/// `operation.failure-cause` of a failed asynchronous operation.
private struct FailureCauseWire: Decodable {
    var className: String?
    var stackTrace: String?

    enum CodingKeys: String, CodingKey {
        case className = "class"
        case stackTrace = "stack-trace"
    }
}

private struct CheckpointStatusWire: Decodable {
    var status: AsyncOperationStatusWire
    var operation: Operation?

    struct Operation: Decodable {
        var checkpointId: Int?
        var failureCause: FailureCauseWire?

        enum CodingKeys: String, CodingKey {
            case checkpointId
            case failureCause = "failure-cause"
        }
    }
}

private struct CheckpointDetailsWire: Decodable {
    var externalPath: String?

    enum CodingKeys: String, CodingKey {
        case externalPath = "external_path"
    }
}

private struct StopRequest: Encodable {
    var targetDirectory: String?
    var drain: Bool
    var formatType: String
    var triggerId: String?
}

/// One entry of `GET /jobs/{id}/metrics?get=...`: `{"id": "numRestarts", "value": "3"}`.
private struct MetricWire: Decodable {
    var id: String
    var value: String?
}

private struct TriggerWire: Decodable {
    var requestId: String

    enum CodingKeys: String, CodingKey {
        case requestId = "request-id"
    }
}

private struct StatusWire: Decodable {
    var status: AsyncOperationStatusWire
    var operation: Operation?

    struct Operation: Decodable {
        var location: String?
        var failureCause: FailureCauseWire?

        enum CodingKeys: String, CodingKey {
            case location
            case failureCause = "failure-cause"
        }
    }
}

private struct CheckpointsWire: Decodable {
    var latest: Latest?

    struct Latest: Decodable {
        var completed: Checkpoint?
    }

    struct Checkpoint: Decodable {
        var id: Int
        var externalPath: String?
        var latestAckTimestamp: Int64?
        var triggerTimestamp: Int64?

        enum CodingKeys: String, CodingKey {
            case id
            case externalPath = "external_path"
            case latestAckTimestamp = "latest_ack_timestamp"
            case triggerTimestamp = "trigger_timestamp"
        }
    }
}

private struct ErrorsWire: Decodable {
    var errors: [String]
}
