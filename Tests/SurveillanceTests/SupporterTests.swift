import Presence
import Testing

@testable import Surveillance

private func registration(
    _ name: String, kinds: Set<String> = ["fire"], buildings: Set<String> = ["house-12"], phone: SupporterPhoneKind = .smfNode,
    expires: Duration = .seconds(3600)
) -> SupporterRegistration {
    SupporterRegistration(
        supporter: "sip:\(name)@north.example", eventKinds: kinds, buildings: buildings, phoneKind: phone, expiresAt: expires)
}

@Test func registryAnswersWhoIsResponsibleForAKindInABuildingInRegistrationOrder() throws {
    var registry = SupporterRegistry()
    try registry.register(registration("bob"), at: .zero)
    try registry.register(registration("carol", kinds: ["intrusion"]), at: .zero)
    try registry.register(registration("brigade", kinds: ["fire"], buildings: ["*"]), at: .zero)
    try registry.register(registration("dave", kinds: ["*"], buildings: ["house-12", "house-14"]), at: .zero)
    try registry.register(registration("erin", buildings: ["house-14"]), at: .zero)

    let fire12 = registry.responsible(for: "fire", in: "house-12", at: .seconds(10)).map(\.supporter)
    #expect(fire12 == ["sip:bob@north.example", "sip:brigade@north.example", "sip:dave@north.example"])
    let intrusion14 = registry.responsible(for: "intrusion", in: "house-14", at: .seconds(10)).map(\.supporter)
    #expect(intrusion14 == ["sip:dave@north.example"])
    #expect(registry.responsible(for: "flood", in: "house-99", at: .seconds(10)).isEmpty)
}

@Test func reRegisteringReplacesTheRegistrationButKeepsItsPlace() throws {
    var registry = SupporterRegistry()
    try registry.register(registration("bob"), at: .zero)
    try registry.register(registration("carol"), at: .zero)
    try registry.register(registration("bob", phone: .sipPhone, expires: .seconds(7200)), at: .seconds(5))
    let responsible = registry.responsible(for: "fire", in: "house-12", at: .seconds(4000))
    #expect(responsible.map(\.supporter) == ["sip:bob@north.example"], "carol expired at 3600 s, bob's renewal lasts")
    #expect(responsible.first?.phoneKind == .sipPhone)
    #expect(registry.count == 2)
    #expect(registry.expire(at: .seconds(4000)) == ["sip:carol@north.example"])
    #expect(registry.count == 1)
}

@Test func invalidRegistrationIsRefusedWithEveryProblemNamed() {
    var registry = SupporterRegistry()
    let bad = SupporterRegistration(
        supporter: "bob@north", eventKinds: [], buildings: ["house-12"], expiresAt: .seconds(5))
    #expect {
        try registry.register(bad, at: .seconds(10))
    } throws: { error in
        guard let error = error as? SurveillanceError else { return false }
        return error.code == .invalidRegistration && error.message.contains("not a sip: or sips: URI")
            && error.message.contains("no event kind") && error.message.contains("expired")
    }
    #expect(registry.count == 0)
}

private func document(_ entity: String, basic: PresenceBasicStatus?, activities: [PresenceActivity] = [], at position: PresenceGeodeticPosition? = nil)
    -> PresenceDocument
{
    PresenceDocument(
        entity: entity,
        tuples: [PresenceTuple(id: "t1", status: PresenceStatus(basic: basic, location: position.map { PresenceLocation(position: $0) }))],
        persons: activities.isEmpty ? [] : [PresencePerson(id: "p1", activities: activities)])
}

@Test func availabilityFollowsBasicStatusAndActivities() {
    #expect(SupporterAvailability(reportedBy: document("sip:a@h", basic: .open)) == .available)
    #expect(SupporterAvailability(reportedBy: document("sip:a@h", basic: .open, activities: [.onThePhone])) == .busy)
    #expect(SupporterAvailability(reportedBy: document("sip:a@h", basic: .open, activities: [.vacation])) == .unavailable)
    #expect(SupporterAvailability(reportedBy: document("sip:a@h", basic: .closed)) == .unavailable)
    #expect(SupporterAvailability(reportedBy: document("sip:a@h", basic: nil)) == .unknown)
}

@Test func availabilityBookKeepsLatestReportAndForgetsStaleAvailability() {
    var book = SupporterAvailabilityBook(maxAge: .seconds(600))
    let home = PresenceGeodeticPosition(latitude: 52.52, longitude: 13.405)
    book.report(document("sip:bob@h", basic: .open, at: home), from: "sip:bob@h", at: .seconds(100))
    book.report(document("sip:bob@h", basic: .closed), from: "sip:bob@h", at: .seconds(50))
    #expect(book.status(of: "sip:bob@h", at: .seconds(200)).availability == .available, "an older report is ignored")
    #expect(book.status(of: "sip:bob@h", at: .seconds(200)).position == home)
    let stale = book.status(of: "sip:bob@h", at: .seconds(701))
    #expect(stale.availability == .unknown)
    #expect(stale.reportedAt == .seconds(100))
    let never = book.status(of: "sip:nobody@h", at: .seconds(1))
    #expect(never.availability == .unknown && never.position == nil && never.reportedAt == nil)
    book.remove("sip:bob@h")
    #expect(!book.hasReport(from: "sip:bob@h"))
}

@Test func haversineDistanceMatchesKnownDistances() {
    let berlin = PresenceGeodeticPosition(latitude: 52.5200, longitude: 13.4050)
    let paris = PresenceGeodeticPosition(latitude: 48.8566, longitude: 2.3522)
    #expect(abs(GeoDistance.kilometres(from: berlin, to: paris) - 877.5) < 2)
    let a = PresenceGeodeticPosition(latitude: 0, longitude: 0)
    let b = PresenceGeodeticPosition(latitude: 1, longitude: 0)
    #expect(abs(GeoDistance.kilometres(from: a, to: b) - 111.195) < 0.01, "one degree of latitude")
    #expect(GeoDistance.kilometres(from: berlin, to: berlin) == 0)
    let antipode = PresenceGeodeticPosition(latitude: 0, longitude: 180)
    #expect(abs(GeoDistance.kilometres(from: a, to: antipode) - .pi * GeoDistance.earthRadiusKilometres) < 0.001)
}

/// house-12 with five supporters around it.
private struct Street {
    var registry = SupporterRegistry()
    var book = SupporterAvailabilityBook(maxAge: .seconds(600))
    let building = PresenceGeodeticPosition(latitude: 52.5200, longitude: 13.4050)
    var alarm: Alarm { Alarm(id: "A-1", kind: "fire", building: "house-12", buildingLocation: building, raisedAt: .seconds(100)) }

    init() throws {
        // near: 0.11 km north, available; far: 1.1 km, available; busy: 0.05 km, busy; silent: no report
        // (variant 2); away: 0.2 km, closed; remote: 5.6 km, available.
        for name in ["far", "near", "busy", "silent", "away", "remote"] {
            try registry.register(registration(name), at: .zero)
        }
        func report(_ name: String, _ basic: PresenceBasicStatus, _ activities: [PresenceActivity] = [], dLat: Double) {
            let position = PresenceGeodeticPosition(latitude: 52.5200 + dLat, longitude: 13.4050)
            book.report(
                document("sip:\(name)@north.example", basic: basic, activities: activities, at: position),
                from: "sip:\(name)@north.example", at: .seconds(90))
        }
        report("near", .open, dLat: 0.001)
        report("far", .open, dLat: 0.01)
        report("busy", .open, [.busy], dLat: 0.0005)
        report("away", .closed, dLat: 0.002)
        report("remote", .open, dLat: 0.05)
    }
}

@Test func selectorOrdersAvailableByDistanceThenUnknownThenUnavailable() throws {
    let street = try Street()
    let selection = SupporterSelector(policy: SupporterSelectionPolicy(order: .distance))
        .select(for: street.alarm, registry: street.registry, book: street.book, at: .seconds(100))
    #expect(
        selection.selected.map { AlarmListFormatter.shortName($0.registration.supporter) }
            == ["near", "far", "remote", "silent", "busy", "away"])
    #expect(selection.excluded.isEmpty)
    let near = try #require(selection.selected.first)
    #expect(near.reason(kind: "fire", building: "house-12") == "responsible for fire in house-12, available, 0.11 km away")
    #expect(selection.selected[3].distanceKilometres == nil)
    #expect(selection.recipients.first == AlarmRecipient(supporter: "sip:near@north.example"))
}

@Test func selectorExcludesPerPolicyAndSaysWhy() throws {
    let street = try Street()
    let policy = SupporterSelectionPolicy(
        order: .distance, maxDistanceKilometres: 2, maxSupporters: 1, includeUnknown: false, includeUnavailable: false)
    let selection = SupporterSelector(policy: policy)
        .select(for: street.alarm, registry: street.registry, book: street.book, at: .seconds(100))
    #expect(selection.selected.map(\.registration.supporter) == ["sip:near@north.example"])
    let reasons = Dictionary(uniqueKeysWithValues: selection.excluded.map { (AlarmListFormatter.shortName($0.supporter), $0.reason) })
    #expect(reasons["remote"] == "5.56 km away, beyond 2.00 km")
    #expect(reasons["silent"] == "availability unknown (policy excludes unknown supporters)")
    #expect(reasons["busy"] == "busy (policy excludes unavailable supporters)")
    #expect(reasons["away"] == "unavailable (policy excludes unavailable supporters)")
    #expect(reasons["far"] == "beyond the first 1 supporters")
}

@Test func selectorByRegistrationKeepsRegistrationOrderWithinAvailabilityGroups() throws {
    let street = try Street()
    let later = SupporterSelector(policy: SupporterSelectionPolicy(order: .registration))
        .select(for: street.alarm, registry: street.registry, book: street.book, at: .seconds(800))
    // At 800 s every report is older than 600 s: everyone is unknown, so registration order decides.
    #expect(
        later.selected.map { AlarmListFormatter.shortName($0.registration.supporter) }
            == ["far", "near", "busy", "silent", "away", "remote"])
}
