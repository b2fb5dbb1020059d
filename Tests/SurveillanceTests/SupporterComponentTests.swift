import Composition
import Foundation
import Presence
import Rules
import ServicePlatform
import Testing

@testable import Surveillance

// MARK: - Registry

private func registry(
    _ store: any SurveillanceStateStore, _ parameters: [String: String] = [:], clock: ManualClock = ManualClock()
) async throws -> (any ServiceComponent, FakeContext) {
    try await started(SupporterRegistryFactory(store: store), instance("supporter-registry", id: "registry", parameters), clock: clock)
}

private func register(
    _ registry: any ServiceComponent, _ context: FakeContext, from: String, _ body: String
) async -> ServiceDirectAnswer {
    await registry.handle(
        request("PUBLISH", event: "m2m-supporter-registration", from: from, to: context.instance,
                contentType: "application/smf-supporter-registration+json", body), context: context)
}

private func registrations(_ values: [ServiceValue]?, at now: Duration = testEpoch) throws -> [SupporterRegistration] {
    try (values ?? []).compactMap { try SupporterRegistrationBody(parsing: $0.body).registration(from: nil, at: now, maxExpiry: nil) }
}

@Test func aSupporterRegistersByPublishAndTheStateNamesThemPerBuildingAndKind() async throws {
    let store = InMemorySurveillanceStateStore()
    let (registry, context) = try await registry(store)
    #expect(context.state(of: "supporters") == [], "the empty state is published at start")
    let answer = await register(
        registry, context, from: "sip:bob@north.example",
        #"{"kinds": ["fire", "intrusion"], "buildings": ["house-12"], "contact": "sip:bob@127.0.0.1:5071", "expires": 3600}"#)
    #expect(answer == .ok)
    let state = try #require(context.state(of: "supporters"))
    #expect(state.map { $0.attributes } == [
        ["supporter": "sip:bob@north.example", "building": "house-12", "kind": "fire"],
        ["supporter": "sip:bob@north.example", "building": "house-12", "kind": "intrusion"],
    ])
    let bob = try #require(try registrations(state).first)
    #expect(bob.contact == "sip:bob@127.0.0.1:5071" && bob.phoneKind == .smfNode)
    #expect(bob.expiresAt == testEpoch + .seconds(3600))
    #expect(try store.entries(scope: context.instance.stateScope).map(\.key) == ["sip:bob@north.example"], "stored before the 200")
}

@Test(arguments: [
    ("sip:mallory@north.example", #"{"supporter": "sip:bob@north.example", "kinds": ["fire"], "buildings": ["house-12"]}"#, 403, "may register only itself"),
    ("sip:bob@north.example", #"{"kinds": [], "buildings": ["house-12"]}"#, 400, "\"kinds\" is empty"),
    ("sip:bob@north.example", #"{"kinds": ["fire"], "buildings": ["house-12"], "phone": "fax"}"#, 400, "\"phone\" must be"),
    ("sip:bob@north.example", #"{"kinds": ["fire"], "buildings": ["house-12"], "contact": "tel:123"}"#, 400, "not a sip: or sips: URI"),
    ("sip:bob@north.example", "[1]", 400, "must be a JSON object"),
])
func aBadRegistrationIsRefusedAndChangesNothing(from: String, body: String, status: Int, problem: String) async throws {
    let store = InMemorySurveillanceStateStore()
    let (registry, context) = try await registry(store)
    let answer = await register(registry, context, from: from, body)
    #expect(answer.statusCode == status)
    #expect(answer.reason?.contains(problem) == true, "\(answer.reason ?? "")")
    #expect(context.state(of: "supporters") == [])
    #expect(try store.entries(scope: context.instance.stateScope).isEmpty)
}

@Test func registrationsLapseRemoveAndSurviveARestartInTheirOrder() async throws {
    let store = InMemorySurveillanceStateStore()
    let clock = ManualClock()
    let (first, context) = try await registry(store, ["registration-expiry": "2h"], clock: clock)
    _ = await register(first, context, from: "sip:bob@n", #"{"kinds": ["fire"], "buildings": ["*"], "expires": 600}"#)
    _ = await register(first, context, from: "sip:carol@n", #"{"kinds": ["fire"], "buildings": ["house-12"], "expires": 99999}"#)
    _ = await register(first, context, from: "sip:dave@n", #"{"kinds": ["fire"], "buildings": ["house-12"]}"#)
    _ = await register(first, context, from: "sip:bob@n", #"{"kinds": ["fire", "flood"], "buildings": ["*"], "expires": 1200}"#)
    #expect(try registrations(context.state(of: "supporters")).map(\.supporter).uniqued() == ["sip:bob@n", "sip:carol@n", "sip:dave@n"],
            "bob's renewal keeps his place")
    #expect(try registrations(context.state(of: "supporters")).first { $0.supporter == "sip:carol@n" }?.expiresAt == testEpoch + .seconds(7200),
            "capped at registration-expiry")
    _ = await register(first, context, from: "sip:dave@n", #"{"kinds": ["fire"], "buildings": ["house-12"], "expires": 0}"#)
    #expect(try registrations(context.state(of: "supporters")).map(\.supporter).uniqued() == ["sip:bob@n", "sip:carol@n"])
    await clock.advance(by: .seconds(1201))
    try #require(await eventually { (try? registrations(context.state(of: "supporters")).map(\.supporter).uniqued()) == ["sip:carol@n"] })
    await first.stop()

    let (second, after) = try await registry(store, ["registration-expiry": "2h"], clock: clock)
    #expect(try registrations(after.state(of: "supporters"), at: clock.now).map(\.supporter).uniqued() == ["sip:carol@n"])
    await second.stop()
}

@Test func aWireRegistrationIsAppliedOncePerValueID() async throws {
    let store = InMemorySurveillanceStateStore()
    let (registry, context) = try await registry(store)
    let value = ServiceValue(
        id: "front-end-1", contentType: SurveillanceMediaType.registration,
        text: #"{"supporter": "sip:erin@n", "kinds": ["fire"], "buildings": ["house-12"]}"#)
    try await registry.receive(.value(port: "registrations", wire: "front", value), context: context)
    let changes = context.stateChangeCount
    try await registry.receive(.value(port: "registrations", wire: "front", value), context: context)
    #expect(context.stateChangeCount == changes, "the duplicate changed nothing")
    #expect(try registrations(context.state(of: "supporters")).map(\.supporter) == ["sip:erin@n"])
}

extension Array where Element: Hashable {
    func uniqued() -> [Element] {
        var seen: Set<Element> = []
        return filter { seen.insert($0).inserted }
    }
}

// MARK: - Availability

func pidf(_ entity: String, basic: String = "open", activity: String? = nil, latitude: Double? = nil, longitude: Double? = nil) -> String {
    var document = PresenceDocument(
        entity: entity,
        tuples: [
            PresenceTuple(
                id: "t1",
                status: PresenceStatus(
                    basic: PresenceBasicStatus(rawValue: basic),
                    location: latitude.flatMap { lat in longitude.map { PresenceLocation(position: PresenceGeodeticPosition(latitude: lat, longitude: $0)) } }))
        ])
    if let activity { document.persons = [PresencePerson(id: "p1", activities: [PresenceActivity(token: activity)])] }
    return (try? document.encoded()) ?? ""
}

private func availability(
    _ store: any SurveillanceStateStore, _ parameters: [String: String] = [:], clock: ManualClock = ManualClock()
) async throws -> (any ServiceComponent, FakeContext) {
    try await started(
        SupporterAvailabilityFactory(store: store), instance("supporter-availability", id: "availability", parameters), clock: clock)
}

private func publishPresence(_ component: any ServiceComponent, _ context: FakeContext, from: String, _ body: String) async -> ServiceDirectAnswer {
    await component.handle(
        request("PUBLISH", event: "presence", from: from, to: context.instance, contentType: "application/pidf+xml", body), context: context)
}

@Test func availabilityStateCarriesEachSupportersLatestDocumentThenForgetsStaleAvailabilityButNotWhere() async throws {
    let store = InMemorySurveillanceStateStore()
    let clock = ManualClock()
    let (service, context) = try await availability(store, ["max-age": "10m"], clock: clock)
    #expect(await publishPresence(service, context, from: "sip:bob@n", pidf("sip:bob@n", latitude: 52.521, longitude: 13.405)) == .ok)
    let state = try #require(context.state(of: "availability"))
    #expect(state.map { $0.attributes } == [["supporter": "sip:bob@n"]])
    let document = try PresenceDocument(decoding: state[0].body)
    #expect(SupporterAvailability(reportedBy: document) == .available)

    await clock.advance(by: .seconds(601))
    try #require(await eventually {
        guard let body = context.state(of: "availability")?.first?.body, let stale = try? PresenceDocument(decoding: body) else { return false }
        return SupporterAvailability(reportedBy: stale) == .unknown && stale.location?.position?.latitude == 52.521
    })
    await service.stop()

    let (restarted, after) = try await availability(store, ["max-age": "10m"], clock: clock)
    #expect(after.state(of: "availability")?.map { $0.attributes["supporter"] } == ["sip:bob@n"], "restored from the store")
    #expect(await publishPresence(restarted, after, from: "sip:bob@n", "") == .ok, "an empty PUBLISH refreshes")
    #expect(try SupporterAvailability(reportedBy: PresenceDocument(decoding: after.state(of: "availability")?.first?.body ?? [])) == .available)
    #expect(await publishPresence(restarted, after, from: "sip:nobody@n", "").statusCode == 412)
    await restarted.stop()
}

@Test func aBadPresenceDocumentIsRefusedAndChangesNothing() async throws {
    let store = InMemorySurveillanceStateStore()
    let (service, context) = try await availability(store)
    let answer = await publishPresence(service, context, from: "sip:bob@n", "<presence><tuple>")
    #expect(answer.statusCode == 400)
    #expect(answer.reason?.contains("invalid PIDF document") == true)
    let wrongRoot = await publishPresence(service, context, from: "sip:bob@n", "<other/>")
    #expect(wrongRoot.statusCode == 400)
    let wrongEvent = await service.handle(
        request("PUBLISH", event: "dialog", from: "sip:bob@n", to: context.instance, contentType: "application/pidf+xml", pidf("sip:bob@n")),
        context: context)
    #expect(wrongEvent.statusCode == 489)
    #expect(context.state(of: "availability") == [])
    #expect(try store.entries(scope: context.instance.stateScope).isEmpty)
}

@Test func documentsFromAPresenceServerReplaceThatWiresEarlierOnes() async throws {
    let (service, context) = try await availability(InMemorySurveillanceStateStore())
    let bob = ServiceValue(contentType: "application/pidf+xml", text: pidf("sip:bob@n"))
    let carol = ServiceValue(contentType: "application/pidf+xml", text: pidf("sip:carol@n", basic: "closed"), attributes: ["supporter": "sip:carol@n"])
    try await service.receive(.state(port: "reports", wire: "kamailio", [bob, carol]), context: context)
    #expect(context.state(of: "availability")?.map { $0.attributes["supporter"] } == ["sip:bob@n", "sip:carol@n"])
    try await service.receive(.state(port: "reports", wire: "kamailio", [carol]), context: context)
    #expect(context.state(of: "availability")?.map { $0.attributes["supporter"] } == ["sip:carol@n"])
}

// MARK: - Selector

private func selector(_ parameters: [String: String] = ["order": "distance"]) async throws -> (any ServiceComponent, FakeContext) {
    try await started(SupporterSelectorFactory(), instance("supporter-selector", id: "selector", parameters))
}

func registrationValue(_ supporter: String, phone: String = "smf-node", buildings: [String] = ["house-12"]) -> ServiceValue {
    let body = SupporterRegistrationBody(
        supporter: supporter, kinds: ["fire"], buildings: buildings, contact: supporter.replacingOccurrences(of: "@n", with: "@127.0.0.1"),
        phoneKind: SupporterPhoneKind(rawValue: phone) ?? .smfNode, expiresAt: testEpoch + .seconds(86_400))
    return ServiceValue(id: supporter, contentType: SurveillanceMediaType.registration, body: body.encoded(), attributes: ["supporter": supporter])
}

let house12 = PresenceGeodeticPosition(latitude: 52.5200, longitude: 13.4050)

func alarmValue(_ id: String = "A-1", building: String = "house-12", location: PresenceGeodeticPosition? = house12) -> ServiceValue {
    let alarm = Alarm(id: id, kind: "fire", severity: .critical, building: building, buildingLocation: location, raisedAt: testEpoch)
    return ServiceValue(
        id: "alarm:\(id)", contentType: SurveillanceMediaType.alarm, body: AlarmMessages.body(for: alarm),
        attributes: ["building": building, "kind": "fire"])
}

@Test func selectorOrdersResponsibleSupportersByDistanceAndSaysWhy() async throws {
    let (selector, context) = try await selector(["order": "distance", "max-distance-m": "2000"])
    try await selector.receive(
        .state(port: "supporters", wire: "responsible", [
            registrationValue("sip:far@n"), registrationValue("sip:near@n"), registrationValue("sip:phone@n", phone: "sip-phone"),
            registrationValue("sip:away@n"), registrationValue("sip:other@n", buildings: ["house-99"]),
        ]), context: context)
    try await selector.receive(
        .state(port: "availability", wire: "available", [
            ServiceValue(contentType: "application/pidf+xml", text: pidf("sip:far@n", latitude: 52.5290, longitude: 13.4050), attributes: ["supporter": "sip:far@n"]),
            ServiceValue(contentType: "application/pidf+xml", text: pidf("sip:near@n", latitude: 52.5210, longitude: 13.4050), attributes: ["supporter": "sip:near@n"]),
            ServiceValue(contentType: "application/pidf+xml", text: pidf("sip:away@n", latitude: 52.6000, longitude: 13.4050), attributes: ["supporter": "sip:away@n"]),
        ]), context: context)
    try await selector.receive(.value(port: "alarms", wire: "alarms", alarmValue()), context: context)
    let emitted = try #require(context.emitted(on: "selections").last)
    #expect(emitted.attributes == ["building": "house-12", "kind": "fire"])
    let selection = try SelectionBody(parsing: emitted.body)
    #expect(selection.alarm.id == "A-1")
    #expect(selection.recipients.map(\.supporter) == ["sip:near@n", "sip:far@n", "sip:phone@n"])
    #expect(selection.recipients[0].reason == "responsible for fire in house-12, available, 0.11 km away")
    #expect(selection.recipients[2].phone == .sipPhone && selection.recipients[2].availability == .unknown)
    #expect(selection.excluded.map(\.supporter) == ["sip:away@n"])
    #expect(selection.excluded.first?.reason.contains("beyond 2.00 km") == true)
    #expect(context.notices.isEmpty)
}

@Test func selectorSendsAFreshListWhenItsInputsChangeAndNothingWhenTheyDoNot() async throws {
    let (selector, context) = try await selector()
    try await selector.receive(.state(port: "supporters", wire: "responsible", [registrationValue("sip:bob@n")]), context: context)
    try await selector.receive(.value(port: "alarms", wire: "alarms", alarmValue()), context: context)
    try await selector.receive(.state(port: "supporters", wire: "responsible", [registrationValue("sip:bob@n")]), context: context)
    #expect(context.emitted(on: "selections").count == 1, "same list: nothing new")
    try await selector.receive(
        .state(port: "supporters", wire: "responsible", [registrationValue("sip:bob@n"), registrationValue("sip:carol@n")]), context: context)
    let selections = context.emitted(on: "selections")
    #expect(selections.count == 2)
    #expect(selections[0].id != selections[1].id)
    #expect(try SelectionBody(parsing: selections[1].body).recipients.map(\.supporter) == ["sip:bob@n", "sip:carol@n"])
}

@Test func anAlarmBeforeAnySupporterListIsPassedOnEmptyAndTheOwnersAreTold() async throws {
    let (selector, context) = try await selector()
    try await selector.receive(.value(port: "alarms", wire: "alarms", alarmValue()), context: context)
    #expect(try SelectionBody(parsing: context.emitted(on: "selections")[0].body).recipients.isEmpty)
    #expect(context.notices.first?.contains("before any supporter list from the registry") == true)
    try await selector.receive(.value(port: "alarms", wire: "alarms", ServiceValue(id: "x", contentType: SurveillanceMediaType.alarm, text: "{}")), context: context)
    #expect(context.emitted(on: "selections").count == 1, "an unreadable alarm is dropped")
}

// MARK: - Store failures

/// A state store whose writes can be made to fail.
final class FlakyStateStore: SurveillanceStateStore, @unchecked Sendable {
    let inner = InMemorySurveillanceStateStore()
    private let lock = NSLock()
    private var failing = false

    func fail(_ on: Bool) { lock.withLock { failing = on } }

    func apply(_ changes: [(key: String, value: [UInt8]?)], scope: String, inputID: String?, at time: Duration) throws -> Bool {
        if lock.withLock({ failing }) { throw SurveillanceError(.invalidRecord, "disk full") }
        return try inner.apply(changes, scope: scope, inputID: inputID, at: time)
    }
    func entries(scope: String) throws -> [(key: String, value: [UInt8])] { try inner.entries(scope: scope) }
    func forgetInputs(scope: String, before cutoff: Duration) throws -> Int { try inner.forgetInputs(scope: scope, before: cutoff) }
}

@Test func aRegistrationOrReportThatCannotBeStoredIsNotAcknowledgedAndNotPublished() async throws {
    let store = FlakyStateStore()
    let (registry, registryContext) = try await registry(store)
    let (presence, presenceContext) = try await availability(store)
    store.fail(true)
    let registered = await register(registry, registryContext, from: "sip:bob@n", #"{"kinds": ["fire"], "buildings": ["house-12"]}"#)
    #expect(registered.statusCode == 500 && registered.reason?.contains("disk full") == true)
    #expect(registryContext.state(of: "supporters") == [])
    let reported = await publishPresence(presence, presenceContext, from: "sip:bob@n", pidf("sip:bob@n"))
    #expect(reported.statusCode == 500)
    #expect(presenceContext.state(of: "availability") == [])
    let value = ServiceValue(id: "v1", contentType: SurveillanceMediaType.registration, text: #"{"supporter": "sip:erin@n", "kinds": ["fire"], "buildings": ["*"]}"#)
    await #expect(throws: (any Error).self) { try await registry.receive(.value(port: "registrations", wire: "front", value), context: registryContext) }
    store.fail(false)
    try await registry.receive(.value(port: "registrations", wire: "front", value), context: registryContext)
    #expect(try registrations(registryContext.state(of: "supporters")).map(\.supporter) == ["sip:erin@n"], "applied when it came again")
}
