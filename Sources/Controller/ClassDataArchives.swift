import FlinkClient
import FlinkResources
import Foundation
import Logging
import Planning
import Reconciliation
import Runtime

/// Class data sharing (AppCDS) for the Flink JVMs: an archive of the classes a JobManager, a
/// TaskManager and a per-job client load as they start and run a job, mapped in by every later
/// JVM of that role instead of being loaded and verified again. Measured on 2 busy cores: a
/// session JobManager answers REST in 3.1–5.8 s with the archive, 8.8–10.9 s without.
///
/// Contract:
/// - Every pod's command line names its role's archive (`FlinkDistribution.classDataArchives`),
///   whether or not the file exists yet: a JVM whose archive is missing or does not match its
///   class path runs without it (`-Xshare:auto`), so the archive only ever makes a start faster
///   and a pod's plan never changes when an archive appears or is made again.
/// - The archive names carry a hash of the `java` binary and of every class path jar (path,
///   size, modification time): a reinstalled distribution gets new archives, never stale ones.
/// - Archives are written under a temporary name and renamed into place, so a JVM never maps a
///   partial one; two operators generating at once each rename a complete archive.
public enum ClassDataArchives {
    public static let roles: [PodRole] = [.jobManager, .taskManager, .submitter]

    /// The archives' paths for `distribution`, in `<flink home>/flinklet-cds/` (nil: the
    /// distribution's directory is not writable, so there will be none). `tls`: for JVMs that
    /// run with mutual TLS (`ClusterTLS`), which load the JDK's TLS and crypto classes at start:
    /// archives of their own, so those classes are mapped too.
    public static func paths(for distribution: FlinkDistribution, tls: Bool = false) -> [PodRole: String]? {
        let directory = distribution.home + "/flinklet-cds"
        let fileManager = FileManager.default
        if !fileManager.fileExists(atPath: directory) {
            guard (try? fileManager.createDirectory(atPath: directory, withIntermediateDirectories: true)) != nil else { return nil }
        }
        guard fileManager.isWritableFile(atPath: directory) else { return nil }
        var identity = distribution.java + (tls ? "\ntls" : "")
        for jar in [distribution.java] + distribution.classpath {
            let attributes = try? fileManager.attributesOfItem(atPath: (jar as NSString).resolvingSymlinksInPath)
            let size = (attributes?[.size] as? NSNumber)?.int64Value ?? -1
            let modified = (attributes?[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
            identity += "\n\(jar) \(size) \(Int64(modified))"
        }
        let key = StableHash.of(bytes: Array(identity.utf8))
        return Dictionary(uniqueKeysWithValues: roles.map { ($0, "\(directory)/\(distribution.version)-\(key)-\($0.rawValue).jsa") })
    }

    /// Writes the archives that are missing or were made another way than `currentRecipe`:
    /// runs a JobManager and a TaskManager that registers with it (ports chosen by the kernel,
    /// files in a temporary directory), and when the distribution has the example counter job
    /// (`<home>/usrlib/flinklet-counter-job.jar`, which `hack/run.sh` builds) submits it twice,
    /// as the two kinds of cluster take their jobs: uploaded and run through REST (the
    /// JobManager runs its `main`, as in application and session modes) and by a per-job
    /// client (`flink run`), whose JVM writes the submitter's archive as it exits. Once a
    /// checkpoint of the first completed, both are stopped with SIGTERM and each JVM writes its
    /// archive as it exits. Takes ~15 s of three JVMs' CPU, once per distribution; failures are
    /// logged and leave the JVMs to start without (or with the earlier) archives.
    ///
    /// Why jobs, and why at exit (measured, Flink 2.3 application cluster, medians of 6,
    /// manifest to every task RUNNING): archives of an idle session cluster dumped by `jcmd
    /// VM.cds dynamic_dump` 3.90 s; of a cluster that ran the job, dumped at exit, 3.51 s. An
    /// idle cluster has not loaded what running a job loads (2,569 of a JobManager's classes
    /// still came from jars), and jcmd's dump leaves out every class loaded but not yet linked
    /// (1,816 in that JobManager; 426 at exit, which links them first).
    ///
    /// `tls`: the cluster runs with the operator's mutual TLS as every other does, so that no
    /// other local user can use it (a session cluster takes jars) while it runs, and the
    /// archives hold the TLS classes real clusters load; `rest` speaks it.
    public static func ensure(_ distribution: FlinkDistribution, tls: ClusterTLS?, rest: FlinkRESTClient, logger: Logger) async {
        let exampleJob = exampleJobJar(distribution)
        let recipe = currentRecipe(exampleJob: exampleJob != nil)
        // Without a job to submit there is no client to archive.
        let archives = distribution.classDataArchives.filter { $0.key != .submitter || exampleJob != nil }
        guard !archives.isEmpty, archives.values.contains(where: { !isMade(archive: $0, by: recipe) }) else { return }
        removeAbandonedTemporaries(in: archives.values.map { ($0 as NSString).deletingLastPathComponent })
        removeAbandonedClusterDirectories(in: NSTemporaryDirectory())
        let root = NSTemporaryDirectory() + "flinklet-cds-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: root) }
        // A session cluster (it takes jars through REST), and a per-job client from the layout
        // of the same cluster in per-job mode (same ports).
        var cluster = FlinkDeployment(metadata: ObjectMeta(name: "cds"), spec: FlinkDeploymentSpec(
            flinkConfiguration: ["execution.checkpointing.interval": "1s", "taskmanager.numberOfTaskSlots": "2"],
            jobManager: JobManagerSpec(resource: Resource(memory: FlinkCluster.defaultJobManagerMemory)),
            taskManager: TaskManagerSpec(resource: Resource(memory: FlinkCluster.defaultTaskManagerMemory), replicas: 1),
            mode: .session))
        let ports = (0..<FlinkCluster.portCount(cluster.spec)).compactMap { _ in kernelChosenPort() }
        guard Set(ports).count == FlinkCluster.portCount(cluster.spec) else { return }
        var generating = distribution
        generating.classDataArchives = [:]
        var observation = FlinkObservation(distribution: generating, podRoot: root, clusterDirectory: root, ports: ports)
        observation.tls = tls
        guard case .success(let layout) = FlinkCluster.layout(of: cluster, observation: observation, distribution: generating, jobId: nil, jar: nil),
              let taskManager = layout.taskManagers.first else { return }
        var client: PodPlan?
        if let exampleJob {
            cluster.spec.mode = .perJob
            cluster.spec.job = JobSpec(jarURI: "local:///opt/flink/usrlib/flinklet-counter-job.jar", parallelism: 1,
                                       args: exampleJobArguments(output: root + "/client-job.out"))
            if case .success(let perJob) = FlinkCluster.layout(of: cluster, observation: observation, distribution: generating,
                                                               jobId: nil, jar: exampleJob), perJob.restPort == layout.restPort {
                client = perJob.submitter
            }
        }
        logger.info("writing class data archives for faster JVM starts (once per Flink distribution)",
                    metadata: ["archives": "\(archives.values.sorted())", "example.job": "\(exampleJob ?? "none")"])
        let started = ContinuousClock.now
        var running: [(watchdog: ChildProcess, directory: String, archive: String, temporary: String)] = []
        defer {
            for pod in running {
                if let pid = javaPID(pod.directory) { kill(pid, SIGKILL) }
                // The watchdog's group holds the JVM too; the watchdog is reaped here, never left a zombie.
                pod.watchdog.signalGroup(SIGKILL)
                _ = pod.watchdog.wait()
                unlink(pod.temporary)
            }
        }
        func start(_ plan: PodPlan) -> Bool {
            guard let archive = archives[plan.role] else { return false }
            let temporary = archive + ".\(UUID().uuidString.prefix(8)).tmp"
            guard let watchdog = try? launch(plan, directory: root + "/" + plan.name, archiveAtExit: temporary) else { return false }
            running.append((watchdog, root + "/" + plan.name, archive, temporary))
            return true
        }
        guard start(layout.jobManager), start(taskManager) else { return }
        // The TaskManager registered: both have loaded what a cluster start loads.
        guard await waitFor("Successful registration at resource manager", in: root + "/" + taskManager.name + "/log", timeout: .seconds(90)) else {
            logger.warning("class data archives not written: the archiving cluster did not come up; JVMs start without them")
            return
        }
        // What the archives are made by: with the job only once it ran (else made again next time).
        var madeBy = currentRecipe(exampleJob: false)
        if let exampleJob, let client, start(client) {
            do {
                try await runUntilACheckpoint(jar: exampleJob, output: root + "/rest-job.out", port: layout.restPort, rest: rest)
                madeBy = recipe
            } catch {
                // The archives still hold what a cluster start loads.
                logger.info("class data archives: the example job did not run; archiving without it", metadata: ["error": "\(error)"])
            }
            // The client exits by itself once it submitted its job, writing its archive.
            if let pid = javaPID(root + "/" + client.name), !(await hasExited(pid, timeout: .seconds(60))) { kill(pid, SIGTERM) }
        }
        // SIGTERM: each JVM shuts down and, as it exits, writes its archive.
        for pod in running {
            if let pid = javaPID(pod.directory) { kill(pid, SIGTERM) }
        }
        var written = 0
        for pod in running {
            guard let pid = javaPID(pod.directory), await hasExited(pid, timeout: .seconds(90)) else { continue }
            if let size = (try? FileManager.default.attributesOfItem(atPath: pod.temporary))?[.size] as? NSNumber, size.int64Value > 0 {
                rename(pod.temporary, pod.archive)
                markMade(archive: pod.archive, by: madeBy)
                written += 1
            }
        }
        logger.info("class data archives written", metadata: ["seconds": "\((ContinuousClock.now - started).components.seconds)",
                                                            "written": "\(written)", "made.by": "\(madeBy.dropLast())"])
    }

    /// The example job's arguments: a few keys and records a second, written to `output`.
    static func exampleJobArguments(output: String) -> [String] {
        ["--rate", "20", "--keys", "4", "--output", output]
    }

    /// How archives are made now, recorded beside each (`<archive>.recipe`): an archive made
    /// another way (by an earlier Flinklet, or before the example job was built) is made again,
    /// at the same path, so no pod's command line changes.
    static func currentRecipe(exampleJob: Bool) -> String {
        "written at exit" + (exampleJob ? ", after the example job ran (submitted through REST and by the client)" : "") + "\n"
    }

    static func isMade(archive: String, by recipe: String) -> Bool {
        FileManager.default.fileExists(atPath: archive)
            && (try? String(contentsOfFile: archive + ".recipe", encoding: .utf8)) == recipe
    }

    static func markMade(archive: String, by recipe: String) {
        let temporary = archive + ".recipe.\(UUID().uuidString.prefix(8)).tmp"
        guard FileManager.default.createFile(atPath: temporary, contents: Data(recipe.utf8), attributes: [.posixPermissions: 0o600]) else { return }
        rename(temporary, archive + ".recipe")
    }

    /// The example counter job of `distribution`, when it has one.
    static func exampleJobJar(_ distribution: FlinkDistribution) -> String? {
        let jar = distribution.home + "/usrlib/flinklet-counter-job.jar"
        return FileManager.default.isReadableFile(atPath: jar) ? jar : nil
    }

    /// Uploads and runs `jar` (its Main-Class) and returns once a checkpoint of it completed
    /// (at most 60 s): the JVMs have then loaded what running, checkpointing and answering
    /// the operator's REST questions about a job loads.
    static func runUntilACheckpoint(jar: String, output: String, port: Int, rest: FlinkRESTClient) async throws {
        let jarId = try await rest.uploadJar(port: port, path: jar)
        let jobId = try await rest.runJar(port: port, jarId: jarId, submission: JobSubmission(
            programArgs: exampleJobArguments(output: output), parallelism: 1))
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            if try await rest.jobs(port: port).contains(where: { $0.id == jobId && $0.state == .running }),
               try await rest.latestCheckpoint(port: port, jobId: jobId) != nil {
                return
            }
            try await Task.sleep(for: .milliseconds(250))
        }
        throw ArchiveJobTimeout()
    }

    struct ArchiveJobTimeout: Error, CustomStringConvertible {
        var description: String { "no checkpoint of the example job completed within 60 s" }
    }

    /// Whether `pid` has exited (gone, or a zombie its parent has not reaped) within `timeout`.
    static func hasExited(_ pid: pid_t, timeout: Duration) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            guard let stat = ProcessInfoReader.stat(pid: pid), !stat.isZombie else { return true }
            // Cancelled (the operator shuts down): no answer, rather than polling without sleeping.
            guard (try? await Task.sleep(for: .milliseconds(100))) != nil else { return false }
        }
        return false
    }

    /// Archiving clusters' directories (`flinklet-cds-*` in `parent`) untouched for more than 10
    /// minutes: left by an operator killed while its cluster ran (its watchdogs kill the JVMs
    /// within 3 minutes, but a killed operator never removes the directory).
    static func removeAbandonedClusterDirectories(in parent: String) {
        removeUntouchedForTenMinutes(in: parent) { name, type in name.hasPrefix("flinklet-cds-") && type == .typeDirectory }
    }

    /// Temporary archives more than 10 minutes old: left by an operator killed while it wrote
    /// them (a live one finishes in well under that).
    static func removeAbandonedTemporaries(in directories: [String]) {
        for directory in Set(directories) {
            removeUntouchedForTenMinutes(in: directory) { name, _ in name.hasSuffix(".tmp") }
        }
    }

    /// Removes the entries of `directory` that `matches` (name, type) and were last modified
    /// more than 10 minutes ago. An entry whose age cannot be read is kept.
    private static func removeUntouchedForTenMinutes(in directory: String, matches: (String, FileAttributeType?) -> Bool) {
        let fileManager = FileManager.default
        for name in (try? fileManager.contentsOfDirectory(atPath: directory)) ?? [] {
            let path = (directory as NSString).appendingPathComponent(name)
            guard let attributes = try? fileManager.attributesOfItem(atPath: path),
                  matches(name, attributes[.type] as? FileAttributeType),
                  let modified = attributes[.modificationDate] as? Date, modified.timeIntervalSinceNow < -600 else { continue }
            try? fileManager.removeItem(atPath: path)
        }
    }

    /// Starts `plan`'s JVM, which writes its archive to `archiveAtExit` as it exits, under a
    /// watchdog shell, in a process group of their own; the watchdog writes the JVM's pid to
    /// `directory/pid`.
    static func launch(_ plan: PodPlan, directory: String, archiveAtExit: String) throws -> ChildProcess {
        for (path, content) in plan.files {
            let file = directory + "/" + path
            try FileManager.default.createDirectory(atPath: (file as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try Data(content.utf8).write(to: URL(fileURLWithPath: file))
        }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        // The JVM's argv reaches it as the script's arguments ("$@"), never as shell text.
        let arguments = ["/bin/sh", "-c", watchdog, "sh", String(getpid()), directory + "/pid", plan.argv[0], "-XX:ArchiveClassesAtExit=\(archiveAtExit)"]
            + plan.argv.dropFirst()
        let log = directory + "/log"
        return try ChildProcess.spawn(arguments, options: .init(
            environment: .inherit(adding: plan.environment), standardInput: .null,
            standardOutput: .file(log), standardError: .file(log), newProcessGroup: true))
    }

    /// Runs the JVM (`$3...`), writes its pid to `$2`, and kills it when the operator (`$1`) is
    /// gone or after 3 minutes: an archiving JVM never outlives its purpose, even when the
    /// operator is killed.
    static let watchdog = #"""
        operator=$1; pidfile=$2; shift 2
        "$@" & child=$!
        echo $child > "$pidfile"
        n=0
        while kill -0 $child 2>/dev/null; do
            if ! kill -0 $operator 2>/dev/null || [ $n -ge 360 ]; then kill -KILL $child; fi
            sleep 0.5; n=$((n+1))
        done
        """#

    static func javaPID(_ directory: String) -> pid_t? {
        (try? String(contentsOfFile: directory + "/pid", encoding: .utf8)).flatMap { pid_t($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
    }

    static func waitFor(_ line: String, in path: String, timeout: Duration) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let data = FileManager.default.contents(atPath: path), String(decoding: data, as: UTF8.self).contains(line) { return true }
            guard (try? await Task.sleep(for: .milliseconds(200))) != nil else { return false }
        }
        return false
    }

    /// A loopback port the kernel considers free now.
    static func kernelChosenPort() -> Int? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = in_addr_t(0x7F00_0001).bigEndian
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        return bound ? Int(UInt16(bigEndian: address.sin_port)) : nil
    }
}
