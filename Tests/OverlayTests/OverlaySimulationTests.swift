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
        #expect(report.lookupsAfterRepair > 300)
        #expect(report.lookupSuccessAfterRepair == 1.0, "\(report)")
        #expect(report.hopsMean > 0 && report.hopsMean <= 0.5 * 6.64 + 0.5, "\(report)")
        #expect(report.maintenanceBytesPerNodePerSecond < 1000)
    }

    @Test func ringBuiltByProtocolJoinsAnswersEveryLookup() {
        var configuration = OverlaySimulation.Configuration()
        configuration.nodeCount = 60
        configuration.initialRing = .joined(interval: .milliseconds(500))
        configuration.recordCount = 30
        configuration.warmup = .seconds(60)
        configuration.duration = .seconds(20)
        let report = OverlaySimulation.run(configuration)
        #expect(report.liveNodesAtEnd == 60)
        #expect(report.recordsStored > 0)
        #expect(report.lookups > 200)
        #expect(report.lookupSuccess == 1.0, "\(report)")
    }
}
