import SMFTestSupport
import SIPCore
import SIPSyntax
import Testing

/// Drives a ``SIPTransactionLayer`` like a transport would: carries out timer actions on a
/// virtual clock and records everything else with its time.
struct LayerHarness {
    struct TimerID: Hashable {
        var key: SIPTransactionKey
        var timer: SIPTimer
    }

    struct Entry {
        var at: Duration
        var action: SIPTransactionLayerAction
    }

    var layer: SIPTransactionLayer
    var wheel = ManualTimerWheel<TimerID>()
    private(set) var transcript: [Entry] = []

    init(_ configuration: SIPTimerConfiguration = .init()) {
        layer = SIPTransactionLayer(configuration: configuration)
    }

    @discardableResult
    mutating func on(_ event: (inout SIPTransactionLayer) throws -> [SIPTransactionLayerAction]) rethrows -> [SIPTransactionLayerAction] {
        let actions = try event(&layer)
        carryOut(actions)
        return actions
    }

    mutating func send(_ request: SIPRequest, _ reliability: SIPTransportReliability = .unreliable) throws -> SIPTransactionKey {
        let (key, actions) = try layer.tuSentRequest(request, reliability: reliability)
        carryOut(actions)
        return key
    }

    mutating func advance(to instant: Duration) {
        while let id = wheel.popNextDue(notAfter: instant) {
            carryOut(layer.timerFired(id.timer, for: id.key))
        }
        wheel.settle(at: instant)
    }

    private mutating func carryOut(_ actions: [SIPTransactionLayerAction]) {
        for action in actions {
            transcript.append(Entry(at: wheel.now, action: action))
            switch action {
            case .scheduleTimer(let key, let timer, let delay): wheel.schedule(TimerID(key: key, timer: timer), after: delay)
            case .cancelTimer(let key, let timer): wheel.cancel(TimerID(key: key, timer: timer))
            case .transactionTerminated(let key): wheel.cancelAll { $0.key == key }
            default: break
            }
        }
    }

    func sendTimes(_ key: SIPTransactionKey) -> [Duration] {
        transcript.compactMap { if case .sendRequest(key, _) = $0.action { $0.at } else { nil } }
    }

    func times(_ action: SIPTransactionLayerAction) -> [Duration] {
        transcript.filter { $0.action == action }.map(\.at)
    }
}

@Suite struct SIPTransactionLayerTests {
    @Test func clientTransactionRetransmitsRoutesTheResponseAndIsRemovedAfterTimerK() throws {
        var h = LayerHarness()
        let options = TestMessages.request(.options)
        let key = try h.send(options)
        h.advance(to: .seconds(2))
        let ok = TestMessages.response(200, to: options)
        let routed = h.on { $0.responseReceived(ok) }
        #expect(routed.contains(.deliverResponseToTU(key, ok)))
        #expect(h.layer.contains(key))
        h.advance(to: .seconds(10))

        #expect(h.sendTimes(key) == seconds(0, 0.5, 1.5))
        #expect(h.times(.transactionTerminated(key)) == seconds(7))
        #expect(h.layer.count == 0)
        #expect(h.wheel.scheduled.isEmpty)

        #expect(h.on { $0.responseReceived(ok) } == [.discardStrayResponse(ok)])
    }

    @Test func timeoutIsReportedOnceWithTheKeyAndTheTransactionIsRemoved() throws {
        var h = LayerHarness()
        let key = try h.send(TestMessages.request(.message))
        h.advance(to: .seconds(100))
        #expect(h.times(.reportTimeout(key)) == seconds(32))
        #expect(!h.layer.contains(key))
        #expect(h.on { $0.timerFired(.E, for: key) }.isEmpty)  // a firing already in flight
    }

    @Test func stray2xxToInviteGoesToTUAndOtherStraysAreDiscarded() {
        var h = LayerHarness()
        let invite = TestMessages.request(.invite)
        let ok = TestMessages.response(200, to: invite)
        let busy = TestMessages.response(486, to: invite)
        #expect(h.on { $0.responseReceived(ok) } == [.deliverStrayResponseToTU(ok)])
        #expect(h.on { $0.responseReceived(busy) } == [.discardStrayResponse(busy)])
    }

    @Test func newRequestCreatesAServerTransactionWhoseRetransmissionsGetTheLastResponse() throws {
        var h = LayerHarness()
        let publish = TestMessages.request(.publish)
        let first = h.on { $0.requestReceived(publish, reliability: .unreliable) }
        let key = try SIPTransactionKey.server(for: publish)
        #expect(first == [.deliverRequestToTU(key, publish)])
        #expect(h.on { $0.requestReceived(publish, reliability: .unreliable) }.isEmpty)

        let ok = TestMessages.response(200, to: publish)
        try h.on { try $0.tuSentResponse(ok, for: key) }
        #expect(h.on { $0.requestReceived(publish, reliability: .unreliable) } == [.sendResponse(key, ok)])
        h.advance(to: .seconds(40))
        #expect(h.times(.transactionTerminated(key)) == seconds(32))
        #expect(throws: SIPTransactionError.noSuchTransaction) { try h.layer.tuSentResponse(ok, for: key) }
    }

    @Test func ackForNon2xxIsAbsorbedByTheInviteServerTransactionAndAckFor2xxGoesToTU() throws {
        var h = LayerHarness()
        let invite = TestMessages.request(.invite)
        h.on { $0.requestReceived(invite, reliability: .unreliable) }
        let key = try SIPTransactionKey.server(for: invite)
        try h.on { try $0.tuSentResponse(TestMessages.response(486, to: invite), for: key) }

        let ack = TestMessages.request(.ack, toTag: "a6c85cf")
        let absorbed = h.on { $0.requestReceived(ack, reliability: .unreliable) }
        #expect(absorbed == [.cancelTimer(key, .G), .cancelTimer(key, .H), .scheduleTimer(key, .I, after: .seconds(5))])

        let ackFor2xx = TestMessages.request(.ack, branch: "z9hG4bKack2xx", cseq: 1, toTag: "t", callID: "other@x")
        #expect(h.on { $0.requestReceived(ackFor2xx, reliability: .unreliable) } == [.deliverAckToTU(ackFor2xx)])
    }

    @Test func rfc2543AckMustCarryTheToTagOfOurResponse() throws {
        var h = LayerHarness()
        let invite = TestMessages.request(.invite, branch: "old1")
        h.on { $0.requestReceived(invite, reliability: .unreliable) }
        let key = try SIPTransactionKey.server(for: invite)
        try h.on { try $0.tuSentResponse(TestMessages.response(404, to: invite, toTag: "ours"), for: key) }

        let wrongTag = TestMessages.request(.ack, branch: "old1", toTag: "theirs")
        #expect(h.on { $0.requestReceived(wrongTag, reliability: .unreliable) } == [.deliverAckToTU(wrongTag)])
        let rightTag = TestMessages.request(.ack, branch: "old1", toTag: "ours")
        #expect(h.on { $0.requestReceived(rightTag, reliability: .unreliable) }.contains(.cancelTimer(key, .H)))
    }

    @Test func cancelGetsItsOwnTransactionAndTheLookupFindsTheInvite() throws {
        var h = LayerHarness()
        let invite = TestMessages.request(.invite)
        h.on { $0.requestReceived(invite, reliability: .unreliable) }
        let cancel = TestMessages.request(.cancel)
        let actions = h.on { $0.requestReceived(cancel, reliability: .unreliable) }
        let cancelKey = try SIPTransactionKey.server(for: cancel)
        #expect(actions == [.deliverRequestToTU(cancelKey, cancel)])
        #expect(h.layer.count == 2)
        #expect(h.layer.inviteServerTransaction(cancelledBy: cancel) == (try SIPTransactionKey.server(for: invite)))
        #expect(h.layer.inviteServerTransaction(cancelledBy: TestMessages.request(.cancel, branch: "z9hG4bKunknown")) == nil)
    }

    @Test func invalidRequestsAreDiscardedWithTheReason() {
        var h = LayerHarness()
        var request = TestMessages.request(.options)
        request.headers.remove("Via")
        #expect(h.on { $0.requestReceived(request, reliability: .unreliable) } == [.discardInvalidRequest(request, .missingVia)])
        #expect(h.layer.count == 0)
    }

    @Test func tuMayNotSendAckThroughATransactionOrReuseABranch() throws {
        var h = LayerHarness()
        #expect(throws: SIPTransactionError.ackHasNoTransaction) { try h.send(TestMessages.request(.ack)) }
        _ = try h.send(TestMessages.request(.options))
        #expect(throws: SIPTransactionError.transactionExists) { try h.send(TestMessages.request(.options)) }
    }

    @Test func transportErrorIsReportedToTheTUAndRemovesTheTransaction() throws {
        var h = LayerHarness()
        let key = try h.send(TestMessages.request(.invite), .reliable)
        #expect(h.on { $0.transportFailed(for: key) } == [.reportTransportError(key), .transactionTerminated(key)])
        #expect(h.layer.count == 0)
        #expect(h.on { $0.transportFailed(for: key) }.isEmpty)
    }

    @Test func inviteClientOverTheLayerAcksANon2xxAndLateResponsesAreStray() throws {
        var h = LayerHarness()
        let invite = TestMessages.request(.invite)
        let key = try h.send(invite)
        let busy = TestMessages.response(486, to: invite)
        let actions = h.on { $0.responseReceived(busy) }
        #expect(actions.contains { if case .sendAck(key, _) = $0 { true } else { false } })
        h.advance(to: .seconds(40))
        #expect(h.times(.transactionTerminated(key)) == seconds(32))
        #expect(h.on { $0.responseReceived(busy) } == [.discardStrayResponse(busy)])
    }
}
