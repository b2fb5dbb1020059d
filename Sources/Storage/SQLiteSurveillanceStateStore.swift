import Foundation
import GRDB
public import Surveillance

/// The ``SurveillanceStateStore`` of a node: the `surveillance_state` and `surveillance_inputs` tables of its
/// ``SMFDatabase`` (migration "v10-surveillance-state").
///
/// Every call is one transaction, synchronous on the calling thread, and durable on return.
public struct SQLiteSurveillanceStateStore: SurveillanceStateStore {
    private let database: SMFDatabase

    /// A store over `database`.
    public init(database: SMFDatabase) {
        self.database = database
    }

    public func apply(_ changes: [(key: String, value: [UInt8]?)], scope: String, inputID: String?, at time: Duration) throws -> Bool {
        try database.writeNow { db in
            if let inputID {
                try db.execute(
                    sql: "INSERT INTO surveillance_inputs (scope, input_id, applied_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                    arguments: [scope, inputID, time.wholeNanoseconds])
                guard db.changesCount > 0 else { return false }
            }
            for (key, value) in changes {
                if let value {
                    try db.execute(
                        sql: """
                            INSERT INTO surveillance_state (scope, key, position, value)
                            VALUES (?, ?, (SELECT COALESCE(MAX(position), 0) + 1 FROM surveillance_state WHERE scope = ?), ?)
                            ON CONFLICT (scope, key) DO UPDATE SET value = excluded.value
                            """,
                        arguments: [scope, key, scope, Data(value)])
                } else {
                    try db.execute(sql: "DELETE FROM surveillance_state WHERE scope = ? AND key = ?", arguments: [scope, key])
                }
            }
            return true
        }
    }

    public func entries(scope: String) throws -> [(key: String, value: [UInt8])] {
        try database.readNow { db in
            try Row.fetchAll(db, sql: "SELECT key, value FROM surveillance_state WHERE scope = ? ORDER BY position", arguments: [scope])
                .map { row in (key: row["key"] as String, value: [UInt8](row["value"] as Data)) }
        }
    }

    public func forgetInputs(scope: String, before cutoff: Duration) throws -> Int {
        try database.writeNow { db in
            try db.execute(
                sql: "DELETE FROM surveillance_inputs WHERE scope = ? AND applied_at < ?", arguments: [scope, cutoff.wholeNanoseconds])
            return db.changesCount
        }
    }
}
