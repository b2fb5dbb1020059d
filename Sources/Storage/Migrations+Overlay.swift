import GRDB

extension Migrations {
    /// "v4-overlay": the overlay records the node holds, as owner or replica (docs/overlay.md "Storage"), so a
    /// restarted node still serves them.
    ///
    /// One row per store slot `(resource_id, kind, owner)`; the other columns are the record's signed fields, kept
    /// as received so the signature still verifies after a restart. `expiry_ms` is milliseconds since 1970.
    static func registerOverlay(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("v4-overlay") { db in
            try db.execute(
                sql: """
                    CREATE TABLE overlay_records (
                        resource_id TEXT NOT NULL CHECK (length(resource_id) = 40),
                        kind        INTEGER NOT NULL CHECK (kind BETWEEN 0 AND 255),
                        owner       TEXT NOT NULL CHECK (length(owner) = 40),
                        name        TEXT NOT NULL,
                        value       BLOB NOT NULL,
                        owner_key   BLOB NOT NULL,
                        sequence    INTEGER NOT NULL,
                        expiry_ms   INTEGER NOT NULL,
                        is_removal  INTEGER NOT NULL CHECK (is_removal IN (0, 1)),
                        signature   BLOB NOT NULL,
                        PRIMARY KEY (resource_id, kind, owner)
                    ) STRICT
                    """)
            try db.execute(sql: "CREATE INDEX overlay_records_expiry ON overlay_records (expiry_ms)")
        }
    }
}
