import Foundation
import GRDB
public import SIPEndpoint

/// The ``SIPEndpointStore`` of a node: the `sip_*` tables of its ``SMFDatabase``.
///
/// Every ``apply(_:)`` is one write transaction, synchronous on the calling thread, and durable
/// on return (the database runs with `synchronous = FULL`), so the endpoint can answer a
/// SUBSCRIBE or PUBLISH only after its state is on disk.
///
/// Memory: the store only writes after ``loadRecords()``, and a write touches a handful of B-tree
/// pages (the interior ones stay cached), so the writing connection's page cache is capped at
/// ``pageCacheKibibytes`` instead of SQLite's 2 MiB default, which a notifier with 10,000
/// subscriptions would otherwise fill with leaf pages it never reads again.
public struct SQLiteEndpointStore: SIPEndpointStore {
    /// The cap on the writing connection's page cache (`PRAGMA cache_size = -N`, in KiB).
    public static let pageCacheKibibytes = 256

    private let database: SMFDatabase

    public init(database: SMFDatabase) {
        self.database = database
        // A smaller cache only costs speed, so a failure here is not worth refusing the store for.
        try? database.writer.writeWithoutTransaction { db in
            let current = try Int.fetchOne(db, sql: "PRAGMA cache_size") ?? 0
            // Negative values are KiB, positive ones pages: keep a cache someone set smaller.
            let kibibytes = current < 0 ? -current : current * 4
            if kibibytes > Self.pageCacheKibibytes { try db.execute(sql: "PRAGMA cache_size = -\(Self.pageCacheKibibytes)") }
        }
    }

    public func loadRecords() throws -> [SIPEndpointStoreRecord] {
        do {
            return try database.writer.read { db in
                var records: [SIPEndpointStoreRecord] = []
                for row in try Row.fetchAll(db, sql: "SELECT * FROM sip_notifier_subscriptions ORDER BY id") {
                    let cseq: Int64? = row["notify_cseq"]
                    records.append(
                        SIPEndpointStoreRecord(
                            key: .init(kind: .notifierSubscription, id: row["id"]), package: row["package"], resource: row["resource"],
                            peer: row["subscriber"], expiresAt: row["expires_at"], notifyCSeq: cseq.flatMap { UInt32(exactly: $0) },
                            data: [UInt8](row["record"] as Data)))
                }
                for row in try Row.fetchAll(db, sql: "SELECT * FROM sip_publications ORDER BY entity_tag") {
                    records.append(
                        SIPEndpointStoreRecord(
                            key: .init(kind: .publication, id: row["entity_tag"]), package: row["package"], resource: row["resource"],
                            expiresAt: row["expires_at"], data: [UInt8](row["record"] as Data)))
                }
                for row in try Row.fetchAll(db, sql: "SELECT * FROM sip_resource_states ORDER BY id") {
                    records.append(
                        SIPEndpointStoreRecord(
                            key: .init(kind: .resourceState, id: row["id"]), package: row["package"], resource: row["resource"],
                            expiresAt: nil, data: [UInt8](row["record"] as Data)))
                }
                return records
            }
        } catch {
            throw StorageError(error, database: database.name)
        }
    }

    public func apply(_ changes: SIPEndpointStoreChanges) throws {
        guard !changes.isEmpty else { return }
        do {
            try database.writer.write { db in
                for key in changes.deleted {
                    switch key.kind {
                    case .notifierSubscription:
                        try db.execute(sql: "DELETE FROM sip_notifier_subscriptions WHERE id = ?", arguments: [key.id])
                    case .publication:
                        try db.execute(sql: "DELETE FROM sip_publications WHERE entity_tag = ?", arguments: [key.id])
                    case .resourceState:
                        try db.execute(sql: "DELETE FROM sip_resource_states WHERE id = ?", arguments: [key.id])
                    }
                }
                for record in changes.saved {
                    let data = Data(record.data)
                    switch record.key.kind {
                    case .notifierSubscription:
                        try db.execute(
                            sql: """
                                INSERT OR REPLACE INTO sip_notifier_subscriptions
                                    (id, package, resource, subscriber, expires_at, notify_cseq, record)
                                VALUES (?, ?, ?, ?, ?, ?, ?)
                                """,
                            arguments: [
                                record.key.id, record.package, record.resource, record.peer, record.expiresAt ?? 0,
                                record.notifyCSeq.map { Int64($0) }, data,
                            ])
                    case .publication:
                        try db.execute(
                            sql: """
                                INSERT OR REPLACE INTO sip_publications (entity_tag, package, resource, expires_at, record)
                                VALUES (?, ?, ?, ?, ?)
                                """,
                            arguments: [record.key.id, record.package, record.resource, record.expiresAt ?? 0, data])
                    case .resourceState:
                        try db.execute(
                            sql: "INSERT OR REPLACE INTO sip_resource_states (id, package, resource, record) VALUES (?, ?, ?, ?)",
                            arguments: [record.key.id, record.package, record.resource, data])
                    }
                }
            }
        } catch {
            throw StorageError(error, database: database.name)
        }
    }

    /// How many rows each `sip_*` table holds (for `smf` diagnostics and leak checks).
    public func rowCounts() throws -> [SIPEndpointRecordKind: Int] {
        do {
            return try database.writer.read { db in
                [
                    .notifierSubscription: try Int.fetchOne(db, sql: "SELECT count(*) FROM sip_notifier_subscriptions") ?? 0,
                    .publication: try Int.fetchOne(db, sql: "SELECT count(*) FROM sip_publications") ?? 0,
                    .resourceState: try Int.fetchOne(db, sql: "SELECT count(*) FROM sip_resource_states") ?? 0,
                ]
            }
        } catch {
            throw StorageError(error, database: database.name)
        }
    }
}

extension SMFDatabase {
    /// The endpoint store on this database.
    public var endpointStore: SQLiteEndpointStore { SQLiteEndpointStore(database: self) }
}
