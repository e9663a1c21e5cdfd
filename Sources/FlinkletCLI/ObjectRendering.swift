import FlinkResources
import Foundation
import Store
import YAML

/// Resources as `apply` compares them and `diff` prints them: the model encoded (so defaults,
/// spellings and layout of the source make no difference), keys sorted, as YAML.
enum ObjectRendering {
    /// True when two resources say the same thing: same name, namespace, labels, annotations
    /// and spec. Layout, comments, quoting and key order of their manifests do not matter.
    static func semanticallyEqual(_ a: FlinkResource, _ b: FlinkResource) -> Bool {
        let (m, n) = (a.metadata, b.metadata)
        guard m.name == n.name, m.namespace == n.namespace,
              (m.labels ?? [:]) == (n.labels ?? [:]), (m.annotations ?? [:]) == (n.annotations ?? [:]) else { return false }
        switch (a, b) {
        case (.deployment(let x), .deployment(let y)): return x.spec == y.spec
        case (.sessionJob(let x), .sessionJob(let y)): return x.spec == y.spec
        case (.snapshot(let x), .snapshot(let y)): return x.spec == y.spec
        default: return false
        }
    }

    /// apiVersion, kind, metadata (name, namespace, labels, annotations) and spec, as JSON.
    static func value(_ resource: FlinkResource) throws -> JSONValue {
        var resource = resource
        switch resource {
        case .deployment(var d):
            d.status = nil
            d.metadata.generation = nil
            resource = .deployment(d)
        case .sessionJob(var j):
            j.status = nil
            j.metadata.generation = nil
            resource = .sessionJob(j)
        case .snapshot(var s):
            s.status = nil
            s.metadata.generation = nil
            resource = .snapshot(s)
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let data = switch resource {
        case .deployment(let d): try encoder.encode(d)
        case .sessionJob(let j): try encoder.encode(j)
        case .snapshot(let s): try encoder.encode(s)
        }
        return try JSONDecoder().decode(JSONValue.self, from: data)
    }

    /// The resource as YAML, keys sorted.
    static func yaml(_ resource: FlinkResource) throws -> String {
        try emitYAML([value(resource).node])
    }

    /// The resource the operator runs, from its record: the spec it last reconciled (else the
    /// spec it last read), with the given metadata's labels and annotations (the Store keeps
    /// none of its own).
    static func live(_ record: ResourceRecord, metadata: ObjectMeta?) throws -> FlinkResource {
        let json = Data((record.lastReconciledSpec ?? record.spec).utf8)
        var meta = ObjectMeta(name: record.name, namespace: record.namespace)
        meta.labels = metadata?.labels
        meta.annotations = metadata?.annotations
        switch record.kind {
        case .flinkDeployment:
            return .deployment(FlinkDeployment(metadata: meta, spec: try JSONDecoder().decode(FlinkDeploymentSpec.self, from: json)))
        case .flinkSessionJob:
            return .sessionJob(FlinkSessionJob(metadata: meta, spec: try JSONDecoder().decode(FlinkSessionJobSpec.self, from: json)))
        case .flinkStateSnapshot:
            return .snapshot(FlinkStateSnapshot(metadata: meta, spec: try JSONDecoder().decode(FlinkStateSnapshotSpec.self, from: json)))
        }
    }
}
