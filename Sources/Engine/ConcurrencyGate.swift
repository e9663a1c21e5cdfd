import Foundation

/// Bounds how many of one kind of heavy work run at once (an `AdmissionGate`'s slots): on a
/// small machine a burst of manifests must queue rather than start all its work at once.
/// Holders are resource keys.
public actor ConcurrencyGate {
    public let limit: Int
    private var holders: Set<String> = []

    public init(limit: Int) { self.limit = max(1, limit) }

    /// Takes a slot for `holder` (true), or says none is free (false). Idempotent per holder.
    public func tryAcquire(_ holder: String) -> Bool {
        if holders.contains(holder) { return true }
        guard holders.count < limit else { return false }
        holders.insert(holder)
        return true
    }

    /// Counts a holder found running (e.g. adopted after a restart) even beyond the limit.
    public func hold(_ holder: String) { holders.insert(holder) }

    public func release(_ holder: String) { holders.remove(holder) }

    public func isFree(for holder: String) -> Bool { holders.contains(holder) || holders.count < limit }

    public func holds(_ holder: String) -> Bool { holders.contains(holder) }

    public var inUse: Int { holders.count }
}

