import Testing
import FlinkResources
import Manifests

/// A small edit of a base manifest, numbered by the base's lines.
enum Edit {
    case replace(Int, String)
    case insert(after: Int, String)
    case delete(Int)

    var line: Int {
        switch self {
        case .replace(let n, _), .insert(let n, _), .delete(let n): n
        }
    }
}

func edited(_ base: String, _ edits: [Edit]) -> String {
    var lines = base.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    // Apply from the bottom up so every edit's line number refers to the base.
    for edit in edits.sorted(by: { $0.line > $1.line }) {
        switch edit {
        case .replace(let n, let text): lines[n - 1] = text
        case .insert(let n, let text): lines.insert(text, at: n)
        case .delete(let n): lines.remove(at: n - 1)
        }
    }
    return lines.joined(separator: "\n")
}

func check(_ text: String, file: String = "case.yaml") -> ManifestFile {
    ManifestReader.read(bytes: Array(text.utf8), path: file)
}

let deploymentBase = """
    apiVersion: flink.apache.org/v1beta1
    kind: FlinkDeployment
    metadata:
      name: app
    spec:
      flinkVersion: v2_3
      jobManager:
        resource:
          memory: 768m
      taskManager:
        resource:
          memory: 1g
      job:
        jarURI: local:///opt/jobs/job.jar
        parallelism: 1
    """

let sessionJobBase = """
    apiVersion: flink.apache.org/v1beta1
    kind: FlinkSessionJob
    metadata:
      name: job
    spec:
      deploymentName: session
      job:
        jarURI: local:///opt/jobs/job.jar
    """

let rfc1123 = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name', or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"

/// (what is wrong, edits of the base, the one error expected)
let deploymentErrors: [(String, [Edit], String)] = [
    ("wrong apiVersion", [.replace(1, "apiVersion: flink.apache.org/v1")],
     #"case.yaml:1:13: apiVersion: Unsupported value: "flink.apache.org/v1": supported values: "flink.apache.org/v1beta1""#),
    ("missing apiVersion", [.delete(1)],
     #"case.yaml:1:1: apiVersion: Required value: supported value: "flink.apache.org/v1beta1""#),
    ("wrong kind", [.replace(2, "kind: FlinkJob")],
     #"case.yaml:2:7: kind: Unsupported value: "FlinkJob": supported values: "FlinkDeployment", "FlinkSessionJob", "FlinkStateSnapshot""#),
    ("name not RFC 1123", [.replace(4, "  name: My_App")],
     #"case.yaml:4:9: metadata.name: Invalid value: "My_App": "# + rfc1123),
    ("name too long", [.replace(4, "  name: " + String(repeating: "a", count: 46))],
     "case.yaml:4:9: metadata.name: Too long: may not be more than 45 bytes"),
    ("missing name", [.replace(4, "  namespace: prod")],
     "case.yaml:4:3: metadata.name: Required value"),
    ("namespace not RFC 1123", [.insert(after: 4, "  namespace: Prod")],
     #"case.yaml:5:14: metadata.namespace: Invalid value: "Prod": "# + rfc1123),
    ("unknown field, near miss", [.insert(after: 15, "    upgadeMode: savepoint")],
     #"case.yaml:16:5: spec.job.upgadeMode: Unknown field: "upgadeMode" is not a field here; did you mean "upgradeMode"?"#),
    ("unknown field", [.insert(after: 6, "  color: blue")],
     #"case.yaml:7:3: spec.color: Unknown field: "color" is not a field here; known fields: "job", "restartNonce", "flinkConfiguration", "image", "imagePullPolicy", "serviceAccount", "flinkVersion", "ingress", "podTemplate", "jobManager", "taskManager", "logConfiguration", "mode""#),
    ("string for integer", [.replace(15, "    parallelism: two")],
     #"case.yaml:15:18: spec.job.parallelism: Invalid type: expected integer, got string "two""#),
    ("quoted integer", [.replace(15, "    parallelism: \"2\"")],
     #"case.yaml:15:18: spec.job.parallelism: Invalid type: expected integer, got string "2""#),
    ("string for array", [.insert(after: 15, "    args: --verbose")],
     #"case.yaml:16:11: spec.job.args: Invalid type: expected array, got string "--verbose""#),
    ("string for object", [.replace(13, "  job: local:///opt/jobs/job.jar"), .delete(14), .delete(15)],
     #"case.yaml:13:8: spec.job: Invalid type: expected object, got string "local:///opt/jobs/job.jar""#),
    ("string for boolean", [.insert(after: 15, "    allowNonRestoredState: maybe")],
     #"case.yaml:16:28: spec.job.allowNonRestoredState: Invalid type: expected boolean, got string "maybe""#),
    ("missing flinkVersion", [.delete(6)],
     "case.yaml:6:3: spec.flinkVersion: Required value"),
    ("unknown flinkVersion", [.replace(6, "  flinkVersion: v3_0")],
     #"case.yaml:6:17: spec.flinkVersion: Unsupported value: "v3_0": supported values: "v1_13", "v1_14", "v1_15", "v1_16", "v1_17", "v1_18", "v1_19", "v1_20", "v2_0", "v2_1", "v2_2", "v2_3""#),
    ("a flinkVersion upstream names but Flinklet does not run", [.replace(6, "  flinkVersion: v1_19")],
     #"case.yaml:6:17: spec.flinkVersion: Unsupported value: "v1_19": supported values: "v1_20", "v2_0", "v2_1", "v2_2", "v2_3""#),
    ("missing jarURI", [.delete(14)],
     "case.yaml:14:5: spec.job.jarURI: Required value"),
    ("empty jarURI", [.replace(14, "    jarURI: \"\"")],
     #"case.yaml:14:13: spec.job.jarURI: Required value: the job's jar, e.g. "local:///opt/jobs/job.jar""#),
    ("memory that does not parse", [.replace(9, "      memory: 2 gigs")],
     #"case.yaml:9:15: spec.jobManager.resource.memory: Invalid value: "2 gigs": must be a memory size such as "2048m", "2g", "1536Mi" or "2Gi""#),
    ("negative memory", [.replace(12, "      memory: -1g")],
     #"case.yaml:12:15: spec.taskManager.resource.memory: Invalid value: "-1g": must not be negative"#),
    ("zero memory", [.replace(12, "      memory: 0")],
     #"case.yaml:12:15: spec.taskManager.resource.memory: Invalid value: "0": must be greater than 0"#),
    ("TaskManager too small for Flink", [.replace(12, "      memory: 512m")],
     #"case.yaml:12:15: spec.taskManager.resource.memory: Invalid value: "512m": is too small for a TaskManager: after JVM metaspace and overhead (448m) it leaves 64m of Flink memory, less than framework heap and off-heap (256m), task off-heap (0m), managed (25.6m) and network memory (64m) need; use at least 982m"#),
    ("JobManager too small for Flink", [.replace(9, "      memory: 512m")],
     #"case.yaml:9:15: spec.jobManager.resource.memory: Invalid value: "512m": is too small for a JobManager: 512m leaves 0m of JVM heap after JVM metaspace (256m), JVM overhead (192m) and off-heap memory (128m); the heap needs at least 128m, so use at least 704m"#),
    ("TaskManager replicas < 1", [.insert(after: 10, "    replicas: 0")],
     "case.yaml:11:15: spec.taskManager.replicas: Invalid value: 0: must be greater than or equal to 1"),
    ("parallelism < 1", [.replace(15, "    parallelism: 0")],
     "case.yaml:15:18: spec.job.parallelism: Invalid value: 0: must be greater than or equal to 1"),
    ("standby JobManagers", [.insert(after: 7, "    replicas: 2")],
     "case.yaml:8:15: spec.jobManager.replicas: Invalid value: 2: must be 1: standby JobManagers need high availability, which Flinklet does not run (it restores jobs from checkpoints itself)"),
    ("zero CPU", [.insert(after: 9, "      cpu: 0")],
     "case.yaml:10:12: spec.jobManager.resource.cpu: Invalid value: 0: must be greater than 0"),
    ("jar scheme not supported", [.replace(14, "    jarURI: s3://bucket/job.jar")],
     #"case.yaml:14:13: spec.job.jarURI: Invalid value: "s3://bucket/job.jar": unsupported scheme "s3": supported schemes: "local", "file", "http", "https""#),
    ("jar path relative", [.replace(14, "    jarURI: local://job.jar")],
     #"case.yaml:14:13: spec.job.jarURI: Invalid value: "local://job.jar": must name an absolute path: local:///path/to/job.jar (three slashes)"#),
    ("jar without scheme", [.replace(14, "    jarURI: /opt/jobs/job.jar")],
     #"case.yaml:14:13: spec.job.jarURI: Invalid value: "/opt/jobs/job.jar": must be a URI with a scheme: write "local:///opt/jobs/job.jar" to use the jar in place or "file:///opt/jobs/job.jar" to copy it into the cluster"#),
    ("jar relative without scheme", [.replace(14, "    jarURI: job.jar")],
     #"case.yaml:14:13: spec.job.jarURI: Invalid value: "job.jar": must be a URI with a scheme: use an absolute location such as "local:///opt/jobs/job.jar""#),
    ("jar URL without host", [.replace(14, "    jarURI: https:///job.jar")],
     #"case.yaml:14:13: spec.job.jarURI: Invalid value: "https:///job.jar": must name a host: https://host/path/job.jar"#),
    ("session mode with a job", [.insert(after: 6, "  mode: session")],
     #"case.yaml:14:3: spec.job: Forbidden: mode "session" runs no job of its own; remove spec.job and submit jobs as FlinkSessionJob resources naming this deployment"#),
    ("application mode without a job", [.insert(after: 6, "  mode: application"), .delete(13), .delete(14), .delete(15)],
     #"case.yaml:6:3: spec.job: Required value: mode "application" runs one job: set spec.job with its jarURI"#),
    ("per-job mode without a job", [.insert(after: 6, "  mode: per-job"), .delete(13), .delete(14), .delete(15)],
     #"case.yaml:6:3: spec.job: Required value: mode "per-job" runs one job: set spec.job with its jarURI"#),
    ("unknown mode", [.insert(after: 6, "  mode: kubernetes")],
     #"case.yaml:7:9: spec.mode: Unsupported value: "kubernetes": supported values: "application", "per-job", "session", "native", "standalone""#),
    ("upgrade mode misspelt", [.insert(after: 15, "    upgradeMode: savepiont")],
     #"case.yaml:16:18: spec.job.upgradeMode: Unsupported value: "savepiont": supported values: "stateless", "savepoint", "last-state""#),
    ("job state misspelt", [.insert(after: 15, "    state: runing")],
     #"case.yaml:16:12: spec.job.state: Unsupported value: "runing": supported values: "running", "suspended""#),
    ("port set in the manifest", [.insert(after: 6, "  flinkConfiguration:\n    rest.port: 8081")],
     "case.yaml:8:16: spec.flinkConfiguration[rest.port]: Forbidden: Flinklet leases ports per cluster (recorded in status.clusterInfo) and sets this key itself"),
    ("address set in the manifest", [.insert(after: 6, "  flinkConfiguration:\n    rest.bind-address: 0.0.0.0")],
     "case.yaml:8:24: spec.flinkConfiguration[rest.bind-address]: Forbidden: Flinklet binds every process to 127.0.0.1 and sets this key itself"),
    ("per-process directory, nested", [.insert(after: 6, "  flinkConfiguration:\n    io:\n      tmp.dirs: /tmp")],
     "case.yaml:9:17: spec.flinkConfiguration[io.tmp.dirs]: Forbidden: Flinklet gives every process its own directory under the state directory and sets this key itself"),
    ("cluster id", [.insert(after: 6, "  flinkConfiguration:\n    high-availability.cluster-id: x")],
     "case.yaml:8:35: spec.flinkConfiguration[high-availability.cluster-id]: Forbidden: Flinklet names each cluster after its resource and sets this key itself"),
    ("slots not a number", [.insert(after: 6, "  flinkConfiguration:\n    taskmanager.numberOfTaskSlots: 0")],
     #"case.yaml:8:36: spec.flinkConfiguration[taskmanager.numberOfTaskSlots]: Invalid value: "0": must be a whole number of slots, at least 1"#),
    ("checkpoint directory relative", [.insert(after: 6, "  flinkConfiguration:\n    execution.checkpointing.dir: checkpoints")],
     #"case.yaml:8:34: spec.flinkConfiguration[execution.checkpointing.dir]: Invalid value: "checkpoints": a checkpoint or savepoint directory must be an absolute path or a file:// URI; relative paths depend on the process's working directory"#),
    ("entry class not a class name", [.insert(after: 15, "    entryClass: com.example.My-Job")],
     #"case.yaml:16:17: spec.job.entryClass: Invalid value: "com.example.My-Job": must be a fully qualified Java class name such as "com.example.WordCount""#),
    ("initial savepoint relative", [.insert(after: 15, "    initialSavepointPath: savepoints/sp-1")],
     #"case.yaml:16:27: spec.job.initialSavepointPath: Invalid value: "savepoints/sp-1": a savepoint or checkpoint directory must be an absolute path or a file:// URI; relative paths depend on the process's working directory"#),
    ("initial savepoint remote", [.insert(after: 15, "    initialSavepointPath: s3://b/sp-1")],
     #"case.yaml:16:27: spec.job.initialSavepointPath: Invalid value: "s3://b/sp-1": a savepoint or checkpoint directory must be on this machine: an absolute path or a file:// URI (scheme "s3" is not available locally)"#),
    ("log file name with a path", [.insert(after: 6, "  logConfiguration:\n    ../log4j.properties: x")],
     #"case.yaml:8:26: spec.logConfiguration[../log4j.properties]: Invalid value: "../log4j.properties": must be a plain file name such as "log4j-console.properties""#),
    ("flinkConfiguration value missing", [.insert(after: 6, "  flinkConfiguration:\n    parallelism.default:")],
     #"case.yaml:8:25: spec.flinkConfiguration[parallelism.default]: Required value: write "" for an empty value"#),
    ("YAML syntax", [.replace(4, "  name: app: x")],
     "case.yaml:4:12: invalid YAML: mapping values are not allowed in this context"),
    ("duplicate YAML key", [.insert(after: 4, "  name: other")],
     #"case.yaml:5:3: duplicate key "name" (first defined at line 4, column 3)"#),
]

let sessionJobErrors: [(String, [Edit], String)] = [
    ("missing deploymentName", [.delete(6)], "case.yaml:6:3: spec.deploymentName: Required value"),
    ("missing job", [.delete(7), .delete(8)], "case.yaml:6:3: spec.job: Required value"),
    ("deploymentName not RFC 1123", [.replace(6, "  deploymentName: Session_1")],
     #"case.yaml:6:19: spec.deploymentName: Invalid value: "Session_1": "# + rfc1123),
    ("process memory on a session job", [.insert(after: 6, "  flinkConfiguration:\n    taskmanager.memory.process.size: 2g")],
     "case.yaml:8:38: spec.flinkConfiguration[taskmanager.memory.process.size]: Forbidden: a session job runs on its session cluster's processes; set process sizes on the FlinkDeployment"),
    ("port on a session job", [.insert(after: 6, "  flinkConfiguration:\n    rest.port: 1")],
     "case.yaml:8:16: spec.flinkConfiguration[rest.port]: Forbidden: Flinklet leases ports per cluster (recorded in status.clusterInfo) and sets this key itself"),
]

@Suite struct RuleTableTests {
    @Test func theBaseManifestsAreValid() {
        for base in [deploymentBase, sessionJobBase] {
            let file = check(base)
            #expect(file.diagnostics.map(\.description) == [])
            #expect(file.objects.filter { !$0.isValid }.isEmpty)
        }
    }

    @Test("each FlinkDeployment rule has a failing example", arguments: deploymentErrors)
    func deploymentRule(problem: String, edits: [Edit], expected: String) {
        let file = check(edited(deploymentBase, edits))
        #expect(file.diagnostics.map(\.description) == [expected], "\(problem)")
        #expect(file.objects.allSatisfy { !$0.isValid }, "\(problem)")
    }

    @Test("each FlinkSessionJob rule has a failing example", arguments: sessionJobErrors)
    func sessionJobRule(problem: String, edits: [Edit], expected: String) {
        let file = check(edited(sessionJobBase, edits))
        #expect(file.diagnostics.map(\.description) == [expected], "\(problem)")
        #expect(file.objects.allSatisfy { !$0.isValid }, "\(problem)")
    }

    @Test func everyProblemOfADocumentIsReportedInLineOrder() {
        let file = check(edited(deploymentBase, [.replace(4, "  name: Bad"), .replace(9, "      memory: lots"), .replace(15, "    parallelism: 0")]))
        #expect(file.diagnostics.compactMap(\.location?.mark?.line) == [4, 9, 15])
        #expect(file.diagnostics.allSatisfy { $0.resource == ResourceID(kind: .flinkDeployment, namespace: "default", name: "Bad") })
    }

    @Test func aDuplicateAcrossFilesKeepsTheFirstAndNamesBothPlaces() {
        let set = ManifestSet(files: [check(deploymentBase, file: "a.yaml"), check(deploymentBase, file: "b.yaml")])
        #expect(set.files[0].objects[0].isValid)
        #expect(!set.files[1].objects[0].isValid)
        #expect(set.diagnostics.map(\.description) == [
            #"b.yaml:4:9: metadata.name: Duplicate value: "app": flinkdeployment "default/app" is already defined at a.yaml:4:9; the first definition is used"#,
        ])
    }

    @Test func aDuplicateInOneFileIsADuplicateToo() {
        let set = ManifestSet(files: [check(deploymentBase + "\n---\n" + deploymentBase, file: "a.yaml")])
        #expect(set.diagnostics.map(\.description) == [
            #"a.yaml:20:9: metadata.name: Duplicate value: "app": flinkdeployment "default/app" is already defined at a.yaml:4:9; the first definition is used"#,
        ])
    }

    @Test func theSameNameInAnotherNamespaceOrKindIsNoDuplicate() {
        let other = edited(deploymentBase, [.insert(after: 4, "  namespace: prod")])
        let set = ManifestSet(files: [check(deploymentBase, file: "a.yaml"), check(other, file: "b.yaml"),
                                      check(sessionJobBase.replacingOccurrences(of: "name: job", with: "name: app"), file: "c.yaml")])
        #expect(set.diagnostics.isEmpty)
    }

    @Test func aSavepointUpgradeNeedsNoDirectoryBecauseFlinkletProvidesOne() {
        // Decision: Flinklet supplies savepoint and checkpoint directories under its state dir,
        // so upstream's "savepoint mode needs state.savepoints.dir" is no error here.
        let file = check(edited(deploymentBase, [.insert(after: 15, "    upgradeMode: savepoint\n    state: suspended")]))
        #expect(file.diagnostics.isEmpty)
    }

    @Test func warningsDoNotMakeAResourceInvalid() {
        let text = edited(deploymentBase, [
            .insert(after: 6, """
                  serviceAccount: flink
                  flinkConfiguration:
                    kubernetes.rest-service.exposed.type: NodePort
                  podTemplate:
                    metadata:
                      labels: {team: data}
                    spec:
                      nodeSelector: {disk: ssd}
                      containers:
                      - name: flink-main-container
                        env:
                        - {name: TZ, value: UTC}
                      - name: sidecar
                        image: busybox
                """),
            .insert(after: 10, "    replicas: 1"), .replace(15, "    parallelism: 4"),
        ])
        let file = check(text)
        #expect(file.diagnostics.map(\.description) == [
            "case.yaml:7:3: warning: spec.serviceAccount: Ignored: Kubernetes-only field, accepted for compatibility (processes run as the operator's user)",
            "case.yaml:9:5: warning: spec.flinkConfiguration[kubernetes.rest-service.exposed.type]: Ignored: Kubernetes-only option; processes run locally",
            "case.yaml:11:5: warning: spec.podTemplate.metadata: Ignored: only spec.containers[name=flink-main-container].env of a pod template applies to local processes",
            "case.yaml:14:7: warning: spec.podTemplate.spec.nodeSelector: Ignored: only spec.containers[name=flink-main-container].env of a pod template applies to local processes",
            #"case.yaml:19:9: warning: spec.podTemplate.spec.containers[1]: Ignored: only the container named "flink-main-container" applies (sidecars do not run locally)"#,
            "case.yaml:30:18: warning: spec.job.parallelism: parallelism 4 needs 4 task slots, but 1 TaskManager(s) × 1 slot(s) offer 1; the job will wait for slots that never come (raise spec.taskManager.replicas or taskmanager.numberOfTaskSlots, or unset replicas to size the cluster from the parallelism)",
        ])
        #expect(file.objects.filter { !$0.isValid }.isEmpty)
        guard case .deployment(let d)? = file.objects.first?.resource else { return }
        #expect(d.spec.podTemplate?.mainContainerEnvironment.map { "\($0.name)=\($0.value)" } == ["TZ=UTC"])
    }
}
