/// The records a node holds, as owner or replica, one per `(resource, kind, owner)` slot.
public struct RecordStore: Sendable {
    private(set) var records: [ResourceRecord.Slot: ResourceRecord] = [:]

    /// Creates an empty store.
    public init() {}

    /// The number of slots held (tombstones included).
    public var count: Int { records.count }

    /// Every record held, tombstones included.
    public var allRecords: [ResourceRecord] { Array(records.values) }

    /// Stores `record` if it is newer than the copy held and verifies; returns whether anything changed.
    ///
    /// An identical copy is accepted without verifying again (replica pushes repeat records).
    /// - Throws: ``OverlayError`` `.staleSequence`, `.expired`, `.badSignature`, `.badOwnerKey`, `.recordTooLarge`.
    @discardableResult
    public mutating func accept(_ record: ResourceRecord, now: OverlayInstant) throws(OverlayError) -> Bool {
        let slot = record.slot
        if let held = records[slot] {
            if held.sequence == record.sequence, held.signature == record.signature { return false }
            if held.sequence >= record.sequence, held.expiry > now {
                throw OverlayError(
                    .staleSequence,
                    "record \(record.name) from \(record.owner.shortDescription) has sequence \(record.sequence), \(held.sequence) is already stored"
                )
            }
        }
        try record.verify(now: now)
        records[slot] = record
        return true
    }

    /// The live (unexpired, not removed) records of `resourceID`, optionally of one kind.
    public func records(for resourceID: ResourceID, kind: ResourceRecord.Kind?, now: OverlayInstant) -> [ResourceRecord] {
        records.values.filter { record in
            record.resourceID == resourceID && (kind == nil || record.kind == kind) && !record.isRemoval && record.expiry > now
        }
        .sorted { $0.owner < $1.owner }
    }

    /// Whether any slot (live or tombstone) exists for `resourceID`.
    public func holds(_ resourceID: ResourceID) -> Bool {
        records.keys.contains { $0.resourceID == resourceID }
    }

    /// Records whose Resource-ID lies in the ring interval (lower, upper]; everything when `lower` is nil.
    public func records(inRange lower: NodeID?, upperInclusive upper: NodeID) -> [ResourceRecord] {
        guard let lower else { return allRecords }
        return records.values.filter { $0.resourceID.id.isBetween(lower, upperInclusive: upper) }
    }

    /// Drops records whose expiry has passed; returns how many were dropped.
    @discardableResult
    public mutating func purgeExpired(now: OverlayInstant) -> Int {
        let before = records.count
        records = records.filter { $0.value.expiry > now }
        return before - records.count
    }
}
