@testable import Controller
import FlinkClient
import Foundation
import FlinkletTesting
import Logging
import Runtime
import Testing

#if canImport(Glibc)
import Glibc
#endif

private let keytool: String? = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":")
    .map { "\($0)/keytool" }.first { FileManager.default.isExecutableFile(atPath: $0) }

/// The state directory's certificate, made by the JDK's real `keytool` (skipped without one).
@Suite(.enabled(if: keytool != nil, "needs the JDK's keytool"))
struct ClusterCredentialsTests {
    static func mode(_ path: String) -> mode_t? {
        var info = stat()
        return stat(path, &info) == 0 ? info.st_mode & 0o7777 : nil
    }

    @Test func madeOncePrivateAndUsableThenReadAgain() async throws {
        let state = NSTemporaryDirectory() + "flinklet-credentials-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: state, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: state) }
        let logger = Logger(label: "test")
        let (tls, _) = try await ClusterCredentials.ensure(stateDirectory: state, java: "java", logger: logger)
        let files = ClusterCredentials.Files(stateDirectory: state)
        #expect(tls.keystore == files.keystore)
        #expect(tls.password.count == 32 && tls.password.allSatisfy(\.isHexDigit))
        #expect(Self.mode(files.directory) == 0o700)
        for file in [files.keystore, files.password, files.certificate, files.privateKey] {
            #expect(Self.mode(file) == 0o600, "\(file)")
        }
        let certificate = try String(contentsOfFile: files.certificate, encoding: .utf8)
        #expect(certificate.hasPrefix("-----BEGIN CERTIFICATE-----"))
        #expect(try String(contentsOfFile: files.privateKey, encoding: .utf8).hasPrefix("-----BEGIN PRIVATE KEY-----"))
        // The certificate is for 127.0.0.1 and may sign (it is its own CA).
        let text = try ChildProcess.collect(["openssl", "x509", "-noout", "-text", "-in", files.certificate])
        if text.status == 0 {
            #expect(text.standardOutput.contains("IP Address:127.0.0.1"))
            #expect(text.standardOutput.contains("CA:TRUE"))
            #expect(text.standardOutput.contains("prime256v1"))
        }

        // A second run reads what is there: the same certificate, no keytool.
        let (again, _) = try await ClusterCredentials.ensure(stateDirectory: state, java: "java", logger: logger)
        #expect(again == tls)
        #expect(try String(contentsOfFile: files.certificate, encoding: .utf8) == certificate)

        // An incomplete set (a run stopped while making it) is made anew.
        unlink(files.privateKey)
        let (remade, _) = try await ClusterCredentials.ensure(stateDirectory: state, java: "java", logger: logger)
        #expect(remade.password != tls.password)
        #expect(try String(contentsOfFile: files.certificate, encoding: .utf8) != certificate)
    }
}
