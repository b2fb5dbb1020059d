import Foundation
import GRDB

/// A MESSAGE the node received, as `sip_messages` keeps it (RFC 3428 §7).
public struct StoredMessage: Hashable, Sendable, Codable {
    /// Increasing row id; `smf messages --follow` continues after the last one it saw.
    public var id: Int64
    /// When it arrived, in seconds since 1970.
    public var receivedAt: Double
    /// The sender's From URI (empty when it had none that parsed).
    public var from: String
    /// The To URI.
    public var to: String
    /// The Content-Type value.
    public var contentType: String
    /// The body as received.
    public var body: [UInt8]

    public init(id: Int64, receivedAt: Double, from: String, to: String, contentType: String, body: [UInt8]) {
        self.id = id
        self.receivedAt = receivedAt
        self.from = from
        self.to = to
        self.contentType = contentType
        self.body = body
    }

    /// The body decoded as UTF-8 (invalid sequences replaced).
    public var text: String { String(decoding: body, as: UTF8.self) }
}

extension SMFDatabase {
    /// Saves a received MESSAGE durably and returns it with its id.
    ///
    /// - Throws: ``StorageError`` (e.g. ``StorageError/Code/constraintViolation`` for an empty content type).
    public func saveMessage(
        receivedAt: Double, from: String, to: String, contentType: String, body: [UInt8]
    ) async throws(StorageError) -> StoredMessage {
        try await run {
            try $0.write { db in
                try db.execute(
                    sql: "INSERT INTO sip_messages (received_at, from_uri, to_uri, content_type, body) VALUES (?, ?, ?, ?, ?)",
                    arguments: [receivedAt, from, to, contentType, Data(body)])
                return StoredMessage(
                    id: db.lastInsertedRowID, receivedAt: receivedAt, from: from, to: to, contentType: contentType, body: body)
            }
        }
    }

    /// Received messages with an id above `afterID`, oldest first, at most `limit` of them (the newest `limit`
    /// when there are more).
    public func messages(afterID: Int64 = 0, limit: Int = 1000) async throws(StorageError) -> [StoredMessage] {
        try await run {
            try $0.read { db in
                let rows = try Row.fetchAll(
                    db,
                    sql: """
                        SELECT * FROM (
                            SELECT * FROM sip_messages WHERE id > ? ORDER BY id DESC LIMIT ?
                        ) ORDER BY id
                        """,
                    arguments: [afterID, max(0, limit)])
                return rows.map { row in
                    StoredMessage(
                        id: row["id"], receivedAt: row["received_at"], from: row["from_uri"], to: row["to_uri"],
                        contentType: row["content_type"], body: [UInt8](row["body"] as Data))
                }
            }
        }
    }
}
