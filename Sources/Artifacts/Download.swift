import Foundation
import Synchronization
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One HTTP GET streamed into a file, hashed on the way.
///
/// Guarantees: on success the file holds exactly the body of a 2xx answer, fsynced, with
/// `size` and `sha256` computed over the bytes written; a body shorter than its
/// `Content-Length` is a failure. On any failure the file is removed. Redirects are followed.
enum Download {
    struct Outcome: Sendable {
        var sha256: String
        var size: Int64
    }

    /// Downloads `url` into the new file `temporary`, which the caller renames on success.
    /// `timeout` bounds the whole transfer, and so also any stall.
    @concurrent
    static func fetch(_ url: URL, uri: String, into temporary: String, timeout: Duration) async throws(ArtifactError) -> Outcome {
        let fd = try FileOperations.createTemporary(temporary, uri: uri)
        let receiver = Receiver(fd: fd, uri: uri, temporary: temporary)

        // The deadline is kept here: URLSession's own timeouts are per idle interval, and
        // swift-corelibs-foundation truncates them to whole seconds; they are set past ours.
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = timeout.seconds.rounded(.up) + 1
        configuration.timeoutIntervalForResource = timeout.seconds.rounded(.up) + 1
        configuration.requestCachePolicy = .reloadIgnoringLocalCacheData
        configuration.urlCache = nil
        let queue = OperationQueue()
        queue.maxConcurrentOperationCount = 1
        let session = URLSession(configuration: configuration, delegate: receiver, delegateQueue: queue)
        defer { session.invalidateAndCancel() }

        var request = URLRequest(url: url)
        request.setValue("flinklet", forHTTPHeaderField: "User-Agent")
        let task = session.dataTask(with: request)
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                await withTaskCancellationHandler {
                    await withCheckedContinuation { continuation in
                        receiver.start(task, continuation)
                    }
                } onCancel: {
                    task.cancel()
                }
            }
            group.addTask {
                guard (try? await Task.sleep(for: timeout)) != nil else { return }
                receiver.deadlinePassed()
                task.cancel()
            }
            await group.next()
            group.cancelAll()
        }

        let result = receiver.result(timeout: timeout)
        switch result {
        case .success(let outcome):
            try FileOperations.syncAndClose(fd, temporary: temporary, uri: uri)
            return outcome
        case .failure(let error):
            close(fd)
            unlink(temporary)
            throw error
        }
    }
}

/// The session delegate: writes each chunk to the file and the hasher, records the answer's
/// status, and wakes the waiting task when the transfer ends. URLSession calls it on a serial
/// queue; the mutex makes the state readable by the waiting task afterwards.
private final class Receiver: NSObject, URLSessionDataDelegate, Sendable {
    private struct State {
        var hasher = SHA256()
        var received: Int64 = 0
        var expected: Int64?
        var status: Int?
        var writeError: Int32?
        var transportError: URLError?
        var continuation: CheckedContinuation<Void, Never>?
        var completed = false
        var deadlinePassed = false
    }

    private let fd: Int32
    private let uri: String
    private let temporary: String
    private let state = Mutex(State())

    init(fd: Int32, uri: String, temporary: String) {
        self.fd = fd
        self.uri = uri
        self.temporary = temporary
    }

    func start(_ task: URLSessionDataTask, _ continuation: CheckedContinuation<Void, Never>) {
        let done = state.withLock { state in
            if state.completed { return true }
            state.continuation = continuation
            return false
        }
        if done { continuation.resume() } else { task.resume() }
    }

    /// Marks the transfer as timed out; the caller then cancels it.
    func deadlinePassed() {
        state.withLock { state in
            if !state.completed { state.deadlinePassed = true }
        }
    }

    /// What the transfer came to; valid once the continuation has been resumed.
    func result(timeout: Duration) -> Result<Download.Outcome, ArtifactError> {
        state.withLock { state in
            if let status = state.status, !(200..<300).contains(status) {
                return .failure(.httpStatus(uri: uri, status: status))
            }
            if let code = state.writeError {
                return .failure(.system(uri: uri, path: temporary, operation: "write", errno: code))
            }
            if state.deadlinePassed {
                return .failure(.downloadFailed(uri: uri, reason: "timed out after \(Self.format(timeout)) (\(state.received) bytes received)"))
            }
            if state.transportError?.code != .timedOut, let expected = state.expected, expected != state.received {
                return .failure(.downloadFailed(uri: uri, reason: "connection closed after \(state.received) of \(expected) bytes"))
            }
            if let error = state.transportError {
                return .failure(.downloadFailed(uri: uri, reason: Self.reason(error, received: state.received, timeout: timeout)))
            }
            guard state.status != nil else {
                return .failure(.downloadFailed(uri: uri, reason: "no HTTP answer"))
            }
            return .success(Download.Outcome(sha256: state.hasher.hexDigest(), size: state.received))
        }
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive response: URLResponse,
                    completionHandler: @escaping (URLSession.ResponseDisposition) -> Void) {
        let status = (response as? HTTPURLResponse)?.statusCode ?? 200
        state.withLock { state in
            state.status = status
            state.expected = response.expectedContentLength >= 0 ? response.expectedContentLength : nil
        }
        completionHandler((200..<300).contains(status) ? .allow : .cancel)
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive data: Data) {
        let failed = state.withLock { state -> Bool in
            guard state.writeError == nil else { return true }
            let code = data.withUnsafeBytes { FileOperations.writeAll(fd, $0) }
            if code != 0 {
                state.writeError = code
                return true
            }
            state.hasher.update(data)
            state.received += Int64(data.count)
            return false
        }
        if failed { dataTask.cancel() }
    }

    func urlSession(_ session: URLSession, task: URLSessionTask, didCompleteWithError error: (any Error)?) {
        let continuation = state.withLock { state in
            if let error, state.writeError == nil, state.status.map({ (200..<300).contains($0) }) ?? true {
                state.transportError = (error as? URLError) ?? URLError(.unknown, userInfo: [NSUnderlyingErrorKey: error])
            }
            state.completed = true
            defer { state.continuation = nil }
            return state.continuation
        }
        continuation?.resume()
    }

    private static func reason(_ error: URLError, received: Int64, timeout: Duration) -> String {
        switch error.code {
        case .timedOut: "timed out after \(format(timeout)) (\(received) bytes received)"
        case .cannotConnectToHost: "connection refused"
        case .cannotFindHost, .dnsLookupFailed: "host not found"
        case .networkConnectionLost: "connection lost after \(received) bytes"
        case .cancelled: "cancelled"
        case .secureConnectionFailed, .serverCertificateUntrusted, .serverCertificateHasBadDate,
             .serverCertificateNotYetValid, .serverCertificateHasUnknownRoot:
            "TLS handshake failed"
        default: "\(error.localizedDescription) (URL error \(error.code.rawValue))"
        }
    }

    private static func format(_ duration: Duration) -> String {
        let seconds = duration.seconds
        return seconds == seconds.rounded() ? "\(Int(seconds)) s" : "\(seconds) s"
    }
}
