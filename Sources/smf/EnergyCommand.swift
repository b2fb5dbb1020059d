import ArgumentParser
import ControlChannel
import Energy
import Foundation
import SMFNode

/// `smf run`'s energy options: the simulated households whose houses the node has (docs/energy.md, "Households on a
/// node").
struct EnergyRunOptions: ParsableArguments {
    @Option(
        name: .long,
        help: ArgumentHelp(
            "The households of the simulated day whose houses this node has, as ids and ranges (h000-h016, h003 h007): its household-meter and flexibility services host those (all of them when the composition names none) and no others. Default: any household a composition names.",
            valueName: "list"))
    var energyHouseholds: String?

    @Option(name: .long, help: ArgumentHelp("The seed of the simulated day of --energy-households (default 1).", valueName: "seed"))
    var energySeed: UInt64?

    @Option(
        name: .long,
        help: ArgumentHelp("How many households the simulated day of --energy-households has, 1…1000 (default 50).", valueName: "n"))
    var energySimulatedHouseholds: Int?

    func validate() throws {
        _ = try options()
    }

    /// The node's energy configuration.
    func options() throws -> NodeEnergyOptions {
        do {
            return try NodeEnergyOptions.parse(households: energyHouseholds, seed: energySeed, simulatedHouseholds: energySimulatedHouseholds)
        } catch {
            throw ValidationError(error.problem)
        }
    }
}

/// `smf energy`: the energy services on the running node.
struct EnergyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "energy",
        abstract: "Inspect the energy services of the running node.",
        subcommands: [EnergyHousesCommand.self]
    )
}

/// `smf energy houses`: what the node's simulated houses did.
struct EnergyHousesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "houses",
        abstract: "Show the node's simulated households and what their flexibility services switched.",
        discussion: """
            One line per house, application and simulated day (the node keeps the last two days): the flexible loads \
            that started, as LOAD@INTERVAL (intervals of the day from 06:00), the highest battery power set to \
            charge (+) and discharge (-), and the interval from which the household left the community. --json \
            prints every battery setting too.
            """
    )

    @OptionGroup var node: NodeOptions

    @Option(name: .long, help: ArgumentHelp("Only the houses of this application.", valueName: "name"))
    var app: String?

    @Option(name: .long, help: ArgumentHelp("Only this simulated day (0 for the first).", valueName: "n"))
    var day: Int?

    @Flag(name: .long, help: "Print the raw JSON answer instead of a table.")
    var json = false

    func run() async throws {
        var answer = try await node.withControlClient(command: "smf energy houses") { client in
            try await client.call("energy.houses", arguments: [String: String](), as: NodeEnergyHouses.self)
        }
        answer.houses = answer.houses.filter { house in (app.map { $0 == house.application } ?? true) && (day.map { $0 == house.day } ?? true) }
        if json {
            print(try ControlValue(encoding: answer).jsonText(pretty: true))
            return
        }
        print("households: \(answer.households.map(\.description) ?? "none of its own (any a composition names)")")
        guard !answer.houses.isEmpty else {
            print("no house was switched yet")
            return
        }
        print(AppCommand.table(["APPLICATION", "DAY", "HOUSEHOLD", "LOADS STARTED", "BATTERY kW", "LEFT AT"], answer.houses.map(Self.row)))
    }

    static func row(_ house: SimulatedHouseReport) -> [String] {
        let loads = house.starts.sorted { ($0.value, $0.key) < ($1.value, $1.key) }.map { load, interval in
            let name = load.hasPrefix(house.household + ".") ? String(load.dropFirst(house.household.count + 1)) : load
            return "\(name)@\(interval)"
        }
        let charge = house.batteryKW.values.max() ?? 0
        let discharge = house.batteryKW.values.min() ?? 0
        let battery = house.batteryKW.isEmpty ? "-" : String(format: "+%.1f/%.1f", max(charge, 0), min(discharge, 0))
        return [house.application, "\(house.day)", house.household, loads.isEmpty ? "-" : loads.joined(separator: " "), battery, house.leftAt.map(String.init) ?? "-"]
    }
}
