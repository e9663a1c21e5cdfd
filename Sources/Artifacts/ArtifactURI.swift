import Foundation

/// Where a resolved jar came from, by the scheme of its URI.
public enum ArtifactSource: String, Sendable, Hashable {
    /// `local:///path` or a plain absolute path: the file is used where it is.
    case local
    /// `file:///path`: the file is copied into the cluster's artifacts directory.
    case file
    /// `http://` or `https://`: the file is downloaded once into the shared cache.
    case http
}

/// A jar URI, parsed: which kind, and the local path or remote URL it names.
enum ArtifactLocation: Sendable, Hashable {
    case local(path: String)
    case file(path: String)
    case http(URL)

    /// Where the official Flink image keeps the distribution; `local:` paths under it are
    /// mapped to `flinkHome`.
    static let imageFlinkHome = "/opt/flink"

    /// Parses `uri` as Flink's `jarURI`. A `local:` path under `/opt/flink` is mapped into
    /// `flinkHome`; every path is made absolute and lexically normal (`.` and `..` resolved).
    static func parse(_ uri: String, flinkHome: String) throws(ArtifactError) -> ArtifactLocation {
        let text = uri.trimmingCharacters(in: .whitespaces)
        guard !text.isEmpty else { throw .invalidURI(uri: uri, reason: "it is empty") }
        if text.hasPrefix("/") {
            return .local(path: mapImagePath(normalize(text), flinkHome: flinkHome))
        }
        guard let colon = text.firstIndex(of: ":"), isScheme(text[..<colon]) else {
            throw .invalidURI(uri: uri, reason: "give an absolute path or a local://, file://, http:// or https:// URI")
        }
        let scheme = text[..<colon].lowercased()
        switch scheme {
        case "local", "file":
            guard let url = URL(string: text) else { throw .invalidURI(uri: uri, reason: "it cannot be parsed") }
            if let host = url.host, !host.isEmpty, host != "localhost" {
                throw .invalidURI(uri: uri, reason: "a \(scheme) URI names no host: write \(scheme):///path")
            }
            let path = url.path
            guard path.hasPrefix("/") else {
                throw .invalidURI(uri: uri, reason: "it has no absolute path: write \(scheme):///path")
            }
            let normal = normalize(path)
            return scheme == "local" ? .local(path: mapImagePath(normal, flinkHome: flinkHome)) : .file(path: normal)
        case "http", "https":
            guard let url = URL(string: text), let host = url.host, !host.isEmpty else {
                throw .invalidURI(uri: uri, reason: "it cannot be parsed as an \(scheme) URL")
            }
            return .http(url)
        default:
            throw .unsupportedScheme(uri: uri, scheme: String(text[..<colon]))
        }
    }

    /// RFC 3986: a letter, then letters, digits, `+`, `-`, `.`.
    private static func isScheme(_ text: Substring) -> Bool {
        func isLetter(_ c: UInt8) -> Bool { (c | 0x20) >= UInt8(ascii: "a") && (c | 0x20) <= UInt8(ascii: "z") }
        func isDigit(_ c: UInt8) -> Bool { c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") }
        let bytes = Array(text.utf8)
        guard let first = bytes.first, isLetter(first) else { return false }
        return bytes.allSatisfy { isLetter($0) || isDigit($0) || $0 == UInt8(ascii: "+") || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: ".") }
    }

    /// `/opt/flink/x` → `<flinkHome>/x`; other paths unchanged.
    private static func mapImagePath(_ path: String, flinkHome: String) -> String {
        let home = flinkHome.hasPrefix("/") ? flinkHome : FileManager.default.currentDirectoryPath + "/" + flinkHome
        if path == imageFlinkHome { return normalize(home) }
        guard path.hasPrefix(imageFlinkHome + "/") else { return path }
        return normalize(home + "/" + path.dropFirst(imageFlinkHome.count + 1))
    }

    /// The absolute `path` with `.`, `..` and repeated slashes resolved, without touching the
    /// file system (a symlink is followed later, when the file is opened).
    static func normalize(_ path: String) -> String {
        var parts: [Substring] = []
        for part in path.split(separator: "/", omittingEmptySubsequences: true) {
            switch part {
            case ".": continue
            case "..": if !parts.isEmpty { parts.removeLast() }
            default: parts.append(part)
            }
        }
        return "/" + parts.joined(separator: "/")
    }
}
