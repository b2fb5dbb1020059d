#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import SIPTransport

// smf-bench [--seconds N] [FILTER...]
//
// Prints one line per figure on stdout, `name value unit`, and nothing else there; progress and errors
// go to stderr. A FILTER selects the figures whose name starts with it (e.g. `sip.parse`, `sip.`).

/// Writes a line to stderr (unbuffered, so progress shows while stdout is piped).
func printError(_ text: String) {
    let line = Array((text + "\n").utf8)
    _ = line.withUnsafeBytes { write(STDERR_FILENO, $0.baseAddress, $0.count) }
}

/// Writes a result line to stdout at once (unbuffered, like ``printError(_:)``).
func printResult(_ text: String) {
    let line = Array((text + "\n").utf8)
    _ = line.withUnsafeBytes { write(STDOUT_FILENO, $0.baseAddress, $0.count) }
}

// The heap settings `smf run` uses (SIPHeapSettings), so in-process nodes behave as a node does.
SIPHeapSettings.fixMallocThresholds()

var seconds = 2.0
var filters: [String] = []
var arguments = CommandLine.arguments.dropFirst()
while let argument = arguments.popFirst() {
    switch argument {
    case "--seconds":
        guard let value = arguments.popFirst().flatMap(Double.init), value > 0 else {
            printError("smf-bench: --seconds needs a positive number")
            exit(2)
        }
        seconds = value
    case "--list":
        for figure in Benchmark.all.flatMap(\.figures) { print("\(figure.name) \(figure.unit)") }
        exit(0)
    case "-h", "--help":
        printError(
            """
            usage: smf-bench [--seconds N] [--list] [FILTER...]  (FILTER: name prefix, e.g. sip.parse)
            environment: SMF_BENCH_SUBSCRIPTIONS=N  live subscriptions for sip.subscription_bytes and
                         sip.notify_fanout (default 10000)
            """)
        exit(0)
    default:
        filters.append(argument)
    }
}

@MainActor func isSelected(_ figure: Benchmark.Figure) -> Bool {
    filters.isEmpty || filters.contains { figure.name.hasPrefix($0) }
}

let selected = Benchmark.all.filter { $0.figures.contains(where: isSelected) }
if selected.isEmpty {
    let known = Benchmark.all.flatMap(\.figures).map(\.name).joined(separator: ", ")
    printError("smf-bench: no figure matches \(filters); known: \(known)")
    exit(2)
}

var failed = false
for benchmark in selected {
    let names = benchmark.figures.map(\.name).joined(separator: ", ")
    printError("smf-bench: measuring \(names) (\(seconds) s of timing where time-bound)…")
    do {
        let values = try await benchmark.measure(.milliseconds(Int64(seconds * 1000)))
        for figure in benchmark.figures where isSelected(figure) {
            guard let value = values[figure.name] else {
                printError("smf-bench: \(figure.name) produced no value")
                failed = true
                continue
            }
            printResult("\(figure.name) \(figure.format(value)) \(figure.unit)")
        }
    } catch {
        printError("smf-bench: \(names) failed: \(error)")
        failed = true
    }
}
exit(failed ? 1 : 0)
