import FlinkResources

/// The pinned jar checksum (`flinklet.dev/jar-sha256`): 64 hexadecimal digits, on a resource
/// that runs a job.
enum JarPinRules {
    static func check(_ resource: FlinkResource, in context: inout Context) {
        guard let value = resource.metadata.annotations?[ObjectMeta.jarSHA256Annotation] else { return }
        let path = FieldPath("metadata.annotations").key(ObjectMeta.jarSHA256Annotation)
        guard ObjectMeta.isSHA256(value) else {
            context.error(path, FieldError.invalid(FieldError.quoted(value), "must be the SHA-256 of the job's jar as 64 hexadecimal digits, as `sha256sum job.jar` prints it"))
            return
        }
        let hasJob: Bool = switch resource {
        case .deployment(let deployment): deployment.spec.job != nil && deployment.spec.effectiveMode != .session
        case .sessionJob(let job): job.spec.job != nil
        case .snapshot: false
        }
        if !hasJob {
            context.warning(path, "there is no job jar to pin: the checksum is not used")
        }
    }
}
