import ArgumentParser
import FlinkResources
import Foundation
import Store
import YAML

/// `flinklet get [KIND] [NAME]`: resources from the state directory, as kubectl lists them.
struct Get: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List resources and their status.",
        discussion: """
            Reads the state directory, so it works whether or not the operator runs. With -w, \
            keeps running and prints a resource again each time it changes.
            """
    )

    /// `-o`: a format name, or `jsonpath=TEMPLATE`.
    enum Output: ExpressibleByArgument, Equatable {
        case wide, yaml, json, name
        case jsonPath(String)

        init?(argument: String) {
            switch argument {
            case "wide": self = .wide
            case "yaml": self = .yaml
            case "json": self = .json
            case "name": self = .name
            default:
                guard argument.hasPrefix("jsonpath=") else { return nil }
                self = .jsonPath(String(argument.dropFirst("jsonpath=".count)))
            }
        }

        static var allValueStrings: [String] { ["wide", "yaml", "json", "name", "jsonpath=TEMPLATE"] }
    }

    @Argument(help: "KIND, KIND/NAME, or KIND NAME (flinkdeployment, flinkdep, fdep, sessionjob, flinksessionjob, flinkstatesnapshot, flinksnp).")
    var kindOrName: String?
    @Argument(help: ArgumentHelp("The resource name.", visibility: .hidden))
    var name: String?
    @OptionGroup var state: StateOptions
    @OptionGroup var namespaces: NamespaceOptions
    @Option(name: [.customShort("o"), .customLong("output")], help: "Output format: wide, yaml, json, name or jsonpath=TEMPLATE.")
    var output: Output?
    @Flag(name: .customLong("no-headers"), help: "Print no header line.")
    var noHeaders = false
    @Flag(name: [.customShort("w"), .customLong("watch")], help: "After listing, keep printing resources as they change.")
    var watch = false
    @Flag(name: .customLong("watch-only"), help: "Print only changes, not the current list.")
    var watchOnly = false

    func validate() throws {
        if case .jsonPath(let template) = output {
            do { _ = try JSONPath(template) } catch { throw ValidationError("error parsing jsonpath \(template): \(error)") }
        }
    }

    func run() throws {
        let selector = try ResourceSelector(kindOrName, name)
        if watch || watchOnly { return try watchChanges(selector) }
        let records = try openStore(state)?.resourcesWithOperatorSnapshots().filter { selector.matches($0, namespace: namespaces.filter) } ?? []
        if records.isEmpty {
            if let name = selector.name, let kind = selector.kind {
                var stderr = StandardError()
                print("Error from server (NotFound): \(kind.plural).\(FlinkAPI.group) \"\(name)\" not found", to: &stderr)
                throw ExitCode.failure
            }
            var stderr = StandardError()
            print(namespaces.allNamespaces ? "No resources found" : "No resources found in \(namespaces.namespace) namespace.", to: &stderr)
            return
        }
        // kubectl prints the object itself for `get KIND NAME`, a List otherwise, in every format.
        let value: JSONValue = records.count == 1 && selector.name != nil ? try Self.object(records[0])
            : JSONValue.object(["apiVersion": .string("v1"), "kind": .string("List"), "items": .array(try records.map(Self.object))])
        switch output {
        case .yaml:
            print(try emitYAML([value.node]), terminator: "")
        case .json:
            print(try Self.json(value))
        case .name:
            for record in records { print("\(record.kind.qualifiedName)/\(record.name)") }
        case .jsonPath(let template):
            // As kubectl: exactly the template's text, no newline added.
            print(try JSONPath(template).render(value), terminator: "")
        case .wide, nil:
            // As kubectl: one table per kind of columns (snapshots have their own, upstream's).
            let groups = [records.filter { $0.kind != .flinkStateSnapshot }, records.filter { $0.kind == .flinkStateSnapshot }]
            let tables = groups.filter { !$0.isEmpty }.map { group in
                let columns = TableColumns(wide: output == .wide, allNamespaces: namespaces.allNamespaces, qualify: selector.kind == nil,
                                           snapshots: group[0].kind == .flinkStateSnapshot)
                return table(noHeaders ? nil : columns.header, group.map(columns.row))
            }
            print(tables.joined(separator: "\n\n"))
        }
    }

    /// `-w`: the current resources (unless `--watch-only`), then each resource again whenever
    /// what would be printed for it changes (the AGE column aside), and once more when it is
    /// deleted. Polls the Store every 500 ms until interrupted.
    private func watchChanges(_ selector: ResourceSelector) throws {
        let columns = TableColumns(wide: output == .wide, allNamespaces: namespaces.allNamespaces, qualify: selector.kind == nil,
                                   snapshots: selector.kind == .flinkStateSnapshot)
        var widths = noHeaders ? [] : columns.header.map(\.count)
        var headerPrinted = noHeaders
        var seen: [String: (signature: String, record: ResourceRecord)] = [:]
        var first = true
        var store: Store?
        while true {
            if store == nil { store = try openStore(state) }
            let records = try store?.resourcesWithOperatorSnapshots().filter { selector.matches($0, namespace: namespaces.filter) } ?? []
            var changed: [ResourceRecord] = []
            for record in records {
                let signature = try signature(of: record, columns: columns)
                if seen[record.key]?.signature != signature { changed.append(record) }
                seen[record.key] = (signature, record)
            }
            let current = Set(records.map(\.key))
            for (key, entry) in seen.sorted(by: { $0.key < $1.key }) where !current.contains(key) {
                changed.append(entry.record)
                seen[key] = nil
            }
            if first, records.isEmpty, !watchOnly {
                var stderr = StandardError()
                print(namespaces.allNamespaces ? "No resources found" : "No resources found in \(namespaces.namespace) namespace.", to: &stderr)
            }
            if !(first && watchOnly) {
                switch output {
                case .wide, nil:
                    // Columns only widen, so later rows stay aligned with the header.
                    let rows = changed.map(columns.row)
                    for row in rows {
                        widths = row.indices.map { max(widths.indices.contains($0) ? widths[$0] : 0, row[$0].count) }
                    }
                    if !headerPrinted, !rows.isEmpty {
                        print(padded(columns.header, widths))
                        headerPrinted = true
                    }
                    for row in rows { print(padded(row, widths)) }
                default:
                    for record in changed {
                        let object = try Self.object(record)
                        switch output {
                        case .yaml: print("---\n" + (try emitYAML([object.node])), terminator: "")
                        case .json: print(try Self.json(object))
                        case .name: print("\(record.kind.qualifiedName)/\(record.name)")
                        case .jsonPath(let template): print(try JSONPath(template).render(object), terminator: "")
                        case .wide, nil: break
                        }
                    }
                }
            }
            fflush(nil)
            first = false
            Thread.sleep(forTimeInterval: 0.5)
        }
    }

    /// What decides whether a resource is printed again: its row without AGE, or its object.
    private func signature(of record: ResourceRecord, columns: TableColumns) throws -> String {
        switch output {
        case .wide, nil:
            var row = columns.row(record)
            row.remove(at: columns.ageIndex)
            return row.joined(separator: "\u{0}")
        default:
            return try Self.json(Self.object(record))
        }
    }

    static func json(_ value: JSONValue) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    /// The resource as kubectl prints it: apiVersion, kind, metadata, spec and status.
    static func object(_ record: ResourceRecord) throws -> JSONValue {
        let decoder = JSONDecoder()
        let spec = try decoder.decode(JSONValue.self, from: Data(record.spec.utf8))
        let status = try record.status.map { try decoder.decode(JSONValue.self, from: Data($0.utf8)) }
        var metadata: [String: JSONValue] = [
            "name": .string(record.name), "namespace": .string(record.namespace), "uid": .string(record.uid),
            "generation": .int(record.generation), "creationTimestamp": .string(ISO8601DateFormatter().string(from: record.createdAt)),
        ]
        if let file = record.file { metadata["annotations"] = .object(["flinklet.dev/manifest": .string(file)]) }
        if record.kind == .flinkStateSnapshot {
            // Upstream's labels, computed from the spec and status as its controller sets them.
            let snapshotSpec = try decoder.decode(FlinkStateSnapshotSpec.self, from: Data(record.spec.utf8))
            let snapshotStatus = try record.snapshotStatus()
            let trigger = OperatorSnapshots.triggerType(of: record)
            let labels = SnapshotLabels.of(spec: snapshotSpec, status: snapshotStatus, triggerType: trigger ?? .manual)
            metadata["labels"] = .object(labels.mapValues { .string($0) })
            if trigger != nil { metadata["annotations"] = .object([OperatorSnapshots.ownerAnnotation: .string("operator")]) }
        }
        var object: [String: JSONValue] = [
            "apiVersion": .string(FlinkAPI.apiVersion), "kind": .string(record.kind.rawValue),
            "metadata": .object(metadata), "spec": spec,
        ]
        if let status { object["status"] = status }
        return .object(object)
    }
}

/// The columns of `get`'s table.
struct TableColumns {
    var wide: Bool
    var allNamespaces: Bool
    /// Names as `kind.group/name`, when several kinds are listed.
    var qualify: Bool
    /// `FlinkStateSnapshot`s: upstream's printer columns (path, result timestamp, state).
    var snapshots = false

    var header: [String] {
        if snapshots {
            var header = ["NAME", "PATH", "RESULT TIMESTAMP", "SNAPSHOT STATE", "AGE"]
            if allNamespaces { header.insert("NAMESPACE", at: 0) }
            if wide { header += ["JOB REFERENCE", "TRIGGER TYPE", "FAILURES", "ERROR"] }
            return header
        }
        var header = ["NAME", "JOB STATUS", "LIFECYCLE STATE", "READY", "AGE"]
        if allNamespaces { header.insert("NAMESPACE", at: 0) }
        if wide { header += ["GENERATION", "OBSERVED", "ERROR"] }
        return header
    }

    var ageIndex: Int { allNamespaces ? 5 : 4 }

    func row(_ record: ResourceRecord) -> [String] {
        if snapshots || record.kind == .flinkStateSnapshot {
            let status = (try? record.snapshotStatus()) ?? nil
            let name = qualify ? "\(record.kind.qualifiedName)/\(record.name)" : record.name
            if !snapshots {
                // Listed with other kinds under their columns: its state where theirs is.
                var row = [name, "", status?.state?.rawValue ?? "", StatusSummary(record).ready, HumanDuration.since(record.createdAt)]
                if allNamespaces { row.insert(record.namespace, at: 0) }
                if wide { row += [String(record.generation), status?.observedGeneration.map(String.init) ?? "", status?.error ?? ""] }
                return row
            }
            var row = [name, status?.path ?? "", status?.resultTimestamp ?? "", status?.state?.rawValue ?? "", HumanDuration.since(record.createdAt)]
            if allNamespaces { row.insert(record.namespace, at: 0) }
            if wide {
                let spec = try? JSONDecoder().decode(FlinkStateSnapshotSpec.self, from: Data(record.spec.utf8))
                let reference = spec?.jobReference.map { "\(($0.kind ?? .flinkDeployment).rawValue)/\($0.name ?? "")" } ?? ""
                row += [reference, (OperatorSnapshots.triggerType(of: record) ?? .manual).rawValue, String(status?.failures ?? 0), status?.error ?? ""]
            }
            return row
        }
        let status = StatusSummary(record)
        var row = [qualify ? "\(record.kind.qualifiedName)/\(record.name)" : record.name,
                   status.jobState ?? "", status.lifecycle ?? "", status.ready, HumanDuration.since(record.createdAt)]
        if allNamespaces { row.insert(record.namespace, at: 0) }
        if wide { row += [String(record.generation), status.observedGeneration.map(String.init) ?? "", status.error ?? ""] }
        return row
    }
}

/// One table line with the given column widths (the last column unpadded), as `table` pads.
func padded(_ row: [String], _ widths: [Int]) -> String {
    row.enumerated().map { i, cell in
        i == row.count - 1 ? cell : cell.padding(toLength: max(widths[i], cell.count), withPad: " ", startingAt: 0)
    }.joined(separator: "   ")
}
