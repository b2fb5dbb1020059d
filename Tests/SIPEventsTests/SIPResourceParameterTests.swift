import SMFTestSupport
import SIPCore
import SIPSyntax
import Testing

@testable import SIPEvents

/// Resources told apart by a URI parameter (one alarm resource per supporter at a notifier, docs/surveillance.md),
/// and the body of an initial SUBSCRIBE (RFC 6665 §4.1.2.1).
@Suite struct SIPResourceParameterTests {
    static let perSupporter = SIPBasicEventPackage(name: "m2m-alarm", resourceParameters: ["supporter"])

    @Test func aPackageKeepsTheParametersItNamesInItsResourceKeysDecodedAndDropsTheRest() throws {
        let uri = try #require(SIPURI("sip:app.notifier@127.0.0.1:5070;supporter=bob%40north.example;transport=udp"))
        #expect(Self.perSupporter.resourceKey(for: uri) == "sip:app.notifier@127.0.0.1;supporter=bob@north.example")
        #expect(Fixtures.alarm.resourceKey(for: uri) == "sip:app.notifier@127.0.0.1", "a package naming none keeps the plain key")
        #expect(Self.perSupporter.resourceKey(for: try #require(SIPURI("sip:app.notifier@127.0.0.1:5070"))) == "sip:app.notifier@127.0.0.1")
        #expect(SIPEventResource.percentDecoded("a%4x%40b%") == "a%4x@b%", "a broken escape stays as it is")
    }

    @Test func eachParameterisedResourceHasItsOwnStateAndWatchers() {
        var h = NotifierHarness(packages: [Self.perSupporter])
        func subscribe(_ supporter: String, callID: String) -> SIPRequest {
            var request = Fixtures.subscribe(callID: callID, fromTag: callID)
            request.headers.replaceOrAdd(name: "To", value: "<sip:app.notifier@127.0.0.1:5070;supporter=\(supporter)>")
            return request
        }
        h.on { $0.subscribeReceived(subscribe("bob%40north.example", callID: "b"), now: $1, using: &$2) }
        h.on { $0.subscribeReceived(subscribe("carol%40north.example", callID: "c"), now: $1, using: &$2) }
        let changed = h.on {
            $0.resourceStateChanged(
                event: "m2m-alarm", resource: "sip:app.notifier@127.0.0.1;supporter=bob@north.example", state: Fixtures.body("{\"id\":\"A-1\"}"), now: $1)
        }
        #expect(changed.notifies.count == 1, "only bob's subscription is told")
        #expect(changed.notifies.first?.headers.callID == "b")
        #expect(changed.notifies.first?.eventBody?.text == "{\"id\":\"A-1\"}")
    }

    @Test func theInitialSubscribeCarriesTheBodyAndRefreshesDoNot() throws {
        var configuration = SIPSubscriberSubscriptionTests.configuration
        configuration.body = SIPEventBody(contentType: "application/smf-alarm+json", text: "{\"id\":\"A-1\"}")
        var subscriber = SIPSubscriberSubscription(configuration: configuration)
        var random = SplitMix64()
        let subscribe = try #require(subscriber.start(now: .zero, using: &random).requests.first)
        #expect(subscribe.eventBody == configuration.body)
        #expect(subscribe.headers.contentLength == configuration.body?.bytes.count)
        var plain = SIPSubscriberSubscription(configuration: SIPSubscriberSubscriptionTests.configuration)
        #expect(plain.start(now: .zero, using: &random).requests.first?.eventBody == nil)
    }
}
