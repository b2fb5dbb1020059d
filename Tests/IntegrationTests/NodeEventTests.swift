import Foundation
import SMFNode
import Testing

/// Two real `smf run` processes on 127.0.0.1 exchanging presence, MESSAGE and m2m-alarm state through the
/// `smf` commands, as an operator would.
@Suite(.serialized, .timeLimit(.minutes(3))) struct NodeEventTests {
    @Test func watcherPrintsThePresenceAnotherNodePublishesAndBothListTheSubscription() async throws {
        let alice = try await NodeProcess(user: "alice")
        defer { alice.cleanUp() }
        let bob = try await NodeProcess(user: "bob")
        defer { bob.cleanUp() }

        let watch = try RunningCommand(["presence", "watch", "--data", bob.data, alice.aor, "--count", "2"])
        defer { watch.stop() }
        // The first NOTIFY (RFC 6665 §4.2.1.2) carries the offline document: nothing was published yet.
        try await watch.waitForOutput(containing: "\(alice.aor) presence active")
        #expect(watch.text.contains(": closed"), "output:\n\(watch.text)")

        let atAlice = try await smf(["subscriptions", "--data", alice.data])
        let notifierRow = try #require(atAlice.split(separator: "\n").first { $0.hasPrefix("notifier") }, "listing:\n\(atAlice)")
        #expect(notifierRow.contains("presence") && notifierRow.contains("sip:bob@127.0.0.1:\(bob.udpPort)") && notifierRow.contains("active"))
        let atBob = try await smf(["subscriptions", "--data", bob.data, "--json"])
        let rows = try JSONDecoder().decode([SubscriptionRow].self, from: Data(atBob.utf8))
        #expect(rows.count == 1)
        #expect(rows.first?.role == "subscriber")
        #expect(rows.first?.package == "presence")
        #expect(rows.first?.peer == alice.aor)
        #expect(rows.first?.lastCSeq == 1)

        let published = try await smf(["presence", "publish", "--data", alice.data, "--status", "closed", "--note", "away", "--activity", "busy", "--location", "48.85,2.35"])
        #expect(published == "published closed for \(alice.aor) to 1 watcher\n")
        let status = try await watch.waitForExit(timeout: .seconds(20))
        #expect(status == 0, "output:\n\(watch.text)")
        let lines = watch.text.split(separator: "\n").map(String.init)
        #expect(lines.count == 2, "output:\n\(watch.text)")
        #expect(lines.last?.hasSuffix(": closed note=\"away\" activities=busy location=48.85,2.35") == true, "output:\n\(watch.text)")

        // The watch ended with --count: it unsubscribed, so neither side lists the subscription any more.
        try await eventually("alice still lists bob's subscription") {
            try await smf(["subscriptions", "--data", alice.data]) == "no subscriptions\n"
        }
        #expect(try await smf(["subscriptions", "--data", bob.data]) == "no subscriptions\n")
    }

    @Test func messageFromOneNodeIsListedOnTheOtherAndSurvivesItsRestart() async throws {
        let alice = try await NodeProcess(user: "alice")
        defer { alice.cleanUp() }
        var bob = try await NodeProcess(user: "bob")
        defer { bob.cleanUp() }

        let follow = try RunningCommand(["messages", "--data", bob.data, "--follow"])
        defer { follow.stop() }
        let text = "pump 7 pressure high \(UUID().uuidString.prefix(8))"
        let sent = try await smf(["message", "send", "--data", alice.data, bob.aor, text])
        #expect(sent == "delivered: 200\n")
        // Stored before the 200 went out: listed at once, no waiting.
        let listing = try await smf(["messages", "--data", bob.data])
        let line = try #require(listing.split(separator: "\n").last.map(String.init))
        #expect(line.hasSuffix(" \(alice.aor) \(text)"), "listing:\n\(listing)")
        try await follow.waitForOutput(containing: text)
        #expect(follow.text.contains(" \(alice.aor) \(text)"), "follow output:\n\(follow.text)")

        // Stored in SQLite: a clean restart on the same data directory still lists it.
        let outcome = try #require(try await bob.stop(signal: SIGTERM))
        #expect(outcome == 0)
        bob = try await NodeProcess(user: "bob", dataDirectory: bob.dataDirectory)
        let after = try await smf(["messages", "--data", bob.data, "--json"])
        let stored = try JSONDecoder().decode(ReceivedMessage.self, from: Data(try #require(after.split(separator: "\n").last).utf8))
        #expect(stored.text == text)
        #expect(stored.from == alice.aor)
        #expect(stored.contentType == "text/plain")
    }

    @Test func notifierKilledAndRestartedOnItsDatabaseNotifiesWithAHigherCSeq() async throws {
        var alice = try await NodeProcess(user: "alice")
        defer { alice.cleanUp() }
        let bob = try await NodeProcess(user: "bob")
        defer { bob.cleanUp() }

        let watch = try RunningCommand(["presence", "watch", "--data", bob.data, alice.aor])
        defer { watch.stop() }
        try await watch.waitForOutput(containing: "\(alice.aor) presence active")
        _ = try await smf(["presence", "publish", "--data", alice.data, "--status", "open", "--note", "before-crash"])
        try await watch.waitForOutput(containing: "note=\"before-crash\"")
        let before = try await subscriberCSeq(on: bob)
        #expect(before == 2)

        // kill -9: no shutdown, no cleanup; the restarted node has only what SQLite held.
        kill(alice.process.processIdentifier, SIGKILL)
        alice.process.waitUntilExit()
        alice = try await NodeProcess(user: "alice", dataDirectory: alice.dataDirectory, port: alice.udpPort)
        let restored = try await smf(["subscriptions", "--data", alice.data, "--json"])
        let rows = try JSONDecoder().decode([SubscriptionRow].self, from: Data(restored.utf8))
        #expect(rows.map(\.role) == ["notifier"], "the restarted node lost bob's subscription:\n\(restored)")
        #expect(rows.first?.lastCSeq == before)

        let mark = watch.text.count
        _ = try await smf(["presence", "publish", "--data", alice.data, "--status", "closed", "--note", "after-restart"])
        try await watch.waitForOutput(containing: "closed note=\"after-restart\"", after: mark)
        let after = try await subscriberCSeq(on: bob)
        #expect(after > before, "NOTIFY CSeq went from \(before) to \(after) across the restart")
        #expect(watch.process.isRunning, "the watch must keep its subscription across the notifier's restart")
    }

    @Test func alarmStateSetOnOneNodeReachesAWatcherOfTheM2MAlarmPackage() async throws {
        let pump = try await NodeProcess(user: "pump7")
        defer { pump.cleanUp() }
        let bob = try await NodeProcess(user: "bob")
        defer { bob.cleanUp() }

        let watch = try RunningCommand(["presence", "watch", "--data", bob.data, pump.aor, "--package", "m2m-alarm", "--count", "2"])
        defer { watch.stop() }
        try await watch.waitForOutput(containing: "(no body)")  // nothing set yet: the first NOTIFY has no body
        let set = try await smf(["state", "set", "--data", pump.data, "--package", "m2m-alarm", "pressure high"])
        #expect(set == "m2m-alarm state of sip:pump7@127.0.0.1 set; 1 watcher\n")
        #expect(try await watch.waitForExit(timeout: .seconds(20)) == 0)
        let lines = watch.text.split(separator: "\n").map(String.init)
        #expect(lines.count == 2, "output:\n\(watch.text)")
        #expect(lines.last?.hasPrefix("\(pump.aor) m2m-alarm active;expires=") == true, "output:\n\(watch.text)")
        #expect(lines.last?.hasSuffix(": pressure high") == true, "output:\n\(watch.text)")

        let unknown = try await runTool(smfBinary(), ["state", "set", "--data", pump.data, "--package", "no-such-package", "x"], timeout: .seconds(20))
        #expect(unknown.status == 1)
        #expect(unknown.output.contains("smf state set: cannot set the state of 'no-such-package'"), "output:\n\(unknown.output)")
        #expect(unknown.output.contains("m2m-alarm, presence"), "output:\n\(unknown.output)")
    }

    @Test func badArgumentsAndAMissingNodeGetClearMessagesAndExitCodes() async throws {
        let missing = FileManager.default.temporaryDirectory.appendingPathComponent("smf-none-\(UUID().uuidString)").path
        let noNode = try await runTool(smfBinary(), ["presence", "publish", "--data", missing, "--status", "open"], timeout: .seconds(20))
        #expect(noNode.status == 1)
        #expect(noNode.output == "smf presence publish: no smf node is running with data dir \(missing) (no control.sock)\n")
        for command in [["messages"], ["subscriptions"], ["message", "send", "sip:bob@127.0.0.1:5060", "hi"], ["presence", "watch", "sip:a@127.0.0.1"]] {
            let result = try await runTool(smfBinary(), command + ["--data", missing], timeout: .seconds(20))
            #expect(result.status == 1, "\(command): \(result.output)")
            #expect(result.output.contains("no smf node is running with data dir \(missing)"), "\(command): \(result.output)")
        }

        let badStatus = try await runTool(smfBinary(), ["presence", "publish", "--data", missing, "--status", "maybe"], timeout: .seconds(20))
        #expect(badStatus.status == 64)  // EX_USAGE, before any node is contacted
        #expect(badStatus.output.contains("--status must be open or closed, not 'maybe'"))
        let badLocation = try await runTool(smfBinary(), ["presence", "publish", "--data", missing, "--status", "open", "--location", "95,2"], timeout: .seconds(20))
        #expect(badLocation.status == 64)
        #expect(badLocation.output.contains("--location must be LAT,LON"))
        let badURI = try await runTool(smfBinary(), ["message", "send", "--data", missing, "bob@example.com", "hi"], timeout: .seconds(20))
        #expect(badURI.status == 64)
        #expect(badURI.output.contains("'bob@example.com' is not a sip: URI"))

        // A MESSAGE the peer refuses: exit 1 with the status and reason.
        let alice = try await NodeProcess(user: "alice")
        defer { alice.cleanUp() }
        let bob = try await NodeProcess(user: "bob")
        defer { bob.cleanUp() }
        let refused = try await runTool(smfBinary(), ["message", "send", "--data", alice.data, bob.aor, "<x/>", "--content-type", "image/png"], timeout: .seconds(20))
        #expect(refused.status == 1)
        #expect(refused.output == "rejected: 415 Unsupported Media Type\n", "output:\n\(refused.output)")
    }
}

// MARK: - Helpers

/// Runs `smf ARGUMENTS` to completion and requires exit status 0; returns its output.
@discardableResult
private func smf(_ arguments: [String]) async throws -> String {
    let result = try await runTool(smfBinary(), arguments, timeout: .seconds(40))
    guard result.status == 0 else {
        throw ProcessTestError(description: "smf \(arguments.joined(separator: " ")) exited \(result.status):\n\(result.output)")
    }
    return result.output
}

/// The last NOTIFY CSeq of the node's only subscriber-role subscription.
private func subscriberCSeq(on node: NodeProcess) async throws -> UInt32 {
    let rows = try JSONDecoder().decode([SubscriptionRow].self, from: Data(try await smf(["subscriptions", "--data", node.data, "--json"]).utf8))
    let row = try #require(rows.first { $0.role == "subscriber" }, "no subscriber row in \(rows)")
    return try #require(row.lastCSeq)
}

/// Polls `condition` every 100 ms for up to `timeout`.
private func eventually(_ what: String, timeout: Duration = .seconds(10), _ condition: () async throws -> Bool) async throws {
    let clock = ContinuousClock()
    let deadline = clock.now + timeout
    while clock.now < deadline {
        if try await condition() { return }
        try await Task.sleep(for: .milliseconds(100))
    }
    throw ProcessTestError(description: "\(what) after \(timeout)")
}

/// `smf run --user USER` on 127.0.0.1 (ephemeral ports unless given), on a fresh or given data directory.
private final class NodeProcess {
    let process = Process()
    let dataDirectory: URL
    private let output = OutputBuffer()
    private(set) var udpPort = 0
    private(set) var tcpPort = 0

    var data: String { dataDirectory.path }
    var log: String { output.text }
    let user: String
    /// The node's address of record, `sip:USER@127.0.0.1:UDP`.
    var aor: String { "sip:\(user)@127.0.0.1:\(udpPort)" }

    /// - Parameter port: UDP and TCP port; a free one when nil. Both on one number, as RFC 3261 §18.1.1 expects
    ///   when a large request moves from UDP to TCP (a PIDF with a location does).
    init(user: String, dataDirectory: URL? = nil, port: Int? = nil) async throws {
        self.user = user
        let port = try port ?? FreePorts.reserve()
        self.dataDirectory = dataDirectory ?? FileManager.default.temporaryDirectory.appendingPathComponent("smf-node-\(UUID().uuidString)")
        process.executableURL = smfBinary()
        process.arguments = [
            "run", "--data", self.dataDirectory.path, "--user", user, "--listen", "udp:127.0.0.1:\(port)", "--listen", "tcp:127.0.0.1:\(port)",
        ]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        process.standardInput = FileHandle.nullDevice
        let output = self.output
        pipe.fileHandleForReading.readabilityHandler = { handle in output.append(handle.availableData) }
        try process.run()
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(30)
        var ready: Substring?
        while ready == nil, process.isRunning, clock.now < deadline {
            ready = output.text.split(separator: "\n").first { $0.hasPrefix("smf ready: ") }
            if ready == nil { try await Task.sleep(for: .milliseconds(20)) }
        }
        guard let ready else {
            cleanUp()
            throw ProcessTestError(description: "smf run printed no ready line; output:\n\(output.text)")
        }
        for token in ready.split(separator: " ") {
            let parts = token.split(separator: ":")
            guard parts.count == 3, let port = Int(parts[2]) else { continue }
            if parts[0] == "udp" { self.udpPort = port }
            if parts[0] == "tcp" { self.tcpPort = port }
        }
    }

    /// Sends `signal` and waits up to 10 s; the exit status, or nil if it is still running.
    func stop(signal: Int32) async throws -> Int32? {
        kill(process.processIdentifier, signal)
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(10)
        while process.isRunning && clock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
        guard !process.isRunning else { return nil }
        return process.terminationStatus
    }

    /// Kills the process if it still runs and removes the data directory.
    func cleanUp() {
        endProcess(process, with: SIGKILL, grace: .seconds(5))
        try? FileManager.default.removeItem(at: dataDirectory)
    }
}

/// A long-running `smf` command (`presence watch`, `messages --follow`) whose output is read as it comes.
private final class RunningCommand {
    let process = Process()
    private let output = OutputBuffer()

    init(_ arguments: [String]) throws {
        process.executableURL = smfBinary()
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        process.standardInput = FileHandle.nullDevice
        let output = self.output
        pipe.fileHandleForReading.readabilityHandler = { handle in output.append(handle.availableData) }
        try process.run()
    }

    var text: String { output.text }

    /// Waits until the output after character `mark` contains `needle`.
    func waitForOutput(containing needle: String, after mark: Int = 0, timeout: Duration = .seconds(20)) async throws {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        while clock.now < deadline {
            if String(text.dropFirst(mark)).contains(needle) { return }
            if !process.isRunning, !String(text.dropFirst(mark)).contains(needle) {
                throw ProcessTestError(description: "smf exited (\(process.terminationStatus)) without printing \"\(needle)\"; output:\n\(text)")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw ProcessTestError(description: "no \"\(needle)\" within \(timeout); output:\n\(text)")
    }

    /// Waits for the command to exit; its status.
    func waitForExit(timeout: Duration) async throws -> Int32 {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        while process.isRunning && clock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        guard !process.isRunning else { throw ProcessTestError(description: "smf did not exit within \(timeout); output:\n\(text)") }
        return process.terminationStatus
    }

    /// Ends the command with SIGINT (as Ctrl-C does) if it still runs, and with SIGKILL if that has not ended it
    /// within 10 s.
    func stop() {
        endProcess(process, with: SIGINT, grace: .seconds(10))
    }
}
