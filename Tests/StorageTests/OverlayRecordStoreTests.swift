import Foundation
import Logging
import Overlay
import Testing

@testable import Storage

private let logger = Logger(label: "smf.storage.overlay.test")

@Test func overlayRecordsRoundTripWithTheirSignaturesStillValid() async throws {
    let database = try SMFDatabase.inMemory(logger: logger)
    let identity = NodeIdentity.generate()
    let now = OverlayInstant(milliseconds: 1_700_000_000_000)
    let live = ResourceRecord.signed(
        kind: .user, name: "user:sip:pump7@plant.example", value: Array("sip:pump7@10.0.0.7".utf8), sequence: UInt64.max - 1,
        expiry: now.advanced(by: .seconds(60)), by: identity)
    let tombstone = ResourceRecord.removal(of: .generic, name: "valve", sequence: 9, expiry: now.advanced(by: .seconds(60)), by: identity)
    try await database.replaceOverlayRecords(with: [live, tombstone])
    let kept = try await database.overlayRecords(expiringAfter: now)
    #expect(Set(kept) == [live, tombstone])
    for record in kept { try record.verify(now: now) }  // every signed field came back as stored
}

@Test func expiredOverlayRecordsAreDroppedAndASnapshotReplacesThePreviousOne() async throws {
    let database = try SMFDatabase.inMemory(logger: logger)
    let identity = NodeIdentity.generate()
    let now = OverlayInstant(milliseconds: 1_700_000_000_000)
    let soon = ResourceRecord.signed(kind: .generic, name: "a", value: [1], sequence: 1, expiry: now.advanced(by: .seconds(1)), by: identity)
    let later = ResourceRecord.signed(kind: .generic, name: "b", value: [2], sequence: 1, expiry: now.advanced(by: .seconds(100)), by: identity)
    try await database.replaceOverlayRecords(with: [soon, later])
    #expect(try await database.overlayRecords(expiringAfter: now.advanced(by: .seconds(2))) == [later])
    // The expired row is gone for good, even when asked about an earlier time.
    #expect(try await database.overlayRecords(expiringAfter: now) == [later])
    try await database.replaceOverlayRecords(with: [])
    #expect(try await database.overlayRecords(expiringAfter: now).isEmpty)
}
