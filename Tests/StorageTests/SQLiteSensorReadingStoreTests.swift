import Foundation
import GRDB
import Logging
import Surveillance
import Testing

@testable import Storage

// The recorder's readings (migration v9-readings) and the surveillance components' state (v10-surveillance-state):
// durable across reopening the file, a batch in one transaction, duplicates stored once, retention.

private struct ReadingDataDirectory: ~Copyable {
    let path: String

    init() throws {
        path = NSTemporaryDirectory() + "smf-reading-store-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}

private let logger: Logger = {
    var logger = Logger(label: "smf.storage.readings.test")
    logger.logLevel = .critical
    return logger
}()

private func reading(_ id: String, sensor: String = "smoke-kitchen", value: Double = 0.5, at seconds: Int64, reported: Bool = true) -> StoredReading {
    StoredReading(
        id: id,
        body: SensorReadingBody(
            sensorID: sensor, building: "house-12", kind: "smoke", value: value, time: .seconds(seconds), latitude: 52.52, longitude: 13.405),
        receivedAt: .seconds(seconds) + .milliseconds(3), reported: reported)
}

@Test func readingsSurviveReopeningTheDatabaseWithEveryField() throws {
    let directory = try ReadingDataDirectory()
    do {
        let store = SQLiteSensorReadingStore(database: try SMFDatabase(directory: directory.path, logger: logger))
        #expect(try store.store([reading("r1", at: 100), reading("r2", sensor: "smoke-hall", value: 0.9, at: 101, reported: false)], recorder: "app/recorder")
            == [nil, nil])
    }
    let reopened = SQLiteSensorReadingStore(database: try SMFDatabase(directory: directory.path, logger: logger))
    let back = try reopened.readings(recorder: "app/recorder", building: nil, sensor: nil, since: .zero, limit: 10)
    #expect(back == [reading("r1", at: 100), reading("r2", sensor: "smoke-hall", value: 0.9, at: 101, reported: false)])
    #expect(try reopened.count(recorder: "other/recorder") == 0, "recorders are kept apart")
}

@Test func aBatchIsOneTransactionAndDuplicatesAreStoredOnce() throws {
    let store = SQLiteSensorReadingStore(database: try SMFDatabase.inMemory(logger: logger))
    let batch = (0..<500).map { reading("b\($0)", sensor: "s\($0 % 7)", at: 1000 + Int64($0)) }
    #expect(try store.store(batch, recorder: "r").allSatisfy { $0 == nil })
    #expect(try store.count(recorder: "r") == 500)
    let again = try store.store([reading("b3", value: 0.1, at: 5), reading("new", at: 2000)], recorder: "r")
    #expect(again.first??.id == "b3" && again.first??.body.value == 0.5, "the reading stored earlier under that id comes back")
    #expect(again.last == .some(nil))
    #expect(try store.count(recorder: "r") == 501)
}

@Test func aBatchWithABadReadingStoresNoneOfIt() throws {
    let store = SQLiteSensorReadingStore(database: try SMFDatabase.inMemory(logger: logger))
    var bad = reading("bad", at: 5)
    bad.body.building = ""
    #expect(throws: StorageError.self) { try store.store([reading("good", at: 4), bad], recorder: "r") }
    #expect(try store.count(recorder: "r") == 0, "rolled back as a whole")
}

@Test func latestGivesEachSensorsNewestReadingAndRetentionDeletesOldOnes() throws {
    let store = SQLiteSensorReadingStore(database: try SMFDatabase.inMemory(logger: logger))
    _ = try store.store(
        [reading("a", sensor: "k", value: 0.1, at: 10), reading("b", sensor: "k", value: 0.7, at: 30), reading("c", sensor: "k", value: 0.4, at: 20),
         reading("d", sensor: "h", value: 0.2, at: 15)], recorder: "r")
    #expect(try store.latest(recorder: "r", building: nil, sensor: nil).map { "\($0.body.sensorID)=\($0.body.value)" } == ["h=0.2", "k=0.7"])
    #expect(try store.latest(recorder: "r", building: "house-12", sensor: "k").map(\.id) == ["b"])
    #expect(try store.latest(recorder: "r", building: "house-99", sensor: nil).isEmpty)
    #expect(try store.readings(recorder: "r", building: nil, sensor: "k", since: .seconds(15), limit: 10).map(\.id) == ["c", "b"])
    #expect(try store.deleteReadings(recorder: "r", before: .seconds(20)) == 2)
    #expect(try store.readings(recorder: "r", building: nil, sensor: nil, since: .zero, limit: 10).map(\.id) == ["c", "b"])
}

@Test func componentStateKeepsOrderAppliesAnInputOnceAndSurvivesReopening() throws {
    let directory = try ReadingDataDirectory()
    do {
        let store = SQLiteSurveillanceStateStore(database: try SMFDatabase(directory: directory.path, logger: logger))
        #expect(try store.apply([("bob", Array("1".utf8)), ("carol", Array("2".utf8))], scope: "s", inputID: "in-1", at: .seconds(10)))
        #expect(try !store.apply([("dave", Array("3".utf8))], scope: "s", inputID: "in-1", at: .seconds(11)), "a duplicate changes nothing")
        #expect(try store.apply([("bob", Array("4".utf8)), ("erin", Array("5".utf8)), ("carol", nil)], scope: "s", inputID: nil, at: .seconds(12)))
        #expect(try store.apply([("x", Array("other".utf8))], scope: "t", inputID: "in-1", at: .seconds(12)), "ids are per scope")
    }
    let reopened = SQLiteSurveillanceStateStore(database: try SMFDatabase(directory: directory.path, logger: logger))
    #expect(try reopened.entries(scope: "s").map { "\($0.key)=\(String(decoding: $0.value, as: UTF8.self))" } == ["bob=4", "erin=5"],
            "bob kept his place when replaced")
    #expect(try reopened.forgetInputs(scope: "s", before: .seconds(11)) == 1)
    #expect(try reopened.apply([("dave", Array("3".utf8))], scope: "s", inputID: "in-1", at: .seconds(20)), "forgotten, so applied again")
}
