import Foundation
import SMFNode
import Testing

/// An ordinary phone (baresip) in the overlay: it REGISTERs at one smf node and becomes reachable through another.
@Suite(.serialized, .timeLimit(.minutes(2))) struct BaresipOverlayTests {
    @Test func baresipRegisteredAtOneNodeIsFoundAndRedirectedToFromAnother() async throws {
        let a = try await OverlayProcess()
        defer { a.cleanUp() }
        let b = try await OverlayProcess(bootstrap: [a.address])
        defer { b.cleanUp() }
        let joined = try await pollUntil(within: .seconds(20)) {
            guard let sa = try await a.overlayStatus(), let sb = try await b.overlayStatus() else { return false }
            return formsOneRing([sa, sb], ids: [sa.node.id, sb.node.id])
        }
        #expect(joined)

        // baresip's account lives at node A: it REGISTERs there and waits for the 200.
        let bob = try await Baresip(user: "bob", registrarPort: a.port)
        defer { bob.stop() }
        let lookup = try await b.smf(["overlay", "lookup", bob.aor])
        #expect(lookup.status == 0, "\(lookup.output)")
        #expect(lookup.output.contains("@127.0.0.1:\(bob.port)"), "\(lookup.output)")
        let contact = try #require(lookup.output.split(separator: "\n").first.map(String.init))

        // A MESSAGE for bob's AoR at node B is redirected to baresip's contact.
        let carol = try await UDPPeer()
        defer { carol.close() }
        try await carol.send(
            SIPText.message(from: "sip:carol@127.0.0.1:\(carol.port)", to: bob.aor, requestURI: bob.aor, localPort: carol.port, text: "where are you"),
            to: b.port)
        let redirect = try await carol.receiveFinalResponse(to: "MESSAGE")
        #expect(statusLine(of: redirect).hasPrefix("SIP/2.0 302"), "\(redirect)")
        #expect(headerValue("Contact", in: redirect) == "<\(contact)>")

        // Following the redirect reaches baresip.
        let text = "through the overlay \(UUID().uuidString.prefix(8))"
        try await carol.send(
            SIPText.message(from: "sip:carol@127.0.0.1:\(carol.port)", to: bob.aor, requestURI: contact, localPort: carol.port, text: text),
            to: bob.port)
        #expect(statusLine(of: try await carol.receiveFinalResponse(to: "MESSAGE")) == "SIP/2.0 200 OK")
        _ = try await bob.waitForMessage(text)
    }
}
