import Foundation
import Manifests
import YAML

#if canImport(Glibc)
import Glibc
#endif

/// Who may use the API: holders of the bearer token that `<state-dir>/kubeconfig` carries.
///
/// Contract: the token is made once (32 random bytes, hex) when no kubeconfig holds one, and
/// kept across restarts; the kubeconfig is written atomically with mode 0600 (the state
/// directory's user only) whenever the server's address changes.
public enum APIAccess {
    public static func kubeconfigPath(stateDirectory: String) -> String {
        (stateDirectory.hasSuffix("/") ? stateDirectory : stateDirectory + "/") + "kubeconfig"
    }

    /// The token of an existing kubeconfig, else a new one.
    public static func token(stateDirectory: String) -> String {
        let path = kubeconfigPath(stateDirectory: stateDirectory)
        if let data = FileManager.default.contents(atPath: path), let token = token(inKubeconfig: [UInt8](data)) { return token }
        var generator = SystemRandomNumberGenerator()
        return (0..<32).map { _ in
            let byte = UInt8.random(in: 0...255, using: &generator)
            return (byte < 16 ? "0" : "") + String(byte, radix: 16)
        }.joined()
    }

    static func token(inKubeconfig bytes: [UInt8]) -> String? {
        guard let root = (try? parseYAML(bytes))?.first?.root, let users = root["users"]?.sequence else { return nil }
        for user in users where user["name"]?.scalar?.text == "flinklet" {
            if let token = user["user"]?["token"]?.scalar?.text, !token.isEmpty { return token }
        }
        return nil
    }

    /// The kubeconfig text for a server URL, the certificate authority that signed its
    /// certificate (PEM), and a token.
    public static func kubeconfig(server: String, certificateAuthority: [UInt8], token: String) -> String {
        """
        # Written by flinklet run: the Kubernetes API of this operator (kubectl, client libraries).
        apiVersion: v1
        kind: Config
        clusters:
        - name: flinklet
          cluster:
            server: \(server)
            certificate-authority-data: \(Data(certificateAuthority).base64EncodedString())
        contexts:
        - name: flinklet
          context:
            cluster: flinklet
            namespace: default
            user: flinklet
        current-context: flinklet
        users:
        - name: flinklet
          user:
            token: \(token)
        preferences: {}

        """
    }

    /// Writes `<state-dir>/kubeconfig` (0600) unless it already says the same.
    public static func writeKubeconfig(stateDirectory: String, server: String, certificateAuthority: [UInt8], token: String) throws {
        let path = kubeconfigPath(stateDirectory: stateDirectory)
        let text = kubeconfig(server: server, certificateAuthority: certificateAuthority, token: token)
        if let existing = FileManager.default.contents(atPath: path), existing == Data(text.utf8) {
            chmod(path, 0o600)
            return
        }
        // Created private: the temporary file gets the replaced file's mode, so fix it first.
        if FileManager.default.fileExists(atPath: path) { chmod(path, 0o600) }
        let directory = (path as NSString).deletingLastPathComponent
        let temporary = directory + "/.kubeconfig.\(getpid()).tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw AtomicFile.Failure(path: temporary, operation: "create", code: errno) }
        close(fd)
        try AtomicFile.write(Array(text.utf8), to: temporary)
        guard rename(temporary, path) == 0 else { throw AtomicFile.Failure(path: path, operation: "rename", code: errno) }
    }

    /// Compares in time independent of where the strings differ.
    static func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        guard x.count == y.count else { return false }
        var difference: UInt8 = 0
        for i in x.indices { difference |= x[i] ^ y[i] }
        return difference == 0
    }
}
