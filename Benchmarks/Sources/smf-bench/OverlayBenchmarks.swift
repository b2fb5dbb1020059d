import Overlay
import OverlaySimulation

// The overlay figures of issue 4, each computed by `OverlaySimulation` (virtual clock and network,
// the real `ChordNode` state machines). docs/overlay.md lists them against their published anchors.

extension Benchmark {
    /// The overlay simulator's figures, in output order.
    static let overlay: [Benchmark] = [
        Benchmark(figures: [Figure(name: "overlay.hops_mean.n1000", unit: "hops", decimals: 2)]) { _ in
            let report = OverlayBench.lookups(nodes: 1000)
            return ["overlay.hops_mean.n1000": report.hopsMean]
        },
        Benchmark(
            figures: [
                Figure(name: "overlay.hops_mean.n10000", unit: "hops", decimals: 2),
                Figure(name: "overlay.sim_speed", unit: "x_real_time", decimals: 1),
            ]
        ) { _ in
            let report = OverlayBench.lookups(nodes: 10_000)
            // Virtual seconds per CPU-second of the simulating thread, as the other figures count
            // per CPU-second: the speed on one core, unchanged by other processes loading the machine.
            return ["overlay.hops_mean.n10000": report.hopsMean, "overlay.sim_speed": report.cpuSpeedup]
        },
        Benchmark(
            figures: [
                Figure(name: "overlay.lookup_success.mass_failure", unit: "%", decimals: 2),
                Figure(name: "overlay.record_loss.mass_failure", unit: "%", decimals: 2),
                Figure(name: "overlay.record_loss_allowed.mass_failure", unit: "%", decimals: 2),
            ]
        ) { _ in
            let report = OverlayBench.massFailure()
            return [
                "overlay.lookup_success.mass_failure": 100 * report.lookupSuccessAfterRepair,
                "overlay.record_loss.mass_failure": 100 * (1 - report.recordSurvival),
                // Records whose owner and both replica holders were all among the failed nodes.
                "overlay.record_loss_allowed.mass_failure": 100 * report.allowedRecordLoss,
            ]
        },
        Benchmark(
            figures: [
                Figure(name: "overlay.lookup_success.churn", unit: "%", decimals: 2),
                Figure(name: "overlay.maintenance_bytes_per_node_s", unit: "B/s", decimals: 0),
            ]
        ) { _ in
            let report = OverlayBench.churn()
            return [
                "overlay.lookup_success.churn": 100 * report.lookupSuccess,
                "overlay.maintenance_bytes_per_node_s": report.maintenanceBytesPerNodePerSecond,
            ]
        },
    ]
}

/// The experiments behind the overlay figures; each prints its full report on stderr.
enum OverlayBench {
    /// A converged ring of `nodes` with no churn: hops per lookup, and virtual seconds per wall second.
    static func lookups(nodes: Int) -> OverlaySimulation.Report {
        var configuration = OverlaySimulation.Configuration()
        configuration.nodeCount = nodes
        configuration.warmup = .seconds(10)
        configuration.duration = .seconds(120)
        configuration.recordCount = 500
        configuration.lookupRate = 50
        return run(configuration, label: "lookups n=\(nodes)")
    }

    /// 1,000 nodes; 25 % fail at once 30 s into the measurement; lookups issued 30 s later count as
    /// "after repair". 3 copies per record.
    static func massFailure() -> OverlaySimulation.Report {
        var configuration = OverlaySimulation.Configuration()
        configuration.nodeCount = 1000
        configuration.warmup = .seconds(10)
        configuration.duration = .seconds(120)
        configuration.recordCount = 2000
        configuration.lookupRate = 50
        configuration.overlay.replicaCount = 3
        configuration.massFailure = OverlaySimulation.MassFailure(at: .seconds(30), fraction: 0.25)
        configuration.repairGrace = .seconds(30)
        return run(configuration, label: "mass failure 25 % of 1000")
    }

    /// 500 nodes with exponential session times of mean 10 minutes (each leaver replaced by a fresh
    /// joiner), retries on (3, the default), for 20 minutes.
    static func churn() -> OverlaySimulation.Report {
        var configuration = OverlaySimulation.Configuration()
        configuration.nodeCount = 500
        configuration.warmup = .seconds(10)
        configuration.duration = .seconds(1200)
        configuration.recordCount = 500
        configuration.lookupRate = 10
        configuration.churn = .exponential(meanSession: .seconds(600))
        return run(configuration, label: "churn n=500 mean session 600 s")
    }

    static func run(_ configuration: OverlaySimulation.Configuration, label: String) -> OverlaySimulation.Report {
        let report = OverlaySimulation.run(configuration)
        printError("smf-bench: overlay \(label):\n\(report)")
        return report
    }
}
