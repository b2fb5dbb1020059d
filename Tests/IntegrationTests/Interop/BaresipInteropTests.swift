import Foundation
import Testing

/// The baresip harness against Kamailio and scripted UDP peers: every baresip behaviour the smf
/// interop tests rely on (register, watch presence, receive and send MESSAGE) shown with a peer that exists.
@Suite(.serialized, .timeLimit(.minutes(2))) struct BaresipInteropTests {
    @Test func baresipRegistersAtKamailioAndIsReachableThroughIt() async throws {
        try await withKamailio { server in
            let bob = try await Baresip(user: "bob", registrarPort: server.port)
            defer { bob.stop() }
            let mark = bob.mark
            try bob.command("/reginfo")
            let info = try await bob.waitForOutput(containing: "Expires", after: mark)
            #expect(info.contains("sip:bob@127.0.0.1:\(server.port)"))
            #expect(info.contains("OK"))

            let carol = try await UDPPeer()
            defer { carol.close() }
            let text = "routed by kamailio \(UUID().uuidString.prefix(8))"
            try await carol.send(SIPText.message(from: "sip:carol@127.0.0.1:\(carol.port)", to: bob.aor, requestURI: bob.aor, localPort: carol.port, text: text), to: server.port)
            #expect(statusLine(of: try await carol.receiveFinalResponse(to: "MESSAGE")) == "SIP/2.0 200 OK")
            let line = try await bob.waitForMessage(text)
            #expect(line.contains("sip:carol@127.0.0.1:\(carol.port)"))
        }
    }

    @Test func baresipShowsPresenceChangesOfAContactPublishedAtKamailio() async throws {
        try await withKamailio { server in
            let alice = "sip:alice@127.0.0.1:\(server.port)"
            let bob = try await Baresip(user: "bob", contacts: [BaresipContact(name: "alice", uri: alice, watchPresence: true)])
            defer { bob.stop() }
            let publisher = try await UDPPeer(timeout: .seconds(30))
            defer { publisher.close() }

            try await publisher.send(SIPText.publish(aor: alice, requestURI: alice, localPort: publisher.port, body: SIPText.pidf(entity: alice, basic: "open")), to: server.port)
            let published = try await publisher.receiveFinalResponse(to: "PUBLISH")
            let etag = try #require(headerValue("SIP-ETag", in: published), "PUBLISH failed: \(published)")
            try await bob.waitForPresence(of: alice, toBe: "Online")

            try await publisher.send(SIPText.publish(aor: alice, requestURI: alice, localPort: publisher.port, body: SIPText.pidf(entity: alice, basic: "closed"), ifMatch: etag), to: server.port)
            #expect(statusLine(of: try await publisher.receiveFinalResponse(to: "PUBLISH")) == "SIP/2.0 200 OK")
            try await bob.waitForPresence(of: alice, toBe: "Offline")
        }
    }

    @Test func baresipAnswersAndPrintsAReceivedMessage() async throws {
        let bob = try await Baresip(user: "bob")
        defer { bob.stop() }
        let carol = try await UDPPeer()
        defer { carol.close() }
        let text = "hello bob \(UUID().uuidString.prefix(8))"
        try await carol.send(SIPText.message(from: "sip:carol@127.0.0.1:\(carol.port)", to: bob.localURI, requestURI: bob.localURI, localPort: carol.port, text: text), to: bob.port)
        let response = try await carol.receiveFinalResponse(to: "MESSAGE")
        #expect(statusLine(of: response) == "SIP/2.0 200 OK")
        #expect(headerValue("Server", in: response)?.hasPrefix("baresip") == true)
        let line = try await bob.waitForMessage(text)
        #expect(line.hasPrefix("sip:carol@127.0.0.1:\(carol.port)"))
    }

    @Test func baresipSendsAMessageWithTheGivenTextToItsCurrentContact() async throws {
        let carol = try await UDPPeer(timeout: .seconds(20))
        defer { carol.close() }
        let carolURI = "sip:carol@127.0.0.1:\(carol.port)"
        let bob = try await Baresip(user: "bob", contacts: [BaresipContact(name: "carol", uri: carolURI)])
        defer { bob.stop() }
        let text = "hi carol from bob \(UUID().uuidString.prefix(8))"
        try bob.command("/message \(text)")
        let message = try await carol.receiveAndAccept("MESSAGE", from: bob.port)
        #expect(message.hasPrefix("MESSAGE \(carolURI) SIP/2.0"))
        #expect(headerValue("Content-Type", in: message) == "text/plain")
        #expect(SIPText.body(of: message) == text)
        #expect(headerValue("From", in: message)?.contains(bob.aor) == true)
    }
}
