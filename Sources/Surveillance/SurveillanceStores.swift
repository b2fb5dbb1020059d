import Foundation

/// A reading as the recorder (service 3) keeps it.
public struct StoredReading: Sendable, Hashable {
    /// Identifies the reading for duplicate detection: the id of the value (or PUBLISH) that carried it.
    public var id: String
    /// The reading; its ``SensorReadingBody/time`` is always set (stamped with ``receivedAt`` when the
    /// sender gave none).
    public var body: SensorReadingBody
    /// When the recorder received it.
    public var receivedAt: Duration
    /// Whether the recorder sent it on (its `report` parameter: every reading, or changes only).
    public var reported: Bool

    /// Creates a stored reading; a body without a time is stamped with `receivedAt`.
    public init(id: String, body: SensorReadingBody, receivedAt: Duration, reported: Bool) {
        var body = body
        body.time = body.time ?? receivedAt
        self.id = id
        self.body = body
        self.receivedAt = receivedAt
        self.reported = reported
    }

    /// When it was measured.
    public var time: Duration { body.time ?? receivedAt }
}

/// The recorder's durable store of sensor readings (issue 7, service 3): readings of one recorder instance
/// are kept apart from another's by the `recorder` key.
///
/// Every call is synchronous and durable on return (like ``AlarmStore``): the recorder answers a PUBLISH
/// or acknowledges a value only after ``store(_:recorder:)`` returned. One call is one transaction, so a
/// batch of readings costs one commit.
public protocol SensorReadingStore: Sendable {
    /// Stores `readings` in one transaction. A reading whose id is already stored for `recorder` is left as
    /// it is (a re-delivery). Returns, for each reading in order, nil when it was stored now, or the
    /// reading stored earlier under that id.
    func store(_ readings: [StoredReading], recorder: String) throws -> [StoredReading?]
    /// The latest reading (by measurement time) of each sensor, optionally only of `building` and/or
    /// `sensor`, sorted by building then sensor.
    func latest(recorder: String, building: String?, sensor: String?) throws -> [StoredReading]
    /// Readings measured at or after `since`, optionally only of `building` and/or `sensor`, oldest first,
    /// at most `limit`.
    func readings(recorder: String, building: String?, sensor: String?, since: Duration, limit: Int) throws -> [StoredReading]
    /// Deletes the readings measured before `cutoff` (retention); returns how many.
    func deleteReadings(recorder: String, before cutoff: Duration) throws -> Int
    /// How many readings `recorder` holds.
    func count(recorder: String) throws -> Int
}

/// A ``SensorReadingStore`` in memory, for tests and nodes without persistence.
public final class InMemorySensorReadingStore: SensorReadingStore, @unchecked Sendable {
    // Guarded by `lock`; that is what makes the class Sendable.
    private var byRecorder: [String: (readings: [StoredReading], ids: [String: Int])] = [:]
    private let lock = NSLock()

    /// Creates an empty store.
    public init() {}

    public func store(_ readings: [StoredReading], recorder: String) throws -> [StoredReading?] {
        lock.withLock {
            var entry = byRecorder[recorder] ?? ([], [:])
            let outcomes = readings.map { reading -> StoredReading? in
                if let index = entry.ids[reading.id] { return entry.readings[index] }
                entry.ids[reading.id] = entry.readings.count
                entry.readings.append(reading)
                return nil
            }
            byRecorder[recorder] = entry
            return outcomes
        }
    }

    public func latest(recorder: String, building: String?, sensor: String?) throws -> [StoredReading] {
        var latest: [String: StoredReading] = [:]
        for reading in try readings(recorder: recorder, building: building, sensor: sensor, since: .nanoseconds(Int64.min), limit: .max) {
            let key = reading.body.building + "\u{0}" + reading.body.sensorID
            if let held = latest[key], held.time > reading.time { continue }
            latest[key] = reading
        }
        return latest.values.sorted { ($0.body.building, $0.body.sensorID) < ($1.body.building, $1.body.sensorID) }
    }

    public func readings(recorder: String, building: String?, sensor: String?, since: Duration, limit: Int) throws -> [StoredReading] {
        let all = lock.withLock { byRecorder[recorder]?.readings ?? [] }
        let matching = all.filter {
            (building == nil || $0.body.building == building) && (sensor == nil || $0.body.sensorID == sensor) && $0.time >= since
        }
        // Stable sort: readings of one instant stay in arrival order.
        return Array(matching.enumerated().sorted { ($0.element.time, $0.offset) < ($1.element.time, $1.offset) }.map(\.element).prefix(max(0, limit)))
    }

    public func deleteReadings(recorder: String, before cutoff: Duration) throws -> Int {
        lock.withLock {
            guard var entry = byRecorder[recorder] else { return 0 }
            let before = entry.readings.count
            entry.readings.removeAll { $0.time < cutoff }
            entry.ids = Dictionary(uniqueKeysWithValues: entry.readings.enumerated().map { ($0.element.id, $0.offset) })
            byRecorder[recorder] = entry
            return before - entry.readings.count
        }
    }

    public func count(recorder: String) throws -> Int {
        lock.withLock { byRecorder[recorder]?.readings.count ?? 0 }
    }
}

/// Durable keyed state of one component instance (issue 7): the registry's registrations by AoR, the
/// availability service's reports by supporter, the notifier's alarms by id. Each `scope` (an instance)
/// holds entries in the order they were first put; replacing an entry keeps its place, removing it forgets
/// the place.
///
/// Every call is synchronous and durable on return. ``apply(_:scope:inputID:at:)`` also records the id of
/// the input that caused the change, in the same transaction, so a re-delivered input changes nothing.
public protocol SurveillanceStateStore: Sendable {
    /// Puts (value non-nil) or removes (nil) entries of `scope` in one transaction, and records `inputID`
    /// (when given) as applied at `time`. Returns false, changing nothing, when `inputID` was applied before.
    func apply(_ changes: [(key: String, value: [UInt8]?)], scope: String, inputID: String?, at time: Duration) throws -> Bool
    /// The entries of `scope` in the order they were first put.
    func entries(scope: String) throws -> [(key: String, value: [UInt8])]
    /// Forgets the input ids of `scope` applied before `cutoff`; returns how many.
    func forgetInputs(scope: String, before cutoff: Duration) throws -> Int
}

/// A ``SurveillanceStateStore`` in memory; handing one instance to a second component simulates a restart
/// that kept its database.
public final class InMemorySurveillanceStateStore: SurveillanceStateStore, @unchecked Sendable {
    // Guarded by `lock`; that is what makes the class Sendable.
    private var scopes: [String: (entries: [String: (position: Int, value: [UInt8])], next: Int, inputs: [String: Duration])] = [:]
    private let lock = NSLock()

    /// Creates an empty store.
    public init() {}

    public func apply(_ changes: [(key: String, value: [UInt8]?)], scope: String, inputID: String?, at time: Duration) throws -> Bool {
        lock.withLock {
            var state = scopes[scope] ?? ([:], 0, [:])
            if let inputID {
                guard state.inputs[inputID] == nil else { return false }
                state.inputs[inputID] = time
            }
            for (key, value) in changes {
                if let value {
                    let position = state.entries[key]?.position ?? state.next
                    if state.entries[key] == nil { state.next += 1 }
                    state.entries[key] = (position, value)
                } else {
                    state.entries[key] = nil
                }
            }
            scopes[scope] = state
            return true
        }
    }

    public func entries(scope: String) throws -> [(key: String, value: [UInt8])] {
        lock.withLock {
            (scopes[scope]?.entries ?? [:]).sorted { $0.value.position < $1.value.position }.map { ($0.key, $0.value.value) }
        }
    }

    public func forgetInputs(scope: String, before cutoff: Duration) throws -> Int {
        lock.withLock {
            guard var state = scopes[scope] else { return 0 }
            let before = state.inputs.count
            state.inputs = state.inputs.filter { $0.value >= cutoff }
            scopes[scope] = state
            return before - state.inputs.count
        }
    }
}
