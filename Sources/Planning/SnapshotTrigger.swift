import FlinkResources
import Reconciliation
import Foundation

/// A savepoint Flinklet asked Flink for, recorded in `jobStatus.savepointInfo` (`triggerId`,
/// `triggerType`, `triggerTimestamp`, upstream's fields) before the request is sent.
///
/// The trigger id is Flinklet's own (Flink accepts a caller's `triggerId` and treats a repeated
/// request with it as the same operation), so an operator that dies between the record and the
/// request, or between the request and the answer, finds the operation again: it asks Flink for
/// the trigger, or looks for the savepoint in the target directory when the JobManager is gone.
///
/// `UPGRADE` triggers are stop-with-savepoint (upgrade, suspend, deletion); `MANUAL` and
/// `PERIODIC` ones are savepoints of a job that keeps running.
public struct SnapshotTrigger: Sendable, Hashable {
    /// 32 hex digits: Flink's `TriggerId`.
    public var id: String
    public var type: SnapshotTriggerType
    /// When it was recorded, in milliseconds since the epoch.
    public var timestamp: Int64

    public init(id: String, type: SnapshotTriggerType, timestamp: Int64) {
        self.id = id
        self.type = type
        self.timestamp = timestamp
    }

    /// The pending trigger `info` records, if any. A `triggerId` that is not 32 hex digits
    /// (e.g. `manual:<nonce>`, the mark of a manual attempt that ended) is not pending.
    public init?(_ info: SavepointInfo?) {
        guard let info, let id = info.triggerId, Self.isTriggerId(id), let timestamp = info.triggerTimestamp else { return nil }
        self.init(id: id, type: info.triggerType ?? .unknown, timestamp: timestamp)
    }

    /// A new trigger for `jobId`: its id is derived from the job, the type, the time and `salt`
    /// (a manual savepoint's nonce), so the same decision made twice (a retried reconcile) names
    /// the same operation and different decisions never do.
    public static func make(jobId: String, type: SnapshotTriggerType, now: Int64, salt: String = "") -> SnapshotTrigger {
        let seed = "\(jobId)#\(type.rawValue)#\(now)#\(salt)"
        let id = StableHash.of(bytes: Array("\(seed)#high".utf8)) + StableHash.of(bytes: Array("\(seed)#low".utf8))
        return SnapshotTrigger(id: String(id.prefix(32)), type: type, timestamp: now)
    }

    public static func isTriggerId(_ text: String) -> Bool {
        text.utf8.count == 32 && text.utf8.allSatisfy { (48...57).contains($0) || (97...102).contains($0) }
    }

    /// Stop-with-savepoint (the job ends) rather than a savepoint of a job that keeps running.
    public var stopsJob: Bool { type == .upgrade }

    /// `info` with this trigger recorded as pending.
    public func recorded(in info: SavepointInfo?) -> SavepointInfo {
        var info = info ?? SavepointInfo()
        info.triggerId = id
        info.triggerType = type
        info.triggerTimestamp = timestamp
        return info
    }
}

/// What became of a recorded `SnapshotTrigger`, as observed now.
public enum SnapshotOperationState: Sendable, Hashable {
    case inProgress
    /// The savepoint exists at `location` (Flink said so, or its `_metadata` is in the target
    /// directory).
    case completed(location: String)
    /// Flink reports the operation failed (the job keeps running, as after a failed stop).
    case failed(cause: String)
    /// The JobManager answers but does not know the trigger: the request never reached it.
    case notFound
    /// Neither Flink (unreachable) nor the target directory can tell.
    case unknown(String)
}

extension SavepointInfo {
    /// The pending trigger ended: it is no longer recorded as pending; its type and time stay
    /// (they say when the last attempt was made, which paces retries).
    public mutating func endTrigger(mark: String? = nil) {
        triggerId = mark
    }

    /// When the last trigger was recorded, if it ended without a savepoint (failed, refused,
    /// given up): what paces the next attempt.
    public var failedAttemptTimestamp: Int64? {
        guard let last = triggerTimestamp, SnapshotTrigger(self) == nil else { return nil }
        if let saved = lastSavepoint?.timeStamp, saved >= last { return nil }
        return last
    }

    /// A completed savepoint joins the history and becomes `lastSavepoint`.
    public mutating func append(_ savepoint: Savepoint) {
        lastSavepoint = savepoint
        savepointHistory = (savepointHistory ?? []) + [savepoint]
    }
}
