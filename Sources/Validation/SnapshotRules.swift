import FlinkResources

/// `FlinkStateSnapshot`: upstream's rules (exactly one of savepoint and checkpoint; a job
/// reference unless the savepoint already exists, and then a path), in kubectl's words.
enum SnapshotRules {
    static func check(_ spec: FlinkStateSnapshotSpec, in context: inout Context) {
        switch (spec.savepoint, spec.checkpoint) {
        case (nil, nil):
            context.error("spec", FieldError.required("exactly one of spec.savepoint and spec.checkpoint"), atKey: true)
        case (.some, .some):
            context.error("spec.checkpoint", FieldError.forbidden("spec.savepoint and spec.checkpoint are mutually exclusive: a snapshot is one or the other"), atKey: true)
        default:
            break
        }
        let alreadyExists = spec.savepoint?.effectiveAlreadyExists ?? false
        if alreadyExists {
            if let path = spec.savepoint?.path, !path.isEmpty {
                JobRules.checkLocalPath(path, at: "spec.savepoint.path", what: "an existing savepoint", in: &context)
            } else {
                context.error("spec.savepoint.path", FieldError.required("the location of the savepoint that already exists"), atKey: spec.savepoint?.path == nil)
            }
        } else {
            if let path = spec.savepoint?.path {
                JobRules.checkLocalPath(path, at: "spec.savepoint.path", what: "the savepoint's target directory", in: &context)
            }
            if spec.savepoint?.formatType == .unknown {
                context.error("spec.savepoint.formatType", FieldError.unsupported("UNKNOWN", supported: ["CANONICAL", "NATIVE"]))
            }
            guard let reference = spec.jobReference else {
                context.error("spec.jobReference", FieldError.required("the FlinkDeployment or FlinkSessionJob whose job is snapshotted, e.g. {kind: FlinkDeployment, name: my-app}"),
                              atKey: true)
                return
            }
            // A value the schema refused is reported there already.
            if reference.kind == nil, !context.sourceMap.contains("spec.jobReference.kind") {
                context.error("spec.jobReference.kind", FieldError.required("supported values: \"FlinkDeployment\", \"FlinkSessionJob\""), atKey: true)
            }
            if !context.sourceMap.contains("spec.jobReference.name") && reference.name == nil || reference.name == "" {
                context.error("spec.jobReference.name", FieldError.required("the name of the FlinkDeployment or FlinkSessionJob"), atKey: true)
            } else if let name = reference.name {
                NameRules.checkLabel(name, max: NameRules.maxNameLength, at: "spec.jobReference.name", in: &context)
            }
        }
    }
}
