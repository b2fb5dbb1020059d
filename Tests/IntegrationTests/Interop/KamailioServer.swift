import Foundation

/// A throwaway Kamailio registrar and presence server on 127.0.0.1 (UDP and TCP on one port), built
/// from Tests/IntegrationTests/kamailio/kamailio.cfg with a private copy of the db_text database.
///
/// Kamailio runs in the foreground (`-DD -E`: no daemonizing, log to stderr) under PeerProcess's shell
/// guardian (Kamailio closes inherited descriptors); SIGTERM reaches the main process, which ends all
/// its workers, and `stop()` kills any that linger in the process group.
final class KamailioServer {
    let port: Int
    let directory: URL
    private let peer: PeerProcess

    /// The server's own URI, e.g. `sip:127.0.0.1:20123`.
    var uri: String { "sip:127.0.0.1:\(port)" }

    /// Starts Kamailio and waits until it answers OPTIONS (checked with `smf options`).
    init() async throws {
        let kamailio = try requireTool("kamailio")
        let source = URL(fileURLWithPath: "/usr/share/kamailio/dbtext/kamailio")
        guard FileManager.default.fileExists(atPath: source.path) else {
            throw ProcessTestError(description: "\(source.path) is missing; `make test` installs it (apt-get install kamailio)")
        }
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("smf-kamailio-\(UUID().uuidString)")
        let database = directory.appendingPathComponent("db")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: source, to: database)
        port = try FreePorts.reserve()
        let template = try String(contentsOf: packageRoot.appendingPathComponent("Tests/IntegrationTests/kamailio/kamailio.cfg"), encoding: .utf8)
        let configuration = template.replacingOccurrences(of: "@PORT@", with: String(port)).replacingOccurrences(of: "@DBDIR@", with: database.path)
        let configFile = directory.appendingPathComponent("kamailio.cfg")
        try configuration.write(to: configFile, atomically: true, encoding: .utf8)
        let pidFile = directory.appendingPathComponent("kamailio.pid")
        peer = try PeerProcess(kamailio, ["-f", configFile.path, "-P", pidFile.path, "-w", directory.path, "-DD", "-E"], currentDirectory: directory, closesInheritedDescriptors: true)
        do {
            try await waitUntilAnswering()
        } catch {
            stop()
            throw error
        }
    }

    private func waitUntilAnswering() async throws {
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(20)
        var last = ""
        while clock.now < deadline {
            guard peer.process.isRunning else { throw ProcessTestError(description: "kamailio exited (\(peer.process.terminationStatus)):\n\(peer.text)") }
            let result = try await runTool(smfBinary(), ["options", uri, "--timeout", "1"], timeout: .seconds(10))
            if result.status == 0 && result.output.hasPrefix("SIP/2.0 200 ") { return }
            last = result.output
            try await Task.sleep(for: .milliseconds(100))
        }
        throw ProcessTestError(description: "kamailio on port \(port) did not answer OPTIONS within 20 s; last smf options output:\n\(last)\nkamailio log:\n\(peer.text)")
    }

    /// Kamailio's log so far.
    var log: String { peer.text }

    /// True while the main process or any worker is alive.
    var isAlive: Bool { peer.groupIsAlive }

    /// Stops Kamailio (SIGTERM, then SIGKILL for anything left) and removes its directory; call it in a `defer`.
    @discardableResult
    func stop() -> Bool {
        let clean = peer.stop(signal: SIGTERM, grace: .seconds(5))
        try? FileManager.default.removeItem(at: directory)
        return clean
    }
}

/// Runs `body` with a started Kamailio and always stops it afterwards, whether `body` throws or not.
func withKamailio<T>(_ body: (KamailioServer) async throws -> T) async throws -> T {
    let server = try await KamailioServer()
    defer { server.stop() }
    return try await body(server)
}
