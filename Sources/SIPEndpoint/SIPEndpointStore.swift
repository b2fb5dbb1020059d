import Foundation

/// What kind of endpoint state a ``SIPEndpointStoreRecord`` holds.
public enum SIPEndpointRecordKind: String, Hashable, Sendable, CaseIterable {
    /// A subscription we notify, with its dialog and NOTIFY CSeq (RFC 6665 §4.2).
    case notifierSubscription
    /// A publication the event state compositor holds under an entity tag (RFC 3903 §6).
    case publication
    /// The latest state of a resource, sent in the first NOTIFY of new subscriptions.
    case resourceState
}

/// One durable piece of endpoint state, as the store sees it: a few columns to query by and the
/// machine state as an opaque encoded value.
///
/// The store never interprets ``data``; ``SIPEndpoint`` writes and reads it.
public struct SIPEndpointStoreRecord: Hashable, Sendable {
    /// Identifies a record within its kind.
    public struct Key: Hashable, Sendable, CustomStringConvertible {
        public var kind: SIPEndpointRecordKind
        /// The subscription key, the entity tag, or `package resource`.
        public var id: String

        public init(kind: SIPEndpointRecordKind, id: String) {
            self.kind = kind
            self.id = id
        }

        public var description: String { "\(kind.rawValue) \(id)" }
    }

    public var key: Key
    /// The event package name.
    public var package: String
    /// The resource key (`sip:user@host`).
    public var resource: String
    /// The remote party: the subscriber's URI for subscriptions, empty otherwise.
    public var peer: String
    /// When the record runs out, in seconds on the endpoint's timeline (see
    /// ``SIPEndpointClock/now``); `nil` for records that do not expire.
    public var expiresAt: Double?
    /// The last NOTIFY CSeq of a subscription's dialog (RFC 3261 §12.2.1.1).
    public var notifyCSeq: UInt32?
    /// The encoded machine state (JSON).
    public var data: [UInt8]

    public init(
        key: Key, package: String, resource: String, peer: String = "", expiresAt: Double?, notifyCSeq: UInt32? = nil, data: [UInt8]
    ) {
        self.key = key
        self.package = package
        self.resource = resource
        self.peer = peer
        self.expiresAt = expiresAt
        self.notifyCSeq = notifyCSeq
        self.data = data
    }
}

/// Everything one endpoint event changed, to be written in one transaction.
public struct SIPEndpointStoreChanges: Hashable, Sendable {
    /// Records to insert or replace.
    public var saved: [SIPEndpointStoreRecord]
    /// Records to delete (missing ones are ignored).
    public var deleted: [SIPEndpointStoreRecord.Key]

    public init(saved: [SIPEndpointStoreRecord] = [], deleted: [SIPEndpointStoreRecord.Key] = []) {
        self.saved = saved
        self.deleted = deleted
    }

    public var isEmpty: Bool { saved.isEmpty && deleted.isEmpty }
}

/// Where an endpoint keeps the state it must not lose: the subscriptions it notifies, the
/// publications it holds and the resource states ("nothing is acknowledged before it is committed").
///
/// The endpoint calls ``apply(_:)`` before it answers the SUBSCRIBE or PUBLISH (or sends the
/// NOTIFY) a change belongs to. The calls are synchronous on purpose: an endpoint event and its
/// write form one step that no other event can interleave with, so a failed write can be undone
/// by putting the machines back. Implementations make each ``apply(_:)`` atomic and durable
/// before returning.
public protocol SIPEndpointStore: Sendable {
    /// Every stored record.
    func loadRecords() throws -> [SIPEndpointStoreRecord]
    /// Saves and deletes records in one transaction (deletions first).
    func apply(_ changes: SIPEndpointStoreChanges) throws
}

/// A store in memory, for tests and for nodes that need no persistence. Handing one instance to
/// a second endpoint simulates a restart that kept its database.
public final class SIPInMemoryEndpointStore: SIPEndpointStore, @unchecked Sendable {
    // Guarded by `lock`; that is what makes the class Sendable.
    private var records: [SIPEndpointStoreRecord.Key: SIPEndpointStoreRecord] = [:]
    private let lock = NSLock()

    public init() {}

    public func loadRecords() throws -> [SIPEndpointStoreRecord] {
        lock.withLock { records.values.sorted { $0.key.description < $1.key.description } }
    }

    public func apply(_ changes: SIPEndpointStoreChanges) throws {
        lock.withLock {
            for key in changes.deleted { records[key] = nil }
            for record in changes.saved { records[record.key] = record }
        }
    }

    /// How many records of `kind` are stored.
    public func count(of kind: SIPEndpointRecordKind) -> Int {
        lock.withLock { records.keys.filter { $0.kind == kind }.count }
    }
}
