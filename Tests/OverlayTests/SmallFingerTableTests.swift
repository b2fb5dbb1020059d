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
