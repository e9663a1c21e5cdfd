import FlinkResources

enum DeploymentRules {
    static func check(_ spec: FlinkDeploymentSpec, in context: inout Context) {
        let configuration = spec.flinkConfiguration ?? FlinkConfiguration()
        checkMode(spec, in: &context)
        checkFlinkVersion(spec.flinkVersion, in: &context)
        if let job = spec.job {
            JobRules.check(job, at: "spec.job", configuration: configuration, in: &context)
        }
        checkJobManager(spec.jobManager, configuration: configuration, in: &context)
        checkTaskManager(spec, configuration: configuration, in: &context)
        ConfigurationRules.check(configuration, at: "spec.flinkConfiguration", resourceMemory: (
            jobManager: spec.jobManager?.memory != nil ? memoryPath(spec.jobManager, at: "spec.jobManager") : nil,
            taskManager: spec.taskManager?.memory != nil ? memoryPath(spec.taskManager, at: "spec.taskManager") : nil
        ), in: &context)
        LogConfigurationRules.check(spec.logConfiguration, in: &context)
        PodTemplateRules.check(spec.podTemplate, at: "spec.podTemplate", in: &context)
        PodTemplateRules.check(spec.jobManager?.podTemplate, at: "spec.jobManager.podTemplate", in: &context)
        PodTemplateRules.check(spec.taskManager?.podTemplate, at: "spec.taskManager.podTemplate", in: &context)
    }

    static func checkMode(_ spec: FlinkDeploymentSpec, in context: inout Context) {
        switch (spec.mode, spec.job) {
        case (.session?, _?):
            context.error("spec.job", FieldError.forbidden("mode \"session\" runs no job of its own; remove spec.job and submit jobs as FlinkSessionJob resources naming this deployment"), atKey: true)
        case (.application?, nil), (.perJob?, nil):
            context.error("spec.job", FieldError.required("mode \(FieldError.quoted(spec.mode!.rawValue)) runs one job: set spec.job with its jarURI"))
        default:
            break
        }
    }

    /// Upstream's enumeration still names versions no operator runs any more; Flinklet runs
    /// `FlinkVersion.supportedVersions` (upstream's answer to an older one: "not supported").
    static func checkFlinkVersion(_ version: FlinkVersion?, in context: inout Context) {
        guard let version, !version.isSupported else { return }
        context.error("spec.flinkVersion", FieldError.unsupported(version.rawValue, supported: FlinkVersion.supportedVersions.map(\.rawValue)))
    }

    static func checkJobManager(_ jobManager: JobManagerSpec?, configuration: FlinkConfiguration, in context: inout Context) {
        if let replicas = jobManager?.replicas, replicas > 1 {
            context.error("spec.jobManager.replicas", FieldError.invalid(String(replicas), "must be 1: standby JobManagers need high availability, which Flinklet does not run (it restores jobs from checkpoints itself)"))
        }
        checkProcess(jobManager, at: "spec.jobManager", in: &context) { bytes in
            guard case .failure(let problem)? = FlinkMemoryModel.jobManager(process: bytes, configuration: configuration) else { return nil }
            return problem.message
        }
    }

    static func checkTaskManager(_ spec: FlinkDeploymentSpec, configuration: FlinkConfiguration, in context: inout Context) {
        let taskManager = spec.taskManager
        checkProcess(taskManager, at: "spec.taskManager", in: &context) { bytes in
            guard case .failure(let problem)? = FlinkMemoryModel.taskManager(process: bytes, configuration: configuration) else { return nil }
            return problem.message
        }

        // A job that needs more slots than the cluster has waits for resources until Flink gives up.
        if let replicas = taskManager?.replicas, let parallelism = spec.job?.parallelism,
           let slots = Int(configuration["taskmanager.numberOfTaskSlots"] ?? "1"), slots > 0,
           case (let offered, false) = replicas.multipliedReportingOverflow(by: slots), parallelism > offered {
            context.warning("spec.job.parallelism", "parallelism \(parallelism) needs \(parallelism) task slots, but \(replicas) TaskManager(s) × \(slots) slot(s) offer \(offered); the job will wait for slots that never come (raise spec.taskManager.replicas or taskmanager.numberOfTaskSlots, or unset replicas to size the cluster from the parallelism)")
        }
    }

    /// The path of the field that sizes a process, by upstream's precedence (see `ProcessSpec.memory`).
    static func memoryPath(_ process: ProcessSpec?, at path: FieldPath) -> FieldPath {
        guard let process, process.usesResources else { return path.child("resource").child("memory") }
        let section = process.resources?.requests?[ResourceName.memory.rawValue] != nil ? "requests" : "limits"
        return path.child("resources").child(section).key(ResourceName.memory.rawValue)
    }

    /// Checks `resource` and `resources` of one process; `tooSmall` says why Flink could not
    /// start in the given process size, or nil when it can.
    static func checkProcess(_ process: ProcessSpec?, at path: FieldPath, in context: inout Context, tooSmall: (Int64) -> String?) {
        guard let process else { return }
        let resourcePath = path.child("resource")
        checkCPU(process.resource?.cpu, at: resourcePath.child("cpu"), in: &context)
        if process.usesResources {
            if process.resource != nil {
                context.warning(resourcePath, "Ignored: \(path.child("resources")) is set and takes precedence over the deprecated resource field (as upstream)", atKey: true)
            }
            checkRequirements(process.resources!, at: path.child("resources"), in: &context)
        } else {
            _ = memory(process.resource?.memory, at: resourcePath.child("memory"), in: &context)
        }
        // The memory model, on whichever field sizes the process (already reported if it does not parse).
        let sizePath = memoryPath(process, at: path)
        if let text = process.memory, let bytes = try? MemorySize.parse(text).bytes, bytes > 0, let problem = tooSmall(bytes) {
            context.error(sizePath, FieldError.invalid(FieldError.quoted(text), problem))
        }
    }

    /// Kubernetes `ResourceRequirements`: quantities that parse and are positive, no request
    /// above its limit (as the API server and upstream's validator refuse), and a warning for
    /// every resource that means nothing to a local process.
    static func checkRequirements(_ requirements: ResourceRequirements, at path: FieldPath, in context: inout Context) {
        var parsed: [String: [ResourceName: Double]] = [:]
        for (section, list) in [("requests", requirements.requests), ("limits", requirements.limits)] {
            for (name, value) in (list ?? [:]).sorted(by: { $0.key < $1.key }) {
                let fieldPath = path.child(section).key(name)
                switch ResourceName(rawValue: name) {
                case .memory?:
                    if let bytes = memory(value, at: fieldPath, in: &context) { parsed[section, default: [:]][.memory] = Double(bytes) }
                case .cpu?:
                    guard let cores = CPUQuantity.cores(value) else {
                        context.error(fieldPath, FieldError.invalid(FieldError.quoted(value), "must be a CPU quantity such as \"500m\", \"1\" or \"2.5\""))
                        continue
                    }
                    guard cores > 0 else {
                        context.error(fieldPath, FieldError.invalid(FieldError.quoted(value), "must be greater than 0"))
                        continue
                    }
                    parsed[section, default: [:]][.cpu] = cores
                case .ephemeralStorage?, nil:
                    context.warning(fieldPath, "Ignored: Kubernetes-only resource; processes on one machine share its disk and devices", atKey: true)
                }
            }
        }
        for name in [ResourceName.cpu, .memory] {
            guard let request = parsed["requests"]?[name], let limit = parsed["limits"]?[name], request > limit else { continue }
            let requested = requirements.requests![name.rawValue]!, limited = requirements.limits![name.rawValue]!
            context.error(path.child("requests").key(name.rawValue),
                          FieldError.invalid(FieldError.quoted(requested), "must be less than or equal to \(name.rawValue) limit of \(limited)"))
        }
    }

    static func checkCPU(_ cpu: Double?, at path: FieldPath, in context: inout Context) {
        if let cpu, !(cpu > 0) || !cpu.isFinite {
            let shown = cpu.isFinite && cpu == cpu.rounded() ? String(Int64(cpu)) : String(cpu)
            context.error(path, FieldError.invalid(shown, "must be greater than 0"))
        }
    }

    /// Parses a memory quantity, reporting why it does not parse.
    static func memory(_ text: String?, at path: FieldPath, in context: inout Context) -> Int64? {
        guard let text else { return nil }
        do {
            let size = try MemorySize.parse(text)
            guard size.bytes > 0 else {
                context.error(path, FieldError.invalid(FieldError.quoted(text), "must be greater than 0"))
                return nil
            }
            return size.bytes
        } catch {
            context.error(path, FieldError.invalid(FieldError.quoted(text), error.description))
            return nil
        }
    }
}

enum SessionJobRules {
    static func check(_ spec: FlinkSessionJobSpec, in context: inout Context) {
        if let name = spec.deploymentName {
            NameRules.checkLabel(name, max: NameRules.maxNameLength, at: "spec.deploymentName", in: &context)
        }
        let configuration = spec.flinkConfiguration ?? FlinkConfiguration()
        if let job = spec.job {
            JobRules.check(job, at: "spec.job", configuration: configuration, in: &context)
        }
        ConfigurationRules.check(configuration, at: "spec.flinkConfiguration", resourceMemory: (nil, nil), in: &context)
        for key in configuration.keys where key.hasPrefix("jobmanager.memory.") || key.hasPrefix("taskmanager.memory.") || key == "taskmanager.numberOfTaskSlots" {
            context.error(FieldPath("spec.flinkConfiguration").key(key), FieldError.forbidden("a session job runs on its session cluster's processes; set process sizes on the FlinkDeployment"))
        }
    }
}

enum LogConfigurationRules {
    static func check(_ files: [String: String]?, in context: inout Context) {
        for name in (files ?? [:]).keys.sorted() {
            if name.isEmpty || name.contains("/") || name == "." || name == ".." || name.hasPrefix(".") {
                context.error(FieldPath("spec.logConfiguration").key(name), FieldError.invalid(FieldError.quoted(name), "must be a plain file name such as \"log4j-console.properties\""))
            }
        }
    }
}

/// A Kubernetes CPU quantity: `500m`, `1`, `2.5`, `1e3`, `1k`.
enum CPUQuantity {
    /// The number of cores, or nil when `text` is not a quantity.
    static func cores(_ text: String) -> Double? {
        var number = Substring(text.filter { !$0.isWhitespace })
        var factor = 1.0
        let suffixes: [(String, Double)] = [("n", 1e-9), ("u", 1e-6), ("m", 1e-3), ("k", 1e3), ("M", 1e6), ("G", 1e9), ("T", 1e12)]
        if let (suffix, value) = suffixes.first(where: { number.hasSuffix($0.0) }) {
            number = number.dropLast(suffix.count)
            factor = value
        }
        guard let first = number.first, first.isNumber || first == "." || first == "+" || first == "-",
              let value = Double(number), value.isFinite else { return nil }
        return value * factor
    }
}
