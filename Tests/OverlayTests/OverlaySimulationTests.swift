import Overlay
import OverlaySimulation
import Testing

@Suite struct OverlaySimulationTests {
    @Test func hundredNodesKeepRecordsAndAnswerLookupsAfterQuarterFailAtOnce() {
        var configuration = OverlaySimulation.Configuration()
        configuration.nodeCount = 100
        configuration.recordCount = 60
        configuration.lookupRate = 20
        configuration.warmup = .seconds(5)
        configuration.duration = .seconds(60)
        configuration.massFailure = OverlaySimulation.MassFailure(at: .seconds(5), fraction: 0.25)
        configuration.overlay.replicaCount = 3
        let report = OverlaySimulation.run(configuration)
        #expect(report.liveNodesAtEnd == 75)
        #expect(report.recordsStored == 60)
        // All three copies die together with probability 1/64 per record; allow a few.
        #expect(report.recordsSurviving >= 56, "\(report)")
        // Only records whose three holders all failed may be lost.
        #expect(report.recordsStored - report.recordsSurviving <= report.recordsExposedToMassFailure, "\(report)")
        #expect(report.lookupsAfterRepair > 300)
        #expect(report.lookupSuccessAfterRepair == 1.0, "\(report)")
        #expect(report.hopsMean > 0 && report.hopsMean <= 0.5 * 6.64 + 0.5, "\(report)")
        #expect(report.maintenanceBytesPerNodePerSecond < 1000)
    }

    /// 60 nodes join 0.5 s apart (30 s), each through a random earlier node; 30 s later every
    /// successor, successor list and predecessor is the true one, and every put and get succeeds.
    @Test(arguments: [1, 2, 3] as [UInt64])
    func ringBuiltByJoinsHalfASecondApartHasTrueSuccessorsAndAnswersEveryPutAndGet(seed: UInt64) {
        var configuration = OverlaySimulation.Configuration()
        configuration.seed = seed
        configuration.nodeCount = 60
        configuration.initialRing = .joined(interval: .milliseconds(500))
        expectConvergedAndAnswering(configuration, warmup: .seconds(30))
    }

    /// 60 nodes all start joining within 1 s, many through nodes that are still joining
    /// themselves; within 60 s the ring is exact and every put and get succeeds.
    @Test(arguments: [1, 2, 3] as [UInt64])
    func ringBuiltByJoinsWithinOneSecondHasTrueSuccessorsAndAnswersEveryPutAndGet(seed: UInt64) {
        var configuration = OverlaySimulation.Configuration()
        configuration.seed = seed
        configuration.nodeCount = 60
        configuration.initialRing = .joinedWithin(.seconds(1))
        expectConvergedAndAnswering(configuration, warmup: .seconds(60))
    }

    func expectConvergedAndAnswering(_ configuration: OverlaySimulation.Configuration, warmup: Duration) {
        var configuration = configuration
        configuration.recordCount = 60
        configuration.warmup = warmup
        configuration.duration = .seconds(20)
        let report = OverlaySimulation.run(configuration)
        #expect(report.liveNodesAtEnd == 60)
        // Brute force: every node's successor, successor list and predecessor are the true ones.
        #expect(report.ringAfterWarmup.nodes == 60, "\(report)")
        #expect(report.ringAfterWarmup.wrongSuccessors == 0, "\(report)")
        #expect(report.ringAfterWarmup.wrongSuccessorLists == 0, "\(report)")
        #expect(report.ringAfterWarmup.wrongPredecessors == 0, "\(report)")
        #expect(report.putsIssued == 60)
        #expect(report.putsStored == 60, "\(report)")
        #expect(report.recordsStored == 60)
        #expect(report.lookups > 300)
        #expect(report.lookupsSucceeded == report.lookups, "\(report)")
    }
}
