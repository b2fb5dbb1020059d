import SMFTestSupport
import SIPCore
import SIPEvents
import SIPSyntax
import Testing

@Suite struct SIPSubscriberSubscriptionTests {
    static let configuration = SIPSubscriberConfiguration(
        requestURI: Fixtures.sensor, subscriber: Fixtures.alice, localContact: Fixtures.aliceContact,
        event: SIPEventHeader(package: "m2m-alarm"), expires: 600
    )

    /// A NOTIFY from notifier `tag` on the subscription that `subscribe` started.
    static func notify(
        for subscribe: SIPRequest, fromTag tag: String, cseq: UInt32, state: String, body: String? = nil, contact: String = "sip:notifier@192.0.2.20"
    ) -> SIPRequest {
        var headers = SIPHeaders()
        headers.add(name: "Via", value: "SIP/2.0/UDP 192.0.2.20;branch=z9hG4bK\(tag)\(cseq)")
        headers.add(name: "Max-Forwards", value: "70")
        headers.add(name: "From", value: "<\(Fixtures.sensor)>;tag=\(tag)")
        headers.add(name: "To", value: subscribe.headers["From"] ?? "")
        headers.add(name: "Call-ID", value: subscribe.headers.callID ?? "")
        headers.add(name: "CSeq", value: "\(cseq) NOTIFY")
        headers.add(name: "Contact", value: "<\(contact)>")
        headers.add(name: "Event", value: "m2m-alarm")
        headers.add(name: "Subscription-State", value: state)
        var request = SIPRequest(method: .notify, uri: Fixtures.aliceContact, headers: headers)
        if let body { request.eventBody = Fixtures.body(body) }
        return request
    }

    func started() throws -> (SIPSubscriberSubscription, SIPRequest, SplitMix64) {
        var random = SplitMix64()
        var subscriber = SIPSubscriberSubscription(configuration: Self.configuration)
        let actions = subscriber.start(now: .zero, using: &random)
        let subscribe = try #require(actions.requests.first)
        #expect(actions.scheduled(.waitForNotify) == .seconds(32))
        return (subscriber, subscribe, random)
    }

    @Test func notifyArrivingBeforeThe200IsAcceptedAndCreatesTheDialog() throws {
        var (s, subscribe, random) = try started()
        let early = s.notifyReceived(Self.notify(for: subscribe, fromTag: "n1", cseq: 1, state: "active;expires=600", body: "ok"), now: .seconds(1), using: &random)
        #expect(early.responses.map(\.statusCode) == [200])
        #expect(early.notifications.map(\.body?.text) == ["ok"])
        #expect(s.usages.count == 1)

        let ok = s.responseReceived(Fixtures.response(200, to: subscribe, toTag: "n1", extra: [("Expires", "600"), ("Contact", "<sip:notifier@192.0.2.20>")]), now: .seconds(1), using: &random)
        #expect(ok.requests.isEmpty)
        #expect(s.usages.count == 1)
        let id = try #require(s.usages.keys.first)
        #expect(id == SIPDialogID(callID: subscribe.headers.callID ?? "", localTag: subscribe.headers.from?.tag ?? "", remoteTag: "n1"))
    }

    @Test func forkedNotifiesCreateOneDialogEachAndRefreshEachSeparately() throws {
        var (s, subscribe, random) = try started()
        _ = s.responseReceived(Fixtures.response(200, to: subscribe, toTag: "n1", extra: [("Contact", "<sip:a@192.0.2.21>")]), now: .zero, using: &random)
        let a = s.notifyReceived(Self.notify(for: subscribe, fromTag: "n1", cseq: 1, state: "active;expires=600", contact: "sip:a@192.0.2.21"), now: .seconds(1), using: &random)
        let b = s.notifyReceived(Self.notify(for: subscribe, fromTag: "n2", cseq: 7, state: "active;expires=600", contact: "sip:b@192.0.2.22"), now: .seconds(1), using: &random)
        #expect(a.responses.map(\.statusCode) == [200])
        #expect(b.responses.map(\.statusCode) == [200])
        #expect(Set(s.usages.keys.map(\.remoteTag)) == ["n1", "n2"])

        let second = try #require(s.usages.keys.first { $0.remoteTag == "n2" })
        let refresh = s.timerFired(.refresh(second), now: .seconds(500), using: &random)
        let request = try #require(refresh.requests.first)
        #expect(request.uri == SIPURI("sip:b@192.0.2.22"))
        #expect(request.headers.to?.tag == "n2")
        #expect(request.headers.expires == 600)
    }

    @Test func expiresInNotifyShortensTheSubscriptionAndMovesTheRefresh() throws {
        var (s, subscribe, random) = try started()
        let granted = s.responseReceived(Fixtures.response(200, to: subscribe, toTag: "n1", extra: [("Expires", "600"), ("Contact", "<sip:n@192.0.2.20>")]), now: .zero, using: &random)
        let id = try #require(s.usages.keys.first)
        #expect(granted.scheduled(.expiry(id)) == .seconds(600))

        let shortened = s.notifyReceived(Self.notify(for: subscribe, fromTag: "n1", cseq: 1, state: "active;expires=120"), now: .seconds(10), using: &random)
        #expect(shortened.scheduled(.expiry(id)) == .seconds(120))
        let refresh = try #require(shortened.scheduled(.refresh(id)))
        #expect(refresh >= .seconds(96) && refresh <= .seconds(108))
        #expect(s.usages[id]?.expiresAt == .seconds(130))
    }

    @Test func intervalTooBriefIsRetriedWithMinExpires() throws {
        var (s, subscribe, random) = try started()
        let retry = s.responseReceived(Fixtures.response(423, to: subscribe, toTag: nil, extra: [("Min-Expires", "1800")]), now: .zero, using: &random)
        let again = try #require(retry.requests.first)
        #expect(again.headers.expires == 1800)
        #expect(again.headers.callID == subscribe.headers.callID)
        #expect(again.headers.cseq?.sequence == (subscribe.headers.cseq?.sequence ?? 0) + 1)
        #expect(s.isFinished == false)
    }

    @Test func refreshAnswered481StartsANewSubscriptionWithANewCallID() throws {
        var (s, subscribe, random) = try started()
        _ = s.notifyReceived(Self.notify(for: subscribe, fromTag: "n1", cseq: 1, state: "active;expires=600"), now: .zero, using: &random)
        let id = try #require(s.usages.keys.first)
        let refresh = try #require(s.timerFired(.refresh(id), now: .seconds(500), using: &random).requests.first)
        let recovery = s.responseReceived(Fixtures.response(481, to: refresh, toTag: nil), now: .seconds(500), using: &random)
        let fresh = try #require(recovery.requests.first)
        #expect(fresh.headers.to?.tag == nil)
        #expect(fresh.headers.callID != subscribe.headers.callID)
        #expect(s.usages.isEmpty)
        #expect(recovery.terminations.isEmpty)
    }

    @Test func notifyTheApplicationRefusesWithoutRetryAfterEndsTheDialogAndResubscribesAfterTheRetryDelay() throws {
        var (s, subscribe, random) = try started()
        _ = s.notifyReceived(Self.notify(for: subscribe, fromTag: "n1", cseq: 1, state: "active;expires=600"), now: .zero, using: &random)
        let id = try #require(s.usages.keys.first)
        // The notifier removes a subscription whose NOTIFY got 403 (RFC 6665 §4.2.2): waiting for the refresh would
        // leave the subscriber without notifications for up to the whole interval.
        let refused = s.notifyRefused(id, statusCode: 403, retryAfter: nil)
        #expect(s.usages.isEmpty)
        #expect(refused.scheduled(.retry) == .seconds(30))
        #expect(refused.terminations.isEmpty)
        let retried = s.timerFired(.retry, now: .seconds(30), using: &random)
        let fresh = try #require(retried.requests.first)
        #expect(fresh.headers.to?.tag == nil)
        #expect(fresh.headers.callID != subscribe.headers.callID)
    }

    @Test func notifyRefusedWithRetryAfterOrForCredentialsKeepsTheDialog() throws {
        var (s, subscribe, random) = try started()
        _ = s.notifyReceived(Self.notify(for: subscribe, fromTag: "n1", cseq: 1, state: "active;expires=600"), now: .zero, using: &random)
        let id = try #require(s.usages.keys.first)
        #expect(s.notifyRefused(id, statusCode: 500, retryAfter: 1).isEmpty)
        #expect(s.notifyRefused(id, statusCode: 401, retryAfter: nil).isEmpty)
        #expect(s.usages[id] != nil)
    }

    @Test func refreshTimingOutRetriesAfterTheRetryDelay() throws {
        var (s, subscribe, random) = try started()
        _ = s.notifyReceived(Self.notify(for: subscribe, fromTag: "n1", cseq: 1, state: "active;expires=600"), now: .zero, using: &random)
        let id = try #require(s.usages.keys.first)
        let refresh = try #require(s.timerFired(.refresh(id), now: .seconds(500), using: &random).requests.first)
        let failed = s.requestFailed(refresh, now: .seconds(532), using: &random)
        #expect(failed.scheduled(.retry) == .seconds(30))
        let retried = s.timerFired(.retry, now: .seconds(562), using: &random)
        #expect(retried.requests.first?.headers.to?.tag == nil)
    }

    @Test func terminatedNotifyRetriesPerReason() throws {
        var (s, subscribe, random) = try started()
        _ = s.notifyReceived(Self.notify(for: subscribe, fromTag: "n1", cseq: 1, state: "active;expires=600"), now: .zero, using: &random)
        let probation = s.notifyReceived(Self.notify(for: subscribe, fromTag: "n1", cseq: 2, state: "terminated;reason=probation;retry-after=20"), now: .seconds(5), using: &random)
        #expect(probation.responses.map(\.statusCode) == [200])
        #expect(probation.scheduled(.retry) == .seconds(20))

        let resubscribe = try #require(s.timerFired(.retry, now: .seconds(25), using: &random).requests.first)
        _ = s.notifyReceived(Self.notify(for: resubscribe, fromTag: "n3", cseq: 1, state: "active;expires=600"), now: .seconds(26), using: &random)
        let deactivated = s.notifyReceived(Self.notify(for: resubscribe, fromTag: "n3", cseq: 2, state: "terminated;reason=deactivated"), now: .seconds(30), using: &random)
        #expect(deactivated.requests.count == 1)
        let latest = try #require(deactivated.requests.first)

        let rejected = s.notifyReceived(Self.notify(for: latest, fromTag: "n4", cseq: 1, state: "terminated;reason=rejected"), now: .seconds(31), using: &random)
        #expect(rejected.terminations == [.terminated(.rejected)])
        #expect(rejected.requests.isEmpty)
        #expect(s.isFinished)
    }

    @Test func notifyForAnotherCallIs481AndWrongEventIs489AndLowerCSeqIs500() throws {
        var (s, subscribe, random) = try started()
        var stranger = Self.notify(for: subscribe, fromTag: "n1", cseq: 1, state: "active")
        stranger.headers.callID = "other"
        #expect(s.notifyReceived(stranger, now: .zero, using: &random).responses.map(\.statusCode) == [481])
        var wrongEvent = Self.notify(for: subscribe, fromTag: "n1", cseq: 1, state: "active")
        wrongEvent.headers.event = SIPEventHeader(package: "presence")
        #expect(s.notifyReceived(wrongEvent, now: .zero, using: &random).responses.map(\.statusCode) == [489])
        _ = s.notifyReceived(Self.notify(for: subscribe, fromTag: "n1", cseq: 5, state: "active"), now: .zero, using: &random)
        let stale = s.notifyReceived(Self.notify(for: subscribe, fromTag: "n1", cseq: 4, state: "active"), now: .zero, using: &random)
        #expect(stale.responses.map(\.statusCode) == [500])
        #expect(stale.notifications.isEmpty)
    }

    @Test func unsubscribeSendsExpiresZeroAndTheFinalNotifyReportsUnsubscribed() throws {
        var (s, subscribe, random) = try started()
        _ = s.notifyReceived(Self.notify(for: subscribe, fromTag: "n1", cseq: 1, state: "active;expires=600"), now: .zero, using: &random)
        let bye = s.unsubscribe(now: .seconds(10))
        let request = try #require(bye.requests.first)
        #expect(request.headers.expires == 0)
        #expect(request.headers.to?.tag == "n1")
        let final = s.notifyReceived(Self.notify(for: subscribe, fromTag: "n1", cseq: 2, state: "terminated;reason=timeout"), now: .seconds(11), using: &random)
        #expect(final.terminations == [.unsubscribed])
        #expect(final.requests.isEmpty)
    }

    @Test func missingNotifyAfterTimerNFailsTheAttemptAndRetriesLater() throws {
        var (s, subscribe, random) = try started()
        _ = s.responseReceived(Fixtures.response(200, to: subscribe, toTag: "n1", extra: [("Contact", "<sip:n@192.0.2.20>")]), now: .zero, using: &random)
        let fired = s.timerFired(.waitForNotify, now: .seconds(32), using: &random)
        #expect(s.usages.isEmpty)
        #expect(fired.scheduled(.retry) == .seconds(30))
    }

    @Test func refusedSubscribeIsReportedAndNotRetried() throws {
        var (s, subscribe, random) = try started()
        let refused = s.responseReceived(Fixtures.response(403, to: subscribe, toTag: "n1"), now: .zero, using: &random)
        #expect(refused.terminations == [.refused(statusCode: 403)])
        #expect(s.isFinished)
    }

    @Test(arguments: [UInt64(1), 2, 3, 4, 5, 6, 7, 8, 9, 10])
    func refreshJitterStaysBetween80And90PercentAndAwayFromExpiry(seed: UInt64) {
        var random = SplitMix64(seed: seed)
        let long = SIPEventMessages.refreshDelay(expiringAfter: .seconds(3600), using: &random)
        #expect(long >= .seconds(2880) && long <= .seconds(3240))
        let short = SIPEventMessages.refreshDelay(expiringAfter: .seconds(30), margin: .seconds(5), using: &random)
        #expect(short >= .seconds(24) && short <= .seconds(25))
        let tiny = SIPEventMessages.refreshDelay(expiringAfter: .seconds(6), margin: .seconds(5), using: &random)
        #expect(tiny == .seconds(3))
    }
}
