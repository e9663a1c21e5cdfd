import Foundation
import FlinkClient
import Logging
import Planning
import Runtime

#if canImport(Glibc)
import Glibc
#endif

/// The certificate that makes a state directory's clusters Flinklet's alone (see `ClusterTLS`),
/// made once per state directory with the JDK's `keytool` and kept in `<state>/tls/` (0700):
///
/// - `flinklet.p12`: PKCS#12 keystore, one EC P-256 key and its self-signed certificate for
///   IP 127.0.0.1 and `localhost` (valid 10 years): what every JVM presents and trusts;
/// - `password`: the keystore's password (random, 128 bits);
/// - `flinklet.crt` / `flinklet.key`: the same certificate and key in PEM, for OpenSSL clients:
///   the operator's REST client, and `curl --cert … --key … --cacert flinklet.crt` by hand.
///
/// Every file is 0600. One `keytool` JVM, about a second (2.7 s on a loaded 2-core machine),
/// once per state directory; later runs read the files.
///
/// The keystore's password-based protection runs one PBKDF2 iteration, not keytool's 10,000
/// (`pbeIterations`): every Flink JVM opens it several times as it starts (RPC, BLOB server,
/// REST server and client), and at 10,000 that cost a JobManager 0.6 s of its 2.9 s start
/// (measured on 2 cores). Iterations slow down guessing a weak password; this one is 128
/// random bits, and it sits in the same private directory as the keystore (and in every
/// cluster's configuration). A keystore made earlier is re-encrypted once, with the same key
/// and certificate, so running clusters are not disturbed (`lowered`, a marker file).
public enum ClusterCredentials {
    public struct Files: Sendable, Hashable {
        public let directory: String
        public var keystore: String { directory + "/flinklet.p12" }
        public var password: String { directory + "/password" }
        public var certificate: String { directory + "/flinklet.crt" }
        public var privateKey: String { directory + "/flinklet.key" }
        /// Present once the keystore is protected with `pbeIterations`.
        public var lowered: String { directory + "/pbe-iterations-1" }

        public init(stateDirectory: String) { directory = stateDirectory + "/tls" }

        /// The PEM files as an OpenSSL client's identity, trusting the certificate alone.
        public var client: TLSClientFiles {
            TLSClientFiles(certificate: certificate, privateKey: privateKey, certificateAuthority: certificate)
        }
    }

    public struct Failure: Error, Sendable, CustomStringConvertible {
        public var description: String
    }

    /// The state directory's credentials, made now if they are missing (or incomplete: a run
    /// stopped while making them). `java` names the JVM whose `keytool` (beside it, else on
    /// `PATH`) makes them.
    public static func ensure(stateDirectory: String, java: String, logger: Logger) async throws(Failure) -> (ClusterTLS, TLSClientContext) {
        let files = Files(stateDirectory: stateDirectory)
        if mkdir(files.directory, 0o700) != 0 && errno != EEXIST {
            throw Failure(description: "cannot create \(files.directory): \(String(cString: strerror(errno)))")
        }
        // Two operators starting on a new state directory at once make one set between them
        // (the loser of the operator lock exits just after).
        let lockPath = files.directory + "/lock"
        let lock = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard lock >= 0 else { throw Failure(description: "cannot open \(lockPath): \(String(cString: strerror(errno)))") }
        defer { close(lock) }
        while flock(lock, LOCK_EX | LOCK_NB) != 0 {
            guard errno == EWOULDBLOCK || errno == EINTR else { throw Failure(description: "cannot lock \(lockPath): \(String(cString: strerror(errno)))") }
            try? await Task.sleep(for: .milliseconds(100))
        }
        let manager = FileManager.default
        if !(manager.fileExists(atPath: files.keystore) && manager.fileExists(atPath: files.password)
             && manager.fileExists(atPath: files.certificate) && manager.fileExists(atPath: files.privateKey)) {
            let started = ContinuousClock.now
            try await make(files, java: java)
            logger.info("made the state directory's TLS certificate: clusters accept only Flinklet's requests",
                        metadata: ["tls.directory": "\(files.directory)", "tls.seconds": "\(Self.seconds(ContinuousClock.now - started))"])
        }
        let password: String
        do {
            password = try String(contentsOfFile: files.password, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        } catch {
            throw Failure(description: "cannot read \(files.password): \(error.localizedDescription)")
        }
        if !manager.fileExists(atPath: files.lowered) {
            do {
                try await lower(files, java: java)
                logger.info("re-encrypted the clusters' keystore with one PBKDF2 iteration (faster JVM starts; same key and certificate)",
                            metadata: ["tls.keystore": "\(files.keystore)"])
            } catch {
                logger.warning("the clusters' keystore keeps keytool's 10,000 PBKDF2 iterations (JVMs start slower): \(error)")
            }
        }
        do {
            let context = try TLSClientContext(files.client)
            return (ClusterTLS(keystore: files.keystore, password: password), context)
        } catch {
            throw Failure(description: "the TLS files in \(files.directory) are not usable: \(error); remove the directory to make new ones")
        }
    }

    static func make(_ files: Files, java: String) async throws(Failure) {
        let directory = files.directory
        chmod(directory, 0o700)
        for file in [files.keystore, files.certificate, files.privateKey] { unlink(file) }
        var generator = SystemRandomNumberGenerator()
        let password = (0..<2).map { _ in
            let hex = String(generator.next() as UInt64, radix: 16)
            return String(repeating: "0", count: 16 - hex.count) + hex
        }.joined()
        try writePrivate(files.password, password + "\n")

        let temporary = files.keystore + ".tmp"
        unlink(temporary)
        // The password from its file, never in the argv (/proc/PID/cmdline is public).
        try await runKeytool(["-genkeypair", "-alias", "flinklet", "-keyalg", "EC", "-groupname", "secp256r1",
                              "-sigalg", "SHA256withECDSA", "-dname", "CN=flinklet", "-ext", "SAN=IP:127.0.0.1,DNS:localhost",
                              "-ext", "BC:c", "-validity", "3650", "-storetype", "PKCS12", "-keystore", temporary,
                              "-storepass:file", files.password],
                             java: java, making: temporary, log: directory + "/keytool.log", purpose: "make the clusters' TLS certificate")
        chmod(temporary, 0o600)
        do {
            try PKCS12.exportPEM(keystore: temporary, password: password, certificate: files.certificate, privateKey: files.privateKey)
        } catch {
            throw Failure(description: "cannot read the keystore keytool made: \(error)")
        }
        // The keystore last: its presence says the set is complete.
        guard rename(temporary, files.keystore) == 0 else {
            throw Failure(description: "cannot rename \(temporary): \(String(cString: strerror(errno)))")
        }
        try writePrivate(files.lowered, "")
    }

    /// keytool's options for a PKCS#12 keystore protected with one PBKDF2 iteration (its JVM's
    /// `keystore.pkcs12.*` properties).
    static let pbeIterations = ["-J-Dkeystore.pkcs12.keyPbeIterationCount=1", "-J-Dkeystore.pkcs12.certPbeIterationCount=1",
                                "-J-Dkeystore.pkcs12.macIterationCount=1"]

    /// Re-encrypts an earlier keystore with `pbeIterations`: the same entry, copied by keytool
    /// into a new file that replaces it by rename (a JVM reading it meanwhile reads one or the
    /// other, both complete).
    static func lower(_ files: Files, java: String) async throws(Failure) {
        let temporary = files.keystore + ".lowering"
        unlink(temporary)
        defer { unlink(temporary) }
        try await runKeytool(["-importkeystore", "-noprompt", "-srckeystore", files.keystore, "-srcstoretype", "PKCS12",
                              "-srcstorepass:file", files.password, "-destkeystore", temporary, "-deststoretype", "PKCS12",
                              "-deststorepass:file", files.password],
                             java: java, making: temporary, log: files.directory + "/keytool.log", purpose: "re-encrypt the keystore")
        chmod(temporary, 0o600)
        guard rename(temporary, files.keystore) == 0 else {
            throw Failure(description: "cannot rename \(temporary): \(String(cString: strerror(errno)))")
        }
        try writePrivate(files.lowered, "")
    }

    /// Runs `keytool` (with `pbeIterations`) to write `making`; its output goes to `log`, which
    /// is removed once it succeeded and quoted in the error when it did not.
    static func runKeytool(_ arguments: [String], java: String, making: String, log: String, purpose: String) async throws(Failure) {
        let keytool = keytoolPath(java)
        let termination: ChildProcess.Termination
        do {
            termination = try await ChildProcess.run([keytool] + pbeIterations + arguments,
                                                     options: .init(standardInput: .null, standardOutput: .file(log), standardError: .file(log)),
                                                     timeout: .seconds(120))
        } catch {
            throw Failure(description: "cannot run \(keytool) to \(purpose): \(error)")
        }
        guard termination == .exited(0), FileManager.default.fileExists(atPath: making) else {
            let output = (try? String(contentsOfFile: log, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
            throw Failure(description: "\(keytool) could not \(purpose) (\(termination)): \(output)")
        }
        unlink(log)
    }

    /// The `keytool` beside `java`, else the one on `PATH`.
    static func keytoolPath(_ java: String) -> String {
        let sibling = (java as NSString).deletingLastPathComponent + "/keytool"
        return java.contains("/") && FileManager.default.isExecutableFile(atPath: sibling) ? sibling : "keytool"
    }

    /// Writes a new file of mode 0600 (replacing any earlier one) whatever the umask.
    static func writePrivate(_ path: String, _ text: String) throws(Failure) {
        unlink(path)
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw Failure(description: "cannot create \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let bytes = Array(text.utf8)
        guard write(fd, bytes, bytes.count) == bytes.count, fsync(fd) == 0 else {
            throw Failure(description: "cannot write \(path): \(String(cString: strerror(errno)))")
        }
    }

    static func seconds(_ duration: Duration) -> String {
        String(format: "%.2f", Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18)
    }
}
