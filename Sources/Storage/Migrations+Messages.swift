import GRDB

extension Migrations {
    /// "v3-messages": the pager-mode MESSAGEs the node received (RFC 3428 §7), kept so that `smf messages`
    /// can list them after the fact.
    ///
    /// `received_at` is seconds since 1970 (the node's wall clock when the request arrived); `body` holds the
    /// bytes as they came, `content_type` the Content-Type header value.
    static func registerMessages(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("v3-messages") { db in
            try db.execute(
                sql: """
                    CREATE TABLE sip_messages (
                        id           INTEGER PRIMARY KEY AUTOINCREMENT,
                        received_at  REAL NOT NULL,
                        from_uri     TEXT NOT NULL,
                        to_uri       TEXT NOT NULL,
                        content_type TEXT NOT NULL CHECK (length(content_type) > 0),
                        body         BLOB NOT NULL
                    ) STRICT
                    """)
            try db.execute(sql: "CREATE INDEX sip_messages_received ON sip_messages (received_at)")
        }
    }
}
