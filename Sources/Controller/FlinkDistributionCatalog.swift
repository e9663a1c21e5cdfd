import Foundation
import Planning
import Synchronization

/// The installed Flink distributions, looked for again on every `current()`: a readdir of
/// `.flink/` and a stat of each candidate's `lib/`, so a version installed while the operator
/// runs (`hack/install-flink.sh 1.20`) is used from the next reconcile on, without a restart.
///
/// Contract:
/// - With `explicit` (`--flink-home`), that directory is the only distribution; otherwise
///   `FlinkHome.candidates` in order, the first of each version winning.
/// - A distribution is read (`FlinkHome.inspect`, then `prepare`) once per change of its
///   `lib/` directory.
/// - `inUse` carries each distribution once, the first time a resource runs from it
///   (`markInUse`): the class-data archive service makes its archives then, so versions
///   installed but unused cost nothing.
/// - Never fails: what could not be read is in `FlinkDistributions.problem`.
public final class FlinkDistributionCatalog: Sendable {
    public let explicit: String?
    let environment: [String: String]
    let root: String
    let prepare: @Sendable (FlinkDistribution) -> FlinkDistribution
    /// Each distribution a resource first runs from (`markInUse`), once.
    public let inUse: AsyncStream<FlinkDistribution>
    private let announce: AsyncStream<FlinkDistribution>.Continuation
    private let announced = Mutex<Set<FlinkDistribution>>([])

    private struct Entry: Sendable {
        var stamp: String
        var result: Result<FlinkDistribution, FlinkHomeError>
    }
    private let cache = Mutex<[String: Entry]>([:])

    public init(explicit: String?, environment: [String: String] = ProcessInfo.processInfo.environment,
                workingDirectory: String = FileManager.default.currentDirectoryPath,
                prepare: @escaping @Sendable (FlinkDistribution) -> FlinkDistribution = { $0 }) {
        self.explicit = explicit
        self.environment = environment
        self.root = URL(fileURLWithPath: workingDirectory).appendingPathComponent(".flink").standardizedFileURL.path
        self.prepare = prepare
        (inUse, announce) = AsyncStream.makeStream(of: FlinkDistribution.self, bufferingPolicy: .unbounded)
    }

    deinit { announce.finish() }

    /// What is installed now.
    public func current() -> FlinkDistributions {
        let candidates = explicit.map { [$0] } ?? FlinkHome.candidates(environment: environment, root: root)
        var found: [FlinkDistribution] = []
        var problems: [String] = []
        for candidate in candidates {
            switch read(candidate) {
            case .success(let distribution): found.append(distribution)
            case .failure(let error): problems.append(error.message)
            }
        }
        var problem: String? = problems.isEmpty ? nil : problems.joined(separator: "; ")
        if found.isEmpty && problem == nil {
            problem = "no Flink distribution found in $FLINK_HOME or \(root)/flink-*"
        }
        return FlinkDistributions(found, problem: problem, explicitHome: explicit)
    }

    /// `home`'s distribution, read again only when its `lib/` changed.
    private func read(_ home: String) -> Result<FlinkDistribution, FlinkHomeError> {
        let attributes = try? FileManager.default.attributesOfItem(atPath: home + "/lib")
        let modified = (attributes?[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
        let stamp = "\(attributes?[.systemFileNumber] ?? 0)/\(modified)"
        if let entry = cache.withLock({ $0[home] }), entry.stamp == stamp { return entry.result }
        let result = FlinkHome.inspect(home, environment: environment).map(prepare)
        cache.withLock { $0[home] = Entry(stamp: stamp, result: result) }
        return result
    }

    /// A resource runs (or is about to run) from `distribution`: sent to `inUse` the first time.
    public func markInUse(_ distribution: FlinkDistribution) {
        if announced.withLock({ $0.insert(distribution).inserted }) { announce.yield(distribution) }
    }
}
