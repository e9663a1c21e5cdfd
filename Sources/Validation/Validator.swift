import FlinkResources

/// Semantic checks of a decoded resource: everything the schema cannot say (names, memory that
/// Flink can start with, jar locations, mode and job combinations, configuration keys Flinklet
/// owns). Pure: no I/O, no clock; the same input always gives the same diagnostics.
///
/// Checks that need other resources (duplicates across files, a session job's cluster) live
/// with whoever sees all resources: `Manifests` for duplicates, the operator for references.
public enum Validator {
    public static func validate(_ resource: FlinkResource, sourceMap: SourceMap) -> [Diagnostic] {
        var context = Context(sourceMap: sourceMap, resource: resource.id)
        NameRules.check(resource.metadata, in: &context)
        JarPinRules.check(resource, in: &context)
        switch resource {
        case .deployment(let deployment):
            DeploymentRules.check(deployment.spec, in: &context)
        case .sessionJob(let job):
            SessionJobRules.check(job.spec, in: &context)
        case .snapshot(let snapshot):
            SnapshotRules.check(snapshot.spec, in: &context)
        }
        return context.diagnostics
    }
}

/// Collects diagnostics, placing each at the position of the field it names.
struct Context {
    let sourceMap: SourceMap
    let resource: ResourceID
    private(set) var diagnostics: [Diagnostic] = []

    init(sourceMap: SourceMap, resource: ResourceID) {
        self.sourceMap = sourceMap
        self.resource = resource
    }

    /// Reports an error at the field's value, or at its key for errors about a whole object.
    mutating func error(_ path: FieldPath, _ message: String, atKey: Bool = false) {
        let location = atKey ? sourceMap.keyLocation(of: path) : sourceMap.location(of: path)
        diagnostics.append(Diagnostic(.error, path, message, at: location, resource: resource))
    }

    mutating func warning(_ path: FieldPath, _ message: String, atKey: Bool = false) {
        let location = atKey ? sourceMap.keyLocation(of: path) : sourceMap.location(of: path)
        diagnostics.append(Diagnostic(.warning, path, message, at: location, resource: resource))
    }
}

enum NameRules {
    /// Upstream's limit for resource names, so every derived name (pods, directories) stays valid.
    static let maxNameLength = 45
    static let maxNamespaceLength = 63

    static func check(_ metadata: ObjectMeta, in context: inout Context) {
        checkLabel(metadata.name, max: maxNameLength, at: "metadata.name", in: &context)
        checkLabel(metadata.namespace, max: maxNamespaceLength, at: "metadata.namespace", in: &context)
    }

    static func checkLabel(_ value: String, max: Int, at path: FieldPath, in context: inout Context) {
        if !isDNSLabel(value) {
            context.error(path, FieldError.invalid(FieldError.quoted(value), "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name', or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"))
        } else if value.utf8.count > max {
            context.error(path, FieldError.tooLong(max: max))
        }
    }

    static func isDNSLabel(_ value: String) -> Bool {
        let bytes = Array(value.utf8)
        guard let first = bytes.first, let last = bytes.last else { return false }
        func alnum(_ b: UInt8) -> Bool { (b >= 0x61 && b <= 0x7a) || (b >= 0x30 && b <= 0x39) }
        return alnum(first) && alnum(last) && bytes.allSatisfy { alnum($0) || $0 == 0x2d }
    }
}
