import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A tiny HTTP/1.1 server on 127.0.0.1 and an ephemeral port, for download tests: each path
/// answers as told, and every request is counted. Each connection is served on its own thread
/// with blocking sockets and closed after one answer. Call `stop()` when done.
final class TestHTTPServer: Sendable {
    enum Reply: Sendable {
        /// 200 with `body`, sent after `delay`.
        case ok([UInt8], delay: Duration = .zero)
        /// This status with a short text body.
        case status(Int)
        /// 200 announcing `body.count` bytes, then only the first `sentBytes`, then a close.
        case truncated([UInt8], sentBytes: Int)
        /// 200 with `body` in `chunks` parts, `interval` apart.
        case trickle([UInt8], chunks: Int, interval: Duration)
        /// 200 announcing `length` bytes, then silence for `duration`, then a close.
        case stall(length: Int, duration: Duration)
        /// 302 to `path` on this server.
        case redirect(String)
        /// 200 with `body` and no `Content-Length`: the body ends when the connection closes.
        case unsized([UInt8])
    }

    private struct State {
        var routes: [String: Reply] = [:]
        var hits: [String: Int] = [:]
        var stopped = false
        var listenerClosed = false
    }

    let port: Int
    private let listener: Int32
    private let state = Mutex(State())

    init() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.init(rawValue: errno) ?? .EIO) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = in_addr_t(0x7F00_0001).bigEndian
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bind(fd, pointer, length) == 0 && listen(fd, 64) == 0 && getsockname(fd, pointer, &length) == 0
            }
        }
        guard bound else {
            let code = errno
            close(fd)
            throw POSIXError(.init(rawValue: code) ?? .EIO)
        }
        listener = fd
        port = Int(UInt16(bigEndian: address.sin_port))
        let thread = Thread { [self] in acceptLoop() }
        thread.start()
    }

    func url(_ path: String) -> String { "http://127.0.0.1:\(port)\(path)" }

    func route(_ path: String, _ reply: Reply) { state.withLock { $0.routes[path] = reply } }

    func hits(_ path: String) -> Int { state.withLock { $0.hits[path, default: 0] } }

    /// Stops accepting and returns once the listener is closed (new connections are refused);
    /// connections being served finish on their own.
    ///
    /// Only the accept thread closes the listener. Closing it here raced with that thread: when
    /// the thread had not yet called `accept`, it then accepted on a descriptor number the
    /// kernel had meanwhile handed to another test's new socket, and took (and dropped) that
    /// test's connections, so its server never saw a request.
    func stop() {
        let first = state.withLock { state in
            defer { state.stopped = true }
            return !state.stopped
        }
        if first {
            // Wakes a blocked `accept` (EINVAL), and makes a later one fail at once.
            shutdown(listener, Int32(SHUT_RDWR))
        }
        while !state.withLock({ $0.listenerClosed }) {
            usleep(1000)
        }
    }

    private func acceptLoop() {
        defer {
            close(listener)
            state.withLock { $0.listenerClosed = true }
        }
        while true {
            let connection = accept(listener, nil, nil)
            if connection < 0 {
                if errno == EINTR { continue }
                return
            }
            if state.withLock({ $0.stopped }) {
                close(connection)
                return
            }
            Thread { [self] in serve(connection) }.start()
        }
    }

    private func serve(_ fd: Int32) {
        defer { close(fd) }
        var request: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while !request.contains(subsequence: Array("\r\n\r\n".utf8)) && request.count < 65536 {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress!, $0.count, 0) }
            guard n > 0 else { return }
            request += buffer[..<n]
        }
        let line = String(decoding: request.prefix { $0 != UInt8(ascii: "\r") }, as: UTF8.self)
        let parts = line.split(separator: " ")
        guard parts.count >= 2 else { return }
        let path = String(parts[1])
        let reply = state.withLock { state in
            state.hits[path, default: 0] += 1
            return state.routes[path]
        }
        switch reply {
        case .ok(let body, let delay):
            sleep(delay)
            send(fd, header(200, length: body.count) + body)
        case .status(let code):
            let body = Array("status \(code)\n".utf8)
            send(fd, header(code, length: body.count) + body)
        case .truncated(let body, let sentBytes):
            send(fd, header(200, length: body.count) + body.prefix(sentBytes))
        case .trickle(let body, let chunks, let interval):
            send(fd, header(200, length: body.count))
            let size = (body.count + chunks - 1) / chunks
            for start in stride(from: 0, to: body.count, by: size) {
                sleep(interval)
                send(fd, Array(body[start..<min(start + size, body.count)]))
            }
        case .stall(let length, let duration):
            send(fd, header(200, length: length))
            sleep(duration)
        case .redirect(let location):
            send(fd, Array("HTTP/1.1 302 Found\r\nLocation: \(location)\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".utf8))
        case .unsized(let body):
            send(fd, Array("HTTP/1.1 200 Test\r\nContent-Type: application/java-archive\r\nConnection: close\r\n\r\n".utf8) + body)
        case nil:
            let body = Array("no route\n".utf8)
            send(fd, header(404, length: body.count) + body)
        }
    }

    private func header(_ status: Int, length: Int) -> [UInt8] {
        Array("HTTP/1.1 \(status) Test\r\nContent-Length: \(length)\r\nContent-Type: application/java-archive\r\nConnection: close\r\n\r\n".utf8)
    }

    private func send(_ fd: Int32, _ bytes: [UInt8]) {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + offset, bytes.count - offset, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { return }
            offset += n
        }
    }

    private func sleep(_ duration: Duration) {
        guard duration > .zero else { return }
        Thread.sleep(forTimeInterval: Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18)
    }
}

/// A loopback port that refuses connections for as long as this lives: a TCP socket bound to
/// it and never listening. Connections get a reset, and, unlike the port of a stopped server,
/// no other socket can take the port meanwhile (another test's server bound to port 0, or the
/// client itself: a connect to a free port in the ephemeral range can pick that very port as
/// its source and connect to itself). Either made "connection refused" read "connection lost".
final class RefusingPort: Sendable {
    let port: Int
    private let fd: Int32

    init() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.init(rawValue: errno) ?? .EIO) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = in_addr_t(0x7F00_0001).bigEndian
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bind(fd, pointer, length) == 0 && getsockname(fd, pointer, &length) == 0
            }
        }
        guard bound else {
            let code = errno
            close(fd)
            throw POSIXError(.init(rawValue: code) ?? .EIO)
        }
        self.fd = fd
        port = Int(UInt16(bigEndian: address.sin_port))
    }

    func url(_ path: String) -> String { "http://127.0.0.1:\(port)\(path)" }

    deinit { close(fd) }
}

private extension Array where Element == UInt8 {
    func contains(subsequence: [UInt8]) -> Bool {
        guard count >= subsequence.count else { return false }
        return (0...(count - subsequence.count)).contains { self[$0..<$0 + subsequence.count].elementsEqual(subsequence) }
    }
}
