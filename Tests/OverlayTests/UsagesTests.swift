import Overlay
import Testing

@Suite struct UsagesTests {
    let now = OverlayInstant(milliseconds: 0)

    @Test func userRegistrationRoundTripsThroughItsRecord() throws {
        let identity = NodeIdentity.generate()
        let registration = UserRegistration(aor: "sip:alice@example.org", contacts: ["sip:alice@10.0.0.1:5060", "sip:alice@10.0.0.2"])
        let record = registration.record(sequence: 1, expiry: now.advanced(by: .seconds(60)), by: identity)
        try record.verify(now: now)
        #expect(record.resourceID == UserRegistration.resourceID(aor: "sip:alice@example.org"))
        #expect(UserRegistration(record: record) == registration)
    }

    @Test func contactsMergeNewestRegistrationFirst() {
        let a = NodeIdentity.generate()
        let b = NodeIdentity.generate()
        let old = UserRegistration(aor: "sip:u@x", contacts: ["sip:u@old", "sip:u@shared"]).record(sequence: 1, expiry: now.advanced(by: .seconds(9)), by: a)
        let new = UserRegistration(aor: "sip:u@x", contacts: ["sip:u@new", "sip:u@shared"]).record(sequence: 5, expiry: now.advanced(by: .seconds(9)), by: b)
        #expect(UserRegistration.contacts(in: [old, new]) == ["sip:u@new", "sip:u@shared", "sip:u@old"])
    }

    @Test func serviceProvidersAreReadFromEachOwnersRecordMostCapacityFirst() {
        let small = NodeIdentity.generate()
        let big = NodeIdentity.generate()
        let expiry = now.advanced(by: .seconds(60))
        let records = [
            ServiceRegistration(subcommunity: "surveillance/north-street", serviceType: "camera", provider: small.nodeID, contact: "sip:cam1@10.0.0.5", capacity: 1)
                .record(sequence: 1, expiry: expiry, by: small),
            ServiceRegistration(subcommunity: "surveillance/north-street", serviceType: "camera", provider: big.nodeID, contact: "sip:cam2@10.0.0.6", capacity: 8)
                .record(sequence: 1, expiry: expiry, by: big),
        ]
        let providers = ServiceRegistration.providers(in: records)
        #expect(providers.map(\.contact) == ["sip:cam2@10.0.0.6", "sip:cam1@10.0.0.5"])
        #expect(providers.first?.provider == big.nodeID)
        #expect(providers.first?.subcommunity == "surveillance/north-street")
        #expect(records[0].resourceID == ServiceRegistration.resourceID(subcommunity: "surveillance/north-street", serviceType: "camera"))
    }

    @Test func aProviderRecordCarriesTheProvidersAreaAsAThirdLineAndTwoLineRecordsStillRead() throws {
        let identity = NodeIdentity.generate()
        let expiry = now.advanced(by: .seconds(60))
        let inArea = ServiceRegistration(
            subcommunity: "energy/feeder-3", serviceType: "flexibility", provider: identity.nodeID, contact: "sip:h1@10.0.0.7", capacity: 97, area: "feeder-3")
        let record = inArea.record(sequence: 1, expiry: expiry, by: identity)
        #expect(String(decoding: record.value, as: UTF8.self) == "sip:h1@10.0.0.7\n97\nfeeder-3")
        #expect(ServiceRegistration(record: record) == inArea)

        let noArea = ServiceRegistration(
            subcommunity: "energy/feeder-3", serviceType: "flexibility", provider: identity.nodeID, contact: "sip:h2@10.0.0.8", capacity: 5)
        let old = noArea.record(sequence: 2, expiry: expiry, by: identity)
        #expect(String(decoding: old.value, as: UTF8.self) == "sip:h2@10.0.0.8\n5")
        #expect(ServiceRegistration(record: old)?.area == nil)
        #expect(ServiceRegistration(record: old)?.capacity == 5)

        // Four lines, or a capacity that is no number, are not a provider record.
        let four = ResourceRecord.signed(
            kind: .service, name: old.name, value: Array("sip:x@h\n1\na\nb".utf8), sequence: 3, expiry: expiry, by: identity)
        #expect(ServiceRegistration(record: four) == nil)
        #expect(ServiceRegistration.parseValue(Array("sip:x@h\nmany\na".utf8)) == nil)
    }

    @Test func contactCacheEvictsLeastRecentlyUsedButKeepsFriends() {
        var cache = ContactCache(capacity: 2)
        let expiry = now.advanced(by: .seconds(60))
        cache.insert(aor: "friend", contacts: ["f"], expiry: expiry, isFriend: true)
        cache.insert(aor: "a", contacts: ["a"], expiry: expiry)
        cache.insert(aor: "b", contacts: ["b"], expiry: expiry)
        #expect(cache.contacts(for: "a", now: now) == ["a"])
        cache.insert(aor: "c", contacts: ["c"], expiry: expiry)
        #expect(cache.contacts(for: "b", now: now) == nil)
        #expect(cache.contacts(for: "a", now: now) == ["a"])
        #expect(cache.contacts(for: "friend", now: now) == ["f"])
        #expect(cache.contacts(for: "a", now: expiry) == nil)
    }
}
