import FlinkResources

/// Checks of `flinkConfiguration`: keys Flinklet sets itself are refused with the reason, so a
/// manifest can never point two clusters at one port or make a process bind beyond loopback.
enum ConfigurationRules {
    static let loopback = "Flinklet binds every process to 127.0.0.1 and sets this key itself"
    static let ports = "Flinklet leases ports per cluster (recorded in status.clusterInfo) and sets this key itself"
    static let directories = "Flinklet gives every process its own directory under the state directory and sets this key itself"

    /// Why a manifest may not set `key`, or nil when it may. A switch rather than a shared
    /// table: manifests are checked on every core at once.
    static func ownedKeyReason(_ key: String) -> String? {
        switch key {
        case "jobmanager.rpc.address", "jobmanager.bind-host", "rest.address", "rest.bind-address",
             "taskmanager.host", "taskmanager.bind-host":
            return loopback
        case "jobmanager.rpc.port", "rest.port", "rest.bind-port", "blob.server.port", "taskmanager.rpc.port",
             "taskmanager.data.port", "metrics.internal.query-service.port":
            return ports
        case "io.tmp.dirs", "web.tmpdir", "web.upload.dir", "user.artifacts.base-dir", "env.log.dir", "env.pid.dir",
             "process.working-dir", "process.jobmanager.working-dir", "process.taskmanager.working-dir":
            return directories
        case "high-availability.cluster-id", "kubernetes.cluster-id":
            return "Flinklet names each cluster after its resource and sets this key itself"
        case "execution.target", "deployment.target":
            return "Flinklet derives it from spec.mode"
        case "taskmanager.resource-id":
            return "Flinklet names each TaskManager after its pod"
        default:
            return nil
        }
    }

    /// `high-availability` (the legacy name of the type) and every `high-availability.*` key.
    static func isHighAvailabilityKey(_ key: String) -> Bool {
        key == "high-availability" || key.hasPrefix("high-availability.")
    }

    static func isDirectoryKey(_ key: String) -> Bool {
        switch key {
        case "execution.checkpointing.dir", "execution.checkpointing.savepoint-dir", "state.checkpoints.dir", "state.savepoints.dir": true
        default: false
        }
    }

    static func check(_ configuration: FlinkConfiguration, at path: FieldPath,
                      resourceMemory: (jobManager: FieldPath?, taskManager: FieldPath?), in context: inout Context) {
        for (key, value) in configuration {
            let keyPath = path.key(key)
            if let reason = ownedKeyReason(key) {
                context.error(keyPath, FieldError.forbidden(reason))
            } else if key.hasPrefix("$internal.") {
                context.error(keyPath, FieldError.forbidden("internal Flink keys are set by Flink and Flinklet only"))
            } else if isHighAvailabilityKey(key), configuration.highAvailability {
                // Upstream manifests set Kubernetes (or ZooKeeper) HA; a local cluster runs without
                // it and every high-availability key is left out of its configuration.
                let detail = key == "high-availability.type" || key == "high-availability"
                    ? "Flinklet runs clusters without high availability and restores jobs from its own checkpoint and savepoint records"
                    : "high availability is not used locally: Flinklet restores jobs from its own checkpoint and savepoint records"
                context.warning(keyPath, "Ignored: \(detail)", atKey: true)
            } else if key.hasPrefix("security.ssl.") {
                // Upstream manifests point these at Kubernetes secrets; locally every cluster
                // runs with the state directory's own mutual TLS, which only Flinklet holds.
                context.warning(keyPath, "Ignored: Flinklet runs every cluster with mutual TLS of its own (REST and internal), so that only it can use the cluster", atKey: true)
            } else if key.hasPrefix("kubernetes."), !key.hasPrefix("kubernetes.operator.") {
                context.warning(keyPath, "Ignored: Kubernetes-only option; processes run locally", atKey: true)
            } else if key == "jobmanager.memory.process.size", let memory = resourceMemory.jobManager {
                context.warning(keyPath, "Ignored: \(memory) sets the JobManager's process size", atKey: true)
            } else if key == "taskmanager.memory.process.size", let memory = resourceMemory.taskManager {
                context.warning(keyPath, "Ignored: \(memory) sets the TaskManager's process size", atKey: true)
            } else if key == "taskmanager.numberOfTaskSlots" {
                if Int(value).map({ $0 < 1 }) ?? true {
                    context.error(keyPath, FieldError.invalid(FieldError.quoted(value), "must be a whole number of slots, at least 1"))
                }
            } else if isDirectoryKey(key) {
                JobRules.checkLocalPath(value, at: keyPath, what: "a checkpoint or savepoint directory", in: &context)
            }
        }
    }
}

/// Pod templates are Kubernetes objects; Flinklet honours the environment of the main container
/// and warns about every other field it would silently drop.
enum PodTemplateRules {
    static let mainContainer = JSONValue.flinkMainContainer

    static func check(_ template: JSONValue?, at path: FieldPath, in context: inout Context) {
        guard let template else { return }
        guard case .object(let fields) = template else {
            context.error(path, FieldError.invalid("", "must be an object (a Kubernetes PodTemplateSpec)"))
            return
        }
        for key in fields.keys.sorted() {
            switch key {
            case "apiVersion", "kind":
                continue
            case "spec":
                checkPodSpec(fields[key]!, at: path.child("spec"), in: &context)
            default:
                context.warning(path.child(key), "Ignored: only spec.containers[name=\(mainContainer)].env of a pod template applies to local processes", atKey: true)
            }
        }
    }

    static func checkPodSpec(_ spec: JSONValue, at path: FieldPath, in context: inout Context) {
        guard case .object(let fields) = spec else { return }
        for key in fields.keys.sorted() where key != "containers" {
            context.warning(path.child(key), "Ignored: only spec.containers[name=\(mainContainer)].env of a pod template applies to local processes", atKey: true)
        }
        guard case .array(let containers)? = fields["containers"] else { return }
        for (i, container) in containers.enumerated() {
            let containerPath = path.child("containers").index(i)
            guard case .object(let c) = container else { continue }
            guard case .string(let name)? = c["name"], name == mainContainer else {
                context.warning(containerPath, "Ignored: only the container named \(FieldError.quoted(mainContainer)) applies (sidecars do not run locally)")
                continue
            }
            for key in c.keys.sorted() where key != "name" && key != "env" {
                context.warning(containerPath.child(key), "Ignored: only env of \(mainContainer) applies to local processes", atKey: true)
            }
            guard let env = c["env"] else { continue }
            guard case .array(let variables) = env else {
                context.error(containerPath.child("env"), FieldError.invalid("", "must be a list of {name, value}"))
                continue
            }
            for (j, variable) in variables.enumerated() {
                let variablePath = containerPath.child("env").index(j)
                guard case .string(let varName)? = variable["name"], !varName.isEmpty else {
                    context.error(variablePath.child("name"), FieldError.required())
                    continue
                }
                if variable["valueFrom"] != nil {
                    context.warning(variablePath.child("valueFrom"), "Ignored: valueFrom needs the Kubernetes API; set value instead", atKey: true)
                }
                if let value = variable["value"], case .object = value {
                    context.error(variablePath.child("value"), FieldError.invalid("", "must be a string"))
                }
            }
        }
    }
}
