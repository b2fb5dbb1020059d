import Foundation
import GRDB
public import Overlay

extension SMFDatabase {
    /// Replaces the kept overlay records with `records` (the node's whole store), in one transaction.
    ///
    /// The store is small (hundreds of slots) and changes in bursts, so the node saves snapshots rather than
    /// single changes; a crash between two snapshots loses at most the records the ring still replicates.
    public func replaceOverlayRecords(with records: [ResourceRecord]) async throws(StorageError) {
        try await run {
            try $0.write { db in
                try db.execute(sql: "DELETE FROM overlay_records")
                let statement = try db.makeStatement(
                    sql: """
                        INSERT INTO overlay_records
                            (resource_id, kind, owner, name, value, owner_key, sequence, expiry_ms, is_removal, signature)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                        """)
                for record in records {
                    try statement.execute(arguments: [
                        record.resourceID.description, Int(record.kind.rawValue), record.owner.description, record.name,
                        Data(record.value), Data(record.ownerPublicKey), Int64(bitPattern: record.sequence),
                        record.expiry.milliseconds, record.isRemoval ? 1 : 0, Data(record.signature),
                    ])
                }
            }
        }
    }

    /// The kept overlay records that expire after `now` (expired rows are deleted on the way).
    ///
    /// Rows whose kind is unknown to this version are skipped; the records are not verified here (the overlay
    /// store verifies each one when it takes it back).
    public func overlayRecords(expiringAfter now: OverlayInstant) async throws(StorageError) -> [ResourceRecord] {
        try await run {
            try $0.write { db in
                try db.execute(sql: "DELETE FROM overlay_records WHERE expiry_ms <= ?", arguments: [now.milliseconds])
                let rows = try Row.fetchAll(db, sql: "SELECT * FROM overlay_records ORDER BY resource_id, kind, owner")
                return rows.compactMap { row -> ResourceRecord? in
                    guard let kind = ResourceRecord.Kind(rawValue: UInt8(clamping: row["kind"] as Int)) else { return nil }
                    return ResourceRecord(
                        kind: kind, name: row["name"], value: [UInt8](row["value"] as Data),
                        ownerPublicKey: [UInt8](row["owner_key"] as Data),
                        sequence: UInt64(bitPattern: row["sequence"] as Int64),
                        expiry: OverlayInstant(milliseconds: row["expiry_ms"]), isRemoval: (row["is_removal"] as Int) != 0,
                        signature: [UInt8](row["signature"] as Data))
                }
            }
        }
    }
}
