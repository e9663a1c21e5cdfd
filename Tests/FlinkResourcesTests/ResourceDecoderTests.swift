import Testing
import YAML
@testable import FlinkResources

@Suite struct ResourceDecoderTests {
    func decode(_ text: String, file: String = "m.yaml") throws -> [DecodedDocument] {
        ResourceDecoder.decode(try parseYAML(text), file: file)
    }

    func deployment(_ text: String) throws -> FlinkDeployment {
        let documents = try decode(text)
        let document = try #require(documents.first)
        #expect(document.diagnostics.errors.map(\.description) == [])
        guard case .deployment(let d)? = document.resource else {
            Issue.record("not a deployment")
            throw CancellationError()
        }
        return d
    }

    static let header = """
        apiVersion: flink.apache.org/v1beta1
        kind: FlinkDeployment
        metadata:
          name: app
        spec:
          flinkVersion: v2_3

        """

    @Test func nestedAndFlatConfigurationFlattenToTheSameStringEntries() throws {
        let flat = try deployment(Self.header + """
              flinkConfiguration:
                execution.checkpointing.interval: 10s
                taskmanager.numberOfTaskSlots: 2
                pipeline.object-reuse: true
                env.java.opts.all: [-Da=1, -Db=2]
            """)
        let nested = try deployment(Self.header + """
              flinkConfiguration:
                execution:
                  checkpointing:
                    interval: 10s
                taskmanager:
                  numberOfTaskSlots: 2
                pipeline.object-reuse: true
                env.java.opts: {all: [-Da=1, -Db=2]}
            """)
        let expected: FlinkConfiguration = [
            "execution.checkpointing.interval": "10s", "taskmanager.numberOfTaskSlots": "2",
            "pipeline.object-reuse": "true", "env.java.opts.all": "-Da=1;-Db=2",
        ]
        #expect(flat.spec.flinkConfiguration == expected)
        #expect(nested.spec.flinkConfiguration == expected)
    }

    @Test func aKeySetTwiceThroughNestingIsADuplicate() throws {
        let documents = try decode(Self.header + """
              flinkConfiguration:
                rest.flamegraph.enabled: "true"
                rest:
                  flamegraph:
                    enabled: false
            """)
        #expect(documents[0].diagnostics.errors.map(\.description) == [
            #"m.yaml:11:9: spec.flinkConfiguration[rest.flamegraph.enabled]: Duplicate value: "rest.flamegraph.enabled": also set at line 8, column 5"#,
        ])
    }

    @Test("mode: native, standalone and unset are inferred from the job", arguments: [
        ("native", true, ClusterMode.application), ("standalone", false, .session), ("", true, .application),
        ("", false, .session), ("per-job", true, .perJob), ("session", false, .session), ("application", true, .application),
    ])
    func modeInference(mode: String, hasJob: Bool, expected: ClusterMode) throws {
        var text = Self.header
        if !mode.isEmpty { text += "  mode: \(mode)\n" }
        if hasJob { text += "  job:\n    jarURI: local:///j.jar\n" }
        #expect(try deployment(text).spec.effectiveMode == expected)
    }

    @Test func namespaceDefaultsAndIdentityIsKnownEvenWhenInvalid() throws {
        let documents = try decode("""
            apiVersion: flink.apache.org/v1beta1
            kind: FlinkSessionJob
            metadata: {name: job-a}
            spec:
              deploymentName: 7
              job: {jarURI: local:///j.jar, parallelism: many}
            """)
        #expect(documents[0].id == ResourceID(kind: .flinkSessionJob, namespace: "default", name: "job-a"))
        #expect(documents[0].diagnostics.errors.map(\.description) == [
            #"m.yaml:6:46: spec.job.parallelism: Invalid type: expected integer, got string "many""#,
        ])
        #expect(documents[0].diagnostics.allSatisfy { $0.resource == documents[0].id })
    }

    @Test func managedFieldsAreDroppedWithAWarning() throws {
        let documents = try decode("""
            apiVersion: flink.apache.org/v1beta1
            kind: FlinkDeployment
            metadata:
              name: app
              generation: 7
              uid: 1234
            spec:
              flinkVersion: v2_3
            status:
              lifecycleState: STABLE
            """)
        #expect(documents[0].diagnostics.map(\.description) == [
            "m.yaml:5:3: warning: metadata.generation: Ignored: metadata.generation is counted by Flinklet; the value in the manifest is not used",
            "m.yaml:6:3: warning: metadata.uid: Ignored: Kubernetes-only field, accepted for compatibility (set by a Kubernetes API server, not read from manifests)",
            "m.yaml:9:1: warning: status: Ignored: status is written by Flinklet; the value in the manifest is not used",
        ])
        guard case .deployment(let d)? = documents[0].resource else { Issue.record("no resource"); return }
        #expect(d.metadata.generation == nil)
        #expect(d.status == nil)
    }

    @Test func aKubernetesListContributesItsItems() throws {
        let documents = try decode("""
            apiVersion: v1
            kind: List
            items:
            - {apiVersion: flink.apache.org/v1beta1, kind: FlinkDeployment, metadata: {name: a}, spec: {flinkVersion: v2_3}}
            - {apiVersion: flink.apache.org/v1beta1, kind: FlinkDeployment, metadata: {name: b}, spec: {flinkVersion: v2_3}}
            """)
        #expect(documents.map(\.id?.name) == ["a", "b"])
        #expect(documents.map(\.index) == [0, 1])
    }

    /// The upstream operator's `basic.yaml` example, unchanged.
    @Test func upstreamBasicExampleLoadsWithWarningsOnly() throws {
        let documents = try decode("""
            apiVersion: flink.apache.org/v1beta1
            kind: FlinkDeployment
            metadata:
              name: basic-example
            spec:
              image: flink:1.20
              flinkVersion: v1_20
              flinkConfiguration:
                taskmanager.numberOfTaskSlots: "2"
              serviceAccount: flink
              jobManager:
                resource:
                  memory: "2048m"
                  cpu: 1
              taskManager:
                resource:
                  memory: "2048m"
                  cpu: 1
              job:
                jarURI: local:///opt/flink/examples/streaming/StateMachineExample.jar
                parallelism: 2
                upgradeMode: stateless
            """)
        #expect(documents[0].diagnostics.errors.isEmpty)
        #expect(documents[0].diagnostics.warnings.map(\.path) == ["spec.serviceAccount"])
        guard case .deployment(let d)? = documents[0].resource else { Issue.record("no resource"); return }
        #expect(d.spec.jobManager?.resource?.memoryBytes == 2048 << 20)
        #expect(d.spec.job?.parallelism == 2)
        #expect(d.spec.effectiveMode == .application)
    }

    @Test func resourcesEncodeToYAMLWithSortedKeysAndReadBack() throws {
        let d = try deployment(Self.header + """
              job:
                jarURI: local:///j.jar
                args: ["--n", "8081", "true"]
              flinkConfiguration:
                a.b: "1"
            """)
        let yaml = try ResourceOutput.yaml(d)
        let back = try deployment(yaml)
        #expect(back == d)
        #expect(yaml.contains("- \"8081\"") && yaml.contains("- \"true\""))
    }
}
