public import Overlay

/// A virtual network and clock that drive many ``ChordNode``s in one process.
///
/// Time is virtual (microseconds in a priority queue); messages take a sampled latency and may
/// be lost or cut by a partition; nothing reads the wall clock. Tests use it step by step;
/// ``OverlaySimulation/run(_:)`` uses it for whole experiments.
public struct OverlaySimulator {
    /// How long messages take.
    public enum Latency: Sendable {
        /// Every message takes this long.
        case fixed(Duration)
        /// Uniform between the two bounds.
        case uniform(min: Duration, max: Duration)
    }

    /// A period during which messages between two groups of nodes are dropped.
    public struct Partition: Sendable {
        /// When the partition starts (virtual time since the simulator was created).
        public var start: Duration
        /// When it heals.
        public var end: Duration
        /// The fraction of nodes (by index) cut off from the rest.
        public var fraction: Double

        /// Creates a partition.
        public init(start: Duration, end: Duration, fraction: Double) {
            self.start = start
            self.end = end
            self.fraction = fraction
        }
    }

    /// Network tunables.
    public struct Network: Sendable {
        /// Message latency. Default uniform 10–90 ms.
        public var latency: Latency = .uniform(min: .milliseconds(10), max: .milliseconds(90))
        /// Probability a message is lost. Default 0.
        public var lossRate = 0.0
        /// Partitions. Default none.
        public var partitions: [Partition] = []

        /// The default network.
        public init() {}
    }

    enum Payload {
        case deliver(Int32, OverlayEnvelope)
        case timer(Int32, OverlayTimer)
        case hook(Int)
    }

    /// The nodes, by index; nil once failed.
    public var nodes: [ChordNode?] { states.indices.map { alive[$0] ? states[$0] : nil } }
    /// Every node's state by index (a failed node's is reset and never handled again). Not
    /// optional, so handling an event mutates the state in place instead of copying it out of
    /// an optional and back.
    var states: [ChordNode] = []
    /// Whether each node is alive.
    public private(set) var alive: [Bool] = []
    /// Whether each node is alive and joined (kept from the nodes' phase changes).
    public private(set) var joined: [Bool] = []
    /// How many nodes are alive and joined.
    public private(set) var joinedCount = 0
    /// Completed requests by id.
    public var completions: [OverlayRequestID: OverlayCompletion] = [:]
    /// Called for every completion (the experiment driver records metrics here).
    var onCompletion: ((inout OverlaySimulator, Int, OverlayCompletion) -> Void)?
    /// Rewrites or drops (nil) a message in flight: (sender index, receiver index, envelope).
    public var tamper: ((Int, Int, OverlayEnvelope) -> OverlayEnvelope?)?
    /// The virtual time, in microseconds.
    public private(set) var nowMicroseconds: Int64 = 0
    /// Messages handed to the network / delivered.
    public private(set) var messagesSent = 0
    /// Bytes sent, as encoded, split by traffic class.
    public private(set) var maintenanceBytes = 0
    /// Bytes sent for users' requests.
    public private(set) var requestBytes = 0
    /// Whether byte counters run.
    public var countingBytes = true
    /// Events processed.
    public private(set) var eventsProcessed = 0

    let configuration: OverlayConfiguration
    var network: Network
    var queue = EventQueue<Payload>()
    var indexOfAddress: [OverlayAddress: Int32] = [:]
    var random: SplitMix64
    var actions: [OverlayAction] = []
    var nextRequestID: OverlayRequestID = 1
    var hooks: [Int: (inout OverlaySimulator) -> Void] = [:]
    var nextHook = 0

    /// Creates an empty network.
    public init(configuration: OverlayConfiguration = OverlayConfiguration(), network: Network = Network(), seed: UInt64 = 1) {
        self.configuration = configuration
        self.network = network
        random = SplitMix64(seed: seed)
        actions.reserveCapacity(64)
    }

    /// The virtual time as an overlay instant.
    public var now: OverlayInstant { OverlayInstant(milliseconds: nowMicroseconds / 1000) }

    /// The address of node `index`.
    public static func address(of index: Int) -> OverlayAddress {
        let host = index + 1
        return OverlayAddress("10.\(host >> 16 & 0xff).\(host >> 8 & 0xff).\(host & 0xff):5060")
    }

    /// Adds an idle node; returns its index.
    public mutating func addNode(id: NodeID? = nil) -> Int {
        let index = states.count
        let nodeID = id ?? NodeID.random(using: &random)
        let peer = OverlayPeer(id: nodeID, address: Self.address(of: index))
        states.append(ChordNode(me: peer, configuration: configuration, seed: random.next()))
        alive.append(true)
        joined.append(false)
        indexOfAddress[peer.address] = Int32(index)
        return index
    }

    /// The live node at `index`, if any.
    public func node(_ index: Int) -> ChordNode? { alive[index] ? states[index] : nil }

    /// Indices of live, joined nodes.
    public var joinedIndices: [Int] {
        joined.indices.filter { joined[$0] }
    }

    /// A uniformly chosen live joined node, if any.
    public mutating func randomJoinedIndex() -> Int? {
        guard joinedCount > 0 else { return nil }
        if joinedCount * 4 < joined.count { return joinedIndices.randomElement(using: &random) }
        while true {
            let index = Int(random.next() % UInt64(joined.count))
            if joined[index] { return index }
        }
    }

    mutating func setJoined(_ index: Int, _ value: Bool) {
        guard joined[index] != value else { return }
        joined[index] = value
        joinedCount += value ? 1 : -1
    }

    /// Delivers an event to a node now and carries out its actions.
    public mutating func send(_ event: OverlayEvent, to index: Int) {
        guard alive[index] else { return }
        actions.removeAll(keepingCapacity: true)
        let instant = now
        states[index].handle(event, now: instant, into: &actions)
        perform(from: index)
    }

    /// Issues a request from node `index`; returns its id (see ``completions``).
    public mutating func request(_ make: (OverlayRequestID) -> OverlayEvent, from index: Int) -> OverlayRequestID {
        let id = nextRequestID
        nextRequestID += 1
        send(make(id), to: index)
        return id
    }

    /// Fails a node abruptly: it stops answering and its pending work is lost.
    public mutating func fail(_ index: Int) {
        setJoined(index, false)
        alive[index] = false
        // Free what it held; the state is never handled again.
        states[index] = ChordNode(me: states[index].me, configuration: configuration)
    }

    /// Runs `body` at a virtual time `delay` from now.
    public mutating func at(_ delay: Duration, _ body: @escaping (inout OverlaySimulator) -> Void) {
        let id = nextHook
        nextHook += 1
        hooks[id] = body
        queue.push(.hook(id), at: nowMicroseconds + delay.simulationMicroseconds)
    }

    /// Runs the network for `duration` of virtual time.
    public mutating func run(for duration: Duration) {
        let end = nowMicroseconds + duration.simulationMicroseconds
        while let time = queue.nextTime, time <= end, let (at, payload) = queue.pop() {
            nowMicroseconds = at
            eventsProcessed += 1
            switch payload {
            case .deliver(let index, let envelope):
                deliver(envelope, to: Int(index))
            case .timer(let index, let timer):
                guard alive[Int(index)] else { continue }
                actions.removeAll(keepingCapacity: true)
                let instant = now
                states[Int(index)].handle(.timerFired(timer), now: instant, into: &actions)
                perform(from: Int(index))
            case .hook(let id):
                if let body = hooks.removeValue(forKey: id) { body(&self) }
            }
        }
        nowMicroseconds = max(nowMicroseconds, end)
    }

    mutating func deliver(_ envelope: OverlayEnvelope, to index: Int) {
        guard alive[index] else { return }
        actions.removeAll(keepingCapacity: true)
        let instant = now
        states[index].handle(.messageReceived(envelope), now: instant, into: &actions)
        perform(from: index)
    }

    /// Carries out the actions in `actions`, produced by node `index`.
    mutating func perform(from index: Int) {
        var pendingActions = actions
        actions = []
        defer {
            pendingActions.removeAll(keepingCapacity: true)
            actions = pendingActions
        }
        for action in pendingActions {
            switch action {
            case .send(let address, let envelope):
                transmit(envelope, from: index, to: address)
            case .scheduleTimer(let timer, let delay):
                let inOrder: Bool
                if case .requestTimeout = timer { inOrder = true } else { inOrder = false }
                queue.push(.timer(Int32(index), timer), at: nowMicroseconds + delay.simulationMicroseconds, inOrder: inOrder)
            case .complete(let completion):
                completions[completion.requestID] = completion
                if let onCompletion { onCompletion(&self, index, completion) }
            case .phaseChanged(let phase):
                setJoined(index, phase == .joined && alive[index])
            case .storeChanged:
                break
            }
        }
    }

    mutating func transmit(_ envelope: OverlayEnvelope, from sender: Int, to address: OverlayAddress) {
        messagesSent += 1
        if countingBytes {
            let size = envelope.encodedSize
            if envelope.message.isMaintenance { maintenanceBytes += size } else { requestBytes += size }
        }
        guard let receiver = index(of: address), alive[receiver] else { return }
        if network.lossRate > 0, random.nextUnit() < network.lossRate { return }
        if isPartitioned(sender, receiver) { return }
        var envelope = envelope
        if let tamper {
            guard let rewritten = tamper(sender, receiver, envelope) else { return }
            envelope = rewritten
        }
        queue.push(.deliver(Int32(receiver), envelope), at: nowMicroseconds + sampleLatency())
    }

    /// The node at `address`: parsed back from the form ``address(of:)`` gives (cheaper than
    /// hashing the string for every message), else looked up (nil: nobody is there).
    func index(of address: OverlayAddress) -> Int? {
        var octets = (0, 0, 0, 0)
        var part = 0
        var value = 0
        var digits = 0
        for byte in address.value.utf8 {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"):
                value = value * 10 + Int(byte - UInt8(ascii: "0"))
                digits += 1
                guard digits <= 4 else { return indexOfAddress[address].map(Int.init) }
            case UInt8(ascii: "."), UInt8(ascii: ":"):
                guard digits > 0 else { return indexOfAddress[address].map(Int.init) }
                switch part {
                case 0: octets.0 = value
                case 1: octets.1 = value
                case 2: octets.2 = value
                case 3: octets.3 = value
                default: return indexOfAddress[address].map(Int.init)
                }
                part += 1
                value = 0
                digits = 0
            default:
                return indexOfAddress[address].map(Int.init)
            }
        }
        // Every node's address is address(of: index) (see addNode), so a well-formed one names
        // its node without a look-up.
        let index = (octets.1 << 16 | octets.2 << 8 | octets.3) - 1
        guard part == 4, octets.0 == 10, octets.1 < 256, octets.2 < 256, octets.3 < 256, value == 5060,
            index >= 0, index < states.count
        else { return indexOfAddress[address].map(Int.init) }
        return index
    }

    func isPartitioned(_ a: Int, _ b: Int) -> Bool {
        guard !network.partitions.isEmpty else { return false }
        for partition in network.partitions {
            let start = partition.start.simulationMicroseconds
            let end = partition.end.simulationMicroseconds
            guard nowMicroseconds >= start, nowMicroseconds < end else { continue }
            let cut = Int(Double(states.count) * partition.fraction)
            if (a < cut) != (b < cut) { return true }
        }
        return false
    }

    mutating func sampleLatency() -> Int64 {
        switch network.latency {
        case .fixed(let duration):
            return duration.simulationMicroseconds
        case .uniform(let low, let high):
            let lower = low.simulationMicroseconds
            let span = high.simulationMicroseconds - lower
            return lower + Int64(random.nextUnit() * Double(max(0, span)))
        }
    }

    /// Zeroes the traffic counters (start of a measurement).
    public mutating func resetCounters() {
        messagesSent = 0
        maintenanceBytes = 0
        requestBytes = 0
        eventsProcessed = 0
    }

    /// Draws a uniform double in [0, 1) from the simulator's generator.
    public mutating func nextUnit() -> Double { random.nextUnit() }

    /// Draws a random index below `bound`.
    public mutating func nextIndex(below bound: Int) -> Int { Int(random.next() % UInt64(max(1, bound))) }

    /// Starts every listed node as a converged ring (true predecessors, successors and fingers).
    public mutating func installConvergedRing(_ indices: [Int]) {
        let peers = indices.compactMap { node($0)?.me }.sorted { $0.id < $1.id }
        guard !peers.isEmpty else { return }
        let ids = peers.map(\.id)
        func ownerOf(_ key: NodeID) -> OverlayPeer {
            var low = 0
            var high = ids.count
            while low < high {
                let mid = (low + high) / 2
                if ids[mid] < key { low = mid + 1 } else { high = mid }
            }
            return peers[low == ids.count ? 0 : low]
        }
        let length = configuration.successorListLength
        for (position, peer) in peers.enumerated() {
            guard let index = indexOfAddress[peer.address].map(Int.init) else { continue }
            let predecessor = peers.count > 1 ? peers[(position - 1 + peers.count) % peers.count] : nil
            var successors: [OverlayPeer] = []
            if peers.count > 1 {
                for step in 1...min(length, peers.count - 1) { successors.append(peers[(position + step) % peers.count]) }
            }
            actions.removeAll(keepingCapacity: true)
            guard alive[index] else { continue }
            states[index]._assumeConverged(predecessor: predecessor, successors: successors, ownerOf: ownerOf, into: &actions)
            setJoined(index, true)
            perform(from: index)
        }
    }

    /// How far the live joined nodes' neighbour pointers are from the true ring (brute force).
    public struct RingCheck: Hashable, Sendable, CustomStringConvertible {
        /// Live joined nodes checked.
        public var nodes = 0
        /// Nodes whose first successor is not the next live joined node.
        public var wrongSuccessors = 0
        /// Nodes whose successor list is not the next live joined nodes, in order.
        public var wrongSuccessorLists = 0
        /// Nodes whose predecessor is not the previous live joined node.
        public var wrongPredecessors = 0

        /// Whether every pointer checked is right.
        public var isConsistent: Bool { wrongSuccessors == 0 && wrongSuccessorLists == 0 && wrongPredecessors == 0 }

        public var description: String {
            "nodes=\(nodes) wrong_successors=\(wrongSuccessors) wrong_lists=\(wrongSuccessorLists) wrong_predecessors=\(wrongPredecessors)"
        }
    }

    /// Compares every live joined node's successor, successor list and predecessor with the
    /// true ring of live joined nodes.
    public func checkRing() -> RingCheck {
        var members: [(id: NodeID, index: Int)] = []
        for index in states.indices where joined[index] {
            if let node = node(index) { members.append((node.me.id, index)) }
        }
        members.sort { $0.id < $1.id }
        var check = RingCheck()
        check.nodes = members.count
        let count = members.count
        guard count > 1 else { return check }
        let listLength = min(configuration.successorListLength, count - 1)
        for (position, member) in members.enumerated() {
            guard let node = node(member.index) else { continue }
            if node.successors.first?.id != members[(position + 1) % count].id { check.wrongSuccessors += 1 }
            if node.predecessor?.id != members[(position - 1 + count) % count].id { check.wrongPredecessors += 1 }
            let listIsRight = node.successors.count == listLength
                && node.successors.indices.allSatisfy { node.successors[$0].id == members[(position + 1 + $0) % count].id }
            if !listIsRight { check.wrongSuccessorLists += 1 }
        }
        return check
    }

    /// The live joined node that owns `key` according to the true ring (brute force).
    public func trueOwner(of key: NodeID) -> OverlayPeer? {
        var best: OverlayPeer?
        var bestDistance = NodeID.zero
        for index in states.indices where alive[index] {
            let node = states[index]
            guard node.phase == .joined else { continue }
            let distance = key.distance(to: node.me.id)
            if best == nil || distance < bestDistance {
                best = node.me
                bestDistance = distance
            }
        }
        return best
    }
}

extension Duration {
    var simulationMicroseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds &* 1_000_000 &+ attoseconds / 1_000_000_000_000
    }
}
