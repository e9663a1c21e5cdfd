/// The schemas of Flinklet's resources: what `crds/` publishes and what the strict decoder enforces.
///
/// Field names, types and enumerations are upstream's (`flink.apache.org/v1beta1`); descriptions
/// say what Flinklet does with each field on one machine.
///
/// Schemas are built on each use rather than stored: manifests are checked on every core at
/// once, and threads sharing one stored schema spend their time contending on its reference
/// counts (measured: no gain from a second core). Building one costs a few microseconds.
public enum ResourceSchemas {
    public static func schema(for kind: ResourceKind) -> Schema {
        switch kind {
        case .flinkDeployment: flinkDeployment
        case .flinkSessionJob: flinkSessionJob
        case .flinkStateSnapshot: flinkStateSnapshot
        }
    }

    public static var flinkStateSnapshot: Schema {
        Schema.object(
        "A savepoint or checkpoint of the job a FlinkDeployment or FlinkSessionJob runs, taken when the resource is created, or an existing savepoint registered.",
        required: ["apiVersion", "kind", "metadata", "spec"],
        [
            Property("apiVersion", .string("Always `flink.apache.org/v1beta1`.")),
            Property("kind", .string("Always `FlinkStateSnapshot`.")),
            Property("metadata", metadata),
            Property("spec", flinkStateSnapshotSpec),
            Property("status", flinkStateSnapshotStatus, local: .managed(reason: "status is written by Flinklet")),
        ])
    }

    public static var flinkDeployment: Schema {
        Schema.object(
        "A Flink cluster and, in application and per-job modes, the job it runs. " + canaryNote,
        required: ["apiVersion", "kind", "metadata"],
        [
            Property("apiVersion", .string("Always `flink.apache.org/v1beta1`.")),
            Property("kind", .string("Always `FlinkDeployment`.")),
            Property("metadata", metadata),
            Property("spec", flinkDeploymentSpec),  // required, except of a canary (ResourceDecoder)
            Property("status", flinkDeploymentStatus, local: .managed(reason: "status is written by Flinklet")),
        ])
    }

    public static var flinkSessionJob: Schema {
        Schema.object(
        "A job submitted to a session cluster (a FlinkDeployment without a job). " + canaryNote,
        required: ["apiVersion", "kind", "metadata"],
        [
            Property("apiVersion", .string("Always `flink.apache.org/v1beta1`.")),
            Property("kind", .string("Always `FlinkSessionJob`.")),
            Property("metadata", metadata),
            Property("spec", flinkSessionJobSpec),  // required, except of a canary (ResourceDecoder)
            Property("status", flinkSessionJobStatus, local: .managed(reason: "status is written by Flinklet")),
        ])
    }

    static let canaryNote = "Labelled `flink.apache.org/canary: \"true\"` it is a canary (upstream's operator health check): it needs no spec, starts nothing, and its status records each reconcile."

    // MARK: metadata

    static let kubernetesServerField = Property.LocalSupport.ignored(reason: "set by a Kubernetes API server, not read from manifests")

    static var metadata: Schema {
        Schema.object(
        "Standard object metadata. The name and namespace identify the resource and name its state directory.",
        required: ["name"],
        [
            Property("name", .string("Lowercase RFC 1123 label, at most 45 characters (upstream's limit, so derived names stay valid).")),
            Property("namespace", .string("Lowercase RFC 1123 label; defaults to `default`.")),
            Property("labels", .map("Labels, used by selectors such as `apply --prune -l`.")),
            Property("annotations", .map("Annotations, kept and shown; Flinklet reads none of them.")),
            Property("generation", .integer("Increased by Flinklet on every spec change of the manifest.", minimum: 0),
                     local: .managed(reason: "metadata.generation is counted by Flinklet")),
            Property("uid", .string("Kubernetes only."), local: kubernetesServerField),
            Property("resourceVersion", .string("Kubernetes only."), local: kubernetesServerField),
            Property("creationTimestamp", .string("Kubernetes only."), local: kubernetesServerField),
            Property("deletionTimestamp", .string("Kubernetes only."), local: kubernetesServerField),
            Property("deletionGracePeriodSeconds", .integer("Kubernetes only."), local: kubernetesServerField),
            Property("generateName", .string("Kubernetes only."), local: .ignored(reason: "Flinklet needs a fixed name")),
            Property("finalizers", .array("Kubernetes only.", of: .string("")), local: kubernetesServerField),
            Property("ownerReferences", .array("Kubernetes only.", of: .freeForm("")), local: kubernetesServerField),
            Property("managedFields", .array("Kubernetes only.", of: .freeForm("")), local: kubernetesServerField),
            Property("selfLink", .string("Kubernetes only."), local: kubernetesServerField),
        ])
    }

    // MARK: spec

    static let nonce = "Change the value (any integer) to trigger the action once; removing it triggers nothing."

    public static var jobSpec: Schema {
        Schema.object(
        "The job: its jar, entry point, arguments, parallelism and lifecycle.",
        required: ["jarURI"],
        [
            Property("jarURI", .string("Where the job's jar is: `local:///abs/path.jar` (used in place), `file:///abs/path.jar` (copied into the cluster), or `http(s)://...` (downloaded once into a shared cache).")),
            Property("parallelism", .integer("Parallelism of the job; also sizes the TaskManagers when `taskManager.replicas` is unset.", minimum: 1, format: .int32)),
            Property("entryClass", .string("Fully qualified main class; defaults to the jar manifest's `Main-Class`.")),
            Property("args", .array("Arguments passed to `main()`.", of: .string(""))),
            Property("state", .enumeration(JobState.allCases.map(\.rawValue), "Desired job state. `suspended` stops the job (per `upgradeMode`) and tears the cluster down; `running` resumes it. Default `running`.")),
            Property("savepointTriggerNonce", .integer("Trigger a manual savepoint. " + nonce)),
            Property("initialSavepointPath", .string("Savepoint or checkpoint to start from on first deployment (and on `savepointRedeployNonce` changes).")),
            Property("checkpointTriggerNonce", .integer("Trigger a manual checkpoint. " + nonce)),
            Property("upgradeMode", .enumeration(UpgradeMode.allCases.map(\.rawValue), "How state moves across upgrades: `stateless` (start fresh), `savepoint` (stop with a savepoint, restore from it), `last-state` (restore from the latest retained checkpoint). Default `stateless`.")),
            Property("allowNonRestoredState", .boolean("Allow skipping savepoint state that maps to no operator of the new job.")),
            Property("savepointRedeployNonce", .integer("Redeploy from `initialSavepointPath`, dropping current state. " + nonce)),
            Property("autoscalerResetNonce", .integer("Upstream autoscaler reset."), local: .ignored(reason: "Flinklet has no autoscaler")),
        ])
    }

    static func processSizeKey(_ component: String) -> String {
        "\(component == "JobManager" ? "jobmanager" : "taskmanager").memory.process.size"
    }

    static func resource(_ component: String) -> Schema {
        .object(
            "CPU and memory of each \(component) process (upstream's deprecated form; `resources` takes precedence when it has any request or limit).",
            [
                Property("cpu", .number("CPU cores; recorded and shown, not enforced on one machine.")),
                Property("memory", .intOrString("Total process memory (`\(processSizeKey(component))`): Flink syntax (`2048m`, `2g`) or a Kubernetes quantity (`2Gi`, `1536Mi`). Also the pod's memory limit.")),
                Property("ephemeralStorage", .intOrString("Kubernetes only."), local: .ignored(reason: "pods on one machine share its disk")),
            ])
    }

    static func resources(_ component: String) -> Schema {
        .object(
            "Kubernetes resource requirements of each \(component) process, as upstream reads them; they take precedence over `resource` when they hold any request or limit.",
            [
                Property("requests", .map("`memory` sets the total process memory (`\(processSizeKey(component))`), in Flink syntax (`2048m`) or as a Kubernetes quantity (`2Gi`); `cpu` is recorded, not enforced; other resources (`ephemeral-storage`, ...) are Kubernetes only.", of: .intOrString(""))),
                Property("limits", .map("`memory` is the process size when no memory is requested, and raises the pod's memory limit when larger than the request; `cpu` is recorded, not enforced; other resources are Kubernetes only.", of: .intOrString(""))),
                Property("claims", .array("Kubernetes only (dynamic resource allocation).", of: .freeForm("")), local: .ignored(reason: "there are no resource claims on one machine")),
            ])
    }

    static let podTemplateDescription = "Kubernetes pod template. Flinklet honours `spec.containers[name=flink-main-container].env` (environment of the Flink process); everything else is ignored with a warning."

    static var jobManagerSpec: Schema {
        Schema.object(
        "The JobManager process.",
        [
            Property("resource", resource("JobManager")),
            Property("resources", resources("JobManager")),
            Property("replicas", .integer("Number of JobManagers. Must be 1: standby JobManagers need high availability, which Flinklet does not run.", minimum: 1, format: .int32)),
            Property("podTemplate", .freeForm(podTemplateDescription), local: .partial),
        ])
    }

    static var taskManagerSpec: Schema {
        Schema.object(
        "The TaskManager processes.",
        [
            Property("resource", resource("TaskManager")),
            Property("resources", resources("TaskManager")),
            Property("replicas", .integer("Number of TaskManagers; default: job parallelism ÷ `taskmanager.numberOfTaskSlots`, at least 1.", minimum: 1, format: .int32)),
            Property("podTemplate", .freeForm(podTemplateDescription), local: .partial),
        ])
    }

    static var ingressSpec: Schema {
        Schema.object(
        "Kubernetes ingress for the Flink web UI.",
        [
            Property("template", .string("Host/path template.")),
            Property("className", .string("Ingress class.")),
            Property("annotations", .map("Ingress annotations.")),
            Property("labels", .map("Ingress labels.")),
            Property("tls", .array("TLS settings.", of: .freeForm(""))),
        ])
    }

    static let flinkConfigurationDescription = "Flink configuration (`config.yaml` keys), flat (`a.b.c: v`) or nested; values are kept as strings. Merged over Flinklet's defaults. Keys Flinklet manages (addresses, ports, per-process directories, high-availability ids) are rejected."

    static var flinkDeploymentSpec: Schema {
        Schema.object(
        "Desired state of the Flink cluster.",
        required: ["flinkVersion"],
        [
            Property("job", jobSpec),
            Property("restartNonce", .integer("Restart the cluster and job (with the upgrade mode's state handling). " + nonce)),
            Property("flinkConfiguration", Schema(.flinkConfiguration, flinkConfigurationDescription)),
            Property("image", .string("Container image. Recorded and shown; processes run from the Flink distribution Flinklet was given (`--flink-home`).")),
            Property("imagePullPolicy", .enumeration(ImagePullPolicy.allCases.map(\.rawValue), "Kubernetes only."),
                     local: .ignored(reason: "there are no images to pull on one machine")),
            Property("serviceAccount", .string("Kubernetes only."), local: .ignored(reason: "processes run as the operator's user")),
            Property("flinkVersion", .enumeration(FlinkVersion.allCases.map(\.rawValue), "Flink version of the cluster: its distribution (`hack/install-flink.sh 1.20` installs v1_20). Flinklet runs v1_20, v2_0, v2_1, v2_2 and v2_3.")),
            Property("ingress", ingressSpec, local: .ignored(reason: "the REST endpoint is on 127.0.0.1; see status.clusterInfo")),
            Property("podTemplate", .freeForm(podTemplateDescription), local: .partial),
            Property("jobManager", jobManagerSpec),
            Property("taskManager", taskManagerSpec),
            Property("logConfiguration", .map("Replacement logging files by name (`log4j-console.properties`, ...), written into each process's configuration directory.")),
            Property("mode", .enumeration(DeploymentMode.allCases.map(\.rawValue), "Deployment mode: `application`, `per-job` or `session`. Upstream's `native` and `standalone` mean: application when `job` is set, session otherwise (the default too).")),
        ])
    }

    static var flinkSessionJobSpec: Schema {
        Schema.object(
        "Desired state of a job in a session cluster.",
        required: ["deploymentName", "job"],
        [
            Property("deploymentName", .string("Name of the session-mode FlinkDeployment (same namespace) to run in.")),
            Property("job", jobSpec),
            Property("restartNonce", .integer("Resubmit the job (with the upgrade mode's state handling). " + nonce)),
            Property("flinkConfiguration", Schema(.flinkConfiguration, "Job-level Flink configuration passed with the submission. Keys Flinklet manages are rejected.")),
        ])
    }

    static var flinkStateSnapshotSpec: Schema {
        Schema.object(
        "Desired snapshot: exactly one of `savepoint` and `checkpoint`.",
        [
            Property("jobReference", .object("The resource (same namespace) whose running job is snapshotted. Not needed for a savepoint that `alreadyExists`.", [
                Property("kind", .enumeration(JobReferenceKind.allCases.map(\.rawValue), "Kind of the referenced resource.")),
                Property("name", .string("Name of the referenced resource.")),
            ])),
            Property("savepoint", .object("Take a savepoint (or register one that exists).", [
                Property("path", .string("Target directory of the savepoint (default: the job's `execution.checkpointing.savepoint-dir`, else the cluster's savepoint directory under the state directory); with `alreadyExists`, the savepoint itself.")),
                Property("formatType", .enumeration(SavepointFormatType.allCases.map(\.rawValue), "Savepoint format: CANONICAL (default) or NATIVE.")),
                Property("disposeOnDelete", .boolean("Delete the savepoint's files when this resource is deleted. Default true.")),
                Property("alreadyExists", .boolean("The savepoint exists at `path`: nothing is triggered; COMPLETED when its `_metadata` is there. Default false.")),
            ])),
            Property("checkpoint", .object("Take a checkpoint (of the job's configured checkpoint type).", [])),
            Property("backoffLimit", .integer("Retries after a failed attempt before the snapshot is FAILED for good; -1 (default) retries without limit, 0 never.", minimum: -1, format: .int32)),
        ])
    }

    static var flinkStateSnapshotStatus: Schema {
        Schema.object(
        "Observed state of the snapshot, written by Flinklet.",
        [
            Property("state", .enumeration(FlinkStateSnapshotStatus.State.allCases.map(\.rawValue), "TRIGGER_PENDING, IN_PROGRESS, COMPLETED, FAILED or ABANDONED (the job was not running).")),
            Property("triggerId", .string("Flink trigger id of the snapshot in progress, recorded before the request is sent.")),
            Property("triggerTimestamp", .string("When the snapshot was triggered (RFC 3339).")),
            Property("resultTimestamp", .string("When the snapshot completed, failed or was abandoned (RFC 3339).")),
            Property("path", .string("Location of the completed snapshot.")),
            Property("error", .string("Why the last attempt failed.")),
            Property("failures", .integer("Failed attempts so far.", format: .int32)),
            Property("observedGeneration", .integer("The generation of the spec last reconciled.")),
            Property("conditions", conditions),
        ])
    }

    // MARK: status

    static var snapshotTrigger: Schema {
        Schema.enumeration(SnapshotTriggerType.allCases.map(\.rawValue), "What triggered the snapshot.")
    }

    static var savepoint: Schema {
        Schema.object(
        "A completed savepoint.",
        [
            Property("timeStamp", .integer("Completion time, milliseconds since the epoch.")),
            Property("location", .string("Savepoint path.")),
            Property("triggerType", snapshotTrigger),
            Property("formatType", .enumeration(SavepointFormatType.allCases.map(\.rawValue), "Savepoint format.")),
            Property("triggerNonce", .integer("The nonce that triggered it, for manual savepoints.")),
        ])
    }

    static var checkpoint: Schema {
        Schema.object(
        "A completed checkpoint.",
        [
            Property("timeStamp", .integer("Completion time, milliseconds since the epoch.")),
            Property("location", .string("Checkpoint path.")),
            Property("triggerType", snapshotTrigger),
            Property("formatType", .enumeration(CheckpointType.allCases.map(\.rawValue), "Checkpoint type.")),
            Property("triggerNonce", .integer("The nonce that triggered it, for manual checkpoints.")),
        ])
    }

    static var jobStatus: Schema {
        Schema.object(
        "The job as Flink reports it.",
        [
            Property("jobName", .string("Job name.")),
            Property("jobId", .string("Job id (32 hex digits), chosen by Flinklet.")),
            Property("state", .string("Flink job status: CREATED, RUNNING, FINISHED, FAILED, CANCELED, ...")),
            Property("startTime", .string("Start time, milliseconds since the epoch.")),
            Property("updateTime", .string("Last update, milliseconds since the epoch.")),
            Property("upgradeSavepointPath", .string("Savepoint or checkpoint the next deployment restores from.")),
            Property("savepointInfo", .object("Savepoints of the job.", [
                Property("lastSavepoint", savepoint),
                Property("triggerId", .string("Id of the savepoint in progress.")),
                Property("triggerTimestamp", .integer("When the savepoint in progress was triggered.")),
                Property("triggerType", snapshotTrigger),
                Property("formatType", .enumeration(SavepointFormatType.allCases.map(\.rawValue), "Format of the savepoint in progress.")),
                Property("savepointHistory", .array("Completed savepoints, oldest first.", of: savepoint)),
                Property("lastPeriodicSavepointTimestamp", .integer("When the last periodic savepoint was triggered.")),
            ])),
            Property("checkpointInfo", .object("Manually triggered checkpoints of the job.", [
                Property("lastCheckpoint", checkpoint),
                Property("triggerId", .string("Id of the checkpoint in progress.")),
                Property("triggerTimestamp", .integer("When the checkpoint in progress was triggered.")),
                Property("triggerType", snapshotTrigger),
                Property("formatType", .enumeration(CheckpointType.allCases.map(\.rawValue), "Type of the checkpoint in progress.")),
                Property("lastPeriodicCheckpointTimestamp", .integer("When the last periodic checkpoint was triggered.")),
            ])),
        ])
    }

    static var reconciliationStatus: Schema {
        Schema.object(
        "What the operator last acted on.",
        [
            Property("reconciliationTimestamp", .integer("Last reconciliation that changed the deployment, milliseconds since the epoch.")),
            Property("lastReconciledSpec", .string("The spec last deployed, as JSON.")),
            Property("lastStableSpec", .string("The last spec that ran stably, as JSON: the rollback target.")),
            Property("state", .enumeration(ReconciliationState.allCases.map(\.rawValue), "DEPLOYED, UPGRADING (target spec committed, not yet running), ROLLING_BACK, ROLLED_BACK.")),
        ])
    }

    static var conditions: Schema {
        Schema.array(
        "Kubernetes-style conditions: Ready, Running, and Reconciling/Stalled while abnormal.",
        of: .object("A condition.", required: ["type", "status"], [
            Property("type", .string("Condition type.")),
            Property("status", .enumeration(Condition.Status.allCases.map(\.rawValue), "True, False or Unknown.")),
            Property("reason", .string("CamelCase reason.")),
            Property("message", .string("Human-readable detail.")),
            Property("observedGeneration", .integer("The generation this condition describes.")),
            Property("lastTransitionTime", .string("When `status` last changed (RFC 3339).")),
        ]))
    }

    static var lifecycleState: Schema {
        Schema.enumeration(ResourceLifecycleState.allCases.map(\.rawValue), "Lifecycle of the resource.")
    }

    static var flinkDeploymentStatus: Schema {
        Schema.object(
        "Observed state, written by Flinklet.",
        [
            Property("jobStatus", jobStatus),
            Property("error", .string("Last error, if the resource is in error.")),
            Property("observedGeneration", .integer("The generation of the spec last reconciled.")),
            Property("lifecycleState", lifecycleState),
            Property("clusterInfo", .map("Cluster facts: REST URL, Flink version, ports.")),
            Property("jobManagerDeploymentStatus", .enumeration(JobManagerDeploymentStatus.allCases.map(\.rawValue), "State of the JobManager.")),
            Property("reconciliationStatus", reconciliationStatus),
            Property("taskManager", .object("TaskManager summary.", [
                Property("labelSelector", .string("Selector of the TaskManager pods.")),
                Property("replicas", .integer("Number of TaskManagers.", format: .int32)),
            ])),
            Property("conditions", conditions),
        ])
    }

    static var flinkSessionJobStatus: Schema {
        Schema.object(
        "Observed state, written by Flinklet.",
        [
            Property("jobStatus", jobStatus),
            Property("error", .string("Last error, if the resource is in error.")),
            Property("observedGeneration", .integer("The generation of the spec last reconciled.")),
            Property("lifecycleState", lifecycleState),
            Property("reconciliationStatus", reconciliationStatus),
            Property("conditions", conditions),
        ])
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension ResourceSchemas {
    /// The schema of `kind` for the calling thread: built on a thread's first use and kept for
    /// that thread alone, so checking manifests on every core shares no reference counts.
    static func threadLocal(for kind: ResourceKind) -> Schema {
        let cache: ThreadSchemas
        if let pointer = pthread_getspecific(threadSchemasKey) {
            cache = Unmanaged<ThreadSchemas>.fromOpaque(pointer).takeUnretainedValue()
        } else {
            cache = ThreadSchemas()
            pthread_setspecific(threadSchemasKey, Unmanaged.passRetained(cache).toOpaque())
        }
        switch kind {
        case .flinkDeployment: return cache.flinkDeployment
        case .flinkSessionJob: return cache.flinkSessionJob
        case .flinkStateSnapshot: return cache.flinkStateSnapshot
        }
    }
}

private final class ThreadSchemas {
    let flinkDeployment = ResourceSchemas.flinkDeployment
    let flinkSessionJob = ResourceSchemas.flinkSessionJob
    let flinkStateSnapshot = ResourceSchemas.flinkStateSnapshot
}

private let threadSchemasKey: pthread_key_t = {
    var key = pthread_key_t()
    pthread_key_create(&key) { pointer in
        if let pointer { Unmanaged<ThreadSchemas>.fromOpaque(pointer).release() }
    }
    return key
}()
