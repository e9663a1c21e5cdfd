import HummingbirdCore
import HummingbirdTLS
import Logging
import NIOCore
#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// A server's TLS, made when the first client connects instead of when the server starts.
///
/// Parsing the certificate and key and building BoringSSL's context page in about 1 MB of
/// BoringSSL's and NIOSSL's code (measured with `hack/resident-code.py`) that an operator whose
/// Kubernetes API nobody uses never needs. The PEM files are read when the server starts (their
/// contents then are what is served, as before); what they hold is checked at the first
/// connection: if it cannot be used, that connection and every later one is closed with the
/// error logged, and the server keeps listening (`/metrics` and the probes, on their own
/// listener, are unaffected).
///
/// Contract: the certificate and key are parsed at most once (thread-safe), on the first
/// connection or `validate()`, and that result, configuration or error, is kept.
public final class LazyTLS: Sendable {
    private let certificatePEM: [UInt8]
    private let keyPEM: [UInt8]
    private let parsed = Mutex<Result<TLSConfiguration, any Error>?>(nil)

    /// Reads the PEM files now; throws when they cannot be read.
    public convenience init(certificatePath: String, keyPath: String) throws {
        try self.init(certificatePEM: Self.read(certificatePath), keyPEM: Self.read(keyPath))
    }

    public init(certificatePEM: [UInt8], keyPEM: [UInt8]) {
        self.certificatePEM = certificatePEM
        self.keyPEM = keyPEM
    }

    /// Whether the certificate and key were parsed (a client connected, or `validate()`).
    public var isParsed: Bool { parsed.withLock { $0 != nil } }

    /// The server's TLS configuration, parsed on the first call.
    func configuration() throws -> TLSConfiguration {
        try parsed.withLock { parsed in
            if parsed == nil {
                parsed = Result {
                    TLSConfiguration.makeServerConfiguration(
                        certificateChain: try NIOSSLCertificate.fromPEMBytes(certificatePEM).map { .certificate($0) },
                        privateKey: .privateKey(try NIOSSLPrivateKey(bytes: keyPEM, format: .pem)))
                }
            }
            return try parsed!.get()
        }
    }

    /// Checks now that the certificate and key make a TLS context.
    public func validate() throws {
        _ = try TLSChannel(HTTP1Channel(responder: { _, _, _ in }), tlsConfiguration: configuration())
    }

    static func read(_ path: String) throws -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw LazyTLSError(description: "cannot read \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16_384)
        while true {
            let count = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if count < 0, errno == EINTR { continue }
            guard count >= 0 else { throw LazyTLSError(description: "cannot read \(path): \(String(cString: strerror(errno)))") }
            if count == 0 { return bytes }
            bytes += chunk[0..<count]
        }
    }
}

struct LazyTLSError: Error, CustomStringConvertible {
    var description: String
}

/// HTTP/1.1 over TLS whose context is made at the first connection (see `LazyTLS`). The
/// server builds one of these and sets up every connection through it.
final class LazyTLSChannel: ServerChildChannel, HTTPChannelHandler, Sendable {
    typealias Value = HTTP1Channel.Value
    let base: HTTP1Channel
    let tls: LazyTLS
    private let built = Mutex<Result<TLSChannel<HTTP1Channel>, any Error>?>(nil)

    init(base: HTTP1Channel, tls: LazyTLS) {
        self.base = base
        self.tls = tls
    }

    var responder: HTTPChannelHandler.Responder { base.responder }

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        let tlsChannel = built.withLock { built in
            if built == nil { built = Result { try TLSChannel(base, tlsConfiguration: tls.configuration()) } }
            return built!
        }
        switch tlsChannel {
        case .success(let tlsChannel):
            return tlsChannel.setup(channel: channel, logger: logger)
        case .failure(let error):
            logger.error("the TLS certificate or key cannot be used; connection closed", metadata: ["error": "\(error)"])
            return channel.eventLoop.makeFailedFuture(error)
        }
    }

    func handle(value: Value, logger: Logger) async {
        await base.handle(value: value, logger: logger)
    }
}

extension HTTPServerBuilder {
    /// HTTP/1.1 with TLS made at the first connection (see `LazyTLS`).
    static func http1(lazyTLS tls: LazyTLS) -> HTTPServerBuilder {
        HTTPServerBuilder { responder in LazyTLSChannel(base: HTTP1Channel(responder: responder), tls: tls) }
    }
}
