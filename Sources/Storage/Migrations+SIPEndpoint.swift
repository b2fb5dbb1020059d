import GRDB

extension Migrations {
    /// "v2-sip-endpoint": the tables behind ``SQLiteEndpointStore`` — the subscriptions the node
    /// notifies (RFC 6665 §4.2: dialog and NOTIFY CSeq survive a restart), the publications its
    /// event state compositor holds (RFC 3903 §6) and the latest state of each resource.
    ///
    /// `record` holds the endpoint's JSON encoding of the machine state; the other columns repeat
    /// what an operator or a cleanup query needs to see.
    static func registerSIPEndpoint(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("v2-sip-endpoint") { db in
            try db.execute(
                sql: """
                    CREATE TABLE sip_notifier_subscriptions (
                        id          TEXT NOT NULL PRIMARY KEY CHECK (length(id) > 0),
                        package     TEXT NOT NULL CHECK (length(package) > 0),
                        resource    TEXT NOT NULL,
                        subscriber  TEXT NOT NULL,
                        expires_at  REAL NOT NULL,
                        notify_cseq INTEGER CHECK (notify_cseq IS NULL OR notify_cseq BETWEEN 0 AND 4294967295),
                        record      BLOB NOT NULL
                    ) STRICT
                    """)
            try db.execute(sql: "CREATE INDEX sip_notifier_subscriptions_expiry ON sip_notifier_subscriptions (expires_at)")
            try db.execute(
                sql: """
                    CREATE TABLE sip_publications (
                        entity_tag TEXT NOT NULL PRIMARY KEY CHECK (length(entity_tag) > 0),
                        package    TEXT NOT NULL CHECK (length(package) > 0),
                        resource   TEXT NOT NULL,
                        expires_at REAL NOT NULL,
                        record     BLOB NOT NULL
                    ) STRICT
                    """)
            try db.execute(sql: "CREATE INDEX sip_publications_expiry ON sip_publications (expires_at)")
            try db.execute(
                sql: """
                    CREATE TABLE sip_resource_states (
                        id       TEXT NOT NULL PRIMARY KEY CHECK (length(id) > 0),
                        package  TEXT NOT NULL CHECK (length(package) > 0),
                        resource TEXT NOT NULL,
                        record   BLOB NOT NULL
                    ) STRICT
                    """)
        }
    }
}
