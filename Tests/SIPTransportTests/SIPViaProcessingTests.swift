import SIPSyntax
import Testing
@testable import SIPTransport

@Suite struct SIPViaProcessingTests {
    private func request(via: String) -> SIPRequest {
        SIPRequest(
            method: .options,
            uri: SIPURI("sip:ping@127.0.0.1")!,
            headers: SIPHeaders([("Via", via), ("Via", "SIP/2.0/UDP proxy.example.com;branch=z9hG4bKproxy"), ("CSeq", "1 OPTIONS")])
        )
    }

    @Test func fillsEmptyRportWithSourcePortAndAddsReceived() throws {
        var message = request(via: "SIP/2.0/UDP 10.0.0.1:5070;branch=z9hG4bKabc;rport")
        #expect(SIPViaProcessing.annotateTopVia(of: &message, sourceIP: "10.0.0.1", sourcePort: 40123))
        let via = try #require(message.headers.topVia)
        #expect(via.rport == .value(40123))
        #expect(via.received == "10.0.0.1")  // RFC 3581 §4: received is added even when equal
        #expect(message.headers.vias.count == 2)
        #expect(message.headers.vias[1].host == "proxy.example.com")
    }

    @Test func addsReceivedOnlyWhenSentByDiffersFromSource() throws {
        var same = request(via: "SIP/2.0/UDP 10.0.0.1:5070;branch=z9hG4bKabc")
        _ = SIPViaProcessing.annotateTopVia(of: &same, sourceIP: "10.0.0.1", sourcePort: 5070)
        #expect(same.headers.topVia?.received == nil)
        #expect(same.headers.topVia?.rport == .absent)

        var named = request(via: "SIP/2.0/UDP client.example.com:5070;branch=z9hG4bKabc")
        _ = SIPViaProcessing.annotateTopVia(of: &named, sourceIP: "192.0.2.7", sourcePort: 5070)
        #expect(named.headers.topVia?.received == "192.0.2.7")
        #expect(named.headers.topVia?.rport == .absent)
    }

    @Test func keepsOtherViasOfTheSameHeaderLine() throws {
        var message = SIPRequest(
            method: .options,
            uri: SIPURI("sip:ping@127.0.0.1")!,
            headers: SIPHeaders([("Via", "SIP/2.0/UDP 10.0.0.9;branch=z9hG4bKtop;rport, SIP/2.0/UDP 10.0.0.8;branch=z9hG4bKsecond")])
        )
        _ = SIPViaProcessing.annotateTopVia(of: &message, sourceIP: "10.0.0.1", sourcePort: 1234)
        let vias = message.headers.vias
        #expect(vias.count == 2)
        #expect(vias[0].received == "10.0.0.1")
        #expect(vias[0].rport == .value(1234))
        #expect(vias[1].branch == "z9hG4bKsecond")
    }

    @Test func comparesIPv6SourcesByValue() {
        #expect(SIPViaProcessing.sameIPAddress("::1", "0:0:0:0:0:0:0:1"))
        #expect(!SIPViaProcessing.sameIPAddress("::1", "::2"))
        #expect(!SIPViaProcessing.sameIPAddress("host.example", "127.0.0.1"))
    }

    @Test func responsesGoToReceivedAndRportElseSentBy() throws {
        let rport = try #require(SIPVia("SIP/2.0/UDP 10.0.0.1:5070;branch=z9hG4bKa;received=192.0.2.1;rport=40000"))
        #expect(SIPViaProcessing.responseTarget(for: rport) == ("192.0.2.1", 40000))
        let receivedOnly = try #require(SIPVia("SIP/2.0/UDP 10.0.0.1:5070;branch=z9hG4bKa;received=192.0.2.1"))
        #expect(SIPViaProcessing.responseTarget(for: receivedOnly) == ("192.0.2.1", 5070))
        let plain = try #require(SIPVia("SIP/2.0/UDP [::1];branch=z9hG4bKa"))
        #expect(SIPViaProcessing.responseTarget(for: plain) == ("::1", 5060))
    }
}
