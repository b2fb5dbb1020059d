import SMFTestSupport
import SIPCore
import SIPEvents
import SIPSyntax
import Testing

@Suite struct SIPPublicationTests {
    static let resource = "sip:smoke-7@house-12.example.com"

    func publisher(_ random: inout SplitMix64) -> SIPPublisher {
        SIPPublisher(configuration: SIPPublisherConfiguration(resource: Fixtures.sensor, event: "m2m-alarm", expires: 600), using: &random)
    }

    /// Hands the publisher's single PUBLISH to the ESC and the ESC's response back.
    func exchange(
        _ actions: [SIPPublisherAction], _ pua: inout SIPPublisher, _ esc: inout SIPEventStateCompositor, now: Duration, _ random: inout SplitMix64
    ) -> (request: SIPRequest?, escActions: [SIPCompositorAction], puaActions: [SIPPublisherAction]) {
        guard let request = actions.compactMap({ if case .sendRequest(let r) = $0 { r } else { nil } }).first else { return (nil, [], []) }
        let escActions = esc.publishReceived(request, now: now, using: &random)
        guard let response = escActions.compactMap({ if case .sendResponse(let r) = $0 { r } else { nil } }).first else { return (request, escActions, []) }
        return (request, escActions, pua.responseReceived(response, now: now, using: &random))
    }

    @Test func initialRefreshModifyAndRemoveEachGetAFreshEntityTag() throws {
        var random = SplitMix64()
        var esc = SIPEventStateCompositor(packages: [Fixtures.alarm])
        var pua = publisher(&random)

        let initial = exchange(pua.publish(Fixtures.body("calm"), now: .zero), &pua, &esc, now: .zero, &random)
        #expect(initial.request?.headers.sipIfMatch == nil)
        let firstTag = try #require(pua.entityTag)
        #expect(initial.escActions.contains(.resourceStateChanged(event: "m2m-alarm", resource: Self.resource, state: Fixtures.body("calm"))))

        let refresh = exchange(pua.timerFired(.refresh, now: .seconds(500)), &pua, &esc, now: .seconds(500), &random)
        #expect(refresh.request?.headers.sipIfMatch == firstTag)
        #expect(refresh.request?.eventBody == nil)
        let secondTag = try #require(pua.entityTag)
        #expect(secondTag != firstTag)
        #expect(!refresh.escActions.contains { if case .resourceStateChanged = $0 { true } else { false } })

        let modify = exchange(pua.publish(Fixtures.body("smoke"), now: .seconds(510)), &pua, &esc, now: .seconds(510), &random)
        #expect(modify.request?.headers.sipIfMatch == secondTag)
        #expect(esc.state(event: "m2m-alarm", resource: Self.resource) == Fixtures.body("smoke"))

        let removed = exchange(pua.remove(now: .seconds(520)), &pua, &esc, now: .seconds(520), &random)
        #expect(removed.request?.headers.expires == 0)
        #expect(removed.puaActions.contains(.reportRemoved))
        #expect(removed.escActions.contains(.resourceStateChanged(event: "m2m-alarm", resource: Self.resource, state: nil)))
        #expect(esc.count == 0)
    }

    @Test func unknownEntityTagIs412AndThePublisherRepublishesTheFullState() throws {
        var random = SplitMix64()
        var esc = SIPEventStateCompositor(packages: [Fixtures.alarm])
        var pua = publisher(&random)
        _ = exchange(pua.publish(Fixtures.body("calm"), now: .zero), &pua, &esc, now: .zero, &random)

        // The ESC restarts without its state.
        esc = SIPEventStateCompositor(packages: [Fixtures.alarm])
        let refresh = exchange(pua.timerFired(.refresh, now: .seconds(500)), &pua, &esc, now: .seconds(500), &random)
        #expect(refresh.escActions.contains { if case .sendResponse(let r) = $0 { r.statusCode == 412 } else { false } })
        let republish = try #require(refresh.puaActions.compactMap { if case .sendRequest(let r) = $0 { r } else { nil } }.first)
        #expect(republish.headers.sipIfMatch == nil)
        #expect(republish.eventBody == Fixtures.body("calm"))

        _ = exchange(refresh.puaActions, &pua, &esc, now: .seconds(500), &random)
        #expect(esc.state(event: "m2m-alarm", resource: Self.resource) == Fixtures.body("calm"))
        #expect(pua.entityTag != nil)
    }

    @Test func tooBriefPublicationIs423AndThePublisherRetriesWithMinExpires() throws {
        var random = SplitMix64()
        var esc = SIPEventStateCompositor(packages: [Fixtures.alarm])
        var pua = SIPPublisher(configuration: SIPPublisherConfiguration(resource: Fixtures.sensor, event: "m2m-alarm", expires: 30), using: &random)
        let first = exchange(pua.publish(Fixtures.body("calm"), now: .zero), &pua, &esc, now: .zero, &random)
        #expect(first.escActions.contains { if case .sendResponse(let r) = $0 { r.statusCode == 423 && r.headers.minExpires == 60 } else { false } })
        let retry = exchange(first.puaActions, &pua, &esc, now: .zero, &random)
        #expect(retry.request?.headers.expires == 60)
        #expect(pua.entityTag != nil)
    }

    @Test func expiredPublicationIsRemovedAndTheResourceStateChanges() {
        var random = SplitMix64()
        var esc = SIPEventStateCompositor(packages: [Fixtures.alarm])
        var pua = publisher(&random)
        _ = exchange(pua.publish(Fixtures.body("calm"), now: .zero), &pua, &esc, now: .zero, &random)
        let tag = esc.publications.keys.first ?? ""
        #expect(esc.timerFired(.expiry(entityTag: tag), now: .seconds(599)).isEmpty)
        let expired = esc.timerFired(.expiry(entityTag: tag), now: .seconds(600))
        #expect(expired == [.resourceStateChanged(event: "m2m-alarm", resource: Self.resource, state: nil)])
        #expect(esc.count == 0)
    }

    @Test func unknownEventIs489AndUnacceptedBodyIs415WithAccept() {
        var random = SplitMix64()
        var esc = SIPEventStateCompositor(packages: [Fixtures.alarm])
        var pua = SIPPublisher(configuration: SIPPublisherConfiguration(resource: Fixtures.sensor, event: "presence"), using: &random)
        let unknown = exchange(pua.publish(Fixtures.body("x"), now: .zero), &pua, &esc, now: .zero, &random)
        #expect(unknown.escActions.contains { if case .sendResponse(let r) = $0 { r.statusCode == 489 && r.headers.allowEvents == ["m2m-alarm"] } else { false } })

        var alarmPUA = publisher(&random)
        let wrongType = exchange(alarmPUA.publish(SIPEventBody(contentType: "text/plain", text: "x"), now: .zero), &alarmPUA, &esc, now: .zero, &random)
        #expect(wrongType.escActions.contains { if case .sendResponse(let r) = $0 { r.statusCode == 415 && r.headers["Accept"] == "application/m2m-alarm+json" } else { false } })
    }

    @Test func compositorStateFeedsTheNotifierSoWatchersAreNotified() throws {
        var random = SplitMix64()
        var esc = SIPEventStateCompositor(packages: [Fixtures.alarm])
        var h = NotifierHarness()
        h.on { $0.subscribeReceived(Fixtures.subscribe(), now: $1, using: &$2) }
        var pua = publisher(&random)
        let published = exchange(pua.publish(Fixtures.body("fire"), now: .seconds(1)), &pua, &esc, now: .seconds(1), &random)
        for case .resourceStateChanged(let event, let resource, let state) in published.escActions {
            h.on { $0.resourceStateChanged(event: event, resource: resource, state: state, now: $1) }
        }
        #expect(h.notifyLog.last?.notify.eventBody == Fixtures.body("fire"))
    }
}
