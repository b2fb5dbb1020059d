import Foundation
import SMFNode
import Testing

/// A `smf run` child process taking part in the overlay, on one FreePorts port for UDP and TCP (overlay requests
/// too large for UDP go over TCP to the same port).
final class OverlayProcess {
    let process = Process()
    let dataDirectory: URL
    let port: Int
    private let stdout = OutputBuffer()
    private let stderr = OutputBuffer()

    /// The overlay and SIP address, `127.0.0.1:PORT`.
    var address: String { "127.0.0.1:\(port)" }
    /// The node's address of record (user `smf`).
    var addressOfRecord: String { "sip:smf@127.0.0.1:\(port)" }
    var standardError: String { stderr.text }
    var isRunning: Bool { process.isRunning }

    /// Starts `smf run` with fast overlay timers; `bootstrap` peers are passed as `--bootstrap`.
    /// - Parameters:
    ///   - dataDirectory: reuse a directory to restart a node; a fresh one by default.
    ///   - port: reuse a port to restart a node; a free one by default.
    init(
        bootstrap: [String] = [], dataDirectory: URL? = nil, port: Int? = nil, stabilizeMs: Int = 500, timeoutMs: Int = 500,
        extraArguments: [String] = []
    ) async throws {
        let binary = smfBinary()
        guard FileManager.default.isExecutableFile(atPath: binary.path) else {
            throw ProcessTestError(description: "smf binary not found at \(binary.path); build it with `swift build` or set SMF_BIN")
        }
        self.dataDirectory = dataDirectory ?? FileManager.default.temporaryDirectory.appendingPathComponent("smf-overlay-\(UUID().uuidString)")
        self.port = try port ?? FreePorts.reserve()
        process.executableURL = binary
        process.arguments =
            [
                "run", "--data", self.dataDirectory.path, "--listen", "udp:127.0.0.1:\(self.port)", "--listen", "tcp:127.0.0.1:\(self.port)",
                "--overlay-stabilize-ms", "\(stabilizeMs)", "--overlay-timeout-ms", "\(timeoutMs)", "--log-level", "info",
            ] + bootstrap.flatMap { ["--bootstrap", $0] } + extraArguments
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        let stdout = self.stdout
        let stderr = self.stderr
        out.fileHandleForReading.readabilityHandler = { handle in stdout.append(handle.availableData) }
        err.fileHandleForReading.readabilityHandler = { handle in stderr.append(handle.availableData) }
        try process.run()
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(30)
        while clock.now < deadline, process.isRunning, !stdout.text.contains("smf ready: ") {
            try await Task.sleep(for: .milliseconds(20))
        }
        guard stdout.text.contains("smf ready: ") else {
            cleanUp(keepData: dataDirectory != nil)
            throw ProcessTestError(description: "smf run on \(self.address) printed no ready line; stderr: \(stderr.text)")
        }
    }

    /// Runs `smf ARGUMENTS --data <this node>` and returns its output and status.
    func smf(_ arguments: [String], timeout: Duration = .seconds(30)) async throws -> ProcessResult {
        try await runTool(smfBinary(), arguments + ["--data", dataDirectory.path], timeout: timeout)
    }

    /// `smf overlay status --json` decoded, or nil when the node does not answer it.
    func overlayStatus() async throws -> OverlayStatusReport? {
        let result = try await smf(["overlay", "status", "--json"])
        guard result.status == 0 else { return nil }
        return try? JSONDecoder().decode(OverlayStatusReport.self, from: Data(result.output.utf8))
    }

    /// Sends `signal` and waits up to 10 s for the process to end; kills it and throws when it has not.
    func stop(with signal: Int32) async throws {
        kill(process.processIdentifier, signal)
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(10)
        while process.isRunning && clock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
        guard endProcess(process, with: SIGKILL, grace: .zero) else {
            throw ProcessTestError(description: "smf run on \(address) did not exit within 10 s of signal \(signal); stderr:\n\(stderr.text.suffix(3000))")
        }
    }

    /// Kills the process if still running; removes the data directory unless `keepData`.
    func cleanUp(keepData: Bool = false) {
        endProcess(process, with: SIGKILL, grace: .seconds(5))
        if !keepData { try? FileManager.default.removeItem(at: dataDirectory) }
    }
}

/// Whether the statuses describe exactly one ring over `ids`: each node's successor is the next id clockwise and
/// its predecessor the previous one (brute force over the sorted ids), so the successor pointers form one cycle.
func formsOneRing(_ statuses: [OverlayStatusReport], ids: [String]) -> Bool {
    let sorted = ids.sorted()
    guard statuses.count == sorted.count else { return false }
    for status in statuses {
        guard status.phase == "joined", let index = sorted.firstIndex(of: status.node.id) else { return false }
        guard status.successors.first?.id == sorted[(index + 1) % sorted.count] else { return false }
        guard status.predecessor?.id == sorted[(index + sorted.count - 1) % sorted.count] else { return false }
    }
    // Following successors from any node visits every node once before coming back.
    let successor = Dictionary(uniqueKeysWithValues: statuses.map { ($0.node.id, $0.successors.first?.id ?? "") })
    var visited = Set<String>()
    var current = sorted[0]
    while visited.insert(current).inserted { current = successor[current] ?? "" }
    return visited.count == sorted.count && current == sorted[0]
}

/// Polls `condition` every `interval` until it holds or `limit` passes; returns whether it held.
func pollUntil(within limit: Duration, every interval: Duration = .milliseconds(300), _ condition: () async throws -> Bool) async throws -> Bool {
    let clock = ContinuousClock()
    let deadline = clock.now + limit
    while clock.now < deadline {
        if try await condition() { return true }
        try await Task.sleep(for: interval)
    }
    return try await condition()
}
