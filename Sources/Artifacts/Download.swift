import CLibCurl
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One HTTP GET streamed into a file, hashed on the way.
///
/// Guarantees: on success the file holds exactly the body of a 2xx answer, fsynced, with
/// `size` and `sha256` computed over the bytes written; a body shorter than its
/// `Content-Length` is a failure. On any failure the file is removed. Redirects are followed
/// (to http and https only), at most `Limits.maxRedirects` of them; a body larger than
/// `Limits.maxBytes` is refused as soon as it is announced or, without `Content-Length`, as soon
/// as that many bytes have arrived; the whole transfer, stalls included, ends at `Limits.timeout`.
///
/// Through libcurl's easy interface, loaded on the first download: not linked, and not through
/// URLSession, whose FoundationNetworking would map libcurl and its TLS, Kerberos, LDAP and SSH
/// libraries into every flinklet process from the start (CLibCurl.h). URLSession runs on the
/// same libcurl on Linux. A transfer blocks its thread, so each runs on a thread of its own,
/// never on one of the concurrency pool's few.
enum Download {
    struct Outcome: Sendable {
        var sha256: String
        var size: Int64
    }

    /// How far one download may go.
    struct Limits: Sendable, Hashable {
        /// The whole transfer, and so also any stall.
        var timeout: Duration
        /// The largest body accepted, in bytes.
        var maxBytes: Int64
        /// The most redirects followed.
        var maxRedirects: Int
    }

    /// Downloads `url` into the new file `temporary`, which the caller renames on success.
    @concurrent
    static func fetch(_ url: URL, uri: String, into temporary: String, limits: Limits) async throws(ArtifactError) -> Outcome {
        if let reason = flinklet_curl_load() {
            throw .downloadFailed(uri: uri, reason: "libcurl is not usable: \(String(cString: reason))")
        }
        let fd = try FileOperations.createTemporary(temporary, uri: uri)
        let transfer = Transfer(fd: fd, maxBytes: limits.maxBytes)
        let code = await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                Thread.detachNewThread {
                    continuation.resume(returning: transfer.run(url.absoluteString, limits: limits))
                }
            }
        } onCancel: {
            transfer.cancel()
        }

        switch transfer.result(code, uri: uri, temporary: temporary, limits: limits) {
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

/// One transfer's state: libcurl's callbacks write each chunk to the file and the hasher on
/// the transfer's thread; `cancel` may come from any thread; the mutex makes the state
/// readable by the waiting task afterwards.
private final class Transfer: Sendable {
    private struct State {
        var hasher = SHA256()
        var received: Int64 = 0
        var expected: Int64?
        var status = 0
        var writeError: Int32?
        var tooLarge = false
        var cancelled = false
    }

    private let fd: Int32
    private let maxBytes: Int64
    private let state = Mutex(State())

    init(fd: Int32, maxBytes: Int64) {
        self.fd = fd
        self.maxBytes = maxBytes
    }

    /// Stops the transfer at libcurl's next progress call (within about a second).
    func cancel() {
        state.withLock { $0.cancelled = true }
    }

    /// Runs the transfer on the calling thread, blocking it; returns libcurl's result code.
    func run(_ url: String, limits: Download.Limits) -> Int32 {
        guard let handle = flinklet_curl_easy_init() else { return FLINKLET_CURLE_FAILED_INIT }
        defer { flinklet_curl_easy_cleanup(handle) }
        let context = Unmanaged.passUnretained(self).toOpaque()
        // libcurl copies string options, so each may live only for its call.
        flinklet_curl_easy_setopt_string(handle, FLINKLET_CURLOPT_URL, url)
        flinklet_curl_easy_setopt_string(handle, FLINKLET_CURLOPT_USERAGENT, "flinklet")
        // Older libcurl (< 7.85) lacks these two and keeps its defaults (redirects to FTP too).
        flinklet_curl_easy_setopt_string(handle, FLINKLET_CURLOPT_PROTOCOLS_STR, "http,https")
        flinklet_curl_easy_setopt_string(handle, FLINKLET_CURLOPT_REDIR_PROTOCOLS_STR, "http,https")
        flinklet_curl_easy_setopt_long(handle, FLINKLET_CURLOPT_FOLLOWLOCATION, 1)
        flinklet_curl_easy_setopt_long(handle, FLINKLET_CURLOPT_MAXREDIRS, limits.maxRedirects)
        // Refused before the body when Content-Length announces more; `write` counts the rest.
        flinklet_curl_easy_setopt_off_t(handle, FLINKLET_CURLOPT_MAXFILESIZE_LARGE, limits.maxBytes)
        // A status of 400 or more ends the transfer before its body.
        flinklet_curl_easy_setopt_long(handle, FLINKLET_CURLOPT_FAILONERROR, 1)
        // No SIGALRM for timeouts: this process has other threads.
        flinklet_curl_easy_setopt_long(handle, FLINKLET_CURLOPT_NOSIGNAL, 1)
        flinklet_curl_easy_setopt_long(handle, FLINKLET_CURLOPT_TIMEOUT_MS, max(1, Int(limits.timeout.seconds * 1000)))
        flinklet_curl_easy_setopt_write_function(handle) { data, size, count, context in
            let transfer = Unmanaged<Transfer>.fromOpaque(context!).takeUnretainedValue()
            return transfer.write(UnsafeRawBufferPointer(start: data, count: size * count)) ? size * count : 0
        }
        flinklet_curl_easy_setopt_pointer(handle, FLINKLET_CURLOPT_WRITEDATA, context)
        flinklet_curl_easy_setopt_xferinfo_function(handle) { context, _, _, _, _ in
            Unmanaged<Transfer>.fromOpaque(context!).takeUnretainedValue().state.withLock { $0.cancelled } ? 1 : 0
        }
        flinklet_curl_easy_setopt_pointer(handle, FLINKLET_CURLOPT_XFERINFODATA, context)
        flinklet_curl_easy_setopt_long(handle, FLINKLET_CURLOPT_NOPROGRESS, 0)

        let code = flinklet_curl_easy_perform(handle)
        var status = 0
        var length: Int64 = -1
        flinklet_curl_easy_getinfo_long(handle, FLINKLET_CURLINFO_RESPONSE_CODE, &status)
        flinklet_curl_easy_getinfo_off_t(handle, FLINKLET_CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &length)
        state.withLock { state in
            state.status = status
            state.expected = length >= 0 ? length : nil
        }
        return code
    }

    /// Writes one chunk to the file and the hasher; false stops the transfer (also when the
    /// body would grow past the limit: nothing past it is written).
    private func write(_ bytes: UnsafeRawBufferPointer) -> Bool {
        state.withLock { state in
            guard state.writeError == nil, !state.tooLarge else { return false }
            if state.received + Int64(bytes.count) > maxBytes {
                state.tooLarge = true
                return false
            }
            let code = FileOperations.writeAll(fd, bytes)
            if code != 0 {
                state.writeError = code
                return false
            }
            state.hasher.update(bytes)
            state.received += Int64(bytes.count)
            return true
        }
    }

    /// What the transfer came to, once `run` has returned `code`.
    func result(_ code: Int32, uri: String, temporary: String, limits: Download.Limits) -> Result<Download.Outcome, ArtifactError> {
        state.withLock { state in
            // Before the status: the last answer of a redirect chain cut short is a 3xx.
            if code == FLINKLET_CURLE_TOO_MANY_REDIRECTS {
                return .failure(.tooManyRedirects(uri: uri, limit: limits.maxRedirects))
            }
            if state.tooLarge || code == FLINKLET_CURLE_FILESIZE_EXCEEDED {
                return .failure(.tooLarge(uri: uri, limit: limits.maxBytes))
            }
            if state.status != 0, !(200..<300).contains(state.status) {
                return .failure(.httpStatus(uri: uri, status: state.status))
            }
            if let error = state.writeError {
                return .failure(.system(uri: uri, path: temporary, operation: "write", errno: error))
            }
            switch code {
            case FLINKLET_CURLE_OK:
                break
            case FLINKLET_CURLE_OPERATION_TIMEDOUT:
                return .failure(.downloadFailed(uri: uri, reason: "timed out after \(Self.format(limits.timeout)) (\(state.received) bytes received)"))
            case FLINKLET_CURLE_ABORTED_BY_CALLBACK:
                return .failure(.downloadFailed(uri: uri, reason: "cancelled"))
            default:
                if let expected = state.expected, expected != state.received {
                    return .failure(.downloadFailed(uri: uri, reason: "connection closed after \(state.received) of \(expected) bytes"))
                }
                return .failure(.downloadFailed(uri: uri, reason: Self.reason(code, received: state.received)))
            }
            guard state.status != 0 else {
                return .failure(.downloadFailed(uri: uri, reason: "no HTTP answer"))
            }
            return .success(Download.Outcome(sha256: state.hasher.hexDigest(), size: state.received))
        }
    }

    private static func reason(_ code: Int32, received: Int64) -> String {
        switch code {
        case FLINKLET_CURLE_COULDNT_CONNECT: "connection refused"
        case FLINKLET_CURLE_COULDNT_RESOLVE_HOST, FLINKLET_CURLE_COULDNT_RESOLVE_PROXY: "host not found"
        case FLINKLET_CURLE_PARTIAL_FILE, FLINKLET_CURLE_GOT_NOTHING, FLINKLET_CURLE_SEND_ERROR, FLINKLET_CURLE_RECV_ERROR:
            "connection lost after \(received) bytes"
        case FLINKLET_CURLE_SSL_CONNECT_ERROR, FLINKLET_CURLE_SSL_CERTPROBLEM, FLINKLET_CURLE_SSL_CIPHER,
             FLINKLET_CURLE_PEER_FAILED_VERIFICATION, FLINKLET_CURLE_SSL_CACERT_BADFILE, FLINKLET_CURLE_SSL_ISSUER_ERROR:
            "TLS handshake failed"
        default: "\(String(cString: flinklet_curl_easy_strerror(code))) (curl error \(code))"
        }
    }

    private static func format(_ duration: Duration) -> String {
        let seconds = duration.seconds
        return seconds == seconds.rounded() ? "\(Int(seconds)) s" : "\(seconds) s"
    }
}
