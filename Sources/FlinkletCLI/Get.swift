import ArgumentParser
import FlinkResources
import Foundation
import Store
import YAML

/// `flinklet get [KIND] [NAME]`: resources from the state directory, as kubectl lists them.
struct Get: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List resources and their status.",
        discussion: "Reads the state directory, so it works whether or not the operator runs."
    )

    enum Output: String, ExpressibleByArgument, CaseIterable { case wide, yaml, json, name }

    @Argument(help: "KIND, KIND/NAME, or KIND NAME (flinkdeployment, flinkdep, fdep, sessionjob, flinksessionjob).")
    var kindOrName: String?
    @Argument(help: ArgumentHelp("The resource name.", visibility: .hidden))
    var name: String?
    @OptionGroup var state: StateOptions
    @OptionGroup var namespaces: NamespaceOptions
    @Option(name: [.customShort("o"), .customLong("output")], help: "Output format: wide, yaml, json or name.")
    var output: Output?
    @Flag(name: .customLong("no-headers"), help: "Print no header line.")
    var noHeaders = false

    func run() throws {
        let selector = try ResourceSelector(kindOrName, name)
        let records = try openStore(state)?.resources().filter { selector.matches($0, namespace: namespaces.filter) } ?? []
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
        // kubectl prints the object itself for `get KIND NAME`, a List otherwise, in both formats.
        let value: JSONValue = records.count == 1 && selector.name != nil ? try Self.object(records[0])
            : JSONValue.object(["apiVersion": .string("v1"), "kind": .string("List"), "items": .array(try records.map(Self.object))])
        switch output {
        case .yaml:
            print(try emitYAML([value.node]), terminator: "")
        case .json:
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            print(String(decoding: try encoder.encode(value), as: UTF8.self))
        case .name:
            for record in records { print("\(record.kind.qualifiedName)/\(record.name)") }
        case .wide, nil:
            printTable(records, wide: output == .wide, qualify: selector.kind == nil)
        }
    }

    private func printTable(_ records: [ResourceRecord], wide: Bool, qualify: Bool) {
        var header = ["NAME", "JOB STATUS", "LIFECYCLE STATE", "READY", "AGE"]
        if namespaces.allNamespaces { header.insert("NAMESPACE", at: 0) }
        if wide { header += ["GENERATION", "OBSERVED", "ERROR"] }
        let rows = records.map { record -> [String] in
            let status = StatusSummary(record)
            var row = [qualify ? "\(record.kind.qualifiedName)/\(record.name)" : record.name,
                       status.jobState ?? "", status.lifecycle ?? "", status.ready, age(since: record.createdAt)]
            if namespaces.allNamespaces { row.insert(record.namespace, at: 0) }
            if wide { row += [String(record.generation), status.observedGeneration.map(String.init) ?? "", status.error ?? ""] }
            return row
        }
        print(table(noHeaders ? nil : header, rows))
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
        var object: [String: JSONValue] = [
            "apiVersion": .string(FlinkAPI.apiVersion), "kind": .string(record.kind.rawValue),
            "metadata": .object(metadata), "spec": spec,
        ]
        if let status { object["status"] = status }
        return .object(object)
    }
}
