import FlinkResources

/// The patch formats of the Kubernetes API for custom resources.
enum Patch {
    /// RFC 7386 JSON merge patch: objects merge key by key, `null` removes, anything else
    /// replaces (arrays whole).
    static func merge(_ target: JSONValue, _ patch: JSONValue) -> JSONValue {
        guard case .object(let changes) = patch else { return patch }
        var result = target.objectValue ?? [:]
        for (key, value) in changes {
            if value == .null {
                result[key] = nil
            } else {
                result[key] = merge(result[key] ?? .null, value)
            }
        }
        return .object(result)
    }

    /// Server-side apply, simplified: the applied configuration's fields are set (objects merge
    /// recursively, lists and scalars replace); fields it does not name are kept.
    static func apply(_ target: JSONValue, _ applied: JSONValue) -> JSONValue {
        guard case .object(let changes) = applied, case .object(var result) = target else { return applied }
        for (key, value) in changes { result[key] = apply(result[key] ?? .null, value) }
        return .object(result)
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// RFC 6902 JSON patch: add, remove, replace, move, copy, test.
    static func json(_ target: JSONValue, _ operations: JSONValue) throws(Failure) -> JSONValue {
        guard case .array(let list) = operations else { throw Failure(description: "a JSON patch is an array of operations") }
        var document = target
        for operation in list {
            guard let op = operation["op"]?.stringValue, let path = operation["path"]?.stringValue else {
                throw Failure(description: "each JSON patch operation needs \"op\" and \"path\"")
            }
            let pointer = try Pointer(path)
            switch op {
            case "add":
                guard let value = operation["value"] else { throw Failure(description: "add operation needs a value") }
                document = try pointer.add(value, to: document)
            case "remove":
                document = try pointer.remove(from: document)
            case "replace":
                guard let value = operation["value"] else { throw Failure(description: "replace operation needs a value") }
                _ = try pointer.get(document)
                document = try pointer.remove(from: document)
                document = try pointer.add(value, to: document)
            case "move", "copy":
                guard let from = operation["from"]?.stringValue else { throw Failure(description: "\(op) operation needs \"from\"") }
                let source = try Pointer(from)
                let value = try source.get(document)
                if op == "move" { document = try source.remove(from: document) }
                document = try pointer.add(value, to: document)
            case "test":
                guard let value = operation["value"] else { throw Failure(description: "test operation needs a value") }
                guard try pointer.get(document) == value else { throw Failure(description: "test operation failed at \(path)") }
            default:
                throw Failure(description: "unknown JSON patch operation \"\(op)\"")
            }
        }
        return document
    }

    /// An RFC 6901 JSON pointer.
    struct Pointer {
        var tokens: [String]

        init(_ text: String) throws(Failure) {
            guard text.isEmpty || text.hasPrefix("/") else { throw Failure(description: "invalid JSON pointer \"\(text)\"") }
            tokens = text.isEmpty ? [] : text.dropFirst().split(separator: "/", omittingEmptySubsequences: false).map {
                $0.replacingOccurrences(of: "~1", with: "/").replacingOccurrences(of: "~0", with: "~")
            }
        }

        func get(_ document: JSONValue) throws(Failure) -> JSONValue {
            var current = document
            for token in tokens {
                switch current {
                case .object(let o):
                    guard let next = o[token] else { throw Failure(description: "path \(path) does not exist") }
                    current = next
                case .array(let a):
                    guard let i = Int(token), a.indices.contains(i) else { throw Failure(description: "path \(path) does not exist") }
                    current = a[i]
                default: throw Failure(description: "path \(path) does not exist")
                }
            }
            return current
        }

        var path: String { "/" + tokens.joined(separator: "/") }

        func add(_ value: JSONValue, to document: JSONValue) throws(Failure) -> JSONValue {
            try update(document, tokens[...]) { parent, last throws(Failure) in
                switch parent {
                case .object(var o):
                    o[last] = value
                    return .object(o)
                case .array(var a):
                    if last == "-" { a.append(value) } else {
                        guard let i = Int(last), (0...a.count).contains(i) else { throw Failure(description: "index \(last) out of range at \(path)") }
                        a.insert(value, at: i)
                    }
                    return .array(a)
                default: throw Failure(description: "cannot add at \(path)")
                }
            }
        }

        func remove(from document: JSONValue) throws(Failure) -> JSONValue {
            try update(document, tokens[...]) { parent, last throws(Failure) in
                switch parent {
                case .object(var o):
                    guard o.removeValue(forKey: last) != nil else { throw Failure(description: "path \(path) does not exist") }
                    return .object(o)
                case .array(var a):
                    guard let i = Int(last), a.indices.contains(i) else { throw Failure(description: "path \(path) does not exist") }
                    a.remove(at: i)
                    return .array(a)
                default: throw Failure(description: "path \(path) does not exist")
                }
            }
        }

        private func update(_ node: JSONValue, _ rest: ArraySlice<String>,
                            _ change: (JSONValue, String) throws(Failure) -> JSONValue) throws(Failure) -> JSONValue {
            guard let first = rest.first else { throw Failure(description: "cannot change the whole document") }
            if rest.count == 1 { return try change(node, first) }
            switch node {
            case .object(var o):
                guard let child = o[first] else { throw Failure(description: "path \(path) does not exist") }
                o[first] = try update(child, rest.dropFirst(), change)
                return .object(o)
            case .array(var a):
                guard let i = Int(first), a.indices.contains(i) else { throw Failure(description: "path \(path) does not exist") }
                a[i] = try update(a[i], rest.dropFirst(), change)
                return .array(a)
            default: throw Failure(description: "path \(path) does not exist")
            }
        }
    }
}
