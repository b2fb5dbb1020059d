import GRDB

extension Migrations {
    /// "v7-alarms": the building-surveillance alarms (issue 7) and their delivery history.
    ///
    /// `alarms` holds one row per alarm (the alarm itself as JSON in `alarm`, plus the columns `smf alarms`
    /// filters on); `alarm_steps` its steps in order (`seq` from 1), each as JSON in `step`. Times are
    /// integer nanoseconds since 1970. `state` and `accepted_by` are kept in step with the steps by the
    /// store, so open alarms are found through a partial index without reading any history.
    static func registerAlarms(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("v7-alarms") { db in
            try db.execute(
                sql: """
                    CREATE TABLE alarms (
                        id          TEXT NOT NULL PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 64),
                        kind        TEXT NOT NULL CHECK (length(kind) > 0),
                        building    TEXT NOT NULL CHECK (length(building) > 0),
                        raised_at   INTEGER NOT NULL,
                        state       TEXT NOT NULL CHECK (state IN ('open', 'accepted', 'cancelled')),
                        accepted_by TEXT,
                        created_seq INTEGER NOT NULL UNIQUE,
                        alarm       BLOB NOT NULL
                    ) STRICT
                    """)
            try db.execute(sql: "CREATE INDEX alarms_open ON alarms (created_seq) WHERE state = 'open'")
            try db.execute(
                sql: """
                    CREATE TABLE alarm_steps (
                        alarm_id TEXT NOT NULL REFERENCES alarms (id) ON DELETE CASCADE,
                        seq      INTEGER NOT NULL CHECK (seq >= 1),
                        at       INTEGER NOT NULL,
                        step     BLOB NOT NULL,
                        PRIMARY KEY (alarm_id, seq)
                    ) STRICT, WITHOUT ROWID
                    """)
        }
    }

    /// "v12-alarm-trace": each alarm's path before the notifier stored it (`ServiceHop`s as JSON, the selection's
    /// trace), shown by `smf alarms --show`. Alarms stored before it have none (NULL).
    static func registerAlarmTrace(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("v12-alarm-trace") { db in
            try db.execute(sql: "ALTER TABLE alarms ADD COLUMN trace BLOB")
        }
    }
}
