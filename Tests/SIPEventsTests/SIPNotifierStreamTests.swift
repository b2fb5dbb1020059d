import SMFTestSupport
import SIPCore
import SIPEvents
import SIPSyntax
import Testing

/// A notifier owner that streams bodies on one subscription (a service wire) rather than keeping one state per
/// resource: ``SIPNotifier/notify(_:body:now:)``.
@Suite struct SIPNotifierStreamTests {
    /// A notifier with one active subscription, its key and the first NOTIFY.
    func subscribed(_ h: inout NotifierHarness, callID: String = "sub-1@atlanta") throws -> (SIPSubscriptionKey, SIPRequest) {
        let actions = h.on { $0.subscribeReceived(Fixtures.subscribe(expires: 600, callID: callID), now: $1, using: &$2) }
        let key = try #require(actions.compactMap { action -> SIPSubscriptionKey? in
            if case .subscriptionCreated(let key, _) = action { key } else { nil }
        }.first)
        return (key, try #require(actions.notifies.first))
    }

    @Test func aBodySentOnOneSubscriptionGoesOutAsAnActiveNotifyWithTheNextCSeq() throws {
        var h = NotifierHarness()
        let (key, first) = try subscribed(&h)
        h.advance(to: .seconds(100))
        let actions = h.on { $0.notify(key, body: Fixtures.body("[1,2]"), now: $1) }
        let notify = try #require(actions.notifies.first)
        #expect(actions.notifies.count == 1)
        #expect(notify.eventBody == Fixtures.body("[1,2]"))
        #expect(notify.headers.subscriptionState == SIPSubscriptionState(.active, expires: 500))
        #expect(notify.headers.callID == first.headers.callID)
        #expect(notify.headers.cseq?.sequence == (first.headers.cseq?.sequence ?? 0) + 1)

        let next = h.on { $0.notify(key, body: Fixtures.body("[3]"), now: $1) }
        #expect(next.notifies.first?.headers.cseq?.sequence == (first.headers.cseq?.sequence ?? 0) + 2)
    }

    @Test func aStreamedBodyChangesOnlyNotifyBookkeepingButANewResourceStateOrARefreshChangesMore() throws {
        var h = NotifierHarness()
        let (key, _) = try subscribed(&h)
        let before = try #require(h.notifier.subscriptions[key])
        h.advance(to: .seconds(10))
        h.on { $0.notify(key, body: Fixtures.body("batch"), now: $1) }
        let streamed = try #require(h.notifier.subscriptions[key])
        #expect(streamed != before, "the last NOTIFY's time and CSeq moved")
        #expect(streamed.differsAtMostInNotifyBookkeeping(from: before))

        h.advance(to: .seconds(20))
        h.on { $0.resourceStateChanged(event: "m2m-alarm", resource: "sip:smoke-7@house-12.example.com", state: Fixtures.body("fire"), now: $1) }
        let changed = try #require(h.notifier.subscriptions[key])
        #expect(!changed.differsAtMostInNotifyBookkeeping(from: streamed), "the state sent changed: a restart must know it")

        var refresh = Fixtures.subscribe(expires: 900, toTag: h.notifyLog.first?.notify.headers.from?.tag)
        refresh.headers.replaceOrAdd(name: "CSeq", value: "2 SUBSCRIBE")
        h.on { $0.subscribeReceived(refresh, now: $1, using: &$2) }
        let refreshed = try #require(h.notifier.subscriptions[key])
        #expect(!refreshed.differsAtMostInNotifyBookkeeping(from: changed), "the expiry moved")
    }

    @Test func aStreamedBodyIsNotTheResourceStateSoARefreshSendsTheStateNotTheLastBody() throws {
        var h = NotifierHarness()
        h.on { $0.resourceStateChanged(event: "m2m-alarm", resource: "sip:smoke-7@house-12.example.com", state: Fixtures.body("state"), now: $1) }
        let (key, first) = try subscribed(&h)
        #expect(first.eventBody == Fixtures.body("state"))
        h.on { $0.notify(key, body: Fixtures.body("batch"), now: $1) }

        var refresh = Fixtures.subscribe(expires: 600, toTag: first.headers.from?.tag)
        refresh.headers.replaceOrAdd(name: "CSeq", value: "2 SUBSCRIBE")
        let refreshed = h.on { $0.subscribeReceived(refresh, now: $1, using: &$2) }
        #expect(refreshed.responses.map(\.statusCode) == [200])
        #expect(refreshed.notifies.map(\.eventBody) == [Fixtures.body("state")])
    }

    @Test func aStreamedBodyReachesOnlyItsSubscriptionNotOthersOfTheSameResource() throws {
        var h = NotifierHarness()
        let (key, _) = try subscribed(&h, callID: "a")
        let (other, _) = try subscribed(&h, callID: "b")
        let actions = h.on { $0.notify(key, body: Fixtures.body("only-a"), now: $1) }
        #expect(actions.notifies.count == 1)
        #expect(actions.notifies.first?.headers.callID == "a")
        #expect(other.dialogID.callID == "b")
    }

    @Test func nothingIsSentForAnUnknownOrPendingSubscription() throws {
        var h = NotifierHarness(packages: [
            SIPBasicEventPackage(name: "m2m-alarm", authorization: { _ in .pending })
        ])
        let (key, first) = try subscribed(&h)
        #expect(first.headers.subscriptionState?.value == .pending)
        #expect(h.on { $0.notify(key, body: Fixtures.body("x"), now: $1) }.isEmpty)

        var gone = key
        gone.dialogID = SIPDialogID(callID: "nobody", localTag: "x", remoteTag: "y")
        #expect(h.on { $0.notify(gone, body: Fixtures.body("x"), now: $1) }.isEmpty)
    }

    @Test func aStreamedNotifyAnswered500WithRetryAfterKeepsTheSubscription() throws {
        var h = NotifierHarness()
        let (key, _) = try subscribed(&h)
        let notify = try #require(h.on { $0.notify(key, body: Fixtures.body("b"), now: $1) }.notifies.first)
        var refused = SIPEventMessages.response(500, to: notify)
        refused.headers.add(name: "Retry-After", value: "1")
        #expect(h.on { $0.notifyResponseReceived(refused, now: $1) }.isEmpty)
        #expect(h.notifier.subscriptions[key] != nil)

        let again = try #require(h.on { $0.notify(key, body: Fixtures.body("b"), now: $1) }.notifies.first)
        let removed = h.on { $0.notifyResponseReceived(SIPEventMessages.response(500, to: again), now: $1) }
        #expect(removed.contains(.subscriptionRemoved(key, .notifyFailed(statusCode: 500))))
        #expect(h.notifier.subscriptions[key] == nil)
    }
}

@Suite struct SIPSubscriberEventParameterTests {
    @Test func eventParametersTravelWithEverySubscribeButTheIdentityStaysPackageAndID() throws {
        var random = SplitMix64()
        let configuration = SIPSubscriberConfiguration(
            requestURI: Fixtures.sensor, subscriber: Fixtures.alice, localContact: Fixtures.aliceContact,
            event: SIPEventHeader(package: "m2m-alarm", id: "w1"), expires: 600,
            eventParameters: ["kind": "smoke", "building": "house-12"])
        var s = SIPSubscriberSubscription(configuration: configuration)
        let subscribe = try #require(s.start(now: .zero, using: &random).requests.first)
        #expect(subscribe.headers["Event"] == "m2m-alarm;id=w1;building=house-12;kind=smoke")
        #expect(subscribe.headers.event == SIPEventHeader(package: "m2m-alarm", id: "w1"))

        _ = s.responseReceived(
            Fixtures.response(200, to: subscribe, toTag: "n1", extra: [("Expires", "600"), ("Contact", "<sip:n@192.0.2.20>")]), now: .zero,
            using: &random)
        var notify = SIPSubscriberSubscriptionTests.notify(for: subscribe, fromTag: "n1", cseq: 1, state: "active;expires=600")
        notify.headers.replaceOrAdd(name: "Event", value: "m2m-alarm;id=w1")
        #expect(s.notifyReceived(notify, now: .seconds(1), using: &random).responses.map(\.statusCode) == [200])

        let id = try #require(s.usages.keys.first)
        let refresh = try #require(s.timerFired(.refresh(id), now: .seconds(500), using: &random).requests.first)
        #expect(refresh.headers["Event"] == "m2m-alarm;id=w1;building=house-12;kind=smoke")
    }
}
