import Foundation
import GRDB

/// An application a supporter's node registered for (table `supporter_applications`, migration "v13-supporter-inbox").
public struct SupporterApplicationRow: Sendable, Hashable, Codable {
    /// The application (composition name).
    public var application: String
    /// The registry instance the registration went to.
    public var registry: String
    /// The notifier instance whose alarm resource the node watches (variant 1), if any.
    public var notifier: String?
    /// The registration body as sent (`application/smf-supporter-registration+json`).
    public var registration: [UInt8]
    /// Nanoseconds since 1970.
    public var registeredAt: Int64

    public init(application: String, registry: String, notifier: String?, registration: [UInt8], registeredAt: Int64) {
        self.application = application
        self.registry = registry
        self.notifier = notifier
        self.registration = registration
        self.registeredAt = registeredAt
    }
}

/// An alarm a supporter's node was told about (table `supporter_alarms`).
public struct SupporterAlarmRow: Sendable, Hashable, Codable {
    /// The alarm id.
    public var id: String
    /// Arrival order (1, 2, …).
    public var sequence: Int64
    /// The notifier instance to answer.
    public var notifier: String
    /// `NOTIFY` (variant 1) or `SUBSCRIBE` (variant 2).
    public var channel: String
    /// Nanoseconds since 1970, when the node stored it.
    public var receivedAt: Int64
    /// The alarm body (`application/smf-alarm+json`).
    public var alarm: [UInt8]
    /// The Call-ID of the notifier's SUBSCRIBE (variant 2).
    public var callID: String?
    /// `accept` or `decline` once answered.
    public var answer: String?
    public var answeredAt: Int64?
    /// What became of the answer (`delivered 200`, `failed: …`).
    public var answerResult: String?

    public init(
        id: String, sequence: Int64 = 0, notifier: String, channel: String, receivedAt: Int64, alarm: [UInt8], callID: String? = nil,
        answer: String? = nil, answeredAt: Int64? = nil, answerResult: String? = nil
    ) {
        self.id = id
        self.sequence = sequence
        self.notifier = notifier
        self.channel = channel
        self.receivedAt = receivedAt
        self.alarm = alarm
        self.callID = callID
        self.answer = answer
        self.answeredAt = answeredAt
        self.answerResult = answerResult
    }
}

/// What a supporter's node keeps: its registrations and the alarms it was told about, each call one transaction,
/// durable on return (so an alarm NOTIFY is answered 200 only once the alarm is stored).
public struct SQLiteSupporterStore: Sendable {
    private let database: SMFDatabase

    public init(database: SMFDatabase) {
        self.database = database
    }

    /// Stores (or replaces) the registration for an application.
    public func saveApplication(_ row: SupporterApplicationRow) throws(StorageError) {
        try database.writeNow { db in
            try db.execute(
                sql: """
                    INSERT INTO supporter_applications (app, registry, notifier, registration, registered_at) VALUES (?, ?, ?, ?, ?)
                    ON CONFLICT (app) DO UPDATE SET registry = excluded.registry, notifier = excluded.notifier,
                        registration = excluded.registration, registered_at = excluded.registered_at
                    """,
                arguments: [row.application, row.registry, row.notifier, Data(row.registration), row.registeredAt])
        }
    }

    /// Forgets an application's registration; returns whether there was one.
    @discardableResult
    public func removeApplication(_ application: String) throws(StorageError) -> Bool {
        try database.writeNow { db in
            try db.execute(sql: "DELETE FROM supporter_applications WHERE app = ?", arguments: [application])
            return db.changesCount > 0
        }
    }

    public func applications() throws(StorageError) -> [SupporterApplicationRow] {
        try database.readNow { db in
            try Row.fetchAll(db, sql: "SELECT * FROM supporter_applications ORDER BY app").map { row in
                SupporterApplicationRow(
                    application: row["app"], registry: row["registry"], notifier: row["notifier"], registration: [UInt8](row["registration"] as Data),
                    registeredAt: row["registered_at"])
            }
        }
    }

    /// Stores an alarm the node was told about; returns the stored row (the earlier one when the alarm is known
    /// already: a repeated NOTIFY or SUBSCRIBE changes nothing but a variant-2 Call-ID).
    public func addAlarm(_ row: SupporterAlarmRow) throws(StorageError) -> SupporterAlarmRow {
        try database.writeNow { db in
            if let existing = try Row.fetchOne(db, sql: "SELECT * FROM supporter_alarms WHERE id = ?", arguments: [row.id]) {
                if let callID = row.callID {
                    try db.execute(sql: "UPDATE supporter_alarms SET call_id = ? WHERE id = ?", arguments: [callID, row.id])
                }
                var stored = Self.alarm(existing)
                stored.callID = row.callID ?? stored.callID
                return stored
            }
            try db.execute(
                sql: """
                    INSERT INTO supporter_alarms (id, seq, notifier, channel, received_at, alarm, call_id)
                    VALUES (?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM supporter_alarms), ?, ?, ?, ?, ?)
                    """,
                arguments: [row.id, row.notifier, row.channel, row.receivedAt, Data(row.alarm), row.callID])
            return try Row.fetchOne(db, sql: "SELECT * FROM supporter_alarms WHERE id = ?", arguments: [row.id]).map(Self.alarm) ?? row
        }
    }

    /// Records the answer given to an alarm (and later what became of it).
    public func setAnswer(_ id: String, answer: String, at time: Int64, result: String?) throws(StorageError) {
        try database.writeNow { db in
            try db.execute(
                sql: "UPDATE supporter_alarms SET answer = ?, answered_at = ?, answer_result = ? WHERE id = ?",
                arguments: [answer, time, result, id])
            guard db.changesCount > 0 else {
                throw StorageError(.constraintViolation, database: database.name, message: "no alarm \(id) in the inbox")
            }
        }
    }

    public func alarm(id: String) throws(StorageError) -> SupporterAlarmRow? {
        try database.readNow { db in try Row.fetchOne(db, sql: "SELECT * FROM supporter_alarms WHERE id = ? COLLATE NOCASE", arguments: [id]).map(Self.alarm) }
    }

    /// The alarms after arrival number `after`, oldest first, at most `limit`.
    public func alarms(after: Int64 = 0, limit: Int = 1000) throws(StorageError) -> [SupporterAlarmRow] {
        try database.readNow { db in
            try Row.fetchAll(db, sql: "SELECT * FROM supporter_alarms WHERE seq > ? ORDER BY seq LIMIT ?", arguments: [after, max(0, limit)])
                .map(Self.alarm)
        }
    }

    private static func alarm(_ row: Row) -> SupporterAlarmRow {
        SupporterAlarmRow(
            id: row["id"], sequence: row["seq"], notifier: row["notifier"], channel: row["channel"], receivedAt: row["received_at"],
            alarm: [UInt8](row["alarm"] as Data), callID: row["call_id"], answer: row["answer"], answeredAt: row["answered_at"],
            answerResult: row["answer_result"])
    }
}
