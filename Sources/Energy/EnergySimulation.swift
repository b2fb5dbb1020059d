/// How the households on the feeder run their flexible loads and batteries.
public enum EnergyStrategy: String, CaseIterable, Codable, Sendable {
    /// Every load starts at its earliest start; batteries stay idle.
    case uncoordinated = "none"
    /// Each household alone maximises its own self-consumption: loads into its own PV surplus, the battery
    /// charges from its own surplus and covers its own deficit.
    case alone
    /// A coordinator plans all flexible loads and batteries for the feeder (``CommunityPlanner``).
    case community

    /// Label for tables.
    public var label: String {
        switch self {
        case .uncoordinated: "no coordination"
        case .alone: "each household alone"
        case .community: "community"
        }
    }
}

/// One strategy's result on one day, with the figures the demo and the bench report.
public struct StrategyOutcome: Hashable, Sendable {
    public var strategy: EnergyStrategy
    /// The feeder's net load (positive = import from the grid), kW per interval.
    public var feeder: [Double]
    /// All flexible loads together, kW per interval.
    public var flexible: [Double]
    /// Start interval of every flexible load, by id.
    public var starts: [String: Int]
    /// Grid-side battery power per interval, by household id.
    public var batteryPower: [String: [Double]]
    /// Highest import at the feeder, kW.
    public var peakKW: Double
    /// Highest export at the feeder, kW (0 if it never exports).
    public var maxExportKW: Double
    /// Share of the community's PV energy used inside the community (not exported at the feeder), %.
    public var selfConsumptionPct: Double
    /// Flexible-load energy run at other times than with no coordination, plus energy the batteries
    /// discharged, kWh.
    public var energyShiftedKWh: Double
}

/// The three strategies on the same day.
public struct EnergyComparison: Hashable, Sendable {
    public var day: EnergyDay
    /// In the order of ``EnergyStrategy/allCases``.
    public var outcomes: [StrategyOutcome]

    /// The outcome of `strategy`.
    public func outcome(_ strategy: EnergyStrategy) -> StrategyOutcome? {
        outcomes.first { $0.strategy == strategy }
    }

    /// How much lower `strategy`'s peak is than the peak of each household alone, %.
    public func peakReductionPct(_ strategy: EnergyStrategy) -> Double {
        guard let alone = outcome(.alone), let other = outcome(strategy), alone.peakKW > 0 else { return 0 }
        return 100 * (alone.peakKW - other.peakKW) / alone.peakKW
    }
}

/// Runs the strategies on a simulated day.
public enum EnergySimulation {
    /// All three strategies on `day`.
    public static func compare(_ day: EnergyDay) -> EnergyComparison {
        let baseline = flexibleCurve(day, starts: earliestStarts(day))
        return EnergyComparison(day: day, outcomes: EnergyStrategy.allCases.map { run($0, on: day, baselineFlexible: baseline) })
    }

    /// One strategy on `day`.
    public static func run(_ strategy: EnergyStrategy, on day: EnergyDay) -> StrategyOutcome {
        run(strategy, on: day, baselineFlexible: flexibleCurve(day, starts: earliestStarts(day)))
    }

    private static func run(_ strategy: EnergyStrategy, on day: EnergyDay, baselineFlexible: [Double]) -> StrategyOutcome {
        let grid = day.grid
        var starts: [String: Int] = [:]
        var batteryPower: [String: [Double]] = [:]
        switch strategy {
        case .uncoordinated:
            starts = earliestStarts(day)
        case .alone:
            for household in day.households {
                var net = household.inflexibleNet
                starts.merge(LoadPlanner.selfConsumption(household.flexibleLoads, onto: &net, grid: grid)) { a, _ in a }
                if let battery = household.battery {
                    batteryPower[household.id] = BatteryDispatch.selfConsumption(battery, net: net, grid: grid)
                }
            }
        case .community:
            let batteries = day.households.compactMap { household in household.battery.map { (id: household.id, battery: $0) } }
            let plan = CommunityPlanner.plan(inflexible: day.inflexibleNet, loads: day.flexibleLoads, batteries: batteries, grid: grid)
            starts = plan.starts
            batteryPower = plan.batteryPower
        }
        return outcome(strategy, on: day, starts: starts, batteryPower: batteryPower, baselineFlexible: baselineFlexible)
    }

    /// The figures of a plan (starts and battery schedules) on `day`.
    public static func outcome(
        _ strategy: EnergyStrategy, on day: EnergyDay, starts: [String: Int], batteryPower: [String: [Double]], baselineFlexible: [Double]? = nil
    ) -> StrategyOutcome {
        let grid = day.grid
        let flexible = flexibleCurve(day, starts: starts)
        var feeder = day.inflexibleNet
        for t in feeder.indices { feeder[t] += flexible[t] }
        var discharged = 0.0
        for id in batteryPower.keys.sorted() {
            let power = batteryPower[id] ?? []
            for (t, value) in power.enumerated() where t < feeder.count {
                feeder[t] += value
                discharged += max(0, -value) * grid.hours
            }
        }
        let production = day.households.reduce(0) { $0 + $1.production.reduce(0, +) } * grid.hours
        let exported = feeder.reduce(0) { $0 + max(0, -$1) } * grid.hours
        let baseline = baselineFlexible ?? flexibleCurve(day, starts: earliestStarts(day))
        let moved = zip(flexible, baseline).reduce(0) { $0 + max(0, $1.0 - $1.1) } * grid.hours
        return StrategyOutcome(
            strategy: strategy, feeder: feeder, flexible: flexible, starts: starts, batteryPower: batteryPower,
            peakKW: max(0, feeder.max() ?? 0), maxExportKW: max(0, -(feeder.min() ?? 0)),
            selfConsumptionPct: production > 0 ? 100 * (production - min(exported, production)) / production : 100,
            energyShiftedKWh: moved + discharged)
    }

    /// Every load at its earliest start.
    public static func earliestStarts(_ day: EnergyDay) -> [String: Int] {
        Dictionary(day.flexibleLoads.map { ($0.id, $0.earliestStart) }, uniquingKeysWith: { a, _ in a })
    }

    /// The flexible loads together, started at `starts` (a load without a start is left out), kW per interval.
    public static func flexibleCurve(_ day: EnergyDay, starts: [String: Int]) -> [Double] {
        var curve = [Double](repeating: 0, count: day.grid.intervalCount)
        for load in day.flexibleLoads {
            if let start = starts[load.id] { LoadPlanner.add(load, startingAt: start, to: &curve, grid: day.grid) }
        }
        return curve
    }
}

extension StrategyOutcome {
    /// Loads of `day` that did not start, started before their earliest start, or finish after their deadline.
    public func loadsOutsideTheirWindow(on day: EnergyDay) -> [String] {
        day.flexibleLoads.filter { load in
            guard let start = starts[load.id] else { return true }
            return start < load.earliestStart || start + load.duration(on: day.grid) > load.deadline
        }.map(\.id)
    }
}
