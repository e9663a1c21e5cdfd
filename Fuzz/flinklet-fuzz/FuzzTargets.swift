import Artifacts
import FlinkResources
import KubeAPI
import Manifests
import YAML

/// The parsers of user input that libFuzzer drives (`hack/fuzz.sh TARGET SECONDS`). Each target
/// takes any bytes and must return: a trap (overflow, out-of-range index, failed
/// `precondition`), an AddressSanitizer report, a leak or a hang is a finding. Beyond "no
/// crash", each checks a few properties that must hold for every input, so a wrong answer is a
/// finding too.
enum FuzzTarget: String, CaseIterable, Sendable {
    /// A manifest file: YAML parser, resource decoder and validator (`ManifestReader.read`).
    case manifest
    /// kubectl JSONPath templates (`get -o jsonpath=`, `wait --for=jsonpath=`): the first line
    /// is the template, the rest a JSON document to render it against.
    case jsonpath
    /// Label selectors (`apply --prune -l`, the API's `labelSelector`).
    case selector
    /// Memory quantities in Flink's and Kubernetes' spellings (`MemorySize`).
    case quantity
    /// `jarURI`s, as the artifact store reads them and as validation checks them in a manifest;
    /// a second line is the pinned checksum (`flinklet.dev/jar-sha256`) of that manifest.
    case jaruri
    /// The bodies of the Kubernetes API's writes (`KubeAPI.WriteBodies`): the first byte picks
    /// how the rest is read (an object for create/replace, a merge patch, a JSON patch, a
    /// server-side apply configuration), which is written onto a valid FlinkDeployment.
    case apibody

    func run(_ bytes: UnsafeRawBufferPointer) {
        switch self {
        case .manifest: Self.manifest(Array(bytes))
        case .jsonpath: Self.jsonPath(String(decoding: bytes, as: UTF8.self))
        case .selector: Self.selector(String(decoding: bytes, as: UTF8.self))
        case .quantity: Self.quantity(String(decoding: bytes, as: UTF8.self))
        case .jaruri: Self.jarURI(String(decoding: bytes, as: UTF8.self))
        case .apibody: Self.apiBody(Array(bytes))
        }
    }

    // MARK: Targets

    static func manifest(_ bytes: [UInt8]) {
        let file = ManifestReader.read(bytes: bytes, path: "fuzz.yaml")
        // libyaml breaks lines at LF, CR, NEL, LS and PS: count every byte that can end one.
        checkCoherent(file, lines: bytes.reduce(1) { $0 + ([0x0A, 0x0D, 0x85, 0xA8, 0xA9].contains($1) ? 1 : 0) })
    }

    static func jsonPath(_ input: String) {
        let (template, document) = input.firstIndex(of: "\n").map { (String(input[..<$0]), String(input[input.index(after: $0)...])) } ?? (input, "")
        guard let path = try? JSONPath(template) else { return }
        _ = path.render(sampleObject)
        _ = path.values(in: sampleObject)
        // The document as YAML (JSON is YAML): any value a resource can hold.
        if let documents = try? parseYAML(Array(document.utf8), limits: ManifestReader.limits), let root = documents.first?.root {
            let value = JSONValue(root)
            _ = path.render(value)
            _ = path.values(in: value)
        }
    }

    static func selector(_ input: String) {
        guard let selector = try? LabelSelector(input) else { return }
        check(selector.description == input, "a selector describes itself as written")
        for labels in sampleLabels { _ = selector.matches(labels) }
        _ = selector.matches(nil)
    }

    static func quantity(_ input: String) {
        if let size = try? MemorySize.parse(input) {
            check(size.bytes >= 0, "a parsed size is not negative: \(input) → \(size.bytes)")
            // Every size prints in a spelling that reads back as the same size.
            check((try? MemorySize.parse(size.description)) == size, "\(size.description) reads back as \(size.bytes) bytes")
            check(MemorySize.kubernetesBytes(size.kubernetesDescription) == size, "\(size.kubernetesDescription) reads back as \(size.bytes) bytes")
        }
        if let size = MemorySize.kubernetesBytes(input) { check(size.bytes >= 0, "kubernetesBytes(\(input)) is not negative") }
        if let size = MemorySize.flinkBytes(input) { check(size.bytes >= 0, "flinkBytes(\(input)) is not negative") }
    }

    static func jarURI(_ text: String) {
        let (input, pin) = text.firstIndex(of: "\n").map { (String(text[..<$0]), String(text[text.index(after: $0)...])) } ?? (text, nil)
        if let path = ArtifactStore.localPath(of: input, flinkHome: "/opt/flink") {
            check(path.hasPrefix("/"), "a jar's local path is absolute: \(input) → \(path)")
            check(!path.split(separator: "/").contains(".."), "a jar's local path is normal: \(input) → \(path)")
        }
        // The same URI in a manifest, through the decoder and every jar rule of validation.
        let manifest = Array("""
            {"apiVersion": "flink.apache.org/v1beta1", "kind": "FlinkDeployment",
             "metadata": {"name": "fuzz", "annotations": {\(pin.map { "\"\(ObjectMeta.jarSHA256Annotation)\": \(jsonString($0))" } ?? "")}},
             "spec": {"flinkVersion": "v2_3", "job": {"jarURI": \(jsonString(input)), "upgradeMode": "stateless"}}}
            """.utf8)
        let file = ManifestReader.read(bytes: manifest, path: "fuzz.json")
        checkCoherent(file, lines: 3)
        if let pin, let resource = file.objects.first?.resource {
            check(ObjectMeta.isSHA256(pin) && resource.metadata.pinnedJarSHA256 == pin.lowercased(), "a valid manifest's pin is 64 hex digits: \(pin)")
        }
    }

    static func apiBody(_ bytes: [UInt8]) {
        guard let first = bytes.first else { return }
        let kinds = WriteBodies.Kind.allCases
        let kind = kinds[Int(first) % kinds.count]
        let id = ResourceID(kind: .flinkDeployment, namespace: "default", name: "app")
        switch WriteBodies.evaluate(kind, body: Array(bytes.dropFirst()), current: currentDeployment, id: id) {
        case .refused(let status):
            check((400..<500).contains(status), "a refused body is a client error: \(status)")
        case .read(let diagnostics, let foundObject):
            for diagnostic in diagnostics { check(!diagnostic.message.isEmpty, "a diagnostic without a message") }
            // The identity is checked before the manifest is written: what reads back without
            // an error is the object the URL names.
            if !diagnostics.contains(where: \.isError) { check(foundObject, "a manifest read without errors holds the object written") }
        }
    }

    /// A valid FlinkDeployment manifest, as the API's writes find one in its file.
    static let currentDeployment: JSONValue = .object([
        "apiVersion": .string("flink.apache.org/v1beta1"), "kind": .string("FlinkDeployment"),
        "metadata": .object(["name": .string("app"), "labels": .object(["app": .string("counter")])]),
        "spec": .object([
            "flinkVersion": .string("v2_3"), "mode": .string("standalone"),
            "flinkConfiguration": .object(["taskmanager.numberOfTaskSlots": .string("2")]),
            "jobManager": .object(["resource": .object(["memory": .string("1024m"), "cpu": .int(1)])]),
            "taskManager": .object(["resource": .object(["memory": .string("1024m"), "cpu": .int(1)])]),
            "job": .object(["jarURI": .string("local:///opt/flink/examples/streaming/StateMachineExample.jar"),
                            "parallelism": .int(2), "upgradeMode": .string("savepoint")]),
        ]),
    ])

    // MARK: Properties

    /// Every diagnostic has a message and points inside the file; a valid object has no error.
    static func checkCoherent(_ file: ManifestFile, lines: Int) {
        for diagnostic in file.diagnostics {
            check(!diagnostic.message.isEmpty, "a diagnostic without a message")
            if let mark = diagnostic.location?.mark {
                check(mark.line >= 1 && mark.line <= lines + 1, "diagnostic at line \(mark.line) of a \(lines)-line file: \(diagnostic.message)")
            }
        }
        for object in file.objects where object.isValid {
            check(!object.diagnostics.contains { $0.severity == .error }, "an object both valid and in error")
        }
    }

    /// Like `precondition`, in release builds too, with the message libFuzzer prints.
    static func check(_ condition: Bool, _ message: @autoclosure () -> String) {
        if !condition { fatalError("property failed: \(message())") }
    }

    static func jsonString(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case _ where scalar.value < 0x20: out += "\\u" + String(repeating: "0", count: 4 - String(scalar.value, radix: 16).count) + String(scalar.value, radix: 16)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    static let sampleLabels: [[String: String]] = [
        [:], ["app": "counter", "team": "data"], ["environment": "production", "tier": "a", "": ""],
        ["flink.apache.org/canary": "true", "app.kubernetes.io/name": "x"],
    ]

    static let sampleObject: JSONValue = .object([
        "apiVersion": .string("flink.apache.org/v1beta1"), "kind": .string("FlinkDeployment"),
        "metadata": .object(["name": .string("app"), "labels": .object(["app": .string("counter")]), "generation": .int(3)]),
        "status": .object([
            "lifecycleState": .string("STABLE"),
            "conditions": .array([
                .object(["type": .string("Ready"), "status": .string("True"), "observedGeneration": .int(3)]),
                .object(["type": .string("Running"), "status": .string("False"), "ratio": .double(0.5)]),
            ]),
            "items": .array([.int(1), .int(-2), .null, .bool(true), .array([]), .object([:])]),
        ]),
    ])
}
