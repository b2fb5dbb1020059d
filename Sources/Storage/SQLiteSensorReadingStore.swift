import Foundation
import GRDB
public import Surveillance

/// The ``SensorReadingStore`` of a node: the `sensor_readings` table of its ``SMFDatabase`` (migration
/// "v9-readings").
///
/// Every call is one transaction, synchronous on the calling thread, and durable on return (the database
/// runs in WAL mode with `synchronous = FULL`: one fsync of the WAL per call). The recorder therefore hands
/// readings that arrive together to one ``store(_:recorder:)`` call.
public struct SQLiteSensorReadingStore: SensorReadingStore {
    private let database: SMFDatabase

    /// A store over `database`.
    public init(database: SMFDatabase) {
        self.database = database
    }

    private static let columns = "id, building, sensor, kind, value, at, received_at, latitude, longitude, reported"

    public func store(_ readings: [StoredReading], recorder: String) throws -> [StoredReading?] {
        guard !readings.isEmpty else { return [] }
        return try write { db in
            let insert = try db.cachedStatement(
                sql: """
                    INSERT INTO sensor_readings (recorder, \(Self.columns)) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT (recorder, id) DO NOTHING
                    """)
            var outcomes: [StoredReading?] = []
            outcomes.reserveCapacity(readings.count)
            for reading in readings {
                let body = reading.body
                try insert.execute(arguments: [
                    recorder, reading.id, body.building, body.sensorID, body.kind, body.value, reading.time.wholeNanoseconds,
                    reading.receivedAt.wholeNanoseconds, body.latitude, body.longitude, reading.reported ? 1 : 0,
                ])
                if db.changesCount > 0 {
                    outcomes.append(nil)
                } else {
                    let earlier = try Row.fetchOne(
                        db, sql: "SELECT \(Self.columns) FROM sensor_readings WHERE recorder = ? AND id = ?",
                        arguments: [recorder, reading.id])
                    outcomes.append(earlier.map(Self.reading))
                }
            }
            return outcomes
        }
    }

    public func latest(recorder: String, building: String?, sensor: String?) throws -> [StoredReading] {
        let (condition, arguments) = Self.filter(recorder: recorder, building: building, sensor: sensor)
        return try read { db in
            // SQLite takes the other columns of an aggregate query with MAX() from the row holding the maximum.
            try Row.fetchAll(
                db,
                sql: "SELECT \(Self.columns), MAX(at) FROM sensor_readings WHERE \(condition) GROUP BY building, sensor ORDER BY building, sensor",
                arguments: arguments
            ).map(Self.reading)
        }
    }

    public func readings(recorder: String, building: String?, sensor: String?, since: Duration, limit: Int) throws -> [StoredReading] {
        var (condition, arguments) = Self.filter(recorder: recorder, building: building, sensor: sensor)
        arguments += [since.wholeNanoseconds, max(0, limit)]
        return try read { db in
            try Row.fetchAll(
                db, sql: "SELECT \(Self.columns) FROM sensor_readings WHERE \(condition) AND at >= ? ORDER BY at, seq LIMIT ?",
                arguments: arguments
            ).map(Self.reading)
        }
    }

    public func deleteReadings(recorder: String, before cutoff: Duration) throws -> Int {
        try write { db in
            try db.execute(sql: "DELETE FROM sensor_readings WHERE recorder = ? AND at < ?", arguments: [recorder, cutoff.wholeNanoseconds])
            return db.changesCount
        }
    }

    public func count(recorder: String) throws -> Int {
        try read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM sensor_readings WHERE recorder = ?", arguments: [recorder]) ?? 0 }
    }

    // MARK: - Rows

    private static func filter(recorder: String, building: String?, sensor: String?) -> (String, StatementArguments) {
        var condition = "recorder = ?"
        var arguments: StatementArguments = [recorder]
        if let building {
            condition += " AND building = ?"
            arguments += [building]
        }
        if let sensor {
            condition += " AND sensor = ?"
            arguments += [sensor]
        }
        return (condition, arguments)
    }

    private static func reading(_ row: Row) -> StoredReading {
        let body = SensorReadingBody(
            sensorID: row["sensor"], building: row["building"], kind: row["kind"], value: row["value"],
            time: .nanoseconds(row["at"] as Int64), latitude: row["latitude"], longitude: row["longitude"])
        return StoredReading(
            id: row["id"], body: body, receivedAt: .nanoseconds(row["received_at"] as Int64), reported: (row["reported"] as Int64) != 0)
    }

    private func write<T>(_ body: (Database) throws -> T) throws(StorageError) -> T { try database.writeNow(body) }

    private func read<T>(_ body: (Database) throws -> T) throws(StorageError) -> T { try database.readNow(body) }
}
