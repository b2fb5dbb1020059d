import ArgumentParser
import ControlChannel
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The processes and directories a demo started, removed on every path: when it ends, when it fails, and on Ctrl-C
/// or SIGTERM (``installSignalHandlers()``).
final class DemoCleanup: @unchecked Sendable {
    static let shared = DemoCleanup()

    // Guarded by `lock`.
    private var processes: [Process] = []
    private var directories: [URL] = []
    private var sources: [any DispatchSourceSignal] = []
    private let lock = NSLock()

    func add(_ process: Process) { lock.withLock { processes.append(process) } }
    func add(directory: URL) { lock.withLock { directories.append(directory) } }

    /// Ctrl-C and SIGTERM stop every child and remove every directory, then end the demo with 130 / 143.
    func installSignalHandlers() {
        for signalNumber in [SIGINT, SIGTERM] {
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
            source.setEventHandler { [weak self] in
                FileHandle.standardError.write(Data("\ndemo interrupted: stopping the nodes and removing their data\n".utf8))
                self?.cleanUp()
                exit(128 + signalNumber)
            }
            source.resume()
            lock.withLock { sources.append(source) }
        }
    }

    /// SIGTERM to every child still running, SIGKILL to those left after two seconds, then the directories go.
    func cleanUp() {
        let (running, folders) = lock.withLock { () -> ([Process], [URL]) in
            defer {
                processes = []
                directories = []
            }
            return (processes.filter(\.isRunning), directories)
        }
        for process in running { kill(process.processIdentifier, SIGTERM) }
        let deadline = Date().addingTimeInterval(2)
        while running.contains(where: \.isRunning), Date() < deadline { usleep(20_000) }
        for process in running where process.isRunning { kill(process.processIdentifier, SIGKILL) }
        for process in running { process.waitUntilExit() }
        for folder in folders { try? FileManager.default.removeItem(at: folder) }
    }
}

/// What a child process printed, collected as it comes.
final class DemoOutput: @unchecked Sendable {
    private var data = Data()
    private let lock = NSLock()

    func append(_ chunk: Data) { lock.withLock { data.append(chunk) } }

    var text: String { lock.withLock { String(decoding: data, as: UTF8.self) } }
}

/// A demo step failed: the reason the demo prints before it exits 1.
struct DemoFailure: Error, CustomStringConvertible {
    var description: String
}

/// One `smf run` child process of a demo, with its own data directory, on one port for UDP and TCP.
final class DemoNode: @unchecked Sendable {
    let name: String
    let port: Int
    let data: URL
    let role: String
    let process = Process()
    let log: URL

    var addressOfRecord: String { "sip:\(name)@127.0.0.1:\(port)" }

    /// Starts `smf run` and waits for its ready line.
    init(binary: URL, name: String, role: String, base: URL, bootstrap: DemoNode?, extra: [String]) async throws {
        self.name = name
        self.role = role
        port = try DemoPorts.free()
        data = base.appendingPathComponent(name)
        log = base.appendingPathComponent("\(name).log")
        guard FileManager.default.createFile(atPath: log.path, contents: nil) else {
            throw DemoFailure(description: "cannot create the log file \(log.path)")
        }
        process.executableURL = binary
        process.arguments =
            [
                "run", "--data", data.path, "--user", name, "--listen", "udp:127.0.0.1:\(port)", "--listen", "tcp:127.0.0.1:\(port)",
                "--overlay-stabilize-ms", "1000", "--overlay-timeout-ms", "1000", "--log-level", "warning",
            ] + (bootstrap.map { ["--bootstrap", "127.0.0.1:\($0.port)"] } ?? []) + extra
        let out = Pipe()
        let output = DemoOutput()
        out.fileHandleForReading.readabilityHandler = { handle in output.append(handle.availableData) }
        process.standardOutput = out
        process.standardError = try FileHandle(forWritingTo: log)
        process.standardInput = FileHandle.nullDevice
        try process.run()
        DemoCleanup.shared.add(process)
        let deadline = ContinuousClock.now + .seconds(20)
        while !output.text.contains("smf ready: "), process.isRunning, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        out.fileHandleForReading.readabilityHandler = nil
        guard output.text.contains("smf ready: ") else {
            throw DemoFailure(description: "node \(name) did not start: \(Self.tail(of: log))")
        }
    }

    /// A control command on this node, the same call its `smf` command makes.
    func call<Arguments: Encodable & Sendable, Result: Decodable & Sendable>(
        _ command: String, _ arguments: Arguments, as type: Result.Type = Result.self
    ) async throws -> Result {
        do {
            return try await ControlClient.withConnection(dataDirectory: data.path) { client in
                try await client.call(command, arguments: arguments, as: Result.self)
            }
        } catch let error as ControlError {
            throw DemoFailure(description: "\(name): \(command) failed: \(error.message)")
        }
    }

    /// The last lines the node logged, for a failure message.
    static func tail(of log: URL) -> String {
        let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        let lines = text.split(separator: "\n").suffix(5)
        return lines.isEmpty ? "(nothing logged)" : lines.joined(separator: "\n")
    }
}

/// Loopback ports free for both UDP and TCP (a node's overlay takes large requests over TCP on its UDP port).
enum DemoPorts {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var handedOut: Set<Int> = []

    /// The first of `count` consecutive free ports (baresip takes two: SIP on P, SIP over TLS on P+1).
    static func free(consecutive count: Int = 1) throws -> Int {
        try lock.withLock {
            for _ in 0..<500 {
                let first = Int.random(in: 20000...(29999 - count))
                let ports = first..<(first + count)
                guard ports.allSatisfy({ !handedOut.contains($0) && canBind($0, SOCK_DGRAM) && canBind($0, SOCK_STREAM) }) else { continue }
                handedOut.formUnion(ports)
                return first
            }
            throw DemoFailure(description: "found no free loopback port in 20000-29999")
        }
    }

    private static func canBind(_ port: Int, _ type: __socket_type) -> Bool {
        let descriptor = socket(AF_INET, Int32(type.rawValue), 0)
        guard descriptor >= 0 else { return false }
        defer { close(descriptor) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr = in_addr(s_addr: inet_addr("127.0.0.1"))
        return withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        } == 0
    }
}

/// A headless baresip (the demo's plain SIP phone), driven through its stdin: it prints each MESSAGE it gets and
/// sends `/message TEXT` to its current contact.
final class DemoPhone: @unchecked Sendable {
    let user: String
    let port: Int
    let process = Process()
    private let input = Pipe()
    private let output = DemoOutput()

    var uri: String { "sip:\(user)@127.0.0.1:\(port)" }
    var text: String { output.text.replacingOccurrences(of: "\r", with: "\n") }

    /// The baresip binary and module directory when baresip is installed.
    static func installed() -> (binary: URL, modules: URL)? {
        let binary = URL(fileURLWithPath: "/usr/bin/baresip")
        let modules = URL(fileURLWithPath: "/usr/lib/baresip/modules")
        guard FileManager.default.isExecutableFile(atPath: binary.path),
            FileManager.default.fileExists(atPath: modules.appendingPathComponent("stdio.so").path)
        else { return nil }
        return (binary, modules)
    }

    /// Starts baresip for `user` (its account is its own address: nothing registers) with `contact` as the one it
    /// replies to.
    init(user: String, contact: String, base: URL, installation: (binary: URL, modules: URL)) async throws {
        self.user = user
        port = try DemoPorts.free(consecutive: 2)
        let directory = base.appendingPathComponent("baresip-\(user)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        // stdio is the command interface (stdin must be a pipe); no audio or video modules.
        let config = """
            poll_method\t\tepoll
            sip_listen\t\t127.0.0.1:\(port)
            module_path\t\t\(installation.modules.path)
            module\t\t\tstdio.so
            module_tmp\t\taccount.so
            module_app\t\tcontact.so
            module_app\t\tmenu.so

            """
        try config.write(to: directory.appendingPathComponent("config"), atomically: true, encoding: .utf8)
        try "<sip:\(user)@127.0.0.1:\(port)>;regint=0;pubint=0\n".write(to: directory.appendingPathComponent("accounts"), atomically: true, encoding: .utf8)
        try "\"notifier\" <\(contact)>\n".write(to: directory.appendingPathComponent("contacts"), atomically: true, encoding: .utf8)
        try contact.write(to: directory.appendingPathComponent("current_contact"), atomically: true, encoding: .utf8)
        process.executableURL = installation.binary
        process.arguments = ["-f", directory.path]
        process.currentDirectoryURL = directory
        let out = Pipe()
        let output = self.output
        out.fileHandleForReading.readabilityHandler = { handle in output.append(handle.availableData) }
        process.standardOutput = out
        process.standardError = out
        process.standardInput = input
        try process.run()
        DemoCleanup.shared.add(process)
        let deadline = ContinuousClock.now + .seconds(15)
        while !self.output.text.contains("baresip is ready."), process.isRunning, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        guard self.output.text.contains("baresip is ready.") else { throw DemoFailure(description: "baresip did not start: \(text.suffix(300))") }
    }

    /// Sends one menu command line (e.g. `/message ok A-42`).
    func command(_ line: String) {
        input.fileHandleForWriting.write(Data((line + "\n").utf8))
    }
}
