import SIPSyntax
import Testing

@Suite struct SIPHeadersTypedTests {
    let headers = SIPHeaders([
        ("v", "SIP/2.0/UDP a.example.com;branch=z9hG4bK1, SIP/2.0/TCP b.example.com:5070;branch=z9hG4bK2"),
        ("Via", "SIP/2.0/UDP c.example.com;branch=z9hG4bK3"),
        ("i", " abc@host "),
        ("CSeq", "7 SUBSCRIBE"),
        ("f", "\"A, B\" <sip:a@example.com>;tag=1"),
        ("To", "<sip:b@example.com>"),
        ("Max-Forwards", "70"),
        ("l", "12"),
        ("c", "application/pidf+xml"),
        ("m", "<sip:a@10.0.0.1>;expires=30, \"X, Y\" <sip:b@10.0.0.2>"),
        ("Contact", "sip:c@10.0.0.3"),
    ])

    @Test func splitsViasAcrossLinesAndCommas() {
        #expect(headers.vias.map(\.host) == ["a.example.com", "b.example.com", "c.example.com"])
        #expect(headers.vias.map(\.branch) == ["z9hG4bK1", "z9hG4bK2", "z9hG4bK3"])
        #expect(headers.topVia?.host == "a.example.com")
    }

    @Test func readsSingleValuedHeadersThroughCompactForms() {
        #expect(headers.callID == "abc@host")
        #expect(headers.cseq == SIPCSeq(sequence: 7, method: .subscribe))
        #expect(headers.from?.displayName == "A, B")
        #expect(headers.from?.tag == "1")
        #expect(headers.to?.uri.user == "b")
        #expect(headers.maxForwards == 70)
        #expect(headers.contentLength == 12)
        #expect(headers.contentType == "application/pidf+xml")
    }

    @Test func splitsContactsRespectingQuotesAndAngles() {
        let contacts = headers.contacts
        #expect(contacts.map { $0.uri.user } == ["a", "b", "c"])
        #expect(contacts.first?.expires == 30)
        #expect(contacts[1].displayName == "X, Y")
        #expect(headers.splitValues("contact").count == 3)
        #expect(!headers.isContactWildcard)
    }

    @Test func settersReplaceOrRemoveFields() {
        var headers = headers
        headers.cseq = SIPCSeq(sequence: 8, method: .notify)
        headers.maxForwards = nil
        headers.prependVia(SIPVia(transport: "UDP", host: "top.example.com", branch: "z9hG4bK0"))
        #expect(headers["cseq"] == "8 NOTIFY")
        #expect(headers.maxForwards == nil)
        #expect(!headers.contains("Max-Forwards"))
        #expect(headers.topVia?.host == "top.example.com")
        #expect(headers.vias.count == 4)
    }

    @Test func rejectsOutOfRangeNumbers() {
        let headers = SIPHeaders([("Max-Forwards", "256"), ("Content-Length", "-1")])
        #expect(headers.maxForwards == nil)
        #expect(headers.contentLength == nil)
    }

    @Test func detectsContactWildcard() {
        let headers = SIPHeaders([("Contact", " * ")])
        #expect(headers.isContactWildcard)
        #expect(headers.contacts.isEmpty)
    }

    @Test func providesDefaultReasonPhrases() {
        #expect(SIPResponse.defaultReasonPhrase(for: 200) == "OK")
        #expect(SIPResponse.defaultReasonPhrase(for: 489) == "Bad Event")
        #expect(SIPResponse.defaultReasonPhrase(for: 412) == "Conditional Request Failed")
        #expect(SIPResponse.defaultReasonPhrase(for: 499) == "Client Error")
        #expect(SIPResponse(statusCode: 202).reasonPhrase == "Accepted")
    }
}
