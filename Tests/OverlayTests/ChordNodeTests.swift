import Overlay
import OverlaySimulation
import Testing

/// A small network with fixed 10 ms latency and fast timers, for transcripts of ring behaviour.
func makeSimulator(seed: UInt64 = 7, configure: (inout OverlayConfiguration) -> Void = { _ in }) -> OverlaySimulator {
    var configuration = OverlayConfiguration()
    configuration.stabilizeInterval = .seconds(1)
    configuration.fixFingersInterval = .milliseconds(200)
    configuration.checkPredecessorInterval = .seconds(1)
    configuration.requestTimeout = .milliseconds(300)
    configuration.retryDelay = .milliseconds(500)
    configure(&configuration)
    var network = OverlaySimulator.Network()
    network.latency = .fixed(.milliseconds(10))
    return OverlaySimulator(configuration: configuration, network: network, seed: seed)
}

func id(_ fraction: Double) -> NodeID {
    // A Node-ID at `fraction` of the ring (top 64 bits), for readable tests.
    let top = UInt64(fraction * 18_446_744_073_709_551_615.0)
    return NodeID(high: UInt32(top >> 32), middle: top << 32, low: 0)
}

extension OverlaySimulator {
    /// Asserts every live joined node has its true successor and predecessor.
    func ringIsConsistent() -> Bool {
        let peers = joinedIndices.compactMap { node($0)?.me }.sorted { $0.id < $1.id }
        for (position, peer) in peers.enumerated() {
            guard let index = joinedIndices.first(where: { node($0)?.me.id == peer.id }), let state = node(index) else { return false }
            let successor = peers[(position + 1) % peers.count]
            let predecessor = peers[(position - 1 + peers.count) % peers.count]
            if state.successors.first?.id != successor.id || state.predecessor?.id != predecessor.id { return false }
        }
        return true
    }

    mutating func get(_ name: String, from index: Int) -> OverlayCompletion? {
        let request = request({ .getRequested(ResourceID(name: name), kind: nil, requestID: $0) }, from: index)
        run(for: .seconds(5))
        return completions[request]
    }

    mutating func put(_ record: ResourceRecord, from index: Int) -> OverlayCompletion? {
        let request = request({ .putRequested(record, requestID: $0) }, from: index)
        run(for: .seconds(5))
        return completions[request]
    }
}

@Suite struct ChordNodeTests {
    let writer = NodeIdentity.generate()
    var expiry: OverlayInstant { OverlayInstant(milliseconds: 10_000_000) }

    @Test func joiningNodeAsksItsBootstrapWhoOwnsItsID() {
        var node = ChordNode(me: OverlayPeer(id: id(0.5), address: "10.0.0.2:5060"))
        let actions = node.handle(.joinRequested(bootstrap: "10.0.0.1:5060"), now: .zero)
        #expect(node.phase == .joining)
        let sends = actions.compactMap { action -> (OverlayAddress, OverlayMessage)? in
            if case .send(let address, let envelope) = action { return (address, envelope.message) }
            return nil
        }
        #expect(sends.count == 1)
        #expect(sends.first?.0 == "10.0.0.1:5060")
        if case .findRequest(_, let key, let maintenance)? = sends.first?.1 {
            #expect(key == id(0.5))
            #expect(maintenance)
        } else {
            Issue.record("expected a find request, got \(String(describing: sends.first?.1))")
        }
        #expect(actions.contains { if case .scheduleTimer(.requestTimeout, _) = $0 { true } else { false } })
    }

    @Test func requestsBeforeJoiningFailWithNotJoined() {
        var node = ChordNode(me: OverlayPeer(id: id(0.5), address: "10.0.0.2:5060"))
        let actions = node.handle(.lookupRequested(id(0.1), requestID: 9), now: .zero)
        guard case .complete(let completion)? = actions.first, case .failure(let error) = completion.result else {
            Issue.record("expected a failure, got \(actions)")
            return
        }
        #expect(error.code == .notJoined)
        #expect(completion.requestID == 9)
    }

    @Test func secondAndThirdNodesJoinWithCorrectNeighboursAndFingers() {
        var simulator = makeSimulator()
        let a = simulator.addNode(id: id(0.1))
        let b = simulator.addNode(id: id(0.6))
        let c = simulator.addNode(id: id(0.3))
        simulator.send(.createRingRequested, to: a)
        simulator.send(.joinRequested(bootstrap: OverlaySimulator.address(of: a)), to: b)
        simulator.run(for: .seconds(3))
        #expect(simulator.node(b)?.phase == .joined)
        #expect(simulator.node(a)?.successors.first?.id == id(0.6))
        #expect(simulator.node(a)?.predecessor?.id == id(0.6))
        #expect(simulator.node(b)?.successors.first?.id == id(0.1))
        #expect(simulator.node(b)?.predecessor?.id == id(0.1))

        simulator.send(.joinRequested(bootstrap: OverlaySimulator.address(of: b)), to: c)
        simulator.run(for: .seconds(10))
        #expect(simulator.ringIsConsistent())
        #expect(simulator.node(a)?.successors.map(\.id) == [id(0.3), id(0.6)])
        #expect(simulator.node(c)?.successors.map(\.id) == [id(0.6), id(0.1)])
        #expect(simulator.node(c)?.predecessor?.id == id(0.1))
        // Every finger points at the true owner of its start.
        for index in [a, b, c] {
            guard let node = simulator.node(index) else { continue }
            for (finger, entry) in node.fingers.enumerated() {
                let owner = simulator.trueOwner(of: node.fingerStart(finger))
                #expect(entry?.id == (owner?.id == node.me.id ? nil : owner?.id), "node \(node.me) finger \(finger)")
            }
        }
    }

    @Test func stabilisationConvergesATwentyNodeRingAfterRandomJoins() {
        var simulator = makeSimulator(seed: 11)
        let first = simulator.addNode()
        simulator.send(.createRingRequested, to: first)
        var generator = SplitMix64(seed: 3)
        for _ in 1..<20 {
            let joined = simulator.joinedIndices
            let bootstrap = joined[Int(generator.next() % UInt64(joined.count))]
            let index = simulator.addNode()
            simulator.send(.joinRequested(bootstrap: OverlaySimulator.address(of: bootstrap)), to: index)
            simulator.run(for: .milliseconds(300))
        }
        simulator.run(for: .seconds(20))
        #expect(simulator.joinedIndices.count == 20)
        #expect(simulator.ringIsConsistent())
        // Successor lists are the true next nodes.
        let sorted = simulator.joinedIndices.compactMap { simulator.node($0)?.me.id }.sorted()
        for index in simulator.joinedIndices {
            guard let node = simulator.node(index), let position = sorted.firstIndex(of: node.me.id) else { continue }
            let expected = (1...6).map { sorted[(position + $0) % sorted.count] }
            #expect(node.successors.map(\.id) == expected)
        }
    }

    @Test func lookupsFindTheSameOwnerAsBruteForce() {
        var simulator = makeSimulator(seed: 5)
        let indices = (0..<64).map { _ in simulator.addNode() }
        simulator.installConvergedRing(indices)
        simulator.run(for: .seconds(1))
        var generator = SplitMix64(seed: 99)
        var requests: [(OverlayRequestID, NodeID)] = []
        for _ in 0..<200 {
            let key = NodeID.random(using: &generator)
            let origin = indices[Int(generator.next() % 64)]
            requests.append((simulator.request({ .lookupRequested(key, requestID: $0) }, from: origin), key))
        }
        simulator.run(for: .seconds(5))
        for (request, key) in requests {
            guard case .success(.owner(let owner))? = simulator.completions[request]?.result else {
                Issue.record("lookup \(request) did not succeed: \(String(describing: simulator.completions[request]))")
                continue
            }
            #expect(owner.id == simulator.trueOwner(of: key)?.id)
        }
    }

    @Test func putStoresOnOwnerAndReplicasAndGetFindsIt() throws {
        var simulator = makeSimulator()
        let indices = (0..<12).map { _ in simulator.addNode() }
        simulator.installConvergedRing(indices)
        let record = ResourceRecord.signed(kind: .generic, name: "thing", value: [42], sequence: 1, expiry: expiry, by: writer)
        let put = simulator.put(record, from: indices[3])
        #expect(put?.result == .success(.stored))
        let holders = indices.filter { simulator.node($0)?.store.allRecords.contains(record) == true }
        #expect(holders.count == 3)
        let owner = try #require(simulator.trueOwner(of: record.resourceID.id))
        #expect(holders.contains { simulator.node($0)?.me.id == owner.id })
        let got = simulator.get("thing", from: indices[9])
        #expect(got?.result == .success(.records([record])))
    }

    @Test func ownerRefusesForgedAndStaleWritesWithTypedErrors() {
        var simulator = makeSimulator()
        let indices = (0..<8).map { _ in simulator.addNode() }
        simulator.installConvergedRing(indices)
        let second = ResourceRecord.signed(kind: .generic, name: "n", value: [2], sequence: 2, expiry: expiry, by: writer)
        #expect(simulator.put(second, from: indices[0])?.result == .success(.stored))
        let first = ResourceRecord.signed(kind: .generic, name: "n", value: [1], sequence: 1, expiry: expiry, by: writer)
        #expect(simulator.put(first, from: indices[1])?.result == .failure(OverlayError(.staleSequence, "")))
        let forged = ResourceRecord(
            kind: .generic, name: "n", value: [6, 6, 6], ownerPublicKey: writer.publicKey, sequence: 9,
            expiry: expiry, isRemoval: false, signature: second.signature
        )
        #expect(simulator.put(forged, from: indices[2])?.result == .failure(OverlayError(.badSignature, "")))
        #expect(simulator.get("n", from: indices[5])?.result == .success(.records([second])))
    }

    @Test func gracefulLeaveHandsRecordsToTheSuccessor() throws {
        var simulator = makeSimulator { $0.replicaCount = 1 }
        let indices = (0..<10).map { _ in simulator.addNode() }
        simulator.installConvergedRing(indices)
        let record = ResourceRecord.signed(kind: .generic, name: "handover", value: [1], sequence: 1, expiry: expiry, by: writer)
        #expect(simulator.put(record, from: indices[0])?.result == .success(.stored))
        let owner = try #require(indices.first { simulator.node($0)?.store.allRecords.contains(record) == true })
        let successorID = try #require(simulator.node(owner)?.successors.first?.id)
        simulator.send(.leaveRequested, to: owner)
        simulator.fail(owner)
        simulator.run(for: .milliseconds(50))
        let successor = try #require(indices.first { simulator.node($0)?.me.id == successorID })
        #expect(simulator.node(successor)?.store.allRecords.contains(record) == true)
        #expect(simulator.node(successor)?.owns(record.resourceID.id) == true)
        simulator.run(for: .seconds(3))
        #expect(simulator.ringIsConsistent())
        let origin = indices.first { $0 != owner && $0 != successor } ?? 0
        #expect(simulator.get("handover", from: origin)?.result == .success(.records([record])))
    }

    @Test func failedSuccessorIsRepairedFromTheSuccessorListAndRecordsStayReachable() throws {
        var simulator = makeSimulator()
        let indices = (0..<10).map { _ in simulator.addNode() }
        simulator.installConvergedRing(indices)
        let record = ResourceRecord.signed(kind: .generic, name: "survivor", value: [1], sequence: 1, expiry: expiry, by: writer)
        #expect(simulator.put(record, from: indices[0])?.result == .success(.stored))
        let owner = try #require(simulator.trueOwner(of: record.resourceID.id))
        let ownerIndex = try #require(indices.first { simulator.node($0)?.me.id == owner.id })
        let predecessorID = try #require(simulator.node(ownerIndex)?.predecessor?.id)
        let nextID = try #require(simulator.node(ownerIndex)?.successors.first?.id)
        simulator.fail(ownerIndex)
        simulator.run(for: .seconds(5))
        let predecessor = try #require(indices.first { simulator.node($0)?.me.id == predecessorID })
        #expect(simulator.node(predecessor)?.successors.first?.id == nextID)
        #expect(simulator.ringIsConsistent())
        let holders = indices.filter { simulator.node($0)?.store.allRecords.contains(record) == true }
        #expect(holders.count == 3, "re-replicated to a new third copy")
        #expect(simulator.get("survivor", from: predecessor)?.result == .success(.records([record])))
    }

    @Test func peerAnsweringLookupsWronglyIsRoutedAround() throws {
        var simulator = makeSimulator(seed: 21)
        let indices = (0..<40).map { _ in simulator.addNode() }
        simulator.installConvergedRing(indices)
        let liarIndices = Set(indices.prefix(4))
        let liarAddresses = Set(liarIndices.map { OverlaySimulator.address(of: $0) })
        let victim = try #require(simulator.node(indices[10])?.me)
        // Liars redirect every find backwards, or name a wrong owner.
        simulator.tamper = { sender, _, envelope in
            guard liarIndices.contains(sender), case .findResponse(let id, _, let maintenance) = envelope.message else { return envelope }
            var rewritten = envelope
            let wrong: OverlayFindAnswer = id % 2 == 0 ? .closer([victim]) : .owner([victim])
            rewritten.message = .findResponse(id: id, answer: wrong, maintenance: maintenance)
            return rewritten
        }
        var generator = SplitMix64(seed: 4)
        var requests: [(OverlayRequestID, NodeID)] = []
        for _ in 0..<150 {
            let key = NodeID.random(using: &generator)
            let origin = indices[4 + Int(generator.next() % 36)]
            requests.append((simulator.request({ .getRequested(ResourceID(id: key), kind: nil, requestID: $0) }, from: origin), key))
        }
        simulator.run(for: .seconds(10))
        var liarsAsked = 0
        for (request, _) in requests {
            let completion = try #require(simulator.completions[request])
            #expect(completion.result == .success(.records([])), "request \(request): \(completion)")
            liarsAsked += 1
        }
        #expect(liarsAsked == 150)
        #expect(!liarAddresses.isEmpty)
    }
}
