import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// One request as the test server read it off the socket.
struct RecordedRequest: Sendable {
    var method: String
    var target: String
    var version: String
    /// Lower-cased names.
    var headers: [String: String]
    /// The head exactly as sent, up to and excluding the blank line.
    var head: String
    var body: [UInt8]

    var bodyText: String { String(decoding: body, as: UTF8.self) }

    /// The body as a JSON object (nil when it is not one).
    var jsonObject: NSDictionary? {
        (try? JSONSerialization.jsonObject(with: Data(body))) as? NSDictionary
    }
}

/// What the server does with a request.
enum Reply: Sendable {
    /// Writes the pieces in order, sleeping `pause` between them, then closes the connection.
    case pieces([[UInt8]], pause: Duration)
    /// Reads the request and never answers; the connection stays open until the server stops.
    case silence

    static func raw(_ text: String) -> Reply { .pieces([Array(text.utf8)], pause: .zero) }

    /// A `Content-Length` answer.
    static func json(_ status: Int, _ body: String, reason: String = "OK") -> Reply {
        let bytes = Array(body.utf8)
        let head = "HTTP/1.1 \(status) \(reason)\r\ncontent-type: application/json; charset=UTF-8\r\naccess-control-allow-origin: *\r\nconnection: keep-alive\r\ncontent-length: \(bytes.count)\r\n\r\n"
        return .pieces([Array(head.utf8) + bytes], pause: .zero)
    }
}

/// A tiny HTTP server on `127.0.0.1:<ephemeral>` for client tests: one connection at a time,
/// on a thread of its own (never a cooperative one), answering each request with `handler`.
/// Records every request. `stop()` closes everything it opened.
final class TestHTTPServer: Sendable {
    let port: Int
    private let listener: Int32
    private let handler: @Sendable (RecordedRequest) -> Reply
    private let state = Mutex(State())

    private struct State {
        var requests: [RecordedRequest] = []
        var held: [Int32] = []
        var stopping = false
        var stopped = false
    }

    init(_ handler: @escaping @Sendable (RecordedRequest) -> Reply) throws {
        self.handler = handler
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.init(rawValue: errno) ?? .EIO) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = in_addr_t(0x7F00_0001).bigEndian
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bind(fd, pointer, length) == 0 && listen(fd, 16) == 0 && getsockname(fd, pointer, &length) == 0
            }
        }
        guard ok else {
            close(fd)
            throw POSIXError(.init(rawValue: errno) ?? .EIO)
        }
        listener = fd
        port = Int(UInt16(bigEndian: address.sin_port))
        Thread { [self] in serve() }.start()
    }

    var requests: [RecordedRequest] { state.withLock { $0.requests } }

    /// Stops accepting, closes held connections and the listener; returns once the thread ended.
    func stop() async {
        state.withLock { $0.stopping = true }
        while !state.withLock({ $0.stopped }) {
            try? await Task.sleep(for: .milliseconds(2))
        }
    }

    private func serve() {
        while !state.withLock({ $0.stopping }) {
            var descriptor = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
            guard poll(&descriptor, 1, 10) > 0 else { continue }
            let connection = accept(listener, nil, nil)
            guard connection >= 0 else { continue }
            var timeout = timeval(tv_sec: 5, tv_usec: 0)
            setsockopt(connection, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            guard let request = Self.read(connection) else {
                close(connection)
                continue
            }
            state.withLock { $0.requests.append(request) }
            switch handler(request) {
            case .silence:
                state.withLock { $0.held.append(connection) }
            case .pieces(let pieces, let pause):
                for (index, piece) in pieces.enumerated() {
                    if index > 0 && pause > .zero {
                        let (seconds, attoseconds) = pause.components
                        usleep(UInt32(seconds * 1_000_000 + attoseconds / 1_000_000_000_000))
                    }
                    var sent = 0
                    while sent < piece.count {
                        let n = piece.withUnsafeBytes { send(connection, $0.baseAddress! + sent, piece.count - sent, Int32(MSG_NOSIGNAL)) }
                        if n <= 0 { break }
                        sent += n
                    }
                }
                close(connection)
            }
        }
        let held = state.withLock { $0.held }
        held.forEach { close($0) }
        close(listener)
        state.withLock { $0.stopped = true }
    }

    /// Head up to the blank line, then `Content-Length` bytes of body.
    private static func read(_ fd: Int32) -> RecordedRequest? {
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        var headEnd: Int?
        var bodyLength = 0
        while true {
            if headEnd == nil, let end = bytes.firstRange(of: [13, 10, 13, 10])?.lowerBound {
                headEnd = end
                let head = String(decoding: bytes[..<end], as: UTF8.self)
                for line in head.components(separatedBy: "\r\n").dropFirst() {
                    let parts = line.split(separator: ":", maxSplits: 1)
                    if parts.count == 2, parts[0].lowercased() == "content-length" {
                        bodyLength = Int(parts[1].trimmingCharacters(in: .whitespaces)) ?? 0
                    }
                }
            }
            if let end = headEnd, bytes.count >= end + 4 + bodyLength { break }
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress!, $0.count, 0) }
            if n <= 0 { return nil }
            bytes += buffer[..<n]
        }
        let end = headEnd!
        let head = String(decoding: bytes[..<end], as: UTF8.self)
        var lines = head.components(separatedBy: "\r\n")
        let requestLine = lines.removeFirst().split(separator: " ").map(String.init)
        guard requestLine.count == 3 else { return nil }
        var headers: [String: String] = [:]
        for line in lines {
            let parts = line.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            if parts.count == 2 { headers[parts[0].lowercased()] = parts[1] }
        }
        return RecordedRequest(method: requestLine[0], target: requestLine[1], version: requestLine[2], headers: headers,
                               head: head, body: Array(bytes[(end + 4)..<(end + 4 + bodyLength)]))
    }
}

/// Runs `body` with a server answering every request with `handler`; stops it afterwards,
/// whether `body` threw or not.
@discardableResult
func withServer<T>(_ handler: @escaping @Sendable (RecordedRequest) -> Reply,
                   _ body: (TestHTTPServer) async throws -> T) async throws -> T {
    let server = try TestHTTPServer(handler)
    do {
        let result = try await body(server)
        await server.stop()
        return result
    } catch {
        await server.stop()
        throw error
    }
}

/// A port on which connecting is refused for as long as `body` runs: the socket is bound (so no
/// one else gets the port) but not listening.
@discardableResult
func withRefusedPort<T>(_ body: (Int) async throws -> T) async throws -> T {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = in_addr_t(0x7F00_0001).bigEndian
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
    }
    return try await body(Int(UInt16(bigEndian: address.sin_port)))
}
