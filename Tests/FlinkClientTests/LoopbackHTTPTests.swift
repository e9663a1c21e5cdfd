@testable import FlinkClient
import Foundation
import Testing

/// The response parser on its own (every framing, fed in pieces of every size) and the
/// transport against a real socket.
@Suite("LoopbackHTTP")
struct LoopbackHTTPTests {
    struct Framing: Sendable, CustomTestStringConvertible {
        var name: String
        var raw: String
        var status: Int
        var body: String
        /// Whether the response is only complete when the connection ends.
        var needsClose: Bool = false
        var testDescription: String { name }
    }

    static let framings: [Framing] = [
        Framing(name: "Content-Length", raw: "HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n{\"a\":[1,2]}", status: 200, body: #"{"a":[1,2]}"#),
        Framing(name: "chunked with extension and trailer",
                raw: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;name=x\r\n{\"a\":\r\nA\r\n [1,2,3]}\n\r\n0\r\nX-Trailer: t\r\n\r\n",
                status: 200, body: "{\"a\": [1,2,3]}\n"),
        Framing(name: "chunked wins over Content-Length",
                raw: "HTTP/1.1 200 OK\r\nContent-Length: 999\r\nTransfer-Encoding: gzip, chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
                status: 200, body: "ok"),
        Framing(name: "until close", raw: "HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n{\"x\":1}", status: 200, body: #"{"x":1}"#, needsClose: true),
        Framing(name: "100 Continue first", raw: "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 202 Accepted\r\nContent-Length: 2\r\n\r\n{}", status: 202, body: "{}"),
        Framing(name: "204 has no body", raw: "HTTP/1.1 204 No Content\r\n\r\n", status: 204, body: ""),
        Framing(name: "empty Content-Length", raw: "HTTP/1.1 202 Accepted\r\ncontent-length: 0\r\n\r\n", status: 202, body: ""),
    ]

    @Test(arguments: framings, [1, 3, 7, 1000])
    func parserCompletesEveryFramingWhateverThePieces(framing: Framing, pieceSize: Int) throws {
        var parser = HTTPResponseParser(maxBodyBytes: 1 << 20)
        let bytes = Array(framing.raw.utf8)
        var response: LoopbackHTTP.Response?
        var offset = 0
        while offset < bytes.count && response == nil {
            let end = min(offset + pieceSize, bytes.count)
            response = try parser.consume(bytes[offset..<end])
            offset = end
        }
        if framing.needsClose {
            #expect(response == nil, "a body without length is only complete at the end of the connection")
            response = try parser.finish()
        }
        let complete = try #require(response)
        #expect(complete.status == framing.status)
        #expect(String(decoding: complete.body, as: UTF8.self) == framing.body)
    }

    @Test func parserKeepsHeadersLowerCasedAndJoinsRepeats() throws {
        var parser = HTTPResponseParser(maxBodyBytes: 100)
        let response = try #require(try parser.consume(Array("HTTP/1.1 200 OK\r\nX-A: 1\r\nx-a: 2\r\nContent-Length: 0\r\n\r\n".utf8)))
        #expect(response.headers["x-a"] == "1, 2")
    }

    @Test(arguments: [
        ("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n12345", "5 bytes before the end"),
        ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab", "inside a chunked body"),
        ("HTTP/1.1 200 OK\r\nContent-Le", "inside the response head"),
    ])
    func truncatedAnswersAreMalformed(raw: String, detail: String) throws {
        var parser = HTTPResponseParser(maxBodyBytes: 100)
        #expect(try parser.consume(Array(raw.utf8)) == nil)
        #expect {
            try parser.finish()
        } throws: { error in
            guard case .malformed(let text) = error as? LoopbackHTTP.Failure else { return false }
            return text.contains(detail)
        }
    }

    @Test(arguments: [
        "SSH-2.0-OpenSSH_9.2\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 1, 2\r\n\r\nx",
        "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nokXX0\r\n\r\n",
    ])
    func nonsenseIsMalformed(raw: String) {
        var parser = HTTPResponseParser(maxBodyBytes: 100)
        #expect {
            _ = try parser.consume(Array(raw.utf8))
        } throws: { error in
            if case .malformed = error as? LoopbackHTTP.Failure { true } else { false }
        }
    }

    @Test(arguments: [
        "HTTP/1.1 200 OK\r\nContent-Length: 101\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n50\r\n\(String(repeating: "x", count: 80))\r\n20\r\n",
        "HTTP/1.0 200 OK\r\n\r\n\(String(repeating: "x", count: 101))",
    ])
    func bodiesOverTheLimitAreRefusedEarly(raw: String) {
        var parser = HTTPResponseParser(maxBodyBytes: 100)
        #expect(throws: LoopbackHTTP.Failure.tooLarge(limit: 100)) {
            _ = try parser.consume(Array(raw.utf8))
        }
    }

    // MARK: - Over a socket

    @Test func sendsOneHTTP11RequestWithConnectionClose() async throws {
        try await withServer({ _ in .json(200, "{}") }) { server in
            let request = LoopbackHTTP.Request(method: .get, target: "/jobs/overview")
            let response = try await LoopbackHTTP.exchange(request, port: server.port, timeout: .seconds(5))
            #expect(response.status == 200)
            #expect(response.headers["content-type"] == "application/json; charset=UTF-8")
            let seen = try #require(server.requests.first)
            #expect(seen.head.components(separatedBy: "\r\n") == [
                "GET /jobs/overview HTTP/1.1",
                "Host: 127.0.0.1:\(server.port)",
                "User-Agent: flinklet",
                "Accept: application/json",
                "Connection: close",
            ])
            #expect(seen.body.isEmpty)
        }
    }

    @Test func sendsBodyWithTypeAndLengthAndAnEmptyPatchWithLengthZero() async throws {
        try await withServer({ _ in .json(202, "{}", reason: "Accepted") }) { server in
            let body = Array(#"{"k":"v"}"#.utf8)
            _ = try await LoopbackHTTP.exchange(.init(method: .post, target: "/x", body: body, contentType: "application/json"),
                                                port: server.port, timeout: .seconds(5))
            _ = try await LoopbackHTTP.exchange(.init(method: .patch, target: "/jobs/j?mode=cancel"), port: server.port, timeout: .seconds(5))
            let requests = server.requests
            try #require(requests.count == 2)
            #expect(requests[0].headers["content-type"] == "application/json")
            #expect(requests[0].headers["content-length"] == "9")
            #expect(requests[0].body == body)
            #expect(requests[1].method == "PATCH" && requests[1].target == "/jobs/j?mode=cancel")
            #expect(requests[1].headers["content-length"] == "0")
        }
    }

    @Test func readsAChunkedAnswerArrivingInPieces() async throws {
        let pieces = ["HTTP/1.1 200 OK\r\nTransfer-", "Encoding: chunked\r\n\r\n4\r\n{\"a\"", "\r\n", "3\r\n:1}\r\n0\r", "\n\r\n"]
        try await withServer({ _ in .pieces(pieces.map { Array($0.utf8) }, pause: .milliseconds(15)) }) { server in
            let response = try await LoopbackHTTP.exchange(.init(method: .get, target: "/"), port: server.port, timeout: .seconds(5))
            #expect(String(decoding: response.body, as: UTF8.self) == #"{"a":1}"#)
        }
    }

    @Test func readsAnAnswerDelimitedByClose() async throws {
        let body = String(repeating: "0123456789", count: 20_000)
        try await withServer({ _ in .pieces([Array("HTTP/1.0 200 OK\r\n\r\n".utf8), Array(body.utf8)], pause: .milliseconds(10)) }) { server in
            let response = try await LoopbackHTTP.exchange(.init(method: .get, target: "/"), port: server.port, timeout: .seconds(5))
            #expect(response.body.count == 200_000)
        }
    }

    @Test func refusesAnAnswerOverTheLimitFromItsHead() async throws {
        try await withServer({ _ in .raw("HTTP/1.1 200 OK\r\nContent-Length: 20000000\r\n\r\n") }) { server in
            await #expect(throws: LoopbackHTTP.Failure.tooLarge(limit: 16 << 20)) {
                _ = try await LoopbackHTTP.exchange(.init(method: .get, target: "/"), port: server.port, timeout: .seconds(5))
            }
        }
    }

    @Test func aServerThatNeverAnswersCostsTheTimeoutAndNoMore() async throws {
        try await withServer({ _ in .silence }) { server in
            let clock = ContinuousClock()
            let start = clock.now
            await #expect(throws: LoopbackHTTP.Failure.timedOut(phase: "waiting for the answer")) {
                _ = try await LoopbackHTTP.exchange(.init(method: .get, target: "/"), port: server.port, timeout: .milliseconds(300))
            }
            let elapsed = clock.now - start
            #expect(elapsed >= .milliseconds(300) && elapsed < .seconds(2), "took \(elapsed)")
        }
    }

    @Test func cancellingTheTaskEndsAWaitingExchange() async throws {
        try await withServer({ _ in .silence }) { server in
            let task = Task {
                try await LoopbackHTTP.exchange(.init(method: .get, target: "/"), port: server.port, timeout: .seconds(30))
            }
            try await Task.sleep(for: .milliseconds(100))
            task.cancel()
            await #expect(throws: CancellationError.self) { _ = try await task.value }
        }
    }

    @Test func aRefusedPortIsAConnectFailure() async throws {
        try await withRefusedPort { port in
            await #expect(throws: LoopbackHTTP.Failure.connect("connect: Connection refused")) {
                _ = try await LoopbackHTTP.exchange(.init(method: .get, target: "/"), port: port, timeout: .seconds(2))
            }
        }
    }

    @Test func aConnectionClosedWithoutAnswerIsLost() async throws {
        try await withServer({ _ in .pieces([], pause: .zero) }) { server in
            await #expect(throws: LoopbackHTTP.Failure.connectionLost("connection closed without an answer")) {
                _ = try await LoopbackHTTP.exchange(.init(method: .get, target: "/"), port: server.port, timeout: .seconds(2))
            }
        }
    }

    @Test func multipartHasOneFilePartWithEscapedName() {
        let form = MultipartForm(boundary: "B0UND")
        let body = form.file(field: "jarfile", filename: "a\"b.jar", contentType: "application/x-java-archive", contents: Array("PK\r\n--B0".utf8))
        #expect(form.contentType == "multipart/form-data; boundary=B0UND")
        #expect(String(decoding: body, as: UTF8.self) ==
            "--B0UND\r\nContent-Disposition: form-data; name=\"jarfile\"; filename=\"a%22b.jar\"\r\nContent-Type: application/x-java-archive\r\n\r\nPK\r\n--B0\r\n--B0UND--\r\n")
        #expect(MultipartForm.random().boundary != MultipartForm.random().boundary)
    }
}
