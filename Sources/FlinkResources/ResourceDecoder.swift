import YAML

/// One manifest document after strict decoding.
public struct DecodedDocument: Sendable {
    /// Position of the document in its file, from 0 (items of a `kind: List` count one each).
    public var index: Int
    /// The resource's identity when the document could be named (kind and metadata.name were
    /// readable), even if it has errors — so an invalid edit can be reported on the resource.
    public var id: ResourceID?
    /// The decoded resource. Present whenever the fields needed to build it were usable; fields
    /// that failed the schema are left out of it. Use it only when `diagnostics` has no errors.
    public var resource: FlinkResource?
    public var diagnostics: [Diagnostic]
    public var sourceMap: SourceMap

    public var isValid: Bool { resource != nil && !diagnostics.hasErrors }
}

/// Decodes manifest documents into Flinklet's resource types, strictly: wrong apiVersion or
/// kind, unknown fields, wrong types, values outside an enumeration or below a minimum, and
/// missing required fields are all reported, each at its `file:line:column`.
///
/// Guarantees: never throws and never traps, whatever the input; every document yields a
/// `DecodedDocument` whose diagnostics say why it is unusable when it is.
public enum ResourceDecoder {
    public static let supportedKinds = ResourceKind.allCases.map(\.rawValue)

    /// Decodes every document of a parsed file. A Kubernetes `List` (`apiVersion: v1`,
    /// `kind: List`, `items: [...]`) contributes its items.
    public static func decode(_ documents: [Document], file: String) -> [DecodedDocument] {
        var decoded: [DecodedDocument] = []
        for document in documents {
            guard let root = document.root else { continue }
            if root["kind"]?.scalar?.text == "List", root["apiVersion"]?.scalar?.text == "v1", let items = root["items"]?.sequence {
                for item in items {
                    decoded.append(decode(item, documentMark: item.mark, index: decoded.count, file: file))
                }
            } else {
                decoded.append(decode(root, documentMark: document.mark, index: decoded.count, file: file))
            }
        }
        return decoded
    }

    public static func decode(_ root: Node, documentMark: Mark, index: Int = 0, file: String) -> DecodedDocument {
        var result = DecodedDocument(index: index, id: nil, resource: nil, diagnostics: [],
                                     sourceMap: SourceMap(file: file, documentMark: documentMark, root: root))
        func fail(_ path: FieldPath, _ message: String, at mark: Mark) -> DecodedDocument {
            result.diagnostics.append(Diagnostic(.error, path, message, at: SourceLocation(file: file, mark: mark)))
            return result
        }

        guard root.mapping != nil else {
            return fail(.root, "a manifest must be an object with apiVersion, kind, metadata and spec; found \(root.kindDescription)", at: root.mark)
        }
        guard let apiVersionNode = root["apiVersion"], !apiVersionNode.isNull else {
            return fail("apiVersion", FieldError.required("supported value: \(FieldError.quoted(FlinkAPI.apiVersion))"), at: root.mark)
        }
        guard let apiVersion = apiVersionNode.scalar?.text, apiVersion == FlinkAPI.apiVersion else {
            return fail("apiVersion", FieldError.unsupported(apiVersionNode.scalar?.text ?? apiVersionNode.description, supported: [FlinkAPI.apiVersion]), at: apiVersionNode.mark)
        }
        guard let kindNode = root["kind"], !kindNode.isNull else {
            return fail("kind", FieldError.required("supported values: " + supportedKinds.map(FieldError.quoted).joined(separator: ", ")), at: root.mark)
        }
        guard let kindText = kindNode.scalar?.text, let kind = ResourceKind(rawValue: kindText) else {
            return fail("kind", FieldError.unsupported(kindNode.scalar?.text ?? kindNode.description, supported: supportedKinds), at: kindNode.mark)
        }

        if let name = root["metadata"]?["name"]?.scalar?.text, !name.isEmpty {
            let namespace = root["metadata"]?["namespace"]?.scalar?.text
            result.id = ResourceID(kind: kind, namespace: namespace.flatMap { $0.isEmpty ? nil : $0 } ?? ObjectMeta.defaultNamespace, name: name)
        }

        var checker = SchemaChecker(file: file)
        let checked = checker.check(root, against: ResourceSchemas.threadLocal(for: kind), at: .root)
        result.diagnostics = checker.diagnostics

        if let checked, checked["metadata"]?["name"] != nil, checked["spec"] != nil {
            do {
                switch kind {
                case .flinkDeployment:
                    result.resource = .deployment(try NodeDecoder().decode(FlinkDeployment.self, from: checked))
                case .flinkSessionJob:
                    result.resource = .sessionJob(try NodeDecoder().decode(FlinkSessionJob.self, from: checked))
                case .flinkStateSnapshot:
                    result.resource = .snapshot(try NodeDecoder().decode(FlinkStateSnapshot.self, from: checked))
                }
            } catch {
                // The schema admitted something the Swift types cannot hold: report it rather than trap.
                result.diagnostics.append(Diagnostic(.error, .root, "internal error: the \(kind.rawValue) schema and model disagree: \(error)",
                                                     at: SourceLocation(file: file, mark: root.mark)))
            }
        }
        if let id = result.id {
            for i in result.diagnostics.indices { result.diagnostics[i].resource = id }
        }
        return result
    }
}
