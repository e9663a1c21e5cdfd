#if canImport(Glibc)
import Glibc
#endif

/// A readiness check: `GET path HTTP/1.0` to `127.0.0.1:port` over a plain socket.
///
/// The socket is non-blocking and waits by sleeping the task in short steps, never by blocking
/// a thread: a server that accepts and never answers costs a timeout, not a cooperative thread.
public enum HTTPProbe {
    /// True when a status line with a 2xx or 3xx code arrives before `timeout`.
    public static func check(port: Int, path: String, timeout: Duration = .seconds(1)) async -> Bool {
        guard let code = await statusCode(port: port, path: path, timeout: timeout) else { return false }
        return (200..<400).contains(code)
    }

    /// The HTTP status code of the answer, or nil (refused, timed out, not HTTP).
    public static func statusCode(port: Int, path: String, timeout: Duration) async -> Int? {
        guard (1...65535).contains(port) else { return nil }
        let deadline = ContinuousClock.now + timeout
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return nil }
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
            guard errno == EINPROGRESS, await wait(fd, for: Int16(POLLOUT), until: deadline) else { return nil }
            var error: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            guard getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) == 0, error == 0 else { return nil }
        }

        let target = path.hasPrefix("/") ? path : "/" + path
        let request = Array("GET \(target) HTTP/1.0\r\nHost: 127.0.0.1:\(port)\r\nUser-Agent: flinklet-probe\r\nAccept: */*\r\nConnection: close\r\n\r\n".utf8)
        var sent = 0
        while sent < request.count {
            let n = request.withUnsafeBytes { send(fd, $0.baseAddress! + sent, request.count - sent, Int32(MSG_NOSIGNAL)) }
            if n > 0 {
                sent += n
            } else if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
                guard await wait(fd, for: Int16(POLLOUT), until: deadline) else { return nil }
            } else {
                return nil
            }
        }

        var response: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 512)
        while response.count < 4096 {
            if let code = parseStatusLine(response) { return code }
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress!, $0.count, 0) }
            if n > 0 {
                response += buffer[..<n]
            } else if n == 0 {
                return parseStatusLine(response, complete: true)
            } else if errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR {
                guard await wait(fd, for: Int16(POLLIN), until: deadline) else { return nil }
            } else {
                return nil
            }
        }
        return parseStatusLine(response, complete: true)
    }

    /// `HTTP/1.x NNN ...` once the first line is complete (or the answer ended).
    static func parseStatusLine(_ bytes: [UInt8], complete: Bool = false) -> Int? {
        let end = bytes.firstIndex(of: UInt8(ascii: "\n")) ?? (complete ? bytes.count : nil)
        guard let end else { return nil }
        let line = String(decoding: bytes[..<end], as: UTF8.self)
        let parts = line.split(separator: " ", maxSplits: 2)
        guard parts.count >= 2, parts[0].hasPrefix("HTTP/"), parts[1].count == 3, let code = Int(parts[1]) else { return nil }
        return code
    }

    /// Polls without blocking; sleeps the task 2 ms between polls. False on timeout or cancellation.
    private static func wait(_ fd: Int32, for events: Int16, until deadline: ContinuousClock.Instant) async -> Bool {
        while true {
            var descriptor = pollfd(fd: fd, events: events, revents: 0)
            let n = poll(&descriptor, 1, 0)
            if n > 0 { return true }
            if n < 0 && errno != EINTR { return false }
            if ContinuousClock.now >= deadline || Task.isCancelled { return false }
            try? await Task.sleep(for: .milliseconds(2))
        }
    }
}
