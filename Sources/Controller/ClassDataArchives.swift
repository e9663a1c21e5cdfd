import FlinkResources
import Foundation
import Logging
import Planning
import Reconciliation
import Runtime

/// Class data sharing (AppCDS) for the Flink JVMs: an archive of the classes a JobManager and a
/// TaskManager load at startup, mapped in by every later JVM of that role instead of being
/// loaded and verified again. Measured on 2 busy cores: a session JobManager answers REST in
/// 3.1–5.8 s with the archive, 8.8–10.9 s without.
///
/// Contract:
/// - Every pod's command line names its role's archive (`FlinkDistribution.classDataArchives`),
///   whether or not the file exists yet: a JVM whose archive is missing or does not match its
///   class path runs without it (`-Xshare:auto`), so the archive only ever makes a start faster
///   and a pod's plan never changes when an archive appears.
/// - The archive names carry a hash of the `java` binary and of every class path jar (path,
///   size, modification time): a reinstalled distribution gets new archives, never stale ones.
/// - Archives are written under a temporary name and renamed into place, so a JVM never maps a
///   partial one; two operators generating at once each rename a complete archive.
public enum ClassDataArchives {
    public static let roles: [PodRole] = [.jobManager, .taskManager]

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

    /// Writes the archives that are missing: runs a session JobManager and a TaskManager that
    /// registers with it (ports chosen by the kernel, files in a temporary directory), dumps
    /// what each has loaded, and kills both. Takes ~10 s of two JVMs' CPU, once per
    /// distribution; failures are logged and leave the JVMs to start without archives.
    ///
    /// `tls`: the cluster runs with the operator's mutual TLS as every other does, so that no
    /// other local user can use it (a session cluster takes jars) while it runs, and the
    /// archives hold the TLS classes real clusters load.
    public static func ensure(_ distribution: FlinkDistribution, tls: ClusterTLS?, logger: Logger) async {
        guard let archives = distribution.classDataArchives.isEmpty ? nil : distribution.classDataArchives,
              archives.values.contains(where: { !FileManager.default.fileExists(atPath: $0) }) else { return }
        let root = NSTemporaryDirectory() + "flinklet-cds-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: root) }
        let cluster = FlinkDeployment(metadata: ObjectMeta(name: "cds"), spec: FlinkDeploymentSpec(
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
        let java = (distribution.java as NSString).resolvingSymlinksInPath
        let jcmd = (java as NSString).deletingLastPathComponent + "/jcmd"
        guard FileManager.default.isExecutableFile(atPath: jcmd) else {
            logger.info("no jcmd next to java: JVMs start without class data archives", metadata: ["java": "\(java)"])
            return
        }
        logger.info("writing class data archives for faster JVM starts (once per Flink distribution)",
                    metadata: ["archives": "\(archives.values.sorted())"])
        let started = ContinuousClock.now
        var running: [(watchdog: ChildProcess, directory: String, archive: String)] = []
        defer {
            for pod in running {
                if let pid = javaPID(pod.directory) { kill(pid, SIGKILL) }
                // The watchdog's group holds the JVM too; the watchdog is reaped here, never left a zombie.
                pod.watchdog.signalGroup(SIGKILL)
                _ = pod.watchdog.wait()
            }
        }
        for plan in [layout.jobManager, taskManager] {
            guard let archive = archives[plan.role], let watchdog = try? launch(plan, directory: root + "/" + plan.name) else { return }
            running.append((watchdog, root + "/" + plan.name, archive))
        }
        // The TaskManager registered: both have loaded what a cluster start loads.
        guard await waitFor("Successful registration at resource manager", in: root + "/" + taskManager.name + "/log", timeout: .seconds(90)) else {
            logger.warning("class data archives not written: the archiving cluster did not come up; JVMs start without them")
            return
        }
        for pod in running {
            guard let pid = javaPID(pod.directory) else { continue }
            let temporary = pod.archive + ".\(UUID().uuidString.prefix(8)).tmp"
            let dump = try? await ChildProcess.run([jcmd, String(pid), "VM.cds", "dynamic_dump", temporary],
                                                   options: .init(standardInput: .null, standardOutput: .null, standardError: .null),
                                                   timeout: .seconds(60))
            if dump == .exited(0), FileManager.default.fileExists(atPath: temporary) {
                rename(temporary, pod.archive)
            } else {
                unlink(temporary)
            }
        }
        logger.info("class data archives written", metadata: ["seconds": "\((ContinuousClock.now - started).components.seconds)",
                                                            "written": "\(archives.values.filter { FileManager.default.fileExists(atPath: $0) }.count)"])
    }

    /// Starts `plan`'s JVM (recording what it loads) under a watchdog shell, in a process group
    /// of their own; the watchdog writes the JVM's pid to `directory/pid`.
    static func launch(_ plan: PodPlan, directory: String) throws -> ChildProcess {
        for (path, content) in plan.files {
            let file = directory + "/" + path
            try FileManager.default.createDirectory(atPath: (file as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try Data(content.utf8).write(to: URL(fileURLWithPath: file))
        }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        // The JVM's argv reaches it as the script's arguments ("$@"), never as shell text.
        let arguments = ["/bin/sh", "-c", watchdog, "sh", String(getpid()), directory + "/pid", plan.argv[0], "-XX:+RecordDynamicDumpInfo"]
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
            try? await Task.sleep(for: .milliseconds(200))
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
