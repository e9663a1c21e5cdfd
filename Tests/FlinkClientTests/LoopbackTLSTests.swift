@testable import FlinkClient
import FlinkletTesting
import Foundation
import Runtime
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// HTTPS with a client certificate against a real TLS server that requires one (`openssl
/// s_server -Verify`, its `-www` status page as the answer): what the operator does with every
/// cluster. Needs the `openssl` command (Debian's `openssl`, installed by hack/install-deps.sh).
@Suite("Loopback TLS", .serialized)
struct LoopbackTLSTests {
    /// A self-signed identity for 127.0.0.1 in `directory`: `<name>.crt`, `<name>.key`.
    static func identity(_ directory: String, _ name: String) throws -> TLSClientFiles {
        let output = try ChildProcess.collect(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                                               "-subj", "/CN=\(name)", "-addext", "subjectAltName=IP:127.0.0.1", "-days", "1",
                                               "-keyout", "\(directory)/\(name).key", "-out", "\(directory)/\(name).crt"])
        try #require(output.status == 0, "\(output.standardError)")
        return TLSClientFiles(certificate: "\(directory)/\(name).crt", privateKey: "\(directory)/\(name).key", certificateAuthority: "\(directory)/\(name).crt")
    }

    /// `openssl s_server` presenting `server` and requiring a client certificate its CA signed;
    /// its port once it listens.
    final class Server {
        let process: ChildProcess
        let port: Int

        init(_ server: TLSClientFiles, trusting clients: String, log: String) throws {
            process = try ChildProcess.spawn(["openssl", "s_server", "-accept", "127.0.0.1:0", "-cert", server.certificate, "-key", server.privateKey,
                                              "-CAfile", clients, "-Verify", "1", "-verify_return_error", "-www"],
                                             options: .init(standardInput: .null, standardOutput: .file(log), standardError: .file(log), newProcessGroup: true))
            var found: Int?
            for _ in 0..<200 where found == nil {
                let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
                found = text.split(separator: "\n").first { $0.hasPrefix("ACCEPT ") }.flatMap { $0.split(separator: ":").last }.flatMap { Int($0) }
                if found == nil { usleep(20_000) }
            }
            guard let found else {
                process.signalGroup(SIGKILL)
                _ = process.wait()
                throw CocoaError(.fileReadUnknown, userInfo: [NSLocalizedDescriptionKey: "s_server did not listen: \((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")"])
            }
            port = found
        }

        func stop() {
            process.signalGroup(SIGKILL)
            _ = process.wait()
        }
    }

    static func withDirectory<T>(_ body: (String) async throws -> T) async throws -> T {
        let directory = NSTemporaryDirectory() + "flinklet-tls-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        return try await body(directory)
    }

    @Test func aClientWithTheCertificateGetsItsAnswerOverTLS() async throws {
        try await Self.withDirectory { directory in
            let identity = try Self.identity(directory, "flinklet")
            let server = try Server(identity, trusting: identity.certificate, log: directory + "/server.log")
            defer { server.stop() }
            let context = try TLSClientContext(identity)
            let response = try await LoopbackHTTP.exchange(.init(method: .get, target: "/overview"), port: server.port, timeout: .seconds(10), tls: context)
            #expect(response.status == 200)
            #expect(String(decoding: response.body, as: UTF8.self).contains("s_server"))
            #expect(await FlinkRESTClient(tls: context).probe(port: server.port, path: "/overview", timeout: .seconds(10)))
        }
    }

    @Test func aServerTheClientDoesNotTrustIsRefusedBeforeAByteOfTheRequest() async throws {
        try await Self.withDirectory { directory in
            let ours = try Self.identity(directory, "flinklet")
            let other = try Self.identity(directory, "other")
            // The server presents a certificate our CA did not sign (and would take ours).
            let server = try Server(other, trusting: ours.certificate, log: directory + "/server.log")
            defer { server.stop() }
            let context = try TLSClientContext(ours)
            await #expect {
                _ = try await LoopbackHTTP.exchange(.init(method: .get, target: "/"), port: server.port, timeout: .seconds(10), tls: context)
            } throws: { error in
                guard case LoopbackHTTP.Failure.connect(let reason) = error else { return false }
                return reason.contains("not trusted")
            }
            #expect(await !FlinkRESTClient(tls: context).probe(port: server.port, path: "/", timeout: .seconds(10)))
        }
    }

    @Test func aServerThatDoesNotTakeTheClientsCertificateAnswersNothing() async throws {
        try await Self.withDirectory { directory in
            let ours = try Self.identity(directory, "flinklet")
            let other = try Self.identity(directory, "other")
            // The server is trusted, but trusts only `other`'s clients: it refuses ours.
            let server = try Server(ours, trusting: other.certificate, log: directory + "/server.log")
            defer { server.stop() }
            let error = await #expect(throws: FlinkRESTError.self) {
                _ = try await FlinkRESTClient(timeout: .seconds(10), tls: try TLSClientContext(ours)).overview(port: server.port)
            }
            guard case .unreachable? = error else {
                Issue.record("expected unreachable, got \(String(describing: error))")
                return
            }
        }
    }

    @Test func plainHTTPToATLSPortIsNoAnswer() async throws {
        try await Self.withDirectory { directory in
            let identity = try Self.identity(directory, "flinklet")
            let server = try Server(identity, trusting: identity.certificate, log: directory + "/server.log")
            defer { server.stop() }
            #expect(await !FlinkRESTClient(timeout: .seconds(3)).probe(port: server.port, path: "/", timeout: .seconds(3)))
        }
    }

    @Test func unusableFilesAreAClearError() throws {
        let error = #expect(throws: TLSError.self) {
            _ = try TLSClientContext(TLSClientFiles(certificate: "/nonexistent/c.crt", privateKey: "/nonexistent/k.key", certificateAuthority: "/nonexistent/c.crt"))
        }
        #expect(error.map(String.init(describing:))?.hasPrefix("cannot load the certificate /nonexistent/c.crt") == true, "\(String(describing: error))")
    }
}
