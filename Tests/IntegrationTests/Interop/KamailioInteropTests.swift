import Foundation
import Testing

/// The Kamailio harness against Kamailio itself: the reference registrar/presence server the smf
/// interop tests (EventInteropTests) run against.
@Suite(.serialized, .timeLimit(.minutes(2))) struct KamailioInteropTests {
    @Test func kamailioAnswersOptionsOverUDPAndTCPAndStopsWithAllItsWorkers() async throws {
        let server = try await KamailioServer()
        defer { server.stop() }
        let tcp = try await runTool(smfBinary(), ["options", server.uri, "--transport", "tcp", "--timeout", "5"], timeout: .seconds(20))
        #expect(tcp.status == 0, "output:\n\(tcp.output)")
        #expect(tcp.output.contains("Server: kamailio"))
        #expect(server.isAlive)
        #expect(server.stop(), "kamailio needed SIGKILL; log:\n\(server.log.suffix(2000))")
        #expect(!server.isAlive)
        #expect(!FileManager.default.fileExists(atPath: server.directory.path))
    }

    @Test func presencePublishedAtKamailioReachesASubscriberInTheInitialAndLaterNotifies() async throws {
        try await withKamailio { server in
            let publisher = try await UDPPeer(timeout: .seconds(30))
            let watcher = try await UDPPeer(timeout: .seconds(30))
            defer { publisher.close(); watcher.close() }
            let alice = "sip:alice@127.0.0.1"
            let aliceAtServer = "sip:alice@127.0.0.1:\(server.port)"

            let open = SIPText.pidf(entity: alice, basic: "open", note: "interop-open-note")
            try await publisher.send(SIPText.publish(aor: alice, requestURI: aliceAtServer, localPort: publisher.port, body: open), to: server.port)
            let published = try await publisher.receiveFinalResponse(to: "PUBLISH")
            #expect(statusLine(of: published) == "SIP/2.0 200 OK")
            let etag = try #require(headerValue("SIP-ETag", in: published), "no SIP-ETag in \(published)")

            try await watcher.send(SIPText.subscribe(watcher: "sip:watcher@127.0.0.1", target: alice, requestURI: aliceAtServer, localPort: watcher.port), to: server.port)
            let first = try await watcher.receive("the 200 to SUBSCRIBE and the initial NOTIFY", count: 2) { $0.hasPrefix("SIP/2.0 200") || $0.hasPrefix("NOTIFY ") }
            let initial = try #require(first.first { $0.hasPrefix("NOTIFY ") })
            try await watcher.send(SIPText.ok(to: initial), to: server.port)
            #expect(headerValue("Event", in: initial) == "presence")
            #expect(headerValue("Subscription-State", in: initial)?.hasPrefix("active") == true)
            #expect(headerValue("Content-Type", in: initial) == "application/pidf+xml")
            #expect(SIPText.body(of: initial).contains("<basic>open</basic>"))
            #expect(SIPText.body(of: initial).contains("interop-open-note"))

            let closed = SIPText.pidf(entity: alice, basic: "closed", note: "interop-closed-note")
            try await publisher.send(SIPText.publish(aor: alice, requestURI: aliceAtServer, localPort: publisher.port, body: closed, ifMatch: etag), to: server.port)
            #expect(statusLine(of: try await publisher.receiveFinalResponse(to: "PUBLISH")) == "SIP/2.0 200 OK")
            let update = try await watcher.acceptNotifies(from: server.port, until: "closed") { SIPText.body(of: $0).contains("<basic>closed</basic>") }
            #expect(SIPText.body(of: update).contains("interop-closed-note"))
            #expect(!SIPText.body(of: update).contains("<basic>open</basic>"))
        }
    }

    /// The same scenario smf must pass with `-key event m2m-alarm`, proven here with Kamailio's presence package.
    @Test(arguments: [("u1", "udp"), ("t1", "tcp")])
    func sippSubscribeScenarioRuns500DialogsAt100PerSecondWithoutFailures(mode: String, transport: String) async throws {
        let sipp = try requireTool("sipp")
        try await withKamailio { server in
            let run = try await runSipp(
                sipp, scenario: "subscribe_uac.xml", target: "127.0.0.1:\(server.port)", mode: mode, calls: 500, rate: 100,
                keys: ["event": "presence"], service: "alarm"
            )
            #expect(run.result.status == 0, "sipp exit \(run.result.status); output:\n\(run.result.output.suffix(4000))")
            #expect(run.stats.successfulCalls == 500)
            #expect(run.stats.failedCalls == 0)
            #expect(run.stats.unexpectedMessages == 0)
            #expect(run.callsPerSecond >= 90)
            print("sipp SUBSCRIBE/NOTIFY vs kamailio over \(transport): \(run.stats.successfulCalls) dialogs ok, \(run.stats.failedCalls) failed, \(run.stats.unexpectedMessages) unexpected in \(run.elapsed) (\(Int(run.callsPerSecond)) dialogs/s)")
        }
    }
}
