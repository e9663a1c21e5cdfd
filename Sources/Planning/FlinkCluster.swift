import FlinkResources
import Reconciliation
import Foundation

/// How a `FlinkDeployment` becomes pods: a JobManager, TaskManagers and, in per-job mode, a
/// submitter, each a JVM started directly with `java` (never through `bin/*.sh`), with its
/// configuration rendered into its own `conf/config.yaml`.
///
/// Guarantees: the same spec, observation and job id give the same pods (and plan hashes);
/// every process binds to 127.0.0.1 only, on the ports leased to the cluster; every directory a
/// process writes is under its pod directory or the cluster directory, never `/opt/flink`.
public enum FlinkCluster {
    /// Process sizes used when a manifest gives none (what Flink's documentation starts with).
    public static let defaultJobManagerMemory = "768m"
    public static let defaultTaskManagerMemory = "1024m"

    /// `-Xmx` of the submitter's Flink client JVM.
    public static let clientHeap = "256m"

    /// How the per-job submitter retries its submission while its JobManager does not answer
    /// yet (it starts with the JobManager, `FlinkPlanner`): every 200 ms instead of Flink's 3 s,
    /// for up to 10 minutes (a JobManager on a loaded machine was seen to take 104 s) instead of
    /// Flink's 20 attempts. A manifest's own values are kept.
    public static let submitterRetry = ["rest.retry.delay": "200ms", "rest.retry.max-attempts": "3000"]

    public static func slotsPerTaskManager(_ spec: FlinkDeploymentSpec) -> Int {
        spec.flinkConfiguration?["taskmanager.numberOfTaskSlots"].flatMap(Int.init).map { max(1, $0) } ?? 1
    }

    /// `taskManager.replicas`, or enough TaskManagers for the job's parallelism (at least one).
    public static func taskManagerReplicas(_ spec: FlinkDeploymentSpec) -> Int {
        if let replicas = spec.taskManager?.replicas { return max(1, replicas) }
        let parallelism = spec.job?.parallelism ?? 1
        let slots = slotsPerTaskManager(spec)
        return max(1, (parallelism + slots - 1) / slots)
    }

    /// Ports a cluster leases: REST, blob, JobManager RPC for each side; then, per TaskManager,
    /// RPC and data for each side (see `side(ofJob:)`). Growing the TaskManagers only appends.
    public static func portCount(_ spec: FlinkDeploymentSpec) -> Int { 4 + 4 * taskManagerReplicas(spec) }

    /// Ports a cluster leases for its JVMs' Prometheus reporters (a lease of their own, so the
    /// layout of `portCount` stays as it was): the JobManager's; then, per TaskManager, one for
    /// each side. Growing the TaskManagers only appends. See `metricsPortLeaseOwner`.
    public static func metricsPortCount(_ spec: FlinkDeploymentSpec) -> Int { 1 + 2 * taskManagerReplicas(spec) }

    /// `metricsPortCount` of the cluster whose `portCount` is `count` (the lease step carries
    /// only that count).
    public static func metricsPortCount(forPortCount count: Int) -> Int { 1 + 2 * max(1, (count - 4) / 4) }

    /// The owner of a resource's reporter ports in the Store: `<key>#metrics`, released with the
    /// resource's own lease.
    public static func metricsPortLeaseOwner(_ key: String) -> String { key + "#metrics" }

    /// The Prometheus reporter Flinklet configures (`metrics.reporter.prom.*`): Flink's own
    /// (the distribution's `plugins/metrics-prometheus`), bound to `host` 127.0.0.1 by a factory
    /// of ours (Flink 2.3's takes no host and binds every interface), installed as the plugin
    /// `plugins/flinklet-metrics-prometheus` by hack/build-metrics-plugin.sh.
    public static let prometheusReporterFactory = "dev.flinklet.metrics.LoopbackPrometheusReporterFactory"
    /// The plugin directory (and jar name) of `prometheusReporterFactory`.
    public static let loopbackReporterPlugin = "flinklet-metrics-prometheus"

    /// Whether the manifest configures reporters of its own (`metrics.reporter.<name>.*` or
    /// `metrics.reporters`): then Flinklet adds none.
    public static func configuresOwnReporters(_ configuration: FlinkConfiguration?) -> Bool {
        configuration?.entries.keys.contains { $0.hasPrefix("metrics.reporter.") || $0 == "metrics.reporters" } ?? false
    }

    /// Which of a cluster's two sets of RPC ports (and TaskManager names) a job's cluster uses:
    /// 0 or 1; 0 for a session cluster (no job id).
    ///
    /// A job and the job that replaces it are on different sides (`JobLifecycle.nextJobId`
    /// guarantees it), so the new job's TaskManagers can start on their own ports, waiting for
    /// their own JobManager, while the old job still runs: they are warm when its snapshot is
    /// taken, and never register with the old JobManager.
    public static func side(ofJob jobId: String?) -> Int {
        guard let last = jobId?.last?.hexDigitValue else { return 0 }
        return last & 1
    }

    /// The id of the job a resource runs for a generation: 32 hex digits, derived so a retry
    /// computes the same id (and Flink refuses a second copy) while a new generation gets a new one.
    public static func jobId(key: String, generation: Int64) -> String {
        StableHash.of(bytes: Array("\(key)#\(generation)#high".utf8)) + StableHash.of(bytes: Array("\(key)#\(generation)#low".utf8))
    }

    public static func jobManagerName(_ name: String) -> String { "\(name)-jobmanager-0" }
    /// `<name>-taskmanager-<side + 1>-<index>`: the TaskManagers of a job and of the job that
    /// replaces it never share a name.
    public static func taskManagerName(_ name: String, side: Int, _ index: Int) -> String { "\(name)-taskmanager-\(side + 1)-\(index)" }
    public static func submitterName(_ name: String) -> String { "\(name)-submitter" }

    public static func checkpointDirectory(_ observation: FlinkObservation) -> String { observation.clusterDirectory + "/checkpoints" }
    public static func savepointDirectory(_ observation: FlinkObservation) -> String { observation.clusterDirectory + "/savepoints" }

    /// What a cluster is made of, or why it cannot be made.
    public struct Layout: Sendable, Hashable {
        public var jobManager: PodPlan
        public var taskManagers: [PodPlan]
        /// Per-job mode only: the Flink client that submits the job.
        public var submitter: PodPlan?
        public var restPort: Int
    }

    /// The pods of `deployment`'s cluster.
    ///
    /// - `jobId`: the job's id (application and per-job modes).
    /// - `jar`: the job jar's local path (application and per-job modes).
    /// - `restorePath`: the savepoint or checkpoint the job starts from (nil: empty state).
    /// - `jobManagerRestarts`: how often the running JobManager of this plan was restarted in
    ///   place (a session cluster's): its TaskManagers are started anew with each restart.
    public static func layout(of deployment: FlinkDeployment, observation: FlinkObservation, distribution: FlinkDistribution,
                              jobId: String?, jar: String?, restorePath: String? = nil,
                              jobManagerRestarts: Int = 0) -> Result<Layout, DeploymentProblem> {
        let spec = deployment.spec
        let name = deployment.metadata.name
        let mode = spec.effectiveMode
        let replicas = taskManagerReplicas(spec)
        guard observation.ports.count >= portCount(spec) else {
            return .failure(DeploymentProblem("\(portCount(spec)) ports are needed and \(observation.ports.count) are leased"))
        }
        let ports = observation.ports
        let side = side(ofJob: mode == .session ? nil : jobId)
        // The reporter's port of the JobManager (0) and of each TaskManager (1 + 2 × index + side).
        let reporting = distribution.loopbackPrometheusReporter && !configuresOwnReporters(spec.flinkConfiguration)
            && observation.metricsPorts.count >= metricsPortCount(spec)
        func reporter(_ index: Int) -> [String: String] {
            guard reporting else { return [:] }
            return ["metrics.reporter.prom.factory.class": prometheusReporterFactory,
                    "metrics.reporter.prom.host": "127.0.0.1",
                    "metrics.reporter.prom.port": String(observation.metricsPorts[index])]
        }
        let (restPort, blobPort, rpcPort) = (ports[0], ports[1], ports[2 + side])
        // Operator settings are not Flink's: they never reach a process (so changing one never
        // restarts anything).
        // High availability that an upstream manifest turns on is left out: Flinklet restores jobs itself.
        let user = FlinkConfiguration((spec.flinkConfiguration ?? FlinkConfiguration()).withoutHighAvailability.entries.filter { !isOperatorKey($0.key) })

        var shared: [String: String] = [
            // Speed: fast registration and failure detection on one machine (facts page). A
            // TaskManager started ahead of its JobManager retries this often (no cost on loopback).
            "cluster.registration.error-delay": "200ms",
            "heartbeat.interval": "2s",
            "heartbeat.timeout": "10s",
            "web.refresh-interval": "500ms",
            "execution.checkpointing.dir": "file://" + checkpointDirectory(observation),
            "execution.checkpointing.savepoint-dir": "file://" + savepointDirectory(observation),
            // Last-state upgrades and crash recovery restore from the newest checkpoint.
            "execution.checkpointing.externalized-checkpoint-retention": "RETAIN_ON_CANCELLATION",
        ]
        for (key, value) in user { shared[key] = value }
        // last-state needs checkpoints; a job whose code enables checkpointing keeps its own interval.
        let defaultInterval = spec.job?.upgradeMode == .lastState && user["execution.checkpointing.interval"] == nil
            && user["execution.checkpointing.checkpointing-interval"] == nil
        if defaultInterval { shared["execution.checkpointing.interval"] = FlinkConfiguration.defaultLastStateCheckpointInterval }
        // Only Flinklet may use the cluster: mutual TLS on REST and inside the cluster. A
        // manifest's own `security.ssl.*` are replaced (they name Kubernetes secrets' paths).
        if let tls = observation.tls {
            shared = shared.filter { !ClusterTLS.isManaged($0.key) }.merging(tls.clusterConfiguration) { $1 }
        }
        // Flinklet's own keys (validation refuses them in manifests).
        shared["jobmanager.rpc.address"] = "127.0.0.1"
        shared["jobmanager.rpc.port"] = String(rpcPort)
        shared["high-availability.type"] = "none"
        shared["taskmanager.numberOfTaskSlots"] = String(slotsPerTaskManager(spec))
        if let parallelism = spec.job?.parallelism { shared["parallelism.default"] = String(parallelism) }
        let jmMemory = spec.jobManager?.memory ?? user["jobmanager.memory.process.size"] ?? defaultJobManagerMemory
        let tmMemory = spec.taskManager?.memory ?? user["taskmanager.memory.process.size"] ?? defaultTaskManagerMemory
        guard let jmBytes = (try? MemorySize.parse(jmMemory))?.bytes, let tmBytes = (try? MemorySize.parse(tmMemory))?.bytes else {
            return .failure(DeploymentProblem("memory \"\(jmMemory)\" or \"\(tmMemory)\" is not a size"))
        }
        // `resources.limits.memory` above the request raises the pod's limit, as upstream's limit factor does.
        let jmLimitBytes = spec.jobManager?.memoryLimit.flatMap { try? MemorySize.parse($0).bytes }
        let tmLimitBytes = spec.taskManager?.memoryLimit.flatMap { try? MemorySize.parse($0).bytes }
        shared["jobmanager.memory.process.size"] = "\(jmBytes)b"
        shared["taskmanager.memory.process.size"] = "\(tmBytes)b"
        let configuration = FlinkConfiguration(shared)

        // JobManager.
        let jmName = jobManagerName(name)
        let jmDirectory = observation.podRoot + "/" + jmName
        var jmConfig = shared
        jmConfig["jobmanager.bind-host"] = "127.0.0.1"
        jmConfig["rest.address"] = "127.0.0.1"
        jmConfig["rest.bind-address"] = "127.0.0.1"
        jmConfig["rest.port"] = String(restPort)
        jmConfig["blob.server.port"] = String(blobPort)
        jmConfig["web.upload.dir"] = jmDirectory + "/uploads"
        // Jars are uploaded and run over REST only for a session cluster's session jobs; per-job
        // clients submit through `POST /jobs`, application clusters run their own jar.
        jmConfig["web.submit.enable"] = mode == .session ? "true" : "false"
        jmConfig.merge(reporter(0)) { $1 }
        jmConfig.merge(processDirectories(jmDirectory)) { $1 }
        var entryPoint = "org.apache.flink.runtime.entrypoint.StandaloneSessionClusterEntrypoint"
        if mode == .application {
            entryPoint = "org.apache.flink.container.entrypoint.StandaloneApplicationClusterEntryPoint"
            // Keep the JobManager after the job ends, so its outcome can be read (as upstream).
            jmConfig["execution.shutdown-on-application-finish"] = "false"
            jmConfig["execution.submit-failed-job-on-application-error"] = "true"
        }
        func programArguments(restorePath: String?, allowNonRestoredState: Bool) -> [String] {
            guard mode == .application, let job = spec.job else { return [] }
            var programArguments: [String] = []
            if let jobId { programArguments += ["--job-id", jobId] }
            if let entryClass = job.entryClass { programArguments += ["--job-classname", entryClass] }
            if let restorePath {
                programArguments += ["--fromSavepoint", restorePath]
                if allowNonRestoredState { programArguments += ["--allowNonRestoredState"] }
            }
            if let jar { programArguments += ["--jars", "local://" + jar] }
            // `--jars` takes many values and Flink's parser would take the program's arguments
            // for more jars: `--` ends the options, whatever the arguments look like.
            programArguments += ["--"] + (job.args ?? [])
            return programArguments
        }
        guard case .success(let jmMemoryModel)? = FlinkMemoryModel.jobManager(process: jmBytes, configuration: configuration) else {
            return .failure(DeploymentProblem("the JobManager's memory (\(jmMemory)) cannot be divided by Flink's memory model; set spec.jobManager.resource.memory and no other jobmanager.memory.* sizes"))
        }
        let jmJVM = ["-Xmx\(jmMemoryModel.heap)", "-Xms\(jmMemoryModel.heap)", "-XX:MaxMetaspaceSize=\(jmMemoryModel.metaspace)"]
        let jmDynamic = [
            "jobmanager.memory.heap.size": "\(jmMemoryModel.heap)b",
            "jobmanager.memory.off-heap.size": "\(jmMemoryModel.offHeap)b",
            "jobmanager.memory.jvm-metaspace.size": "\(jmMemoryModel.metaspace)b",
            "jobmanager.memory.jvm-overhead.min": "\(jmMemoryModel.overhead)b",
            "jobmanager.memory.jvm-overhead.max": "\(jmMemoryModel.overhead)b",
        ]
        func jobManagerPod(restorePath: String?, allowNonRestoredState: Bool = false) -> PodPlan {
            var plan = pod(name: jmName, role: .jobManager, directory: jmDirectory, distribution: distribution,
                jvm: jmJVM, mainClass: entryPoint, configuration: jmConfig, dynamic: jmDynamic,
                arguments: programArguments(restorePath: restorePath, allowNonRestoredState: allowNonRestoredState), processBytes: jmBytes,
                limitBytes: jmLimitBytes,
                // An application JobManager that restarted by itself would run its job from
                // the start, without its state: the planner decides instead.
                restartPolicy: mode == .session ? .always : .never,
                readiness: observation.tls == nil ? .httpGet(port: restPort, path: "/overview") : .httpsGet(port: restPort, path: "/overview"))
            if reporting { plan.metricsPort = observation.metricsPorts[0] }
            return plan
        }
        // `allowNonRestoredState` matters only as a job starts (an ignore-class change, as
        // upstream): it is left out of the pod's identity, so flipping it never restarts a
        // running job — which would start it again from its old snapshot.
        let allowNonRestoredState = spec.job?.allowNonRestoredState == true
        let jobManager = identified(jobManagerPod(restorePath: restorePath, allowNonRestoredState: allowNonRestoredState),
                                    as: jobManagerPod(restorePath: restorePath))
        // What ties the TaskManagers to their JobManager: its plan, whatever snapshot it starts
        // from (known only once taken, after they have started).
        let jobManagerRevision = restorePath == nil ? jobManager.planHash : jobManagerPod(restorePath: nil).planHash

        // TaskManagers.
        guard case .success(let tmModel)? = FlinkMemoryModel.taskManager(process: tmBytes, configuration: configuration) else {
            return .failure(DeploymentProblem("the TaskManagers' memory (\(tmMemory)) cannot be divided by Flink's memory model; set spec.taskManager.resource.memory and no other taskmanager.memory.* sizes"))
        }
        let slots = slotsPerTaskManager(spec)
        let tmJVM = ["-Xmx\(tmModel.heap)", "-Xms\(tmModel.heap)", "-XX:MaxDirectMemorySize=\(tmModel.frameworkOffHeap + tmModel.taskOffHeap + tmModel.network)",
                     "-XX:MaxMetaspaceSize=\(tmModel.metaspace)"]
        let tmDynamic = [
            "taskmanager.cpu.cores": "\(slots).0",
            "external-resources": "none",
            "taskmanager.memory.framework.heap.size": "\(tmModel.frameworkHeap)b",
            "taskmanager.memory.task.heap.size": "\(tmModel.taskHeap)b",
            "taskmanager.memory.framework.off-heap.size": "\(tmModel.frameworkOffHeap)b",
            "taskmanager.memory.task.off-heap.size": "\(tmModel.taskOffHeap)b",
            "taskmanager.memory.managed.size": "\(tmModel.managed)b",
            "taskmanager.memory.network.min": "\(tmModel.network)b",
            "taskmanager.memory.network.max": "\(tmModel.network)b",
            "taskmanager.memory.jvm-metaspace.size": "\(tmModel.metaspace)b",
            "taskmanager.memory.jvm-overhead.min": "\(tmModel.overhead)b",
            "taskmanager.memory.jvm-overhead.max": "\(tmModel.overhead)b",
        ]
        let taskManagers = (0..<replicas).map { index in
            // TaskManagers start and stop with their JobManager: one that outlived it would run
            // old tasks until its heartbeat timed out. Naming the JobManager's plan ties them.
            let tmName = taskManagerName(name, side: side, index)
            let directory = observation.podRoot + "/" + tmName
            var config = shared
            config["taskmanager.host"] = "127.0.0.1"
            config["taskmanager.bind-host"] = "127.0.0.1"
            // Each process gets a fresh RPC port from the kernel (on 127.0.0.1, below no lease):
            // Pekko keeps state per remote address, and a TaskManager restarted (after a kill)
            // on its predecessor's address before the JobManager had written that one off was
            // never let in — it retried its ResourceManager for minutes (chaos round 152, seed
            // 7). The leased slot at `4 + 4 * index + 2 * side` stays reserved, unused, so the
            // lease layout (and every running cluster's data ports) is unchanged.
            config["taskmanager.rpc.port"] = "0"
            config["taskmanager.data.port"] = String(ports[5 + 4 * index + 2 * side])
            config["taskmanager.resource-id"] = tmName
            config.merge(processDirectories(directory)) { $1 }
            config.merge(reporter(1 + 2 * index + side)) { $1 }
            var plan = pod(name: tmName, role: .taskManager, directory: directory, distribution: distribution, jvm: tmJVM,
                           mainClass: "org.apache.flink.runtime.taskexecutor.TaskManagerRunner", configuration: config,
                           dynamic: tmDynamic, arguments: [], processBytes: tmBytes, limitBytes: tmLimitBytes, restartPolicy: .always,
                           // Up and looking for its ResourceManager: from here it registers within
                           // `cluster.registration.error-delay` of the JobManager answering.
                           readiness: .logLine(taskManagerStartedLine))
            plan.environment["FLINKLET_JOBMANAGER_PLAN"] = jobManagerRevision
            // A JobManager restarted in place (no high availability) has lost its jobs, but its
            // TaskManagers would run their tasks on until their heartbeat timed out, beside the
            // jobs recovered in the new JobManager: they restart with it.
            if jobManagerRestarts > 0 { plan.environment["FLINKLET_JOBMANAGER_RESTARTS"] = String(jobManagerRestarts) }
            if reporting { plan.metricsPort = observation.metricsPorts[1 + 2 * index + side] }
            return plan
        }

        // Per-job: the Flink client, run against the cluster's REST port with a fixed job id.
        var submitter: PodPlan?
        if mode == .perJob, let job = spec.job, let jar {
            let submitterName = submitterName(name)
            let directory = observation.podRoot + "/" + submitterName
            var config = user.entries.filter { !ClusterTLS.isManaged($0.key) }
            if let tls = observation.tls { config.merge(tls.restConfiguration) { $1 } }
            config["execution.target"] = "remote"
            // The client may start with its JobManager: it retries until REST answers.
            for (key, value) in submitterRetry where config[key] == nil { config[key] = value }
            config["rest.address"] = "127.0.0.1"
            config["rest.port"] = String(restPort)
            if let jobId { config["$internal.pipeline.job-id"] = jobId }
            if let parallelism = job.parallelism { config["parallelism.default"] = String(parallelism) }
            config["execution.checkpointing.dir"] = shared["execution.checkpointing.dir"]
            if defaultInterval { config["execution.checkpointing.interval"] = FlinkConfiguration.defaultLastStateCheckpointInterval }
            config["execution.checkpointing.savepoint-dir"] = shared["execution.checkpointing.savepoint-dir"]
            config.merge(processDirectories(directory)) { $1 }
            var arguments = ["run", "--detached"]
            if let entryClass = job.entryClass { arguments += ["--class", entryClass] }
            if let restorePath { arguments += ["--fromSavepoint", restorePath] }
            let submitterPod = { (arguments: [String]) in
                pod(name: submitterName, role: .submitter, directory: directory, distribution: distribution,
                    jvm: ["-Xmx\(clientHeap)"], mainClass: "org.apache.flink.client.cli.CliFrontend", configuration: config,
                    dynamic: [:], arguments: arguments + [jar] + (job.args ?? []), processBytes: nil, restartPolicy: .never, readiness: nil)
            }
            let startOnly = restorePath != nil && allowNonRestoredState ? ["--allowNonRestoredState"] : []
            submitter = identified(submitterPod(arguments + startOnly), as: submitterPod(arguments))
        }
        return .success(Layout(jobManager: jobManager, taskManagers: taskManagers, submitter: submitter, restPort: restPort))
    }

    /// `plan`, identified as `base` is: what `plan` adds to `base` matters only as its process
    /// starts, so a running pod of either is kept.
    static func identified(_ plan: PodPlan, as base: PodPlan) -> PodPlan {
        guard plan != base else { return plan }
        var identified = plan
        identified.identity = base.planHash
        return identified
    }

    /// What a TaskManager logs once it is up and starts looking for its ResourceManager.
    public static let taskManagerStartedLine = "Connecting to ResourceManager"

    /// Keys that configure the operator, not Flink (`kubernetes.operator.*`, `flinklet.*`).
    public static func isOperatorKey(_ key: String) -> Bool {
        key.hasPrefix("kubernetes.operator.") || key.hasPrefix("flinklet.")
    }

    /// Directories each process keeps to itself (and that go with its pod).
    static func processDirectories(_ directory: String) -> [String: String] {
        [
            "io.tmp.dirs": directory + "/tmp",
            "web.tmpdir": directory + "/tmp/web",
            "user.artifacts.base-dir": directory + "/artifacts",
            "env.log.dir": directory,
            "env.pid.dir": directory,
        ]
    }

    static func pod(name: String, role: PodRole, directory: String, distribution: FlinkDistribution, jvm: [String],
                    mainClass: String, configuration: [String: String], dynamic: [String: String], arguments: [String],
                    processBytes: Int64?, limitBytes: Int64? = nil, restartPolicy: PodPlan.RestartPolicy,
                    readiness: PodPlan.Readiness?) -> PodPlan {
        // As Flink's scripts order them: the shipped options, the memory flags, then the
        // manifest's `env.java.opts.*` (last, so they win); Flinklet's start-up tuning first.
        var argv = [distribution.java] + distribution.jvmOptions + FlinkJVMOptions.startup(for: role) + jvm
        if let archive = distribution.classDataArchives[role] { argv.append("-XX:SharedArchiveFile=\(archive)") }
        argv += FlinkJVMOptions.user(configuration, role: role)
        argv += [
            "-Dlog.file=\(directory)/log",
            "-Dlog4j.configurationFile=file:\(directory)/conf/log4j-console.properties",
            "-classpath", distribution.classpath.joined(separator: ":"),
            mainClass,
        ]
        if mainClass != "org.apache.flink.client.cli.CliFrontend" {
            argv += ["--configDir", directory + "/conf"]
            for (key, value) in dynamic.sorted(by: { $0.key < $1.key }) { argv += ["-D", "\(key)=\(value)"] }
        }
        argv += arguments
        return PodPlan(
            name: name, role: role, argv: argv,
            environment: ["FLINK_HOME": distribution.home, "FLINK_CONF_DIR": directory + "/conf",
                          "FLINK_LIB_DIR": distribution.home + "/lib", "FLINK_PLUGINS_DIR": distribution.home + "/plugins"],
            // Flink's process size is the JVM's whole budget; the limit is a safety net above it
            // (above `resources.limits.memory` when that is larger still).
            memoryLimitBytes: processBytes.map { max($0, limitBytes ?? 0) }.map { $0 + max($0 / 4, 256 << 20) },
            restartPolicy: restartPolicy, readiness: readiness, terminationGracePeriod: .seconds(15),
            files: ["conf/config.yaml": renderConfiguration(configuration), "conf/log4j-console.properties": log4jConsole])
    }

    /// `config.yaml` with one flat, double-quoted entry per key, in key order.
    public static func renderConfiguration(_ configuration: [String: String]) -> String {
        var text = "# Written by Flinklet for this process; edits are overwritten.\n"
        for (key, value) in configuration.sorted(by: { $0.key < $1.key }) {
            text += "\(quoted(key)): \(quoted(value))\n"
        }
        return text
    }

    /// A YAML double-quoted scalar (JSON escapes are valid YAML escapes).
    static func quoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F {
                    out += String(format: "\\x%02X", scalar.value)
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }

    /// Console-only logging: the pod's log is Flink's log (rotated by the driver).
    static let log4jConsole = """
        # Written by Flinklet: Flink logs to standard output, which the pod's log file collects.
        monitorInterval = 0
        rootLogger.level = INFO
        rootLogger.appenderRef.console.ref = ConsoleAppender
        logger.pekko.name = org.apache.pekko
        logger.pekko.level = INFO
        logger.netty.name = org.jboss.netty.channel.DefaultChannelPipeline
        logger.netty.level = OFF
        appender.console.name = ConsoleAppender
        appender.console.type = CONSOLE
        appender.console.layout.type = PatternLayout
        appender.console.layout.pattern = %d{yyyy-MM-dd HH:mm:ss,SSS} %-5p %-60c %x - %m%n

        """
}
