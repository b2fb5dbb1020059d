import SIPCore
import SIPSyntax
import Testing

@Suite struct SIPNonInviteServerTransactionTests {
    let subscribe = TestMessages.request(.subscribe)

    func udp() -> TransactionHarness<SIPNonInviteServerTransaction> {
        TransactionHarness(SIPNonInviteServerTransaction(request: subscribe, reliability: .unreliable))
    }

    @Test func requestRetransmissionsAreAbsorbedUntilTheTUAnswersThenGetTheLastResponse() {
        var h = udp()
        #expect(h.on { $0.started() } == [.deliverRequestToTU(subscribe)])
        #expect(h.on { $0.requestRetransmissionReceived() }.isEmpty)

        let trying = TestMessages.response(100, to: subscribe)
        h.on { $0.tuSentResponse(trying) }
        #expect(h.machine.state == .proceeding)
        #expect(h.on { $0.requestRetransmissionReceived() } == [.sendResponse(trying)])

        let accepted = TestMessages.response(202, to: subscribe)
        #expect(h.on { $0.tuSentResponse(accepted) } == [.sendResponse(accepted), .scheduleTimer(.J, after: .seconds(32))])
        #expect(h.on { $0.requestRetransmissionReceived() } == [.sendResponse(accepted)])
    }

    @Test func completedLastsTimerJOnUDPAndIgnoresFurtherTUResponses() {
        var h = udp()
        h.on { $0.started() }
        h.advance(to: .seconds(1))
        h.on { $0.tuSentResponse(TestMessages.response(200, to: subscribe)) }
        #expect(h.on { $0.tuSentResponse(TestMessages.response(500, to: subscribe)) }.isEmpty)
        h.advance(by: .seconds(60))
        #expect(h.times(of: .terminate) == seconds(33))
        #expect(h.responseSends.map(\.status) == [200])
    }

    @Test func reliableTransportTerminatesWithTheFinalResponse() {
        var h = TransactionHarness(SIPNonInviteServerTransaction(request: subscribe, reliability: .reliable))
        h.on { $0.started() }
        let ok = TestMessages.response(200, to: subscribe)
        #expect(h.on { $0.tuSentResponse(ok) } == [.sendResponse(ok), .terminate])
    }

    @Test func transportErrorIsReportedToTU() {
        var h = udp()
        h.on { $0.started() }
        #expect(h.on { $0.transportFailed() } == [.reportTransportError, .terminate])
        #expect(h.machine.state == .terminated)
    }
}
