import ArgumentParser
import Foundation
import Overlay
import OverlaySimulation

/// `smf sim`: deterministic simulations that run in this process, on a virtual clock and network.
struct SimCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sim",
        abstract: "Run a deterministic simulation (virtual clock and network) in this process.",
        subcommands: [SimOverlayCommand.self]
    )
}

/// `smf sim overlay`: a whole Chord ring of ``ChordNode`` state machines in ``OverlaySimulation``.
struct SimOverlayCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "overlay",
        abstract: "Simulate an overlay ring and print hops, lookup success, record survival and traffic.",
        discussion: """
            Builds a converged ring of --nodes nodes, runs a 10 s warm-up, stores --records signed records \
            through puts, then measures for --duration seconds of virtual time: a Poisson stream of gets \
            (--lookup-rate per second over the ring) from random live nodes, under the chosen churn. With \
            --mass-failure PCT, that percentage of the live nodes fails at once a quarter of the way into \
            the measurement; lookups issued 30 s later (or a quarter of the duration, if shorter) count as \
            "after repair". Prints one `name value [unit]` line per figure. The same seed gives the same \
            figures (wall time and speed aside).
            """
    )

    /// Session-time models of ``OverlaySimulation/Churn``.
    enum ChurnModel: String, ExpressibleByArgument, CaseIterable {
        case none, exponential, pareto
    }

    @Option(name: .long, help: "Nodes in the ring.")
    var nodes = 1000

    @Option(name: .long, help: "Churn model: none, exponential or pareto (each leaver is replaced by a fresh joiner).")
    var churn = ChurnModel.none

    @Option(name: .long, help: ArgumentHelp("Mean session time under churn, in seconds.", valueName: "seconds"))
    var meanSession = 600.0

    @Option(name: .long, help: "Shape of the Pareto session times (> 1).")
    var paretoShape = 2.0

    @Option(name: .long, help: ArgumentHelp("Virtual seconds measured (after the warm-up and the puts).", valueName: "seconds"))
    var duration = 120.0

    @Option(name: .long, help: "Seed of every random choice.")
    var seed: UInt64 = 1

    @Option(name: .long, help: ArgumentHelp("Percentage of live nodes that fail at once during the measurement.", valueName: "pct"))
    var massFailure: Double?

    @Option(name: .long, help: "Records stored before measuring.")
    var records = 200

    @Option(name: .long, help: "Gets per second over the whole ring.")
    var lookupRate = 20.0

    @Option(name: .long, help: "Total copies of each record (owner plus successors).")
    var replicas = 3

    func validate() throws {
        guard (2...100_000).contains(nodes) else { throw ValidationError("--nodes must be between 2 and 100000, not \(nodes)") }
        guard duration > 0, duration <= 86_400 else { throw ValidationError("--duration must be between 0 and 86400 seconds, not \(duration)") }
        guard meanSession >= 1 else { throw ValidationError("--mean-session must be at least 1 second, not \(meanSession)") }
        guard paretoShape > 1 else { throw ValidationError("--pareto-shape must be greater than 1, not \(paretoShape)") }
        if let massFailure, !(massFailure > 0 && massFailure < 100) {
            throw ValidationError("--mass-failure must be a percentage between 0 and 100 (exclusive), not \(massFailure)")
        }
        guard (0...1_000_000).contains(records) else { throw ValidationError("--records must be between 0 and 1000000, not \(records)") }
        guard lookupRate >= 0, lookupRate <= 100_000 else { throw ValidationError("--lookup-rate must be between 0 and 100000, not \(lookupRate)") }
        guard (1...16).contains(replicas) else { throw ValidationError("--replicas must be between 1 and 16, not \(replicas)") }
    }

    /// The simulation the options describe.
    var simulation: OverlaySimulation.Configuration {
        var configuration = OverlaySimulation.Configuration()
        configuration.nodeCount = nodes
        configuration.seed = seed
        configuration.warmup = .seconds(10)
        configuration.duration = .milliseconds(Int64(duration * 1000))
        configuration.recordCount = records
        configuration.lookupRate = lookupRate
        configuration.overlay.replicaCount = replicas
        let session = Duration.milliseconds(Int64(meanSession * 1000))
        switch churn {
        case .none: configuration.churn = .none
        case .exponential: configuration.churn = .exponential(meanSession: session)
        case .pareto: configuration.churn = .pareto(meanSession: session, shape: paretoShape)
        }
        if let massFailure {
            let quarter = Duration.milliseconds(Int64(duration * 250))
            configuration.massFailure = OverlaySimulation.MassFailure(at: quarter, fraction: massFailure / 100)
            configuration.repairGrace = min(.seconds(30), quarter)
        }
        return configuration
    }

    func run() throws {
        let report = OverlaySimulation.run(simulation)
        for line in Self.lines(of: report, massFailure: massFailure != nil) { print(line) }
    }

    /// The printed figures, `name value [unit]`.
    static func lines(of report: OverlaySimulation.Report, massFailure: Bool) -> [String] {
        func fixed(_ value: Double, _ digits: Int) -> String { String(format: "%.\(digits)f", value) }
        var lines = [
            "nodes \(report.nodeCount)",
            "live_nodes_at_end \(report.liveNodesAtEnd)",
            "ring_after_warmup_consistent \(report.ringAfterWarmup.isConsistent)",
            "hops_mean \(fixed(report.hopsMean, 2)) hops",
            "hops_p99 \(report.hopsP99) hops",
            "lookups \(report.lookups)",
            "lookup_success \(fixed(100 * report.lookupSuccess, 2)) %",
        ]
        if massFailure {
            lines.append("lookup_success_after_repair \(fixed(100 * report.lookupSuccessAfterRepair, 2)) %")
            lines.append("lookups_after_repair \(report.lookupsAfterRepair)")
            lines.append("records_exposed_to_mass_failure \(report.recordsExposedToMassFailure)")
        }
        lines += [
            "puts_stored \(report.putsStored)/\(report.putsIssued)",
            "records_stored \(report.recordsStored)",
            "record_survival \(fixed(100 * report.recordSurvival, 2)) %",
            "maintenance_bytes_per_node_s \(fixed(report.maintenanceBytesPerNodePerSecond, 1)) B/s",
            "request_bytes_per_node_s \(fixed(report.requestBytesPerNodePerSecond, 1)) B/s",
            "events \(report.events)",
            "simulated_time \(fixed(report.simulatedSeconds, 1)) s",
            "wall_time \(fixed(report.wallSeconds, 2)) s",
            "cpu_time \(fixed(report.cpuSeconds, 2)) s",
            "speed \(fixed(report.speedup, 1)) x_real_time",
            "cpu_speed \(fixed(report.cpuSpeedup, 1)) x_real_time",
        ]
        return lines
    }
}
