import ArgumentParser
import FlinkResources
import Foundation
import Manifests

/// `flinklet apply -f FILE|DIR|-`: writes resources into the manifest directory, one file per
/// resource, as kubectl applies them to a cluster.
///
/// Contract:
/// - Everything is checked before anything is written: an invalid or unreadable input, a
///   resource that cannot be written without rewriting a file shared with other resources, or
///   a prune that would remove every selected resource writes nothing and exits 1.
/// - A resource is `unchanged` when the manifest directory already defines it with the same
///   metadata (name, namespace, labels, annotations) and spec — compared as resources, not as
///   text, so reformatting rewrites nothing and restarts nothing.
/// - Otherwise its document is written as given (comments kept) atomically: over the file that
///   defines it when that file defines nothing else (`configured`), or into
///   `<namespace>.<kind>.<name>.yaml` when no file defines it (`created`).
struct Apply: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write resources into the manifest directory: created, configured or unchanged.",
        discussion: """
            Each resource is written atomically into the manifest directory as a file of its own \
            (<namespace>.<kind>.<name>.yaml), or over the file that already defines it when that \
            file defines nothing else. Nothing is written when anything is invalid.
            """
    )

    enum DryRun: String, ExpressibleByArgument, CaseIterable { case none, client }

    @Option(name: [.customShort("f"), .customLong("filename")], parsing: .singleValue,
            help: ArgumentHelp("A manifest file, a directory of manifests, or - for standard input.", valueName: "path"))
    var filenames: [String] = []
    @Flag(name: [.customShort("R"), .customLong("recursive")], help: "Also read subdirectories of directories given with -f.")
    var recursive = false
    @OptionGroup var manifestOptions: ManifestOptions
    @Option(name: .customLong("dry-run"), help: "client: print what would be done and write nothing.")
    var dryRun: DryRun = .none
    @Flag(help: "Remove the files of resources matching -l that are not in the applied set.")
    var prune = false
    @Option(name: [.customShort("l"), .customLong("selector")], help: ArgumentHelp("Apply (and prune) only resources with these labels, e.g. app=web,tier!=batch.", valueName: "selector"))
    var selector: String?
    @Flag(name: .customLong("prune-allow-empty"), help: "Allow --prune to remove every selected resource when none is applied.")
    var pruneAllowEmpty = false

    func validate() throws {
        try validateFilenames(filenames)
        if prune, selector == nil { throw ValidationError("--prune requires a label selector: -l/--selector") }
        if let selector {
            do { _ = try LabelSelector(selector) } catch { throw ValidationError(error.description) }
        }
    }

    func run() throws {
        let input = InputManifests.load(paths: filenames, recursive: recursive)
        var stderr = StandardError()
        if input.isInvalid {
            input.printDiagnostics()
            let errors = input.manifests.diagnostics.errors.count
            print("error: nothing applied: the input has \(counted(errors, "error"))", to: &stderr)
            throw ExitCode.failure
        }
        input.printDiagnostics()  // warnings
        input.printSkipped()
        let selector = try selector.map { text throws(ValidationError) in
            do throws(LabelSelector.ParseError) { return try LabelSelector(text) } catch { throw ValidationError(error.description) }
        }
        let entries = input.entries.filter { selector?.matches($0.object.resource?.metadata.labels) ?? true }
        let directory = manifestOptions.directory
        let contents = directory.read()

        var plan: [(id: ResourceID, verb: String, action: FileAction?)] = []
        var problems: [String] = []
        for entry in entries {
            guard let resource = entry.object.resource else { continue }
            let id = resource.id
            let definitions = contents.definitions(of: id)
            if definitions.count > 1 {
                problems.append("\(id) is defined more than once in \(directory.path) (\(definitions.map(\.place).joined(separator: ", "))); keep one definition")
                continue
            }
            let text = input.text(of: entry.file, object: entry.index) ?? (try? ObjectRendering.yaml(resource)) ?? ""
            if let definition = definitions.first {
                if let existing = definition.object.resource, ObjectRendering.semanticallyEqual(existing, resource) {
                    plan.append((id, "unchanged", nil))
                } else if definition.isAlone {
                    plan.append((id, "configured", .write(definition.file, text)))
                } else {
                    problems.append("\(id) is defined in \(definition.place) together with \(counted(definition.neighbours, "other object")); "
                                    + "apply cannot rewrite that file without losing its comments: edit it, or move the object into a file of its own")
                }
            } else {
                let path = directory.newFile(for: id)
                if FileManager.default.fileExists(atPath: path) {
                    problems.append("cannot write \(id) to \(path): the file exists and does not define it")
                } else {
                    plan.append((id, "created", .write(path, text)))
                }
            }
        }

        if prune, let selector {
            let applied = Set(entries.compactMap { $0.object.resource?.id })
            let pruned = try prunePlan(contents: contents, selector: selector, keep: applied, problems: &problems)
            if entries.isEmpty, !pruned.isEmpty, !pruneAllowEmpty {
                problems.append("refusing to prune every resource with labels \"\(selector)\" (\(pruned.count)): no applied resource has them; pass --prune-allow-empty to allow it")
            }
            plan += pruned
        } else if entries.isEmpty {
            problems.append("no objects passed to apply")
        }

        guard problems.isEmpty else {
            for problem in problems { print("error: \(problem)", to: &stderr) }
            throw ExitCode.failure
        }

        let suffix = dryRun == .client ? " (dry run)" : ""
        if dryRun == .none, plan.contains(where: { $0.action != nil }), !directory.exists {
            try FileManager.default.createDirectory(atPath: directory.path, withIntermediateDirectories: true)
        }
        for step in plan {
            if dryRun == .none, let action = step.action {
                do {
                    try action.perform()
                } catch {
                    print("error: \(error)", to: &stderr)
                    throw ExitCode.failure
                }
            }
            print("\(step.id) \(step.verb)\(suffix)")
        }
    }

    /// The files to remove for `--prune`: those of resources matching `selector` that are not
    /// applied. A file that also defines a resource that stays is refused (added to `problems`).
    private func prunePlan(contents: ManifestDirectory.Contents, selector: LabelSelector, keep: Set<ResourceID>,
                           problems: inout [String]) throws -> [(id: ResourceID, verb: String, action: FileAction?)] {
        var result: [(id: ResourceID, verb: String, action: FileAction?)] = []
        for file in contents.manifests.files {
            let doomed = file.objects.compactMap(\.resource).filter { selector.matches($0.metadata.labels) && !keep.contains($0.id) }
            guard !doomed.isEmpty else { continue }
            let staying = file.objects.filter { object in !doomed.contains { $0.id == object.id } }
            if staying.isEmpty, file.skipped.isEmpty {
                for (i, resource) in doomed.enumerated() {
                    result.append((resource.id, "pruned", i == 0 ? .remove(file.path) : nil))
                }
            } else {
                for resource in doomed {
                    let line = file.objects.first { $0.id == resource.id }?.sourceMap.location(of: "metadata.name").mark?.line ?? 1
                    problems.append("cannot prune \(resource.id): \(file.path):\(line) also defines \(counted(staying.count + file.skipped.count, "object")) not being pruned; edit that file")
                }
            }
        }
        return result
    }
}

/// A change to one file of the manifest directory.
enum FileAction {
    case write(String, String)
    case remove(String)

    func perform() throws {
        switch self {
        case .write(let path, let text): try AtomicFile.write(Array(text.utf8), to: path)
        case .remove(let path): try AtomicFile.remove(path)
        }
    }
}

/// `-f` is required, `-` at most once, and every named path exists (usage errors otherwise).
func validateFilenames(_ filenames: [String]) throws {
    guard !filenames.isEmpty else { throw ValidationError("must specify one of -f or --filename") }
    if filenames.filter({ $0 == "-" }).count > 1 {
        throw ValidationError("standard input (-) can be given to -f only once")
    }
    for path in filenames where path != "-" && !FileManager.default.fileExists(atPath: path) {
        throw ValidationError("the path \"\(path)\" does not exist")
    }
}
