/// Where a peer can be reached (a SIP URI or host:port, opaque to the overlay).
public struct OverlayAddress: Hashable, Sendable, CustomStringConvertible, ExpressibleByStringLiteral {
    /// The address text.
    public var value: String

    /// Creates an address.
    public init(_ value: String) {
        self.value = value
    }

    public init(stringLiteral value: String) {
        self.value = value
    }

    public var description: String { value }
}

/// A peer of the overlay: its Node-ID and where to reach it.
public struct OverlayPeer: Hashable, Sendable, CustomStringConvertible {
    /// The peer's Node-ID.
    public var id: NodeID
    /// Where to send it messages.
    public var address: OverlayAddress

    /// Creates a peer.
    public init(id: NodeID, address: OverlayAddress) {
        self.id = id
        self.address = address
    }

    public var description: String { "\(id.shortDescription)@\(address)" }
}

/// One overlay message with its sender, as carried in a SIP request body later.
public struct OverlayEnvelope: Hashable, Sendable {
    /// The peer that sent the message.
    public var sender: OverlayPeer
    /// The message.
    public var message: OverlayMessage

    /// Creates an envelope.
    public init(sender: OverlayPeer, message: OverlayMessage) {
        self.sender = sender
        self.message = message
    }
}

/// The answer to an iterative find step (SOSIMPLE: a 200 naming the owner, or a 302 to closer peers).
public enum OverlayFindAnswer: Hashable, Sendable {
    /// The owner of the key, followed by its successors (where replicas live).
    case owner([OverlayPeer])
    /// Peers closer to the key than the one asked, best first.
    case closer([OverlayPeer])
}

/// The outcome of a store request at the owner.
public enum OverlayStoreStatus: Hashable, Sendable {
    /// The record was stored (or an identical copy was already held).
    case stored
    /// The record was refused, with the reason.
    case refused(OverlayError.Code)
    /// The peer does not own the key.
    case notResponsible
}

/// The messages of the overlay protocol (see docs/overlay.md for the exchanges).
///
/// Requests carry an id the response echoes; the sender is in the ``OverlayEnvelope``.
public enum OverlayMessage: Hashable, Sendable {
    /// Iterative routing step: who owns `key`, or who is closer? `maintenance` marks
    /// finger-table and join lookups so traffic can be accounted.
    case findRequest(id: UInt64, key: NodeID, maintenance: Bool)
    /// The answer to ``findRequest(id:key:maintenance:)``.
    case findResponse(id: UInt64, answer: OverlayFindAnswer, maintenance: Bool)
    /// Chord stabilisation: what are your predecessor and successors?
    case stabilizeRequest(id: UInt64)
    /// The answer to ``stabilizeRequest(id:)``.
    case stabilizeResponse(id: UInt64, predecessor: OverlayPeer?, successors: [OverlayPeer])
    /// Chord notify: the sender believes it is the receiver's predecessor.
    case notify
    /// Liveness probe (predecessor check).
    case ping(id: UInt64)
    /// The answer to ``ping(id:)``.
    case pong(id: UInt64)
    /// The sender asks the receiver (its future successor, the admitting peer) to let it join.
    case joinRequest(id: UInt64)
    /// The admitting peer hands over neighbours, fingers and the records the joiner now owns.
    case joinResponse(id: UInt64, predecessor: OverlayPeer?, successors: [OverlayPeer], fingers: [OverlayPeer], records: [ResourceRecord])
    /// Stores records; `isReplica` pushes from an owner to its successors are not answered.
    case store(id: UInt64, records: [ResourceRecord], isReplica: Bool)
    /// The answer to a non-replica ``store(id:records:isReplica:)``.
    case storeResponse(id: UInt64, status: OverlayStoreStatus)
    /// Fetches the live records of a resource.
    case fetch(id: UInt64, resource: ResourceID, kind: ResourceRecord.Kind?)
    /// The answer to ``fetch(id:resource:kind:)``: whether the peer owns the key, and what it holds.
    case fetchResponse(id: UInt64, responsible: Bool, records: [ResourceRecord])
    /// Graceful leave: the sender departs, handing over its neighbours and (to its successor) its records.
    case leaving(predecessor: OverlayPeer?, successors: [OverlayPeer], records: [ResourceRecord])

    /// Whether the message belongs to ring upkeep rather than to a user's request.
    public var isMaintenance: Bool {
        switch self {
        case .findRequest(_, _, let maintenance), .findResponse(_, _, let maintenance): return maintenance
        case .fetch, .fetchResponse, .storeResponse: return false
        case .store(_, _, let isReplica): return isReplica
        case .stabilizeRequest, .stabilizeResponse, .notify, .ping, .pong, .joinRequest, .joinResponse, .leaving: return true
        }
    }
}
