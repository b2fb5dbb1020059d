import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The `smf-bench-notifier` executable (built next to `smf-bench`) running one smf notifier node in
/// its own process, driven over its stdin/stdout (see that executable's `main.swift` for the commands).
final class NotifierProcess {
    /// Why the notifier process could not be used.
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// The node's UDP port on 127.0.0.1.
    private(set) var port = 0
    /// The node's data directory (its SQLite database), removed by ``stop()``.
    let directory: String

    private let process: Process
    private let input: FileHandle
    private let output: FileHandle
    private var buffered: [UInt8] = []

    /// Starts the node with `store` (`sqlite` or `memory`) in a fresh temporary data directory and waits
    /// for it to report its port.
    init(store: String) throws {
        let executable = try Self.siblingExecutable(named: "smf-bench-notifier")
        var template = Array((NSTemporaryDirectory() + "smf-bench-XXXXXX").utf8CString)
        guard let created = template.withUnsafeMutableBufferPointer({ buffer in buffer.baseAddress.flatMap { mkdtemp($0) } }) else {
            throw Failure(description: "cannot create a temporary directory: errno \(errno)")
        }
        directory = String(cString: created)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = ["--store", store, "--data", directory]
        let stdin = Pipe()
        let stdout = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = FileHandle.standardError
        try process.run()
        self.process = process
        self.input = stdin.fileHandleForWriting
        self.output = stdout.fileHandleForReading
        let ready = try readLine()
        guard ready.hasPrefix("ready "), let port = Int(ready.dropFirst(6)) else {
            process.terminate()
            throw Failure(description: "smf-bench-notifier said '\(ready)' instead of 'ready PORT'")
        }
        self.port = port
    }

    /// Sends one command line and returns the reply line.
    @discardableResult
    func command(_ line: String) throws -> String {
        try send(line)
        return try readLine()
    }

    /// Sends one command line without waiting for the reply (read it with ``readLine()``).
    func send(_ line: String) throws {
        do {
            try input.write(contentsOf: Data((line + "\n").utf8))
        } catch {
            throw Failure(description: "cannot write to smf-bench-notifier: \(error)")
        }
    }

    /// The next line the node printed.
    func readLine() throws -> String {
        while true {
            if let newline = buffered.firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: buffered[..<newline], as: UTF8.self)
                buffered.removeSubrange(...newline)
                return line
            }
            let data = output.availableData
            guard !data.isEmpty else { throw Failure(description: "smf-bench-notifier exited") }
            buffered += data
        }
    }

    /// A command whose reply is `NAME INTEGER`; returns the integer.
    func number(_ name: String) throws -> Int {
        let reply = try command(name)
        guard reply.hasPrefix(name + " "), let value = Int(reply.dropFirst(name.count + 1)) else {
            throw Failure(description: "'\(name)' was answered '\(reply)'")
        }
        return value
    }

    /// Resident bytes of the node after giving freed heap back to the kernel (so that RSS counts what
    /// is live, not what glibc keeps cached), and the heap bytes in use.
    func memory(trimmed: Bool) throws -> (resident: Int, heap: Int) {
        if trimmed { try command("trim") }
        return (try number("rss"), try number("heap"))
    }

    /// Stops the node and removes its data directory.
    func stop() {
        _ = try? command("quit")
        try? input.close()
        process.waitUntilExit()
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// The path of an executable built into the same directory as this one.
    private static func siblingExecutable(named name: String) throws -> String {
        var path = [CChar](repeating: 0, count: 4096)
        let length = readlink("/proc/self/exe", &path, path.count - 1)
        let own = length > 0 ? String(decoding: path[..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self) : CommandLine.arguments[0]
        let sibling = URL(fileURLWithPath: own).deletingLastPathComponent().appendingPathComponent(name).path
        guard FileManager.default.isExecutableFile(atPath: sibling) else {
            throw Failure(description: "\(sibling) is missing: build the Benchmarks package (make bench)")
        }
        return sibling
    }
}
