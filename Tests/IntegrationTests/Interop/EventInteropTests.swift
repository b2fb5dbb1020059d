import Foundation
import Testing

// smf against real third-party SIP software (issue 3): baresip watches an smf node's presence and
// exchanges MESSAGEs with it, sipp drives m2m-alarm SUBSCRIBE/NOTIFY dialogs, and Kamailio serves as
// registrar and presence server for an smf node. The harnesses (KamailioServer, Baresip, runSipp,
// UDPPeer, SIPText) are proven on their own in KamailioInteropTests and BaresipInteropTests.

/// Runs an `smf` CLI command against a running node's data directory and requires exit status 0.
@discardableResult
private func smf(_ arguments: [String], timeout: Duration = .seconds(20)) async throws -> String {
    let result = try await runTool(smfBinary(), arguments, timeout: timeout)
    guard result.status == 0 else {
        throw ProcessTestError(description: "smf \(arguments.joined(separator: " ")) exited \(result.status):\n\(result.output)")
    }
    return result.output
}

/// Polls `smf messages --data DIR` until a message with `text` is listed; returns the listing.
private func waitForInboxMessage(_ text: String, data: URL, timeout: Duration = .seconds(10)) async throws -> String {
    let clock = ContinuousClock()
    let deadline = clock.now + timeout
    var listing = ""
    while clock.now < deadline {
        listing = try await smf(["messages", "--data", data.path])
        if listing.contains(text) { return listing }
        try await Task.sleep(for: .milliseconds(100))
    }
    throw ProcessTestError(description: "smf messages never listed \"\(text)\"; last listing:\n\(listing)")
}

// MARK: - (a) baresip watches an smf node's presence

@Suite(.serialized, .timeLimit(.minutes(2))) struct BaresipWatchesSMFPresenceTests {
    @Test func baresipSubscribesToAnSMFNodeAndSeesEachPublishedStatus() async throws {
        let node = try await SMFProcess(extraArguments: ["--user", "alice"])
        defer { node.cleanUp() }
        let alice = "sip:alice@127.0.0.1:\(node.udpPort)"
        try await smf(["presence", "publish", "--data", node.dataDirectory.path, "--status", "open", "--note", "ready"])

        let bob = try await Baresip(user: "bob", contacts: [BaresipContact(name: "alice", uri: alice, watchPresence: true)])
        defer { bob.stop() }
        try await bob.waitForPresence(of: alice, toBe: "Online")

        let subscriptions = try await smf(["subscriptions", "--data", node.dataDirectory.path])
        #expect(subscriptions.contains("presence"), "listing:\n\(subscriptions)")
        #expect(subscriptions.contains("sip:bob@127.0.0.1:\(bob.port)"), "listing:\n\(subscriptions)")

        try await smf(["presence", "publish", "--data", node.dataDirectory.path, "--status", "closed"])
        try await bob.waitForPresence(of: alice, toBe: "Offline")
        try await smf(["presence", "publish", "--data", node.dataDirectory.path, "--status", "open", "--location", "48.85,2.35"])
        try await bob.waitForPresence(of: alice, toBe: "Online")
    }
}

// MARK: - (b) MESSAGE both ways between baresip and smf

@Suite(.serialized, .timeLimit(.minutes(2))) struct BaresipMessagesSMFTests {
    @Test func smfStoresAMessageBaresipSendsAndBaresipPrintsOneSMFSends() async throws {
        let node = try await SMFProcess(extraArguments: ["--user", "alice"])
        defer { node.cleanUp() }
        let alice = "sip:alice@127.0.0.1:\(node.udpPort)"
        let bob = try await Baresip(user: "bob", contacts: [BaresipContact(name: "alice", uri: alice)])
        defer { bob.stop() }

        let inbound = "alarm cleared on pump 7 \(UUID().uuidString.prefix(8))"
        try bob.command("/message \(inbound)")
        let inbox = try await waitForInboxMessage(inbound, data: node.dataDirectory)
        #expect(inbox.contains("sip:bob@127.0.0.1:\(bob.port)"), "inbox:\n\(inbox)")

        let outbound = "ack from alice \(UUID().uuidString.prefix(8))"
        let mark = bob.mark
        let sent = try await smf(["message", "send", "--data", node.dataDirectory.path, bob.localURI, outbound])
        #expect(sent.contains("200"), "smf message send output:\n\(sent)")
        let line = try await bob.waitForMessage(outbound, after: mark)
        #expect(line.hasPrefix("sip:alice@127.0.0.1:\(node.udpPort)"))
    }
}

// MARK: - (c) sipp m2m-alarm SUBSCRIBE/NOTIFY load against `smf run`

@Suite(.serialized, .timeLimit(.minutes(3))) struct SippAlarmSubscriptionTests {
    /// Same scenario as KamailioInteropTests' presence run; only the event package differs.
    ///
    /// Issue 3 asks for ≥ 500 dialogs at ≥ 100 dialogs/s. sipp starts dialogs at `-r 120`; the rate checked is
    /// the dialogs completed divided by the wall time of the whole sipp run (process start to the last dialog's
    /// end), so a node that falls behind shows a lower figure. At `-r 100` that measure is 99/s even when the node
    /// keeps up, because 500 dialogs started 10 ms apart span 4.99 s before the last one runs.
    @Test(arguments: [("u1", "udp"), ("t1", "tcp")])
    func sippRuns500AlarmSubscriptionsAtOver100PerSecondWithoutFailures(mode: String, transport: String) async throws {
        let sipp = try requireTool("sipp")
        let node = try await SMFProcess(extraArguments: ["--user", "alarm"])
        defer { node.cleanUp() }
        let port = transport == "udp" ? node.udpPort : node.tcpPort
        let run = try await runSipp(
            sipp, scenario: "subscribe_uac.xml", target: "127.0.0.1:\(port)", mode: mode, calls: 500, rate: 120,
            keys: ["event": "m2m-alarm"], service: "alarm"
        )
        #expect(run.result.status == 0, "sipp exit \(run.result.status); output:\n\(run.result.output.suffix(4000))")
        #expect(run.stats.successfulCalls == 500)
        #expect(run.stats.failedCalls == 0)
        #expect(run.stats.unexpectedMessages == 0)
        #expect(run.callsPerSecond >= 100, "\(run.callsPerSecond) dialogs/s")
        #expect(node.process.isRunning)
        print("sipp m2m-alarm vs smf over \(transport): \(run.stats.successfulCalls) dialogs ok, \(run.stats.failedCalls) failed in \(run.elapsed) (\(Int(run.callsPerSecond)) dialogs/s)")
    }
}

// MARK: - (d) smf registers and publishes at Kamailio; others see it through Kamailio

@Suite(.serialized, .timeLimit(.minutes(2))) struct SMFAtKamailioTests {
    @Test func smfRegistersAtKamailioAndAMessageToItsAddressOfRecordArrives() async throws {
        try await withKamailio { server in
            let node = try await SMFProcess(extraArguments: ["--user", "alice", "--registrar", server.uri])
            defer { node.cleanUp() }
            let aliceAtServer = "sip:alice@127.0.0.1:\(server.port)"
            let carol = try await UDPPeer(timeout: .seconds(30))
            defer { carol.close() }
            let text = "via kamailio \(UUID().uuidString.prefix(8))"
            // Kamailio answers 404 until smf's REGISTER has landed; retry for a few seconds.
            var status = ""
            for _ in 0..<50 where status != "SIP/2.0 200 OK" {
                try await carol.send(SIPText.message(from: "sip:carol@127.0.0.1:\(carol.port)", to: aliceAtServer, requestURI: aliceAtServer, localPort: carol.port, text: text), to: server.port)
                status = statusLine(of: try await carol.receiveFinalResponse(to: "MESSAGE"))
                if status != "SIP/2.0 200 OK" { try await Task.sleep(for: .milliseconds(100)) }
            }
            #expect(status == "SIP/2.0 200 OK")
            let inbox = try await waitForInboxMessage(text, data: node.dataDirectory)
            #expect(inbox.contains("sip:carol@127.0.0.1:\(carol.port)"), "inbox:\n\(inbox)")
        }
    }

    @Test func smfPublishesPresenceAtKamailioAndWatchersSubscribedThereGetItsPIDF() async throws {
        try await withKamailio { server in
            let node = try await SMFProcess(extraArguments: ["--user", "alice", "--registrar", server.uri])
            defer { node.cleanUp() }
            let aliceAtServer = "sip:alice@127.0.0.1:\(server.port)"
            let bob = try await Baresip(user: "bob", registrarPort: server.port, contacts: [BaresipContact(name: "alice", uri: aliceAtServer, watchPresence: true)])
            defer { bob.stop() }

            try await smf(["presence", "publish", "--data", node.dataDirectory.path, "--status", "open", "--note", "pump 7 running"])
            try await bob.waitForPresence(of: aliceAtServer, toBe: "Online")

            let watcher = try await UDPPeer(timeout: .seconds(30))
            defer { watcher.close() }
            try await watcher.send(SIPText.subscribe(watcher: "sip:watcher@127.0.0.1", target: aliceAtServer, requestURI: aliceAtServer, localPort: watcher.port), to: server.port)
            let first = try await watcher.receive("the 200 to SUBSCRIBE and the initial NOTIFY", count: 2) { $0.hasPrefix("SIP/2.0 200") || $0.hasPrefix("NOTIFY ") }
            let notify = try #require(first.first { $0.hasPrefix("NOTIFY ") })
            try await watcher.send(SIPText.ok(to: notify), to: server.port)
            let pidf = SIPText.body(of: notify)
            #expect(pidf.contains("urn:ietf:params:xml:ns:pidf"))
            #expect(pidf.contains("<basic>open</basic>"))
            #expect(pidf.contains("pump 7 running"))

            try await smf(["presence", "publish", "--data", node.dataDirectory.path, "--status", "closed"])
            try await bob.waitForPresence(of: aliceAtServer, toBe: "Offline")
            let update = try await watcher.acceptNotifies(from: server.port, until: "closed") { SIPText.body(of: $0).contains("<basic>closed</basic>") }
            #expect(!SIPText.body(of: update).contains("<basic>open</basic>"))
        }
    }

    @Test func smfWatchPrintsEachNotifyForAPresentityPublishedAtKamailio() async throws {
        try await withKamailio { server in
            let node = try await SMFProcess(extraArguments: ["--user", "alice"])
            defer { node.cleanUp() }
            let carolAtServer = "sip:carol@127.0.0.1:\(server.port)"
            let publisher = try await UDPPeer(timeout: .seconds(30))
            defer { publisher.close() }
            try await publisher.send(SIPText.publish(aor: carolAtServer, requestURI: carolAtServer, localPort: publisher.port, body: SIPText.pidf(entity: carolAtServer, basic: "open", note: "carol-open")), to: server.port)
            let etag = try #require(headerValue("SIP-ETag", in: try await publisher.receiveFinalResponse(to: "PUBLISH")))

            let watch = try PeerProcess(smfBinary(), ["presence", "watch", "--data", node.dataDirectory.path, carolAtServer])
            defer { watch.stop(signal: SIGINT) }
            try await watch.waitForOutput(containing: "carol-open")
            let mark = watch.text.count
            try await publisher.send(SIPText.publish(aor: carolAtServer, requestURI: carolAtServer, localPort: publisher.port, body: SIPText.pidf(entity: carolAtServer, basic: "closed", note: "carol-closed"), ifMatch: etag), to: server.port)
            #expect(statusLine(of: try await publisher.receiveFinalResponse(to: "PUBLISH")) == "SIP/2.0 200 OK")
            let fresh = try await watch.waitForOutput(containing: "carol-closed", after: mark)
            #expect(fresh.contains("closed"))
        }
    }
}
