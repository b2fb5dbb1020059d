import SMFTestSupport
import Foundation
import SIPCore
import SIPEvents
import SIPSyntax
import Testing

@Suite struct SIPNotifierTests {
    @Test func newSubscriptionIsAnswered200WithClampedExpiresAndAnActiveNotifyAtOnce() throws {
        var h = NotifierHarness()
        let actions = h.on { $0.subscribeReceived(Fixtures.subscribe(expires: 7200), now: $1, using: &$2) }

        let ok = try #require(actions.responses.first)
        #expect(ok.statusCode == 200)
        #expect(ok.headers.expires == 3600)
        #expect(ok.headers.to?.tag != nil)
        #expect(ok.headers.contacts.first?.uri == Fixtures.notifierContact)
        let notify = try #require(actions.notifies.first)
        #expect(notify.headers.subscriptionState == SIPSubscriptionState(.active, expires: 3600))
        #expect(notify.headers.event == SIPEventHeader(package: "m2m-alarm"))
        #expect(notify.uri == Fixtures.aliceContact)
        #expect(notify.headers.from?.tag == ok.headers.to?.tag)
        #expect(notify.headers.to?.tag == "ftag")
        #expect(h.notifier.count == 1)
    }

    @Test func tooBriefExpiresIsAnswered423WithMinExpiresAndCreatesNothing() throws {
        var h = NotifierHarness()
        let actions = h.on { $0.subscribeReceived(Fixtures.subscribe(expires: 10), now: $1, using: &$2) }
        let response = try #require(actions.responses.first)
        #expect(response.statusCode == 423)
        #expect(response.headers.minExpires == 60)
        #expect(actions.notifies.isEmpty)
        #expect(h.notifier.count == 0)
    }

    @Test func unknownPackageIsAnswered489ListingAllowEvents() throws {
        var h = NotifierHarness(packages: [Fixtures.alarm, SIPBasicEventPackage(name: "presence")])
        let actions = h.on { $0.subscribeReceived(Fixtures.subscribe(event: "dialog"), now: $1, using: &$2) }
        let response = try #require(actions.responses.first)
        #expect(response.statusCode == 489)
        #expect(response.headers.allowEvents == ["m2m-alarm", "presence"])
        #expect(h.notifier.count == 0)
    }

    @Test func fetchWithExpiresZeroSendsOneTerminatedNotifyWithStateAndKeepsNothing() throws {
        var h = NotifierHarness()
        h.on { $0.resourceStateChanged(event: "m2m-alarm", resource: "sip:smoke-7@house-12.example.com", state: Fixtures.body("{\"smoke\":false}"), now: $1) }
        let actions = h.on { $0.subscribeReceived(Fixtures.subscribe(expires: 0), now: $1, using: &$2) }

        #expect(actions.responses.map(\.statusCode) == [200])
        #expect(actions.notifies.count == 1)
        let notify = try #require(actions.notifies.first)
        #expect(notify.headers.subscriptionState == SIPSubscriptionState(.terminated, reason: .timeout))
        #expect(notify.eventBody == Fixtures.body("{\"smoke\":false}"))
        #expect(h.notifier.count == 0)
        #expect(h.notifier.dialogs.isEmpty)
        #expect(h.timers.scheduled.isEmpty)
    }

    @Test func expiredSubscriptionsAreTerminatedWithReasonTimeoutAndRemoved() {
        var h = NotifierHarness()
        h.on { $0.subscribeReceived(Fixtures.subscribe(expires: 600, callID: "a"), now: $1, using: &$2) }
        h.advance(to: .seconds(100))
        h.on { $0.subscribeReceived(Fixtures.subscribe(expires: 300, callID: "b"), now: $1, using: &$2) }
        #expect(h.notifier.count == 2)

        let fired = h.advance(to: .seconds(1000))
        #expect(fired.notifies.map(\.headers.subscriptionState) == [
            SIPSubscriptionState(.terminated, reason: .timeout), SIPSubscriptionState(.terminated, reason: .timeout),
        ])
        #expect(h.notifyLog.suffix(2).map(\.at) == [.seconds(400), .seconds(600)])
        #expect(h.notifier.count == 0)
        #expect(h.notifier.dialogs.isEmpty)
        #expect(h.timers.scheduled.isEmpty)
    }

    @Test func refreshIsAnsweredWithNotifyAndUnsubscribeEndsWithTerminatedNotify() throws {
        var h = NotifierHarness()
        let first = h.on { $0.subscribeReceived(Fixtures.subscribe(expires: 600), now: $1, using: &$2) }
        let tag = try #require(first.responses.first?.headers.to?.tag)
        h.advance(to: .seconds(500))
        let refresh = h.on { $0.subscribeReceived(Fixtures.subscribe(expires: 600, cseq: 2, toTag: tag), now: $1, using: &$2) }
        #expect(refresh.responses.map(\.statusCode) == [200])
        #expect(refresh.notifies.first?.headers.subscriptionState == SIPSubscriptionState(.active, expires: 600))
        #expect(h.timers.deadline(of: .expiry(SIPSubscriptionKey(dialogID: SIPDialogID(callID: "sub-1@atlanta", localTag: tag, remoteTag: "ftag"), event: SIPEventHeader(package: "m2m-alarm")))) == .seconds(1100))

        let unsubscribe = h.on { $0.subscribeReceived(Fixtures.subscribe(expires: 0, cseq: 3, toTag: tag), now: $1, using: &$2) }
        #expect(unsubscribe.responses.map(\.statusCode) == [200])
        #expect(unsubscribe.notifies.map(\.headers.subscriptionState) == [SIPSubscriptionState(.terminated, reason: .timeout)])
        #expect(h.notifier.count == 0)
        #expect(h.timers.scheduled.isEmpty)
    }

    @Test func inDialogSubscribeWithLowerCSeqIsAnswered500AndUnknownDialog481() throws {
        var h = NotifierHarness()
        let first = h.on { $0.subscribeReceived(Fixtures.subscribe(cseq: 5), now: $1, using: &$2) }
        let tag = try #require(first.responses.first?.headers.to?.tag)
        let stale = h.on { $0.subscribeReceived(Fixtures.subscribe(cseq: 4, toTag: tag), now: $1, using: &$2) }
        #expect(stale.responses.map(\.statusCode) == [500])
        #expect(stale.notifies.isEmpty)
        let unknown = h.on { $0.subscribeReceived(Fixtures.subscribe(cseq: 6, toTag: "nope"), now: $1, using: &$2) }
        #expect(unknown.responses.map(\.statusCode) == [481])
    }

    @Test func changesWithinTheMinimumIntervalAreCoalescedIntoOneNotifyWithTheLatestState() {
        var package = Fixtures.alarm
        package.minimumNotifyInterval = .seconds(5)
        var h = NotifierHarness(packages: [package])
        let resource = "sip:smoke-7@house-12.example.com"
        h.on { $0.subscribeReceived(Fixtures.subscribe(), now: $1, using: &$2) }  // NOTIFY at 0
        h.advance(to: .seconds(1))
        h.on { $0.resourceStateChanged(event: "m2m-alarm", resource: resource, state: Fixtures.body("1"), now: $1) }
        h.advance(to: .seconds(2))
        h.on { $0.resourceStateChanged(event: "m2m-alarm", resource: resource, state: Fixtures.body("2"), now: $1) }
        h.advance(to: .seconds(3))
        h.on { $0.resourceStateChanged(event: "m2m-alarm", resource: resource, state: Fixtures.body("3"), now: $1) }
        h.advance(to: .seconds(20))
        h.on { $0.resourceStateChanged(event: "m2m-alarm", resource: resource, state: Fixtures.body("4"), now: $1) }

        #expect(h.notifyLog.map(\.at) == [.zero, .seconds(5), .seconds(20)])
        #expect(h.notifyLog.map { $0.notify.eventBody?.text } == [nil, "3", "4"])
    }

    @Test func dialogKeptInCompactFormBuildsNotifiesWithItsRouteSetTargetAndGrowingCSeq() throws {
        var h = NotifierHarness()
        var subscribe = Fixtures.subscribe()
        subscribe.headers.add(name: "Record-Route", value: "<sip:proxy1.example.com;lr>")
        subscribe.headers.add(name: "Record-Route", value: "<sip:[2001:db8::1]:5070;lr;transport=tcp>")
        let created = h.on { $0.subscribeReceived(subscribe, now: $1, using: &$2) }
        let tag = try #require(created.responses.first?.headers.to?.tag)
        let id = SIPDialogID(callID: "sub-1@atlanta", localTag: tag, remoteTag: "ftag")
        var expected = try SIPDialog(uasRequest: subscribe, localTag: tag, localContact: Fixtures.notifierContact)
        _ = expected.makeRequest(method: .notify)
        #expect(h.notifier.dialog(id) == expected)
        #expect(h.notifier.hasDialog(id))
        #expect(h.notifier.notifySequence(inDialog: id) == 1)
        #expect(h.notifier.dialogs == [id: expected])

        h.advance(to: .seconds(5))
        let changed = h.on { $0.resourceStateChanged(event: "m2m-alarm", resource: "sip:smoke-7@house-12.example.com", state: Fixtures.body("1"), now: $1) }
        let notify = try #require(changed.notifies.first)
        #expect(notify.uri == Fixtures.aliceContact)
        #expect(notify.headers.values("Route") == ["<sip:proxy1.example.com;lr>", "<sip:[2001:db8::1]:5070;lr;transport=tcp>"])
        #expect(notify.headers.cseq?.sequence == 2)
        #expect(notify.headers.to?.uri == Fixtures.alice)
        #expect(notify.headers.contacts.first?.uri == Fixtures.notifierContact)
        #expect(h.notifier.notifySequence(inDialog: id) == 2)
    }

    @Test func stateChangeNotifiesOnlyTheWatchersOfThatResourceAmongMany() throws {
        var h = NotifierHarness()
        // 300 subscriptions: three watchers on each of 100 resources.
        for index in 0..<300 {
            var subscribe = Fixtures.subscribe(callID: "w\(index)@atlanta", fromTag: "f\(index)")
            let resource = try #require(SIPURI("sip:sensor-\(index % 100)@house-12.example.com"))
            subscribe.uri = resource
            subscribe.headers.to = SIPNameAddress(uri: resource)
            h.on { $0.subscribeReceived(subscribe, now: $1, using: &$2) }
        }
        #expect(h.notifier.count == 300)
        let changed = h.on { $0.resourceStateChanged(event: "m2m-alarm", resource: "sip:sensor-42@house-12.example.com", state: Fixtures.body("1"), now: $1) }
        #expect(Set(changed.notifies.compactMap(\.headers.callID)) == ["w42@atlanta", "w142@atlanta", "w242@atlanta"])
        #expect(changed.notifies.allSatisfy { $0.eventBody?.text == "1" })
        // Another package's state for the same resource reaches nobody.
        #expect(h.on { $0.resourceStateChanged(event: "presence", resource: "sip:sensor-42@house-12.example.com", state: Fixtures.body("x"), now: $1) }.isEmpty)

        // Once a watcher is gone it is no longer notified; the others still are.
        let gone = try #require(h.notifier.subscriptions.keys.first { $0.dialogID.callID == "w142@atlanta" })
        h.on { $0.terminate(gone, reason: .noresource, now: $1) }
        let again = h.on { $0.resourceStateChanged(event: "m2m-alarm", resource: "sip:sensor-42@house-12.example.com", state: Fixtures.body("2"), now: $1) }
        #expect(Set(again.notifies.compactMap(\.headers.callID)) == ["w42@atlanta", "w242@atlanta"])
        // After a restore the index is rebuilt from the saved subscriptions.
        var restarted = NotifierHarness()
        restarted.on { $0.restore(h.notifier.snapshot, now: $1) }
        let restored = restarted.on { $0.resourceStateChanged(event: "m2m-alarm", resource: "sip:sensor-7@house-12.example.com", state: Fixtures.body("3"), now: $1) }
        #expect(Set(restored.notifies.compactMap(\.headers.callID)) == ["w7@atlanta", "w107@atlanta", "w207@atlanta"])
    }

    @Test func idParameterKeepsTwoSubscriptionsInOneDialogApartWithOneGrowingCSeq() throws {
        var h = NotifierHarness()
        var first = Fixtures.subscribe(cseq: 1)
        first.headers.event = SIPEventHeader(package: "m2m-alarm", id: "kitchen")
        let created = h.on { $0.subscribeReceived(first, now: $1, using: &$2) }
        let tag = try #require(created.responses.first?.headers.to?.tag)
        var second = Fixtures.subscribe(cseq: 2, toTag: tag)
        second.headers.event = SIPEventHeader(package: "m2m-alarm", id: "garage")
        let added = h.on { $0.subscribeReceived(second, now: $1, using: &$2) }
        #expect(added.responses.map(\.statusCode) == [200])
        #expect(h.notifier.count == 2)
        #expect(h.notifier.dialogs.count == 1)

        let kitchen = SIPSubscriptionKey(dialogID: SIPDialogID(callID: "sub-1@atlanta", localTag: tag, remoteTag: "ftag"), event: SIPEventHeader(package: "m2m-alarm", id: "kitchen"))
        let ended = h.on { $0.terminate(kitchen, reason: .noresource, now: $1) }
        #expect(ended.notifies.first?.headers.event?.id == "kitchen")
        #expect(h.notifier.count == 1)
        #expect(h.notifier.dialogs.count == 1)
        #expect(h.notifyLog.map { $0.notify.headers.cseq?.sequence } == [1, 2, 3])
        #expect(h.notifyLog.map { $0.notify.headers.event?.id } == ["kitchen", "garage", "kitchen"])
    }

    @Test func restoredNotifierContinuesNotifyCSeqFromSavedStateNeverGoingBack() throws {
        var h = NotifierHarness()
        let resource = "sip:smoke-7@house-12.example.com"
        h.on { $0.subscribeReceived(Fixtures.subscribe(expires: 3600), now: $1, using: &$2) }
        for i in 1...4 {
            h.advance(to: .seconds(i * 10))
            h.on { $0.resourceStateChanged(event: "m2m-alarm", resource: resource, state: Fixtures.body("\(i)"), now: $1) }
        }
        let lastSent = try #require(h.notifyLog.last?.notify.headers.cseq?.sequence)
        #expect(lastSent == 5)
        let saved = try JSONEncoder().encode(h.notifier.snapshot)

        // A new process: fresh notifier, state from disk, time has moved on.
        var restarted = NotifierHarness()
        restarted.timers.settle(at: .seconds(100))
        let snapshot = try JSONDecoder().decode(SIPNotifier.Snapshot.self, from: saved)
        let rearmed = restarted.on { n, now in n.restore(snapshot, now: now) }
        #expect(rearmed.contains { if case .scheduleTimer(.expiry, let after) = $0 { after == .seconds(3500) } else { false } })
        let next = restarted.on { $0.resourceStateChanged(event: "m2m-alarm", resource: resource, state: Fixtures.body("5"), now: $1) }
        let notify = try #require(next.notifies.first as SIPRequest?)
        #expect(notify.headers.cseq?.sequence == lastSent + 1)
        #expect(notify.headers.subscriptionState?.expires == 3500)
    }

    @Test func notifyAnswered481OrTimingOutRemovesTheSubscription() throws {
        var h = NotifierHarness()
        let a = h.on { $0.subscribeReceived(Fixtures.subscribe(callID: "a"), now: $1, using: &$2) }
        let b = h.on { $0.subscribeReceived(Fixtures.subscribe(callID: "b"), now: $1, using: &$2) }
        let notifyA = try #require(a.notifies.first)
        let notifyB = try #require(b.notifies.first)

        let gone = h.on { n, now in n.notifyResponseReceived(Fixtures.response(481, to: notifyA, toTag: nil), now: now) }
        #expect(gone.contains { if case .subscriptionRemoved(_, .notifyFailed(statusCode: 481)) = $0 { true } else { false } })
        #expect(h.notifier.count == 1)

        let timedOut = h.on { n, now in n.notifyFailed(notifyB, now: now) }
        #expect(timedOut.contains { if case .subscriptionRemoved(_, .notifyFailed(statusCode: nil)) = $0 { true } else { false } })
        #expect(h.notifier.count == 0)
        #expect(h.timers.scheduled.isEmpty)
    }

    @Test func pendingSubscriptionGets202AndPendingNotifyThenActiveStateWhenAuthorized() throws {
        let package = SIPBasicEventPackage(name: "m2m-alarm", authorization: { _ in .pending })
        var h = NotifierHarness(packages: [package])
        h.on { $0.resourceStateChanged(event: "m2m-alarm", resource: "sip:smoke-7@house-12.example.com", state: Fixtures.body("secret"), now: $1) }
        let created = h.on { $0.subscribeReceived(Fixtures.subscribe(), now: $1, using: &$2) }
        #expect(created.responses.map(\.statusCode) == [202])
        let pendingNotify = try #require(created.notifies.first)
        #expect(pendingNotify.headers.subscriptionState?.value == .pending)
        #expect(pendingNotify.eventBody == nil)

        let key = try #require(h.notifier.subscriptions.keys.first)
        let accepted = h.on { $0.authorize(key, decision: .accept, now: $1) }
        #expect(accepted.notifies.first?.headers.subscriptionState?.value == .active)
        #expect(accepted.notifies.first?.eventBody?.text == "secret")
    }

    @Test func rejectedAuthorizationAnswersWithTheGivenStatusAndKeepsNothing() {
        let package = SIPBasicEventPackage(name: "m2m-alarm", authorization: { _ in .reject(statusCode: 403) })
        var h = NotifierHarness(packages: [package])
        let actions = h.on { $0.subscribeReceived(Fixtures.subscribe(), now: $1, using: &$2) }
        #expect(actions.responses.map(\.statusCode) == [403])
        #expect(h.notifier.count == 0)
    }

    @Test func notifierTerminationCarriesReasonAndRetryAfter() throws {
        var h = NotifierHarness()
        h.on { $0.subscribeReceived(Fixtures.subscribe(), now: $1, using: &$2) }
        let key = try #require(h.notifier.subscriptions.keys.first)
        let actions = h.on { $0.terminate(key, reason: .probation, retryAfter: 120, now: $1) }
        #expect(actions.notifies.first?.headers["Subscription-State"] == "terminated;reason=probation;retry-after=120")
        #expect(h.notifier.count == 0)
    }

    @Test func subscribeWithoutContactIsAnswered400() {
        var h = NotifierHarness()
        let actions = h.on { $0.subscribeReceived(Fixtures.subscribe(contact: false), now: $1, using: &$2) }
        #expect(actions.responses.map(\.statusCode) == [400])
        #expect(h.notifier.count == 0)
    }
}
