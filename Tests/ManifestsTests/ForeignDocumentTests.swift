import Foundation
import Logging
import Testing
import FlinkResources
import Manifests

/// Directories that hold other APIs' objects beside Flinklet's (upstream's examples ship
/// ConfigMaps, Ingresses, HPAs and kustomization files): those are skipped, never errors.
/// The error of a `FlinkBlueGreenDeployment` named `bg` (the supported kinds listed as the decoder lists them).
let blueGreenError = "kind: Unsupported value: \"FlinkBlueGreenDeployment\": supported values: "
    + ResourceDecoder.supportedKinds.map { "\"\($0)\"" }.joined(separator: ", ")
    + ": FlinkBlueGreenDeployment is not supported yet by Flinklet (flinkbluegreendeployment \"default/bg\"); deploy its FlinkDeployment spec as a FlinkDeployment instead"

@Suite struct ForeignDocumentTests {
    static let deployment = """
        apiVersion: flink.apache.org/v1beta1
        kind: FlinkDeployment
        metadata:
          name: app
        spec:
          flinkVersion: v2_3
        """
    static let configMap = """
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: flink-config
        data: {a: b}
        """

    func read(_ text: String, _ path: String = "m.yaml") -> ManifestFile {
        ManifestReader.read(bytes: Array(text.utf8), path: path)
    }

    @Test func aConfigMapBesideADeploymentIsSkippedAndTheFileStaysValid() {
        let file = read(Self.configMap + "\n---\n" + Self.deployment)
        #expect(file.diagnostics.isEmpty)
        #expect(file.skipped.map(\.description) == ["skipped: v1/ConfigMap flink-config: not a Flinklet kind (m.yaml:1:1)"])
        #expect(file.objects.map(\.isValid) == [true])
        #expect(file.objects.first?.index == 1, "the position in the file counts the skipped document")
    }

    @Test(arguments: [
        ("networking.k8s.io/v1", "Ingress", "networking.k8s.io/v1/Ingress x"),
        ("autoscaling/v2", "HorizontalPodAutoscaler", "autoscaling/v2/HorizontalPodAutoscaler x"),
        ("kustomize.config.k8s.io/v1beta1", "Kustomization", "kustomize.config.k8s.io/v1beta1/Kustomization x"),
    ])
    func everyOtherAPIIsSkipped(apiVersion: String, kind: String, subject: String) {
        let file = read("apiVersion: \(apiVersion)\nkind: \(kind)\nmetadata: {name: x}\n")
        #expect(file.diagnostics.isEmpty)
        #expect(file.objects.isEmpty)
        #expect(file.skipped.map(\.subject) == [subject])
    }

    @Test func aKustomizationFileIsSkippedWholeWhateverItHolds() {
        let file = read("resources:\n  - app.yaml\n", "dir/kustomization.yaml")
        #expect(file.diagnostics.isEmpty && file.objects.isEmpty)
        #expect(file.skipped.map(\.description) == ["skipped: kustomization.yaml: a kustomize file, not a Flinklet manifest (dir/kustomization.yaml)"])
    }

    @Test func listItemsOfOtherAPIsAreSkippedToo() {
        let text = """
            apiVersion: v1
            kind: List
            items:
            - {apiVersion: v1, kind: ConfigMap, metadata: {name: c}}
            - {apiVersion: flink.apache.org/v1beta1, kind: FlinkDeployment, metadata: {name: app}, spec: {flinkVersion: v2_3}}
            """
        let file = read(text)
        #expect(file.diagnostics.isEmpty)
        #expect(file.skipped.map(\.subject) == ["v1/ConfigMap c"])
        #expect(file.objects.map(\.index) == [1])
    }

    @Test func aFlinkKindWithAWrongVersionStaysAnError() {
        let file = read(Self.deployment.replacingOccurrences(of: "v1beta1", with: "v1"))
        #expect(file.skipped.isEmpty)
        #expect(file.diagnostics.map(\.description) == [#"m.yaml:1:13: apiVersion: Unsupported value: "flink.apache.org/v1": supported values: "flink.apache.org/v1beta1""#])
    }

    @Test func aDocumentWithoutAPIVersionOrKindStaysAnError() {
        #expect(read("kind: ConfigMap\nmetadata: {name: x}\n").diagnostics.errors.count == 1)
        #expect(read("apiVersion: v1\nmetadata: {name: x}\n").diagnostics.errors.count == 1)
    }

    @Test func aBlueGreenDeploymentIsNotSupportedYetAndDisturbsNothingElse() {
        let blueGreen = """
            apiVersion: flink.apache.org/v1beta1
            kind: FlinkBlueGreenDeployment
            metadata:
              name: bg
            spec:
              template: {}
            """
        let file = read(blueGreen + "\n---\n" + Self.deployment)
        #expect(file.diagnostics.map(\.description) == [
            "m.yaml:2:7: " + blueGreenError,
        ])
        #expect(file.objects.map(\.isValid) == [false, true])
        #expect(file.objects.last?.id?.name == "app")
    }

    @Test func theOperatorsDesiredStateKeepsTheResourcesAndNotesTheRest() {
        var state = DesiredState()
        let files = [
            "d/a.yaml": Self.configMap + "\n---\n" + Self.deployment,
            "d/kustomization.yaml": "resources: [a.yaml]\n",
            "d/b.yaml": "apiVersion: flink.apache.org/v1beta1\nkind: FlinkBlueGreenDeployment\nmetadata: {name: bg}\n",
        ]
        let signature = DesiredState.FileSignature(device: 1, inode: 1, size: 1, modified: 1, changed: 1)
        let changed = state.apply(scan: files.keys.sorted().map { ($0, signature) }, now: .now) { path in
            ManifestReader.read(bytes: Array(files[path]!.utf8), path: path)
        }
        #expect(changed == [ResourceID(kind: .flinkDeployment, namespace: "default", name: "app")])
        #expect(state.objects.values.allSatisfy { $0.isCurrent })
        #expect(state.fileNotes.map(\.line) == [
            "skipped: v1/ConfigMap flink-config: not a Flinklet kind (d/a.yaml:1:1)",
            "d/b.yaml:2:7: " + blueGreenError,
            "skipped: kustomization.yaml: a kustomize file, not a Flinklet manifest (d/kustomization.yaml)",
        ])
        #expect(state.fileNotes.map(\.severity) == [nil, .error, nil])
    }
}

/// The operator's log: one line per skipped document and per error of a document that cannot
/// be named, each once, not on every relist.
@Suite struct ForeignDocumentLogTests {
    final class Lines: @unchecked Sendable {
        private let lock = NSLock()
        private var lines: [(Logger.Level, String)] = []
        func append(_ level: Logger.Level, _ line: String) { lock.withLock { lines.append((level, line)) } }
        var all: [(Logger.Level, String)] { lock.withLock { lines } }
    }

    struct Capturing: LogHandler {
        let lines: Lines
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(event: LogEvent) { lines.append(event.level, "\(event.message)") }
    }

    @Test func theOperatorLogsEachSkippedDocumentOnce() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("flinklet-foreign-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: path) }
        try (ForeignDocumentTests.configMap + "\n---\n" + ForeignDocumentTests.deployment).write(toFile: path + "/a.yaml", atomically: true, encoding: .utf8)
        try "apiVersion: flink.apache.org/v1beta1\nkind: FlinkBlueGreenDeployment\nmetadata: {name: bg}\n".write(toFile: path + "/b.yaml", atomically: true, encoding: .utf8)
        try "resources: [a.yaml]\n".write(toFile: path + "/kustomization.yaml", atomically: true, encoding: .utf8)
        let lines = Lines()
        let source = DirectorySource(configuration: DirectorySource.Configuration(directory: path),
                                     logger: Logger(label: "test") { _ in Capturing(lines: lines) })
        let changed = await source.relist()
        _ = await source.relist()
        #expect(changed.map(\.name) == ["app"])
        let logged = lines.all.map { "\($0.0) \($0.1.replacingOccurrences(of: path + "/", with: ""))" }
        #expect(logged == [
            "info skipped: v1/ConfigMap flink-config: not a Flinklet kind (a.yaml:1:1)",
            "error b.yaml:2:7: " + blueGreenError,
            "info skipped: kustomization.yaml: a kustomize file, not a Flinklet manifest (kustomization.yaml)",
        ])
    }
}
