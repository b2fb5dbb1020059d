import Foundation

/// One node of the Chord ring as a pure state machine: events in, actions out, clock passed in.
///
/// Routing is iterative (SOSIMPLE, seed 001 §5): the node that starts a request asks peers in
/// turn; each answers with the owner of the key or redirects to closer peers, like a SIP 302
/// carrying several contacts. The originator keeps every candidate it has learned, so a hop that
/// times out or answers without making progress is simply skipped ("routed around"). The node
/// then talks to the owner directly (store, fetch), falling back to the owner's successors,
/// which hold the replicas. Maintenance follows Chord (Stoica et al., §4–5): `stabilize`,
/// `notify`, `fix_fingers`, `check_predecessor`, with a successor list for failures.
public struct ChordNode: Sendable {
    /// Where the node is in its life.
    public enum Phase: Hashable, Sendable {
        /// Not part of a ring.
        case idle
        /// Looking for its admitting peer.
        case joining
        /// Part of the ring.
        case joined
        /// Left gracefully.
        case left
    }

    /// This node.
    public let me: OverlayPeer
    /// The tunables.
    public let configuration: OverlayConfiguration
    /// The current phase.
    public internal(set) var phase: Phase = .idle
    /// The predecessor, when known and believed alive.
    public internal(set) var predecessor: OverlayPeer?
    /// The last predecessor known alive: bounds the keys this node owns while the predecessor is unknown.
    var lastKnownPredecessor: OverlayPeer?
    /// The successor list, nearest first.
    public internal(set) var successors: [OverlayPeer] = []
    /// The finger table; entry i points at the owner of ``fingerStart(_:)``.
    public internal(set) var fingers: [OverlayPeer?]
    /// The records held, as owner or replica.
    public internal(set) var store = RecordStore()

    var nextFinger = 0
    var refreshTicks = 0
    var nextMessageID: UInt64 = 1
    var pending: [UInt64: Pending] = [:]
    var waiting: [UInt64: Lookup] = [:]
    var replicatedTo: [NodeID] = []
    /// Peers dropped as unresponsive, oldest first, with when; self-lookups probe them (see
    /// ``OverlayConfiguration/selfCheckTicks``).
    var suspects: [(peer: OverlayPeer, since: OverlayInstant)] = []
    var selfCheckTicks = 0
    var bootstrap: OverlayAddress?
    var random: SplitMix64

    /// Creates an idle node.
    /// - Parameters:
    ///   - me: this node's Node-ID and address.
    ///   - configuration: the tunables.
    ///   - seed: seeds the jitter, so runs replay exactly.
    public init(me: OverlayPeer, configuration: OverlayConfiguration = OverlayConfiguration(), seed: UInt64 = 0) {
        self.me = me
        self.configuration = configuration
        fingers = Array(repeating: nil, count: configuration.fingerCount)
        random = SplitMix64(seed: seed ^ me.id.low ^ me.id.middle)
    }

    /// Handles one event, appending the resulting actions to `actions`.
    public mutating func handle(_ event: OverlayEvent, now: OverlayInstant, into actions: inout [OverlayAction]) {
        switch event {
        case .createRingRequested:
            guard phase == .idle || phase == .left else { return }
            phase = .joined
            startTimers(&actions)
            actions.append(.phaseChanged(.joined))
        case .joinRequested(let address):
            guard phase == .idle || phase == .left else { return }
            phase = .joining
            bootstrap = address
            actions.append(.phaseChanged(.joining))
            startLookup(Lookup(key: me.id, purpose: .join), now: now, &actions)
        case .messageReceived(let envelope):
            receive(envelope, now: now, &actions)
        case .timerFired(let timer):
            timerFired(timer, now: now, &actions)
        case .peerUnreachable(let address):
            peerUnreachable(address, now: now, &actions)
        case .leaveRequested:
            leave(&actions)
        case .putRequested(let record, let requestID):
            startRequest(requestID, key: record.resourceID.id, operation: .put(record), now: now, &actions)
        case .getRequested(let resource, let kind, let requestID):
            startRequest(requestID, key: resource.id, operation: .get(resource, kind), now: now, &actions)
        case .lookupRequested(let key, let requestID):
            startRequest(requestID, key: key, operation: .lookup, now: now, &actions)
        case .peerDiscovered(let peer):
            discovered(peer, now: now, &actions)
        }
    }

    /// Handles one event and returns the actions (convenient in tests and drivers).
    public mutating func handle(_ event: OverlayEvent, now: OverlayInstant) -> [OverlayAction] {
        var actions: [OverlayAction] = []
        handle(event, now: now, into: &actions)
        return actions
    }

    // MARK: - Ownership and routing knowledge

    /// The lower (exclusive) bound of the keys this node owns: the predecessor, or the last one known.
    var ownershipLowerBound: NodeID? { (predecessor ?? lastKnownPredecessor)?.id }

    /// Whether this node owns `key`: key ∈ (predecessor, me] (Chord's successor rule).
    public func owns(_ key: NodeID) -> Bool {
        guard let lower = ownershipLowerBound else { return true }
        return key.isBetween(lower, upperInclusive: me.id)
    }

    /// The owner of `key` and its successors, when this node's own neighbours already tell.
    func knownOwner(of key: NodeID) -> [OverlayPeer]? {
        if owns(key) { return [me] + successors.prefix(configuration.replicaCount - 1) }
        var previous = me.id
        for (index, successor) in successors.enumerated() {
            if key.isBetween(previous, upperInclusive: successor.id) {
                return Array(successors[index...].prefix(configuration.replicaCount))
            }
            previous = successor.id
        }
        return nil
    }

    /// Known peers in (me, key), closest to the key first (Chord `closest_preceding_node`).
    func closestPreceding(_ key: NodeID, limit: Int, excluding excluded: [NodeID] = []) -> [OverlayPeer] {
        var best: [(distance: NodeID, peer: OverlayPeer)] = []
        func consider(_ peer: OverlayPeer) {
            guard peer.id.isBetween(me.id, key), !excluded.contains(peer.id) else { return }
            guard !best.contains(where: { $0.peer.id == peer.id }) else { return }
            let distance = peer.id.distance(to: key)
            if best.count == limit, let worst = best.last, worst.distance <= distance { return }
            let index = best.firstIndex { $0.distance > distance } ?? best.count
            best.insert((distance, peer), at: index)
            if best.count > limit { best.removeLast() }
        }
        for finger in fingers { if let finger { consider(finger) } }
        for successor in successors { consider(successor) }
        return best.map(\.peer)
    }

    /// Where finger `index` should point: me + 2^e, with e spread over the estimated ring size.
    public func fingerStart(_ index: Int) -> NodeID {
        let count = configuration.fingerCount
        if configuration.adaptiveFingers {
            let exponent = 159.0 - Double(index) * estimatedLog2Size / Double(count)
            return me.id &+ NodeID.powerOfTwo(fractional: max(0, exponent))
        }
        return me.id &+ NodeID.powerOfTwo(NodeID.bitWidth - count + index)
    }

    /// log2 of the ring size, estimated from how densely the successor list covers the ring.
    public var estimatedLog2Size: Double {
        guard let last = successors.last, last.id != me.id else { return 1 }
        let covered = me.id.distance(to: last.id).ringFraction
        guard covered > 0 else { return 159 }
        return min(159, max(1, log2(Double(successors.count) / covered)))
    }

    /// Every distinct peer this node routes through (fingers and successors).
    public var knownPeers: [OverlayPeer] {
        var seen = Set<NodeID>()
        var peers: [OverlayPeer] = []
        for peer in successors + fingers.compactMap({ $0 }) where seen.insert(peer.id).inserted {
            peers.append(peer)
        }
        return peers
    }

    /// Drops a peer believed dead from every routing structure, remembering it as a suspect.
    mutating func forget(_ id: NodeID, now: OverlayInstant, _ actions: inout [OverlayAction]) {
        if configuration.suspectLimit > 0, !suspects.contains(where: { $0.peer.id == id }),
            let peer = successors.first(where: { $0.id == id }) ?? fingers.lazy.compactMap({ $0 }).first(where: { $0.id == id })
                ?? (predecessor?.id == id ? predecessor : nil)
        {
            if suspects.count >= configuration.suspectLimit { suspects.removeFirst() }
            suspects.append((peer, now))
        }
        successors.removeAll { $0.id == id }
        for index in fingers.indices where fingers[index]?.id == id { fingers[index] = nil }
        if predecessor?.id == id { predecessor = nil }
        if successors.isEmpty {
            // Fall back to the nearest finger clockwise; stabilisation walks back from there.
            let fallback = fingers.compactMap { $0 }.min { me.id.distance(to: $0.id) < me.id.distance(to: $1.id) }
            if let fallback { successors = [fallback] } else if let predecessor { successors = [predecessor] }
        }
        successorsChanged(now: now, &actions)
    }

    // MARK: - Helpers

    mutating func makeMessageID() -> UInt64 {
        defer { nextMessageID &+= 1 }
        return nextMessageID
    }

    func send(_ message: OverlayMessage, to address: OverlayAddress, _ actions: inout [OverlayAction]) {
        actions.append(.send(to: address, OverlayEnvelope(sender: me, message: message)))
    }

    /// Sends a request, remembers what it was for, and arms its timeout.
    mutating func sendRequest(
        _ make: (UInt64) -> OverlayMessage,
        to address: OverlayAddress,
        pending entry: Pending,
        _ actions: inout [OverlayAction]
    ) {
        let id = makeMessageID()
        pending[id] = entry
        send(make(id), to: address, &actions)
        actions.append(.scheduleTimer(.requestTimeout(id), after: configuration.requestTimeout))
    }

    mutating func jittered(_ period: Duration) -> Duration {
        let milliseconds = Double(period.overlayMilliseconds)
        let factor = 1 + configuration.jitter * (2 * random.nextUnit() - 1)
        return .milliseconds(Int64((milliseconds * factor).rounded()))
    }

    mutating func startTimers(_ actions: inout [OverlayAction]) {
        actions.append(.scheduleTimer(.stabilize, after: jittered(configuration.stabilizeInterval)))
        actions.append(.scheduleTimer(.fixFingers, after: jittered(configuration.fixFingersInterval)))
        actions.append(.scheduleTimer(.checkPredecessor, after: jittered(configuration.checkPredecessorInterval)))
    }
}
