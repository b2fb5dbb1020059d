/// The caller's handle for a request (put, get, lookup), echoed in its ``OverlayCompletion``.
public typealias OverlayRequestID = UInt64

/// Timers a ``ChordNode`` asks its driver to run.
public enum OverlayTimer: Hashable, Sendable {
    /// Chord `stabilize` (periodic).
    case stabilize
    /// Chord `fix_fingers` (periodic).
    case fixFingers
    /// Chord `check_predecessor` (periodic).
    case checkPredecessor
    /// No answer to the message with this id in time.
    case requestTimeout(UInt64)
    /// Try a waiting request again.
    case retry(UInt64)
}

/// What a ``ChordNode`` is told.
public enum OverlayEvent: Sendable {
    /// Start a new ring with this node alone.
    case createRingRequested
    /// Join an existing ring through a bootstrap peer.
    case joinRequested(bootstrap: OverlayAddress)
    /// A message arrived.
    case messageReceived(OverlayEnvelope)
    /// A timer scheduled by ``OverlayAction/scheduleTimer(_:after:)`` fired.
    case timerFired(OverlayTimer)
    /// The transport knows this address is unreachable (e.g. a connection was refused).
    case peerUnreachable(OverlayAddress)
    /// Leave the ring gracefully, handing records over.
    case leaveRequested
    /// Store a signed record (a removal is a tombstone record).
    case putRequested(ResourceRecord, requestID: OverlayRequestID)
    /// Fetch the live records of a resource.
    case getRequested(ResourceID, kind: ResourceRecord.Kind?, requestID: OverlayRequestID)
    /// Find the owner of a key.
    case lookupRequested(NodeID, requestID: OverlayRequestID)
    /// A peer made itself known outside the ring's own messages (local discovery, docs/overlay.md): when it is
    /// not already a neighbour or finger, the node looks up its own successor through it, so a ring that formed
    /// apart (a node alone, or a smaller ring) merges with the peer's.
    case peerDiscovered(OverlayPeer)
}

/// A successful answer to a request.
public enum OverlayResponse: Hashable, Sendable {
    /// The owner of the key looked up.
    case owner(OverlayPeer)
    /// The record was stored by its owner.
    case stored
    /// The live records found (empty when the owner holds none).
    case records([ResourceRecord])
}

/// The end of a request.
public struct OverlayCompletion: Hashable, Sendable {
    /// The caller's request id.
    public var requestID: OverlayRequestID
    /// The answer or the reason there is none.
    public var result: Result<OverlayResponse, OverlayError>
    /// The peers asked on the way, the one that answered included (0 when answered locally).
    public var hops: Int
}

/// What a ``ChordNode`` asks its driver to do.
public enum OverlayAction: Sendable {
    /// Send a message.
    case send(to: OverlayAddress, OverlayEnvelope)
    /// Fire ``OverlayEvent/timerFired(_:)`` after a delay.
    case scheduleTimer(OverlayTimer, after: Duration)
    /// A request finished.
    case complete(OverlayCompletion)
    /// The stored records changed (a driver may persist them).
    case storeChanged
    /// The node's phase changed.
    case phaseChanged(ChordNode.Phase)
}

/// SplitMix64: a small, fast, seedable generator, so simulations replay exactly.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64

    /// Creates a generator from a seed.
    public init(seed: UInt64) {
        state = seed
    }

    public mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }

    /// A uniform double in [0, 1).
    public mutating func nextUnit() -> Double {
        Double(next() >> 11) * (1.0 / 9_007_199_254_740_992.0)
    }
}
