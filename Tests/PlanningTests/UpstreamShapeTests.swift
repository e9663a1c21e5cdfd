import FlinkResources
import Foundation
import Testing
@testable import Planning
@testable import Reconciliation

/// How upstream-shaped specs run: Kubernetes `resources`, Kubernetes HA, last-state without an
/// interval, canaries.
@Suite struct UpstreamShapeTests {
    static let distribution = FlinkDistribution(home: "/flink", version: "2.3.0", java: "/usr/bin/java",
                                                classpath: ["/flink/lib/flink-dist-2.3.0.jar"], jvmOptions: [])

    static func deployment(jobManager: ProcessSpec, taskManager: ProcessSpec, configuration: [String: String] = [:],
                           upgradeMode: UpgradeMode? = nil, labels: [String: String]? = nil) -> FlinkDeployment {
        FlinkDeployment(metadata: ObjectMeta(name: "app", labels: labels), spec: FlinkDeploymentSpec(
            job: JobSpec(jarURI: "local:///opt/flink/usrlib/job.jar", parallelism: 1, upgradeMode: upgradeMode),
            flinkConfiguration: FlinkConfiguration(configuration), flinkVersion: .v2_3,
            jobManager: jobManager, taskManager: taskManager))
    }

    static func observation(_ d: FlinkDeployment) -> FlinkObservation {
        FlinkObservation(distribution: distribution, podRoot: "/state/pods/default/app", clusterDirectory: "/state/clusters/default/app",
                         ports: Array(20_000..<(20_000 + FlinkCluster.portCount(d.spec))), jar: .success("/flink/usrlib/job.jar"),
                         lastKnown: .deployment(d))
    }

    static func layout(_ d: FlinkDeployment) throws -> FlinkCluster.Layout {
        try FlinkCluster.layout(of: d, observation: observation(d), distribution: distribution,
                                jobId: FlinkCluster.jobId(key: d.id.key, generation: 1), jar: "/flink/usrlib/job.jar").get()
    }

    static func config(_ pod: PodPlan) -> String { pod.files["conf/config.yaml"] ?? "" }

    @Test func resourcesSetTheProcessSizesAndALargerLimitRaisesThePodsLimit() throws {
        let d = Self.deployment(
            jobManager: ProcessSpec(resource: Resource(memory: "4g"), resources: ResourceRequirements(requests: ["memory": "1Gi", "cpu": "500m"])),
            taskManager: ProcessSpec(resources: ResourceRequirements(requests: ["memory": "2048m"], limits: ["memory": "4Gi"])))
        let l = try Self.layout(d)
        #expect(Self.config(l.jobManager).contains(#""jobmanager.memory.process.size": "1073741824b""#))
        #expect(Self.config(l.taskManagers[0]).contains(#""taskmanager.memory.process.size": "2147483648b""#))
        let gib: Int64 = 1 << 30
        #expect(l.jobManager.memoryLimitBytes == gib + gib / 4, "the process size plus the margin")
        #expect(l.taskManagers[0].memoryLimitBytes == 4 * gib + gib, "limits.memory plus the margin")
    }

    @Test func onlyMemoryInResourcesIsAnUpgrade() {
        #expect(SpecDiff.classify("spec.taskManager.resources.requests.memory") == .upgrade)
        #expect(SpecDiff.classify("spec.jobManager.resources.limits.memory") == .upgrade, "the pod's memory limit")
        #expect(SpecDiff.classify("spec.taskManager.resources.requests.cpu") == .ignore)
        #expect(SpecDiff.classify("spec.taskManager.resources.limits.ephemeral-storage") == .ignore)
        #expect(SpecDiff.classify("spec.jobManager.resources.claims") == .ignore)
    }

    @Test func kubernetesHighAvailabilityNeverReachesTheCluster() throws {
        let d = Self.deployment(jobManager: ProcessSpec(), taskManager: ProcessSpec(), configuration: [
            "high-availability.type": "kubernetes", "high-availability.storageDir": "file:///flink-data/ha", "state.backend.type": "rocksdb",
        ])
        let config = Self.config(try Self.layout(d).jobManager)
        #expect(config.contains(#""high-availability.type": "none""#))
        #expect(!config.contains("storageDir"))
        #expect(config.contains(#""state.backend.type": "rocksdb""#))
    }

    @Test func lastStateWithoutAnIntervalCheckpointsEveryThirtySeconds() throws {
        let without = Self.deployment(jobManager: ProcessSpec(), taskManager: ProcessSpec(), upgradeMode: .lastState)
        #expect(Self.config(try Self.layout(without).jobManager).contains(#""execution.checkpointing.interval": "30s""#))
        let with = Self.deployment(jobManager: ProcessSpec(), taskManager: ProcessSpec(),
                                   configuration: ["execution.checkpointing.interval": "5s"], upgradeMode: .lastState)
        #expect(Self.config(try Self.layout(with).jobManager).contains(#""execution.checkpointing.interval": "5s""#))
        let savepoint = Self.deployment(jobManager: ProcessSpec(), taskManager: ProcessSpec(), upgradeMode: .savepoint)
        #expect(!Self.config(try Self.layout(savepoint).jobManager).contains("execution.checkpointing.interval"))
    }

    @Test(arguments: [ResourceKind.flinkDeployment, .flinkSessionJob])
    func aCanaryStartsNothingAndRecordsItsReconcile(kind: ResourceKind) {
        let meta = ObjectMeta(name: "canary", labels: [FlinkAPI.canaryLabel: "TRUE"])
        let resource: FlinkResource = kind == .flinkDeployment
            ? .deployment(FlinkDeployment(metadata: meta, spec: FlinkDeploymentSpec()))
            : .sessionJob(FlinkSessionJob(metadata: meta, spec: FlinkSessionJobSpec()))
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        let plan = FlinkPlanner().plan(PlanInput(id: resource.id, resource: resource, isDefined: true, generation: 3, pods: [], domain: nil, now: now))
        #expect(plan.steps.isEmpty)
        #expect(plan.conditions.map { "\($0.type)=\($0.status.rawValue) \($0.reason ?? "")" } == ["Ready=True Canary"])
        #expect(plan.observedGeneration == 3)
        #expect(plan.error == nil)
        #expect(plan.flinkStatus?.reconciliation?.reconciliationTimestamp == 1_800_000_000_000)
        #expect(plan.next == ReconcileAction.requeue(after: FlinkPlanner.canaryInterval))
    }
}
