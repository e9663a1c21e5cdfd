import FlinkResources

/// Where a manifest is meant to run besides Flinklet.
public enum PortabilityTarget: String, Sendable, CaseIterable {
    /// The Apache Flink Kubernetes Operator (FKO) with its CRDs and default configuration.
    case kubernetes
}

/// `flinklet validate --for kubernetes`: what the Apache Flink Kubernetes Operator's CRDs or
/// semantics would reject, or read differently, in a manifest Flinklet accepts. Each finding
/// is an error naming the field and what to write instead.
///
/// Based on upstream main (`helm/flink-kubernetes-operator/crds/*.yml`,
/// `validation/DefaultValidator`, `KubernetesOperatorConfigOptions` defaults). Pure: the same
/// resource gives the same findings. Run only on resources that are valid for Flinklet.
public enum Portability {
    /// The log configuration files FKO accepts (`DefaultValidator.ALLOWED_LOG_CONF_KEYS`).
    static let upstreamLogFiles = ["log4j-console.properties", "logback-console.xml"]
    /// `kubernetes.operator.user.artifacts.allowed-schemes`' default: session job jars only over https.
    static let sessionJobJarSchemes = ["https"]

    public static func check(_ resource: FlinkResource, sourceMap: SourceMap, for target: PortabilityTarget = .kubernetes) -> [Diagnostic] {
        var context = Context(sourceMap: sourceMap, resource: resource.id)
        checkMetadata(resource.metadata, in: &context)
        guard !resource.metadata.isCanary else { return context.diagnostics }  // upstream validates no canary
        if case .deployment(let deployment) = resource {
            checkDeployment(deployment.spec, in: &context)
        } else if case .sessionJob(let job) = resource {
            checkSessionJob(job.spec, in: &context)
        }
        return context.diagnostics
    }

    static func checkMetadata(_ metadata: ObjectMeta, in context: inout Context) {
        // Upstream's name pattern (`DefaultValidator.DEPLOYMENT_NAME_PATTERN`) wants a letter first.
        if let first = metadata.name.unicodeScalars.first, !("a"..."z").contains(first) {
            context.error("metadata.name", FieldError.invalid(FieldError.quoted(metadata.name), "FKO requires a name that starts with a letter ([a-z]([-a-z0-9]{0,43}[a-z0-9])?); rename the resource"))
        }
        for key in (metadata.annotations ?? [:]).keys.sorted() where key.hasPrefix("flinklet.dev/") {
            if key == ObjectMeta.jarSHA256Annotation {
                // Kept and ignored upstream: the manifest means the same there, only unverified.
                context.warning(FieldPath("metadata.annotations").key(key), "FKO ignores the pin and runs the jar unverified; keep it for Flinklet", atKey: true)
                continue
            }
            context.error(FieldPath("metadata.annotations").key(key), FieldError.forbidden("a Flinklet-only annotation, which FKO ignores (the resource would run as a Flink cluster there); remove it"), atKey: true)
        }
    }

    static func checkDeployment(_ spec: FlinkDeploymentSpec, in context: inout Context) {
        let configuration = spec.flinkConfiguration ?? FlinkConfiguration()
        switch spec.mode {
        case .application?:
            context.error("spec.mode", FieldError.unsupported("application", supported: ["native", "standalone"]) + ": FKO infers application mode from spec.job; remove spec.mode")
        case .session?:
            context.error("spec.mode", FieldError.unsupported("session", supported: ["native", "standalone"]) + ": FKO infers session mode when spec.job is unset; remove spec.mode")
        case .perJob?:
            context.error("spec.mode", FieldError.unsupported("per-job", supported: ["native", "standalone"]) + ": FKO has no per-job mode (it would run the job in application mode, main() in the JobManager); remove spec.mode for application mode")
        case .native?, .standalone?, nil:
            break
        }
        if let uri = spec.job?.jarURI { checkDeploymentJar(uri, in: &context) }
        if let job = spec.job { checkSnapshotDirectories(job, configuration: configuration, in: &context) }
        checkQuantities(spec.jobManager, path: "spec.jobManager", in: &context)
        checkQuantities(spec.taskManager, path: "spec.taskManager", in: &context)
        checkMemory(spec.jobManager, component: "JobManager", path: "spec.jobManager", configurationKeys: ["jobmanager.memory.process.size", "jobmanager.memory.flink.size", "jobmanager.memory.heap.size"],
                    default: "768m", configuration: configuration, in: &context)
        checkMemory(spec.taskManager, component: "TaskManager", path: "spec.taskManager", configurationKeys: ["taskmanager.memory.process.size", "taskmanager.memory.flink.size"],
                    default: "1024m", configuration: configuration, in: &context)
        checkConfiguration(configuration, in: &context)
        for name in (spec.logConfiguration ?? [:]).keys.sorted() where !upstreamLogFiles.contains(name) {
            context.error(FieldPath("spec.logConfiguration").key(name), FieldError.unsupported(name, supported: upstreamLogFiles) + ": FKO accepts only these log configuration files", atKey: true)
        }
    }

    static func checkSessionJob(_ spec: FlinkSessionJobSpec, in context: inout Context) {
        if let uri = spec.job?.jarURI, let scheme = uri.range(of: "://").map({ String(uri[..<$0.lowerBound]).lowercased() }),
           !sessionJobJarSchemes.contains(scheme) {
            let fetchable = scheme == "local" ? " (and it cannot fetch local:// at all: the path would be read on the operator's pod)" : ""
            context.error("spec.job.jarURI", FieldError.invalid(FieldError.quoted(uri), "FKO fetches a session job's jar itself and by default only over https (kubernetes.operator.user.artifacts.allowed-schemes)\(fetchable); serve the jar over https and write its https:// URL"))
        }
        checkConfiguration(spec.flinkConfiguration ?? FlinkConfiguration(), in: &context)
    }

    /// On Kubernetes a `local://` or `file://` jar is read inside the Flink image (or pod),
    /// where Flink lives in `/opt/flink`; here it is a path on this machine.
    static func checkDeploymentJar(_ uri: String, in context: inout Context) {
        for scheme in ["local://", "file://"] where uri.hasPrefix(scheme) {
            let path = String(uri.dropFirst(scheme.count))
            guard !path.hasPrefix("/opt/flink/") else { return }
            let name = path.split(separator: "/").last.map(String.init) ?? "job.jar"
            context.error("spec.job.jarURI", FieldError.invalid(FieldError.quoted(uri), "on Kubernetes a \(scheme) path is read inside the Flink image, where Flink is /opt/flink, not on this machine; put the jar into the image and write \(FieldError.quoted("local:///opt/flink/usrlib/" + name)) (Flinklet reads /opt/flink as its Flink distribution), or an https:// URL"))
        }
    }

    /// FKO requires a checkpoint directory for stateful upgrades and a savepoint directory for
    /// savepoints (`DefaultValidator.validateJobSpec`); Flinklet provides both itself.
    static func checkSnapshotDirectories(_ job: JobSpec, configuration: FlinkConfiguration, in context: inout Context) {
        let checkpoints = configuration["execution.checkpointing.dir"] ?? configuration["state.checkpoints.dir"]
        let savepoints = configuration["execution.checkpointing.savepoint-dir"] ?? configuration["state.savepoints.dir"]
        let upgradeMode = job.effectiveUpgradeMode
        if upgradeMode != .stateless, (checkpoints ?? "").isEmpty {
            context.error("spec.job.upgradeMode", FieldError.invalid(FieldError.quoted(upgradeMode.rawValue), "FKO requires a checkpoint directory for last-state and savepoint upgrades (Flinklet provides one); set spec.flinkConfiguration[execution.checkpointing.dir] to a durable location, e.g. \"file:///flink-data/checkpoints\""))
        }
        guard (savepoints ?? "").isEmpty else { return }
        if upgradeMode == .savepoint {
            context.error("spec.job.upgradeMode", FieldError.invalid("\"savepoint\"", "FKO requires a savepoint directory for savepoint upgrades (Flinklet provides one); set spec.flinkConfiguration[execution.checkpointing.savepoint-dir], e.g. \"file:///flink-data/savepoints\""))
        } else if job.savepointTriggerNonce != nil {
            context.error("spec.job.savepointTriggerNonce", FieldError.forbidden("FKO triggers savepoints only with a savepoint directory; set spec.flinkConfiguration[execution.checkpointing.savepoint-dir]"))
        } else if configuration["kubernetes.operator.periodic.savepoint.interval"] != nil {
            context.error(FieldPath("spec.flinkConfiguration").key("kubernetes.operator.periodic.savepoint.interval"), FieldError.forbidden("FKO takes periodic savepoints only with a savepoint directory; set spec.flinkConfiguration[execution.checkpointing.savepoint-dir]"), atKey: true)
        }
    }

    /// FKO sizes the Flink process by Flink's reading of `resources`' memory
    /// (`parseResourceMemoryString`: `768m` is 768 MiB), but when both a request and a limit are
    /// set it derives the container's memory limit factor from their Kubernetes readings
    /// (`Quantity.getNumericalAmount`: `768m` is 0.768 bytes, `1G` is 10⁹ bytes, `1g` is no
    /// quantity at all). Flinklet reads both Flink's way, so a pair either side reads differently
    /// would get another memory limit there (or none).
    static func checkQuantities(_ process: ProcessSpec?, path: FieldPath, in context: inout Context) {
        guard let process, process.usesResources, let requirements = process.resources,
              let request = requirements.requests?[ResourceName.memory.rawValue],
              let limit = requirements.limits?[ResourceName.memory.rawValue] else { return }
        for (section, value) in [("requests", request), ("limits", limit)] {
            let flink = MemorySize.flinkBytes(value) ?? MemorySize.kubernetesBytes(value)
            let kubernetes = MemorySize.kubernetesBytes(value)
            guard kubernetes == nil || kubernetes != flink else { continue }
            let reading = kubernetes.map { "Kubernetes reads it as \($0.bytes) byte(s)" } ?? "Kubernetes cannot read it as a quantity"
            let instead = flink.map { "write \(FieldError.quoted($0.kubernetesDescription))" } ?? "write a quantity such as \"1536Mi\" or \"2Gi\""
            context.error(path.child("resources").child(section).key(ResourceName.memory.rawValue), FieldError.invalid(
                FieldError.quoted(value),
                "FKO sizes the process by Flink's reading (\(flink.map(\.description) ?? "none")) but sets its memory limit from limits ÷ requests as Kubernetes reads them, and \(reading); \(instead)"))
        }
    }

    /// FKO requires each process's memory (`validateJmSpec`/`validateTmSpec`); Flinklet has defaults.
    static func checkMemory(_ process: ProcessSpec?, component: String, path: FieldPath, configurationKeys: [String], default size: String,
                            configuration: FlinkConfiguration, in context: inout Context) {
        guard process?.memory == nil, !configurationKeys.contains(where: { configuration[$0] != nil }) else { return }
        let at: FieldPath = process == nil ? "spec" : path
        context.error(at, FieldError.required("FKO requires the \(component)'s memory (Flinklet defaults to \(size)); set \(path).resources.requests.memory, e.g. \(FieldError.quoted(size))"), atKey: process != nil)
    }

    static func checkConfiguration(_ configuration: FlinkConfiguration, in context: inout Context) {
        let path: FieldPath = "spec.flinkConfiguration"
        for key in configuration.keys where key.hasPrefix("flinklet.") {
            let instead = key == "flinklet.session.block-on-session-jobs" ? "write kubernetes.operator.session.deletion.block-on-session-jobs instead" : "remove it"
            context.error(path.key(key), FieldError.forbidden("a Flinklet-only option, which FKO passes to Flink unread; \(instead)"), atKey: true)
        }
        if configuration["kubernetes.operator.deployment.rollback.enabled"] == "true", !configuration.highAvailability {
            context.error(path.key("kubernetes.operator.deployment.rollback.enabled"), FieldError.forbidden("FKO rolls back only with high availability (\"HA must be enabled for rollback support\"); set high-availability.type: kubernetes and high-availability.storageDir"), atKey: true)
        }
    }
}
