import SMFTestSupport
import SIPCore
import SIPSyntax
import Testing

@Suite struct SIPNonInviteClientTransactionTests {
    let options = TestMessages.request(.options)

    func udp(_ configuration: SIPTimerConfiguration = .init()) -> TransactionHarness<SIPNonInviteClientTransaction> {
        TransactionHarness(SIPNonInviteClientTransaction(request: options, reliability: .unreliable, configuration: configuration))
    }

    @Test func retransmitsAtHalfOneTwoFourFourSecondsUntilTimerFReportsTimeoutOnce() {
        var h = udp()
        h.on { $0.started() }
        h.advance(by: .seconds(60))

        #expect(h.requestSendTimes == seconds(0, 0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5))
        #expect(h.times(of: .reportTimeout) == seconds(32))
        #expect(h.times(of: .terminate) == seconds(32))
        #expect(h.machine.state == .terminated)
        #expect(h.wheel.scheduled.isEmpty)
    }

    @Test func provisionalResponseMovesToProceedingAndRetransmitsEveryT2() {
        var h = udp()
        h.on { $0.started() }
        h.advance(to: .milliseconds(700))
        h.on { $0.responseReceived(TestMessages.response(100, to: options)) }
        #expect(h.machine.state == .proceeding)
        #expect(h.responsesDelivered == [100])

        h.advance(to: .seconds(14))
        // The E started at 0.5 s (1 s) still fires at 1.5 s; from then on every T2 = 4 s.
        #expect(h.requestSendTimes == seconds(0, 0.5, 1.5, 5.5, 9.5, 13.5))
    }

    @Test func finalResponseCompletesAbsorbsRetransmittedFinalsAndTerminatesAfterTimerK() {
        var h = udp()
        h.on { $0.started() }
        h.advance(to: .seconds(1))
        let ok = TestMessages.response(200, to: options)
        let first = h.on { $0.responseReceived(ok) }
        #expect(first == [.cancelTimer(.F), .cancelTimer(.E), .deliverResponseToTU(ok), .scheduleTimer(.K, after: .seconds(5))])
        #expect(h.machine.state == .completed)

        h.advance(to: .seconds(2))
        let retransmitted = h.on { $0.responseReceived(ok) }
        #expect(retransmitted.isEmpty)

        h.advance(to: .seconds(60))
        #expect(h.responsesDelivered == [200])
        #expect(h.requestSendTimes == seconds(0, 0.5))
        #expect(h.times(of: .terminate) == seconds(6))
        #expect(h.times(of: .reportTimeout).isEmpty)
    }

    @Test func reliableTransportSendsOnceAndTerminatesOnFinalWithoutTimerK() {
        var h = TransactionHarness(SIPNonInviteClientTransaction(request: options, reliability: .reliable))
        let start = h.on { $0.started() }
        #expect(start == [.sendRequest(options), .scheduleTimer(.F, after: .seconds(32))])

        h.advance(to: .seconds(10))
        let ok = TestMessages.response(200, to: options)
        let final = h.on { $0.responseReceived(ok) }
        #expect(final == [.cancelTimer(.F), .deliverResponseToTU(ok), .terminate])
        #expect(h.requestSendTimes == seconds(0))
    }

    @Test func reliableTransportStillTimesOutWithTimerF() {
        var h = TransactionHarness(SIPNonInviteClientTransaction(request: options, reliability: .reliable))
        h.on { $0.started() }
        h.advance(by: .seconds(40))
        #expect(h.requestSendTimes == seconds(0))
        #expect(h.times(of: .reportTimeout) == seconds(32))
    }

    @Test func transportErrorIsReportedToTUAndTerminates() {
        var h = udp()
        h.on { $0.started() }
        h.advance(to: .milliseconds(600))
        let actions = h.on { $0.transportFailed() }
        #expect(actions == [.reportTransportError, .terminate])
        h.advance(by: .seconds(40))
        #expect(h.requestSendTimes == seconds(0, 0.5))
        #expect(h.times(of: .reportTimeout).isEmpty)
    }

    @Test func customT1AndT2AreHonoured() {
        var configuration = SIPTimerConfiguration()
        configuration.t1 = .milliseconds(100)
        configuration.t2 = .milliseconds(400)
        var h = udp(configuration)
        h.on { $0.started() }
        h.advance(by: .seconds(10))
        #expect(h.requestSendTimes == seconds(0, 0.1, 0.3, 0.7, 1.1, 1.5, 1.9, 2.3, 2.7, 3.1, 3.5, 3.9, 4.3, 4.7, 5.1, 5.5, 5.9, 6.3))
        #expect(h.times(of: .reportTimeout) == seconds(6.4))
    }

    @Test func responsesAfterTerminationAreIgnored() {
        var h = udp()
        h.on { $0.started() }
        h.advance(by: .seconds(33))
        let late = h.on { $0.responseReceived(TestMessages.response(200, to: options)) }
        #expect(late.isEmpty)
        #expect(h.responsesDelivered.isEmpty)
    }
}
