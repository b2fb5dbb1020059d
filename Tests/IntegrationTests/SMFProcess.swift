import Foundation
import Testing

/// Where the package root is, from this file's path (Tests/IntegrationTests/SMFProcess.swift).
let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// The `smf` binary under test: `$SMF_BIN`, else `.build/debug/smf` in the package root.
func smfBinary() -> URL {
    if let path = ProcessInfo.processInfo.environment["SMF_BIN"], !path.isEmpty { return URL(fileURLWithPath: path) }
    return packageRoot.appendingPathComponent(".build/debug/smf")
}

/// Finds an external tool on PATH (or the usual Debian locations).
func findTool(_ name: String) -> URL? {
    let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
    for directory in path.split(separator: ":").map(String.init) + ["/usr/bin", "/usr/local/bin", "/usr/sbin"] {
        let candidate = URL(fileURLWithPath: directory).appendingPathComponent(name)
        if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
    }
    return nil
}

/// Finds an external tool or fails with how to get it (tests never skip because a tool is missing).
func requireTool(_ name: String) throws -> URL {
    guard let tool = findTool(name) else {
        throw ProcessTestError(description: "\(name) is not installed; `make test` installs it (apt-get install sipp sipsak kamailio baresip)")
    }
    return tool
}

struct ProcessTestError: Error, CustomStringConvertible {
    var description: String
}

/// Output and exit status of a finished helper process.
struct ProcessResult {
    var status: Int32
    var output: String
}

/// Thread-safe accumulator for a pipe's output (filled by a readability handler).
final class OutputBuffer: @unchecked Sendable {
    private let lock = NSLock()
    private var data = Data()

    func append(_ chunk: Data) {
        lock.lock()
        data.append(chunk)
        lock.unlock()
    }

    var text: String {
        lock.lock()
        defer { lock.unlock() }
        return String(decoding: data, as: UTF8.self)
    }
}

/// Ends `process`: sends `signal`, waits up to `grace` for it to exit, then sends SIGKILL, and reaps it. SIGKILL is the
/// fallback because the first signal may never arrive: a child started from a Swift concurrency thread inherits that
/// thread's mask, in which SIGTERM and SIGINT are blocked, unless it unblocks them itself. Returns whether the process
/// exited within `grace` (true when it had exited already).
@discardableResult
func endProcess(_ process: Process, with signal: Int32, grace: Duration) -> Bool {
    guard process.isRunning else { return true }
    kill(process.processIdentifier, signal)
    let deadline = ContinuousClock.now + grace
    while process.isRunning && ContinuousClock.now < deadline { usleep(10_000) }
    let ended = !process.isRunning
    if !ended { kill(process.processIdentifier, SIGKILL) }
    process.waitUntilExit()
    return ended
}

/// Runs a tool to completion (killing it after `timeout`) and returns its combined output.
func runTool(_ tool: URL, _ arguments: [String], currentDirectory: URL? = nil, timeout: Duration = .seconds(60)) async throws -> ProcessResult {
    let process = Process()
    process.executableURL = tool
    process.arguments = arguments
    if let currentDirectory { process.currentDirectoryURL = currentDirectory }
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    process.standardInput = FileHandle.nullDevice
    let output = OutputBuffer()
    pipe.fileHandleForReading.readabilityHandler = { handle in output.append(handle.availableData) }
    try process.run()
    let clock = ContinuousClock()
    let deadline = clock.now + timeout
    while process.isRunning && clock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
    if process.isRunning {
        endProcess(process, with: SIGTERM, grace: .seconds(2))
        pipe.fileHandleForReading.readabilityHandler = nil
        throw ProcessTestError(
            description: "\(([tool.lastPathComponent] + arguments).joined(separator: " ")) did not finish within \(timeout); output:\n\(output.text)")
    }
    process.waitUntilExit()
    pipe.fileHandleForReading.readabilityHandler = nil
    output.append(pipe.fileHandleForReading.readDataToEndOfFile())
    return ProcessResult(status: process.terminationStatus, output: output.text)
}

/// A running `smf run` child process on ephemeral loopback ports.
final class SMFProcess {
    let process = Process()
    let dataDirectory: URL
    private let stdout = OutputBuffer()
    private let stderr = OutputBuffer()
    private(set) var udpPort = 0
    private(set) var tcpPort = 0
    private(set) var readyLine = ""

    /// Starts `smf run` on ephemeral UDP and TCP ports; `extraArguments` are appended (e.g. `["--user", "alice"]`).
    convenience init(extraArguments: [String] = []) async throws {
        let dataDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("smf-proc-\(UUID().uuidString)")
        try await self.init(
            runArguments: ["--data", dataDirectory.path, "--listen", "udp:127.0.0.1:0", "--listen", "tcp:127.0.0.1:0"] + extraArguments,
            dataDirectory: dataDirectory)
    }

    /// Starts `smf run RUNARGUMENTS` (e.g. `--config FILE`), whose data directory is `dataDirectory`.
    init(runArguments: [String], dataDirectory: URL) async throws {
        let binary = smfBinary()
        guard FileManager.default.isExecutableFile(atPath: binary.path) else {
            throw ProcessTestError(description: "smf binary not found at \(binary.path); build it with `swift build` or set SMF_BIN")
        }
        self.dataDirectory = dataDirectory
        process.executableURL = binary
        process.arguments = ["run"] + runArguments
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
        while clock.now < deadline {
            if let line = stdout.text.split(separator: "\n").first(where: { $0.hasPrefix("smf ready: ") }) {
                readyLine = String(line)
                break
            }
            if !process.isRunning { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        guard !readyLine.isEmpty else {
            cleanUp()
            throw ProcessTestError(description: "smf run printed no ready line; stdout: \(stdout.text) stderr: \(stderr.text)")
        }
        for token in readyLine.split(separator: " ") {
            let parts = token.split(separator: ":")
            guard parts.count == 3, let port = Int(parts[2]) else { continue }
            if parts[0] == "udp" { udpPort = port }
            if parts[0] == "tcp" { tcpPort = port }
        }
    }

    var standardOutput: String { stdout.text }
    var standardError: String { stderr.text }

    /// Sends `signal` and waits up to `timeout` for the process to exit; returns its status, or nil if still running.
    func stop(with signal: Int32, timeout: Duration = .seconds(5)) async throws -> (status: Int32, reason: Process.TerminationReason)? {
        kill(process.processIdentifier, signal)
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        while process.isRunning && clock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
        guard !process.isRunning else { return nil }
        process.waitUntilExit()
        return (process.terminationStatus, process.terminationReason)
    }

    /// Kills the process if a test left it running and removes its data directory.
    func cleanUp() {
        endProcess(process, with: SIGKILL, grace: .seconds(5))
        try? FileManager.default.removeItem(at: dataDirectory)
    }
}
