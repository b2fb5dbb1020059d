import Foundation
import GRDB
public import Logging

/// The node's SQLite database: `<dataDir>/smf.sqlite`, opened in WAL mode, migrated on open.
///
/// Production opens a GRDB `DatabasePool` (WAL: readers never block the writer nor each other); tests use
/// an in-memory `DatabaseQueue`. Both are used through `DatabaseWriter`.
///
/// Durability: `PRAGMA synchronous = FULL`. In WAL mode `NORMAL` only syncs at checkpoints, so a power loss
/// can drop transactions that were already committed, and therefore possibly acknowledged to a peer (a
/// registration, a reading); `FULL` syncs the WAL on every commit, so anything acknowledged survives. The
/// cost is one fsync per write transaction; callers with many small writes should batch them.
public struct SMFDatabase: Sendable {
    /// The database file name inside the data directory.
    public static let fileName = "smf.sqlite"

    let writer: any DatabaseWriter
    /// Which database this is, for messages: `smf.sqlite in DIR` or `the in-memory database`.
    public let name: String
    /// The path of the database file, or nil for an in-memory database.
    public let path: String?

    /// Opens (creating if needed) `<directory>/smf.sqlite` and applies pending migrations.
    ///
    /// - Parameters:
    ///   - directory: The node's data directory; created (with intermediate directories) if missing.
    ///   - logger: Where to log the opening (at `info`) and migrations.
    /// - Throws: ``StorageError``, e.g. ``StorageError/Code/notADatabase`` when the file is not SQLite.
    public init(directory: String, logger: Logger) throws(StorageError) {
        let name = "\(Self.fileName) in \(directory)"
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw StorageError(
                .cannotCreateDirectory, database: name, message: "\(directory): \(error.localizedDescription)")
        }
        let path = (directory as NSString).appendingPathComponent(Self.fileName)
        let writer: DatabasePool
        do {
            writer = try DatabasePool(path: path, configuration: Self.configuration(label: "smf.storage"))
            // GRDB sets `synchronous = NORMAL` on the pool's writer after `prepareDatabase`, when it
            // switches to WAL; put FULL back on the one connection that writes (see the type's notes).
            try writer.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA synchronous = FULL") }
        } catch {
            throw StorageError(error, database: name)
        }
        try self.init(writer: writer, name: name, path: path, logger: logger)
    }

    /// Opens a fresh in-memory database with all migrations applied (for tests).
    public static func inMemory(logger: Logger) throws(StorageError) -> SMFDatabase {
        let name = "the in-memory database"
        let writer: DatabaseQueue
        do {
            writer = try DatabaseQueue(configuration: configuration(label: "smf.storage.memory"))
        } catch {
            throw StorageError(error, database: name)
        }
        return try SMFDatabase(writer: writer, name: name, path: nil, logger: logger)
    }

    private init(writer: any DatabaseWriter, name: String, path: String?, logger: Logger) throws(StorageError) {
        self.writer = writer
        self.name = name
        self.path = path
        let migrator = Migrations.migrator
        let applied: [String]
        do {
            let known = Set(migrator.migrations)
            let unknown = try writer.read { db in
                try migrator.appliedIdentifiers(db).subtracting(known)
            }
            if let newest = unknown.sorted().last {
                throw StorageError(
                    .newerSchema, database: name, message: "unknown migration \"\(newest)\"")
            }
            try migrator.migrate(writer)
            applied = try writer.read { db in try migrator.appliedMigrations(db) }
        } catch {
            throw StorageError(error, database: name)
        }
        logger.info(
            "Opened the node database",
            metadata: [
                "smf.storage.path": "\(path ?? ":memory:")",
                "smf.storage.migrations": "\(applied.joined(separator: ","))",
            ])
    }

    /// The GRDB configuration shared by every connection.
    static func configuration(label: String) -> Configuration {
        var configuration = Configuration()
        configuration.label = label
        // Another process (an operator's sqlite3 shell, a backup) may hold a lock briefly.
        configuration.busyMode = .timeout(5)
        configuration.foreignKeysEnabled = true
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = FULL")
        }
        return configuration
    }

    // MARK: - Node settings

    /// The value of the node setting `key`, or nil when unset.
    public func setting(_ key: String) async throws(StorageError) -> String? {
        try await run { try $0.read { db in try String.fetchOne(db, sql: "SELECT value FROM node_settings WHERE key = ?", arguments: [key]) } }
    }

    /// Sets the node setting `key` to `value` (replacing any previous value), durably.
    ///
    /// - Throws: ``StorageError/Code/constraintViolation`` for an empty key or one over 255 bytes.
    public func setSetting(_ key: String, to value: String) async throws(StorageError) {
        try await run {
            try $0.write { db in
                try db.execute(
                    sql: """
                        INSERT INTO node_settings (key, value) VALUES (?, ?)
                        ON CONFLICT (key) DO UPDATE SET value = excluded.value
                        """,
                    arguments: [key, value])
            }
        }
    }

    /// Removes the node setting `key`; returns whether it existed.
    @discardableResult
    public func removeSetting(_ key: String) async throws(StorageError) -> Bool {
        try await run {
            try $0.write { db in
                try db.execute(sql: "DELETE FROM node_settings WHERE key = ?", arguments: [key])
                return db.changesCount > 0
            }
        }
    }

    /// All node settings.
    public func allSettings() async throws(StorageError) -> [String: String] {
        try await run {
            try $0.read { db in
                let rows = try Row.fetchAll(db, sql: "SELECT key, value FROM node_settings")
                return Dictionary(rows.map { ($0["key"] as String, $0["value"] as String) }, uniquingKeysWith: { $1 })
            }
        }
    }

    /// The identifiers of the applied migrations, in order.
    public func appliedMigrations() async throws(StorageError) -> [String] {
        try await run { try $0.read { db in try Migrations.migrator.appliedMigrations(db) } }
    }

    /// Runs `body` in one write transaction on the calling thread (for the synchronous stores, which are
    /// durable on return), mapping every error to a ``StorageError`` naming this database.
    func writeNow<T>(_ body: (Database) throws -> T) throws(StorageError) -> T {
        do {
            return try writer.write(body)
        } catch {
            throw StorageError(error, database: name)
        }
    }

    /// Runs `body` in a read transaction on the calling thread, mapping every error to a ``StorageError``.
    func readNow<T>(_ body: (Database) throws -> T) throws(StorageError) -> T {
        do {
            return try writer.read(body)
        } catch {
            throw StorageError(error, database: name)
        }
    }

    /// Runs `body` against the writer, mapping every error to a ``StorageError`` naming this database.
    func run<T: Sendable>(_ body: (any DatabaseWriter) async throws -> T) async throws(StorageError) -> T {
        do {
            return try await body(writer)
        } catch {
            throw StorageError(error, database: name)
        }
    }
}
