import Foundation

/// A contact in baresip's `contacts` file; `watchPresence` makes baresip SUBSCRIBE to its presence
/// (`;presence=p2p`: the SUBSCRIBE goes straight to the contact's URI).
struct BaresipContact {
    var name: String
    var uri: String
    var watchPresence = false

    var line: String { "\"\(name)\" <\(uri)>" + (watchPresence ? ";presence=p2p" : "") }
}

/// A headless baresip 1.0.0 user agent on 127.0.0.1 driven through its stdin, for interop tests.
///
/// Headless recipe (found by trying baresip 1.0.0): `baresip -f DIR` with a private config directory
/// (from Tests/IntegrationTests/baresip/config); the config loads only `stdio` (UI on stdin/stdout, needs stdin to be a pipe: /dev/null is refused by
/// epoll), `account`, `contact`, `menu` (the commands) and `presence`. Commands are menu long commands
/// written as lines to stdin: `/message TEXT` (MESSAGE to the current contact, which is set by the
/// `current_contact` file), `/contacts` (lists each contact with its presence: Online, Offline, Busy,
/// Unknown), `/reginfo`, `/quit`. An incoming MESSAGE prints `PEER-URI: "TEXT"`; a REGISTER success
/// prints `All 1 useragent registered successfully!`. baresip also binds SIP over TLS on port+1, so it
/// gets two consecutive free ports.
final class Baresip {
    let port: Int
    let user: String
    let directory: URL
    private let peer: PeerProcess

    /// The SIP address of this user agent's account.
    let aor: String

    /// The URI where baresip itself listens, e.g. `sip:bob@127.0.0.1:20444`.
    var localURI: String { "sip:\(user)@127.0.0.1:\(port)" }

    /// Starts baresip for `user`; with `registrarPort` its account lives at that registrar
    /// (`sip:USER@127.0.0.1:REGISTRAR`, REGISTER every 60 s) and startup waits for the 200 to REGISTER,
    /// otherwise the account is its own listening address and nothing is registered.
    init(user: String = "bob", registrarPort: Int? = nil, contacts: [BaresipContact] = [], currentContact: String? = nil) async throws {
        let baresip = try requireTool("baresip")
        let modules = URL(fileURLWithPath: "/usr/lib/baresip/modules")
        guard FileManager.default.fileExists(atPath: modules.appendingPathComponent("presence.so").path) else {
            throw ProcessTestError(description: "baresip modules are missing in \(modules.path); `make test` installs them (apt-get install baresip)")
        }
        self.user = user
        port = try FreePorts.reserve(consecutive: 2)
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("smf-baresip-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let template = try String(contentsOf: packageRoot.appendingPathComponent("Tests/IntegrationTests/baresip/config"), encoding: .utf8)
        let config = template.replacingOccurrences(of: "@PORT@", with: String(port)).replacingOccurrences(of: "@MODULES@", with: modules.path)
        try config.write(to: directory.appendingPathComponent("config"), atomically: true, encoding: .utf8)
        let account: String
        if let registrarPort {
            aor = "sip:\(user)@127.0.0.1:\(registrarPort)"
            account = "<\(aor)>;regint=60;pubint=0\n"
        } else {
            aor = "sip:\(user)@127.0.0.1:\(port)"
            account = "<\(aor)>;regint=0;pubint=0\n"
        }
        try account.write(to: directory.appendingPathComponent("accounts"), atomically: true, encoding: .utf8)
        let contactLines = contacts.map(\.line).joined(separator: "\n") + "\n"
        try contactLines.write(to: directory.appendingPathComponent("contacts"), atomically: true, encoding: .utf8)
        if let current = currentContact ?? contacts.first?.uri {
            try current.write(to: directory.appendingPathComponent("current_contact"), atomically: true, encoding: .utf8)
        }
        peer = try PeerProcess(baresip, ["-f", directory.path], currentDirectory: directory, interactive: true)
        do {
            try await peer.waitForOutput(containing: "baresip is ready.", timeout: .seconds(15))
            if registrarPort != nil { try await peer.waitForOutput(containing: "registered successfully", timeout: .seconds(15)) }
        } catch {
            stop()
            throw error
        }
    }

    /// Everything baresip printed so far (colour codes stripped, carriage returns as newlines).
    var output: String { peer.text }

    /// The current length of `output`, to wait only for what comes after it.
    var mark: Int { peer.text.count }

    /// Sends one menu command line, e.g. `/message hello`.
    func command(_ line: String) throws { try peer.write(line: line) }

    /// Waits until baresip prints `needle` after `mark`.
    @discardableResult
    func waitForOutput(containing needle: String, after mark: Int = 0, timeout: Duration = .seconds(10)) async throws -> Substring {
        try await peer.waitForOutput(containing: needle, after: mark, timeout: timeout)
    }

    /// Waits for a received MESSAGE with body `text` (printed as `PEER: "TEXT"`); returns the printed line.
    func waitForMessage(_ text: String, after mark: Int = 0, timeout: Duration = .seconds(10)) async throws -> String {
        let fresh = try await peer.waitForOutput(containing: ": \"\(text)\"", after: mark, timeout: timeout)
        return fresh.split(separator: "\n").first { $0.contains(": \"\(text)\"") }.map(String.init) ?? ""
    }

    /// The presence baresip shows for `uri` in `/contacts` (`Online`, `Offline`, `Busy`, `Unknown`).
    func presence(of uri: String) async throws -> String {
        let start = mark
        try command("/contacts")
        let fresh = try await peer.waitForOutput(after: start, timeout: .seconds(5), "a /contacts line for \(uri)") { text in
            text.split(separator: "\n").contains { $0.contains("<\(uri)>") }
        }
        let line = fresh.split(separator: "\n").first { $0.contains("<\(uri)>") } ?? ""
        return line.split(separator: " ").first { ["Online", "Offline", "Busy", "Unknown"].contains(String($0)) }.map(String.init) ?? String(line)
    }

    /// Polls `/contacts` until `uri` shows `status`; throws with the last status and the log otherwise.
    ///
    /// The default of 20 s leaves room on a loaded machine: a notifier sends a subscription at most one NOTIFY every
    /// 5 s (RFC 3856 §6.4; smf and Kamailio both throttle), so a change published right after another one reaches
    /// baresip up to 5 s later.
    func waitForPresence(of uri: String, toBe status: String, timeout: Duration = .seconds(20)) async throws {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        var last = ""
        while clock.now < deadline {
            last = try await presence(of: uri)
            if last == status { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw ProcessTestError(description: "baresip shows \(uri) as \(last), not \(status), after \(timeout); output:\n\(output.suffix(4000))")
    }

    /// Stops baresip (SIGTERM lets it unregister and unsubscribe; SIGKILL after 5 s) and removes its directory.
    func stop() {
        peer.stop(signal: SIGTERM, grace: .seconds(5))
        try? FileManager.default.removeItem(at: directory)
    }
}
