import Overlay
import OverlaySimulation
import Testing

/// Local discovery tells a node about peers outside the ring's own messages
/// (`OverlayEvent.peerDiscovered`). Nodes that started rings of their own at the same moment, or a
/// node that started alone beside an existing ring, must end up in one ring once told.
@Suite struct DiscoveredPeerTests {
    let writer = NodeIdentity.generate()

    /// `count` nodes that each started a ring of their own.
    func loneNodes(_ count: Int, seed: UInt64 = 11) -> (OverlaySimulator, [Int]) {
        var simulator = makeSimulator(seed: seed)
        let indices = (0..<count).map { _ in simulator.addNode() }
        for index in indices { simulator.send(.createRingRequested, to: index) }
        simulator.run(for: .seconds(2))
        return (simulator, indices)
    }

    @Test func threeNodesAloneToldOfEachOtherFormOneRing() {
        var (simulator, indices) = loneNodes(3)
        #expect(simulator.joinedIndices.count == 3)
        #expect(indices.allSatisfy { simulator.node($0)?.successors.isEmpty == true }, "each started alone")
        // Every node hears every other at once, as three nodes started together would.
        for index in indices {
            for other in indices where other != index {
                guard let peer = simulator.node(other)?.me else { continue }
                simulator.send(.peerDiscovered(peer), to: index)
            }
        }
        simulator.run(for: .seconds(10))
        let check = simulator.checkRing()
        #expect(check.nodes == 3)
        #expect(check.isConsistent, "\(check)")

        // A record put through one node is got through every other.
        let record = ResourceRecord.signed(
            kind: .generic, name: "lamp", value: Array("on".utf8), sequence: 1, expiry: OverlayInstant(milliseconds: 10_000_000), by: writer)
        let put = simulator.put(record, from: indices[0])
        #expect(put?.result == .success(.stored))
        for index in indices.dropFirst() {
            let get = simulator.get("lamp", from: index)
            #expect(get?.result == .success(.records([record])), "get through node \(index)")
        }
    }

    @Test func nodeAloneToldOfOneRingMemberJoinsThatRing() {
        var simulator = makeSimulator(seed: 5)
        let ring = (0..<8).map { _ in simulator.addNode() }
        simulator.installConvergedRing(ring)
        let loner = simulator.addNode()
        simulator.send(.createRingRequested, to: loner)
        simulator.run(for: .seconds(2))
        #expect(simulator.checkRing().isConsistent == false, "the lone node is a second ring")

        guard let member = simulator.node(ring[3])?.me else {
            Issue.record("ring member missing")
            return
        }
        simulator.send(.peerDiscovered(member), to: loner)
        simulator.run(for: .seconds(10))
        let check = simulator.checkRing()
        #expect(check.nodes == 9)
        #expect(check.isConsistent, "\(check)")
    }

    @Test func peerAlreadyKnownIsNotAskedAgain() {
        var simulator = makeSimulator(seed: 9)
        let ring = (0..<5).map { _ in simulator.addNode() }
        simulator.installConvergedRing(ring)
        guard var node = simulator.node(ring[0]), let successor = node.successors.first, let predecessor = node.predecessor else {
            Issue.record("converged ring missing pointers")
            return
        }
        #expect(node.handle(.peerDiscovered(successor), now: simulator.now).isEmpty)
        #expect(node.handle(.peerDiscovered(predecessor), now: simulator.now).isEmpty)
        #expect(node.handle(.peerDiscovered(node.me), now: simulator.now).isEmpty)
    }

    @Test func strangerIsAskedForTheKeyJustAfterTheNode() {
        var node = ChordNode(me: OverlayPeer(id: id(0.5), address: "10.0.0.2:5060"))
        _ = node.handle(.createRingRequested, now: .zero)
        let stranger = OverlayPeer(id: id(0.7), address: "10.0.0.9:5060")
        let actions = node.handle(.peerDiscovered(stranger), now: .zero)
        let finds = actions.compactMap { action -> (OverlayAddress, NodeID)? in
            if case .send(let address, let envelope) = action, case .findRequest(_, let key, _) = envelope.message { return (address, key) }
            return nil
        }
        #expect(finds.count == 1)
        #expect(finds.first?.0 == stranger.address)
        #expect(finds.first?.1 == id(0.5) &+ NodeID(high: 0, middle: 0, low: 1))
    }

    @Test func nodeThatIsNotInARingIgnoresDiscoveredPeers() {
        var node = ChordNode(me: OverlayPeer(id: id(0.5), address: "10.0.0.2:5060"))
        #expect(node.handle(.peerDiscovered(OverlayPeer(id: id(0.7), address: "10.0.0.9:5060")), now: .zero).isEmpty)
    }

    @Test func nodeIDReadsBackItsHexForm() {
        let nodeID = NodeIdentity.generate().nodeID
        #expect(NodeID(hex: nodeID.description) == nodeID)
        #expect(NodeID(hex: nodeID.description.uppercased()) == nodeID)
        #expect(NodeID(hex: String(nodeID.description.dropLast())) == nil)
        #expect(NodeID(hex: String(nodeID.description.dropLast()) + "g") == nil)
        #expect(NodeID(hex: "") == nil)
    }
}
