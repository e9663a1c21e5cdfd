import FlinkResources
import Foundation
import Manifests
import Store
import YAML

/// Writes: each is a file write into the manifest directory (atomic, as `flinklet apply` and
/// `delete` write), told to the operator's `DirectorySource` at once; the answer is the
/// object once the operator has recorded it (or as written, when that takes too long).
extension KubeAPIServer {
    /// How long a write waits for the operator to record what it wrote before answering with
    /// the object as written.
    static let recordWait: Duration = .seconds(5)

    /// The manifest that defines a resource now.
    struct Definition {
        var file: String
        /// The document as written (nil when the file holds other documents too).
        var document: JSONValue?
        var resource: FlinkResource?
        var line: Int
        /// Other documents in the file.
        var neighbours: Int
    }

    func definition(of id: ResourceID) async -> Definition? {
        guard let desired = await source.object(id), let data = FileManager.default.contents(atPath: desired.file) else { return nil }
        let bytes = [UInt8](data)
        let file = ManifestReader.read(bytes: bytes, path: desired.file)
        guard let object = file.objects.first(where: { $0.id == id }) else { return nil }
        let neighbours = file.objects.count - 1 + file.skipped.count
        let line = object.sourceMap.location(of: "metadata.name").mark?.line ?? object.sourceMap.documentMark.line
        var document: JSONValue?
        if neighbours == 0, let text = try? DocumentText(bytes: bytes),
           let piece = text.pieces.first(where: { $0.objectCount > 0 }), piece.listItems == nil, let root = piece.document.root {
            document = JSONValue(root)
        }
        return Definition(file: desired.file, document: document, resource: object.resource, line: line, neighbours: neighbours)
    }

    private func refuseShared(_ definition: Definition, id: ResourceID) throws {
        guard definition.neighbours > 0 else { return }
        throw APIError.conflict(id.kind, id.name, "it is defined in \(definition.file):\(definition.line) together with "
            + "\(definition.neighbours) other \(definition.neighbours == 1 ? "document" : "documents"); the API never rewrites a file "
            + "holding several documents: edit that file, or move the object into a file of its own")
    }

    // MARK: Verbs

    func create(_ request: APIRequest, kind: ResourceKind, namespace: String) async throws -> APIResponse {
        let body = try Self.body(request)
        guard let name = body["metadata"]?["name"]?.stringValue, !name.isEmpty else {
            throw invalid(kind, name: "", [Diagnostic(.error, "metadata.name", FieldError.required("name or generateName is required"))])
        }
        let id = ResourceID(kind: kind, namespace: namespace, name: name)
        await cache.catchUp()
        let defined = await definition(of: id) != nil
        let recorded = await cache.object(id) != nil
        if defined || recorded {
            throw APIError(code: 409, reason: "AlreadyExists", message: "\(kind.plural).\(FlinkAPI.group) \"\(name)\" already exists",
                           details: APIError.details(name: name, kind: kind))
        }
        let manager = try fieldManager(request, apply: false)
        return try await write(request, body: body, id: id, existing: nil, created: true) { written, _ in
            var fields = ManagedFields()
            fields.update(from: .object([:]), to: written, manager: manager, now: Date())
            return fields
        }
    }

    func replace(_ request: APIRequest, id: ResourceID) async throws -> APIResponse {
        let body = try Self.body(request)
        await cache.catchUp()
        let current = await cache.object(id)
        guard let existing = await definition(of: id) else { throw APIError.notFound(id.kind, id.name) }
        try refuseShared(existing, id: id)
        try checkVersion(body, current: current, id: id)
        let manager = try fieldManager(request, apply: false)
        return try await write(request, body: body, id: id, existing: existing, created: false) { written, owners in
            var fields = owners
            fields.update(from: existing.document ?? .object([:]), to: written, manager: manager, now: Date())
            return fields
        }
    }

    func patch(_ request: APIRequest, id: ResourceID) async throws -> APIResponse {
        let type = (request.header("content-type") ?? "").split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
        await cache.catchUp()
        let current = await cache.object(id)
        let existing = await definition(of: id)
        if let existing { try refuseShared(existing, id: id) }
        let apply = type == "application/apply-patch+yaml"
        let manager = try fieldManager(request, apply: apply)
        switch type {
        case "application/apply-patch+yaml":
            let applied = try Self.body(request)
            // Go's strconv.ParseBool, as the API server reads boolean parameters.
            let force = ["1", "t", "T", "TRUE", "true", "True"].contains(request.query["force"] ?? "")
            let base = existing?.document ?? .object([:])
            if existing != nil { try checkVersion(applied, current: current, id: id) }
            let owners = existing == nil ? ManagedFields() : ownership.current(id, uid: current?.record.uid, document: base, now: Date())
            var fields = owners
            var merged: JSONValue
            do {
                merged = try fields.apply(applied, to: base, manager: manager, force: force, now: Date())
            } catch {
                // kubectl's own manager may take fields the live object still has as its
                // client-side apply last left them (Kubernetes' last-applied conflict rule).
                guard manager == Self.kubectlManager, Self.conflictsAllowedByLastApplied(error, live: base) else { throw error.apiError }
                fields = owners
                merged = try fields.apply(applied, to: base, manager: manager, force: true, now: Date())
            }
            merged = Self.updatingLastApplied(merged, applied: applied, manager: manager)
            let result = fields
            return try await write(request, body: merged, id: id, existing: existing, created: existing == nil) { _, _ in result }
        case "application/merge-patch+json", "application/json-patch+json":
            guard let existing, let base = existing.document else { throw APIError.notFound(id.kind, id.name) }
            guard let patch = JSONText.parse(request.body) else { throw APIError.badRequest("the body of the request is not JSON") }
            let patched: JSONValue
            var explicit: ManagedFields?
            if type == "application/merge-patch+json" {
                try checkVersion(patch, current: current, id: id)
                patched = Patch.merge(base, patch)
            } else if Self.onlyOwnership(patch), let current {
                // kubectl's move of client-side apply's fields to server-side apply: a JSON patch
                // of `metadata.managedFields` (and `resourceVersion`, as a precondition) against
                // the object as served. The manifest stays as it is.
                var served = JSONText.parse(current.json) ?? .object([:])
                var metadata = served["metadata"] ?? .object([:])
                metadata[field: "managedFields"] = ownership.current(id, uid: current.record.uid, document: base, now: Date()).json
                served[field: "metadata"] = metadata
                let result: JSONValue
                do { result = try Patch.json(served, patch) } catch { throw APIError(code: 422, reason: "Invalid", message: "the JSON patch cannot be applied: \(error)") }
                try checkVersion(result, current: current, id: id)
                if let value = result["metadata"]?["managedFields"] {
                    guard let fields = ManagedFields(json: value) else {
                        throw invalid(id.kind, name: id.name, [Diagnostic(.error, "metadata.managedFields", "Invalid value: the managed fields are not valid")])
                    }
                    explicit = fields
                }
                patched = base
            } else {
                do {
                    patched = try Patch.json(base, patch)
                } catch {
                    // Paths taken from the served object may name fields the file leaves to defaults.
                    let live = current.flatMap { JSONText.parse($0.json) }.map(Self.manifest) ?? base
                    do { patched = try Patch.json(live, patch) } catch { throw APIError(code: 422, reason: "Invalid", message: "the JSON patch cannot be applied: \(error)") }
                }
            }
            return try await write(request, body: patched, id: id, existing: existing, created: false) { written, owners in
                if let explicit { return explicit }
                var fields = owners
                fields.update(from: base, to: written, manager: manager, now: Date())
                return fields
            }
        default:
            throw APIError(code: 415, reason: "UnsupportedMediaType",
                           message: "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml")
        }
    }

    func delete(_ request: APIRequest, id: ResourceID) async throws -> APIResponse {
        await cache.catchUp()
        let current = await cache.object(id)
        guard let existing = await definition(of: id) else {
            // Being torn down already: still there, and still deletable.
            if let current { return .jsonBytes(current.json) }
            throw APIError.notFound(id.kind, id.name)
        }
        try refuseShared(existing, id: id)
        if let body = JSONText.parse(request.body), let uid = body["preconditions"]?["uid"]?.stringValue, let current, current.record.uid != uid {
            throw APIError.conflict(id.kind, id.name, "Precondition failed: UID in precondition: \(uid), UID in object meta: \(current.record.uid)")
        }
        if !Self.isDryRun(request) {
            await source.noteRemoval(of: [existing.file])
            do { try AtomicFile.remove(existing.file) } catch { throw APIError.internalError("\(error)") }
            ownership.remove(id)
            await source.relist()
        }
        guard let current, var object = JSONText.parse(current.json) else {
            return .json(.object(["kind": .string("Status"), "apiVersion": .string("v1"), "metadata": .object([:]),
                                  "status": .string("Success"), "details": APIError.details(name: id.name, kind: id.kind)]))
        }
        if object["metadata"]?["deletionTimestamp"] == nil {
            var metadata = object["metadata"] ?? .object([:])
            metadata[field: "deletionTimestamp"] = .string(timestamp(Date()))
            object[field: "metadata"] = metadata
        }
        return .json(object)
    }

    /// `deletecollection`: deletes every object of the namespace the label and field selectors
    /// match, each as `delete` does (its file removed; shown with a `deletionTimestamp` until
    /// torn down), and answers with the list of them. An object that cannot be deleted (one of
    /// several documents in a file) does not stop the others; the answer is then the first
    /// such error, naming every object left.
    func deleteCollection(_ request: APIRequest, kind: ResourceKind, namespace: String) async throws -> APIResponse {
        let filter = try filter(request, kind: kind, namespace: namespace)
        await cache.catchUp()
        let (revision, objects) = await cache.list(filter)
        var items: [JSONValue] = []
        var failures: [APIError] = []
        for object in objects {
            do {
                let answer = try await delete(request, id: object.record.id)
                if case .bytes(let bytes) = answer.body, let item = JSONText.parse(bytes), item["kind"]?.stringValue == kind.rawValue {
                    items.append(item)
                }
            } catch let error as APIError {
                failures.append(error)
            }
        }
        if var first = failures.first {
            if failures.count > 1 { first.message = "[" + failures.map(\.message).joined(separator: ", ") + "]" }
            throw first
        }
        return .json(.object(["apiVersion": .string(FlinkAPI.apiVersion), "kind": .string("\(kind.rawValue)List"),
                              "metadata": .object(["resourceVersion": .string(String(revision))]), "items": .array(items)]))
    }

    // MARK: Writing

    /// Checks `body`, writes it (unless `dryRun=All`) with the fields' owners `owners` gives
    /// (from the manifest as written and the owners before), and answers with the recorded
    /// object and its `managedFields`.
    private func write(_ request: APIRequest, body: JSONValue, id: ResourceID, existing: Definition?, created: Bool,
                       owners: (JSONValue, ManagedFields) -> ManagedFields) async throws -> APIResponse {
        let validation = FieldValidation(rawValue: request.query["fieldValidation"] ?? "") ?? .warn
        var manifest = try Self.checkedIdentity(body, id: id)
        manifest = Self.manifest(manifest)
        var (file, object) = Self.read(manifest, id: id)
        var warnings: [String] = []
        let unknown = object?.diagnostics.filter { $0.isError && $0.message.hasPrefix("Unknown field:") } ?? []
        if !unknown.isEmpty, validation != .strict {
            for diagnostic in unknown {
                manifest = Self.removing(diagnostic.path, from: manifest)
                if validation == .warn { warnings.append("unknown field \"\(diagnostic.path)\"") }
            }
            (file, object) = Self.read(manifest, id: id)
        }
        guard let object else {
            throw invalid(id.kind, name: id.name, file.diagnostics.errors.isEmpty
                          ? [Diagnostic(.error, .root, "the object is not a \(id.kind.rawValue)")] : file.diagnostics.errors)
        }
        let errors = object.diagnostics.errors
        guard errors.isEmpty, let resource = object.resource else { throw invalid(id.kind, name: id.name, errors) }
        warnings += object.diagnostics.warnings.map(\.detail).map { $0.hasPrefix("warning: ") ? String($0.dropFirst(9)) : $0 }

        let unchanged = existing?.resource.map { $0.contentHash == resource.contentHash } ?? false
        let path = existing?.file ?? directory.newFile(for: id)
        if existing == nil, FileManager.default.fileExists(atPath: path) {
            throw APIError.conflict(id.kind, id.name, "cannot write it to \(path): the file exists and does not define it")
        }
        let dryRun = Self.isDryRun(request)
        let uid = await cache.object(id)?.record.uid
        let before = existing.map { ownership.current(id, uid: uid, document: $0.document ?? .object([:]), now: Date()) } ?? ManagedFields()
        let fields = owners(manifest, before)
        var document = existing?.document ?? manifest
        if !dryRun, !unchanged {
            let text: String
            do { text = try emitYAML([manifest.node]) } catch { throw APIError.internalError("cannot write YAML: \(error)") }
            do {
                if !directory.exists { try FileManager.default.createDirectory(atPath: directory.path, withIntermediateDirectories: true) }
                try AtomicFile.write(Array(text.utf8), to: path)
            } catch {
                throw APIError.internalError("\(error)")
            }
            // The document as the file reads back, so that a later comparison sees only real edits.
            document = (try? parseYAML(Array(text.utf8)))?.first?.root.map(JSONValue.init) ?? manifest
            await source.relist()
        }
        let status = created ? 201 : 200
        var response: APIResponse
        if !dryRun, let recorded = await awaitRecorded(id, resource: resource) {
            saveOwnership(id, uid: recorded.record.uid, document: document, fields: fields)
            await cache.refresh(id)
            response = .json(Self.withManagedFields(JSONText.parse(recorded.json) ?? .object([:]), fields), status: status)
        } else {
            if !dryRun {
                saveOwnership(id, uid: uid, document: document, fields: fields)
                await cache.refresh(id)
            }
            // Not recorded (yet): the object as written, with what the server knows of it.
            var answer = manifest
            if let current = await cache.object(id), var served = JSONText.parse(current.json) {
                served[field: "spec"] = manifest["spec"]
                var metadata = served["metadata"] ?? .object([:])
                metadata[field: "labels"] = manifest["metadata"]?["labels"]
                metadata[field: "annotations"] = manifest["metadata"]?["annotations"]
                served[field: "metadata"] = metadata
                answer = served
            } else {
                var metadata = answer["metadata"] ?? .object([:])
                metadata[field: "creationTimestamp"] = .string(timestamp(Date()))
                metadata[field: "uid"] = .string(UUID().uuidString.lowercased())
                metadata[field: "generation"] = .int(1)
                answer[field: "metadata"] = metadata
            }
            response = .json(Self.withManagedFields(answer, fields), status: status)
        }
        for warning in warnings { response.headers.append(("Warning", "299 - \"\(warning.replacingOccurrences(of: "\"", with: "\\\""))\"")) }
        return response
    }

    /// Waits until the Store holds `resource`'s spec and metadata.
    /// Records the fields' owners after a write; a failure is logged (the write itself stands,
    /// and the owners stay as last recorded, the change counted as the manifest file's).
    private func saveOwnership(_ id: ResourceID, uid: String?, document: JSONValue, fields: ManagedFields) {
        do { try ownership.save(id, uid: uid, document: document, fields: fields) } catch {
            logger.error("cannot record the managed fields", metadata: ["resource.name": "\(id.name)", "error": "\(error)"])
        }
    }

    private func awaitRecorded(_ id: ResourceID, resource: FlinkResource) async -> CachedObject? {
        let metadata = ResourceMetadata(labels: resource.metadata.labels, annotations: resource.metadata.annotations)
        let specHash = resource.specHash
        let deadline = ContinuousClock.now + Self.recordWait
        while ContinuousClock.now < deadline {
            await cache.catchUp()
            if let object = await cache.object(id), object.record.specHash == specHash, object.record.resourceMetadata == metadata,
               object.record.deletedAt == nil {
                return object
            }
            try? await Task.sleep(for: .milliseconds(5))
        }
        return nil
    }

    // MARK: Field managers

    /// kubectl's server-side apply manager (`kubectl apply --server-side`).
    static let kubectlManager = "kubectl"
    static let lastAppliedAnnotation = "kubectl.kubernetes.io/last-applied-configuration"

    /// The request's field manager: `fieldManager`, else the client's name from its User-Agent
    /// (as the API server does). An apply must name one; `force` is for applies only.
    func fieldManager(_ request: APIRequest, apply: Bool) throws -> String {
        var errors: [Diagnostic] = []
        let named = request.query["fieldManager"] ?? ""
        if apply, named.isEmpty { errors.append(Diagnostic(.error, "fieldManager", FieldError.required("is required for apply patch"))) }
        if named.count > 128 { errors.append(Diagnostic(.error, "fieldManager", "Too long: may not be more than 128 bytes")) }
        if !apply, request.query["force"] != nil { errors.append(Diagnostic(.error, "force", "Forbidden: may not be specified for non-apply patch")) }
        if !errors.isEmpty {
            let summary = errors.count == 1 ? errors[0].detail : "[" + errors.map(\.detail).joined(separator: ", ") + "]"
            let options = request.method == "PATCH" ? "PatchOptions" : request.method == "POST" ? "CreateOptions" : "UpdateOptions"
            throw APIError(code: 422, reason: "Invalid", message: "\(options).meta.k8s.io \"\" is invalid: \(summary)")
        }
        if !named.isEmpty { return named }
        let agent = request.header("user-agent") ?? ""
        let prefix = agent.split(separator: "/", maxSplits: 1).first.map(String.init) ?? ""
        return prefix.isEmpty ? "unknown" : String(prefix.prefix(128))
    }

    /// Whether a JSON patch names only `metadata.managedFields` and `metadata.resourceVersion`.
    static func onlyOwnership(_ patch: JSONValue) -> Bool {
        guard case .array(let operations) = patch, !operations.isEmpty else { return false }
        return operations.allSatisfy {
            guard let path = $0["path"]?.stringValue else { return false }
            return path.hasPrefix("/metadata/managedFields") || path == "/metadata/resourceVersion"
        }
    }

    /// Kubernetes lets kubectl's server-side apply take the fields that client-side apply last
    /// set, where the object still holds them as its `last-applied-configuration` says.
    static func conflictsAllowedByLastApplied(_ conflicts: ManagedFields.Conflicts, live: JSONValue) -> Bool {
        guard let text = live["metadata"]?["annotations"]?[field: lastAppliedAnnotation]?.stringValue,
              let lastApplied = JSONText.parse(text) else { return false }
        let applied = ManagedFields.leaves(of: lastApplied)
        let current = ManagedFields.leaves(of: live)
        return conflicts.conflicts.allSatisfy { applied[$0.path] != nil && applied[$0.path] == current[$0.path] }
    }

    /// Kubernetes keeps the `last-applied-configuration` annotation of an object that has one
    /// up to date with kubectl's server-side applies, so client-side apply can take over again.
    static func updatingLastApplied(_ object: JSONValue, applied: JSONValue, manager: String) -> JSONValue {
        guard manager == kubectlManager, object["metadata"]?["annotations"]?[field: lastAppliedAnnotation] != nil else { return object }
        var configuration = applied
        var metadata = configuration["metadata"] ?? .object([:])
        var annotations = metadata["annotations"] ?? .object([:])
        annotations[field: lastAppliedAnnotation] = nil
        metadata[field: "annotations"] = annotations == .object([:]) ? nil : annotations
        configuration[field: "metadata"] = metadata
        var result = object
        var resultMetadata = result["metadata"] ?? .object([:])
        var resultAnnotations = resultMetadata["annotations"] ?? .object([:])
        resultAnnotations[field: lastAppliedAnnotation] = .string(JSONText.string(configuration) + "\n")
        resultMetadata[field: "annotations"] = resultAnnotations
        result[field: "metadata"] = resultMetadata
        return result
    }

    /// `object` with `metadata.managedFields` (none when nobody owns a field).
    static func withManagedFields(_ object: JSONValue, _ fields: ManagedFields) -> JSONValue {
        guard !fields.entries.isEmpty else { return object }
        var result = object
        var metadata = result["metadata"] ?? .object([:])
        metadata[field: "managedFields"] = fields.json
        result[field: "metadata"] = metadata
        return result
    }

    enum FieldValidation: String { case strict = "Strict", warn = "Warn", ignore = "Ignore" }

    static func isDryRun(_ request: APIRequest) -> Bool { request.query["dryRun"] == "All" }

    /// The request body: JSON, or YAML for server-side apply.
    static func body(_ request: APIRequest) throws -> JSONValue {
        if let value = JSONText.parse(request.body) { return value }
        if let root = (try? parseYAML(request.body))?.first?.root { return JSONValue(root) }
        throw APIError.badRequest("the body of the request is neither JSON nor YAML")
    }

    private func checkVersion(_ body: JSONValue, current: CachedObject?, id: ResourceID) throws {
        guard let version = body["metadata"]?["resourceVersion"]?.stringValue, !version.isEmpty else { return }
        guard let current, String(current.record.revision) == version else {
            throw APIError.conflict(id.kind, id.name, "the object has been modified; please apply your changes to the latest version and try again")
        }
    }

    /// The body with apiVersion, kind, name and namespace checked against the request.
    static func checkedIdentity(_ body: JSONValue, id: ResourceID) throws -> JSONValue {
        guard case .object = body else { throw APIError.badRequest("the body of the request must be an object") }
        var object = body
        if let version = object["apiVersion"]?.stringValue, version != FlinkAPI.apiVersion {
            throw APIError.badRequest("the API version in the data (\(version)) does not match the expected API version (\(FlinkAPI.apiVersion))")
        }
        if let kind = object["kind"]?.stringValue, kind != id.kind.rawValue {
            throw APIError.badRequest("the kind in the data (\(kind)) does not match the expected kind (\(id.kind.rawValue))")
        }
        object[field: "apiVersion"] = .string(FlinkAPI.apiVersion)
        object[field: "kind"] = .string(id.kind.rawValue)
        var metadata = object["metadata"] ?? .object([:])
        if let name = metadata["name"]?.stringValue, name != id.name {
            throw APIError.badRequest("the name of the object (\(name)) does not match the name on the URL (\(id.name))")
        }
        if let namespace = metadata["namespace"]?.stringValue, namespace != id.namespace {
            throw APIError.badRequest("the namespace of the provided object does not match the namespace sent on the request")
        }
        metadata[field: "name"] = .string(id.name)
        if id.namespace != ObjectMeta.defaultNamespace || metadata["namespace"] != nil { metadata[field: "namespace"] = .string(id.namespace) }
        object[field: "metadata"] = metadata
        return object
    }

    /// What goes into the manifest: the object without status and without the metadata a
    /// server sets.
    static func manifest(_ object: JSONValue) -> JSONValue {
        var manifest = object
        manifest[field: "status"] = nil
        if var metadata = manifest["metadata"] {
            for field in ["uid", "resourceVersion", "generation", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds",
                          "managedFields", "selfLink", "finalizers", "ownerReferences", "generateName"] {
                metadata[field: field] = nil
            }
            for map in ["labels", "annotations"] where metadata[map] == .object([:]) || metadata[map] == .null { metadata[field: map] = nil }
            manifest[field: "metadata"] = metadata
        }
        return manifest
    }

    /// Reads a manifest exactly as the operator would.
    static func read(_ manifest: JSONValue, id: ResourceID) -> (ManifestFile, ManifestObject?) {
        let text = (try? emitYAML([manifest.node])) ?? ""
        let file = ManifestReader.read(bytes: Array(text.utf8), path: "\(id.kind.plural)/\(id.name)")
        return (file, file.objects.first { $0.id == id })
    }

    /// The value without the field at `path` (`spec.job.foo`, `spec.args[2]`, `a[b.c]`).
    static func removing(_ path: FieldPath, from value: JSONValue) -> JSONValue {
        var tokens: [String] = []
        var current = ""
        var inBracket = false
        for c in path.rawValue {
            switch c {
            case "." where !inBracket:
                if !current.isEmpty { tokens.append(current) }
                current = ""
            case "[" where !inBracket:
                if !current.isEmpty { tokens.append(current) }
                current = ""
                inBracket = true
            case "]" where inBracket:
                tokens.append(current)
                current = ""
                inBracket = false
            default: current.append(c)
            }
        }
        if !current.isEmpty { tokens.append(current) }
        func remove(_ node: JSONValue, _ rest: ArraySlice<String>) -> JSONValue {
            guard let first = rest.first else { return node }
            switch node {
            case .object(var o):
                if rest.count == 1 { o[first] = nil } else if let child = o[first] { o[first] = remove(child, rest.dropFirst()) }
                return .object(o)
            case .array(var a):
                guard let i = Int(first), a.indices.contains(i) else { return node }
                if rest.count == 1 { a.remove(at: i) } else { a[i] = remove(a[i], rest.dropFirst()) }
                return .array(a)
            default: return node
            }
        }
        return remove(value, tokens[...])
    }

    /// `422 Invalid`, one cause per diagnostic, worded as the API server words it.
    func invalid(_ kind: ResourceKind, name: String, _ diagnostics: [Diagnostic]) -> APIError {
        let causes: [JSONValue] = diagnostics.map { d in
            let reason = switch d.message {
            case let m where m.hasPrefix("Unsupported value"): "FieldValueNotSupported"
            case let m where m.hasPrefix("Required value"): "FieldValueRequired"
            case let m where m.hasPrefix("Forbidden"): "FieldValueForbidden"
            case let m where m.hasPrefix("Duplicate value"): "FieldValueDuplicate"
            case let m where m.hasPrefix("Too long"): "FieldValueTooLong"
            case let m where m.hasPrefix("Invalid type"): "FieldValueTypeInvalid"
            case let m where m.hasPrefix("Unknown field"): "FieldValueUnknown"
            default: "FieldValueInvalid"
            }
            return .object(["reason": .string(reason), "message": .string(d.message), "field": .string(d.path.rawValue)])
        }
        let summary = diagnostics.count == 1 ? diagnostics[0].detail : "[" + diagnostics.map(\.detail).joined(separator: ", ") + "]"
        var details = APIError.details(name: name, kind: nil).objectValue ?? [:]
        details["group"] = .string(FlinkAPI.group)
        details["kind"] = .string(kind.rawValue)
        details["causes"] = .array(causes)
        return APIError(code: 422, reason: "Invalid", message: "\(kind.rawValue).\(FlinkAPI.group) \"\(name)\" is invalid: \(summary)",
                        details: .object(details))
    }
}
