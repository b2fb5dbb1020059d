import Foundation

/// A long-running external program (Kamailio, baresip) with its stdout and stderr captured together,
/// an optional pipe to its stdin, and a stop that always ends it and everything it forked.
///
/// Foundation starts each child as the leader of its own process group, so the forked workers of a
/// daemon share the child's pid as their group id; `stop` signals that group, which reaches only
/// processes this harness started.
final class PeerProcess {
    let name: String
    let process = Process()
    private let output = OutputBuffer()
    private let input: Pipe?

    /// Starts `tool` with `arguments`; `interactive` connects a pipe to its stdin for `write(line:)`.
    ///
    /// Every program starts through `env --default-signal`: a Process launched from a Swift concurrency
    /// (dispatch) thread inherits that thread's signal mask, in which SIGTERM and SIGINT are blocked, so
    /// without the reset a daemon would never see the SIGTERM that asks it to shut down cleanly.
    ///
    /// `closesInheritedDescriptors` is for daemons such as Kamailio that close every inherited file
    /// descriptor at startup: Foundation's Process (Linux) takes the closing of its internal descriptor
    /// as the child's exit and blocks its monitor thread in waitpid(), stalling every Process in the test
    /// run. Such a program runs under a small /bin/sh that keeps the descriptor, forwards SIGTERM/SIGINT
    /// to it and exits with its status.
    init(_ tool: URL, _ arguments: [String], currentDirectory: URL? = nil, interactive: Bool = false, closesInheritedDescriptors: Bool = false) throws {
        name = tool.lastPathComponent
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        if closesInheritedDescriptors {
            let guardian = """
                "$@" & child=$!
                trap 'kill -TERM $child 2>/dev/null' TERM INT
                status=0
                while kill -0 $child 2>/dev/null; do wait $child; status=$?; done
                exit $status
                """
            process.arguments = ["--default-signal", "/bin/sh", "-c", guardian, "sh", tool.path] + arguments
        } else {
            process.arguments = ["--default-signal", tool.path] + arguments
        }
        if let currentDirectory { process.currentDirectoryURL = currentDirectory }
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        let input = interactive ? Pipe() : nil
        self.input = input
        process.standardInput = input ?? FileHandle.nullDevice
        let output = self.output
        pipe.fileHandleForReading.readabilityHandler = { handle in output.append(handle.availableData) }
        try process.run()
    }

    var pid: Int32 { process.processIdentifier }

    /// Everything the program printed so far, with ANSI colour codes and carriage returns removed.
    var text: String {
        output.text.replacingOccurrences(of: "\u{1B}\\[[0-9;]*m", with: "", options: .regularExpression)
            .replacingOccurrences(of: "\r", with: "\n")
    }

    /// Sends one line to the program's stdin (only for interactive processes).
    func write(line: String) throws {
        guard let input else { throw ProcessTestError(description: "\(name) was not started with a stdin pipe") }
        try input.fileHandleForWriting.write(contentsOf: Data((line + "\n").utf8))
    }

    /// Waits until `predicate` holds for the output printed after `offset` (a count of `text`'s characters);
    /// returns that output, or throws with the full log when `timeout` passes or the program exits.
    @discardableResult
    func waitForOutput(after offset: Int = 0, timeout: Duration = .seconds(10), _ what: String, until predicate: (Substring) -> Bool) async throws -> Substring {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        while true {
            let all = text
            let fresh = all.dropFirst(offset)
            if predicate(fresh) { return fresh }
            guard process.isRunning else { throw ProcessTestError(description: "\(name) exited (\(process.terminationStatus)) before \(what); output:\n\(all)") }
            guard clock.now < deadline else { throw ProcessTestError(description: "\(name): no \(what) within \(timeout); output:\n\(all)") }
            try await Task.sleep(for: .milliseconds(25))
        }
    }

    /// Waits until the output after `offset` contains `needle`.
    @discardableResult
    func waitForOutput(containing needle: String, after offset: Int = 0, timeout: Duration = .seconds(10)) async throws -> Substring {
        try await waitForOutput(after: offset, timeout: timeout, "\"\(needle)\"") { $0.contains(needle) }
    }

    /// Sends `signal` to the program, waits up to `grace` for it to exit, then kills whatever is left
    /// of its process group. Safe to call more than once; returns true if it exited within `grace`.
    @discardableResult
    func stop(signal: Int32 = SIGTERM, grace: Duration = .seconds(5)) -> Bool {
        let group = pid
        var clean = true
        if process.isRunning {
            kill(group, signal)
            let deadline = ContinuousClock.now + grace
            while process.isRunning && ContinuousClock.now < deadline { usleep(10_000) }
            clean = !process.isRunning
        }
        kill(-group, SIGKILL)  // forked workers left behind, if any (the group is this child's own)
        if process.isRunning { kill(group, SIGKILL) }
        process.waitUntilExit()
        try? input?.fileHandleForWriting.close()
        return clean
    }

    /// True while any process of the program's group is alive (zombies do not count: nothing in a
    /// container may reap orphans, and a zombie holds no socket).
    var groupIsAlive: Bool {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.contains { entry in
            guard Int32(entry) != nil, let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
                let close = stat.lastIndex(of: ")")
            else { return false }
            // Fields after "(comm)": state ppid pgrp ...
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            return fields.count > 2 && fields[0] != "Z" && Int32(fields[2]) == pid
        }
    }
}
