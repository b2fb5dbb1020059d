import GRDB

extension Migrations {
    /// "v9-readings": the sensor readings of the building-surveillance recorder (issue 7, service 3).
    ///
    /// One row per reading, kept apart per recorder instance by `recorder`; `id` is the id of the value or
    /// PUBLISH that carried it, unique per recorder, so a re-delivered reading is stored once. Times are
    /// integer nanoseconds since 1970: `at` when it was measured, `received_at` when it arrived. `reported`
    /// says whether the recorder sent it on (its `report` parameter). The indexes serve duplicate
    /// detection, a sensor's latest values, and retention (deleting by `at`).
    static func registerReadings(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("v9-readings") { db in
            try db.execute(
                sql: """
                    CREATE TABLE sensor_readings (
                        seq         INTEGER PRIMARY KEY,
                        recorder    TEXT NOT NULL CHECK (length(recorder) > 0),
                        id          TEXT NOT NULL CHECK (length(id) BETWEEN 1 AND 512),
                        building    TEXT NOT NULL CHECK (length(building) BETWEEN 1 AND 128),
                        sensor      TEXT NOT NULL CHECK (length(sensor) BETWEEN 1 AND 128),
                        kind        TEXT NOT NULL CHECK (length(kind) BETWEEN 1 AND 128),
                        value       REAL NOT NULL,
                        at          INTEGER NOT NULL,
                        received_at INTEGER NOT NULL,
                        latitude    REAL CHECK (latitude BETWEEN -90 AND 90),
                        longitude   REAL CHECK (longitude BETWEEN -180 AND 180),
                        reported    INTEGER NOT NULL CHECK (reported IN (0, 1)),
                        CHECK ((latitude IS NULL) = (longitude IS NULL))
                    ) STRICT
                    """)
            try db.execute(sql: "CREATE UNIQUE INDEX sensor_readings_id ON sensor_readings (recorder, id)")
            try db.execute(sql: "CREATE INDEX sensor_readings_sensor ON sensor_readings (recorder, building, sensor, at)")
            try db.execute(sql: "CREATE INDEX sensor_readings_at ON sensor_readings (recorder, at)")
        }
    }

    /// "v10-surveillance-state": the durable state of the surveillance components other than readings and
    /// alarms (issue 7): the registry's registrations, the availability service's reports, which alarms
    /// belong to which notifier instance.
    ///
    /// `surveillance_state` holds each instance's (`scope`) entries by key with the order they were first
    /// put (`position`); `surveillance_inputs` the ids of the inputs already applied (duplicate detection),
    /// with when (nanoseconds since 1970), so old ones can be forgotten.
    static func registerSurveillanceState(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("v10-surveillance-state") { db in
            try db.execute(
                sql: """
                    CREATE TABLE surveillance_state (
                        scope    TEXT NOT NULL CHECK (length(scope) > 0),
                        key      TEXT NOT NULL CHECK (length(key) > 0),
                        position INTEGER NOT NULL,
                        value    BLOB NOT NULL,
                        PRIMARY KEY (scope, key)
                    ) STRICT, WITHOUT ROWID
                    """)
            try db.execute(sql: "CREATE UNIQUE INDEX surveillance_state_order ON surveillance_state (scope, position)")
            try db.execute(
                sql: """
                    CREATE TABLE surveillance_inputs (
                        scope      TEXT NOT NULL CHECK (length(scope) > 0),
                        input_id   TEXT NOT NULL CHECK (length(input_id) > 0),
                        applied_at INTEGER NOT NULL,
                        PRIMARY KEY (scope, input_id)
                    ) STRICT, WITHOUT ROWID
                    """)
            try db.execute(sql: "CREATE INDEX surveillance_inputs_applied ON surveillance_inputs (scope, applied_at)")
        }
    }
}
