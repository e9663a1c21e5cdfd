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

    /// What `openssl pkcs12 -info` says of the keystore's PBKDF2 iterations (nil: no openssl).
    static func iterations(_ files: ClusterCredentials.Files) throws -> [String]? {
        let info = try ChildProcess.collect(["openssl", "pkcs12", "-in", files.keystore, "-info", "-noout", "-passin", "file:" + files.password])
        guard info.status == 0 else { return nil }
        return (info.standardOutput + info.standardError).split(separator: "\n").compactMap { line in
            line.range(of: "Iteration ").map { String(line[$0.upperBound...].prefix { $0.isNumber }) }
        }
    }

    @Test func theKeystoreTakesOneIterationToOpenAndAnEarlierOneIsReencryptedWithItsKey() async throws {
        let state = NSTemporaryDirectory() + "flinklet-credentials-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: state, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: state) }
        let logger = Logger(label: "test")
        let files = ClusterCredentials.Files(stateDirectory: state)
        let (tls, _) = try await ClusterCredentials.ensure(stateDirectory: state, java: "java", logger: logger)
        guard let made = try Self.iterations(files) else { return }  // no openssl to read it with
        #expect(!made.isEmpty && made.allSatisfy { $0 == "1" }, "\(made)")
        #expect(Self.mode(files.lowered) == 0o600)

        // A keystore an earlier Flinklet made with keytool's defaults (10,000 iterations).
        let certificate = try String(contentsOfFile: files.certificate, encoding: .utf8)
        let earlier = files.keystore + ".earlier"
        let copy = try ChildProcess.collect(["keytool", "-importkeystore", "-noprompt", "-srckeystore", files.keystore, "-srcstoretype", "PKCS12",
                                             "-srcstorepass:file", files.password, "-destkeystore", earlier, "-deststoretype", "PKCS12",
                                             "-deststorepass:file", files.password])
        #expect(copy.status == 0, "\(copy.standardError)")
        #expect(rename(earlier, files.keystore) == 0)
        unlink(files.lowered)
        #expect(try Self.iterations(files)?.contains("10000") == true)
        let (again, _) = try await ClusterCredentials.ensure(stateDirectory: state, java: "java", logger: logger)
        #expect(again == tls, "same password and path")
        #expect(try Self.iterations(files)?.allSatisfy { $0 == "1" } == true)
        #expect(Self.mode(files.keystore) == 0o600)
        // The same key and certificate: running clusters keep trusting each other and the operator.
        let exported = state + "/exported.crt"
        _ = try ChildProcess.collect(["openssl", "pkcs12", "-in", files.keystore, "-nokeys", "-clcerts", "-passin", "file:" + files.password, "-out", exported])
        let pem = try String(contentsOfFile: exported, encoding: .utf8)
        #expect(pem.contains(certificate.trimmingCharacters(in: .whitespacesAndNewlines)))
        #expect(!FileManager.default.fileExists(atPath: files.keystore + ".lowering"))
    }
}
