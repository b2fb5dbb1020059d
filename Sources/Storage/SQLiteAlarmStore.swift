import Foundation
import GRDB
import ServicePlatform
public import Surveillance

/// The ``AlarmStore`` of a node: the `alarms` and `alarm_steps` tables of its ``SMFDatabase``
/// (migration "v7-alarms").
///
/// Every call is one transaction, synchronous on the calling thread, and durable on return (the database
/// runs with `synchronous = FULL`): an alarm is acknowledged only after ``create(_:)`` returns, and a
/// request is sent only after the step that explains it is appended.
public struct SQLiteAlarmStore: AlarmStore {
    private let database: SMFDatabase

    /// A store over `database`.
    public init(database: SMFDatabase) {
        self.database = database
    }

    public func create(_ record: AlarmRecord) throws {
        let alarmJSON = try encode(record.alarm, what: "alarm \(record.alarm.id)")
        let stepsJSON = try record.steps.map { step throws(StorageError) in try encode(step, what: "a step of alarm \(record.alarm.id)") }
        let traceJSON = record.trace.isEmpty ? nil : try encode(record.trace, what: "the trace of alarm \(record.alarm.id)")
        try write { db in
            try db.execute(
                sql: """
                    INSERT INTO alarms (id, kind, building, raised_at, state, accepted_by, created_seq, alarm, trace)
                    VALUES (?, ?, ?, ?, ?, ?, (SELECT COALESCE(MAX(created_seq), 0) + 1 FROM alarms), ?, ?)
                    """,
                arguments: [
                    record.alarm.id, record.alarm.kind, record.alarm.building, record.alarm.raisedAt.wholeNanoseconds,
                    record.state.rawValue, record.acceptedBy, alarmJSON, traceJSON,
                ])
            for (index, step) in record.steps.enumerated() {
                try db.execute(
                    sql: "INSERT INTO alarm_steps (alarm_id, seq, at, step) VALUES (?, ?, ?, ?)",
                    arguments: [record.alarm.id, index + 1, step.time.wholeNanoseconds, stepsJSON[index]])
            }
        }
    }

    public func append(_ steps: [AlarmStep], to alarmID: String) throws {
        guard !steps.isEmpty else { return }
        let stepsJSON = try steps.map { step throws(StorageError) in try encode(step, what: "a step of alarm \(alarmID)") }
        let partial = AlarmRecord(alarm: Alarm(id: alarmID, kind: "-", building: "-", raisedAt: .zero), steps: steps)
        try write { db in
            guard let last = try Int.fetchOne(
                db, sql: "SELECT (SELECT COALESCE(MAX(seq), 0) FROM alarm_steps WHERE alarm_id = ?) FROM alarms WHERE id = ?",
                arguments: [alarmID, alarmID])
            else {
                throw StorageError(.constraintViolation, database: database.name, message: "alarm \(alarmID) is not stored")
            }
            for (index, step) in steps.enumerated() {
                try db.execute(
                    sql: "INSERT INTO alarm_steps (alarm_id, seq, at, step) VALUES (?, ?, ?, ?)",
                    arguments: [alarmID, last + index + 1, step.time.wholeNanoseconds, stepsJSON[index]])
            }
            if partial.state != .open {
                try db.execute(
                    sql: "UPDATE alarms SET state = ?, accepted_by = ? WHERE id = ?",
                    arguments: [partial.state.rawValue, partial.acceptedBy, alarmID])
            }
        }
    }

    public func record(id: String) throws -> AlarmRecord? {
        try read { db in
            try Row.fetchOne(db, sql: "SELECT id, alarm, trace FROM alarms WHERE id = ?", arguments: [id]).map { try load($0, db) }
        }
    }

    public func openAlarms() throws -> [AlarmRecord] {
        try read { db in
            try Row.fetchAll(db, sql: "SELECT id, alarm, trace FROM alarms WHERE state = 'open' ORDER BY created_seq")
                .map { try load($0, db) }
        }
    }

    public func recentAlarms(limit: Int) throws -> [AlarmRecord] {
        try read { db in
            try Row.fetchAll(
                db,
                sql: "SELECT * FROM (SELECT id, alarm, trace, created_seq FROM alarms ORDER BY created_seq DESC LIMIT ?) ORDER BY created_seq",
                arguments: [max(0, limit)]
            ).map { try load($0, db) }
        }
    }

    // MARK: - Rows

    private func load(_ row: Row, _ db: Database) throws -> AlarmRecord {
        let id: String = row["id"]
        let alarm = try decode(Alarm.self, from: row["alarm"], what: "alarm \(id)")
        let steps = try Row.fetchAll(db, sql: "SELECT seq, step FROM alarm_steps WHERE alarm_id = ? ORDER BY seq", arguments: [id])
            .map { step in try decode(AlarmStep.self, from: step["step"], what: "step \(step["seq"] as Int64) of alarm \(id)") }
        let traceData: Data? = row["trace"]
        let trace = try traceData.map { data throws(StorageError) in try decode([ServiceHop].self, from: data, what: "the trace of alarm \(id)") } ?? []
        return AlarmRecord(alarm: alarm, steps: steps, trace: trace)
    }

    private func encode(_ value: some Encodable, what: String) throws(StorageError) -> Data {
        do {
            return try JSONEncoder().encode(value)
        } catch {
            throw StorageError(.sqlite, database: database.name, message: "\(what) cannot be encoded: \(error)")
        }
    }

    private func decode<T: Decodable>(_ type: T.Type, from data: Data, what: String) throws(StorageError) -> T {
        do {
            return try JSONDecoder().decode(type, from: data)
        } catch {
            throw StorageError(.sqlite, database: database.name, message: "\(what) cannot be read back (not valid JSON)")
        }
    }

    private func write(_ body: (Database) throws -> Void) throws(StorageError) { try database.writeNow(body) }

    private func read<T>(_ body: (Database) throws -> T) throws(StorageError) -> T { try database.readNow(body) }
}
