import CLibSSL

/// Why TLS could not be used or a session failed.
public enum TLSError: Error, Sendable, Hashable, CustomStringConvertible {
    /// libssl (OpenSSL 3) could not be loaded.
    case unavailable(String)
    /// The identity or CA files could not be read or do not fit together.
    case configuration(String)
    /// A session step failed: the handshake (an untrusted peer, a peer that wants another
    /// client certificate) or the exchange after it.
    case session(String)

    public var description: String {
        switch self {
        case .unavailable(let reason): "TLS is not usable: libssl.so.3 (OpenSSL 3) cannot be loaded: \(reason)"
        case .configuration(let reason), .session(let reason): reason
        }
    }
}

/// A TLS client's files: its certificate chain and private key (PEM), and the CA certificates
/// it trusts (PEM) — nothing else is trusted.
public struct TLSClientFiles: Sendable, Hashable {
    public var certificate: String
    public var privateKey: String
    public var certificateAuthority: String

    public init(certificate: String, privateKey: String, certificateAuthority: String) {
        self.certificate = certificate
        self.privateKey = privateKey
        self.certificateAuthority = certificateAuthority
    }
}

/// A loaded client identity (OpenSSL's `SSL_CTX`): presents the certificate, verifies peers
/// against the CA alone, TLS 1.2 or newer. Loaded once, shared by every session: OpenSSL's
/// context is safe to use from several threads once configured, and is never changed after.
public final class TLSClientContext: @unchecked Sendable {
    let pointer: UnsafeMutableRawPointer
    public let files: TLSClientFiles

    public init(_ files: TLSClientFiles) throws(TLSError) {
        if let reason = flinklet_ssl_load() { throw .unavailable(String(cString: reason)) }
        var error = [CChar](repeating: 0, count: 1024)
        guard let context = flinklet_ssl_client_context(files.certificate, files.privateKey, files.certificateAuthority, &error, error.count) else {
            throw .configuration(message(error))
        }
        self.pointer = context
        self.files = files
    }

    deinit { flinklet_ssl_context_free(pointer) }
}

/// One TLS client session over a connected, non-blocking socket it does not own. Each step does
/// what it can without blocking and says what it waits for: the caller polls the socket and
/// calls again. For one task at a time (not `Sendable`).
public final class TLSSession {
    /// What a step came to.
    public enum Step: Sendable, Hashable {
        /// Bytes moved (read or written); for the handshake, 0: complete.
        case done(Int)
        /// Call again once the socket is readable.
        case wantRead
        /// Call again once the socket is writable.
        case wantWrite
        /// The peer ended the TLS session (reads only): no more bytes.
        case closed
        case failed(String)
    }

    private let session: UnsafeMutableRawPointer
    private let context: TLSClientContext  // kept alive as long as the session
    private var error = [CChar](repeating: 0, count: 1024)

    /// A session with the peer at `fd`, whose certificate must name `peerIP` (as a SAN IP).
    public init(context: TLSClientContext, fd: Int32, peerIP: String = "127.0.0.1") throws(TLSError) {
        var error = [CChar](repeating: 0, count: 1024)
        guard let session = flinklet_ssl_session(context.pointer, fd, peerIP, &error, error.count) else {
            throw .session(message(error))
        }
        self.session = session
        self.context = context
    }

    deinit { flinklet_ssl_session_free(session) }

    public func handshake() -> Step {
        step(flinklet_ssl_handshake(session, &error, error.count))
    }

    /// `.done(n)` with n > 0 bytes, or `.closed` when the peer ended the session (with or
    /// without TLS's close_notify); never `.done(0)`.
    public func read(into buffer: UnsafeMutableRawBufferPointer) -> Step {
        let result = flinklet_ssl_read(session, buffer.baseAddress, Int32(clamping: buffer.count), &error, error.count)
        return result == FLINKLET_SSL_DONE ? .closed : step(result)
    }

    /// `.done(n)` with n > 0 bytes written, never `.done(0)` or `.closed`.
    public func write(_ bytes: UnsafeRawBufferPointer) -> Step {
        step(flinklet_ssl_write(session, bytes.baseAddress, Int32(clamping: bytes.count), &error, error.count))
    }

    private func step(_ result: Int32) -> Step {
        switch result {
        case let n where n > 0: .done(Int(n))
        case FLINKLET_SSL_DONE: .done(0)
        case FLINKLET_SSL_WANT_READ: .wantRead
        case FLINKLET_SSL_WANT_WRITE: .wantWrite
        case FLINKLET_SSL_EOF: .closed
        default: .failed(message(error))
        }
    }
}

/// PKCS#12 keystores (as the JDK's `keytool` makes them) turned into PEM for OpenSSL clients.
public enum PKCS12 {
    /// Writes the keystore's certificate to `certificate` and its private key to `privateKey`,
    /// each a new file of mode 0600 replacing any earlier one.
    public static func exportPEM(keystore: String, password: String, certificate: String, privateKey: String) throws(TLSError) {
        if let reason = flinklet_ssl_load() { throw .unavailable(String(cString: reason)) }
        var error = [CChar](repeating: 0, count: 1024)
        guard flinklet_ssl_pkcs12_to_pem(keystore, password, certificate, privateKey, &error, error.count) == 0 else {
            throw .configuration("\(keystore): \(message(error))")
        }
    }
}

/// The NUL-terminated text the shim wrote into `buffer`.
private func message(_ buffer: [CChar]) -> String {
    String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
