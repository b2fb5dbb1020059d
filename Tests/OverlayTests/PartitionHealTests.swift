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

/// A node cut off from everyone for a few seconds drops every peer it knew (successors, fingers,
/// predecessor). Once the network is back it must find its way into the ring again and answer
/// lookups, instead of failing every attempt with an empty routing table.
@Suite struct IsolatedNodeTests {
    @Test func nodeThatLostEveryPeerRejoinsTheRingAndAnswersLookups() {
        var simulator = makeSimulator(seed: 3)
        let indices = (0..<12).map { _ in simulator.addNode() }
        simulator.installConvergedRing(indices)
        simulator.run(for: .seconds(3))
        let isolated = indices[4]
        let cut = IsolationSwitch()
        simulator.tamper = { sender, receiver, envelope in
            cut.isOn && (sender == isolated || receiver == isolated) ? nil : envelope
        }
        cut.isOn = true
        simulator.run(for: .seconds(8))
        // Only suspects are left: no finger, no predecessor, and (at most) a suspect as successor.
        #expect(simulator.node(isolated)?.fingers.allSatisfy { $0 == nil } == true)
        #expect(simulator.node(isolated)?.predecessor == nil)
        #expect((simulator.node(isolated)?.successors.count ?? 0) <= 1)
        cut.isOn = false
        simulator.run(for: .seconds(10))
        #expect(simulator.ringIsConsistent())
        for target in indices where target != isolated {
            guard let key = simulator.node(target)?.me.id else { continue }
            let request = simulator.request({ .lookupRequested(key, requestID: $0) }, from: isolated)
            simulator.run(for: .seconds(3))
            #expect(simulator.completions[request]?.result == .success(.owner(simulator.node(target)!.me)))
        }
    }
}

final class IsolationSwitch: @unchecked Sendable {
    var isOn = false
}
