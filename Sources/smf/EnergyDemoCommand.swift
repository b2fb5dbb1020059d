import ArgumentParser
import Composition
import Energy

/// `smf demo energy`: a simulated day of an energy community on one feeder under three strategies.
///
/// Pure computation (no nodes, no sockets): the day is generated from the seed, the three strategies run on
/// it, and the community strategy runs once more through the protocol components (meters, balance service,
/// two coordinators, flexibility services) with every message encoded as it would travel in SIP. With
/// `--components` it runs a third time through the service components, wired as a composition on three nodes.
struct EnergyDemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "energy",
        abstract: "Simulate a day of an energy community; print the feeder load curves and figures of three strategies."
    )

    @Option(name: .long, help: "Households on the feeder (1…1000).")
    var households: Int = 50

    @Option(name: .long, help: "Seed of the simulated day (the same seed gives the same day).")
    var seed: UInt64 = 1

    @Option(name: .long, help: "Interval length in minutes: 15 or 5.")
    var interval: Int = 15

    @Flag(name: .long, help: "Leave out the plot; print the table only.")
    var noPlot = false

    @Flag(
        name: .long,
        help: "Also run the community through the service components (household-meter, flexibility, community-balance, two coordinators) wired as a composition on three nodes, in this process.")
    var components = false

    func validate() throws {
        guard (1...1000).contains(households) else { throw ValidationError("--households must be 1…1000, not \(households)") }
        guard interval == 15 || interval == 5 else { throw ValidationError("--interval must be 15 or 5, not \(interval)") }
    }

    func run() async throws {
        let day = EnergyDay.generate(seed: seed, configuration: EnergyDayConfiguration(households: households, intervalMinutes: interval))
        let comparison = EnergySimulation.compare(day)
        let loads = day.flexibleLoads
        let batteries = day.households.filter { $0.battery != nil }.count
        let pv = day.households.filter { $0.pvPeakKW > 0 }
        print(
            """
            energy community: \(households) households, seed \(seed), \(interval)-min intervals from \(day.grid.clockLabel(0))
            \(pv.count) with PV (\(format(pv.reduce(0) { $0 + $1.pvPeakKW })) kWp), \(batteries) batteries, \(loads.count) flexible loads
            """)
        if !noPlot {
            print()
            print(EnergyReport.plot(comparison))
        }
        print()
        print(EnergyReport.table(comparison))

        let run = EnergyCommunityRun(day: day, coordinatorIDs: ["coordinator-1", "coordinator-2"]).run()
        let missed = run.outcome.loadsOutsideTheirWindow(on: day)
        print()
        print(
            """
            protocol run: \(run.messages) messages, \(run.bytes) bytes of \(EnergyMessage.contentType), \(run.rejected) rejected
            community peak \(format(run.outcome.peakKW)) kW; coordinator-2 deferred to \(run.deferredTo["coordinator-2"] ?? "nobody"); \
            deadlines met: \(loads.count - missed.count)/\(loads.count)
            """)
        var componentsMissed = 0
        if components {
            let result = try await componentsRun()
            componentsMissed = result.outcome.loadsOutsideTheirWindow(on: day).count
            print(
                """
                components run: \(result.deliveries) values delivered over wires (\(result.bytes) bytes), \(result.refused) refused; \
                same plan as the protocol run: \(result.starts == run.starts ? "yes" : "no")
                community peak \(format(result.outcome.peakKW)) kW; deadlines met: \(loads.count - componentsMissed)/\(loads.count)
                """)
        }
        if !missed.isEmpty || componentsMissed > 0 || comparison.outcomes.contains(where: { !$0.loadsOutsideTheirWindow(on: day).isEmpty }) {
            print("energy demo failed: a flexible load ran outside its window")
            throw ExitCode(1)
        }
    }

    /// The day through the service components: the households on three nodes (fewer if there are fewer households),
    /// two coordinators, on a virtual clock.
    private func componentsRun() async throws -> EnergyCompositionRun.Result {
        let nodes = ["node-a", "node-b", "node-c"].prefix(max(1, min(3, households)))
        var builder = EnergyCompositionBuilder(households: households, nodes: Array(nodes), coordinatorNodes: [nodes[nodes.startIndex + nodes.count / 2], nodes[nodes.endIndex - 1]])
        builder.seed = seed
        builder.intervalMinutes = interval
        builder.dayStart = "2025-06-21T06:00:00Z"
        let composition = try CompositionLoader().load(bytes: Array(builder.xml().utf8), fileName: "energy-demo.xml").composition.orThrow()
        return try await EnergyCompositionRun(composition: composition).run()
    }

    private func format(_ value: Double) -> String {
        String((value * 10).rounded() / 10)
    }
}

extension Optional where Wrapped == Composition {
    /// The composition, or an error saying the demo's own composition did not load.
    fileprivate func orThrow() throws -> Composition {
        guard let self else { throw ValidationError("the demo's composition did not load") }
        return self
    }
}
