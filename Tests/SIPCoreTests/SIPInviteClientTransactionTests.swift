import SMFTestSupport
import SIPCore
import SIPSyntax
import Testing

@Suite struct SIPInviteClientTransactionTests {
    let invite = TestMessages.request(
        .invite,
        branch: "z9hG4bKnashds8",
        extraVias: ["SIP/2.0/UDP bigbox3.site3.atlanta.example.com;branch=z9hG4bK77ef4c2312983.1"],
        routes: ["<sip:p1.example.com;lr>", "<sip:p2.example.com;lr>"]
    )

    func udp(_ configuration: SIPTimerConfiguration = .init()) -> TransactionHarness<SIPInviteClientTransaction> {
        TransactionHarness(SIPInviteClientTransaction(request: invite, reliability: .unreliable, configuration: configuration))
    }

    @Test func retransmitsInviteWithTimerADoublingPastT2UntilTimerBTimesOut() {
        var h = udp()
        h.on { $0.started() }
        h.advance(by: .seconds(100))
        #expect(h.requestSendTimes == seconds(0, 0.5, 1.5, 3.5, 7.5, 15.5, 31.5))
        #expect(h.times(of: .reportTimeout) == seconds(32))
        #expect(h.machine.state == .terminated)
        #expect(h.wheel.scheduled.isEmpty)
    }

    @Test func provisionalResponseStopsRetransmissionsAndTimerB() {
        var h = udp()
        h.on { $0.started() }
        h.advance(to: .milliseconds(700))
        let ringing = TestMessages.response(180, to: invite)
        let actions = h.on { $0.responseReceived(ringing) }
        #expect(actions == [.cancelTimer(.A), .cancelTimer(.B), .deliverResponseToTU(ringing)])
        #expect(h.machine.state == .proceeding)

        h.advance(by: .seconds(100))
        #expect(h.requestSendTimes == seconds(0, 0.5))
        #expect(h.times(of: .reportTimeout).isEmpty)
    }

    @Test func everyReceivedNon2xxFinalIsAcknowledgedButPassedUpOnce() {
        var h = udp()
        h.on { $0.started() }
        h.on { $0.responseReceived(TestMessages.response(180, to: invite)) }
        h.advance(to: .seconds(2))
        let busy = TestMessages.response(486, to: invite)
        h.on { $0.responseReceived(busy) }
        #expect(h.machine.state == .completed)
        h.advance(to: .seconds(3))
        h.on { $0.responseReceived(busy) }
        h.advance(to: .seconds(5))
        h.on { $0.responseReceived(busy) }

        #expect(h.acksSent.count == 3)
        #expect(h.responsesDelivered == [180, 486])
        h.advance(by: .seconds(60))
        #expect(h.times(of: .terminate) == seconds(34))  // Timer D, 32 s after the first 486
        #expect(h.times(of: .reportTimeout).isEmpty)
    }

    @Test func ackForNon2xxCopiesInviteFieldsTopViaOnlyAndTheResponseToTag() throws {
        var h = udp()
        h.on { $0.started() }
        let busy = TestMessages.response(486, to: invite, toTag: "314159")
        h.on { $0.responseReceived(busy) }
        let ack = try #require(h.acksSent.first)

        #expect(ack.method == .ack)
        #expect(ack.uri == invite.uri)
        #expect(ack.headers.values("Via") == ["SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bKnashds8"])
        #expect(ack.headers.values("Route") == ["<sip:p1.example.com;lr>", "<sip:p2.example.com;lr>"])
        #expect(ack.headers["From"] == invite.headers["From"])
        #expect(ack.headers["Call-ID"] == invite.headers["Call-ID"])
        #expect(ack.headers.to?.tag == "314159")
        #expect(ack.headers["CSeq"] == "314159 ACK")
        #expect(ack.headers["Max-Forwards"] == "70")
        #expect(!ack.headers.contains("Contact"))
    }

    @Test func successGoesToTUWithoutAckAndAcceptedStatePassesUpFurther2xxUntilTimerM() {
        var h = udp()
        h.on { $0.started() }
        h.advance(to: .seconds(1))
        let ok = TestMessages.response(200, to: invite)
        let actions = h.on { $0.responseReceived(ok) }
        #expect(actions == [.cancelTimer(.A), .cancelTimer(.B), .deliverResponseToTU(ok), .scheduleTimer(.M, after: .seconds(32))])
        #expect(h.machine.state == .accepted)

        let forked = TestMessages.response(200, to: invite, toTag: "other-fork")
        h.on { $0.responseReceived(ok) }
        h.on { $0.responseReceived(forked) }
        h.on { $0.responseReceived(TestMessages.response(486, to: invite)) }
        h.advance(by: .seconds(60))

        #expect(h.acksSent.isEmpty)
        #expect(h.responsesDelivered == [200, 200, 200])
        #expect(h.times(of: .terminate) == seconds(33))
    }

    @Test func reliableTransportDoesNotRetransmitAndTerminatesRightAfterTheAck() {
        var h = TransactionHarness(SIPInviteClientTransaction(request: invite, reliability: .reliable))
        h.on { $0.started() }
        h.advance(to: .seconds(10))
        let decline = TestMessages.response(603, to: invite)
        let actions = h.on { $0.responseReceived(decline) }
        #expect(h.requestSendTimes == seconds(0))
        #expect(actions.count == 4)
        #expect(actions.first == .cancelTimer(.B))
        #expect(actions.last == .terminate)
        #expect(h.acksSent.count == 1)
    }

    @Test func transportErrorWhileCallingIsReportedToTU() {
        var h = udp()
        h.on { $0.started() }
        #expect(h.on { $0.transportFailed() } == [.reportTransportError, .terminate])
        h.advance(by: .seconds(40))
        #expect(h.requestSendTimes == seconds(0))
    }

    @Test func customT1ChangesTimerAAndTimerB() {
        var configuration = SIPTimerConfiguration()
        configuration.t1 = .milliseconds(200)
        var h = udp(configuration)
        h.on { $0.started() }
        h.advance(by: .seconds(20))
        #expect(h.requestSendTimes == seconds(0, 0.2, 0.6, 1.4, 3.0, 6.2, 12.6))
        #expect(h.times(of: .reportTimeout) == seconds(12.8))
    }
}
