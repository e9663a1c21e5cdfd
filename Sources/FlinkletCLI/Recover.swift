import ArgumentParser
import Controller
import Engine
import FlinkResources
import Foundation
import Logging
import Manifests
import Runtime
import Store

/// `flinklet recover`: makes a state directory whose database is lost, corrupt or incomplete
/// safe to run again, so no cluster is ever started next to a live one it forgot.
struct Recover: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Re-adopt or stop the pods a lost or corrupt state database forgot, and rebuild what can be rebuilt.",
        discussion: """
            Every process Flinklet starts carries its state directory in its environment \
            (FLINKLET_STATE_DIR), so `flinklet run` finds the live processes of a state \
            directory even when state.db is gone, and refuses to start while its database does \
            not know them. `flinklet recover` (with no operator running) makes it safe again:

              1. A corrupt state.db (with its -wal and -shm files) is moved aside to \
            state.db.corrupt-<time>, and an empty database is created.
              2. Each unknown pod whose resource is still on record and still in the manifests is \
            re-adopted: its record is rebuilt from the spec file it was started with \
            (<state-dir>/pod-specs/) and the process it runs.
              3. Every other unknown pod is stopped (SIGTERM to its process group, SIGKILL after \
            --grace seconds), except one whose manifest is not valid now: it is left running and \
            recover exits 1 (fix the manifest and run recover again).
              4. Each FlinkDeployment of the manifests that has no record is rebuilt from its \
            manifest and from the snapshots on disk: the job of its newest checkpoint, its newest \
            checkpoint or savepoint as the restore point, and every savepoint in its history. The \
            next `flinklet run` redeploys it from there (a RecoverDeployment event), not from \
            empty state.

            A FlinkSessionJob without a record is rebuilt the same way, from the job it was last \
            submitted under (<state-dir>/clusters/<namespace>/<name>/job-ids) and that job's \
            checkpoints in its session cluster's checkpoint directory. Session clusters without a \
            record start over from their manifests.
            """
    )

    @Option(help: ArgumentHelp("The manifest directory the operator runs on.", valueName: "dir"))
    var manifests: String

    @OptionGroup var state: StateOptions

    @Flag(name: [.customShort("R"), .customLong("recursive")], help: "Also read subdirectories of the manifest directory.")
    var recursive = false

    @Option(help: ArgumentHelp("Seconds a stopped pod gets between SIGTERM and SIGKILL.", valueName: "seconds"))
    var grace: Double = 30

    /// The engine the operator runs (`command`: every unknown pod whose resource is in the
    /// manifests is re-adopted, having no state to lose).
    @Option(name: .customLong("engine"), help: .hidden)
    var engine: Run.Engine = .flink

    func validate() throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: manifests, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw ValidationError("the manifest directory \"\(manifests)\" does not exist")
        }
        guard grace >= 0 else { throw ValidationError("--grace must not be negative") }
    }

    func run() async throws {
        var stderr = StandardError()
        let stateDirectory = URL(fileURLWithPath: state.stateDirectory).standardizedFileURL.path
        let lock: OperatorLock
        do {
            lock = try StateDirectory(path: stateDirectory).lockForOperator()
        } catch {
            print("error: \(error); stop it before recovering", to: &stderr)
            throw ExitCode.failure
        }
        defer { lock.release() }

        // 1. The database: a corrupt one is moved aside, never repaired in place.
        let store: Store
        do {
            store = try Store.open(stateDirectory: stateDirectory)
        } catch StoreError.corrupt(let path, let message) {
            let aside = try Self.moveAside(databasePath: path)
            print("state database \(path) is corrupt (\(message)): moved to \(aside)", to: &stderr)
            store = try Store.open(stateDirectory: stateDirectory)
        } catch let error as StoreError {
            print("error: \(error)", to: &stderr)
            throw ExitCode.failure
        }

        // 2. The manifests: the resources that should run.
        var sourceConfiguration = DirectorySource.Configuration(directory: manifests)
        sourceConfiguration.recursive = recursive
        sourceConfiguration.watch = false
        let source = DirectorySource(configuration: sourceConfiguration, logger: Logger(label: "flinklet.recover") { _ in SwiftLogNoOpLogHandler() })
        _ = await source.relist()
        guard await source.hasListed else {
            print("error: the manifest directory \(manifests) cannot be listed; nothing was changed", to: &stderr)
            throw ExitCode.failure
        }
        let objects = await source.objects

        // 3. The processes the database does not know: adopt or stop.
        let marker = PodMarker(stateDirectory: stateDirectory)
        // A pod whose record cannot be decoded counts as unknown: re-adopted from its spec file
        // (its record replaced), or stopped.
        let orphans = ProcessRecovery.orphans(marker: marker, recorded: try store.pods().filter(PodRecords.isDecodable))
        var adopted = 0
        var left = 0
        var stopping: [(orphan: ProcessRecovery.Orphan, why: String, keepRecord: Bool)] = []
        for orphan in orphans {
            let ownerID = orphan.owner.flatMap(ResourceID.init(key:))
            let object = ownerID.flatMap { objects[$0] }
            let defined = object?.resource != nil
            let onRecord = try orphan.owner.map { try store.resource($0) != nil } ?? false
            // Named by a manifest that is not valid now: the resource keeps its last good spec
            // when that is on record; when it is not, nothing can be rebuilt yet, and stopping
            // the pod would lose its job's place: it is left running until the manifest is fixed.
            let invalid = object != nil && !(object?.isCurrent ?? false)
            if let record = orphan.record, let owner = orphan.owner, object != nil, onRecord || engine == .command && defined {
                try store.savePod(try PodRecords.row(for: record, owner: owner))
                print("adopted pod \(orphan.pod) (pid \(record.pid)) of \(owner)")
                adopted += 1
                continue
            }
            if let object, invalid, !onRecord {
                let problem = object.diagnostics.first { $0.isError }.map { "\($0)" } ?? "it is not valid"
                print("left pod \(orphan.pod) (pid \(orphan.processes.map { String($0.pid) }.joined(separator: ", "))) running: "
                      + "its manifest \(object.file) is not valid (\(problem)); fix it and run `flinklet recover` again")
                left += 1
                continue
            }
            let why = orphan.record == nil ? "its spec cannot be read"
                : !defined ? "its resource \(orphan.owner ?? "?") is not in the manifests"
                : "its resource's state is lost; it restarts from its snapshots"
            stopping.append((orphan, why, orphan.record != nil && defined))
        }
        let stuck = Set(await ProcessRecovery.stop(stopping.map(\.orphan), grace: .milliseconds(Int64(grace * 1000))).map(\.pgid))
        for (orphan, why, keepRecord) in stopping {
            let pids = orphan.processes.map { String($0.pid) }.joined(separator: ", ")
            print("stopped pod \(orphan.pod) (pid \(pids)): \(why)" + (stuck.contains(orphan.pgid) ? "; some of its processes did not exit" : ""))
            if keepRecord, let record = orphan.record, let owner = orphan.owner {
                // On record as a pod that is gone: the next operator sees it lost (a Flink
                // JobManager's job is then redeployed from its newest snapshot).
                try store.savePod(try PodRecords.row(for: record, owner: owner))
            }
        }
        let stopped = stopping.count

        // 4. The resources: rebuilt from the manifests and the snapshots on disk.
        var rebuilt = 0
        if engine == .flink {
            for id in objects.keys.sorted(by: { $0.key < $1.key }) where try store.resource(id.key) == nil {
                guard let desired = objects[id], let (record, summary) = try FlinkRecovery.rebuild(desired, stateDirectory: stateDirectory, now: Date(), objects: objects)
                else { continue }
                _ = try store.upsert(record)
                print("rebuilt \(id.kind.rawValue.lowercased())/\(id.name) (namespace \(id.namespace)): \(summary)")
                rebuilt += 1
            }
        }
        if left > 0 {
            print("recovered \(stateDirectory) in part: \(counted(adopted, "pod")) adopted, \(counted(stopped, "pod")) stopped, "
                  + "\(counted(left, "pod")) left running, \(counted(rebuilt, "resource")) rebuilt; `flinklet run` refuses to start until none is left")
            throw ExitCode.failure
        }
        print("recovered \(stateDirectory): \(counted(adopted, "pod")) adopted, \(counted(stopped, "pod")) stopped, "
              + "\(counted(rebuilt, "resource")) rebuilt; start the operator with `flinklet run`")
    }

    /// Moves `state.db` and its `-wal` and `-shm` files to `state.db.corrupt-<UTC time>*`;
    /// returns the new path of the database.
    static func moveAside(databasePath path: String) throws -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyyMMdd'T'HHmmss'Z'"
        let aside = "\(path).corrupt-\(formatter.string(from: Date()))"
        for suffix in ["-wal", "-shm", ""] where FileManager.default.fileExists(atPath: path + suffix) {
            try FileManager.default.moveItem(atPath: path + suffix, toPath: aside + suffix)
        }
        return aside
    }
}
