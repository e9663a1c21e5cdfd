import ArgumentParser
import FlinkResources
import Foundation
import Manifests

/// `flinklet delete KIND NAME | -f FILE`: removes resources from the manifest directory, then
/// waits until the operator has torn them down.
///
/// Contract:
/// - Everything is checked before any file changes: a resource that no manifest defines (and
///   the Store does not know) is `NotFound` (exit 1) unless `--ignore-not-found`; a resource
///   whose file defines other resources too is refused, naming the file and line, unless
///   `--force-rewrite`, which rewrites that file without the resource's document (its comments
///   go with it; every other document stays byte for byte).
/// - A file left defining nothing is removed; writes and removals are atomic (`AtomicFile`).
/// - With `--wait=true` (the default) it returns once the Store no longer has the resources,
///   or exits 1 after `--timeout`.
struct Delete: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Remove resources from the manifest directory and wait until they are torn down.",
        discussion: """
            Removes the manifest file of each resource. A file that also defines other \
            resources is left alone (the command fails and names it) unless --force-rewrite is \
            given. Then waits, by default, until the operator has stopped the resource's pods \
            and forgotten it.
            """
    )

    @Argument(help: "KIND NAME..., or KIND/NAME...")
    var resources: [String] = []
    @Option(name: [.customShort("f"), .customLong("filename")], parsing: .singleValue,
            help: ArgumentHelp("Delete the resources this file (or directory, or - for standard input) defines.", valueName: "path"))
    var filenames: [String] = []
    @Flag(name: [.customShort("R"), .customLong("recursive")], help: "Also read subdirectories of directories given with -f.")
    var recursive = false
    @Option(help: "Wait until the operator has torn the resources down (true or false).")
    var wait = true
    @Option(help: ArgumentHelp("How long --wait waits: 30s, 5m, 1h.", valueName: "duration"))
    var timeout = "5m"
    @Flag(name: .customLong("ignore-not-found"), help: "Succeed when a resource does not exist.")
    var ignoreNotFound = false
    @Flag(name: .customLong("force-rewrite"), help: "Rewrite a manifest file shared with other resources without the deleted one's document.")
    var forceRewrite = false
    @Option(name: [.customShort("n"), .customLong("namespace")], help: "The namespace (default: default).")
    var namespace: String = ObjectMeta.defaultNamespace
    @OptionGroup var manifestOptions: ManifestOptions
    @OptionGroup var state: StateOptions

    func validate() throws {
        if resources.isEmpty == filenames.isEmpty {
            throw ValidationError(resources.isEmpty ? "resource(s) must be specified: KIND NAME, KIND/NAME or -f FILE"
                                                    : "give either KIND NAME or -f FILE, not both")
        }
        if !filenames.isEmpty { try validateFilenames(filenames) } else { _ = try resourceIDs(resources, namespace: namespace) }
        guard parseDuration(timeout) != nil else { throw ValidationError("invalid --timeout \"\(timeout)\": use a duration such as 30s, 5m or 1h") }
    }

    func run() throws {
        var stderr = StandardError()
        let ids = try targets()
        let directory = manifestOptions.directory
        let contents = directory.read()
        let store = try openStore(state)

        // Which objects of which files go, and what is refused.
        var doomed: [String: Set<Int>] = [:]
        var found: [ResourceID] = []
        var problems: [String] = []
        for id in ids {
            let definitions = contents.definitions(of: id)
            if definitions.isEmpty {
                // Already out of the manifests but not yet torn down: nothing to remove, still waitable.
                if try store?.resource(id.key) != nil {
                    found.append(id)
                } else if !ignoreNotFound {
                    problems.append("Error from server (NotFound): \(id.kind.plural).\(FlinkAPI.group) \"\(id.name)\" not found")
                }
                continue
            }
            found.append(id)
            for definition in definitions {
                guard let file = contents.file(definition.file) else { continue }
                for object in file.objects where object.id == id { doomed[definition.file, default: []].insert(object.index) }
            }
        }
        var actions: [FileAction] = []
        for (path, indexes) in doomed.sorted(by: { $0.key < $1.key }) {
            guard let file = contents.file(path) else { continue }
            if indexes.count == file.objects.count, file.skipped.isEmpty {
                actions.append(.remove(path))
                continue
            }
            let staying = file.objects.count - indexes.count + file.skipped.count
            guard forceRewrite else {
                for object in file.objects where indexes.contains(object.index) {
                    let line = object.sourceMap.location(of: "metadata.name").mark?.line ?? object.sourceMap.documentMark.line
                    let name = object.id.map(\.description) ?? "the object"
                    problems.append("error: \(name) is defined in \(path):\(line) together with \(counted(staying, "other object")); edit that file, or pass --force-rewrite")
                }
                continue
            }
            guard let bytes = FileManager.default.contents(atPath: path).map(Array.init),
                  let rewritten = (try? DocumentText(bytes: bytes))?.removing(objects: indexes) else {
                problems.append("error: cannot rewrite \(path) without the deleted resources: they are items of a List that also holds others; edit that file")
                continue
            }
            actions.append(.write(path, rewritten))
        }
        guard problems.isEmpty else {
            for problem in problems { print(problem, to: &stderr) }
            throw ExitCode.failure
        }

        let notes = RemovalNotes.directory(stateDirectory: state.stateDirectory)
        for action in actions {
            // Told to the operator first: removing the last manifest on purpose is no vanished directory.
            if case .remove(let path) = action { RemovalNotes.write(removing: path, notes: notes) }
            do {
                try action.perform()
            } catch {
                print("error: \(error)", to: &stderr)
                throw ExitCode.failure
            }
        }
        for id in found { print("\(id.kind.qualifiedName) \"\(id.name)\" deleted") }
        fflush(nil)

        guard wait else { return }
        let deadline = Date().addingTimeInterval(parseDuration(timeout) ?? 300)
        let observer = WaitObserver(state: state, manifests: directory)
        for id in found {
            guard try waitUntil(.delete, for: id, observer: observer, deadline: deadline) else {
                print("error: \(timedOutMessage(id))", to: &stderr)
                throw ExitCode.failure
            }
        }
    }

    /// The resources named on the command line, or defined by the `-f` files.
    private func targets() throws -> [ResourceID] {
        if filenames.isEmpty { return try resourceIDs(resources, namespace: namespace) }
        let input = InputManifests.load(paths: filenames, recursive: recursive)
        let unusable = input.manifests.files.filter { !$0.isReadable } + input.manifests.files.filter { $0.objects.contains { $0.id == nil } }
        if !unusable.isEmpty {
            var stderr = StandardError()
            for file in unusable { for diagnostic in file.diagnostics where diagnostic.isError { print(diagnostic, to: &stderr) } }
            print("error: cannot tell which resources to delete: \(counted(unusable.count, "file")) cannot be read or name an object", to: &stderr)
            throw ExitCode.failure
        }
        var seen: Set<ResourceID> = []
        return input.manifests.objects.compactMap(\.id).filter { seen.insert($0).inserted }
    }
}
