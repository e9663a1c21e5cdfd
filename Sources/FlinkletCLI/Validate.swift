import ArgumentParser
import Foundation
import FlinkResources
import Manifests
import Validation

extension PortabilityTarget: ExpressibleByArgument {}

/// `flinklet validate -f FILE|DIR|-`: checks manifests exactly as the operator reads them.
struct Validate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check manifests exactly as the operator will read them.",
        discussion: """
            Prints each problem as FILE:LINE:COLUMN: FIELD: MESSAGE on standard error, then one \
            line per resource and a summary. Exit status: 0 all valid (warnings allowed), \
            1 something is invalid, 2 usage error.
            """
    )

    enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
        case text, json
    }

    @Option(name: [.customShort("f"), .customLong("filename")], parsing: .singleValue,
            help: ArgumentHelp("A manifest file, a directory of manifests, or - for standard input.", valueName: "path"))
    var filenames: [String] = []

    @Flag(name: [.customShort("R"), .customLong("recursive")], help: "Also read subdirectories of directories given with -f.")
    var recursive = false

    @Option(name: [.customShort("o"), .customLong("output")], help: "Output format: text or json.")
    var output: OutputFormat = .text

    @Option(name: .customLong("for"), help: ArgumentHelp("Also report what the Apache Flink Kubernetes Operator would reject or read differently (kubernetes).", valueName: "target"))
    var target: PortabilityTarget?

    func validate() throws {
        guard !filenames.isEmpty else {
            throw ValidationError("must specify one of -f or --filename")
        }
        if filenames.filter({ $0 == "-" }).count > 1 {
            throw ValidationError("standard input (-) can be given to -f only once")
        }
        for path in filenames where path != "-" && !FileManager.default.fileExists(atPath: path) {
            throw ValidationError("the path \"\(path)\" does not exist")
        }
    }

    func run() throws {
        var set = ManifestSet.load(paths: filenames, recursive: recursive)
        if let target { set = set.checkingPortability(for: target) }
        let report = ValidationReport(set)
        switch output {
        case .text: report.printText()
        case .json: try report.printJSON()
        }
        if report.invalid > 0 || !report.unreadableFiles.isEmpty {
            throw ExitCode.failure
        }
    }
}

/// What `validate` found, ready to print.
struct ValidationReport {
    let manifests: ManifestSet

    init(_ manifests: ManifestSet) { self.manifests = manifests }

    var objects: [ManifestObject] { manifests.objects }
    var unreadableFiles: [ManifestFile] { manifests.files.filter { !$0.isReadable } }
    var invalid: Int { objects.filter { !$0.isValid }.count }
    var errors: Int { manifests.diagnostics.errors.count }
    var warnings: Int { manifests.diagnostics.warnings.count }

    func name(of object: ManifestObject) -> String {
        object.id?.description ?? "\(object.location) (unnamed document)"
    }

    func printText() {
        var stderr = StandardError()
        for file in manifests.files {
            for diagnostic in file.diagnostics { print(diagnostic, to: &stderr) }
        }
        for skipped in manifests.skipped { print(skipped) }
        for object in objects {
            let counts = [(object.diagnostics.errors.count, "error"), (object.diagnostics.warnings.count, "warning")]
                .filter { $0.0 > 0 }.map { counted($0.0, $0.1) }.joined(separator: ", ")
            let verdict = object.isValid ? "valid" : "invalid"
            print("\(name(of: object)) \(verdict)" + (counts.isEmpty ? "" : " (\(counts))"))
        }
        for file in unreadableFiles { print("\(file.path) unreadable") }
        var summary = "\(counted(objects.count, "resource")) in \(counted(manifests.files.count, "file")): \(objects.count - invalid) valid"
        if invalid > 0 { summary += ", \(invalid) invalid" }
        if !unreadableFiles.isEmpty { summary += ", \(counted(unreadableFiles.count, "file")) unreadable" }
        if !manifests.skipped.isEmpty { summary += ", \(counted(manifests.skipped.count, "other document")) skipped" }
        if errors + warnings > 0 { summary += " (\([counted(errors, "error"), counted(warnings, "warning")].joined(separator: ", ")))" }
        print(summary)
    }

    struct JSONReport: Encodable {
        struct Resource: Encodable {
            var kind: String?
            var namespace: String?
            var name: String?
            var file: String
            var line: Int?
            var valid: Bool
        }
        struct Problem: Encodable {
            var severity: String
            var file: String?
            var line: Int?
            var column: Int?
            var field: String
            var message: String
            var resource: String?
        }
        struct Skipped: Encodable {
            var subject: String
            var reason: String
            var file: String
            var line: Int?
        }
        var valid: Bool
        var resources: [Resource]
        var diagnostics: [Problem]
        var skipped: [Skipped]
    }

    func printJSON() throws {
        let report = JSONReport(
            valid: invalid == 0 && unreadableFiles.isEmpty,
            resources: objects.map { o in
                .init(kind: o.id?.kind.rawValue, namespace: o.id?.namespace, name: o.id?.name, file: o.sourceMap.file,
                      line: o.sourceMap.documentMark.line, valid: o.isValid)
            },
            diagnostics: manifests.diagnostics.map { d in
                .init(severity: d.severity.rawValue, file: d.location?.file, line: d.location?.mark?.line,
                      column: d.location?.mark?.column, field: d.path.rawValue, message: d.message, resource: d.resource?.key)
            },
            skipped: manifests.skipped.map { .init(subject: $0.subject, reason: $0.reason.rawValue, file: $0.location.file, line: $0.location.mark?.line) })
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        print(String(decoding: try encoder.encode(report), as: UTF8.self))
    }
}
