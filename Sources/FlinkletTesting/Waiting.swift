/// Polls `condition` every `poll` until it holds or `timeout` passes; returns whether it held.
/// For tests of asynchronous effects (a file seen, a process gone): it returns as soon as the
/// condition holds, so a generous timeout costs nothing when things are healthy.
public func eventually(timeout: Duration = .seconds(5), poll: Duration = .milliseconds(5),
                       _ condition: () async -> Bool) async -> Bool {
    let clock = ContinuousClock()
    let deadline = clock.now.advanced(by: timeout)
    while clock.now < deadline {
        if await condition() { return true }
        try? await Task.sleep(for: poll)
    }
    return await condition()
}

/// A tiny deterministic random generator (SplitMix64), so randomised tests are reproducible.
public struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
