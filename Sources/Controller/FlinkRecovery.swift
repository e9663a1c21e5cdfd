import Engine
import FlinkResources
import Foundation
import Manifests
import Planning
import Store

/// The Flink side of `flinklet recover`: what can be rebuilt of a `FlinkDeployment` whose
/// record is gone (a lost or corrupt state database), from its manifest and from the snapshots
/// its clusters left on disk.
///
/// A deployment with a job gets a record as if it had been deployed from its manifest and its
/// JobManager had then been lost: `jobStatus.jobId` is the job of the newest checkpoint in its
/// checkpoint directory, `upgradeSavepointPath` the newest checkpoint or savepoint, and the
/// savepoint history lists every savepoint in its savepoint directory. The operator's next
/// reconcile then redeploys it from the newest snapshot (`RecoverDeployment`) instead of
/// starting it from empty state. A session job likewise, as a job lost with its session
/// cluster: its job is the last one it was submitted under (`<cluster dir>/job-ids`, written
/// before each submission), its checkpoints that job's in the session cluster's checkpoint
/// directory. Anything else (session clusters, snapshots) starts over from its manifest.
public enum FlinkRecovery {
    /// What was found on disk for one deployment.
    public struct Snapshots: Sendable, Hashable {
        /// The job id of the newest checkpoint, and that checkpoint (`file://` location).
        public var checkpointJobId: String?
        public var newestCheckpoint: (location: String, timestamp: Int64)?
        /// Every savepoint holding `_metadata`, oldest first.
        public var savepoints: [Savepoint]

        public static func == (a: Snapshots, b: Snapshots) -> Bool {
            a.checkpointJobId == b.checkpointJobId && a.newestCheckpoint?.location == b.newestCheckpoint?.location
                && a.newestCheckpoint?.timestamp == b.newestCheckpoint?.timestamp && a.savepoints == b.savepoints
        }

        public func hash(into hasher: inout Hasher) {
            hasher.combine(checkpointJobId)
            hasher.combine(newestCheckpoint?.location)
            hasher.combine(savepoints)
        }

        /// The newest of all: the restore point.
        public var newest: (location: String, timestamp: Int64)? {
            let savepoint = savepoints.last.map { (location: $0.location, timestamp: $0.timeStamp) }
            switch (newestCheckpoint, savepoint) {
            case (let c?, let s?): return c.timestamp >= s.timestamp ? c : s
            case (let c?, nil): return c
            case (nil, let s?): return s
            case (nil, nil): return nil
            }
        }
    }

    /// Reads a deployment's checkpoint directory (`<dir>/<jobId>/chk-N/_metadata`) and savepoint
    /// directory (`savepoint-*/_metadata`). Throws when a directory that exists cannot be read
    /// (an unreadable directory is not "no snapshots").
    public static func snapshots(checkpointDirectory: String, savepointDirectory: String, onlyJob: String? = nil) throws -> Snapshots {
        let files = FileManager.default
        var result = Snapshots(savepoints: [])
        for jobId in try entries(of: checkpointDirectory) where jobId.count == 32 && jobId.allSatisfy(\.isHexDigit)
            && (onlyJob == nil || jobId == onlyJob) {
            let jobDirectory = "\(checkpointDirectory)/\(jobId)"
            for name in try entries(of: jobDirectory) where name.hasPrefix("chk-") && Int(name.dropFirst(4)) != nil {
                guard let modified = (try? files.attributesOfItem(atPath: "\(jobDirectory)/\(name)/_metadata"))?[.modificationDate] as? Date
                else { continue }
                let millis = Int64(modified.timeIntervalSince1970 * 1000)
                if result.newestCheckpoint.map({ millis > $0.timestamp }) ?? true {
                    result.newestCheckpoint = ("file://\(jobDirectory)/\(name)", millis)
                    result.checkpointJobId = jobId
                }
            }
        }
        result.savepoints = try entries(of: savepointDirectory).filter { $0.hasPrefix("savepoint-") }.compactMap { name in
            guard let modified = (try? files.attributesOfItem(atPath: "\(savepointDirectory)/\(name)/_metadata"))?[.modificationDate] as? Date
            else { return nil }
            return Savepoint(timeStamp: Int64(modified.timeIntervalSince1970 * 1000), location: "file:\(savepointDirectory)/\(name)",
                             triggerType: .unknown, formatType: .canonical)
        }.sorted { $0.timeStamp < $1.timeStamp }
        return result
    }

    /// The clusters (`namespace/name`) under `<state dir>/clusters/` that left a checkpoint or
    /// savepoint (a `_metadata` file) on disk, sorted.
    /// Throws when a directory exists but cannot be listed: that is not "no snapshots".
    public static func clustersWithSnapshots(stateDirectory: String) throws -> [String] {
        let root = stateDirectory + "/clusters"
        var found: [String] = []
        for namespace in try entries(of: root) {
            for name in try entries(of: "\(root)/\(namespace)") {
                let cluster = "\(root)/\(namespace)/\(name)"
                let snapshots = try Self.snapshots(checkpointDirectory: cluster + "/checkpoints", savepointDirectory: cluster + "/savepoints")
                if snapshots.newest != nil { found.append("\(namespace)/\(name)") }
            }
        }
        return found
    }

    /// The names in a directory; none when it does not exist; throws when it cannot be read.
    static func entries(of directory: String) throws -> [String] {
        guard FileManager.default.fileExists(atPath: directory) else { return [] }
        return try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
    }

    /// `<cluster directory>/job-ids`: the job ids a session job was submitted under, oldest
    /// first, one per line (a session cluster's checkpoint directory holds every session job's).
    static func jobJournal(clusterDirectory: String) -> String { clusterDirectory + "/job-ids" }

    /// Appends `jobId` to the journal unless it is its last line already (a retried submission).
    static func recordJob(_ jobId: String, clusterDirectory: String) throws {
        let path = jobJournal(clusterDirectory: clusterDirectory)
        if let text = try? String(contentsOfFile: path, encoding: .utf8), text.split(separator: "\n").last.map(String.init) == jobId { return }
        try FileManager.default.createDirectory(atPath: clusterDirectory, withIntermediateDirectories: true)
        if !FileManager.default.fileExists(atPath: path) {
            guard FileManager.default.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o600]) else {
                throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: path])
            }
        }
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        defer { try? handle.close() }
        try handle.seekToEnd()
        try handle.write(contentsOf: Data("\(jobId)\n".utf8))
    }

    /// The last job id of the journal; nil without a journal. Throws when the journal exists but
    /// cannot be read (its job's snapshots would be passed over).
    static func lastJob(clusterDirectory: String) throws -> String? {
        let path = jobJournal(clusterDirectory: clusterDirectory)
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        return try String(contentsOfFile: path, encoding: .utf8)
            .split(separator: "\n").last.map(String.init).flatMap { $0.count == 32 && $0.allSatisfy(\.isHexDigit) ? $0 : nil }
    }

    /// The record to rebuild for `desired` (nil: nothing to rebuild beyond what a reconcile does
    /// for a new resource), with a line saying what it restores from. `objects` are the
    /// manifests' resources (a session job's checkpoints are in its session cluster's directory).
    public static func rebuild(_ desired: DesiredObject, stateDirectory: String, now: Date,
                               objects: [ResourceID: DesiredObject] = [:]) throws -> (record: ResourceRecord, summary: String)? {
        guard let resource = desired.resource, let specHash = desired.specHash else { return nil }
        let id = desired.id
        let clusterDirectory = "\(stateDirectory)/clusters/\(id.namespace)/\(id.name)"
        let found: Snapshots
        var journaled: String?
        switch resource {
        case .deployment(let deployment) where deployment.spec.job != nil && deployment.spec.effectiveMode != .session:
            found = try snapshots(
                checkpointDirectory: FlinkBackend.checkpointDirectory(of: resource, default: clusterDirectory + "/checkpoints"),
                savepointDirectory: clusterDirectory + "/savepoints")
        case .sessionJob(let sessionJob):
            // Its own job among the session cluster's: the last one it was submitted under.
            guard let jobId = try lastJob(clusterDirectory: clusterDirectory) else { return nil }
            journaled = jobId
            let clusterID = ResourceID(kind: .flinkDeployment, namespace: id.namespace, name: sessionJob.spec.deploymentName ?? "")
            let sessionDirectory = "\(stateDirectory)/clusters/\(clusterID.namespace)/\(clusterID.name)/checkpoints"
            let sessionCheckpoints = FlinkBackend.checkpointDirectory(of: objects[clusterID]?.resource, default: sessionDirectory)
            var all = try snapshots(checkpointDirectory: FlinkBackend.checkpointDirectory(of: resource, default: sessionCheckpoints),
                                    savepointDirectory: clusterDirectory + "/savepoints")
            let own = try snapshots(checkpointDirectory: FlinkBackend.checkpointDirectory(of: resource, default: sessionCheckpoints),
                                    savepointDirectory: clusterDirectory + "/savepoints", onlyJob: jobId)
            all.newestCheckpoint = own.newestCheckpoint
            all.checkpointJobId = own.checkpointJobId
            found = all
        default:
            return nil
        }
        guard let newest = found.newest else { return nil }
        var record = try ResourceRecord.firstSeen(id: id, resource: resource, specHash: specHash, file: desired.file, now: now)
        let nowMillis = Int64(now.timeIntervalSince1970 * 1000)
        // The job the newest checkpoint belongs to; with savepoints only, a job id of its own.
        let jobId = journaled ?? found.checkpointJobId ?? FlinkCluster.jobId(key: "\(id.key)#recovered", generation: 1)
        var info = SavepointInfo()
        if !found.savepoints.isEmpty {
            info.savepointHistory = found.savepoints
            info.lastSavepoint = found.savepoints.last
        }
        let jobStatus = JobStatus(jobName: id.name, jobId: jobId, state: "RUNNING", upgradeSavepointPath: newest.location,
                                  savepointInfo: found.savepoints.isEmpty ? nil : info)
        let reconciliation = ReconciliationStatus(reconciliationTimestamp: nowMillis, lastReconciledSpec: JobLifecycle.specJSONOf(resource),
                                                  state: .deployed)
        if case .sessionJob = resource {
            var status = FlinkSessionJobStatus(jobStatus: jobStatus)
            status.reconciliationStatus = reconciliation
            status.lifecycleState = .deployed
            try record.setStatus(status)
        } else {
            var status = FlinkDeploymentStatus(jobStatus: jobStatus)
            status.reconciliationStatus = reconciliation
            status.lifecycleState = .deployed
            status.jobManagerDeploymentStatus = .missing
            try record.setStatus(status)
        }
        record.lastReconciledSpec = reconciliation.lastReconciledSpec
        let summary = "restores from \(newest.location)" + (found.savepoints.isEmpty ? "" : "; \(found.savepoints.count) savepoint(s) in its history")
        return (record, summary)
    }
}
