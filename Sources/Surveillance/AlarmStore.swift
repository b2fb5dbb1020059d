import Foundation
public import ServicePlatform

/// An alarm with its recorded history, as an ``AlarmStore`` keeps it.
public struct AlarmRecord: Sendable, Hashable {
    /// Open, accepted or cancelled (derived from the steps).
    public enum State: String, Sendable, Hashable, CaseIterable {
        case open
        case accepted
        case cancelled
    }

    /// The alarm.
    public var alarm: Alarm
    /// Its steps, oldest first.
    public var steps: [AlarmStep]
    /// The path the alarm took before the notifier stored it, hop by hop (the selection's ``ServiceValue/trace``:
    /// the reading taken by the recorder, each service that passed it on, the notifier that received it).
    public var trace: [ServiceHop]

    /// Creates a record.
    public init(alarm: Alarm, steps: [AlarmStep], trace: [ServiceHop] = []) {
        self.alarm = alarm
        self.steps = steps
        self.trace = trace
    }

    /// Where the alarm stands, from its steps.
    public var state: State {
        for step in steps.reversed() {
            switch step.kind {
            case .accepted: return .accepted
            case .cancelled: return .cancelled
            default: continue
            }
        }
        return .open
    }

    /// Who accepted it, if anyone.
    public var acceptedBy: String? {
        for step in steps.reversed() { if case .accepted(let supporter) = step.kind { return supporter } }
        return nil
    }

    /// The state machine rebuilt from this record, to ``AlarmDelivery/resume(at:)``.
    ///
    /// - Throws: ``SurveillanceError`` when the record cannot be replayed.
    public func delivery(policy: AlarmDeliveryPolicy) throws(SurveillanceError) -> AlarmDelivery {
        try AlarmDelivery(restoring: alarm, steps: steps, policy: policy)
    }
}

/// Durable alarms (issue 7): an alarm is stored before it is acknowledged, its steps are appended as they
/// happen, and after a restart the open ones are read back and resumed.
///
/// Every call is synchronous and durable on return (like `SIPEndpointStore`), so a driver can acknowledge
/// or send only after the step is stored.
public protocol AlarmStore: Sendable {
    /// Stores a new alarm with its first steps (at least `raised`).
    ///
    /// Throws when an alarm with the same id exists, or the store cannot write.
    func create(_ record: AlarmRecord) throws
    /// Appends steps to a stored alarm's history. Throws when the alarm is unknown.
    func append(_ steps: [AlarmStep], to alarmID: String) throws
    /// One alarm, or nil.
    func record(id: String) throws -> AlarmRecord?
    /// Every open alarm, oldest first: what to resume after a restart.
    func openAlarms() throws -> [AlarmRecord]
    /// The newest `limit` alarms, oldest first (for `smf alarms`).
    func recentAlarms(limit: Int) throws -> [AlarmRecord]
}

extension AlarmStore {
    /// Appends the steps among `actions` (the `record` actions) to the alarm's history; call before
    /// carrying out the other actions.
    public func record(_ actions: [AlarmDeliveryAction], of alarmID: String) throws {
        let steps = actions.recordedSteps
        guard !steps.isEmpty else { return }
        try append(steps, to: alarmID)
    }
}

/// An ``AlarmStore`` in memory, for tests and nodes without persistence; handing one instance to a
/// second machine simulates a restart that kept its database.
public final class InMemoryAlarmStore: AlarmStore, @unchecked Sendable {
    // Guarded by `lock`; that is what makes the class Sendable.
    private var records: [String: AlarmRecord] = [:]
    private var order: [String] = []
    private let lock = NSLock()

    /// Creates an empty store.
    public init() {}

    public func create(_ record: AlarmRecord) throws {
        lock.lock()
        defer { lock.unlock() }
        guard records[record.alarm.id] == nil else {
            throw SurveillanceError(.invalidAlarm, "alarm \(record.alarm.id) is already stored")
        }
        records[record.alarm.id] = record
        order.append(record.alarm.id)
    }

    public func append(_ steps: [AlarmStep], to alarmID: String) throws {
        lock.lock()
        defer { lock.unlock() }
        guard records[alarmID] != nil else { throw SurveillanceError(.invalidRecord, "alarm \(alarmID) is not stored") }
        records[alarmID]?.steps += steps
    }

    public func record(id: String) throws -> AlarmRecord? {
        lock.withLock { records[id] }
    }

    public func openAlarms() throws -> [AlarmRecord] {
        lock.withLock { order.compactMap { records[$0] }.filter { $0.state == .open } }
    }

    public func recentAlarms(limit: Int) throws -> [AlarmRecord] {
        lock.withLock { order.suffix(max(0, limit)).compactMap { records[$0] } }
    }
}

extension [AlarmDeliveryAction] {
    /// The steps of the `record` actions, in order: what to store (``AlarmStore/create(_:)`` for the
    /// actions of ``AlarmDelivery/start(at:)``, ``AlarmStore/append(_:to:)`` afterwards).
    public var recordedSteps: [AlarmStep] {
        compactMap { action in
            if case .record(let step) = action { return step }
            return nil
        }
    }
}
