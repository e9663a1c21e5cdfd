/// The TLS every cluster of a state directory runs with, so that only Flinklet can use a
/// cluster: REST SSL with mutual authentication (any request, `GET /overview` included, needs
/// the client certificate), and internal SSL for RPC, blobs and data exchange (Pekko and Netty
/// accept only peers with the certificate). Every port stays on 127.0.0.1; only the Prometheus
/// reporters' stay plain, read-only HTTP.
///
/// One self-signed certificate per state directory is the whole CA: each JVM presents it and
/// trusts it alone, the operator and Flink's client present it too (what Flink's documentation
/// recommends for internal SSL: one keystore, used as its own truststore). Every JVM runs job
/// code with the operator's rights and could read the key anyway; what the certificate keeps
/// out is every other local user.
public struct ClusterTLS: Sendable, Hashable {
    /// The PKCS#12 keystore (key and certificate), mode 0600 in a 0700 directory.
    public var keystore: String
    /// The keystore's (and its key's) password: written into each process's `config.yaml`
    /// (0600), never into an argv, which every local user can read in `/proc`.
    public var password: String

    public init(keystore: String, password: String) {
        self.keystore = keystore
        self.password = password
    }

    /// The protocol and cipher suites: TLS 1.2 (what Flink's Netty and Pekko both speak),
    /// ECDHE with the EC P-256 key `keytool` makes (Flink's default suite needs an RSA key).
    public static let protocolVersion = "TLSv1.2"
    public static let cipherSuites = "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"

    /// Flink's options for a REST endpoint or client that presents and requires the certificate.
    public var restConfiguration: [String: String] {
        [
            "security.ssl.rest.enabled": "true",
            "security.ssl.rest.authentication-enabled": "true",
            "security.ssl.rest.keystore": keystore,
            "security.ssl.rest.keystore-type": "PKCS12",
            "security.ssl.rest.keystore-password": password,
            "security.ssl.rest.key-password": password,
            "security.ssl.rest.truststore": keystore,
            "security.ssl.rest.truststore-type": "PKCS12",
            "security.ssl.rest.truststore-password": password,
            "security.ssl.protocol": Self.protocolVersion,
            "security.ssl.algorithms": Self.cipherSuites,
        ]
    }

    /// Flink's options for a JobManager or TaskManager: REST as above and internal SSL (RPC,
    /// blob server, data exchange; always mutual).
    public var clusterConfiguration: [String: String] {
        restConfiguration.merging([
            "security.ssl.internal.enabled": "true",
            "security.ssl.internal.keystore": keystore,
            "security.ssl.internal.keystore-type": "PKCS12",
            "security.ssl.internal.keystore-password": password,
            "security.ssl.internal.key-password": password,
            "security.ssl.internal.truststore": keystore,
            "security.ssl.internal.truststore-type": "PKCS12",
            "security.ssl.internal.truststore-password": password,
        ]) { $1 }
    }

    /// Whether a Flink option is one of those Flinklet sets for TLS (a manifest's are replaced).
    public static func isManaged(_ key: String) -> Bool { key.hasPrefix("security.ssl.") }
}
