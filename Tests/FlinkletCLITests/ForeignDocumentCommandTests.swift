import Foundation
import Testing

/// Other APIs' documents beside Flinklet's: one `skipped:` line each from validate, apply and
/// diff, and never an error.
@Suite struct ForeignDocumentCommandTests {
    static let web = ManifestText.deployment(name: "web")
    static let configMap = """
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: flink-config
        data:
          a: b

        """

    @Test func validateSkipsAConfigMapAndAKustomizationWithOneLineEach() throws {
        try withScratchDirectory { dir in
            try dir.makeDirectory("m")
            try dir.write("m/all.yaml", Self.configMap + "---\n" + Self.web)
            try dir.write("m/kustomization.yaml", "resources: [all.yaml]\n")
            let result = try FlinkletBinary.run(["validate", "-f", "m"], in: dir.url)
            #expect(result.exited && result.status == 0, "\(result)")
            #expect(result.stderr == "")
            #expect(result.stdoutLines == [
                "skipped: v1/ConfigMap flink-config: not a Flinklet kind (m/all.yaml:1:1)",
                "skipped: kustomization.yaml: a kustomize file, not a Flinklet manifest (m/kustomization.yaml)",
                "flinkdeployment.flink.apache.org/web valid",
                "1 resource in 2 files: 1 valid, 2 other documents skipped",
            ])
        }
    }

    @Test func validateJSONListsTheSkippedDocuments() throws {
        try withScratchDirectory { dir in
            try dir.write("all.yaml", Self.configMap + "---\n" + Self.web)
            let result = try FlinkletBinary.run(["validate", "-f", "all.yaml", "-o", "json"], in: dir.url)
            #expect(result.exited && result.status == 0, "\(result)")
            let json = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
            let skipped = try #require(json["skipped"] as? [[String: Any]])
            #expect(skipped.count == 1)
            #expect(skipped.first?["subject"] as? String == "v1/ConfigMap flink-config")
            #expect(skipped.first?["reason"] as? String == "not a Flinklet kind")
            #expect(skipped.first?["file"] as? String == "all.yaml")
            #expect(skipped.first?["line"] as? Int == 1)
            #expect(json["valid"] as? Bool == true)
        }
    }

    @Test func applyWritesOnlyTheResourceAndSaysWhatItSkipped() throws {
        try withWorkspace { ws in
            try ws.write("all.yaml", Self.configMap + "---\n" + Self.web)
            let result = try ws.run(["apply", "-f", "all.yaml"])
            #expect(result.exited && result.status == 0, "\(result)")
            #expect(result.stdoutLines == [
                "skipped: v1/ConfigMap flink-config: not a Flinklet kind (all.yaml:1:1)",
                "flinkdeployment.flink.apache.org/web created",
            ])
            #expect(ws.read("manifests/default.flinkdeployment.web.yaml") == Self.web)
        }
    }

    @Test func applyNeverRewritesAFileThatAlsoHoldsAnotherAPIsDocument() throws {
        try withWorkspace { ws in
            try ws.write("manifests/all.yaml", Self.configMap + "---\n" + Self.web)
            try ws.write("web.yaml", ManifestText.deployment(name: "web", args: ["--rate", "30"]))
            let result = try ws.run(["apply", "-f", "web.yaml"])
            #expect(result.exited && result.status == 1, "\(result)")
            #expect(ws.read("manifests/all.yaml") == Self.configMap + "---\n" + Self.web)
        }
    }

    @Test func diffSaysWhatItSkippedOnStandardErrorAndDiffsTheRest() throws {
        try withWorkspace { ws in
            try ws.write("all.yaml", Self.configMap + "---\n" + Self.web)
            let result = try ws.run(["diff", "-f", "all.yaml"])
            #expect(result.exited && result.status == 1, "\(result)")
            #expect(result.stderrLines == ["skipped: v1/ConfigMap flink-config: not a Flinklet kind (all.yaml:1:1)"])
            #expect(result.stdoutLines.first == "# create")
        }
    }
}
