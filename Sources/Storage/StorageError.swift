import GRDB

/// An error from ``SMFDatabase``: which database file, what went wrong, and the SQLite result code.
///
/// E.g. `smf.sqlite in /var/lib/smf is not a SQLite database (SQLITE_NOTADB)`.
public struct StorageError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What went wrong, in broad terms.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Base: Hashable {
            case notADatabase, corrupt, cannotOpen, readOnly, diskFull, constraintViolation, busy
            case newerSchema, cannotCreateDirectory, sqlite
        }

        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// The file exists but is not a SQLite database (`SQLITE_NOTADB`).
        public static let notADatabase = Code(.notADatabase)
        /// The database file is damaged (`SQLITE_CORRUPT`).
        public static let corrupt = Code(.corrupt)
        /// The file could not be opened (`SQLITE_CANTOPEN`: missing directory, permissions, …).
        public static let cannotOpen = Code(.cannotOpen)
        /// The database is read-only (`SQLITE_READONLY`).
        public static let readOnly = Code(.readOnly)
        /// The disk is full (`SQLITE_FULL`).
        public static let diskFull = Code(.diskFull)
        /// A schema constraint (NOT NULL, CHECK, UNIQUE, FOREIGN KEY) rejected the data (`SQLITE_CONSTRAINT`).
        public static let constraintViolation = Code(.constraintViolation)
        /// Another process held the database locked past the busy timeout (`SQLITE_BUSY`).
        public static let busy = Code(.busy)
        /// The database has migrations this version of smf does not know (written by a newer smf).
        public static let newerSchema = Code(.newerSchema)
        /// The data directory could not be created.
        public static let cannotCreateDirectory = Code(.cannotCreateDirectory)
        /// Any other SQLite error.
        public static let sqlite = Code(.sqlite)

        public var description: String {
            switch base {
            case .notADatabase: "is not a SQLite database"
            case .corrupt: "is corrupt"
            case .cannotOpen: "cannot be opened"
            case .readOnly: "is read-only"
            case .diskFull: "cannot grow: the disk is full"
            case .constraintViolation: "rejected the data (constraint violated)"
            case .busy: "is locked by another process"
            case .newerSchema: "was written by a newer version of smf"
            case .cannotCreateDirectory: "cannot be created: its directory cannot be created"
            case .sqlite: "failed"
            }
        }
    }

    /// What went wrong.
    public let code: Code
    /// Which database, e.g. `smf.sqlite in /var/lib/smf` or `the in-memory database`.
    public let database: String
    /// The SQLite result code name (e.g. `SQLITE_NOTADB`), when the error came from SQLite.
    public let sqliteCode: String?
    /// SQLite's (or our) message, without statement arguments.
    public let message: String?

    init(_ code: Code, database: String, sqliteCode: String? = nil, message: String? = nil) {
        self.code = code
        self.database = database
        self.sqliteCode = sqliteCode
        self.message = message
    }

    /// Maps any error thrown by GRDB to a ``StorageError`` for `database`.
    init(_ error: any Error, database: String) {
        if let error = error as? StorageError {
            self = error
            return
        }
        guard let error = error as? DatabaseError else {
            self.init(.sqlite, database: database, message: String(describing: error))
            return
        }
        let code: Code =
            switch error.resultCode {
            case .SQLITE_NOTADB: .notADatabase
            case .SQLITE_CORRUPT: .corrupt
            case .SQLITE_CANTOPEN: .cannotOpen
            case .SQLITE_READONLY: .readOnly
            case .SQLITE_FULL: .diskFull
            case .SQLITE_CONSTRAINT: .constraintViolation
            case .SQLITE_BUSY, .SQLITE_LOCKED: .busy
            default: .sqlite
            }
        self.init(code, database: database, sqliteCode: Self.name(of: error.resultCode), message: error.message)
    }

    private static func name(of code: ResultCode) -> String {
        switch code {
        case .SQLITE_NOTADB: "SQLITE_NOTADB"
        case .SQLITE_CORRUPT: "SQLITE_CORRUPT"
        case .SQLITE_CANTOPEN: "SQLITE_CANTOPEN"
        case .SQLITE_READONLY: "SQLITE_READONLY"
        case .SQLITE_FULL: "SQLITE_FULL"
        case .SQLITE_CONSTRAINT: "SQLITE_CONSTRAINT"
        case .SQLITE_BUSY: "SQLITE_BUSY"
        case .SQLITE_LOCKED: "SQLITE_LOCKED"
        case .SQLITE_IOERR: "SQLITE_IOERR"
        case .SQLITE_PERM: "SQLITE_PERM"
        case .SQLITE_NOMEM: "SQLITE_NOMEM"
        case .SQLITE_ERROR: "SQLITE_ERROR"
        default: "SQLite error \(code.rawValue)"
        }
    }

    /// E.g. `smf.sqlite in /var/lib/smf is not a SQLite database (SQLITE_NOTADB)`.
    public var description: String {
        var text = "\(database) \(code)"
        if let sqliteCode { text += " (\(sqliteCode))" }
        if let message, code == .sqlite || code == .constraintViolation || code == .newerSchema
            || code == .cannotCreateDirectory || code == .cannotOpen
        {
            text += ": \(message)"
        }
        return text
    }
}
