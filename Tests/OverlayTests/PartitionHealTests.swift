import Overlay
import OverlaySimulation
import Testing

/// A partition splits a ring in two; each half repairs itself into a ring of its own. Once the
/// partition heals, the periodic self-lookup through peers dropped as unresponsive must merge
/// them into one ring again.
@Suite struct PartitionHealTests {
    func partitionedRing(selfCheckTicks: Int) -> OverlaySimulator {
        var configuration = OverlayConfiguration()
        configuration.selfCheckTicks = selfCheckTicks
        var network = OverlaySimulator.Network()
        // Nodes 0..<20 are cut off from nodes 20..<40 from t = 10 s to t = 70 s.
        network.partitions = [OverlaySimulator.Partition(start: .seconds(10), end: .seconds(70), fraction: 0.5)]
        var simulator = OverlaySimulator(configuration: configuration, network: network, seed: 5)
        let indices = (0..<40).map { _ in simulator.addNode() }
        simulator.installConvergedRing(indices)
        simulator.run(for: .seconds(70))
        return simulator
    }

    @Test func eachSideOfAPartitionRepairsIntoItsOwnRing() {
        let simulator = partitionedRing(selfCheckTicks: 3)
        // During the partition every node's successor is on its own side.
        for index in 0..<40 {
            guard let node = simulator.node(index), let successor = node.successors.first else {
                Issue.record("node \(index) has no successor")
                continue
            }
            let successorIndex = (0..<40).first { simulator.node($0)?.me.id == successor.id } ?? -1
            #expect((index < 20) == (successorIndex < 20), "node \(index) follows \(successorIndex) across the cut")
        }
    }

    @Test func ringHealedAfterAPartitionIsOneRingAgain() {
        var simulator = partitionedRing(selfCheckTicks: 3)
        simulator.run(for: .seconds(180))
        let check = simulator.checkRing()
        #expect(check.nodes == 40)
        #expect(check.isConsistent, "\(check)")
    }

    @Test func withoutSelfLookupsTheHalvesStayApart() {
        var simulator = partitionedRing(selfCheckTicks: 0)
        simulator.run(for: .seconds(180))
        let check = simulator.checkRing()
        #expect(check.nodes == 40)
        #expect(!check.isConsistent, "\(check)")
    }
}
