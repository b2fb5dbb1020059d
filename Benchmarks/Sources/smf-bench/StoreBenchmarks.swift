import Foundation
import Logging
import Storage
import Surveillance

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

extension Benchmark {
    /// `store.readings_per_s`: durable sensor readings per wall-clock second into SQLite through
    /// `SQLiteSensorReadingStore` (WAL, `synchronous = FULL`: every commit is on disk), in batches of 500, the
    /// most one PUBLISH body may carry (`SensorReadingBody.maxBatchCount`), one transaction each.
    /// `store.readings_per_s.sqlite3_shell`: the sqlite3 shell inserting the same number of rows into the same
    /// table of a fresh database file, 500 single-row INSERTs per transaction, with the same pragmas: what the
    /// disk and SQLite allow without smf.
    static let store = Benchmark(
        figures: [
            Figure(name: "store.readings_per_s", unit: "readings/s"),
            Figure(name: "store.readings_per_s.sqlite3_shell", unit: "readings/s"),
        ]
    ) { duration in
        var logger = Logger(label: "smf-bench")
        logger.logLevel = .critical
        let batch = SensorReadingBody.maxBatchCount
        let directory = NSTemporaryDirectory() + "smf-bench-store-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: directory) }

        let (batches, swiftRate) = try measureReadingStore(directory: directory + "/smf", batch: batch, duration: duration, logger: logger)
        let shellRate = try measureSQLiteShell(directory: directory + "/shell", rows: batches * batch, batch: batch, logger: logger)
        printError(
            String(
                format: "smf-bench:   %d batches of %d readings; smf store %.0f readings/s, sqlite3 shell %.0f readings/s (%.0f %%)",
                batches, batch, swiftRate, shellRate, 100 * swiftRate / shellRate))
        return ["store.readings_per_s": swiftRate, "store.readings_per_s.sqlite3_shell": shellRate]
    }
}

private func reading(_ index: Int, at now: Duration) -> StoredReading {
    StoredReading(
        id: "gw/s\(index % 64)@\(index)",
        body: SensorReadingBody(
            sensorID: "s\(index % 64)", building: "house-\(index % 16)", kind: index % 2 == 0 ? "smoke" : "temperature",
            value: Double(index % 100) / 100, time: now + .milliseconds(index), latitude: 52.52, longitude: 13.405),
        receivedAt: now + .milliseconds(index), reported: true)
}

/// Stores batches for `duration` (after two untimed ones) and returns how many were timed and the rate.
private func measureReadingStore(directory: String, batch: Int, duration: Duration, logger: Logger) throws -> (Int, Double) {
    let store = SQLiteSensorReadingStore(database: try SMFDatabase(directory: directory, logger: logger))
    let origin = Duration.seconds(1_795_420_800)
    var next = 0
    func storeBatch() throws {
        let readings = (next..<next + batch).map { reading($0, at: origin) }
        next += batch
        let outcomes = try store.store(readings, recorder: "bench/recorder")
        guard outcomes.allSatisfy({ $0 == nil }) else { throw BenchmarkCheckFailed(description: "a fresh reading was taken for a duplicate") }
    }
    try storeBatch()
    try storeBatch()
    let clock = ContinuousClock()
    let start = clock.now
    var batches = 0
    while clock.now - start < duration || batches < 4 {
        try storeBatch()
        batches += 1
    }
    let elapsed = clock.now - start
    let stored = try store.count(recorder: "bench/recorder")
    guard stored == next else { throw BenchmarkCheckFailed(description: "\(stored) readings stored, \(next) sent") }
    return (batches, Double(batches * batch) / seconds(elapsed))
}

/// Runs the sqlite3 shell on a fresh smf database (same schema) with `rows` INSERTs, `batch` per transaction.
private func measureSQLiteShell(directory: String, rows: Int, batch: Int, logger: Logger) throws -> Double {
    do {
        _ = try SMFDatabase(directory: directory, logger: logger)  // the schema; closed at the end of the scope
    }
    let databasePath = directory + "/" + SMFDatabase.fileName
    var script = "PRAGMA journal_mode = WAL;\nPRAGMA synchronous = FULL;\n"
    script.reserveCapacity(rows * 200)
    for first in stride(from: 0, to: rows, by: batch) {
        script += "BEGIN;\n"
        for index in first..<min(first + batch, rows) {
            let reading = reading(index, at: .seconds(1_795_420_800))
            let at = reading.time.wholeNanoseconds
            script += "INSERT INTO sensor_readings (recorder, id, building, sensor, kind, value, at, received_at, latitude, longitude, reported) "
                + "VALUES ('shell/recorder', '\(reading.id)', '\(reading.body.building)', '\(reading.body.sensorID)', '\(reading.body.kind)', "
                + "\(reading.body.value), \(at), \(at), 52.52, 13.405, 1);\n"
        }
        script += "COMMIT;\n"
    }
    let scriptPath = directory + "/insert.sql"
    try script.write(toFile: scriptPath, atomically: true, encoding: .utf8)
    guard let input = FileHandle(forReadingAtPath: scriptPath) else {
        throw BenchmarkCheckFailed(description: "cannot read \(scriptPath)")
    }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["sqlite3", "-bail", databasePath]
    process.standardInput = input
    process.standardOutput = FileHandle.nullDevice
    let clock = ContinuousClock()
    let start = clock.now
    try process.run()
    process.waitUntilExit()
    let elapsed = clock.now - start
    guard process.terminationStatus == 0 else {
        throw BenchmarkCheckFailed(description: "sqlite3 exited with status \(process.terminationStatus) (is the sqlite3 package installed?)")
    }
    let count = try SQLiteSensorReadingStore(database: try SMFDatabase(directory: directory, logger: logger)).count(recorder: "shell/recorder")
    guard count == rows else { throw BenchmarkCheckFailed(description: "the sqlite3 shell stored \(count) rows of \(rows)") }
    return Double(rows) / seconds(elapsed)
}

private func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) * 1e-18
}
