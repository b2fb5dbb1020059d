/// The time grid of a simulated day: `intervalCount` intervals of `intervalMinutes`, starting at
/// `startHour` (06:00 by default, so that evening arrivals and next-morning deadlines fall in one day).
public struct EnergyTimeGrid: Hashable, Codable, Sendable {
    /// Length of one interval in minutes (15 or 5).
    public var intervalMinutes: Int
    /// Number of intervals (a whole day: 1440 / intervalMinutes).
    public var intervalCount: Int
    /// Hour of day at which interval 0 starts.
    public var startHour: Int

    /// A day of 1440 minutes cut into `intervalMinutes`-minute intervals.
    public init(intervalMinutes: Int = 15, startHour: Int = 6) {
        self.intervalMinutes = intervalMinutes
        self.intervalCount = 1440 / max(intervalMinutes, 1)
        self.startHour = startHour
    }

    /// Interval length in hours (kW × hours = kWh).
    public var hours: Double { Double(intervalMinutes) / 60 }

    /// Hour of day (0..<24, fractional) at the middle of `interval`.
    public func hourOfDay(atMiddleOf interval: Int) -> Double {
        let hour = Double(startHour) + (Double(interval) + 0.5) * hours
        return hour.truncatingRemainder(dividingBy: 24)
    }

    /// The interval that contains `hour` hours after the grid's start (clamped to the day).
    public func interval(hoursAfterStart hour: Double) -> Int {
        min(max(Int((hour / hours).rounded(.down)), 0), intervalCount)
    }

    /// `HH:MM` of the start of `interval`.
    public func clockLabel(_ interval: Int) -> String {
        let minutes = (startHour * 60 + interval * intervalMinutes) % 1440
        let h = minutes / 60
        let m = minutes % 60
        return (h < 10 ? "0" : "") + "\(h):" + (m < 10 ? "0" : "") + "\(m)"
    }
}

/// What kind of appliance a flexible load is.
public enum FlexibleLoadKind: String, Hashable, Codable, Sendable, CaseIterable {
    case electricVehicle = "ev"
    case heatPump = "heat-pump"
    case washingMachine = "washing-machine"
    case dishwasher
}

/// A load that needs `energyKWh` at `powerKW`, may start at `earliestStart` and must be done by `deadline`.
///
/// It runs without interruption once started: full power for whole intervals and the remainder in its last
/// interval. Time is in intervals of the day's grid; `deadline` is exclusive (the load must have finished
/// when interval `deadline` begins).
public struct FlexibleLoad: Hashable, Codable, Sendable, Identifiable {
    /// Unique in the community, e.g. `h007.ev`.
    public var id: String
    /// The household the load belongs to.
    public var household: String
    public var kind: FlexibleLoadKind
    /// Power drawn while running, kW.
    public var powerKW: Double
    /// Energy needed, kWh.
    public var energyKWh: Double
    /// First interval in which the load may run.
    public var earliestStart: Int
    /// Interval by whose start the load must have finished (exclusive).
    public var deadline: Int

    public init(id: String, household: String, kind: FlexibleLoadKind, powerKW: Double, energyKWh: Double, earliestStart: Int, deadline: Int) {
        self.id = id
        self.household = household
        self.kind = kind
        self.powerKW = powerKW
        self.energyKWh = energyKWh
        self.earliestStart = earliestStart
        self.deadline = deadline
    }

    /// Number of intervals the load runs on `grid`.
    public func duration(on grid: EnergyTimeGrid) -> Int {
        let perInterval = powerKW * grid.hours
        guard perInterval > 0 else { return 0 }
        return Int((energyKWh / perInterval - 1e-9).rounded(.up))
    }

    /// Latest start that still finishes by the deadline.
    public func latestStart(on grid: EnergyTimeGrid) -> Int {
        deadline - duration(on: grid)
    }

    /// Power in each of the load's running intervals: full power, and the remainder in the last one.
    public func powerSteps(on grid: EnergyTimeGrid) -> [Double] {
        let count = duration(on: grid)
        guard count > 0 else { return [] }
        var steps = [Double](repeating: powerKW, count: count)
        let rest = energyKWh - powerKW * grid.hours * Double(count - 1)
        steps[count - 1] = max(0, rest / grid.hours)
        return steps
    }
}

/// A household battery: capacity and power limits, one-way efficiencies and its charge at the start of the day.
public struct Battery: Hashable, Codable, Sendable {
    public var capacityKWh: Double
    /// Maximum charge and discharge power, kW.
    public var powerKW: Double
    /// Stored energy at interval 0, kWh.
    public var initialKWh: Double
    /// Fraction of charged energy that is stored.
    public var chargeEfficiency: Double
    /// Fraction of stored energy that reaches the house when discharging.
    public var dischargeEfficiency: Double

    public init(capacityKWh: Double, powerKW: Double, initialKWh: Double, chargeEfficiency: Double = 0.95, dischargeEfficiency: Double = 0.95) {
        self.capacityKWh = capacityKWh
        self.powerKW = powerKW
        self.initialKWh = initialKWh
        self.chargeEfficiency = chargeEfficiency
        self.dischargeEfficiency = dischargeEfficiency
    }
}

/// One household: its PV output and base load per interval (kW), an optional battery and its flexible loads.
public struct Household: Hashable, Codable, Sendable, Identifiable {
    public var id: String
    /// Installed PV peak power, kWp (0 without PV).
    public var pvPeakKW: Double
    /// PV output per interval, kW.
    public var production: [Double]
    /// Consumption that cannot be moved, per interval, kW.
    public var baseLoad: [Double]
    public var battery: Battery?
    public var flexibleLoads: [FlexibleLoad]

    public init(id: String, pvPeakKW: Double, production: [Double], baseLoad: [Double], battery: Battery?, flexibleLoads: [FlexibleLoad]) {
        self.id = id
        self.pvPeakKW = pvPeakKW
        self.production = production
        self.baseLoad = baseLoad
        self.battery = battery
        self.flexibleLoads = flexibleLoads
    }

    /// Base load minus PV per interval (kW; negative when the household has a surplus).
    public var inflexibleNet: [Double] {
        zip(baseLoad, production).map { $0 - $1 }
    }
}

/// A simulated day of a community of households on one feeder.
public struct EnergyDay: Hashable, Codable, Sendable {
    public var grid: EnergyTimeGrid
    public var seed: UInt64
    public var households: [Household]

    public init(grid: EnergyTimeGrid, seed: UInt64, households: [Household]) {
        self.grid = grid
        self.seed = seed
        self.households = households
    }

    /// Every flexible load of every household.
    public var flexibleLoads: [FlexibleLoad] { households.flatMap(\.flexibleLoads) }

    /// The feeder's inflexible net load (Σ base load − PV), kW per interval.
    public var inflexibleNet: [Double] {
        var sum = [Double](repeating: 0, count: grid.intervalCount)
        for household in households {
            for (t, value) in household.inflexibleNet.enumerated() where t < sum.count { sum[t] += value }
        }
        return sum
    }
}

extension FlexibleLoad {
    /// Whether the load can be planned on `grid`: positive, finite power (≤ 100 kW) and energy (≤ 500 kWh), and
    /// a window inside the day that is long enough to run it. Declarations from the network are checked with this
    /// before anything is computed from them.
    public func isValid(on grid: EnergyTimeGrid) -> Bool {
        guard powerKW.isFinite, energyKWh.isFinite, powerKW > 0, powerKW <= 100, energyKWh > 0, energyKWh <= 500,
            earliestStart >= 0, deadline <= grid.intervalCount, earliestStart < deadline
        else { return false }
        // Bounded above, so the conversion to Int cannot trap.
        guard energyKWh / (powerKW * grid.hours) <= Double(grid.intervalCount) else { return false }
        return duration(on: grid) <= deadline - earliestStart
    }
}

extension Battery {
    /// Change of stored energy, kWh, when the battery runs `gridKW` (grid side, positive = charging) for `hours`.
    public func storedChange(gridKW: Double, hours: Double) -> Double {
        gridKW >= 0 ? gridKW * chargeEfficiency * hours : gridKW / dischargeEfficiency * hours
    }

    /// Whether the battery's figures are physical: finite, capacity and power positive and bounded, stored energy
    /// within the capacity, efficiencies in (0, 1].
    public var isValid: Bool {
        let values = [capacityKWh, powerKW, initialKWh, chargeEfficiency, dischargeEfficiency]
        return values.allSatisfy(\.isFinite) && capacityKWh > 0 && capacityKWh <= 1000 && powerKW > 0 && powerKW <= 100
            && initialKWh >= 0 && initialKWh <= capacityKWh && chargeEfficiency > 0 && chargeEfficiency <= 1
            && dischargeEfficiency > 0 && dischargeEfficiency <= 1
    }
}
