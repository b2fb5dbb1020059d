import Foundation

/// How many households of each kind a generated day has; the defaults are documented in docs/energy.md.
public struct EnergyDayConfiguration: Hashable, Sendable {
    /// Number of households on the feeder.
    public var households: Int = 50
    /// Interval length in minutes (15 or 5).
    public var intervalMinutes: Int = 15
    /// Share of households with PV.
    public var pvShare: Double = 0.7
    /// Share of PV households with a battery.
    public var batteryShareOfPV: Double = 0.4
    /// Share of households with an electric vehicle.
    public var evShare: Double = 0.4
    /// Share of households with a heat pump (two hot-water blocks a day).
    public var heatPumpShare: Double = 0.3
    /// Share of households with a washing machine run that day.
    public var washingMachineShare: Double = 0.6
    /// Share of households with a dishwasher run that evening.
    public var dishwasherShare: Double = 0.5

    public init(households: Int = 50, intervalMinutes: Int = 15) {
        self.households = households
        self.intervalMinutes = intervalMinutes
    }
}

extension EnergyDay {
    /// Generates a reproducible day: the same seed and configuration give the same day, bit for bit.
    ///
    /// The day runs from 06:00 to 06:00 the next morning, so that an EV that arrives in the evening and must be
    /// charged by the next morning fits in it.
    public static func generate(seed: UInt64, configuration: EnergyDayConfiguration = EnergyDayConfiguration()) -> EnergyDay {
        let grid = EnergyTimeGrid(intervalMinutes: configuration.intervalMinutes)
        var random = EnergyRandom(seed: seed)
        let cloud = feederCloudCover(grid: grid, random: &random)
        let households = (0..<max(configuration.households, 0)).map { index in
            makeHousehold(index: index, grid: grid, cloud: cloud, configuration: configuration, random: &random)
        }
        return EnergyDay(grid: grid, seed: seed, households: households)
    }

    /// The sky over the whole feeder: a clearness for the day and a slowly varying (AR(1)) cloud factor.
    private static func feederCloudCover(grid: EnergyTimeGrid, random: inout EnergyRandom) -> [Double] {
        let clearness = random.uniform(0.6, 1.0)
        // Per 15 minutes the cloud deviation keeps 90% of itself; scale the memory to the interval length.
        let memory = pow(0.9, Double(grid.intervalMinutes) / 15)
        let step = 0.08 * (Double(grid.intervalMinutes) / 15).squareRoot()
        var deviation = 0.0
        return (0..<grid.intervalCount).map { _ in
            deviation = memory * deviation + random.normal(mean: 0, deviation: step, clampedTo: -0.5...0.5)
            return min(max(clearness + deviation, 0.15), 1.0)
        }
    }

    private static func makeHousehold(
        index: Int, grid: EnergyTimeGrid, cloud: [Double], configuration: EnergyDayConfiguration, random: inout EnergyRandom
    ) -> Household {
        let id = Household.id(index: index)
        let pvPeak = random.chance(configuration.pvShare) ? (random.uniform(1, 8) * 10).rounded() / 10 : 0
        let production = (0..<grid.intervalCount).map { t -> Double in
            guard pvPeak > 0 else { return 0 }
            let hour = grid.hourOfDay(atMiddleOf: t)
            guard hour > 6, hour < 21 else { return 0 }
            let bell = pow(sin(Double.pi * (hour - 6) / 15), 1.5)
            return pvPeak * 0.8 * bell * cloud[t] * random.uniform(0.95, 1.05)
        }
        let baseLoad = makeBaseLoad(grid: grid, random: &random)
        var battery: Battery?
        if pvPeak > 0, random.chance(configuration.batteryShareOfPV) {
            let capacity = (random.uniform(5, 13) * 10).rounded() / 10
            battery = Battery(capacityKWh: capacity, powerKW: min(5, max(2.5, capacity / 2)), initialKWh: capacity / 2)
        }
        var loads: [FlexibleLoad] = []
        func add(_ kind: FlexibleLoadKind, suffix: String = "", power: Double, energy: Double, earliestHour: Double, deadlineHour: Double) {
            let duration = FlexibleLoad(id: "", household: id, kind: kind, powerKW: power, energyKWh: energy, earliestStart: 0, deadline: 0)
                .duration(on: grid)
            let earliest = min(grid.interval(hoursAfterStart: earliestHour - Double(grid.startHour)), grid.intervalCount - duration)
            let deadline = min(max(grid.interval(hoursAfterStart: deadlineHour - Double(grid.startHour)), earliest + duration), grid.intervalCount)
            loads.append(FlexibleLoad(
                id: "\(id).\(kind.rawValue)\(suffix)", household: id, kind: kind, powerKW: power, energyKWh: energy,
                earliestStart: earliest, deadline: deadline))
        }
        if random.chance(configuration.evShare) {
            let power = (random.uniform(7, 11) * 10).rounded() / 10
            let energy = (random.uniform(10, 30) * 10).rounded() / 10
            let arrival = random.normal(mean: 18, deviation: 1.2, clampedTo: 16...21.5)
            add(.electricVehicle, power: power, energy: energy, earliestHour: arrival, deadlineHour: 24 + random.uniform(5, 6))
        }
        if random.chance(configuration.heatPumpShare) {
            let power = (random.uniform(1.5, 3) * 10).rounded() / 10
            for (block, firstHour) in [(1, 6.0), (2, 15.0)] {
                let earliest = random.uniform(firstHour, firstHour + 3)
                let energy = (power * random.uniform(1, 2) * 10).rounded() / 10
                add(.heatPump, suffix: "\(block)", power: power, energy: energy, earliestHour: earliest,
                    deadlineHour: earliest + random.uniform(5, 8))
            }
        }
        if random.chance(configuration.washingMachineShare) {
            let earliest = random.normal(mean: 9, deviation: 2, clampedTo: 7...19)
            add(.washingMachine, power: 2, energy: 2, earliestHour: earliest, deadlineHour: earliest + random.uniform(4, 10))
        }
        if random.chance(configuration.dishwasherShare) {
            let energy = (random.uniform(1.2, 2) * 10).rounded() / 10
            let earliest = random.normal(mean: 20.5, deviation: 1, clampedTo: 18.5...23)
            add(.dishwasher, power: 2, energy: energy, earliestHour: earliest, deadlineHour: 24 + random.uniform(5, 6))
        }
        return Household(id: id, pvPeakKW: pvPeak, production: production, baseLoad: baseLoad, battery: battery, flexibleLoads: loads)
    }

    /// Base load: night floor, morning and evening peaks (each household's shifted by up to ±1 h), scaled to
    /// 6–14 kWh a day, with ±20% noise per interval.
    private static func makeBaseLoad(grid: EnergyTimeGrid, random: inout EnergyRandom) -> [Double] {
        let dailyKWh = random.uniform(6, 14)
        let morning = 7.5 + random.uniform(-1, 1)
        let evening = 19.5 + random.uniform(-1, 1)
        func bump(_ hour: Double, _ centre: Double, _ width: Double) -> Double {
            let distance = min(abs(hour - centre), 24 - abs(hour - centre))
            return exp(-0.5 * (distance / width) * (distance / width))
        }
        let shape = (0..<grid.intervalCount).map { t -> Double in
            let hour = grid.hourOfDay(atMiddleOf: t)
            return (0.25 + 0.9 * bump(hour, morning, 1) + 0.4 * bump(hour, 13, 2) + 1.3 * bump(hour, evening, 1.5))
                * random.uniform(0.8, 1.2)
        }
        let energy = shape.reduce(0, +) * grid.hours
        return shape.map { $0 * dailyKWh / energy }
    }
}
