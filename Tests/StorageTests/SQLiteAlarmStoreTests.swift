import Foundation
import Logging
import Presence
import Rules
import ServicePlatform
import Surveillance
import Testing

@testable import Storage

// Durable alarms (issue 7): stored before acknowledged, history appended, open alarms resumed after the
// database is reopened.

private struct AlarmDataDirectory: ~Copyable {
    let path: String

    init() throws {
        path = NSTemporaryDirectory() + "smf-alarm-store-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}

private let logger: Logger = {
    var logger = Logger(label: "smf.storage.alarms.test")
    logger.logLevel = .critical
    return logger
}()

private let bob = AlarmRecipient(supporter: "sip:bob@127.0.0.1:5071")
private let carol = AlarmRecipient(supporter: "sip:carol@127.0.0.1:5072", phoneKind: .sipPhone)
private let policy = AlarmDeliveryPolicy(acceptTimeout: .seconds(30))

private func alarm(_ id: String, at seconds: Int64) -> Alarm {
    Alarm(
        id: id, kind: "fire", severity: .critical, building: "house-12",
        buildingLocation: PresenceGeodeticPosition(latitude: 52.52, longitude: 13.405), raisedAt: .seconds(seconds),
        summary: "rule fire: smoke-kitchen smoke=0.7")
}

@Test func openAlarmSurvivesReopeningTheDatabaseAndResumesWhereItStopped() throws {
    let directory = try AlarmDataDirectory()
    var delivery = try AlarmDelivery(alarm: alarm("A-1", at: 100), recipients: [bob, carol], policy: policy)
    do {
        let store = SQLiteAlarmStore(database: try SMFDatabase(directory: directory.path, logger: logger))
        try store.create(AlarmRecord(alarm: delivery.alarm, steps: delivery.start(at: .seconds(100)).recordedSteps))
        try store.record(delivery.deliveryResult(attempt: 1, .delivered, at: .milliseconds(100_004)), of: "A-1")
        try store.record(try delivery.answered(by: bob.supporter, .decline, at: .seconds(105)), of: "A-1")
    }
    // The node restarts: a new database handle on the same file.
    let store = SQLiteAlarmStore(database: try SMFDatabase(directory: directory.path, logger: logger))
    let open = try store.openAlarms()
    #expect(open.map(\.alarm) == [delivery.alarm], "the alarm, its location and summary come back intact")
    var resumed = try #require(open.first).delivery(policy: policy)
    #expect(resumed == delivery)
    #expect(resumed.currentSupporter == carol.supporter)
    let actions = resumed.resume(at: .seconds(120))
    #expect(actions.recordedSteps.map(\.kind) == [.deliveryFailed(attempt: 2, reason: "the node restarted before the result came")])
    try store.record(actions, of: "A-1")
    try store.record(try resumed.answered(by: carol.supporter, .accept, at: .seconds(121)), of: "A-1")

    #expect(try store.openAlarms().isEmpty)
    let finished = try #require(try store.record(id: "A-1"))
    #expect(finished.state == .accepted && finished.acceptedBy == carol.supporter)
    #expect(finished.steps == resumed.steps, "every step, in order, with its time to the nanosecond")
}

@Test func alarmIdsAreUniqueAndStepsNeedAStoredAlarm() throws {
    let store = SQLiteAlarmStore(database: try SMFDatabase.inMemory(logger: logger))
    let record = AlarmRecord(alarm: alarm("A-1", at: 1), steps: [AlarmStep(time: .seconds(1), .raised)])
    try store.create(record)
    #expect(throws: StorageError.self) { try store.create(record) }
    #expect {
        try store.append([AlarmStep(time: .seconds(2), .raised)], to: "A-404")
    } throws: { error in
        (error as? StorageError)?.description == "the in-memory database rejected the data (constraint violated): alarm A-404 is not stored"
    }
    #expect(try store.record(id: "A-1") == record)
    #expect(try store.record(id: "A-404") == nil)
}

@Test func recentAlarmsListsTheNewestOldestFirstAndOpenOnesAreFoundByState() throws {
    let store = SQLiteAlarmStore(database: try SMFDatabase.inMemory(logger: logger))
    for index in 1...5 {
        let id = "A-\(index)"
        try store.create(AlarmRecord(alarm: alarm(id, at: Int64(index)), steps: [AlarmStep(time: .seconds(Int64(index)), .raised)]))
        if index.isMultiple(of: 2) {
            try store.append([AlarmStep(time: .seconds(10), .cancelled(by: "owner", reason: "test"))], to: id)
        }
    }
    #expect(try store.recentAlarms(limit: 3).map(\.alarm.id) == ["A-3", "A-4", "A-5"])
    #expect(try store.recentAlarms(limit: 3).map(\.state) == [.open, .cancelled, .open])
    #expect(try store.openAlarms().map(\.alarm.id) == ["A-1", "A-3", "A-5"])
    #expect(try store.recentAlarms(limit: 0).isEmpty)
}

@Test func migrationV7CreatesTheAlarmTables() async throws {
    let database = try SMFDatabase.inMemory(logger: logger)
    #expect(try await database.appliedMigrations().contains("v7-alarms"))
}

@Test func anAlarmsPathIsStoredWithItAndReadBackHopByHop() throws {
    let directory = try AlarmDataDirectory()
    let trace = [
        ServiceHop(
            service: "recorder", type: "sensor-recorder", node: "sip:house-12@127.0.0.1:5070", action: .request, port: "PUBLISH m2m-sensor",
            detail: "from sip:gw@127.0.0.1:5090", atNanoseconds: 1_000_000_000),
        ServiceHop(service: "notifier", type: "supporter-notifier", node: "sip:n@127.0.0.1:5080", action: .received, port: "selections",
            detail: "by wire notify", atNanoseconds: 1_012_345_678),
    ]
    do {
        let store = SQLiteAlarmStore(database: try SMFDatabase(directory: directory.path, logger: logger))
        try store.create(AlarmRecord(alarm: alarm("A-1", at: 1), steps: [AlarmStep(time: .seconds(1), .raised)], trace: trace))
        try store.create(AlarmRecord(alarm: alarm("A-2", at: 2), steps: [AlarmStep(time: .seconds(2), .raised)]))
    }
    let store = SQLiteAlarmStore(database: try SMFDatabase(directory: directory.path, logger: logger))
    #expect(try store.record(id: "A-1")?.trace == trace, "every hop, to the nanosecond, after a reopen")
    #expect(try store.record(id: "A-2")?.trace == [], "an alarm that came without a trace has none")
    #expect(try store.recentAlarms(limit: 2).map(\.trace.count) == [2, 0])
    #expect(try store.openAlarms().first?.trace == trace)
}
