#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

// smf-bench [--seconds N] [FILTER...]
//
// Prints one line per figure on stdout, `name value unit`, and nothing else there; progress and errors
// go to stderr. A FILTER selects the figures whose name starts with it (e.g. `sip.parse`, `sip.`).

/// Writes a line to stderr (unbuffered, so progress shows while stdout is piped).
func printError(_ text: String) {
    let line = Array((text + "\n").utf8)
    _ = line.withUnsafeBytes { write(STDERR_FILENO, $0.baseAddress, $0.count) }
}

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
        for benchmark in Benchmark.all { print("\(benchmark.name) \(benchmark.unit)") }
        exit(0)
    case "-h", "--help":
        printError("usage: smf-bench [--seconds N] [--list] [FILTER...]  (FILTER: name prefix, e.g. sip.parse)")
        exit(0)
    default:
        filters.append(argument)
    }
}

let selected = Benchmark.all.filter { benchmark in
    filters.isEmpty || filters.contains { benchmark.name.hasPrefix($0) }
}
if selected.isEmpty {
    printError("smf-bench: no figure matches \(filters); known: \(Benchmark.all.map(\.name).joined(separator: ", "))")
    exit(2)
}

var failed = false
for benchmark in selected {
    printError("smf-bench: measuring \(benchmark.name) for \(seconds) s…")
    do {
        let value = try benchmark.measure(.milliseconds(Int64(seconds * 1000)))
        print("\(benchmark.name) \(Int(value.rounded())) \(benchmark.unit)")
    } catch {
        printError("smf-bench: \(benchmark.name) failed: \(error)")
        failed = true
    }
}
exit(failed ? 1 : 0)
