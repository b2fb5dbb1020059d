import Synchronization

/// What happened in one simulated house on one day: which loads its flexibility service switched on and when, the
/// battery power it set, and whether the household left the community.
public struct SimulatedHouseState: Sendable, Hashable {
    /// Start interval of each flexible load that started, by load id.
    public var starts: [String: Int] = [:]
    /// Grid-side battery power set for an interval (kW, positive = charging), by interval.
    public var batteryKW: [Int: Double] = [:]
    /// The interval from which the household is out of the community, if it left.
    public var leftAt: Int?

    public init() {}
}

/// The simulated houses of one node: what a `flexibility` service switches in a house and what the house's
/// `household-meter` then measures. In a real home the appliances and the meter are the same physical house; here the
/// two services of a household share it through this object, so they must run on the same node (the same factory
/// set, see ``EnergyComponents/factories(houses:)``). A meter whose house has no flexibility service on its node
/// measures no flexible load.
///
/// It also keeps the generated days, so that the services of one node generate each seeded day once.
///
/// A node configured with its households (``hosted``, `smf run --energy-households`) has those houses only; without,
/// it simulates whichever households of whichever day its services name (the in-process runs and tests).
public final class SimulatedHouses: Sendable {
    private struct HouseKey: Hashable {
        var application: String
        var household: String
        var day: Int
    }

    private struct DayKey: Hashable {
        var seed: UInt64
        var households: Int
        var intervalMinutes: Int
    }

    private let houses = Mutex<[HouseKey: SimulatedHouseState]>([:])
    /// Households that left the community, by application: they stay out on the following days.
    private let left = Mutex<Set<[String]>>([])
    private let days = Mutex<[DayKey: EnergyDay]>([:])
    /// The households whose houses this node has, if it was configured with them.
    public let hosted: SimulatedHouseholds?

    /// The houses of `hosted`, or (nil) of any household a service names.
    public init(hosting hosted: SimulatedHouseholds? = nil) {
        self.hosted = hosted
    }

    /// The simulated day of `households` households from `seed` (generated once per node).
    public func day(seed: UInt64, households: Int, intervalMinutes: Int) -> EnergyDay {
        let key = DayKey(seed: seed, households: households, intervalMinutes: intervalMinutes)
        if let day = days.withLock({ $0[key] }) { return day }
        let day = EnergyDay.generate(seed: seed, configuration: EnergyDayConfiguration(households: households, intervalMinutes: intervalMinutes))
        days.withLock { $0[key] = day }
        return day
    }

    /// The state of `household`'s house in `application` on `day` (0 = the first simulated day).
    public func state(application: String, household: String, day: Int) -> SimulatedHouseState {
        houses.withLock { $0[HouseKey(application: application, household: household, day: day)] } ?? SimulatedHouseState()
    }

    /// Whether `household` left the community of `application` (on any day so far).
    public func hasLeft(application: String, household: String) -> Bool {
        left.withLock { $0.contains([application, household]) }
    }

    /// The household leaves the community of `application` from interval `index` of `day` on, and stays out.
    func leave(application: String, household: String, day: Int, from index: Int) {
        left.withLock { _ = $0.insert([application, household]) }
        update(application: application, household: household, day: day) { $0.leftAt = $0.leftAt.map { min($0, index) } ?? index }
    }

    /// What every house did on the days kept (at most the last two per house), by application, household and day.
    public func reports() -> [SimulatedHouseReport] {
        houses.withLock { houses in
            houses.map { key, state in
                SimulatedHouseReport(
                    application: key.application, household: key.household, day: key.day, starts: state.starts,
                    batteryKW: Dictionary(uniqueKeysWithValues: state.batteryKW.map { (String($0.key), $0.value) }), leftAt: state.leftAt)
            }
        }.sorted { ($0.application, $0.household, $0.day) < ($1.application, $1.household, $1.day) }
    }

    /// Changes a house's state. Days more than one before `day` are forgotten, so that a node running for weeks
    /// keeps two days per house.
    func update(application: String, household: String, day: Int, _ change: (inout SimulatedHouseState) -> Void) {
        houses.withLock { houses in
            change(&houses[HouseKey(application: application, household: household, day: day), default: SimulatedHouseState()])
            let stale = HouseKey(application: application, household: household, day: day - 2)
            houses[stale] = nil
        }
    }
}

/// What one simulated house did on one day, as `smf energy houses` shows it (control command `energy.houses`).
public struct SimulatedHouseReport: Sendable, Hashable, Codable {
    /// The application (composition) whose services switched the house.
    public var application: String
    public var household: String
    /// The simulated day, 0 for the first.
    public var day: Int
    /// Start interval of each flexible load that started, by load id.
    public var starts: [String: Int]
    /// Grid-side battery power set for an interval (kW, positive = charging), by interval (as a decimal string).
    public var batteryKW: [String: Double]
    /// The interval from which the household is out of the community, if it left that day.
    public var leftAt: Int?

    public init(application: String, household: String, day: Int, starts: [String: Int], batteryKW: [String: Double], leftAt: Int?) {
        self.application = application
        self.household = household
        self.day = day
        self.starts = starts
        self.batteryKW = batteryKW
        self.leftAt = leftAt
    }

    /// The battery power per interval of a day of `intervalCount` intervals (0 where none was set).
    public func batteryPower(intervalCount: Int) -> [Double] {
        var power = [Double](repeating: 0, count: intervalCount)
        for (key, kW) in batteryKW {
            if let t = Int(key), power.indices.contains(t) { power[t] = kW }
        }
        return power
    }
}
