import GRDB

/// The schema history. Migrations are named, applied in order, and never edited once shipped: change the
/// schema by appending a new migration. They use plain SQL and never reference app types.
enum Migrations {
    static let migrator: DatabaseMigrator = {
        var migrator = DatabaseMigrator()

        // Node-wide key/value settings (node identity, listener configuration chosen at first start, …).
        migrator.registerMigration("v1-node") { db in
            try db.execute(
                sql: """
                    CREATE TABLE node_settings (
                        key   TEXT NOT NULL PRIMARY KEY CHECK (length(key) BETWEEN 1 AND 255),
                        value TEXT NOT NULL
                    ) STRICT
                    """)
        }

        registerSIPEndpoint(&migrator)
        registerMessages(&migrator)
        registerOverlay(&migrator)
        registerCommunity(&migrator)
        registerAlarms(&migrator)
        registerCommunityContacts(&migrator)
        registerReadings(&migrator)
        registerSurveillanceState(&migrator)
        registerServicePlatform(&migrator)
        registerAlarmTrace(&migrator)
        registerSupporterInbox(&migrator)

        return migrator
    }()
}
