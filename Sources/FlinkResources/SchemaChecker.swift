import YAML

/// Where each field of one manifest document was written, so any later finding about a field
/// (validation, the operator's errors) can point at its line and column.
public struct SourceMap: Sendable, Hashable {
    public var file: String
    private var values: [FieldPath: Mark] = [:]
    private var keys: [FieldPath: Mark] = [:]
    /// Where the document starts: the fallback for paths with no recorded position.
    public var documentMark: Mark

    public init(file: String, documentMark: Mark) {
        self.file = file
        self.documentMark = documentMark
    }

    mutating func record(_ path: FieldPath, value: Mark, key: Mark? = nil) {
        values[path] = value
        if let key { keys[path] = key }
    }

    /// The position of the field's value; for a field that is not in the document, the
    /// position of the nearest enclosing field that is.
    public func location(of path: FieldPath) -> SourceLocation {
        SourceLocation(file: file, mark: mark(of: path, key: false))
    }

    /// The position of the field's key (`upgradeMode:` rather than its value).
    public func keyLocation(of path: FieldPath) -> SourceLocation {
        SourceLocation(file: file, mark: mark(of: path, key: true))
    }

    public func contains(_ path: FieldPath) -> Bool { values[path] != nil }

    private func mark(of path: FieldPath, key: Bool) -> Mark {
        var current = path.rawValue
        while true {
            let p = FieldPath(current)
            if key, let mark = keys[p] { return mark }
            if let mark = values[p] { return mark }
            guard let cut = current.lastIndex(where: { $0 == "." || $0 == "[" }) else { return documentMark }
            current = String(current[..<cut])
        }
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
    private(set) var sourceMap: SourceMap

    init(file: String, documentMark: Mark) {
        sourceMap = SourceMap(file: file, documentMark: documentMark)
    }

    private mutating func report(_ severity: Diagnostic.Severity, _ path: FieldPath, _ message: String, at mark: Mark) {
        diagnostics.append(Diagnostic(severity, path, message, at: SourceLocation(file: sourceMap.file, mark: mark)))
    }

    /// Returns the checked node, or nil when the value is null or invalid (and so dropped).
    mutating func check(_ node: Node, against schema: Schema, at path: FieldPath, keyMark: Mark? = nil) -> Node? {
        sourceMap.record(path, value: node.mark, key: keyMark)
        if node.isNull { return nil }
        switch schema.shape {
        case .string:
            guard node.scalar != nil else { return mismatch(node, expected: "string", at: path) }
            return node
        case .enumeration(let values):
            guard let text = node.scalar?.text else { return mismatch(node, expected: "string", at: path) }
            guard values.contains(text) else {
                report(.error, path, FieldError.unsupported(text, supported: values), at: node.mark)
                return nil
            }
            return node
        case .integer(let minimum, let format):
            guard case .int(let parsed)? = node.resolved else { return mismatch(node, expected: "integer", at: path) }
            guard let value = parsed, format == .int64 || Int64(Int32.min)...Int64(Int32.max) ~= value else {
                report(.error, path, FieldError.invalid(node.scalar?.text ?? "", "must fit in a \(format == .int32 ? 32 : 64)-bit integer"), at: node.mark)
                return nil
            }
            if let minimum, value < minimum {
                report(.error, path, FieldError.invalid(String(value), "must be greater than or equal to \(minimum)"), at: node.mark)
                return nil
            }
            return node
        case .number:
            switch node.resolved {
            case .int(_?)?, .float?: return node
            default: return mismatch(node, expected: "number", at: path)
            }
        case .boolean:
            guard case .bool? = node.resolved else { return mismatch(node, expected: "boolean", at: path) }
            return node
        case .intOrString:
            guard node.scalar != nil else { return mismatch(node, expected: "string or integer", at: path) }
            return node
        case .object(let properties, let required):
            return checkObject(node, properties: properties, required: required, at: path)
        case .map(let valueSchema):
            guard let pairs = node.mapping else { return mismatch(node, expected: "object", at: path) }
            var kept: [Node.Pair] = []
            for pair in pairs {
                guard let key = pair.key.scalar?.text else {
                    report(.error, path, FieldError.invalidType(expected: "string key", got: pair.key), at: pair.key.mark)
                    continue
                }
                if let value = check(pair.value, against: valueSchema, at: path.key(key), keyMark: pair.key.mark) {
                    kept.append(Node.Pair(key: pair.key, value: value))
                }
            }
            return Node(.mapping(kept), mark: node.mark)
        case .array(let itemSchema):
            guard let items = node.sequence else { return mismatch(node, expected: "array", at: path) }
            var kept: [Node] = []
            for (i, item) in items.enumerated() {
                if let checked = check(item, against: itemSchema, at: path.index(i)) { kept.append(checked) }
            }
            return Node(.sequence(kept), mark: node.mark)
        case .flinkConfiguration:
            return flattenConfiguration(node, at: path)
        case .freeForm:
            recordNested(node, at: path)
            return node
        }
    }

    private mutating func checkObject(_ node: Node, properties: [Property], required: [String], at path: FieldPath) -> Node? {
        guard let pairs = node.mapping else { return mismatch(node, expected: "object", at: path) }
        var kept: [Node.Pair] = []
        var seen: Set<String> = []
        for pair in pairs {
            guard let name = pair.key.scalar?.text else {
                report(.error, path, FieldError.invalidType(expected: "field name", got: pair.key), at: pair.key.mark)
                continue
            }
            let childPath = path.child(name)
            guard let property = properties.first(where: { $0.name == name }) else {
                sourceMap.record(childPath, value: pair.value.mark, key: pair.key.mark)
                report(.error, childPath, FieldError.unknownField(name, known: properties.map(\.name)), at: pair.key.mark)
                continue
            }
            seen.insert(name)
            switch property.local {
            case .managed(let reason):
                sourceMap.record(childPath, value: pair.value.mark, key: pair.key.mark)
                report(.warning, childPath, "Ignored: \(reason); the value in the manifest is not used", at: pair.key.mark)
                continue
            case .ignored(let reason) where !pair.value.isNull:
                report(.warning, childPath, "Ignored: Kubernetes-only field, accepted for compatibility (\(reason))", at: pair.key.mark)
            default:
                break
            }
            if let value = check(pair.value, against: property.schema, at: childPath, keyMark: pair.key.mark) {
                kept.append(Node.Pair(key: pair.key, value: value))
            }
        }
        for name in required where !seen.contains(name) {
            report(.error, path.child(name), FieldError.required(), at: node.mark)
        }
        for name in required where seen.contains(name) && node[name]?.isNull == true {
            report(.error, path.child(name), FieldError.required(), at: node[name]!.mark)
        }
        return Node(.mapping(kept), mark: node.mark)
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
                checker.sourceMap.record(leafPath, value: node.mark, key: keyMark)
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
        return Node(.mapping(flat), mark: node.mark)
    }

    /// Records positions inside free-form values (pod templates) so warnings about them can
    /// point at the exact line.
    private mutating func recordNested(_ node: Node, at path: FieldPath) {
        switch node.content {
        case .scalar: break
        case .sequence(let items):
            for (i, item) in items.enumerated() {
                sourceMap.record(path.index(i), value: item.mark)
                recordNested(item, at: path.index(i))
            }
        case .mapping(let pairs):
            for pair in pairs {
                guard let name = pair.key.scalar?.text else { continue }
                sourceMap.record(path.child(name), value: pair.value.mark, key: pair.key.mark)
                recordNested(pair.value, at: path.child(name))
            }
        }
    }
}
