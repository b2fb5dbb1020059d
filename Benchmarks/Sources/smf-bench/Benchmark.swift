#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// What the bench can measure: one or more figures (name and unit) and the code that measures them.
///
/// Add a figure by appending a ``Benchmark`` to ``Benchmark/all`` (see `SIPBenchmarks.swift`). Figures
/// that come from one expensive setup (e.g. 10,000 live subscriptions) share one ``Benchmark``.
struct Benchmark: Sendable {
    /// A printed line: `name value unit`.
    struct Figure: Sendable {
        /// Dotted name printed first on the result line, e.g. `sip.parse`.
        let name: String
        /// Unit printed last, e.g. `msgs/s`.
        let unit: String
        /// Digits printed after the decimal point (0: the value is rounded to an integer).
        var decimals = 0

        /// The value as printed: rounded to ``decimals`` digits after the point.
        func format(_ value: Double) -> String {
            guard value.isFinite else { return "\(value)" }
            var scale = 1
            for _ in 0..<decimals { scale *= 10 }
            let scaled = Int((abs(value) * Double(scale)).rounded())
            let sign = value < 0 && scaled > 0 ? "-" : ""
            guard decimals > 0 else { return sign + "\(scaled)" }
            let fraction = String(scaled % scale)
            return sign + "\(scaled / scale)." + String(repeating: "0", count: decimals - fraction.count) + fraction
        }
    }

    let figures: [Figure]
    /// Measures and returns a value for each figure, by name; `duration` is how long to spend timing
    /// where the benchmark is time-bound.
    let measure: @Sendable (_ duration: Duration) async throws -> [String: Double]

    /// A benchmark with several figures.
    init(figures: [Figure], measure: @escaping @Sendable (_ duration: Duration) async throws -> [String: Double]) {
        self.figures = figures
        self.measure = measure
    }

    /// A benchmark with one figure.
    init(name: String, unit: String, measure: @escaping @Sendable (_ duration: Duration) async throws -> Double) {
        self.figures = [Figure(name: name, unit: unit)]
        self.measure = { duration in [name: try await measure(duration)] }
    }
}

/// Runs `operation` in batches until `duration` of this thread's CPU time has been spent and returns
/// operations per CPU-second of one core.
///
/// CPU time of the calling thread (`CLOCK_THREAD_CPUTIME_ID`) rather than wall-clock time: the figure
/// is "what one core does", and it stays comparable when other processes load the machine (on an
/// idle machine the two agree). `operation` is called with the index of the operation (so it can
/// cycle through inputs) and must hand its result to ``blackHole(_:)``. The clock is read once per
/// batch, not per operation.
func operationsPerSecond(
    for duration: Duration, batch: Int = 1_000, _ operation: (Int) throws -> Void
) rethrows -> Double {
    let budget = Double(duration.components.seconds) + Double(duration.components.attoseconds) * 1e-18
    // Warm up (caches, lazy initialisers) for a tenth of the time, untimed.
    let warmUpEnd = threadCPUSeconds() + budget / 10
    var index = 0
    while threadCPUSeconds() < warmUpEnd {
        for _ in 0..<batch {
            try operation(index)
            index &+= 1
        }
    }
    let start = threadCPUSeconds()
    let end = start + budget
    var count = 0
    var now = start
    while now < end {
        for _ in 0..<batch {
            try operation(index)
            index &+= 1
        }
        count += batch
        now = threadCPUSeconds()
    }
    return Double(count) / (now - start)
}

/// CPU seconds the calling thread has used so far.
func threadCPUSeconds() -> Double {
    var spec = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &spec)
    return Double(spec.tv_sec) + Double(spec.tv_nsec) * 1e-9
}

/// Consumes a value so the optimiser cannot remove the code that produced it.
@inline(never)
@_optimize(none)
func blackHole<T>(_ value: T) {}

/// A failed pre-timing check: the bench would otherwise time wrong work.
struct BenchmarkCheckFailed: Error, CustomStringConvertible {
    let description: String
}
