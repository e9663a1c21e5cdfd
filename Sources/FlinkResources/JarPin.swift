/// A job's jar pinned by checksum: the annotation `flinklet.dev/jar-sha256` on a
/// `FlinkDeployment` or `FlinkSessionJob`, holding the SHA-256 of the jar its `jarURI` names
/// (64 hexadecimal digits, as `sha256sum` prints them).
///
/// An annotation, not part of the URI: Kubernetes keeps annotations it does not know and the
/// Apache Flink Kubernetes Operator ignores them, so a pinned manifest still applies there
/// unchanged (unverified); a `#sha256=` fragment would reach upstream's fetchers inside the URI
/// and has no place in a `local://` path. Flinklet starts nothing with a jar whose content is
/// not the pinned one, whatever its scheme.
extension ObjectMeta {
    public static let jarSHA256Annotation = "flinklet.dev/jar-sha256"

    /// The pinned SHA-256, lowercased; nil when none is pinned or the pin is not 64 hex digits
    /// (validation rejects such a manifest).
    public var pinnedJarSHA256: String? {
        guard let value = annotations?[Self.jarSHA256Annotation], Self.isSHA256(value) else { return nil }
        return value.lowercased()
    }

    /// Whether `text` is a SHA-256 in hex: exactly 64 of `0-9`, `a-f`, `A-F`.
    public static func isSHA256(_ text: String) -> Bool {
        text.utf8.count == 64 && text.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0 | 0x20) }
    }
}
