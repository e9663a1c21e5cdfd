import ArgumentParser
import FlinkResources
import Foundation
import Planning
import Runtime
import Store

/// `flinklet diff -f FILE|DIR|-`: what applying the files would change, against what the
/// operator runs.
///
/// Contract: the live side of each resource is the spec the operator last reconciled (else the
/// spec it last read) from the Store, with the labels and annotations of its manifest; both
/// sides are rendered the same way (`ObjectRendering`), so only meaningful changes show. Above
/// each resource's unified diff, comments say what the operator will do, from the same
/// classification it uses (`SpecDiff`): `# upgrade (savepoint): spec.job.args`. Exit status:
/// 0 no differences, 1 differences, 2 or more an error (an invalid file, an unreadable Store,
/// a failing external diff program).
struct Diff: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show what applying manifests would change, as a unified diff per resource.",
        discussion: """
            Compares each resource in the files with the spec the operator runs (from the state \
            directory). With KUBECTL_EXTERNAL_DIFF set, that program is run on two directories \
            (LIVE and MERGED) instead, as kubectl does. Exit status: 0 no differences, \
            1 differences, 2 or more an error.
            """
    )

    @Option(name: [.customShort("f"), .customLong("filename")], parsing: .singleValue,
            help: ArgumentHelp("A manifest file, a directory of manifests, or - for standard input.", valueName: "path"))
    var filenames: [String] = []
    @Flag(name: [.customShort("R"), .customLong("recursive")], help: "Also read subdirectories of directories given with -f.")
    var recursive = false
    @OptionGroup var manifestOptions: ManifestOptions
    @OptionGroup var state: StateOptions

    func validate() throws {
        try validateFilenames(filenames)
    }

    /// One resource of the input with what runs now (nil: not running yet).
    struct Pair {
        var id: ResourceID
        var live: FlinkResource?
        var new: FlinkResource
    }

    func run() throws {
        var stderr = StandardError()
        do {
            let pairs = try self.pairs()
            if let external = ProcessInfo.processInfo.environment["KUBECTL_EXTERNAL_DIFF"], !external.trimmingCharacters(in: .whitespaces).isEmpty {
                let status = try Self.runExternal(external, pairs)
                if status != 0 { throw ExitCode(status) }
                return
            }
            var differs = false
            for pair in pairs {
                let old = try pair.live.map { try ObjectRendering.yaml($0) }
                let new = try ObjectRendering.yaml(pair.new)
                let hunks = LineDiff.unifiedHunks(old.map(LineDiff.lines) ?? [], LineDiff.lines(new))
                guard !hunks.isEmpty else { continue }
                differs = true
                let path = "\(pair.id.kind.singular)/\(pair.id.namespace)/\(pair.id.name)"
                let lines = Self.comments(live: pair.live, new: pair.new) + ["--- live/\(path)", "+++ file/\(path)"] + hunks
                print(lines.joined(separator: "\n"))
            }
            if differs { throw ExitCode.failure }
        } catch let exit as ExitCode {
            throw exit
        } catch {
            print("error: \(error)", to: &stderr)
            throw ExitCode(2)
        }
    }

    private func pairs() throws -> [Pair] {
        let input = InputManifests.load(paths: filenames, recursive: recursive)
        input.printDiagnostics()
        input.printSkipped(toStandardError: true)
        if input.isInvalid {
            var stderr = StandardError()
            print("error: the input has \(counted(input.manifests.diagnostics.errors.count, "error"))", to: &stderr)
            throw ExitCode(2)
        }
        let store = try openStore(state)
        let contents = manifestOptions.directory.read()
        return try input.manifests.objects.compactMap(\.resource).map { resource in
            let record = try store?.resource(resource.id.key)
            let metadata = contents.definition(of: resource.id)?.object.resource?.metadata
            return Pair(id: resource.id, live: try record.map { try ObjectRendering.live($0, metadata: metadata) }, new: resource)
        }
    }

    /// `# create`, or one comment per kind of change, largest first:
    /// `# upgrade (savepoint): spec.job.args, spec.job.parallelism`.
    static func comments(live: FlinkResource?, new: FlinkResource) -> [String] {
        guard let live else { return ["# create"] }
        if case .snapshot = new {
            // A snapshot's spec is read when it is triggered (upstream's too): a change later
            // takes no new snapshot; a new one is a new resource.
            let paths = SpecDiff(old: live, new: new).changes.map(\.path).sorted()
            return paths.isEmpty ? [] : ["# ignore (a snapshot is taken once; create a new FlinkStateSnapshot for another): " + paths.joined(separator: ", ")]
        }
        var changes = SpecDiff(old: live, new: new).changes.map { (path: $0.path, type: $0.type) }
        let (a, b) = (live.metadata, new.metadata)
        // Metadata changes nothing the job runs with.
        if (a.labels ?? [:]) != (b.labels ?? [:]) { changes.append((path: "metadata.labels", type: .ignore)) }
        if (a.annotations ?? [:]) != (b.annotations ?? [:]) { changes.append((path: "metadata.annotations", type: .ignore)) }
        let job: JobSpec? = switch new {
        case .deployment(let d): d.spec.job
        case .sessionJob(let j): j.spec.job
        case .snapshot: nil
        }
        return [DiffType.savepointRedeploy, .upgrade, .scale, .ignore].compactMap { type in
            let paths = changes.filter { $0.type == type }.map(\.path).sorted()
            guard !paths.isEmpty else { return nil }
            let label = type == .upgrade ? "upgrade" + (job.map { " (\($0.effectiveUpgradeMode.rawValue))" } ?? "") : type.description
            return "# \(label): \(paths.joined(separator: ", "))"
        }
    }

    /// Writes both sides into `LIVE` and `MERGED` directories (one file per resource, named as
    /// kubectl names them; no LIVE file for a new resource) and runs the program on them.
    /// Returns its exit status: 0 same, 1 different, anything else an error (a signal is 2).
    ///
    /// `command` is split on whitespace into a program (looked up on `PATH` unless it holds a
    /// slash) and its first arguments, the directories follow; no shell is involved, so quotes
    /// and `$` in it are plain characters. The program inherits this process's standard streams,
    /// environment and process group (an interactive diff program can use the terminal).
    static func runExternal(_ command: String, _ pairs: [Pair]) throws -> Int32 {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("flinklet-diff-\(UUID().uuidString)")
        let live = base.appendingPathComponent("LIVE"), merged = base.appendingPathComponent("MERGED")
        try FileManager.default.createDirectory(at: live, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: merged, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: base) }
        for pair in pairs {
            let name = "\(FlinkAPI.group).\(FlinkAPI.version).\(pair.id.kind.rawValue).\(pair.id.namespace).\(pair.id.name)"
            if let old = pair.live { try ObjectRendering.yaml(old).write(to: live.appendingPathComponent(name), atomically: false, encoding: .utf8) }
            try ObjectRendering.yaml(pair.new).write(to: merged.appendingPathComponent(name), atomically: false, encoding: .utf8)
        }
        let words = command.split(whereSeparator: \.isWhitespace).map(String.init)
        // Our buffered output first, so the program's follows it.
        fflush(nil)
        let program = try ChildProcess.spawn(words + [live.path, merged.path])
        switch program.wait() {
        case .exited(let status): return status
        case .signaled: return 2
        }
    }
}
