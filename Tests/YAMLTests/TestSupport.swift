import Testing
import YAML

/// Parses `text` and returns the root of its only document.
func parseRoot(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> Node {
    let documents = try parseYAML(text)
    #expect(documents.count == 1, "expected one document", sourceLocation: sourceLocation)
    return try #require(documents.first?.root, sourceLocation: sourceLocation)
}

/// The error parsing `bytes` throws; records an issue (and returns nil) when it parses.
func parseError(_ bytes: [UInt8], limits: ParserLimits = ParserLimits(),
                sourceLocation: SourceLocation = #_sourceLocation) -> YAMLError? {
    do {
        let documents = try parseYAML(bytes, limits: limits)
        Issue.record("expected a YAMLError, but \(documents.count) document(s) parsed", sourceLocation: sourceLocation)
        return nil
    } catch {
        return error
    }
}

func parseError(_ text: String, limits: ParserLimits = ParserLimits(),
                sourceLocation: SourceLocation = #_sourceLocation) -> YAMLError? {
    parseError(Array(text.utf8), limits: limits, sourceLocation: sourceLocation)
}

/// The keys of a mapping node as written, in order.
func keys(_ node: Node?) -> [String] {
    (node?.mapping ?? []).map { $0.key.scalar?.text ?? $0.key.description }
}

func mark(_ line: Int, _ column: Int) -> Mark { Mark(line: line, column: column) }

