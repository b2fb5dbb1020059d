/// One figure the bench can produce: a name, a unit and the code that measures it.
///
/// Add a figure by appending a ``Benchmark`` to ``Benchmark/all`` (see `SIPBenchmarks.swift`).
struct Benchmark: Sendable {
    /// Dotted name printed first on the result line, e.g. `sip.parse`.
    let name: String
    /// Unit printed last, e.g. `msgs/s`.
    let unit: String
    /// Measures and returns the value; `duration` is how long to spend timing.
    let measure: @Sendable (_ duration: Duration) throws -> Double
}

/// Runs `operation` in batches until `duration` has elapsed and returns operations per second.
///
/// `operation` is called with the index of the operation (so it can cycle through inputs) and must
/// hand its result to ``blackHole(_:)``. The clock is read once per batch, not per operation.
func operationsPerSecond(
    for duration: Duration, batch: Int = 1_000, _ operation: (Int) throws -> Void
) rethrows -> Double {
    let clock = ContinuousClock()
    // Warm up (caches, lazy initialisers) for a tenth of the time, untimed.
    let warmUpEnd = clock.now.advanced(by: duration / 10)
    var index = 0
    while clock.now < warmUpEnd {
        for _ in 0..<batch {
            try operation(index)
            index &+= 1
        }
    }
    let start = clock.now
    let end = start.advanced(by: duration)
    var count = 0
    var now = start
    while now < end {
        for _ in 0..<batch {
            try operation(index)
            index &+= 1
        }
        count += batch
        now = clock.now
    }
    let elapsed = start.duration(to: now)
    let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
    return Double(count) / seconds
}

/// Consumes a value so the optimiser cannot remove the code that produced it.
@inline(never)
@_optimize(none)
func blackHole<T>(_ value: T) {}

/// A failed pre-timing check: the bench would otherwise time wrong work.
struct BenchmarkCheckFailed: Error, CustomStringConvertible {
    let description: String
}
