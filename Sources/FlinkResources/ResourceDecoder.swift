import YAML

/// One manifest document after strict decoding.
public struct DecodedDocument: Sendable {
    /// Position of the document in its file, from 0 (items of a `kind: List` count one each;
    /// skipped documents of other APIs count too).
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

/// A document that is not a Flinklet resource and is passed over: another API's object that
/// shares the directory (a `v1` ConfigMap, an Ingress, a HorizontalPodAutoscaler) or a
/// kustomize file. It never makes its file invalid.
public struct SkippedDocument: Sendable, Hashable, CustomStringConvertible {
    /// `v1/ConfigMap flink-config`, or the file name for a whole file (`kustomization.yaml`).
    public var subject: String
    public var reason: Reason
    public var location: SourceLocation

    /// Why a document is skipped.
    public enum Reason: String, Sendable, Hashable, CustomStringConvertible {
        /// Another API's object: its apiVersion is outside `flink.apache.org`.
        case notAFlinkletKind = "not a Flinklet kind"
        /// A kustomize file (`kustomization.yaml`), skipped whole.
        case kustomization = "a kustomize file, not a Flinklet manifest"

        public var description: String { rawValue }
    }

    public init(subject: String, reason: Reason, location: SourceLocation) {
        self.subject = subject
        self.reason = reason
        self.location = location
    }

    /// `skipped: v1/ConfigMap flink-config: not a Flinklet kind (cm.yaml:1:1)`.
    public var description: String { "skipped: \(subject): \(reason) (\(location))" }

    /// The kustomize file names (`kustomize` reads the first it finds of these).
    public static let kustomizationFileNames: Set<String> = ["kustomization.yaml", "kustomization.yml", "Kustomization"]
}

/// Decodes manifest documents into Flinklet's resource types, strictly: wrong apiVersion or
/// kind, unknown fields, wrong types, values outside an enumeration or below a minimum, and
/// missing required fields are all reported, each at its `file:line:column`.
///
/// Guarantees: never throws and never traps, whatever the input; every document yields a
/// `DecodedDocument` whose diagnostics say why it is unusable when it is.
public enum ResourceDecoder {
    public static let supportedKinds = ResourceKind.allCases.map(\.rawValue)
    /// Upstream's blue/green kind (`flink.apache.org/v1beta1`), which Flinklet does not run yet.
    public static let blueGreenKind = "FlinkBlueGreenDeployment"

    /// Decodes every document of a parsed file. A Kubernetes `List` (`apiVersion: v1`,
    /// `kind: List`, `items: [...]`) contributes its items.
    public static func decode(_ documents: [Document], file: String) -> [DecodedDocument] {
        decodeAll(documents, file: file).decoded
    }

    /// Decodes every document of a parsed file, passing over documents of other APIs (see
    /// `foreign(_:file:mark:)`), which are returned apart.
    public static func decodeAll(_ documents: [Document], file: String) -> (decoded: [DecodedDocument], skipped: [SkippedDocument]) {
        var decoded: [DecodedDocument] = []
        var skipped: [SkippedDocument] = []
        func add(_ root: Node, mark: Mark) {
            if let foreign = foreign(root, file: file, mark: mark) {
                skipped.append(foreign)
            } else {
                decoded.append(decode(root, documentMark: mark, index: decoded.count + skipped.count, file: file))
            }
        }
        for document in documents {
            guard let root = document.root else { continue }
            if root["kind"]?.scalar?.text == "List", root["apiVersion"]?.scalar?.text == "v1", let items = root["items"]?.sequence {
                for item in items { add(item, mark: item.mark) }
            } else {
                add(root, mark: document.mark)
            }
        }
        return (decoded, skipped)
    }

    /// Whether a document is labelled as a canary (see `ObjectMeta.isCanary`).
    static func isCanary(_ root: Node) -> Bool {
        root["metadata"]?["labels"]?[FlinkAPI.canaryLabel]?.scalar?.text.lowercased() == "true"
    }

    /// The group of an `apiVersion`: `flink.apache.org` of `flink.apache.org/v1beta1`, and
    /// `""` (the core group) of `v1`.
    public static func group(ofAPIVersion apiVersion: String) -> String {
        guard let slash = apiVersion.firstIndex(of: "/") else { return "" }
        return String(apiVersion[..<slash])
    }

    /// A document of another API, which Flinklet skips: it names an `apiVersion` outside the
    /// `flink.apache.org` group and a `kind`. Anything else — a Flink kind, a document without
    /// apiVersion or kind, a non-object — is decoded, and reported when wrong.
    public static func foreign(_ root: Node, file: String, mark: Mark) -> SkippedDocument? {
        guard root.mapping != nil, let apiVersion = root["apiVersion"]?.scalar?.text, !apiVersion.isEmpty,
              let kind = root["kind"]?.scalar?.text, !kind.isEmpty,
              group(ofAPIVersion: apiVersion) != FlinkAPI.group else { return nil }
        var subject = "\(apiVersion)/\(kind)"
        if let name = root["metadata"]?["name"]?.scalar?.text, !name.isEmpty { subject += " " + name }
        return SkippedDocument(subject: subject, reason: .notAFlinkletKind, location: SourceLocation(file: file, mark: mark))
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
        if kindNode.scalar?.text == blueGreenKind {
            let name = root["metadata"]?["name"]?.scalar?.text
            let namespace = root["metadata"]?["namespace"]?.scalar?.text ?? ObjectMeta.defaultNamespace
            let subject = name.map { " (\(blueGreenKind.lowercased()) \"\(namespace)/\($0)\")" } ?? ""
            return fail("kind", FieldError.unsupported(blueGreenKind, supported: supportedKinds)
                        + ": \(blueGreenKind) is not supported yet by Flinklet\(subject); deploy its FlinkDeployment spec as a FlinkDeployment instead", at: kindNode.mark)
        }
        guard let kindText = kindNode.scalar?.text, let kind = ResourceKind(rawValue: kindText) else {
            return fail("kind", FieldError.unsupported(kindNode.scalar?.text ?? kindNode.description, supported: supportedKinds), at: kindNode.mark)
        }

        if let name = root["metadata"]?["name"]?.scalar?.text, !name.isEmpty {
            let namespace = root["metadata"]?["namespace"]?.scalar?.text
            result.id = ResourceID(kind: kind, namespace: namespace.flatMap { $0.isEmpty ? nil : $0 } ?? ObjectMeta.defaultNamespace, name: name)
        }

        var checker = SchemaChecker(file: file)
        var checked = checker.check(root, against: ResourceSchemas.threadLocal(for: kind), at: .root)
        result.diagnostics = checker.diagnostics
        // `spec` is required, except of a canary (upstream's canaries have none; its CRD requires
        // no spec, so ours does not either): a canary without one reads as an empty spec.
        if root["spec"] == nil || root["spec"]!.isNull {
            if let pairs = checked?.mapping, kind == .flinkDeployment || kind == .flinkSessionJob, isCanary(root) {
                checked = Node(.mapping(pairs + [Node.Pair(key: .scalar("spec"), value: Node(.mapping([])))]), mark: root.mark)
            } else {
                result.diagnostics.append(Diagnostic(.error, "spec", FieldError.required(), at: SourceLocation(file: file, mark: root.mark)))
            }
        }

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
