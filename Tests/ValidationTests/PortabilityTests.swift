import Testing
import FlinkResources
import Manifests
import Validation

/// `flinklet validate --for kubernetes`: what the Apache Flink Kubernetes Operator would reject
/// or read differently.
let portableBase = """
    apiVersion: flink.apache.org/v1beta1
    kind: FlinkDeployment
    metadata:
      name: app
    spec:
      flinkVersion: v2_3
      flinkConfiguration:
        execution.checkpointing.dir: file:///tmp/checkpoints
      jobManager:
        resource: {memory: 1g}
      taskManager:
        resources: {requests: {memory: 1g}}
      job:
        jarURI: local:///opt/flink/usrlib/job.jar
        parallelism: 1
    """

func portability(_ text: String) -> [String] {
    let set = ManifestSet(files: [check(text)]).checkingPortability(for: .kubernetes)
    return set.diagnostics.errors.map(\.description)
}

/// (what FKO would do, edits of `portableBase`, the findings expected)
let portabilityFindings: [(String, [Edit], [String])] = [
    ("mode application", [.insert(after: 6, "  mode: application")],
     [#"case.yaml:7:9: spec.mode: Unsupported value: "application": supported values: "native", "standalone": FKO infers application mode from spec.job; remove spec.mode"#]),
    ("mode per-job", [.insert(after: 6, "  mode: per-job")],
     [#"case.yaml:7:9: spec.mode: Unsupported value: "per-job": supported values: "native", "standalone": FKO has no per-job mode (it would run the job in application mode, main() in the JobManager); remove spec.mode for application mode"#]),
    ("mode session", [.insert(after: 6, "  mode: session"), .delete(13), .delete(14), .delete(15)],
     [#"case.yaml:7:9: spec.mode: Unsupported value: "session": supported values: "native", "standalone": FKO infers session mode when spec.job is unset; remove spec.mode"#]),
    ("a jar on this machine", [.replace(14, "    jarURI: local:///home/me/job.jar")],
     [#"case.yaml:14:13: spec.job.jarURI: Invalid value: "local:///home/me/job.jar": on Kubernetes a local:// path is read inside the Flink image, where Flink is /opt/flink, not on this machine; put the jar into the image and write "local:///opt/flink/usrlib/job.jar" (Flinklet reads /opt/flink as its Flink distribution), or an https:// URL"#]),
    ("a Flinklet-only annotation", [.insert(after: 4, "  annotations: {flinklet.dev/command: sleep 100}")],
     ["case.yaml:5:17: metadata.annotations[flinklet.dev/command]: Forbidden: a Flinklet-only annotation, which FKO ignores (the resource would run as a Flink cluster there); remove it"]),
    ("a Flinklet-only option", [.insert(after: 8, "    flinklet.session.block-on-session-jobs: \"false\"")],
     ["case.yaml:9:5: spec.flinkConfiguration[flinklet.session.block-on-session-jobs]: Forbidden: a Flinklet-only option, which FKO passes to Flink unread; write kubernetes.operator.session.deletion.block-on-session-jobs instead"]),
    ("a name starting with a digit", [.replace(4, "  name: 1app")],
     [#"case.yaml:4:9: metadata.name: Invalid value: "1app": FKO requires a name that starts with a letter ([a-z]([-a-z0-9]{0,43}[a-z0-9])?); rename the resource"#]),
    ("no memory", [.delete(9), .delete(10)],
     [#"case.yaml:6:3: spec: Required value: FKO requires the JobManager's memory (Flinklet defaults to 768m); set spec.jobManager.resources.requests.memory, e.g. "768m""#]),
    ("savepoint upgrades without directories", [.delete(7), .delete(8), .insert(after: 15, "    upgradeMode: savepoint")],
     [#"case.yaml:14:18: spec.job.upgradeMode: Invalid value: "savepoint": FKO requires a checkpoint directory for last-state and savepoint upgrades (Flinklet provides one); set spec.flinkConfiguration[execution.checkpointing.dir] to a durable location, e.g. "file:///flink-data/checkpoints""#,
      #"case.yaml:14:18: spec.job.upgradeMode: Invalid value: "savepoint": FKO requires a savepoint directory for savepoint upgrades (Flinklet provides one); set spec.flinkConfiguration[execution.checkpointing.savepoint-dir], e.g. "file:///flink-data/savepoints""#]),
    ("a log file FKO does not take", [.insert(after: 6, "  logConfiguration:\n    log4j.properties: x")],
     [#"case.yaml:8:5: spec.logConfiguration[log4j.properties]: Unsupported value: "log4j.properties": supported values: "log4j-console.properties", "logback-console.xml": FKO accepts only these log configuration files"#]),
    ("a memory request only: FKO reads it Flink's way, as Flinklet does", [.replace(12, "    resources: {requests: {memory: 1536m}}")], []),
    ("a memory request and limit Kubernetes reads differently", [.replace(12, "    resources: {requests: {memory: 1g}, limits: {memory: 1536m}}")],
     [#"case.yaml:12:36: spec.taskManager.resources.requests[memory]: Invalid value: "1g": FKO sizes the process by Flink's reading (1g) but sets its memory limit from limits ÷ requests as Kubernetes reads them, and Kubernetes cannot read it as a quantity; write "1Gi""#,
      #"case.yaml:12:58: spec.taskManager.resources.limits[memory]: Invalid value: "1536m": FKO sizes the process by Flink's reading (1536m) but sets its memory limit from limits ÷ requests as Kubernetes reads them, and Kubernetes reads it as 2 byte(s); write "1536Mi""#]),
    ("a memory request and limit both read alike", [.replace(12, "    resources: {requests: {memory: 1Gi}, limits: {memory: \"1610612736\"}}")], []),
    ("rollback without high availability", [.insert(after: 8, "    kubernetes.operator.deployment.rollback.enabled: \"true\"")],
     [#"case.yaml:9:5: spec.flinkConfiguration[kubernetes.operator.deployment.rollback.enabled]: Forbidden: FKO rolls back only with high availability ("HA must be enabled for rollback support"); set high-availability.type: kubernetes and high-availability.storageDir"#]),
]

@Suite struct PortabilityTests {
    @Test func thePortableBaseHasNoFindings() {
        #expect(portability(portableBase) == [])
    }

    @Test("each portability rule has an example", arguments: portabilityFindings)
    func rule(problem: String, edits: [Edit], expected: [String]) {
        #expect(portability(edited(portableBase, edits)) == expected, "\(problem)")
    }

    @Test func aSessionJobJarMustBeHTTPS() {
        #expect(portability(sessionJobBase) == [
            #"case.yaml:8:13: spec.job.jarURI: Invalid value: "local:///opt/jobs/job.jar": FKO fetches a session job's jar itself and by default only over https (kubernetes.operator.user.artifacts.allowed-schemes) (and it cannot fetch local:// at all: the path would be read on the operator's pod); serve the jar over https and write its https:// URL"#,
        ])
        #expect(portability(sessionJobBase.replacingOccurrences(of: "local:///opt/jobs/job.jar", with: "https://repo.example.com/job.jar")) == [])
    }

    @Test func upstreamShapedManifestsHaveNoFindings() {
        let ha = edited(portableBase, [.insert(after: 8, "    high-availability.type: kubernetes\n    execution.checkpointing.savepoint-dir: file:///tmp/sp\n    kubernetes.operator.deployment.rollback.enabled: \"true\""),
                                       .insert(after: 15, "    upgradeMode: last-state")])
        #expect(portability(ha) == [])
    }
}
