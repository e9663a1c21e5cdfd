import CSystemShims

/// Gives the allocator's free pages back to the system once a burst of watch traffic is over.
///
/// A watch without a `resourceVersion` (`kubectl get -w`, an informer's first watch) starts
/// with an ADDED event for every object: one encoded buffer per event, written, encrypted and
/// freed on the server's threads while other watches do the same. glibc keeps the freed pages
/// in its arenas (fragmented between the connections' long-lived allocations, so its own
/// trimming at the top of the heap does not reach them): measured with 20 such watches of
/// 1,000 objects, 50.3 MB resident, of which `malloc_trim` returned 5.7 MB that nothing used.
///
/// Contract:
/// - `request()` is cheap and never blocks; `run()` trims `delay` after a request, and again
///   `delay` after the last request that came in meanwhile, so a burst of watches (whose last
///   buffers are freed after their feeds are done) ends with one trim once it is quiet.
/// - At most one trim per `delay` (a trim walks every arena: about a millisecond).
final class HeapTrim: Sendable {
    static let delay: Duration = .milliseconds(200)
    /// Backlogs of fewer events are not worth a trim.
    static let threshold = 256

    private let requests: AsyncStream<Void>
    private let continuation: AsyncStream<Void>.Continuation

    init() {
        (requests, continuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    func request() { continuation.yield() }

    /// Sent a watch's backlog of `events` events.
    func afterBacklog(events: Int) {
        if events >= Self.threshold { request() }
    }

    /// Trims after requests until cancelled.
    func run() async {
        for await _ in requests {
            do { try await Task.sleep(for: Self.delay) } catch { return }
            _ = flinklet_malloc_trim()
        }
    }
}
