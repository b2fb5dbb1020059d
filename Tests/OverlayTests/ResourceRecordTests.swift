import Foundation
import Overlay
import Testing

@Suite struct ResourceRecordTests {
    let alice = NodeIdentity.generate()
    let mallory = NodeIdentity.generate()
    let now = OverlayInstant(milliseconds: 1_000_000)
    var later: OverlayInstant { now.advanced(by: .seconds(3600)) }

    @Test func signedRecordVerifiesAndNamesItsOwner() throws {
        let record = ResourceRecord.signed(kind: .generic, name: "thing", value: [1, 2, 3], sequence: 1, expiry: later, by: alice)
        try record.verify(now: now)
        #expect(record.owner == alice.nodeID)
        #expect(record.resourceID == ResourceID(name: "thing"))
    }

    @Test func forgedRecordIsRefusedWithBadSignature() {
        let genuine = ResourceRecord.signed(kind: .user, name: "user:sip:alice@x", value: Array("sip:alice@1.2.3.4".utf8), sequence: 2, expiry: later, by: alice)
        // Mallory rewrites the contact but keeps Alice's key and signature.
        let forged = ResourceRecord(
            kind: .user, name: genuine.name, value: Array("sip:mallory@6.6.6.6".utf8), ownerPublicKey: genuine.ownerPublicKey,
            sequence: 3, expiry: later, isRemoval: false, signature: genuine.signature
        )
        var store = RecordStore()
        #expect(throws: OverlayError(.badSignature, "")) { try store.accept(forged, now: now) }
        // Signing with Mallory's key under Alice's public key fails too.
        let impostor = ResourceRecord(
            kind: .user, name: genuine.name, value: forged.value, ownerPublicKey: genuine.ownerPublicKey,
            sequence: 3, expiry: later, isRemoval: false, signature: mallory.sign(forged.signedBytes)
        )
        #expect(throws: OverlayError(.badSignature, "")) { try store.accept(impostor, now: now) }
        #expect(store.count == 0)
    }

    @Test func staleSequenceIsRefused() throws {
        var store = RecordStore()
        let second = ResourceRecord.signed(kind: .generic, name: "n", value: [2], sequence: 2, expiry: later, by: alice)
        let first = ResourceRecord.signed(kind: .generic, name: "n", value: [1], sequence: 1, expiry: later, by: alice)
        #expect(try store.accept(second, now: now))
        #expect(throws: OverlayError(.staleSequence, "")) { try store.accept(first, now: now) }
        let replay = ResourceRecord.signed(kind: .generic, name: "n", value: [9], sequence: 2, expiry: later, by: alice)
        #expect(throws: OverlayError(.staleSequence, "")) { try store.accept(replay, now: now) }
        #expect(store.records(for: ResourceID(name: "n"), kind: nil, now: now).map(\.value) == [[2]])
        // The identical copy (a replica push) is accepted as a no-op.
        #expect(try store.accept(second, now: now) == false)
    }

    @Test func expiredRecordIsRefused() {
        var store = RecordStore()
        let old = ResourceRecord.signed(kind: .generic, name: "n", value: [], sequence: 1, expiry: now.advanced(by: .seconds(-1)), by: alice)
        #expect(throws: OverlayError(.expired, "")) { try store.accept(old, now: now) }
    }

    @Test func removalTombstoneHidesTheRecordAndBlocksOlderCopies() throws {
        var store = RecordStore()
        let record = ResourceRecord.signed(kind: .generic, name: "n", value: [1], sequence: 1, expiry: later, by: alice)
        try store.accept(record, now: now)
        try store.accept(.removal(of: .generic, name: "n", sequence: 2, expiry: later, by: alice), now: now)
        #expect(store.records(for: record.resourceID, kind: nil, now: now).isEmpty)
        #expect(throws: OverlayError(.staleSequence, "")) { try store.accept(record, now: now) }
    }

    @Test func ownersHaveSeparateSlotsUnderOneName() throws {
        var store = RecordStore()
        try store.accept(.signed(kind: .service, name: "s", value: [1], sequence: 5, expiry: later, by: alice), now: now)
        try store.accept(.signed(kind: .service, name: "s", value: [2], sequence: 1, expiry: later, by: mallory), now: now)
        #expect(store.records(for: ResourceID(name: "s"), kind: .service, now: now).count == 2)
        #expect(store.records(for: ResourceID(name: "s"), kind: .user, now: now).isEmpty)
    }

    @Test func identityIsCreatedWithMode0600AndReloaded() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("overlay-id-\(UInt64.random(in: 0 ... .max))")
        defer { try? FileManager.default.removeItem(at: directory) }
        let created = try NodeIdentity.loadOrCreate(in: directory)
        let path = directory.appendingPathComponent(NodeIdentity.fileName).path
        let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? NSNumber
        #expect(mode?.intValue == 0o600)
        let reloaded = try NodeIdentity.loadOrCreate(in: directory)
        #expect(reloaded.nodeID == created.nodeID)
        #expect(created.nodeID == NodeID(hashing: created.publicKey))
    }

    @Test func identityReadableByOthersIsRefused() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("overlay-id-\(UInt64.random(in: 0 ... .max))")
        defer { try? FileManager.default.removeItem(at: directory) }
        _ = try NodeIdentity.loadOrCreate(in: directory)
        let path = directory.appendingPathComponent(NodeIdentity.fileName).path
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: path)
        #expect(throws: NodeIdentityError.self) { try NodeIdentity.loadOrCreate(in: directory) }
        do {
            _ = try NodeIdentity.loadOrCreate(in: directory)
        } catch {
            #expect(error.code == .insecurePermissions)
        }
    }
}
