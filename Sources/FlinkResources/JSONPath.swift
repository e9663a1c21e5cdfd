import Foundation

/// kubectl's JSONPath templates, the subset scripts use: text with `{...}` actions holding
/// paths (`{.metadata.name}`, `{.items[0].status}`, `{.items[*].metadata.name}`,
/// `{.status.conditions[?(@.type=="Ready")].status}`, `['key.with.dots']`), string literals
/// (`{"\n"}`) and `{range .items[*]}...{end}`.
///
/// Contract: a template is parsed once (`init` throws `JSONPath.Error` with the position of a
/// syntax error) and evaluated any number of times. As in kubectl with the default
/// `--allow-missing-template-keys`, a path that leads nowhere prints nothing. Several results
/// of one action are printed separated by spaces; strings print bare, other values as JSON.
public struct JSONPath: Sendable {
    public struct Error: Swift.Error, CustomStringConvertible {
        public var message: String
        public var description: String { message }
    }

    enum Segment: Sendable, Equatable {
        case field(String)
        case index(Int)
        case slice(Int?, Int?)
        case wildcard
        case filter(Filter)
    }

    struct Filter: Sendable, Equatable {
        enum Operator: String, Sendable { case equal = "==", notEqual = "!=", less = "<", lessOrEqual = "<=", greater = ">", greaterOrEqual = ">=" }
        var path: [Segment]
        /// Nil: the filter only asks that `path` exists.
        var comparison: (Operator, JSONValue)?

        static func == (lhs: Filter, rhs: Filter) -> Bool {
            lhs.path == rhs.path && lhs.comparison?.0 == rhs.comparison?.0 && lhs.comparison?.1 == rhs.comparison?.1
        }
    }

    enum Node: Sendable {
        case text(String)
        case path([Segment])
        case range([Segment], [Node])
    }

    let nodes: [Node]

    public init(_ template: String) throws(Error) {
        // A bare path (no braces) is one action, as kubectl relaxes custom-columns.
        let source = template.contains("{") ? template : "{\(template)}"
        var parser = TemplateParser(Array(source))
        nodes = try parser.parseNodes(untilEnd: false)
    }

    /// The results of a single-path template (the form `wait --for=jsonpath=` takes); nil when
    /// the template is not a single path.
    public func values(in root: JSONValue) -> [JSONValue]? {
        guard nodes.count == 1, case .path(let segments) = nodes[0] else { return nil }
        return Self.evaluate(segments, on: [root])
    }

    /// The template applied to `root`, as `kubectl get -o jsonpath=...` prints it.
    public func render(_ root: JSONValue) -> String {
        var output = ""
        Self.render(nodes, current: root, into: &output)
        return output
    }

    private static func render(_ nodes: [Node], current: JSONValue, into output: inout String) {
        for node in nodes {
            switch node {
            case .text(let text):
                output += text
            case .path(let segments):
                output += evaluate(segments, on: [current]).map(text).joined(separator: " ")
            case .range(let segments, let body):
                for item in evaluate(segments, on: [current]) {
                    render(body, current: item, into: &output)
                }
            }
        }
    }

    /// A value as kubectl prints it: strings bare, everything else as compact JSON.
    public static func text(_ value: JSONValue) -> String {
        switch value {
        case .string(let s): return s
        case .null: return "null"
        case .bool(let b): return String(b)
        case .int(let i): return String(i)
        case .double(let d): return d == d.rounded() && abs(d) < 1e15 ? String(Int64(d)) : String(d)
        case .array, .object:
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            return (try? encoder.encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? ""
        }
    }

    static func evaluate(_ segments: [Segment], on start: [JSONValue]) -> [JSONValue] {
        var current = start
        for segment in segments {
            var next: [JSONValue] = []
            for value in current {
                switch (segment, value) {
                case (.field(let name), .object(let object)):
                    if let child = object[name] { next.append(child) }
                case (.index(let i), .array(let items)):
                    let index = i < 0 ? items.count + i : i
                    if items.indices.contains(index) { next.append(items[index]) }
                case (.slice(let from, let to), .array(let items)):
                    let count = items.count
                    func clamp(_ i: Int?, _ fallback: Int) -> Int { i.map { $0 < 0 ? max(0, count + $0) : min($0, count) } ?? fallback }
                    let lower = clamp(from, 0), upper = clamp(to, count)
                    if lower < upper { next += items[lower..<upper] }
                case (.wildcard, .array(let items)):
                    next += items
                case (.wildcard, .object(let object)):
                    next += object.keys.sorted().map { object[$0]! }
                case (.filter(let filter), .array(let items)):
                    next += items.filter { filter.matches($0) }
                default:
                    break
                }
            }
            current = next
        }
        return current
    }
}

extension JSONPath.Filter {
    func matches(_ item: JSONValue) -> Bool {
        let found = JSONPath.evaluate(path, on: [item])
        guard let (op, literal) = comparison else { return !found.isEmpty }
        guard let value = found.first else { return false }
        switch op {
        case .equal: return Self.equal(value, literal)
        case .notEqual: return !Self.equal(value, literal)
        default:
            guard let a = Self.number(value), let b = Self.number(literal) else { return false }
            switch op {
            case .less: return a < b
            case .lessOrEqual: return a <= b
            case .greater: return a > b
            default: return a >= b
            }
        }
    }

    private static func number(_ value: JSONValue) -> Double? {
        switch value {
        case .int(let i): Double(i)
        case .double(let d): d
        default: nil
        }
    }

    private static func equal(_ a: JSONValue, _ b: JSONValue) -> Bool {
        if let x = number(a), let y = number(b) { return x == y }
        return a == b
    }
}

/// Parses the template text character by character.
private struct TemplateParser {
    let characters: [Character]
    var position = 0

    init(_ characters: [Character]) { self.characters = characters }

    func error(_ message: String) -> JSONPath.Error {
        JSONPath.Error(message: "invalid JSONPath template at character \(position + 1): \(message)")
    }

    var atEnd: Bool { position >= characters.count }
    var peek: Character? { atEnd ? nil : characters[position] }

    mutating func skipSpaces() {
        while let c = peek, c == " " { position += 1 }
    }

    /// Text and actions up to the end, or (in a range body) up to the matching `{end}`.
    mutating func parseNodes(untilEnd: Bool) throws(JSONPath.Error) -> [JSONPath.Node] {
        var nodes: [JSONPath.Node] = []
        var text = ""
        while let c = peek {
            if c != "{" {
                text.append(c)
                position += 1
                continue
            }
            if !text.isEmpty {
                nodes.append(.text(text))
                text = ""
            }
            position += 1
            skipSpaces()
            guard let close = characters[position...].firstIndex(of: "}") else { throw error("unclosed action: missing }") }
            let inside = String(characters[position..<close]).trimmingCharacters(in: .whitespaces)
            if inside == "end" {
                guard untilEnd else { throw error("{end} without {range}") }
                position = close + 1
                return nodes
            }
            if inside.hasPrefix("range ") || inside == "range" {
                position += "range".count
                skipSpaces()
                let segments = try parsePath(until: close)
                position = close + 1
                nodes.append(.range(segments, try parseNodes(untilEnd: true)))
                continue
            }
            if peek == "\"" || peek == "'" {
                let literal = try parseQuoted()
                skipSpaces()
                guard position == close else { throw error("unexpected text after a string literal") }
                position = close + 1
                nodes.append(.text(literal))
                continue
            }
            let segments = try parsePath(until: close)
            position = close + 1
            nodes.append(.path(segments))
        }
        if untilEnd { throw error("{range} without {end}") }
        if !text.isEmpty { nodes.append(.text(text)) }
        return nodes
    }

    /// A path such as `.a.b[0]['c'][*][?(@.x=="y")]` ending at `end` (exclusive).
    mutating func parsePath(until end: Int) throws(JSONPath.Error) -> [JSONPath.Segment] {
        var segments: [JSONPath.Segment] = []
        skipSpaces()
        if peek == "$" { position += 1 }
        if peek == "@" { position += 1 }
        while position < end {
            guard let c = peek else { break }
            switch c {
            case ".":
                position += 1
                if peek == "." { throw error("recursive descent (..) is not supported") }
                if position >= end { break }
                if peek == "*" {
                    position += 1
                    segments.append(.wildcard)
                    continue
                }
                let name = readName(until: end)
                guard !name.isEmpty else { throw error("expected a field name after .") }
                segments.append(.field(name))
            case "[":
                segments.append(try parseBracket())
            case " ":
                skipSpaces()
                guard position >= end else { throw error("unexpected space in a path") }
            default:
                // A path may start without a dot: `{metadata.name}`.
                if segments.isEmpty {
                    let name = readName(until: end)
                    guard !name.isEmpty else { throw error("unexpected \"\(c)\"") }
                    segments.append(.field(name))
                } else {
                    throw error("unexpected \"\(c)\"")
                }
            }
        }
        return segments
    }

    mutating func readName(until end: Int) -> String {
        var name = ""
        while position < end, let c = peek, c != ".", c != "[", c != " ", c != ")", c != "=", c != "!", c != "<", c != ">" {
            name.append(c)
            position += 1
        }
        return name
    }

    mutating func parseBracket() throws(JSONPath.Error) -> JSONPath.Segment {
        position += 1  // [
        skipSpaces()
        let segment: JSONPath.Segment
        if peek == "\"" || peek == "'" {
            segment = .field(try parseQuoted())
        } else if peek == "*" {
            position += 1
            segment = .wildcard
        } else if peek == "?" {
            segment = .filter(try parseFilter())
        } else {
            var text = ""
            while let c = peek, c != "]" {
                text.append(c)
                position += 1
            }
            let parts = text.split(separator: ":", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            if parts.count == 1, let index = Int(parts[0]) {
                segment = .index(index)
            } else if parts.count == 2, parts.allSatisfy({ $0.isEmpty || Int($0) != nil }) {
                segment = .slice(Int(parts[0]), Int(parts[1]))
            } else {
                throw error("unsupported subscript [\(text)]")
            }
        }
        skipSpaces()
        guard peek == "]" else { throw error("expected ]") }
        position += 1
        return segment
    }

    mutating func parseFilter() throws(JSONPath.Error) -> JSONPath.Filter {
        position += 1  // ?
        guard peek == "(" else { throw error("expected ( after ?") }
        position += 1
        skipSpaces()
        guard peek == "@" else { throw error("a filter starts with @") }
        guard let close = characters[position...].firstIndex(of: ")") else { throw error("unclosed filter") }
        // The path ends where an operator starts.
        var pathEnd = position
        while pathEnd < close, !"=!<> ".contains(characters[pathEnd]) { pathEnd += 1 }
        let path = try parsePath(until: pathEnd)
        position = pathEnd
        skipSpaces()
        var comparison: (JSONPath.Filter.Operator, JSONValue)?
        if position < close {
            var op = ""
            while let c = peek, "=!<>".contains(c) {
                op.append(c)
                position += 1
            }
            guard let parsed = JSONPath.Filter.Operator(rawValue: op) else { throw error("unsupported operator \"\(op)\"") }
            skipSpaces()
            let literal: JSONValue
            if peek == "\"" || peek == "'" {
                literal = .string(try parseQuoted())
            } else {
                let text = String(characters[position..<close]).trimmingCharacters(in: .whitespaces)
                position = close
                if let i = Int64(text) { literal = .int(i) }
                else if let d = Double(text) { literal = .double(d) }
                else if text == "true" || text == "false" { literal = .bool(text == "true") }
                else if text == "null" { literal = .null }
                else { throw error("unsupported literal \"\(text)\"") }
            }
            comparison = (parsed, literal)
        }
        skipSpaces()
        guard peek == ")" else { throw error("expected ) to close the filter") }
        position += 1
        return JSONPath.Filter(path: path, comparison: comparison)
    }

    /// A single- or double-quoted string with `\n`, `\t`, `\\` and quote escapes.
    mutating func parseQuoted() throws(JSONPath.Error) -> String {
        guard let quote = peek else { throw error("expected a string") }
        position += 1
        var text = ""
        while let c = peek {
            position += 1
            if c == quote { return text }
            if c == "\\", let next = peek {
                position += 1
                switch next {
                case "n": text.append("\n")
                case "t": text.append("\t")
                case "r": text.append("\r")
                default: text.append(next)
                }
            } else {
                text.append(c)
            }
        }
        throw error("unterminated string")
    }
}
