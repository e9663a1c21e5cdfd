import CLibYAML

/// One document of a YAML stream.
public struct Document: Sendable, Hashable {
    /// The document's content; `nil` for an empty document (a lone `---`, or only comments).
    public var root: Node?
    /// Where the document starts (its `---`, or its first token when the marker is implicit).
    public var mark: Mark

    public init(root: Node?, mark: Mark) {
        self.root = root
        self.mark = mark
    }
}

/// Why a YAML text could not be read. `mark` points at the offending position when known.
public struct YAMLError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Reason: Sendable, Hashable {
        /// libyaml rejected the text (syntax, encoding, control characters, ...).
        case syntax
        case duplicateKey
        case tooLarge
        case aliasExpansion
        case tooDeep
        case undefinedAlias
    }

    public var reason: Reason
    public var message: String
    public var mark: Mark?

    public init(_ reason: Reason, _ message: String, at mark: Mark? = nil) {
        self.reason = reason
        self.message = message
        self.mark = mark
    }

    public var description: String {
        if let mark { return "\(mark): \(message)" }
        return message
    }
}

/// Bounds that keep hostile input cheap to reject. The defaults admit every real manifest.
public struct ParserLimits: Sendable, Hashable {
    /// Input larger than this is refused before parsing.
    public var maxBytes: Int = 4 * 1024 * 1024
    /// Deepest nesting of sequences and mappings.
    public var maxDepth: Int = 128
    /// How many nodes all alias references of one stream may stand for, counted as if expanded.
    /// This is what stops a "billion laughs" document: its tree is small but its expansion is not.
    public var maxAliasExpansion: Int = 100_000

    public init() {}
}

/// Parses a YAML stream (one or more `---`-separated documents) into node trees.
///
/// Guarantees: every node carries the line and column where it starts; mapping keys keep source
/// order; a duplicate key, an alias whose expansion exceeds `limits.maxAliasExpansion`, nesting
/// deeper than `limits.maxDepth`, input over `limits.maxBytes`, invalid UTF-8/UTF-16 or control
/// characters all throw a `YAMLError` — the parser never traps and its work is linear in the input
/// size. YAML merge keys (`<<: *anchor`) are applied; explicit keys win over merged ones.
/// JSON is accepted, being YAML.
public func parseYAML(_ bytes: [UInt8], limits: ParserLimits = ParserLimits()) throws(YAMLError) -> [Document] {
    guard bytes.count <= limits.maxBytes else {
        throw YAMLError(.tooLarge, "file is \(bytes.count) bytes, larger than the limit of \(limits.maxBytes) bytes")
    }
    var builder = TreeBuilder(limits: limits)
    return try builder.parse(bytes)
}

public func parseYAML(_ text: String, limits: ParserLimits = ParserLimits()) throws(YAMLError) -> [Document] {
    try parseYAML(Array(text.utf8), limits: limits)
}

/// Builds node trees from libyaml's event stream with an explicit stack (no recursion, so deep
/// input cannot overflow the call stack).
private struct TreeBuilder {
    let limits: ParserLimits

    /// An open sequence or mapping. Mutated in place on the stack (`stack[top].x.append`), so
    /// appending never copies the collection.
    private struct Frame {
        var isMapping: Bool
        var items: [Node] = []
        var pairs: [Node.Pair] = []
        var pendingKey: Node?
        /// Keys seen, for duplicate detection; filled only once a mapping grows past
        /// `linearScanLimit` keys (small mappings are scanned, which is cheaper than hashing).
        var keys: Set<KeyIdentity> = []
        var merges: [(value: Node, mark: Mark)] = []
        var mark: Mark
        var anchor: String?
        var size = 1
        /// Nesting depth of the deepest child, counting expanded aliases.
        var childDepth = 0
    }

    /// Keys are duplicates when they resolve to the same value: `a` and `"a"` are one key,
    /// `1` and `"1"` are two.
    private enum KeyIdentity: Hashable {
        case scalar(ResolvedScalar)
        case node(Node)

        init(_ node: Node) {
            switch node.resolved {
            case .int(nil)?: self = .node(node)  // too large for a number: compared by text (see Scalar ==)
            case .float(let f)? where f.isNaN: self = .node(node)  // NaN is unequal to itself as a number
            case let resolved?: self = .scalar(resolved)
            case nil: self = .node(node)
            }
        }
    }

    private static let linearScanLimit = 16
    private var stack: [Frame] = []
    private var anchors: [String: (node: Node, size: Int, depth: Int)] = [:]
    private var expanded = 0

    init(limits: ParserLimits) {
        self.limits = limits
    }

    mutating func parse(_ bytes: [UInt8]) throws(YAMLError) -> [Document] {
        // libyaml's parser must stay at one address while in use: keep it on the heap, never copied.
        let parser = UnsafeMutablePointer<yaml_parser_t>.allocate(capacity: 1)
        parser.initialize(to: yaml_parser_t())
        defer { parser.deallocate() }
        guard yaml_parser_initialize(parser) == 1 else {
            throw YAMLError(.syntax, "could not initialise the YAML parser (out of memory)")
        }
        defer { yaml_parser_delete(parser) }

        var documents: [Document] = []
        var documentMark = Mark(line: 1, column: 1)
        var root: Node?

        let result: Result<[Document], YAMLError> = bytes.withUnsafeBufferPointer { buffer in
            yaml_parser_set_input_string(parser, buffer.baseAddress, buffer.count)
            var event = yaml_event_t()
            while true {
                guard yaml_parser_parse(parser, &event) == 1 else {
                    return .failure(Self.parserError(parser.pointee))
                }
                defer { yaml_event_delete(&event) }
                let mark = Mark(line: Int(event.start_mark.line) + 1, column: Int(event.start_mark.column) + 1)
                do throws(YAMLError) {
                    switch event.type {
                    case YAML_STREAM_END_EVENT:
                        return .success(documents)
                    case YAML_DOCUMENT_START_EVENT:
                        documentMark = mark
                        root = nil
                        anchors.removeAll(keepingCapacity: true)
                    case YAML_DOCUMENT_END_EVENT:
                        documents.append(Document(root: root.flatMap { $0.isNull && $0.scalar?.text.isEmpty == true ? nil : $0 }, mark: documentMark))
                    case YAML_SCALAR_EVENT:
                        let s = event.data.scalar
                        let text = Self.string(s.value, count: s.length)
                        let style: ScalarStyle = switch s.style {
                        case YAML_SINGLE_QUOTED_SCALAR_STYLE: .singleQuoted
                        case YAML_DOUBLE_QUOTED_SCALAR_STYLE: .doubleQuoted
                        case YAML_LITERAL_SCALAR_STYLE: .literal
                        case YAML_FOLDED_SCALAR_STYLE: .folded
                        default: .plain
                        }
                        var tag = Self.cString(s.tag)
                        if tag == "!" { tag = Tag.str }
                        let node = Node(.scalar(Scalar(text, style: style, tag: tag)), mark: mark)
                        try add(node, size: 1, depth: 0, anchor: Self.cString(s.anchor), root: &root)
                    case YAML_ALIAS_EVENT:
                        let name = Self.cString(event.data.alias.anchor) ?? ""
                        guard let target = anchors[name] else {
                            throw YAMLError(.undefinedAlias, "found undefined alias \"*\(name)\"", at: mark)
                        }
                        expanded += target.size
                        if expanded > limits.maxAliasExpansion {
                            throw YAMLError(
                                .aliasExpansion,
                                "aliases expand to more than \(limits.maxAliasExpansion) nodes (a \"billion laughs\" document?); refusing to expand \"*\(name)\"",
                                at: mark)
                        }
                        // An alias re-uses a subtree: its depth counts where it is used, or
                        // aliases of aliases could nest far past the limit in a few lines.
                        guard stack.count + target.depth <= limits.maxDepth else {
                            throw YAMLError(.tooDeep, "nesting through aliases is deeper than the limit of \(limits.maxDepth) levels", at: mark)
                        }
                        try add(target.node, size: target.size, depth: target.depth, anchor: nil, root: &root)
                    case YAML_SEQUENCE_START_EVENT:
                        try push(Frame(isMapping: false, mark: mark, anchor: Self.cString(event.data.sequence_start.anchor)), at: mark)
                    case YAML_MAPPING_START_EVENT:
                        try push(Frame(isMapping: true, mark: mark, anchor: Self.cString(event.data.mapping_start.anchor)), at: mark)
                    case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
                        let (node, size, depth, anchor) = try pop()
                        try add(node, size: size, depth: depth, anchor: anchor, root: &root)
                    default:
                        break
                    }
                } catch {
                    return .failure(error)
                }
            }
        }
        return try result.get()
    }

    private mutating func push(_ frame: Frame, at mark: Mark) throws(YAMLError) {
        guard stack.count < limits.maxDepth else {
            throw YAMLError(.tooDeep, "nesting is deeper than the limit of \(limits.maxDepth) levels", at: mark)
        }
        stack.append(frame)
    }

    private mutating func pop() throws(YAMLError) -> (Node, Int, Int, String?) {
        var frame = stack.removeLast()
        let depth = frame.childDepth + 1
        if frame.isMapping {
            try applyMerges(&frame)
            return (Node(.mapping(frame.pairs), mark: frame.mark), frame.size, depth, frame.anchor)
        }
        return (Node(.sequence(frame.items), mark: frame.mark), frame.size, depth, frame.anchor)
    }

    /// Adds a finished node to the open collection (or makes it the document root) and records
    /// its anchor. `size` is the node count it stands for when fully expanded.
    private mutating func add(_ node: Node, size: Int, depth: Int, anchor: String?, root: inout Node?) throws(YAMLError) {
        if let anchor { anchors[anchor] = (node, size, depth) }
        guard let top = stack.indices.last else {
            root = node
            return
        }
        stack[top].size += size
        stack[top].childDepth = max(stack[top].childDepth, depth)
        guard stack[top].isMapping else {
            stack[top].items.append(node)
            return
        }
        if let key = stack[top].pendingKey {
            stack[top].pendingKey = nil
            if let s = key.scalar, s.text == "<<", s.style == .plain, s.tag == nil {
                stack[top].merges.append((node, key.mark))
            } else {
                stack[top].pairs.append(Node.Pair(key: key, value: node))
            }
            return
        }
        let isMergeKey = node.scalar.map { $0.text == "<<" && $0.style == .plain && $0.tag == nil } ?? false
        if !isMergeKey {
            let identity = KeyIdentity(node)
            if Self.isDuplicate(identity, in: &stack[top]) {
                let original = stack[top].pairs.first { KeyIdentity($0.key) == identity }?.key.mark
                let name = node.scalar?.text ?? node.description
                let previously = original.map { " (first defined at line \($0.line), column \($0.column))" } ?? ""
                throw YAMLError(.duplicateKey, "duplicate key \"\(name)\"\(previously)", at: node.mark)
            }
            if !stack[top].keys.isEmpty { stack[top].keys.insert(identity) }
        }
        stack[top].pendingKey = node
    }

    private static func isDuplicate(_ identity: KeyIdentity, in frame: inout Frame) -> Bool {
        if frame.keys.isEmpty {
            if frame.pairs.count < linearScanLimit {
                return frame.pairs.contains { KeyIdentity($0.key) == identity }
            }
            frame.keys = Set(frame.pairs.map { KeyIdentity($0.key) })
        }
        return frame.keys.contains(identity)
    }

    /// `<<: *base` or `<<: [*a, *b]`: copy entries whose keys the mapping does not define itself.
    /// Earlier sources in a list win over later ones, as in the YAML 1.1 merge-key spec.
    private func applyMerges(_ frame: inout Frame) throws(YAMLError) {
        if !frame.merges.isEmpty, frame.keys.isEmpty { frame.keys = Set(frame.pairs.map { KeyIdentity($0.key) }) }
        for (value, mark) in frame.merges {
            let sources: [Node]
            switch value.content {
            case .mapping: sources = [value]
            case .sequence(let items): sources = items
            case .scalar: throw YAMLError(.syntax, "merge key \"<<\" needs a mapping or a list of mappings", at: mark)
            }
            for source in sources {
                guard case .mapping(let pairs) = source.content else {
                    throw YAMLError(.syntax, "merge key \"<<\" needs a mapping or a list of mappings", at: source.mark)
                }
                for pair in pairs {
                    let identity = KeyIdentity(pair.key)
                    if frame.keys.insert(identity).inserted {
                        frame.pairs.append(pair)
                    }
                }
            }
        }
    }

    private static func string(_ pointer: UnsafeMutablePointer<yaml_char_t>?, count: Int) -> String {
        guard let pointer else { return "" }
        return String(decoding: UnsafeBufferPointer(start: pointer, count: count), as: UTF8.self)
    }

    private static func cString(_ pointer: UnsafeMutablePointer<yaml_char_t>?) -> String? {
        guard let pointer else { return nil }
        return String(cString: pointer)
    }

    private static func parserError(_ parser: yaml_parser_t) -> YAMLError {
        let problem = parser.problem.map { String(cString: $0) } ?? "unknown error"
        let mark = Mark(line: Int(parser.problem_mark.line) + 1, column: Int(parser.problem_mark.column) + 1)
        var message = problem
        if parser.error == YAML_READER_ERROR {
            // Reader errors (encoding, control characters) report a byte offset, not a line.
            message = "\(problem) (at byte \(parser.problem_offset)); manifests must be UTF-8 or UTF-16 text"
            return YAMLError(.syntax, message, at: nil)
        }
        if let context = parser.context.map({ String(cString: $0) }) {
            let contextMark = Mark(line: Int(parser.context_mark.line) + 1, column: Int(parser.context_mark.column) + 1)
            message += " (\(context) at line \(contextMark.line), column \(contextMark.column))"
        }
        return YAMLError(.syntax, message, at: mark)
    }
}
