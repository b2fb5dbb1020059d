import Foundation

/// One finished sipp run: its exit status and output, the final `-trace_stat` counters, and wall time.
struct SippRun {
    var result: ProcessResult
    var stats: SippStats
    var elapsed: Duration

    /// Calls per second achieved over the whole run.
    var callsPerSecond: Double {
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        return seconds > 0 ? Double(stats.successfulCalls + stats.failedCalls) / seconds : 0
    }
}

/// Runs a scenario from Tests/IntegrationTests/sipp as a UAC against `target` (`host:port`).
///
/// `mode` is sipp's `-t` (`u1`: one UDP socket, `t1`: one TCP connection); `keys` become `-key NAME VALUE`
/// (e.g. `["event": "m2m-alarm"]` for subscribe_uac.xml); `service` is the Request-URI user (`-s`).
/// The output ends with what explains failed calls, so that its last few thousand characters (what a failed
/// expectation shows) hold it: sipp's last scenario screen (messages, retransmissions, timeouts and unexpected
/// messages at each step), then the non-zero failure counters and the errors sipp logged (`-trace_err`).
func runSipp(
    _ sipp: URL,
    scenario: String,
    target: String,
    mode: String,
    calls: Int,
    rate: Int,
    keys: [String: String] = [:],
    service: String? = nil,
    timeout: Duration = .seconds(90)
) async throws -> SippRun {
    let scenarioFile = packageRoot.appendingPathComponent("Tests/IntegrationTests/sipp/\(scenario)")
    let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("smf-sipp-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: scratch) }
    let statsFile = scratch.appendingPathComponent("stats.csv")
    let errorFile = scratch.appendingPathComponent("errors.log")
    var arguments = [
        target, "-sf", scenarioFile.path, "-m", String(calls), "-r", String(rate), "-t", mode,
        "-i", "127.0.0.1", "-p", "0", "-nostdin", "-timeout", "60s",
        "-trace_stat", "-stf", statsFile.path, "-fd", "1", "-trace_err", "-error_file", errorFile.path,
    ]
    for (name, value) in keys.sorted(by: { $0.key < $1.key }) { arguments += ["-key", name, value] }
    if let service { arguments += ["-s", service] }
    let clock = ContinuousClock()
    let started = clock.now
    var result = try await runTool(sipp, arguments, currentDirectory: scratch, timeout: timeout)
    let elapsed = clock.now - started
    let errors = (try? String(contentsOf: errorFile, encoding: .utf8)).map(sippErrorSummary) ?? "(no error file)"
    guard let csv = try? String(contentsOf: statsFile, encoding: .utf8) else {
        throw ProcessTestError(description: "sipp wrote no statistics (exit \(result.status)); errors:\n\(errors)\noutput:\n\(result.output.suffix(3000))")
    }
    let stats = try SippStats(csv: csv)
    if let screen = result.output.range(of: "Scenario Screen", options: .backwards) {
        // The scenario screen sipp printed last, without the statistics screen after it.
        let end = result.output.range(of: "Statistics Screen", range: screen.upperBound..<result.output.endIndex)?.lowerBound ?? result.output.endIndex
        result.output += "\n--- sipp's last scenario screen ---\n" + result.output[screen.lowerBound..<end].prefix(2000)
    }
    let counters = stats.problems.map { "\($0.name)=\($0.count)" }.joined(separator: " ")
    result.output += "\n--- sipp counters: \(counters.isEmpty ? "no failures or retransmissions" : counters)\n--- sipp errors ---\n" + errors
    return SippRun(result: result, stats: stats, elapsed: elapsed)
}

/// sipp's `-trace_err` log, short: every event except "Dead call … (successful)" (a retransmitted response arriving
/// after its call ended, which sipp logs but does not count as a failure) in full, up to 1500 characters, then how
/// many of those there were.
func sippErrorSummary(_ log: String) -> String {
    var events: [String] = []
    for line in log.split(separator: "\n", omittingEmptySubsequences: false) {
        // An event starts with its date, e.g. "2026-12-07\t11:02:51.295151\t…: Dead call …".
        if line.count > 10, line.prefix(4).allSatisfy(\.isNumber), line.dropFirst(4).first == "-" {
            events.append(String(line))
        } else if !events.isEmpty {
            events[events.count - 1] += "\n" + line
        }
    }
    let isLateResponse = { (event: String) in event.contains(": Dead call ") && event.contains("(successful)") }
    let late = events.filter(isLateResponse).count
    let others = events.filter { !isLateResponse($0) }.joined(separator: "\n")
    return String(others.prefix(1500)) + "\n(\(late) late responses to calls already ended, not listed)"
}

/// The last line of a sipp `-trace_stat` CSV, read by column name.
struct SippStats {
    var successfulCalls: Int
    var failedCalls: Int
    var unexpectedMessages: Int
    /// The non-zero cumulative counters that tell why calls failed or took long (`Failed…(C)`, retransmissions,
    /// messages for calls that had ended or never existed), by name without the `(C)`.
    var problems: [(name: String, count: Int)]

    init(csv: String) throws {
        let lines = csv.split(whereSeparator: \.isNewline).filter { !$0.isEmpty }
        guard lines.count >= 2, let last = lines.last else { throw ProcessTestError(description: "sipp stats file has no data rows:\n\(csv)") }
        let names = lines[0].split(separator: ";", omittingEmptySubsequences: false).map(String.init)
        let values = last.split(separator: ";", omittingEmptySubsequences: false).map(String.init)
        func value(_ name: String) throws -> Int {
            guard let index = names.firstIndex(of: name), index < values.count, let number = Int(values[index]) else {
                throw ProcessTestError(description: "sipp stats lack column \(name)")
            }
            return number
        }
        successfulCalls = try value("SuccessfulCall(C)")
        failedCalls = try value("FailedCall(C)")
        unexpectedMessages = try value("FailedUnexpectedMessage(C)")
        problems = zip(names, values).compactMap { name, text in
            guard name.hasSuffix("(C)"), let count = Int(text), count > 0,
                name.hasPrefix("Failed") || ["Retransmissions(C)", "DeadCallMsgs(C)", "OutOfCallMsgs(C)"].contains(name)
            else { return nil }
            return (String(name.dropLast(3)), count)
        }
    }
}
