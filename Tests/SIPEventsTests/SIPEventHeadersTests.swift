import SMFTestSupport
import SIPEvents
import SIPSyntax
import Testing

@Suite struct SIPEventHeadersTests {
    @Test func eventHeaderParsesPackageAndIdIncludingTheCompactForm() {
        let headers: SIPHeaders = ["o": "m2m-alarm ; id=kitchen;foo"]
        #expect(headers.event == SIPEventHeader(package: "m2m-alarm", id: "kitchen"))
        #expect(SIPEventHeader("presence.winfo")?.package == "presence.winfo")
        #expect(SIPEventHeader("bad event") == nil)
        #expect(SIPEventHeader("presence;id=") == nil)
    }

    @Test func subscriptionStateParsesReasonExpiresAndRetryAfterAndRoundTrips() {
        let state = SIPSubscriptionState("terminated;reason=probation;retry-after=30")
        #expect(state == SIPSubscriptionState(.terminated, reason: .probation, retryAfter: 30))
        #expect(state?.description == "terminated;reason=probation;retry-after=30")
        #expect(SIPSubscriptionState("active;expires=600")?.expires == 600)
        #expect(SIPSubscriptionState("active;expires=soon") == nil)
        #expect(SIPSubscriptionState("waiting")?.value == .other("waiting"))
    }

    @Test func allowEventsETagsAndMinExpiresAreTyped() {
        var headers: SIPHeaders = ["u": "presence, m2m-alarm", "Allow-Events": "dialog"]
        #expect(headers.allowEvents == ["presence", "m2m-alarm", "dialog"])
        headers.sipETag = "dx200xyz"
        headers.sipIfMatch = "abc"
        headers.minExpires = 60
        #expect(headers["SIP-ETag"] == "dx200xyz")
        #expect(headers.sipIfMatch == "abc")
        #expect(headers["Min-Expires"] == "60")
        let malformed: SIPHeaders = ["Expires": "soon"]
        #expect(malformed.hasMalformedExpires)
    }
}

@Suite struct SIPPagerMessageTests {
    @Test func pagerMessageCarriesBodyAndTypeButNoContact() {
        var random = SplitMix64()
        let message = SIPPagerMessage.make(to: Fixtures.alice, from: Fixtures.sensor, body: SIPEventBody(contentType: "text/plain", text: "Fire in house 12"), using: &random)
        #expect(message.method == .message)
        #expect(message.headers.contacts.isEmpty)
        #expect(message.headers.contentType == "text/plain")
        #expect(message.headers.contentLength == 16)
        #expect(message.headers.from?.tag != nil)
        #expect(message.headers.cseq == SIPCSeq(sequence: 1, method: .message))
        #expect(message.eventBody?.text == "Fire in house 12")
    }

    @Test func receivedMessageIsAcceptedOrRefusedWith415Or413() {
        var random = SplitMix64()
        let text = SIPPagerMessage.make(to: Fixtures.alice, from: Fixtures.sensor, body: SIPEventBody(contentType: "text/plain; charset=utf-8", text: "hi"), using: &random)
        guard case .accept(let body, let ok) = SIPPagerMessage.validate(text, accepting: ["text/plain"]) else {
            Issue.record("a text/plain MESSAGE was not accepted")
            return
        }
        #expect(body.text == "hi")
        #expect(ok.statusCode == 200)

        if case .reject(let response) = SIPPagerMessage.validate(text, accepting: ["application/cpim"]) {
            #expect(response.statusCode == 415)
            #expect(response.headers["Accept"] == "application/cpim")
        } else {
            Issue.record("an unaccepted type was not refused")
        }
        let big = SIPPagerMessage.make(to: Fixtures.alice, from: Fixtures.sensor, body: SIPEventBody(contentType: "text/plain", bytes: Array(repeating: 0x41, count: 2000)), using: &random)
        if case .reject(let response) = SIPPagerMessage.validate(big, accepting: ["text/plain"]) {
            #expect(response.statusCode == 413)
        } else {
            Issue.record("an oversized MESSAGE was not refused")
        }
        #expect(SIPMessageDeliveryResult(response: SIPResponse(statusCode: 202)) == .delivered(statusCode: 202))
        #expect(SIPMessageDeliveryResult(response: SIPResponse(statusCode: 180)) == nil)
    }
}
