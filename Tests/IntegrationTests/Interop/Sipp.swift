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
/// Errors sipp reports are kept in the output (`-trace_err` into a temp file appended to the output).
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
    if let errors = try? String(contentsOf: errorFile, encoding: .utf8), !errors.isEmpty {
        result.output += "\n--- sipp errors ---\n" + errors.prefix(4000)
    }
    guard let csv = try? String(contentsOf: statsFile, encoding: .utf8) else {
        throw ProcessTestError(description: "sipp wrote no statistics (exit \(result.status)); output:\n\(result.output.suffix(3000))")
    }
    return SippRun(result: result, stats: try SippStats(csv: csv), elapsed: elapsed)
}

/// The last line of a sipp `-trace_stat` CSV, read by column name.
struct SippStats {
    var successfulCalls: Int
    var failedCalls: Int
    var unexpectedMessages: Int

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
    }
}
