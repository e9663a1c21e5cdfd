import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The API's TLS certificate: kubectl sends credentials only over HTTPS (client-go drops a
/// kubeconfig's token for an `http://` server), so the API listens with TLS.
///
/// Contract: on first use a self-signed certificate (EC P-256, 10 years, for `127.0.0.1`,
/// `::1` and `localhost`) and its key are made in `<state-dir>/pki/` with Debian's `openssl`
/// (argv, no shell): `apiserver.crt` (0644) and `apiserver.key` (0600, in a 0700 directory).
/// Later runs reuse them, so a kubeconfig keeps working across restarts. The kubeconfig
/// carries the certificate as its certificate authority.
public struct ServingCertificate: Sendable {
    public let certificatePath: String
    public let keyPath: String
    /// The certificate, PEM.
    public let pem: [UInt8]

    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    /// The certificate of a state directory, made when missing.
    public static func ensure(stateDirectory: String, openssl: String = "/usr/bin/openssl") throws(Failure) -> ServingCertificate {
        let directory = (stateDirectory.hasSuffix("/") ? stateDirectory : stateDirectory + "/") + "pki"
        let certificate = directory + "/apiserver.crt", key = directory + "/apiserver.key"
        let fm = FileManager.default
        if !(fm.fileExists(atPath: certificate) && fm.fileExists(atPath: key)) {
            do {
                try fm.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            } catch {
                throw Failure(description: "cannot create \(directory): \(error)")
            }
            chmod(directory, 0o700)
            let temporaryKey = directory + "/.apiserver.key.tmp", temporaryCertificate = directory + "/.apiserver.crt.tmp"
            let process = Process()
            process.executableURL = URL(fileURLWithPath: openssl)
            process.arguments = ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                                 "-keyout", temporaryKey, "-out", temporaryCertificate, "-days", "3650", "-subj", "/CN=flinklet",
                                 "-addext", "subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost",
                                 "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,digitalSignature,keyCertSign"]
            process.standardOutput = FileHandle.nullDevice
            let errors = Pipe()
            process.standardError = errors
            let mask = umask(0o077)
            defer { umask(mask) }
            do {
                try process.run()
            } catch {
                throw Failure(description: "cannot run \(openssl) to make the API's TLS certificate (install Debian's openssl): \(error)")
            }
            let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            guard process.terminationStatus == 0 else {
                throw Failure(description: "\(openssl) failed to make the API's TLS certificate: \(message)")
            }
            chmod(temporaryKey, 0o600)
            chmod(temporaryCertificate, 0o644)
            guard rename(temporaryKey, key) == 0, rename(temporaryCertificate, certificate) == 0 else {
                throw Failure(description: "cannot store the API's TLS certificate in \(directory): \(String(cString: strerror(errno)))")
            }
        }
        guard let pem = fm.contents(atPath: certificate) else { throw Failure(description: "cannot read \(certificate)") }
        return ServingCertificate(certificatePath: certificate, keyPath: key, pem: [UInt8](pem))
    }
}
