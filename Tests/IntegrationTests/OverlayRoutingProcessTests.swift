import Foundation
import SMFNode
import Testing

/// Ordinary SIP through the overlay: a phone REGISTERs at one node, requests for its AoR at another node are
/// redirected to it (issue 4 "Usages").
@Suite(.serialized) struct OverlayRoutingProcessTests {
    private static func register(aor: String, contact: String, expires: Int, port: Int, callID: String, cseq: Int) -> String {
        """
        REGISTER sip:community.example SIP/2.0\r
        Via: SIP/2.0/UDP 127.0.0.1:\(port);branch=z9hG4bK-\(callID)-\(cseq)\r
        Max-Forwards: 70\r
        To: <\(aor)>\r
        From: <\(aor)>;tag=ph\(cseq)\r
        Call-ID: \(callID)\r
        CSeq: \(cseq) REGISTER\r
        Contact: <\(contact)>\r
        Expires: \(expires)\r
        Content-Length: 0\r
        \r

        """
    }

    private static func request(_ method: String, to uri: String, port: Int, callID: String) -> String {
        let event = method == "SUBSCRIBE" ? "Event: presence\r\nExpires: 60\r\nContact: <sip:watcher@127.0.0.1:\(port)>\r\n" : ""
        let body = method == "MESSAGE" ? "hello" : ""
        let type = method == "MESSAGE" ? "Content-Type: text/plain\r\n" : ""
        return """
            \(method) \(uri) SIP/2.0\r
            Via: SIP/2.0/UDP 127.0.0.1:\(port);branch=z9hG4bK-\(callID)\r
            Max-Forwards: 70\r
            To: <\(uri)>\r
            From: <sip:watcher@127.0.0.1:\(port)>;tag=w1\r
            Call-ID: \(callID)\r
            CSeq: 1 \(method)\r
            \(event)\(type)Content-Length: \(body.utf8.count)\r
            \r
            \(body)
            """
    }

    /// The first final response on `peer` (provisional ones skipped).
    private func finalResponse(on peer: UDPPeer) async throws -> String {
        let deadline = ContinuousClock.now + peer.timeout
        while let datagram = await peer.receive(before: deadline) {
            if datagram.text.hasPrefix("SIP/2.0 1") { continue }
            return datagram.text
        }
        throw ProcessTestError(description: "no final response")
    }

    @Test func phoneRegisteredAtOneNodeIsReachedThroughAnotherByRedirect() async throws {
        let a = try await OverlayProcess()
        defer { a.cleanUp() }
        let b = try await OverlayProcess(bootstrap: [a.address])
        defer { b.cleanUp() }
        let joined = try await pollUntil(within: .seconds(20)) {
            guard let sa = try await a.overlayStatus(), let sb = try await b.overlayStatus() else { return false }
            return formsOneRing([sa, sb], ids: [sa.node.id, sb.node.id])
        }
        #expect(joined)

        let phone = try await UDPPeer()
        defer { phone.close() }
        let aor = "sip:alice@community.example"
        let contact = "sip:alice@127.0.0.1:\(phone.port)"
        try await phone.send(Self.register(aor: aor, contact: contact, expires: 600, port: phone.port, callID: "reg-1", cseq: 1), to: a.port)
        let registered = try await finalResponse(on: phone)
        #expect(registered.hasPrefix("SIP/2.0 200"), "\(registered)")
        #expect(registered.contains("Contact: <\(contact)>;expires=600"))

        let lookup = try await b.smf(["overlay", "lookup", aor])
        #expect(lookup.status == 0, "\(lookup.output)")
        #expect(lookup.output == "\(contact)\n")

        // MESSAGE and SUBSCRIBE for the AoR at the other node are redirected to the phone.
        for method in ["MESSAGE", "SUBSCRIBE"] {
            let watcher = try await UDPPeer()
            defer { watcher.close() }
            try await watcher.send(Self.request(method, to: aor, port: watcher.port, callID: "r-\(method)"), to: b.port)
            let response = try await finalResponse(on: watcher)
            #expect(response.hasPrefix("SIP/2.0 302"), "\(method): \(response)")
            #expect(response.contains("Contact: <\(contact)>"), "\(method): \(response)")
            #expect(response.contains(";tag="), "\(method): the 302 needs a To tag: \(response)")
        }

        // A MESSAGE to the node's own AoR still reaches its endpoint.
        let direct = try await UDPPeer()
        defer { direct.close() }
        try await direct.send(Self.request("MESSAGE", to: b.addressOfRecord, port: direct.port, callID: "r-direct"), to: b.port)
        #expect(try await finalResponse(on: direct).hasPrefix("SIP/2.0 200"))

        // Expires: 0 removes the binding from the overlay.
        try await phone.send(Self.register(aor: aor, contact: contact, expires: 0, port: phone.port, callID: "reg-1", cseq: 2), to: a.port)
        #expect(try await finalResponse(on: phone).hasPrefix("SIP/2.0 200"))
        let gone = try await b.smf(["overlay", "lookup", aor])
        #expect(gone.status == 1)
        #expect(gone.output.contains("\(aor) is not registered in the overlay"))
    }
}
