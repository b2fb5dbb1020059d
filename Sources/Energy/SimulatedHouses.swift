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

    public init() {}

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
