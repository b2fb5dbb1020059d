import GRDB

extension Migrations {
    /// "v13-supporter-inbox": what a supporter's own node keeps (docs/surveillance.md "A supporter's node").
    ///
    /// `supporter_applications`: one row per application the node registered its supporter for (the registration
    /// body as sent, the registry it went to, and the notifier whose alarm resource the node watches in variant 1).
    /// `supporter_alarms`: every alarm the node was told about, in arrival order (`seq`), with the channel it came
    /// by, the notifier to answer, the subscription's Call-ID in variant 2, and the answer given (if any), when,
    /// and what became of it. Times are integer nanoseconds since 1970.
    static func registerSupporterInbox(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("v13-supporter-inbox") { db in
            try db.execute(
                sql: """
                    CREATE TABLE supporter_applications (
                        app           TEXT NOT NULL PRIMARY KEY CHECK (length(app) > 0),
                        registry      TEXT NOT NULL,
                        notifier      TEXT,
                        registration  BLOB NOT NULL,
                        registered_at INTEGER NOT NULL
                    ) STRICT
                    """)
            try db.execute(
                sql: """
                    CREATE TABLE supporter_alarms (
                        id            TEXT NOT NULL PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 64),
                        seq           INTEGER NOT NULL UNIQUE,
                        notifier      TEXT NOT NULL,
                        channel       TEXT NOT NULL,
                        received_at   INTEGER NOT NULL,
                        alarm         BLOB NOT NULL,
                        call_id       TEXT,
                        answer        TEXT CHECK (answer IN ('accept', 'decline')),
                        answered_at   INTEGER,
                        answer_result TEXT
                    ) STRICT
                    """)
        }
    }
}
