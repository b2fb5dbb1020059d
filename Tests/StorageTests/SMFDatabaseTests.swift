import Dispatch
import Foundation
import GRDB
import Logging
import Testing

@testable import Storage

/// A fresh temporary data directory, removed when the test ends.
private struct TemporaryDirectory: ~Copyable {
    let path: String

    init() throws {
        path = NSTemporaryDirectory() + "smf-storage-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}

private let logger = Logger(label: "smf.storage.test")

@Test func appliesMigrationsToANewFileDatabase() async throws {
    let directory = try TemporaryDirectory()
    let database = try SMFDatabase(directory: directory.path + "/nested/data", logger: logger)
    #expect(try await database.appliedMigrations() == ["v1-node", "v2-sip-endpoint", "v3-messages", "v4-overlay", "v5-community", "v7-alarms", "v8-community-contacts", "v9-readings", "v10-surveillance-state", "v11-sdp", "v12-alarm-trace", "v13-supporter-inbox"])
    #expect(database.path == directory.path + "/nested/data/smf.sqlite")
    #expect(FileManager.default.fileExists(atPath: directory.path + "/nested/data/smf.sqlite"))
    let columns = try await database.writer.read { db in try db.columns(in: "node_settings").map(\.name) }
    #expect(columns == ["key", "value"])
}

@Test func fileDatabaseUsesWALAndFullSynchronous() async throws {
    let directory = try TemporaryDirectory()
    let database = try SMFDatabase(directory: directory.path, logger: logger)
    let (journal, synchronous, foreignKeys) = try await database.writer.read { db in
        (
            try String.fetchOne(db, sql: "PRAGMA journal_mode"),
            try Int.fetchOne(db, sql: "PRAGMA synchronous"),
            try Bool.fetchOne(db, sql: "PRAGMA foreign_keys")
        )
    }
    #expect(journal == "wal")
    #expect(synchronous == 2, "2 is FULL")
    #expect(foreignKeys == true)
    let writerSynchronous = try await database.writer.write { db in try Int.fetchOne(db, sql: "PRAGMA synchronous") }
    #expect(writerSynchronous == 2)
}

@Test func settingsSurviveCloseAndReopen() async throws {
    let directory = try TemporaryDirectory()
    do {
        let database = try SMFDatabase(directory: directory.path, logger: logger)
        try await database.setSetting("node.id", to: "a1b2")
        try await database.setSetting("node.name", to: "gateway-1")
        try await database.setSetting("node.name", to: "gateway-2")
        #expect(try await database.removeSetting("missing") == false)
    }
    let reopened = try SMFDatabase(directory: directory.path, logger: logger)
    #expect(try await reopened.setting("node.id") == "a1b2")
    #expect(try await reopened.setting("node.name") == "gateway-2")
    #expect(try await reopened.setting("absent") == nil)
    #expect(try await reopened.allSettings() == ["node.id": "a1b2", "node.name": "gateway-2"])
    #expect(try await reopened.removeSetting("node.id") == true)
    #expect(try await reopened.setting("node.id") == nil)
    #expect(try await reopened.appliedMigrations() == ["v1-node", "v2-sip-endpoint", "v3-messages", "v4-overlay", "v5-community", "v7-alarms", "v8-community-contacts", "v9-readings", "v10-surveillance-state", "v11-sdp", "v12-alarm-trace", "v13-supporter-inbox"], "migrations are not applied twice")
}

@Test func corruptFileGivesNotADatabaseError() throws {
    let directory = try TemporaryDirectory()
    let garbage = Data((0..<8192).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) })
    try garbage.write(to: URL(fileURLWithPath: directory.path + "/smf.sqlite"))
    #expect {
        try SMFDatabase(directory: directory.path, logger: logger)
    } throws: { error in
        guard let error = error as? StorageError else { return false }
        return error.code == .notADatabase && error.sqliteCode == "SQLITE_NOTADB"
            && error.description == "smf.sqlite in \(directory.path) is not a SQLite database (SQLITE_NOTADB)"
    }
}

@Test func databaseFromANewerVersionIsRefused() throws {
    let directory = try TemporaryDirectory()
    do {
        let queue = try DatabaseQueue(path: directory.path + "/smf.sqlite")
        try queue.write { db in
            try db.execute(sql: "CREATE TABLE grdb_migrations (identifier TEXT NOT NULL PRIMARY KEY)")
            try db.execute(sql: "INSERT INTO grdb_migrations VALUES ('v1-node'), ('v9-future')")
        }
    }
    #expect {
        try SMFDatabase(directory: directory.path, logger: logger)
    } throws: { error in
        guard let error = error as? StorageError else { return false }
        return error.code == .newerSchema && error.description.contains("v9-future")
    }
}

@Test func schemaRejectsEmptyKeys() async throws {
    let database = try SMFDatabase.inMemory(logger: logger)
    await #expect {
        try await database.setSetting("", to: "x")
    } throws: { error in
        guard let error = error as? StorageError else { return false }
        return error.code == .constraintViolation && error.database == "the in-memory database"
    }
    await #expect(throws: StorageError.self) {
        try await database.setSetting(String(repeating: "k", count: 256), to: "x")
    }
    try await database.setSetting(String(repeating: "k", count: 255), to: "x")
    #expect(try await database.allSettings().count == 1)
}

@Test func directoryThatCannotBeCreatedGivesTypedError() throws {
    let directory = try TemporaryDirectory()
    let blocker = directory.path + "/file"
    try Data("x".utf8).write(to: URL(fileURLWithPath: blocker))
    #expect {
        try SMFDatabase(directory: blocker + "/sub", logger: logger)
    } throws: { error in
        (error as? StorageError)?.code == .cannotCreateDirectory
    }
}

@Test(.timeLimit(.minutes(1)))
func readersSeeTheLastCommitWhileAWriteIsInProgress() async throws {
    let directory = try TemporaryDirectory()
    let database = try SMFDatabase(directory: directory.path, logger: logger)
    try await database.setSetting("reading", to: "old")

    let (inTransaction, signalInTransaction) = AsyncStream<Void>.makeStream()
    let release = DispatchSemaphore(value: 0)
    async let write: Void = database.writer.write { db in
        try db.execute(sql: "UPDATE node_settings SET value = 'new' WHERE key = 'reading'")
        signalInTransaction.yield()
        release.wait()  // hold the write transaction open (on GRDB's writer queue, not a Swift task)
    }
    for await _ in inTransaction { break }

    // With WAL, these reads run while the writer holds its transaction, and see the last commit.
    let concurrentReads = try await withThrowingTaskGroup(of: String?.self) { group in
        for _ in 0..<4 {
            group.addTask { try await database.setting("reading") }
        }
        return try await group.reduce(into: []) { $0.append($1) }
    }
    #expect(concurrentReads == ["old", "old", "old", "old"])

    release.signal()
    try await write
    #expect(try await database.setting("reading") == "new")
}
