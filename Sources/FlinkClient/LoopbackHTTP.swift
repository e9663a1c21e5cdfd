import Foundation
import LoopbackTLS
#if canImport(Glibc)
import Glibc
#endif

/// One HTTP/1.1 exchange with `127.0.0.1:port`: a fresh connection per request, `Connection: close`.
///
/// Guarantees: the whole exchange (connect, send, receive) ends by `timeout`; no cooperative thread
/// is ever blocked (the socket is non-blocking and waiting is a task sleep between 0-timeout polls,
/// as in `HTTPProbe`); a body larger than `maxResponseBytes` is refused rather than buffered; task
/// cancellation ends the exchange with `CancellationError`.
///
/// Assumptions: the peer is a local HTTP/1.x server (Flink's Netty). Bodies are framed by
/// `Transfer-Encoding: chunked`, `Content-Length`, or the end of the connection, in that order.
///
/// With `tls`, the exchange is HTTPS: the client presents the context's certificate and
/// accepts only a server whose certificate its CA signed for 127.0.0.1; a failed handshake is
/// `.connect` (nothing was sent).
struct LoopbackHTTP: Sendable {
    enum Method: String, Sendable, Hashable {
        case get = "GET", post = "POST", patch = "PATCH", delete = "DELETE"
    }

    struct Request: Sendable, Hashable {
        var method: Method
        /// Origin-form target, query included: `/jobs/abc?mode=cancel`.
        var target: String
        var body: [UInt8] = []
        var contentType: String?
    }

    struct Response: Sendable, Hashable {
        var status: Int
        /// Lower-cased names; repeated fields joined with ", ".
        var headers: [String: String]
        var body: [UInt8]
    }

    /// Why an exchange produced no response.
    enum Failure: Error, Hashable {
        /// Nothing was sent: the connection could not be made (refused, no route, bad port).
        case connect(String)
        /// The deadline passed; the request may or may not have reached the server.
        case timedOut(phase: String)
        /// The connection broke (reset, or closed before a single byte of the answer).
        case connectionLost(String)
        /// Bytes arrived that are not an HTTP/1.x answer, or the answer was cut short.
        case malformed(String)
        /// The answer's body exceeds the limit.
        case tooLarge(limit: Int)
    }

    static let defaultMaxResponseBytes = 16 << 20

    static func exchange(_ request: Request, port: Int, timeout: Duration,
                         maxResponseBytes: Int = defaultMaxResponseBytes, tls: TLSClientContext? = nil) async throws -> Response {
        guard (1...65535).contains(port) else { throw Failure.connect("invalid port \(port)") }
        let deadline = ContinuousClock.now + timeout
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw Failure.connect("socket: \(errorText(errno))") }
        defer { close(fd) }

        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = in_addr_t(0x7F00_0001).bigEndian
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        if connected != 0 {
            let code = errno
            guard code == EINPROGRESS else { throw Failure.connect("connect: \(errorText(code))") }
            guard try await wait(fd, for: Int16(POLLOUT), until: deadline) else {
                throw Failure.timedOut(phase: "connecting")
            }
            var error: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            guard getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) == 0 else {
                throw Failure.connect("connect: \(errorText(errno))")
            }
            guard error == 0 else { throw Failure.connect("connect: \(errorText(error))") }
        }

        let session: TLSSession?
        if let tls {
            session = try await handshake(fd, tls, until: deadline)
        } else {
            session = nil
        }

        // A server may answer early and close (an error for an upload it refuses): a failed send
        // is only reported when no complete answer can be read afterwards.
        var sendFailure: String?
        do {
            try await sendAll(fd, session, head(of: request, port: port), until: deadline)
            if !request.body.isEmpty { try await sendAll(fd, session, request.body, until: deadline) }
        } catch let SendError.broken(reason) {
            sendFailure = reason
        }

        var parser = HTTPResponseParser(maxBodyBytes: maxResponseBytes)
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let received: Received
            if let session {
                received = switch buffer.withUnsafeMutableBytes({ session.read(into: $0) }) {
                case .done(let n): .bytes(n)
                case .closed: .closed
                case .wantRead: .wait(Int16(POLLIN))
                case .wantWrite: .wait(Int16(POLLOUT))
                case .failed(let reason): .failed(reason)
                }
            } else {
                let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress!, $0.count, 0) }
                let code = errno
                received = n > 0 ? .bytes(n) : n == 0 ? .closed
                    : code == EAGAIN || code == EWOULDBLOCK || code == EINTR ? .wait(Int16(POLLIN)) : .failed("recv: \(errorText(code))")
            }
            switch received {
            case .bytes(let n):
                if let response = try parser.consume(buffer[..<n]) { return response }
            case .closed:
                if !parser.hasReceivedBytes {
                    throw Failure.connectionLost(sendFailure ?? "connection closed without an answer")
                }
                return try parser.finish()
            case .wait(let events):
                guard try await wait(fd, for: events, until: deadline) else {
                    throw Failure.timedOut(phase: parser.hasReceivedBytes ? "reading the answer" : "waiting for the answer")
                }
            case .failed(let reason):
                throw Failure.connectionLost(sendFailure ?? reason)
            }
        }
    }

    private enum Received { case bytes(Int), closed, wait(Int16), failed(String) }

    /// A TLS session on the connected `fd`, its handshake complete; a failure is `.connect`
    /// (no byte of the request was sent), a deadline passed `.timedOut`.
    private static func handshake(_ fd: Int32, _ tls: TLSClientContext, until deadline: ContinuousClock.Instant) async throws -> TLSSession {
        let session: TLSSession
        do {
            session = try TLSSession(context: tls, fd: fd)
        } catch {
            throw Failure.connect("\(error)")
        }
        while true {
            switch session.handshake() {
            case .done: return session
            case .wantRead:
                guard try await wait(fd, for: Int16(POLLIN), until: deadline) else { throw Failure.timedOut(phase: "in the TLS handshake") }
            case .wantWrite:
                guard try await wait(fd, for: Int16(POLLOUT), until: deadline) else { throw Failure.timedOut(phase: "in the TLS handshake") }
            case .closed:
                throw Failure.connect("TLS handshake: the peer closed the connection")
            case .failed(let reason):
                throw Failure.connect(reason)
            }
        }
    }

    /// Request line and headers. `Content-Length` is sent whenever a body is, and for bodiless
    /// POST/PATCH (`0`), which some servers require.
    static func head(of request: Request, port: Int) -> [UInt8] {
        var text = "\(request.method.rawValue) \(request.target) HTTP/1.1\r\n"
        text += "Host: 127.0.0.1:\(port)\r\n"
        text += "User-Agent: flinklet\r\n"
        text += "Accept: application/json\r\n"
        text += "Connection: close\r\n"
        if let contentType = request.contentType { text += "Content-Type: \(contentType)\r\n" }
        if !request.body.isEmpty || request.method == .post || request.method == .patch {
            text += "Content-Length: \(request.body.count)\r\n"
        }
        text += "\r\n"
        return Array(text.utf8)
    }

    private enum SendError: Error { case broken(String) }

    private static func sendAll(_ fd: Int32, _ session: TLSSession?, _ bytes: [UInt8], until deadline: ContinuousClock.Instant) async throws {
        var sent = 0
        while sent < bytes.count {
            var events = Int16(POLLOUT)
            if let session {
                switch bytes.withUnsafeBytes({ session.write(UnsafeRawBufferPointer(rebasing: $0[sent...])) }) {
                case .done(let n):
                    sent += n
                    continue
                case .wantRead: events = Int16(POLLIN)
                case .wantWrite: break
                case .closed: throw SendError.broken("TLS write: the peer closed the connection")
                case .failed(let reason): throw SendError.broken(reason)
                }
            } else {
                let n = bytes.withUnsafeBytes { send(fd, $0.baseAddress! + sent, bytes.count - sent, Int32(MSG_NOSIGNAL)) }
                if n > 0 {
                    sent += n
                    continue
                }
                let code = errno
                guard n < 0 && (code == EAGAIN || code == EWOULDBLOCK || code == EINTR) else {
                    throw SendError.broken("send: \(errorText(n < 0 ? code : EPIPE))")
                }
            }
            guard try await wait(fd, for: events, until: deadline) else {
                throw Failure.timedOut(phase: "sending the request")
            }
        }
    }

    /// Polls without blocking; sleeps the task 2 ms between polls. False once `deadline` passes;
    /// throws `CancellationError` when the task is cancelled.
    private static func wait(_ fd: Int32, for events: Int16, until deadline: ContinuousClock.Instant) async throws -> Bool {
        while true {
            var descriptor = pollfd(fd: fd, events: events, revents: 0)
            let n = poll(&descriptor, 1, 0)
            if n > 0 { return true }
            if n < 0 && errno != EINTR { return true }  // let the next send/recv report the error
            try Task.checkCancellation()
            if ContinuousClock.now >= deadline { return false }
            try await Task.sleep(for: .milliseconds(2))
        }
    }

    static func errorText(_ code: Int32) -> String {
        String(cString: strerror(code))
    }
}

/// An incremental HTTP/1.x response parser: feed it bytes as they arrive; it answers once the
/// response is complete by its framing, or at `finish()` when the connection has ended.
struct HTTPResponseParser {
    let maxBodyBytes: Int
    static let maxHeadBytes = 64 * 1024
    static let maxLineBytes = 8 * 1024

    private enum State {
        case head
        case fixed(remaining: Int)
        case chunkSize
        case chunkData(remaining: Int)
        case chunkEnd
        case trailers
        case untilClose
        case done
    }

    private var state = State.head
    private var pending: [UInt8] = []
    private var status = 0
    private var headers: [String: String] = [:]
    private var body: [UInt8] = []
    private(set) var hasReceivedBytes = false

    init(maxBodyBytes: Int) { self.maxBodyBytes = maxBodyBytes }

    /// The complete response once the bytes so far hold one; nil while more are needed.
    mutating func consume(_ bytes: some Collection<UInt8>) throws -> LoopbackHTTP.Response? {
        if !bytes.isEmpty { hasReceivedBytes = true }
        pending.append(contentsOf: bytes)
        var cursor = 0
        defer { pending.removeFirst(cursor) }
        while true {
            switch state {
            case .done:
                return response
            case .head:
                guard let end = find(crlfcrlf, in: pending, from: cursor) else {
                    if pending.count - cursor > Self.maxHeadBytes { throw malformed("response head longer than \(Self.maxHeadBytes) bytes") }
                    return nil
                }
                try parseHead(pending[cursor..<end])
                cursor = end + 4
            case .fixed(let remaining):
                let take = min(remaining, pending.count - cursor)
                body.append(contentsOf: pending[cursor..<cursor + take])
                cursor += take
                if take == remaining { state = .done } else {
                    state = .fixed(remaining: remaining - take)
                    return nil
                }
            case .chunkSize:
                guard let line = try nextLine(from: &cursor) else { return nil }
                let digits = line.split(separator: ";", maxSplits: 1, omittingEmptySubsequences: false)[0]
                    .trimmingCharacters(in: .whitespaces)
                guard !digits.isEmpty, digits.count <= 15, let size = Int(digits, radix: 16) else {
                    throw malformed("bad chunk size line '\(line.prefix(40))'")
                }
                if size == 0 {
                    state = .trailers
                } else {
                    guard body.count + size <= maxBodyBytes else { throw LoopbackHTTP.Failure.tooLarge(limit: maxBodyBytes) }
                    state = .chunkData(remaining: size)
                }
            case .chunkData(let remaining):
                let take = min(remaining, pending.count - cursor)
                body.append(contentsOf: pending[cursor..<cursor + take])
                cursor += take
                if take == remaining { state = .chunkEnd } else {
                    state = .chunkData(remaining: remaining - take)
                    return nil
                }
            case .chunkEnd:
                guard pending.count - cursor >= 2 else { return nil }
                guard pending[cursor] == 13, pending[cursor + 1] == 10 else { throw malformed("chunk not followed by CRLF") }
                cursor += 2
                state = .chunkSize
            case .trailers:
                guard let line = try nextLine(from: &cursor) else { return nil }
                if line.isEmpty { state = .done }
            case .untilClose:
                body.append(contentsOf: pending[cursor...])
                cursor = pending.count
                guard body.count <= maxBodyBytes else { throw LoopbackHTTP.Failure.tooLarge(limit: maxBodyBytes) }
                return nil
            }
        }
    }

    /// The connection ended: the response if its framing allows ending here.
    mutating func finish() throws -> LoopbackHTTP.Response {
        switch state {
        case .done:
            return response
        case .untilClose:
            state = .done
            return response
        case .head:
            throw malformed(pending.isEmpty ? "connection closed without an answer" : "connection closed inside the response head")
        case .fixed(let remaining):
            throw malformed("connection closed \(remaining) bytes before the end of the body (Content-Length \(body.count + remaining))")
        case .chunkSize, .chunkData, .chunkEnd, .trailers:
            throw malformed("connection closed inside a chunked body")
        }
    }

    private var response: LoopbackHTTP.Response {
        LoopbackHTTP.Response(status: status, headers: headers, body: body)
    }

    private mutating func parseHead(_ bytes: ArraySlice<UInt8>) throws {
        let text = String(decoding: bytes, as: UTF8.self)
        var lines = text.components(separatedBy: "\r\n")
        let statusLine = lines.removeFirst()
        let parts = statusLine.split(separator: " ", maxSplits: 2)
        guard parts.count >= 2, parts[0].hasPrefix("HTTP/1."), parts[1].count == 3, let code = Int(parts[1]) else {
            throw malformed("not an HTTP/1.x status line: '\(statusLine.prefix(60))'")
        }
        var fields: [String: String] = [:]
        for line in lines where !line.isEmpty {
            guard let colon = line.firstIndex(of: ":") else { throw malformed("bad header line '\(line.prefix(60))'") }
            let name = line[..<colon].trimmingCharacters(in: .whitespaces).lowercased()
            let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            fields[name] = fields[name].map { "\($0), \(value)" } ?? value
        }
        if (100..<200).contains(code) {
            return  // interim answer (100 Continue): the real one follows
        }
        status = code
        headers = fields
        if code == 204 || code == 304 {
            state = .done
        } else if let coding = fields["transfer-encoding"], coding.lowercased().split(separator: ",").last?
            .trimmingCharacters(in: .whitespaces) == "chunked" {
            state = .chunkSize
        } else if let lengthField = fields["content-length"] {
            let values = Set(lengthField.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) })
            guard values.count == 1, let length = Int(values.first!), length >= 0 else {
                throw malformed("bad Content-Length '\(lengthField)'")
            }
            guard length <= maxBodyBytes else { throw LoopbackHTTP.Failure.tooLarge(limit: maxBodyBytes) }
            state = length == 0 ? .done : .fixed(remaining: length)
        } else {
            state = .untilClose
        }
    }

    /// The next CRLF-terminated line after `cursor` (advancing it), or nil if it is not complete.
    private func nextLine(from cursor: inout Int) throws -> String? {
        guard let end = find(crlf, in: pending, from: cursor) else {
            if pending.count - cursor > Self.maxLineBytes { throw malformed("line longer than \(Self.maxLineBytes) bytes") }
            return nil
        }
        let line = String(decoding: pending[cursor..<end], as: UTF8.self)
        cursor = end + 2
        return line
    }

    private func malformed(_ text: String) -> LoopbackHTTP.Failure { .malformed(text) }
}

private let crlf: [UInt8] = [13, 10]
private let crlfcrlf: [UInt8] = [13, 10, 13, 10]

private func find(_ needle: [UInt8], in haystack: [UInt8], from start: Int) -> Int? {
    guard haystack.count - start >= needle.count else { return nil }
    var i = start
    let last = haystack.count - needle.count
    while i <= last {
        if haystack[i] == needle[0] {
            var j = 1
            while j < needle.count && haystack[i + j] == needle[j] { j += 1 }
            if j == needle.count { return i }
        }
        i += 1
    }
    return nil
}

/// A `multipart/form-data` body holding one file, as Flink's `POST /jars/upload` expects.
struct MultipartForm: Sendable {
    var boundary: String

    /// A random boundary: 128 random bits cannot plausibly occur in the file.
    static func random() -> MultipartForm {
        var generator = SystemRandomNumberGenerator()
        let hex = (0..<2).map { _ in String(generator.next() as UInt64, radix: 16).leftPadded(to: 16) }.joined()
        return MultipartForm(boundary: "flinklet-\(hex)")
    }

    var contentType: String { "multipart/form-data; boundary=\(boundary)" }

    func file(field: String, filename: String, contentType fileType: String, contents: some Collection<UInt8>) -> [UInt8] {
        var head = "--\(boundary)\r\n"
        head += "Content-Disposition: form-data; name=\"\(Self.quoted(field))\"; filename=\"\(Self.quoted(filename))\"\r\n"
        head += "Content-Type: \(fileType)\r\n\r\n"
        let tail = "\r\n--\(boundary)--\r\n"
        var body: [UInt8] = []
        body.reserveCapacity(head.utf8.count + contents.count + tail.utf8.count)
        body.append(contentsOf: head.utf8)
        body.append(contentsOf: contents)
        body.append(contentsOf: tail.utf8)
        return body
    }

    /// As browsers do: `"`, CR and LF percent-encoded so a name cannot end its quoted string.
    static func quoted(_ text: String) -> String {
        text.replacingOccurrences(of: "\"", with: "%22")
            .replacingOccurrences(of: "\r", with: "%0D")
            .replacingOccurrences(of: "\n", with: "%0A")
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}

/// A plain GET to a loopback HTTP server (127.0.0.1:`port`), for clients of other loopback
/// endpoints than Flink's (the operator's `/metrics`, for `flinklet top`).
public enum LoopbackGet {
    /// The answer's status and body; throws when there is no answer (refused, timed out).
    public static func get(port: Int, target: String, timeout: Duration = .seconds(5)) async throws -> (status: Int, body: [UInt8]) {
        let response = try await LoopbackHTTP.exchange(LoopbackHTTP.Request(method: .get, target: target), port: port, timeout: timeout)
        return (response.status, response.body)
    }
}
