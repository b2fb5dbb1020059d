import Overlay
import OverlaySimulation
import Testing

/// Lookups must succeed whenever the ring is intact, however few fingers the nodes keep: with 2
/// fingers routing falls back to walking successor lists, which takes more hops than a finger
/// table would, but must still reach the owner.
@Suite struct SmallFingerTableTests {
    /// Before the fix, the limit of 32 hops per attempt failed 10 of 200 such lookups with one
    /// finger, on all 4 attempts alike ("after 4 attempts and 128 hops").
    @Test(arguments: [(1, true), (2, false), (2, true)] as [(Int, Bool)])
    func everyLookupInAnIntactRingWithFewFingersReachesTheTrueOwner(fingerCount: Int, adaptive: Bool) {
        var configuration = OverlayConfiguration()
        configuration.fingerCount = fingerCount
        configuration.adaptiveFingers = adaptive
        configuration.successorListLength = 4
        var simulator = OverlaySimulator(configuration: configuration, seed: 11)
        let indices = (0..<400).map { _ in simulator.addNode() }
        simulator.installConvergedRing(indices)
        var requests: [(OverlayRequestID, NodeID)] = []
        for number in 0..<200 {
            let key = ResourceID(name: "key-\(number)").id
            let origin = indices[simulator.nextIndex(below: indices.count)]
            requests.append((simulator.request({ .lookupRequested(key, requestID: $0) }, from: origin), key))
        }
        simulator.run(for: .seconds(30))
        var failures: [String] = []
        for (request, key) in requests {
            guard let completion = simulator.completions[request] else {
                failures.append("\(key.shortDescription): no completion")
                continue
            }
            switch completion.result {
            case .success(.owner(let owner)) where owner.id == simulator.trueOwner(of: key)?.id:
                continue
            default:
                failures.append("\(key.shortDescription): \(completion.result) after \(completion.hops) hops")
            }
        }
        #expect(failures.isEmpty, "\(failures.count) of \(requests.count) lookups failed: \(failures.prefix(5))")
    }
}

/// The OverlaySIP ring test's set-up in the simulator: 10 nodes with 2-entry successor lists
/// and fast timers join one by one; then one node looks up the owner of every node's ID.
@Suite struct ShortSuccessorListTests {
    @Test(arguments: Array(1...12) as [UInt64])
    func everyNodeIDIsOwnedByItsNodeInATenNodeRingWithTwoSuccessors(seed: UInt64) {
        var simulator = makeSimulator(seed: seed) { configuration in
            configuration.stabilizeInterval = .milliseconds(100)
            configuration.fixFingersInterval = .milliseconds(50)
            configuration.checkPredecessorInterval = .milliseconds(200)
            configuration.requestTimeout = .milliseconds(300)
            configuration.retryDelay = .milliseconds(200)
            configuration.retries = 5
            configuration.successorListLength = 2
            configuration.replicaCount = 2
        }
        let indices = (0..<10).map { _ in simulator.addNode() }
        simulator.send(.createRingRequested, to: indices[0])
        for index in indices.dropFirst() {
            simulator.send(.joinRequested(bootstrap: OverlaySimulator.address(of: indices[0])), to: index)
            simulator.run(for: .milliseconds(300))
        }
        simulator.run(for: .seconds(5))
        #expect(simulator.ringIsConsistent())
        var failures: [String] = []
        for target in indices.dropFirst() {
            guard let key = simulator.node(target)?.me.id else { continue }
            let request = simulator.request({ .lookupRequested(key, requestID: $0) }, from: indices[0])
            simulator.run(for: .seconds(3))
            switch simulator.completions[request]?.result {
            case .success(.owner(let owner)) where owner.id == key: continue
            case let other: failures.append("\(key.shortDescription): \(String(describing: other))")
            }
        }
        #expect(failures.isEmpty, "\(failures)")
    }
}
