import YAML

/// A field's address inside a resource, written the way kubectl writes it:
/// `spec.job.upgradeMode`, `spec.job.args[2]`, `spec.flinkConfiguration[rest.port]`.
public struct FieldPath: Sendable, Hashable, Comparable, CustomStringConvertible, ExpressibleByStringLiteral {
    public private(set) var rawValue: String

    public init(_ rawValue: String = "") { self.rawValue = rawValue }
    public init(stringLiteral value: String) { self.rawValue = value }

    public static let root = FieldPath()

    public func child(_ name: String) -> FieldPath {
        FieldPath(rawValue.isEmpty ? name : rawValue + "." + name)
    }

    public func index(_ index: Int) -> FieldPath { FieldPath(rawValue + "[\(index)]") }
    public func key(_ key: String) -> FieldPath { FieldPath(rawValue + "[\(key)]") }

    public var isRoot: Bool { rawValue.isEmpty }
    public var description: String { rawValue }
    public static func < (lhs: FieldPath, rhs: FieldPath) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// Where a diagnostic points: a file (or `-` for standard input) and a 1-based line and column.
public struct SourceLocation: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var file: String
    public var mark: Mark?

    public init(file: String, mark: Mark?) {
        self.file = file
        self.mark = mark
    }

    public var description: String {
        guard let mark else { return file }
        return "\(file):\(mark.line):\(mark.column)"
    }

    public static func < (lhs: SourceLocation, rhs: SourceLocation) -> Bool {
        (lhs.file, lhs.mark?.line ?? 0, lhs.mark?.column ?? 0) < (rhs.file, rhs.mark?.line ?? 0, rhs.mark?.column ?? 0)
    }
}

/// One finding about a manifest, phrased like the Kubernetes API server's field errors:
/// `<path>: <Kind of problem>: <detail>`.
///
/// `description` is the form printed everywhere (CLI, operator log, events):
/// `manifests/app.yaml:14:20: spec.job.upgradeMode: Unsupported value: "savepiont": supported values: ...`,
/// with `warning: ` after the location for warnings.
public struct Diagnostic: Sendable, Hashable, CustomStringConvertible {
    public enum Severity: String, Sendable, Hashable, Codable {
        case error, warning
    }

    public var severity: Severity
    public var path: FieldPath
    public var message: String
    public var location: SourceLocation?
    /// The resource the diagnostic is about, when the document could be named.
    public var resource: ResourceID?

    public init(_ severity: Severity, _ path: FieldPath, _ message: String, at location: SourceLocation? = nil, resource: ResourceID? = nil) {
        self.severity = severity
        self.path = path
        self.message = message
        self.location = location
        self.resource = resource
    }

    public var isError: Bool { severity == .error }

    /// The diagnostic without its location: `spec.job.parallelism: Invalid value: 0: ...`.
    public var detail: String {
        let prefix = severity == .warning ? "warning: " : ""
        return path.isRoot ? prefix + message : "\(prefix)\(path): \(message)"
    }

    public var description: String {
        guard let location else { return detail }
        return "\(location): \(detail)"
    }
}

extension [Diagnostic] {
    public var hasErrors: Bool { contains { $0.severity == .error } }
    public var errors: [Diagnostic] { filter { $0.severity == .error } }
    public var warnings: [Diagnostic] { filter { $0.severity == .warning } }
}

/// The message forms of Kubernetes' `field.Error`, so Flinklet reads like kubectl.
public enum FieldError {
    public static func required(_ detail: String? = nil) -> String {
        detail.map { "Required value: \($0)" } ?? "Required value"
    }

    public static func invalid(_ value: String, _ detail: String) -> String {
        "Invalid value: \(value): \(detail)"
    }

    public static func unsupported(_ value: String, supported: [String]) -> String {
        "Unsupported value: \(quoted(value)): supported values: " + supported.map(quoted).joined(separator: ", ")
    }

    public static func forbidden(_ detail: String) -> String { "Forbidden: \(detail)" }
    public static func duplicate(_ value: String, _ detail: String) -> String { "Duplicate value: \(value): \(detail)" }
    public static func tooLong(max: Int) -> String { "Too long: may not be more than \(max) bytes" }

    public static func invalidType(expected: String, got node: Node) -> String {
        var got = node.kindDescription
        if let s = node.scalar, !node.isNull { got += " " + (node.kindDescription == "string" ? quoted(s.text) : s.text) }
        return "Invalid type: expected \(expected), got \(got)"
    }

    public static func unknownField(_ name: String, known: [String]) -> String {
        if let suggestion = Suggestion.closest(to: name, in: known) {
            return "Unknown field: \(quoted(name)) is not a field here; did you mean \(quoted(suggestion))?"
        }
        return "Unknown field: \(quoted(name)) is not a field here; known fields: " + known.map(quoted).joined(separator: ", ")
    }

    /// A value as kubectl prints it in messages: strings in double quotes, everything else bare.
    public static func quoted(_ s: String) -> String {
        var out = "\""
        for c in s.unicodeScalars {
            switch c {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            default:
                if c.value < 0x20 {
                    let hex = String(c.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(c)
                }
            }
        }
        return out + "\""
    }
}

/// "Did you mean" suggestions: the closest candidate by edit distance, case-insensitively, when
/// it is close enough to be a typo rather than a different word.
public enum Suggestion {
    public static func closest(to word: String, in candidates: [String]) -> String? {
        let lowered = word.lowercased()
        var best: (String, Int)?
        for candidate in candidates {
            let distance = editDistance(lowered, candidate.lowercased())
            if best == nil || distance < best!.1 { best = (candidate, distance) }
        }
        guard let (candidate, distance) = best else { return nil }
        let allowed = max(1, min(3, word.count / 3))
        return distance <= allowed ? candidate : nil
    }

    /// Damerau–Levenshtein (optimal string alignment) distance: a swapped pair counts as one edit.
    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var d = [[Int]](repeating: [Int](repeating: 0, count: b.count + 1), count: a.count + 1)
        for i in 0...a.count { d[i][0] = i }
        for j in 0...b.count { d[0][j] = j }
        for i in 1...a.count {
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                d[i][j] = Swift.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
                    d[i][j] = Swift.min(d[i][j], d[i - 2][j - 2] + 1)
                }
            }
        }
        return d[a.count][b.count]
    }
}
