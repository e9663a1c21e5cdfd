import YAML

/// Where each field of one manifest document was written, so any later finding about a field
/// (validation, the operator's errors) can point at its line and column.
///
/// Positions are looked up in the document's node tree when asked for — diagnostics are rare,
/// so nothing is indexed up front.
public struct SourceMap: Sendable, Hashable {
    public var file: String
    /// Where the document starts: the fallback for paths with no recorded position.
    public var documentMark: Mark
    /// The document as written (before any field was dropped).
    private var root: Node?

    public init(file: String, documentMark: Mark, root: Node? = nil) {
        self.file = file
        self.documentMark = documentMark
        self.root = root
    }

    /// The position of the field's value; for a field that is not in the document, the
    /// position of the nearest enclosing field that is.
    public func location(of path: FieldPath) -> SourceLocation {
        SourceLocation(file: file, mark: find(path).value)
    }

    /// The position of the field's key (`upgradeMode:` rather than its value).
    public func keyLocation(of path: FieldPath) -> SourceLocation {
        let found = find(path)
        return SourceLocation(file: file, mark: found.key ?? found.value)
    }

    /// True when the document has a value at exactly this path.
    public func contains(_ path: FieldPath) -> Bool { find(path).exact }

    private enum Component {
        case name(Substring)
        case index(Int)
        case key(Substring)
    }

    private static func components(_ path: FieldPath) -> [Component] {
        var result: [Component] = []
        var rest = Substring(path.rawValue)
        while !rest.isEmpty {
            if rest.first == "." { rest = rest.dropFirst(); continue }
            if rest.first == "[" {
                let inner = rest.dropFirst()
                let end = inner.firstIndex(of: "]") ?? inner.endIndex
                let content = inner[..<end]
                result.append(Int(content).map(Component.index) ?? .key(content))
                rest = end < inner.endIndex ? inner[inner.index(after: end)...] : ""
                continue
            }
            let end = rest.firstIndex { $0 == "." || $0 == "[" } ?? rest.endIndex
            result.append(.name(rest[..<end]))
            rest = rest[end...]
        }
        return result
    }

    private func find(_ path: FieldPath) -> (key: Mark?, value: Mark, exact: Bool) {
        guard var node = root else { return (nil, documentMark, false) }
        var key: Mark?
        for component in Self.components(path) {
            let next: (key: Mark?, node: Node)?
            switch component {
            case .name(let name): next = node.pair(String(name)).map { ($0.key.mark, $0.value) }
            case .index(let i): next = node.sequence.flatMap { i < $0.count ? (nil, $0[i]) : nil }
            case .key(let k): next = Self.flattened(String(k), in: node)
            }
            guard let next else { return (key, node.mark, false) }
            key = next.key
            node = next.node
        }
        return (key, node.mark, true)
    }

    /// Finds a configuration key written flat (`a.b.c: v`) or nested (`a: {b.c: v}`, `a: {b: {c: v}}`).
    private static func flattened(_ key: String, in node: Node) -> (key: Mark?, node: Node)? {
        guard let pairs = node.mapping else { return nil }
        for pair in pairs {
            guard let name = pair.key.scalar?.text else { continue }
            if name == key { return (pair.key.mark, pair.value) }
            if key.hasPrefix(name + "."), let inner = flattened(String(key.dropFirst(name.count + 1)), in: pair.value) {
                return inner
            }
        }
        return nil
    }
}

/// Checks a node tree against a schema, the way the Kubernetes API server checks a custom
/// resource against its CRD with strict field validation.
///
/// Guarantees: every problem is reported (not only the first), each at the field's position;
/// the returned tree holds only what passed — unknown fields, mistyped values and
/// Flinklet-managed fields are removed — so decoding it into the Swift types cannot fail on
/// shape, and later checks can still run on everything that was valid.
struct SchemaChecker {
    private(set) var diagnostics: [Diagnostic] = []
    let file: String
    /// Counts structural changes (drops, flattening): a subtree whose check left it unchanged
    /// is kept as it is, without copying.
    private var edits = 0

    init(file: String) {
        self.file = file
    }

    private mutating func report(_ severity: Diagnostic.Severity, _ path: FieldPath, _ message: String, at mark: Mark) {
        diagnostics.append(Diagnostic(severity, path, message, at: SourceLocation(file: file, mark: mark)))
    }

    /// Returns the checked node, or nil when the value is null or invalid (and so dropped).
    /// A subtree with nothing dropped is returned as it came, without copying. `path` is only
    /// evaluated when needed (collections, errors): most nodes are valid scalars.
    mutating func check(_ node: Node, against schema: Schema, at path: @autoclosure () -> FieldPath) -> Node? {
        if node.isNull { return nil }
        switch schema.shape {
        case .string:
            guard node.scalar != nil else { return mismatch(node, expected: "string", at: path()) }
            return node
        case .enumeration(let values):
            guard let text = node.scalar?.text else { return mismatch(node, expected: "string", at: path()) }
            guard values.contains(text) else {
                report(.error, path(), FieldError.unsupported(text, supported: values), at: node.mark)
                return nil
            }
            return node
        case .integer(let minimum, let format):
            guard case .int(let parsed)? = node.resolved else { return mismatch(node, expected: "integer", at: path()) }
            guard let value = parsed, format == .int64 || Int64(Int32.min)...Int64(Int32.max) ~= value else {
                report(.error, path(), FieldError.invalid(node.scalar?.text ?? "", "must fit in a \(format == .int32 ? 32 : 64)-bit integer"), at: node.mark)
                return nil
            }
            if let minimum, value < minimum {
                report(.error, path(), FieldError.invalid(String(value), "must be greater than or equal to \(minimum)"), at: node.mark)
                return nil
            }
            return node
        case .number:
            switch node.resolved {
            case .int(_?)?, .float?: return node
            default: return mismatch(node, expected: "number", at: path())
            }
        case .boolean:
            guard case .bool? = node.resolved else { return mismatch(node, expected: "boolean", at: path()) }
            return node
        case .intOrString:
            guard node.scalar != nil else { return mismatch(node, expected: "string or integer", at: path()) }
            return node
        case .object(let properties, let required):
            return checkObject(node, properties: properties, required: required, at: path())
        case .map(let valueSchema):
            let path = path()
            guard let pairs = node.mapping else { return mismatch(node, expected: "object", at: path) }
            var kept = Kept(pairs)
            for (i, pair) in pairs.enumerated() {
                guard let key = pair.key.scalar?.text else {
                    report(.error, path, FieldError.invalidType(expected: "string key", got: pair.key), at: pair.key.mark)
                    kept.drop(i, edits: &edits)
                    continue
                }
                let before = edits
                let value = check(pair.value, against: valueSchema, at: path.key(key))
                kept.set(i, value.map { Node.Pair(key: pair.key, value: $0) }, changed: edits != before, edits: &edits)
            }
            return kept.node(Node.Content.mapping, original: node)
        case .array(let itemSchema):
            let path = path()
            guard let items = node.sequence else { return mismatch(node, expected: "array", at: path) }
            var kept = Kept(items)
            for (i, item) in items.enumerated() {
                let before = edits
                let checked = check(item, against: itemSchema, at: path.index(i))
                kept.set(i, checked, changed: edits != before, edits: &edits)
            }
            return kept.node(Node.Content.sequence, original: node)
        case .flinkConfiguration:
            return flattenConfiguration(node, at: path())
        case .freeForm:
            return node
        }
    }

    private mutating func checkObject(_ node: Node, properties: [Property], required: [String], at path: FieldPath) -> Node? {
        guard let pairs = node.mapping else { return mismatch(node, expected: "object", at: path) }
        var kept = Kept(pairs)
        for (i, pair) in pairs.enumerated() {
            guard let name = pair.key.scalar?.text else {
                report(.error, path, FieldError.invalidType(expected: "field name", got: pair.key), at: pair.key.mark)
                kept.drop(i, edits: &edits)
                continue
            }
            guard let index = properties.indices.first(where: { properties[$0].name == name }) else {
                report(.error, path.child(name), FieldError.unknownField(name, known: properties.map(\.name)), at: pair.key.mark)
                kept.drop(i, edits: &edits)
                continue
            }
            let property = properties[index]
            switch property.local {
            case .managed(let reason):
                report(.warning, path.child(name), "Ignored: \(reason); the value in the manifest is not used", at: pair.key.mark)
                kept.drop(i, edits: &edits)
                continue
            case .ignored(let reason) where !pair.value.isNull:
                report(.warning, path.child(name), "Ignored: Kubernetes-only field, accepted for compatibility (\(reason))", at: pair.key.mark)
            default:
                break
            }
            let before = edits
            let value = check(pair.value, against: property.schema, at: path.child(name))
            kept.set(i, value.map { Node.Pair(key: pair.key, value: $0) }, changed: edits != before, edits: &edits)
        }
        for name in required {
            if let value = node[name] {
                if value.isNull { report(.error, path.child(name), FieldError.required(), at: value.mark) }
            } else {
                report(.error, path.child(name), FieldError.required(), at: node.mark)
            }
        }
        return kept.node(Node.Content.mapping, original: node)
    }

    /// The elements of a collection that passed, copied only once something is dropped or changed.
    private struct Kept<Element> {
        let original: [Element]
        var copy: [Element]?

        init(_ original: [Element]) { self.original = original }

        mutating func drop(_ i: Int, edits: inout Int) {
            edits += 1
            if copy == nil { copy = Array(original[..<i]) }
        }

        mutating func set(_ i: Int, _ element: Element?, changed: Bool, edits: inout Int) {
            guard let element else { return drop(i, edits: &edits) }
            if changed, copy == nil { copy = Array(original[..<i]) }
            copy?.append(element)
        }

        func node(_ make: ([Element]) -> Node.Content, original node: Node) -> Node {
            guard let copy else { return node }
            return Node(make(copy), mark: node.mark)
        }
    }

    private mutating func mismatch(_ node: Node, expected: String, at path: FieldPath) -> Node? {
        report(.error, path, FieldError.invalidType(expected: expected, got: node), at: node.mark)
        return nil
    }

    /// Flattens nested configuration to dotted keys with string values, reporting duplicates
    /// (`a.b: x` next to `a: {b: y}`) and values that are not scalars or lists of scalars.
    private mutating func flattenConfiguration(_ node: Node, at path: FieldPath) -> Node? {
        guard node.mapping != nil else { return mismatch(node, expected: "object", at: path) }
        var flat: [Node.Pair] = []
        var firstSeen: [String: Mark] = [:]

        func walk(_ node: Node, prefix: String, keyMark: Mark?, checker: inout SchemaChecker) {
            switch node.content {
            case .mapping(let pairs):
                if pairs.isEmpty, !prefix.isEmpty {
                    checker.report(.error, path.key(prefix), FieldError.invalidType(expected: "string, number or boolean", got: node), at: node.mark)
                }
                for pair in pairs {
                    guard let name = pair.key.scalar?.text, !name.isEmpty else {
                        checker.report(.error, path, FieldError.invalidType(expected: "configuration key", got: pair.key), at: pair.key.mark)
                        continue
                    }
                    walk(pair.value, prefix: prefix.isEmpty ? name : prefix + "." + name, keyMark: pair.key.mark, checker: &checker)
                }
            case .scalar, .sequence:
                let leafPath = path.key(prefix)
                let value: String
                if node.isNull {
                    checker.report(.error, leafPath, FieldError.required("write \"\" for an empty value"), at: node.mark)
                    return
                } else if let scalar = node.scalar {
                    value = scalar.text
                } else if let items = node.sequence, items.allSatisfy({ $0.scalar != nil && !$0.isNull }) {
                    value = items.compactMap { $0.scalar?.text }.joined(separator: ";")
                } else {
                    checker.report(.error, leafPath, FieldError.invalidType(expected: "string, number, boolean or a list of them", got: node), at: node.mark)
                    return
                }
                if let first = firstSeen[prefix] {
                    checker.report(.error, leafPath, FieldError.duplicate(FieldError.quoted(prefix), "also set at line \(first.line), column \(first.column)"), at: keyMark ?? node.mark)
                    return
                }
                firstSeen[prefix] = keyMark ?? node.mark
                flat.append(Node.Pair(key: Node(.scalar(Scalar(prefix)), mark: keyMark ?? node.mark),
                                      value: Node(.scalar(Scalar(value, style: .doubleQuoted)), mark: node.mark)))
            }
        }
        walk(node, prefix: "", keyMark: nil, checker: &self)
        edits += 1  // the flat form always differs from what was written
        return Node(.mapping(flat), mark: node.mark)
    }
}
