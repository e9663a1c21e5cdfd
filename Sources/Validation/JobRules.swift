import FlinkResources

enum JobRules {
    static var jarSchemes: [String] { ["local", "file", "http", "https"] }

    static func check(_ job: JobSpec, at path: FieldPath, configuration: FlinkConfiguration, in context: inout Context) {
        if let uri = job.jarURI { checkJarURI(uri, at: path.child("jarURI"), in: &context) }
        if let entryClass = job.entryClass, !isJavaClassName(entryClass) {
            context.error(path.child("entryClass"), FieldError.invalid(FieldError.quoted(entryClass), "must be a fully qualified Java class name such as \"com.example.WordCount\""))
        }
        if let savepoint = job.initialSavepointPath {
            checkLocalPath(savepoint, at: path.child("initialSavepointPath"), what: "a savepoint or checkpoint directory", in: &context)
        }
        if job.upgradeMode == .lastState, configuration["execution.checkpointing.interval"] == nil,
           configuration["execution.checkpointing.checkpointing-interval"] == nil,
           context.resource.kind == .flinkDeployment {
            context.warning(path.child("upgradeMode"), "last-state restores from the latest checkpoint and spec.flinkConfiguration[execution.checkpointing.interval] is not set: Flinklet sets it to \(FieldError.quoted(FlinkConfiguration.defaultLastStateCheckpointInterval)) (a job that enables checkpointing in its code keeps its own interval); set it to choose")
        }
    }

    /// `local:///abs/path.jar`, `file:///abs/path.jar`, `http(s)://host/...`.
    static func checkJarURI(_ uri: String, at path: FieldPath, in context: inout Context) {
        guard !uri.isEmpty else {
            context.error(path, FieldError.required("the job's jar, e.g. \"local:///opt/jobs/job.jar\""))
            return
        }
        guard let separator = uri.range(of: "://") else {
            let hint = uri.hasPrefix("/") ? "write \"local://\(uri)\" to use the jar in place or \"file://\(uri)\" to copy it into the cluster" : "use an absolute location such as \"local:///opt/jobs/job.jar\""
            context.error(path, FieldError.invalid(FieldError.quoted(uri), "must be a URI with a scheme: \(hint)"))
            return
        }
        let scheme = String(uri[..<separator.lowerBound])
        let rest = uri[separator.upperBound...]
        guard scheme == "local" || scheme == "file" || scheme == "http" || scheme == "https" else {
            context.error(path, FieldError.invalid(FieldError.quoted(uri), "unsupported scheme \(FieldError.quoted(scheme)): supported schemes: " + jarSchemes.map(FieldError.quoted).joined(separator: ", ")))
            return
        }
        switch scheme {
        case "local", "file":
            guard rest.hasPrefix("/") else {
                context.error(path, FieldError.invalid(FieldError.quoted(uri), "must name an absolute path: \(scheme):///path/to/job.jar (three slashes)"))
                return
            }
            if rest.hasSuffix("/") || rest.split(separator: "/").contains("..") {
                context.error(path, FieldError.invalid(FieldError.quoted(uri), "must name a jar file by its absolute path, without \"..\""))
            }
        default:
            let host = rest.prefix { $0 != "/" && $0 != "?" && $0 != "#" }
            if host.isEmpty {
                context.error(path, FieldError.invalid(FieldError.quoted(uri), "must name a host: \(scheme)://host/path/job.jar"))
            } else if !rest.dropFirst(host.count).contains(where: { $0 != "/" }) {
                context.error(path, FieldError.invalid(FieldError.quoted(uri), "must name a file on the host: \(scheme)://\(host)/path/job.jar"))
            }
        }
    }

    /// A directory on this machine: an absolute path or a `file://` URI.
    static func checkLocalPath(_ value: String, at path: FieldPath, what: String, in context: inout Context) {
        if let separator = value.range(of: "://") {
            let scheme = String(value[..<separator.lowerBound])
            guard scheme == "file" else {
                context.error(path, FieldError.invalid(FieldError.quoted(value), "\(what) must be on this machine: an absolute path or a file:// URI (scheme \(FieldError.quoted(scheme)) is not available locally)"))
                return
            }
            if !value[separator.upperBound...].hasPrefix("/") {
                context.error(path, FieldError.invalid(FieldError.quoted(value), "must name an absolute path: file:///path"))
            }
        } else if value.hasPrefix("file:/") {
            // Flink's own spelling of a local location (`file:/path/savepoint-…`), as a
            // snapshot's `status.path` and a job's savepoint history show it.
        } else if !value.hasPrefix("/") {
            context.error(path, FieldError.invalid(FieldError.quoted(value), "\(what) must be an absolute path or a file:// URI; relative paths depend on the process's working directory"))
        }
    }

    static func isJavaClassName(_ name: String) -> Bool {
        let parts = name.split(separator: ".", omittingEmptySubsequences: false)
        return !parts.isEmpty && parts.allSatisfy { part in
            guard let first = part.first, first.isLetter || first == "_" || first == "$" else { return false }
            return part.allSatisfy { $0.isLetter || $0.isNumber || $0 == "_" || $0 == "$" }
        }
    }
}
