import Testing
import FlinkResources
import Manifests

/// Fields and settings that upstream's manifests use, read as upstream reads them.
///
/// `deploymentBase` sizes both processes with `resource` (lines 7-12); these edits replace that.
let resourcesBase = edited(deploymentBase, [
    .replace(8, "    resources:"), .replace(9, "      requests: {memory: 2Gi, cpu: 500m}"),
    .replace(11, "    resources:"), .replace(12, "      limits: {memory: 2048m, cpu: 2}"),
])

/// (what is wrong, edits of `resourcesBase`, the one error expected)
let resourcesErrors: [(String, [Edit], String)] = [
    ("memory request that does not parse", [.replace(9, "      requests: {memory: 2 gigs}")],
     #"case.yaml:9:26: spec.jobManager.resources.requests[memory]: Invalid value: "2 gigs": must be a memory size such as "2048m", "2g", "1536Mi" or "2Gi""#),
    ("memory request above its limit", [.replace(9, "      requests: {memory: 2Gi}\n      limits: {memory: 1Gi}")],
     #"case.yaml:9:26: spec.jobManager.resources.requests[memory]: Invalid value: "2Gi": must be less than or equal to memory limit of 1Gi"#),
    ("CPU request above its limit", [.replace(12, "      limits: {memory: 2g, cpu: 250m}\n      requests: {cpu: 1}")],
     #"case.yaml:13:23: spec.taskManager.resources.requests[cpu]: Invalid value: "1": must be less than or equal to cpu limit of 250m"#),
    ("CPU that is no quantity", [.replace(9, "      requests: {memory: 2Gi, cpu: lots}")],
     #"case.yaml:9:36: spec.jobManager.resources.requests[cpu]: Invalid value: "lots": must be a CPU quantity such as "500m", "1" or "2.5""#),
    ("zero CPU", [.replace(9, "      requests: {memory: 2Gi, cpu: 0}")],
     #"case.yaml:9:36: spec.jobManager.resources.requests[cpu]: Invalid value: "0": must be greater than 0"#),
    ("TaskManager limit too small for Flink", [.replace(12, "      limits: {memory: 512Mi}")],
     #"case.yaml:12:24: spec.taskManager.resources.limits[memory]: Invalid value: "512Mi": is too small for a TaskManager: after JVM metaspace and overhead (448m) it leaves 64m of Flink memory, less than framework heap and off-heap (256m), task off-heap (0m), managed (25.6m) and network memory (64m) need; use at least 982m"#),
    ("resources of the wrong shape", [.replace(9, "      requests: 2Gi")],
     #"case.yaml:9:17: spec.jobManager.resources.requests: Invalid type: expected object, got string "2Gi""#),
]

/// (what upstream writes, edits of `deploymentBase`, the warnings expected; the resource stays valid)
let upstreamWarnings: [(String, [Edit], [String])] = [
    ("Kubernetes high availability", [.insert(after: 6, """
          flinkConfiguration:
            high-availability.type: kubernetes
            high-availability.storageDir: file:///flink-data/ha
        """)], [
        "case.yaml:8:5: warning: spec.flinkConfiguration[high-availability.type]: Ignored: Flinklet runs clusters without high availability and restores jobs from its own checkpoint and savepoint records",
        "case.yaml:9:5: warning: spec.flinkConfiguration[high-availability.storageDir]: Ignored: high availability is not used locally: Flinklet restores jobs from its own checkpoint and savepoint records",
    ]),
    ("high availability by its legacy key and factory class", [.insert(after: 6, """
          flinkConfiguration:
            high-availability: org.apache.flink.kubernetes.highavailability.KubernetesHaServicesFactory
        """)], [
        "case.yaml:8:5: warning: spec.flinkConfiguration[high-availability]: Ignored: Flinklet runs clusters without high availability and restores jobs from its own checkpoint and savepoint records",
    ]),
    ("ZooKeeper high availability", [.insert(after: 6, "  flinkConfiguration:\n    high-availability.type: zookeeper")], [
        "case.yaml:8:5: warning: spec.flinkConfiguration[high-availability.type]: Ignored: Flinklet runs clusters without high availability and restores jobs from its own checkpoint and savepoint records",
    ]),
    ("Kubernetes options", [.insert(after: 6, "  flinkConfiguration:\n    kubernetes.jobmanager.cpu.limit-factor: \"2\"")], [
        "case.yaml:8:5: warning: spec.flinkConfiguration[kubernetes.jobmanager.cpu.limit-factor]: Ignored: Kubernetes-only option; processes run locally",
    ]),
    ("last-state without a checkpoint interval", [.insert(after: 15, "    upgradeMode: last-state")], [
        #"case.yaml:16:18: warning: spec.job.upgradeMode: last-state restores from the latest checkpoint and spec.flinkConfiguration[execution.checkpointing.interval] is not set: Flinklet sets it to "30s" (a job that enables checkpointing in its code keeps its own interval); set it to choose"#,
    ]),
    ("both resource and resources", [.insert(after: 9, "    resources:\n      requests: {memory: 1g}")], [
        "case.yaml:8:5: warning: spec.jobManager.resource: Ignored: spec.jobManager.resources is set and takes precedence over the deprecated resource field (as upstream)",
    ]),
    ("Kubernetes-only resources", [.insert(after: 12, "    resources:\n      limits: {memory: 1g, ephemeral-storage: 2Gi, nvidia.com/gpu: 1}")], [
        "case.yaml:11:5: warning: spec.taskManager.resource: Ignored: spec.taskManager.resources is set and takes precedence over the deprecated resource field (as upstream)",
        "case.yaml:14:28: warning: spec.taskManager.resources.limits[ephemeral-storage]: Ignored: Kubernetes-only resource; processes on one machine share its disk and devices",
        "case.yaml:14:52: warning: spec.taskManager.resources.limits[nvidia.com/gpu]: Ignored: Kubernetes-only resource; processes on one machine share its disk and devices",
    ]),
]

@Suite struct UpstreamManifestTests {
    @Test func aResourcesManifestIsValidAndSizesTheProcessesFromIt() throws {
        let file = check(resourcesBase)
        #expect(file.diagnostics.map(\.description) == [])
        guard case .deployment(let d)? = file.objects.first?.resource else { Issue.record("not valid"); return }
        #expect(d.spec.jobManager?.memory == "2Gi")
        #expect(d.spec.taskManager?.memory == "2048m")
        #expect(d.spec.taskManager?.memoryLimit == "2048m")
        #expect(d.spec.jobManager?.memoryLimit == nil)
    }

    @Test("each resources rule has a failing example", arguments: resourcesErrors)
    func resourcesRule(problem: String, edits: [Edit], expected: String) {
        let file = check(edited(resourcesBase, edits))
        #expect(file.diagnostics.map(\.description) == [expected], "\(problem)")
        #expect(file.objects.allSatisfy { !$0.isValid }, "\(problem)")
    }

    @Test("upstream settings Flinklet replaces are warnings", arguments: upstreamWarnings)
    func upstreamSetting(problem: String, edits: [Edit], expected: [String]) {
        let file = check(edited(deploymentBase, edits))
        #expect(file.diagnostics.map(\.description) == expected, "\(problem)")
        #expect(file.objects.allSatisfy { $0.isValid }, "\(problem)")
    }

    /// Upstream's precedence (FlinkConfigBuilder.applyResourceConfig, ResourceConfigUtils):
    /// `resources` wins when it holds any request or limit; a request before its limit.
    @Test func memoryPrecedenceIsUpstreams() {
        let deprecated = Resource(memory: "1g")
        #expect(ProcessSpec(resource: deprecated).memory == "1g")
        #expect(ProcessSpec(resource: deprecated, resources: ResourceRequirements()).memory == "1g")
        #expect(ProcessSpec(resource: deprecated, resources: ResourceRequirements(requests: [:], limits: [:])).memory == "1g")
        #expect(ProcessSpec(resource: deprecated, resources: ResourceRequirements(requests: ["cpu": "1"])).memory == nil)
        #expect(ProcessSpec(resource: deprecated, resources: ResourceRequirements(limits: ["memory": "3g"])).memory == "3g")
        #expect(ProcessSpec(resources: ResourceRequirements(requests: ["memory": "2g"], limits: ["memory": "3g"])).memory == "2g")
        #expect(ProcessSpec(resources: ResourceRequirements(requests: ["memory": "2g"], limits: ["memory": "3g"])).memoryLimit == "3g")
    }

    @Test func highAvailabilityKeysAreLeftOutOnlyWhenItIsOn() {
        let kubernetes: FlinkConfiguration = ["high-availability.type": "kubernetes", "high-availability.storageDir": "file:///ha", "a": "b"]
        #expect(kubernetes.highAvailability)
        #expect(kubernetes.withoutHighAvailability.entries == ["a": "b"])
        let none: FlinkConfiguration = ["high-availability.type": "NONE", "high-availability.storageDir": "file:///ha"]
        #expect(!none.highAvailability)
        #expect(none.withoutHighAvailability == none)
        #expect(FlinkConfiguration(["high-availability": "zookeeper"]).highAvailability)
    }

    @Test func aBindAddressStaysAnErrorBesideKubernetesHighAvailability() {
        let file = check(edited(deploymentBase, [.insert(after: 6, "  flinkConfiguration:\n    high-availability.type: kubernetes\n    rest.bind-address: 0.0.0.0")]))
        #expect(file.diagnostics.errors.map(\.description) == [
            "case.yaml:9:24: spec.flinkConfiguration[rest.bind-address]: Forbidden: Flinklet binds every process to 127.0.0.1 and sets this key itself",
        ])
    }
}
