import ControlChannel
public import Energy

/// The energy services' part of a node (docs/energy.md, "Households on a node"): the simulated households whose houses
/// it has, and those houses, which its `household-meter` and `flexibility` services share.
///
/// Configured with households (`smf run --energy-households h000-h016 --energy-seed 1`), the node hosts those and no
/// others: a meter or flexibility service placed on it serves the households it names among them, or all of them
/// when it names none, and a deploy that places one for another household (or another day) is refused before the
/// node commits its part. Without, the node simulates whichever households its services name.
public struct NodeEnergyOptions: Sendable {
    /// The node's simulated houses, handed to its energy factories.
    public let houses: SimulatedHouses

    /// The households whose houses the node has, if configured.
    public var households: SimulatedHouseholds? { houses.hosted }

    /// A node with the houses of `households` (nil: of any household its services name).
    public init(households: SimulatedHouseholds? = nil) {
        houses = SimulatedHouses(hosting: households)
    }

    /// Reads `smf run --energy-households LIST [--energy-seed S] [--energy-simulated-households N]`.
    /// - Throws: ``SMFNodeError`` naming the option and what is wrong with it.
    public static func parse(households: String?, seed: UInt64?, simulatedHouseholds: Int?) throws(SMFNodeError) -> NodeEnergyOptions {
        guard let households else {
            if seed != nil || simulatedHouseholds != nil {
                throw SMFNodeError(problem: "--energy-seed and --energy-simulated-households describe the households of --energy-households; give it too")
            }
            return NodeEnergyOptions()
        }
        do {
            return NodeEnergyOptions(
                households: try SimulatedHouseholds(parsing: households, seed: seed ?? 1, simulatedHouseholds: simulatedHouseholds ?? 50))
        } catch {
            throw SMFNodeError(problem: "--energy-households '\(households)': \(error.message)")
        }
    }
}

/// The answer to `energy.houses`: the node's households and what each house did on the days kept.
public struct NodeEnergyHouses: Codable, Sendable, Hashable {
    /// The node's households (`smf run --energy-households`), nil when it has none of its own.
    public var households: SimulatedHouseholds?
    /// Each house that a service switched, by application, household and day (the last two days per house).
    public var houses: [SimulatedHouseReport]

    public init(households: SimulatedHouseholds?, houses: [SimulatedHouseReport]) {
        self.households = households
        self.houses = houses
    }
}

extension SMFNode {
    /// Registers `energy.houses` (docs/cli.md, `smf energy houses`).
    func registerEnergyCommands() throws(ControlError) {
        let houses = configuration.energy.houses
        try control.register(
            "energy.houses", arguments: NoArguments.self,
            summary: "the node's simulated households and what their flexibility services switched: load starts, battery power, when they left"
        ) { _, _ in
            NodeEnergyHouses(households: houses.hosted, houses: houses.reports())
        }
    }
}
