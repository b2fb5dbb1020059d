import SIPSyntax
import Testing

@Suite struct SIPViaTests {
    @Test func parsesSentProtocolSentByAndParameters() throws {
        let via = try #require(SIPVia("SIP/2.0/UDP pc33.atlanta.example.com:5066;branch=z9hG4bK776asdhds;received=192.0.2.1"))
        #expect(via.protocolName == "SIP")
        #expect(via.protocolVersion == "2.0")
        #expect(via.transport == "UDP")
        #expect(via.host == "pc33.atlanta.example.com")
        #expect(via.port == 5066)
        #expect(via.branch == "z9hG4bK776asdhds")
        #expect(via.hasRFC3261Branch)
        #expect(via.received == "192.0.2.1")
        #expect(via.rport == .absent)
    }

    @Test func acceptsWhitespaceAroundSeparatorsAndLowercaseTransport() throws {
        let via = try #require(SIPVia("SIP / 2.0 / tcp   host.example.com : 5060 ; branch = z9hG4bKabc ; rport"))
        #expect(via.transport == "TCP")
        #expect(via.host == "host.example.com")
        #expect(via.port == 5060)
        #expect(via.branch == "z9hG4bKabc")
        #expect(via.rport == .requested)
        #expect(via.description == "SIP/2.0/TCP host.example.com:5060;branch=z9hG4bKabc;rport")
    }

    @Test func readsAndWritesRPortStates() throws {
        var via = try #require(SIPVia("SIP/2.0/UDP [2001:db8::9]:5060;rport;branch=z9hG4bK1"))
        #expect(via.host == "[2001:db8::9]")
        #expect(via.rport == .requested)
        via.rport = .value(40123)
        via.received = "2001:db8::9"
        #expect(via.rport == .value(40123))
        #expect(via.description == "SIP/2.0/UDP [2001:db8::9]:5060;rport=40123;branch=z9hG4bK1;received=2001:db8::9")
        via.rport = .absent
        #expect(!via.parameters.contains("rport"))
    }

    @Test(arguments: [
        "SIP/2.0 host", "SIP/2.0/UDP", "SIP/2.0/UDP host:abc", "SIP/2.0/UDPhost", "SIP/2.0/UDP host:70000",
        "SIP/2.0/UDP host extra", "SIP/2.0/UDP host;=x",
    ])
    func rejectsMalformedVia(_ text: String) {
        #expect(SIPVia(text) == nil)
    }

    @Test func buildsViaFromParts() {
        let via = SIPVia(transport: "udp", host: "10.0.0.1", port: 5060, branch: "z9hG4bKx")
        #expect(via.description == "SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKx")
        #expect(SIPVia(via.description) == via)
    }
}

@Suite struct SIPCSeqTests {
    @Test func parsesNumberAndMethod() throws {
        let cseq = try #require(SIPCSeq("  4711   INVITE "))
        #expect(cseq.sequence == 4711)
        #expect(cseq.method == .invite)
        #expect(cseq.description == "4711 INVITE")
    }

    @Test(arguments: ["INVITE", "1", "-1 INVITE", "4294967296 INVITE", "36893488147419103232 INVITE", "1INVITE", "1 IN VITE"])
    func rejectsMalformedCSeq(_ text: String) {
        #expect(SIPCSeq(text) == nil)
    }

    @Test func acceptsLargestUInt32() {
        #expect(SIPCSeq("4294967295 OPTIONS")?.sequence == UInt32.max)
    }
}
