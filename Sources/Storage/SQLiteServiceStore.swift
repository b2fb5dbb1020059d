import Foundation
import GRDB
public import ServicePlatform

/// The ``ServicePlatform/ServiceRuntimeStore`` of a node: the `sdp_*` tables of its ``SMFDatabase`` (migration
/// "v11-sdp").
///
/// Every call is one transaction, synchronous on the calling thread and durable on return (`synchronous = FULL`):
/// the runtime answers a deploy MESSAGE, or a NOTIFY carrying values, only after the call that commits it returned.
public struct SQLiteServiceStore: ServiceRuntimeStore {
    private let database: SMFDatabase

    /// A store over `database`.
    public init(database: SMFDatabase) {
        self.database = database
    }

    // MARK: - Deployer side

    public func deployedApplications() throws -> [DeployedApplication] {
        try read { db in
            try Row.fetchAll(db, sql: "SELECT name, record FROM sdp_deployed ORDER BY name").map { row in
                try decode(DeployedApplication.self, from: row["record"], what: "deployed application \(row["name"] as String)")
            }
        }
    }

    public func saveDeployedApplication(_ application: DeployedApplication) throws {
        let record = try encode(application, what: "application \(application.name)")
        try write { db in
            try db.execute(
                sql: """
                    INSERT INTO sdp_deployed (name, revision, record) VALUES (?, ?, ?)
                    ON CONFLICT (name) DO UPDATE SET revision = excluded.revision, record = excluded.record
                    """,
                arguments: [application.name, application.deployment.revision, record])
        }
    }

    public func deleteDeployedApplication(named name: String) throws {
        try write { db in
            try db.execute(sql: "DELETE FROM sdp_deployed WHERE name = ?", arguments: [name])
            try db.execute(sql: "DELETE FROM sdp_notices WHERE app = ?", arguments: [name])
        }
    }

    public func notices(application: String?, limit: Int) throws -> [ServiceNotice] {
        try read { db in
            let rows: [Row]
            if let application {
                rows = try Row.fetchAll(
                    db, sql: "SELECT app, service, text, at FROM sdp_notices WHERE app = ? ORDER BY id DESC LIMIT ?", arguments: [application, limit])
            } else {
                rows = try Row.fetchAll(db, sql: "SELECT app, service, text, at FROM sdp_notices ORDER BY id DESC LIMIT ?", arguments: [limit])
            }
            return rows.reversed().map { ServiceNotice(application: $0["app"], service: $0["service"], text: $0["text"], time: $0["at"]) }
        }
    }

    public func addNotice(_ notice: ServiceNotice) throws {
        try write { db in
            try db.execute(
                sql: "INSERT INTO sdp_notices (app, service, text, at) VALUES (?, ?, ?, ?)",
                arguments: [notice.application, notice.service, notice.text, notice.time])
        }
    }

    // MARK: - Host side

    public func hostedApplications() throws -> [ServiceDeployment] {
        try read { db in
            try Row.fetchAll(db, sql: "SELECT name, deployment FROM sdp_hosted ORDER BY name").map { row in
                try decode(ServiceDeployment.self, from: row["deployment"], what: "hosted application \(row["name"] as String)")
            }
        }
    }

    public func saveHostedApplication(_ deployment: ServiceDeployment) throws {
        let data = try encode(deployment, what: "deployment of \(deployment.application)")
        try write { db in
            try db.execute(
                sql: """
                    INSERT INTO sdp_hosted (name, revision, deployment) VALUES (?, ?, ?)
                    ON CONFLICT (name) DO UPDATE SET revision = excluded.revision, deployment = excluded.deployment
                    """,
                arguments: [deployment.application, deployment.revision, data])
        }
    }

    public func deleteHostedApplication(named name: String) throws {
        try write { db in
            for table in ["sdp_outbox", "sdp_port_sequences", "sdp_wire_cursors", "sdp_seen_inputs", "sdp_instance_data"] {
                try db.execute(sql: "DELETE FROM \(table) WHERE app = ?", arguments: [name])
            }
            try db.execute(sql: "DELETE FROM sdp_hosted WHERE name = ?", arguments: [name])
        }
    }

    public func deleteInstance(application: String, service: String) throws {
        try write { db in
            for table in ["sdp_outbox", "sdp_port_sequences", "sdp_seen_inputs", "sdp_instance_data"] {
                try db.execute(sql: "DELETE FROM \(table) WHERE app = ? AND service = ?", arguments: [application, service])
            }
        }
    }

    // MARK: - Outboxes

    public func appendOutbox(_ records: [ServiceOutboxRecord]) throws {
        guard !records.isEmpty else { return }
        let values = try records.map { record throws(StorageError) in
            try encode(ServiceValueBatch.Entry(sequence: record.sequence, value: record.value), what: "value \(record.value.id)")
        }
        try write { db in
            for (record, value) in zip(records, values) {
                try db.execute(
                    sql: "INSERT INTO sdp_outbox (app, service, port, seq, value) VALUES (?, ?, ?, ?, ?)",
                    arguments: [record.application, record.service, record.port, Int64(record.sequence), value])
                try db.execute(
                    sql: """
                        INSERT INTO sdp_port_sequences (app, service, port, last_seq) VALUES (?, ?, ?, ?)
                        ON CONFLICT (app, service, port) DO UPDATE SET last_seq = max(last_seq, excluded.last_seq)
                        """,
                    arguments: [record.application, record.service, record.port, Int64(record.sequence)])
            }
        }
    }

    public func outbox(application: String) throws -> [ServiceOutboxRecord] {
        try read { db in
            try Row.fetchAll(db, sql: "SELECT service, port, seq, value FROM sdp_outbox WHERE app = ? ORDER BY service, port, seq", arguments: [application])
                .map { row in
                    let entry = try decode(ServiceValueBatch.Entry.self, from: row["value"], what: "an outbox value of \(application)")
                    return ServiceOutboxRecord(
                        application: application, service: row["service"], port: row["port"], sequence: UInt64(row["seq"] as Int64), value: entry.value)
                }
        }
    }

    public func outboxSequences(application: String) throws -> [String: UInt64] {
        try read { db in
            let rows = try Row.fetchAll(db, sql: "SELECT service, port, last_seq FROM sdp_port_sequences WHERE app = ?", arguments: [application])
            return Dictionary(
                rows.map { ("\($0["service"] as String).\($0["port"] as String)", UInt64($0["last_seq"] as Int64)) }, uniquingKeysWith: { max($0, $1) })
        }
    }

    public func acknowledge(application: String, wire: String, sequence: UInt64, service: String, port: String, pruneThrough: UInt64) throws {
        try write { db in
            try db.execute(
                sql: """
                    INSERT INTO sdp_wire_cursors (app, wire, acked) VALUES (?, ?, ?)
                    ON CONFLICT (app, wire) DO UPDATE SET acked = max(acked, excluded.acked)
                    """,
                arguments: [application, wire, Int64(sequence)])
            try db.execute(
                sql: "DELETE FROM sdp_outbox WHERE app = ? AND service = ? AND port = ? AND seq <= ?",
                arguments: [application, service, port, Int64(pruneThrough)])
        }
    }

    public func wireCursors(application: String) throws -> [String: UInt64] {
        try read { db in
            let rows = try Row.fetchAll(db, sql: "SELECT wire, acked FROM sdp_wire_cursors WHERE app = ?", arguments: [application])
            return Dictionary(rows.map { ($0["wire"] as String, UInt64($0["acked"] as Int64)) }, uniquingKeysWith: { max($0, $1) })
        }
    }

    // MARK: - Inputs and instance data

    public func seenInputs(application: String, service: String, limit: Int) throws -> [String] {
        try read { db in
            try String.fetchAll(
                db, sql: "SELECT value_id FROM sdp_seen_inputs WHERE app = ? AND service = ? ORDER BY id DESC LIMIT ?",
                arguments: [application, service, limit]
            ).reversed()
        }
    }

    public func addSeenInputs(application: String, service: String, ids: [String], keep: Int) throws {
        guard !ids.isEmpty else { return }
        try write { db in
            for id in ids {
                try db.execute(sql: "INSERT INTO sdp_seen_inputs (app, service, value_id) VALUES (?, ?, ?)", arguments: [application, service, id])
            }
            try db.execute(
                sql: """
                    DELETE FROM sdp_seen_inputs WHERE app = ? AND service = ? AND id <= (
                        SELECT id FROM sdp_seen_inputs WHERE app = ? AND service = ? ORDER BY id DESC LIMIT 1 OFFSET ?)
                    """,
                arguments: [application, service, application, service, max(0, keep)])
        }
    }

    public func instanceData(application: String, service: String) throws -> [UInt8]? {
        try read { db in
            try Data.fetchOne(db, sql: "SELECT data FROM sdp_instance_data WHERE app = ? AND service = ?", arguments: [application, service])
                .map(Array.init)
        }
    }

    public func saveInstanceData(application: String, service: String, data: [UInt8]) throws {
        try write { db in
            try db.execute(
                sql: """
                    INSERT INTO sdp_instance_data (app, service, data) VALUES (?, ?, ?)
                    ON CONFLICT (app, service) DO UPDATE SET data = excluded.data
                    """,
                arguments: [application, service, Data(data)])
        }
    }

    // MARK: - Helpers

    private func encode(_ value: some Encodable, what: String) throws(StorageError) -> Data {
        do {
            return try JSONEncoder().encode(value)
        } catch {
            throw StorageError(.sqlite, database: database.name, message: "\(what) cannot be encoded: \(error)")
        }
    }

    private func decode<T: Decodable>(_ type: T.Type, from data: Data, what: String) throws -> T {
        do {
            return try JSONDecoder().decode(type, from: data)
        } catch {
            throw StorageError(.sqlite, database: database.name, message: "\(what) cannot be read: \(error)")
        }
    }

    private func write(_ body: (Database) throws -> Void) throws(StorageError) {
        try database.writeNow(body)
    }

    private func read<T>(_ body: (Database) throws -> T) throws(StorageError) -> T {
        try database.readNow(body)
    }
}
