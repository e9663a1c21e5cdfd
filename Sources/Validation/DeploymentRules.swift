import FlinkResources

enum DeploymentRules {
    static func check(_ spec: FlinkDeploymentSpec, in context: inout Context) {
        let configuration = spec.flinkConfiguration ?? FlinkConfiguration()
        checkMode(spec, in: &context)
        if let job = spec.job {
            JobRules.check(job, at: "spec.job", configuration: configuration, in: &context)
        }
        checkJobManager(spec.jobManager, configuration: configuration, in: &context)
        checkTaskManager(spec, configuration: configuration, in: &context)
        ConfigurationRules.check(configuration, at: "spec.flinkConfiguration", resourceMemory: (
            jobManager: spec.jobManager?.resource?.memory != nil,
            taskManager: spec.taskManager?.resource?.memory != nil
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

    static func checkJobManager(_ jobManager: JobManagerSpec?, configuration: FlinkConfiguration, in context: inout Context) {
        if let replicas = jobManager?.replicas, replicas > 1 {
            context.error("spec.jobManager.replicas", FieldError.invalid(String(replicas), "must be 1: standby JobManagers need high availability, which Flinklet does not run (it restores jobs from checkpoints itself)"))
        }
        let path: FieldPath = "spec.jobManager.resource"
        checkCPU(jobManager?.resource?.cpu, at: path.child("cpu"), in: &context)
        guard let bytes = memory(jobManager?.resource?.memory, at: path.child("memory"), in: &context) else { return }
        if case .failure(let problem)? = FlinkMemoryModel.jobManager(process: bytes, configuration: configuration) {
            context.error(path.child("memory"), FieldError.invalid(FieldError.quoted(jobManager!.resource!.memory!), problem.message))
        }
    }

    static func checkTaskManager(_ spec: FlinkDeploymentSpec, configuration: FlinkConfiguration, in context: inout Context) {
        let path: FieldPath = "spec.taskManager.resource"
        let taskManager = spec.taskManager
        checkCPU(taskManager?.resource?.cpu, at: path.child("cpu"), in: &context)
        if let bytes = memory(taskManager?.resource?.memory, at: path.child("memory"), in: &context),
           case .failure(let problem)? = FlinkMemoryModel.taskManager(process: bytes, configuration: configuration) {
            context.error(path.child("memory"), FieldError.invalid(FieldError.quoted(taskManager!.resource!.memory!), problem.message))
        }

        // A job that needs more slots than the cluster has waits for resources until Flink gives up.
        if let replicas = taskManager?.replicas, let parallelism = spec.job?.parallelism,
           let slots = Int(configuration["taskmanager.numberOfTaskSlots"] ?? "1"), slots > 0,
           case (let offered, false) = replicas.multipliedReportingOverflow(by: slots), parallelism > offered {
            context.warning("spec.job.parallelism", "parallelism \(parallelism) needs \(parallelism) task slots, but \(replicas) TaskManager(s) × \(slots) slot(s) offer \(offered); the job will wait for slots that never come (raise spec.taskManager.replicas or taskmanager.numberOfTaskSlots, or unset replicas to size the cluster from the parallelism)")
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
        ConfigurationRules.check(configuration, at: "spec.flinkConfiguration", resourceMemory: (false, false), in: &context)
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
