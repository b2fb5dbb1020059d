import GRDB

extension Migrations {
    /// "v11-sdp": the Service Delivery Platform runtime (docs/services.md).
    ///
    /// - `sdp_deployed`: applications this node deployed (the deployment, placements as written, retired hosts)
    ///   as JSON in `record`; `sdp_notices` the notices for their owners.
    /// - `sdp_hosted`: the deployment (JSON) of each application this node runs part of, committed before the
    ///   deploy MESSAGE is answered.
    /// - `sdp_outbox`: values emitted by durable instances not yet acknowledged by every wire of their port (JSON
    ///   in `value`); `sdp_port_sequences` the last sequence number of each port, so numbers never go back;
    ///   `sdp_wire_cursors` the sequence number each wire's consumer acknowledged.
    /// - `sdp_seen_inputs`: the newest input ids each durable instance took (duplicate detection);
    ///   `sdp_instance_data` one blob per instance that its component keeps.
    static func registerServicePlatform(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("v11-sdp") { db in
            try db.execute(
                sql: """
                    CREATE TABLE sdp_deployed (
                        name     TEXT NOT NULL PRIMARY KEY CHECK (length(name) BETWEEN 1 AND 255),
                        revision INTEGER NOT NULL CHECK (revision >= 1),
                        record   BLOB NOT NULL
                    ) STRICT;
                    CREATE TABLE sdp_notices (
                        id      INTEGER PRIMARY KEY AUTOINCREMENT,
                        app     TEXT NOT NULL,
                        service TEXT,
                        text    TEXT NOT NULL,
                        at      REAL NOT NULL
                    ) STRICT;
                    CREATE INDEX sdp_notices_app ON sdp_notices (app, id);
                    CREATE TABLE sdp_hosted (
                        name       TEXT NOT NULL PRIMARY KEY CHECK (length(name) BETWEEN 1 AND 255),
                        revision   INTEGER NOT NULL CHECK (revision >= 1),
                        deployment BLOB NOT NULL
                    ) STRICT;
                    CREATE TABLE sdp_outbox (
                        app     TEXT NOT NULL,
                        service TEXT NOT NULL,
                        port    TEXT NOT NULL,
                        seq     INTEGER NOT NULL CHECK (seq >= 1),
                        value   BLOB NOT NULL,
                        PRIMARY KEY (app, service, port, seq)
                    ) STRICT, WITHOUT ROWID;
                    CREATE TABLE sdp_port_sequences (
                        app      TEXT NOT NULL,
                        service  TEXT NOT NULL,
                        port     TEXT NOT NULL,
                        last_seq INTEGER NOT NULL CHECK (last_seq >= 0),
                        PRIMARY KEY (app, service, port)
                    ) STRICT, WITHOUT ROWID;
                    CREATE TABLE sdp_wire_cursors (
                        app   TEXT NOT NULL,
                        wire  TEXT NOT NULL,
                        acked INTEGER NOT NULL CHECK (acked >= 0),
                        PRIMARY KEY (app, wire)
                    ) STRICT, WITHOUT ROWID;
                    CREATE TABLE sdp_seen_inputs (
                        id       INTEGER PRIMARY KEY AUTOINCREMENT,
                        app      TEXT NOT NULL,
                        service  TEXT NOT NULL,
                        value_id TEXT NOT NULL
                    ) STRICT;
                    CREATE INDEX sdp_seen_inputs_instance ON sdp_seen_inputs (app, service, id);
                    CREATE TABLE sdp_instance_data (
                        app     TEXT NOT NULL,
                        service TEXT NOT NULL,
                        data    BLOB NOT NULL,
                        PRIMARY KEY (app, service)
                    ) STRICT, WITHOUT ROWID;
                    """)
        }
    }
}
