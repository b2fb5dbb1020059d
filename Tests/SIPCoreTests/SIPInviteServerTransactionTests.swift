import SMFTestSupport
import SIPCore
import SIPSyntax
import Testing

@Suite struct SIPInviteServerTransactionTests {
    let invite = TestMessages.request(.invite, extraVias: ["SIP/2.0/UDP proxy.example.com;branch=z9hG4bKproxy1"])

    func udp(_ configuration: SIPTimerConfiguration = .init()) -> TransactionHarness<SIPInviteServerTransaction> {
        TransactionHarness(SIPInviteServerTransaction(request: invite, reliability: .unreliable, configuration: configuration))
    }

    var ack: SIPRequest { TestMessages.request(.ack, toTag: "a6c85cf") }

    @Test func passesInviteUpAndSends100TryingAfter200msWhenTUIsSilent() throws {
        var h = udp()
        let start = h.on { $0.started() }
        #expect(start == [.deliverRequestToTU(invite), .scheduleTimer(.trying, after: .milliseconds(200))])
        h.advance(by: .seconds(1))

        #expect(h.responseSends.map(\.at) == seconds(0.2))
        let trying = try #require(h.machine.lastResponse)
        #expect(trying.statusCode == 100)
        #expect(trying.headers.values("Via") == invite.headers.values("Via"))
        #expect(trying.headers["To"] == invite.headers["To"])
        #expect(trying.headers["CSeq"] == "314159 INVITE")
        #expect(trying.headers["Call-ID"] == invite.headers["Call-ID"])
    }

    @Test func provisionalFromTUWithin200msSuppressesTheTransactionsTrying() {
        var h = udp()
        h.on { $0.started() }
        h.advance(to: .milliseconds(100))
        let ringing = TestMessages.response(180, to: invite)
        #expect(h.on { $0.tuSentResponse(ringing) } == [.cancelTimer(.trying), .sendResponse(ringing)])
        h.advance(by: .seconds(1))
        #expect(h.responseSends.map(\.status) == [180])
    }

    @Test func zeroTryingDelaySends100AtOnce() {
        var configuration = SIPTimerConfiguration()
        configuration.tryingDelay = .zero
        var h = udp(configuration)
        let start = h.on { $0.started() }
        #expect(start.count == 2)
        #expect(h.responseSends.map(\.status) == [100])
        #expect(start.last == .deliverRequestToTU(invite))
    }

    @Test func retransmittedInviteResendsTheLastProvisionalThenTheFinal() {
        var h = udp()
        h.on { $0.started() }
        #expect(h.on { $0.requestRetransmissionReceived() }.isEmpty)  // nothing sent yet
        let ringing = TestMessages.response(180, to: invite)
        h.on { $0.tuSentResponse(ringing) }
        #expect(h.on { $0.requestRetransmissionReceived() } == [.sendResponse(ringing)])
        let busy = TestMessages.response(486, to: invite)
        h.on { $0.tuSentResponse(busy) }
        #expect(h.on { $0.requestRetransmissionReceived() } == [.sendResponse(busy)])
    }

    @Test func timerGRetransmitsTheFinalUntilTheAckArrivesThenTimerIEnds() {
        var h = udp()
        h.on { $0.started() }
        let busy = TestMessages.response(486, to: invite)
        h.on { $0.tuSentResponse(busy) }
        h.advance(to: .seconds(10))
        let onAck = h.on { $0.ackReceived(ack) }
        #expect(onAck == [.cancelTimer(.G), .cancelTimer(.H), .scheduleTimer(.I, after: .seconds(5))])
        #expect(h.machine.state == .confirmed)
        #expect(h.on { $0.ackReceived(ack) }.isEmpty)
        #expect(h.on { $0.requestRetransmissionReceived() }.isEmpty)
        h.advance(by: .seconds(60))

        #expect(h.responseSends.map(\.at) == seconds(0, 0.5, 1.5, 3.5, 7.5))
        #expect(h.times(of: .terminate) == seconds(15))
        #expect(h.times(of: .reportTimeout).isEmpty)
    }

    @Test func timerHReportsTimeoutWhenNoAckArrives() {
        var h = udp()
        h.on { $0.started() }
        h.on { $0.tuSentResponse(TestMessages.response(500, to: invite)) }
        h.advance(by: .seconds(60))
        #expect(h.responseSends.map(\.at) == seconds(0, 0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5))
        #expect(h.times(of: .reportTimeout) == seconds(32))
        #expect(h.machine.state == .terminated)
    }

    @Test func successEntersAcceptedAbsorbsInviteRetransmissionsPassesAckUpAndEndsWithTimerL() {
        var h = udp()
        h.on { $0.started() }
        let ok = TestMessages.response(200, to: invite)
        #expect(h.on { $0.tuSentResponse(ok) } == [.cancelTimer(.trying), .sendResponse(ok), .scheduleTimer(.L, after: .seconds(32))])
        #expect(h.machine.state == .accepted)
        #expect(h.on { $0.requestRetransmissionReceived() }.isEmpty)
        h.advance(to: .milliseconds(500))
        #expect(h.on { $0.tuSentResponse(ok) } == [.sendResponse(ok)])  // the TU retransmits its 2xx
        #expect(h.on { $0.tuSentResponse(TestMessages.response(486, to: invite)) }.isEmpty)
        #expect(h.on { $0.ackReceived(ack) } == [.deliverRequestToTU(ack)])
        h.advance(by: .seconds(60))
        #expect(h.times(of: .terminate) == seconds(32))
    }

    @Test func reliableTransportNeverRetransmitsTheFinalAndTerminatesOnAck() {
        var h = TransactionHarness(SIPInviteServerTransaction(request: invite, reliability: .reliable))
        h.on { $0.started() }
        let busy = TestMessages.response(486, to: invite)
        h.on { $0.tuSentResponse(busy) }
        #expect(h.wheel.scheduled == [.H])
        h.advance(to: .seconds(5))
        #expect(h.on { $0.ackReceived(ack) } == [.cancelTimer(.H), .terminate])
        #expect(h.responseSends.map(\.status) == [486])
    }

    @Test func transportErrorSendingAResponseIsReportedToTU() {
        var h = udp()
        h.on { $0.started() }
        h.on { $0.tuSentResponse(TestMessages.response(486, to: invite)) }
        #expect(h.on { $0.transportFailed() } == [.reportTransportError, .terminate])
        h.advance(by: .seconds(60))
        #expect(h.responseSends.count == 1)
    }
}
