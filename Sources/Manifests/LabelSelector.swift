
/// A Kubernetes label selector, as `-l` takes it: comma-separated requirements, all of which
/// must hold — `key=value` (or `==`), `key!=value`, `key in (a,b)`, `key notin (a,b)`, `key`
/// (has the label), `!key` (has not).
public struct LabelSelector: Sendable, CustomStringConvertible {
    /// A selector that does not parse, with kubectl's message.
    public struct ParseError: Error, CustomStringConvertible {
        public var description: String
        init(_ description: String) { self.description = description }
    }

    enum Requirement: Sendable {
        case equals(String, String)
        case notEquals(String, String)
        case isIn(String, Set<String>)
        case notIn(String, Set<String>)
        case exists(String)
        case doesNotExist(String)

        func matches(_ labels: [String: String]) -> Bool {
            switch self {
            case .equals(let key, let value): labels[key] == value
            case .notEquals(let key, let value): labels[key] != value
            case .isIn(let key, let values): labels[key].map(values.contains) ?? false
            case .notIn(let key, let values): !(labels[key].map(values.contains) ?? false)
            case .exists(let key): labels[key] != nil
            case .doesNotExist(let key): labels[key] == nil
            }
        }
    }

    let requirements: [Requirement]
    public let description: String

    public init(_ text: String) throws(ParseError) {
        description = text
        var parts: [String] = []
        var current = ""
        var depth = 0
        for c in text {
            if c == "(" { depth += 1 }
            if c == ")" { depth -= 1 }
            if c == ",", depth == 0 {
                parts.append(current)
                current = ""
            } else {
                current.append(c)
            }
        }
        parts.append(current)
        var requirements: [Requirement] = []
        for raw in parts {
            let part = raw.trimmingCharacters(in: .whitespaces)
            guard !part.isEmpty else { throw ParseError("invalid label selector \"\(text)\": empty requirement") }
            requirements.append(try Self.requirement(part, in: text))
        }
        self.requirements = requirements
    }

    private static func requirement(_ part: String, in text: String) throws(ParseError) -> Requirement {
        func invalid() -> ParseError { ParseError("invalid label selector \"\(text)\": cannot parse \"\(part)\"") }
        func key(_ s: some StringProtocol) throws(ParseError) -> String {
            let k = s.trimmingCharacters(in: .whitespaces)
            guard !k.isEmpty, k.allSatisfy({ $0.isLetter || $0.isNumber || "-_./".contains($0) }) else { throw invalid() }
            return k
        }
        func set(_ s: some StringProtocol) throws(ParseError) -> Set<String> {
            let inner = s.trimmingCharacters(in: .whitespaces)
            guard inner.hasPrefix("("), inner.hasSuffix(")") else { throw invalid() }
            return Set(inner.dropFirst().dropLast().split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) })
        }
        if let range = part.range(of: "!=") {
            return .notEquals(try key(part[..<range.lowerBound]), part[range.upperBound...].trimmingCharacters(in: .whitespaces))
        }
        if let range = part.range(of: "==") ?? part.range(of: "=") {
            return .equals(try key(part[..<range.lowerBound]), part[range.upperBound...].trimmingCharacters(in: .whitespaces))
        }
        if let range = part.range(of: " notin ") {
            return .notIn(try key(part[..<range.lowerBound]), try set(part[range.upperBound...]))
        }
        if let range = part.range(of: " in ") {
            return .isIn(try key(part[..<range.lowerBound]), try set(part[range.upperBound...]))
        }
        if part.hasPrefix("!") { return .doesNotExist(try key(part.dropFirst())) }
        return .exists(try key(part))
    }

    public func matches(_ labels: [String: String]?) -> Bool {
        requirements.allSatisfy { $0.matches(labels ?? [:]) }
    }
}
