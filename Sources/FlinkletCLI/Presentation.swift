import ArgumentParser
import FlinkResources
import Foundation
import Store

/// A resource reference as kubectl accepts it: `KIND`, `KIND/NAME`, or `KIND NAME`, where KIND
/// is any spelling `ResourceKind(spelling:)` knows (`flinkdeployment`, `flinkdep`, `fdep`,
/// `sessionjob`, `flinksessionjob`, with or without `.flink.apache.org`).
struct ResourceSelector {
    var kind: ResourceKind?
    var name: String?

    init(_ first: String?, _ second: String?) throws {
        guard let first else { return }
        if let slash = first.firstIndex(of: "/") {
            guard second == nil else { throw ValidationError("there is no need to specify a resource type as a separate argument when passing arguments in resource/name form") }
            kind = try Self.kind(String(first[..<slash]))
            name = String(first[first.index(after: slash)...])
        } else {
            kind = try Self.kind(first)
            name = second
        }
    }

    static func kind(_ spelling: String) throws -> ResourceKind {
        guard let kind = ResourceKind(spelling: spelling) else {
            throw ValidationError("the server doesn't have a resource type \"\(spelling)\"; known types: flinkdeployment (flinkdep), flinksessionjob (sessionjob), flinkstatesnapshot (flinksnp)")
        }
        return kind
    }

    func matches(_ record: ResourceRecord, namespace: String?) -> Bool {
        (kind == nil || record.kind == kind) && (name == nil || record.name == name) && (namespace == nil || record.namespace == namespace)
    }
}

/// `-n/--namespace` and `-A/--all-namespaces`, as kubectl has them.
struct NamespaceOptions: ParsableArguments {
    @Option(name: [.customShort("n"), .customLong("namespace")], help: "The namespace (default: default).")
    var namespace: String = ObjectMeta.defaultNamespace

    @Flag(name: [.customShort("A"), .customLong("all-namespaces")], help: "List resources of every namespace.")
    var allNamespaces = false

    var filter: String? { allNamespaces ? nil : namespace }
}

/// Columns padded like kubectl's tables: each as wide as its widest cell, three spaces apart.
func table(_ header: [String]?, _ rows: [[String]]) -> String {
    let all = (header.map { [$0] } ?? []) + rows
    guard let count = all.map(\.count).max() else { return "" }
    var widths = [Int](repeating: 0, count: count)
    for row in all { for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.count) } }
    return all.map { row in
        row.enumerated().map { i, cell in i == row.count - 1 ? cell : cell.padding(toLength: widths[i], withPad: " ", startingAt: 0) }
            .joined(separator: "   ")
    }.joined(separator: "\n")
}

/// Opens the state directory for reading; a missing database means no resources yet, and so
/// does one at schema version 0 (an operator creating it this instant has not migrated it yet).
func openStore(_ options: StateOptions) throws -> Store? {
    do {
        return try Store.open(stateDirectory: options.stateDirectory, readOnly: true)
    } catch StoreError.notFound {
        return nil
    } catch StoreError.olderSchema(_, let found, _) where found == 0 {
        return nil
    }
}

/// The common status fields of a record, whatever its kind.
struct StatusSummary {
    var lifecycle: String?
    var jobState: String?
    var error: String?
    var observedGeneration: Int64?
    var conditions: [Condition]

    init(_ record: ResourceRecord) {
        let status = record.status.flatMap { try? JSONDecoder().decode(record.kind.statusType, from: Data($0.utf8)) }
        lifecycle = status?.lifecycleState?.rawValue
        jobState = status?.jobStatus?.state
        error = status?.error
        observedGeneration = status?.observedGeneration
        conditions = status?.conditions ?? []
    }

    var ready: String { conditions.first { $0.type == "Ready" }?.status.rawValue ?? "Unknown" }
}
