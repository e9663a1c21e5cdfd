import Testing
import FlinkResources
import Manifests

/// Upstream's canaries: a resource labelled `flink.apache.org/canary: "true"`, usually with no spec.
@Suite struct CanaryManifestTests {
    func read(_ text: String) -> ManifestFile { ManifestReader.read(bytes: Array(text.utf8), path: "c.yaml") }

    @Test(arguments: ["FlinkDeployment", "FlinkSessionJob"])
    func aCanaryWithoutSpecIsValid(kind: String) {
        let file = read("""
            apiVersion: flink.apache.org/v1beta1
            kind: \(kind)
            metadata:
              name: canary
              labels:
                "flink.apache.org/canary": "true"
            """)
        #expect(file.diagnostics.map(\.description) == [])
        #expect(file.objects.first?.resource?.metadata.isCanary == true)
    }

    @Test func theLabelIsReadCaseInsensitivelyAsUpstreamDoes() {
        let file = read("apiVersion: flink.apache.org/v1beta1\nkind: FlinkDeployment\nmetadata: {name: c, labels: {flink.apache.org/canary: \"True\"}}\n")
        #expect(file.objects.first?.isValid == true)
    }

    @Test(arguments: ["", "\n  labels: {flink.apache.org/canary: \"false\"}"])
    func anythingElseWithoutSpecIsStillAnError(labels: String) {
        let file = read("apiVersion: flink.apache.org/v1beta1\nkind: FlinkDeployment\nmetadata:\n  name: c\(labels)\n")
        #expect(file.diagnostics.map(\.description) == ["c.yaml:1:1: spec: Required value"])
    }

    @Test func aCanaryWithASpecIsCheckedAsUsual() {
        let file = read("apiVersion: flink.apache.org/v1beta1\nkind: FlinkDeployment\nmetadata: {name: c, labels: {flink.apache.org/canary: \"true\"}}\nspec: {flinkVersion: v9}\n")
        #expect(file.diagnostics.errors.count == 1)
    }
}
