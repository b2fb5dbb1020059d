/// The community's plan for the rest of the day: a start for every flexible load and a schedule for every battery.
public struct CommunityPlan: Hashable, Codable, Sendable {
    /// Start interval of each flexible load, by load id.
    public var starts: [String: Int]
    /// Grid-side power of each battery per interval (kW, positive = charging), by household id.
    public var batteryPower: [String: [Double]]
    /// The feeder's planned net load, kW per interval.
    public var feeder: [Double]

    public init(starts: [String: Int], batteryPower: [String: [Double]], feeder: [Double]) {
        self.starts = starts
        self.batteryPower = batteryPower
        self.feeder = feeder
    }
}

/// What a coordinator computes: greedy valley filling of the flexible loads on the community's net load, then
/// battery peak shaving on the result (docs/energy.md explains both and the greedy's bound).
public enum CommunityPlanner {
    /// Plans the loads and batteries from interval `from` to the end of the day.
    ///
    /// - Parameters:
    ///   - inflexible: the community's net load that the plan cannot move (base load − PV, and loads already
    ///     running), kW per interval of the whole day.
    ///   - loads: the flexible loads not started yet.
    ///   - batteries: each battery by household id, with its stored energy at interval `from`.
    ///   - grid: the day's time grid.
    ///   - from: the first interval the plan may change.
    public static func plan(
        inflexible: [Double], loads: [FlexibleLoad], batteries: [(id: String, battery: Battery)], grid: EnergyTimeGrid, from: Int = 0
    ) -> CommunityPlan {
        var curve = inflexible
        let starts = LoadPlanner.valleyFill(loads, onto: &curve, grid: grid, from: from)
        let first = min(max(from, 0), curve.count)
        let rest = Array(curve[first...])
        // 0.1 kWh steps, coarser for very large communities so that the work stays bounded (≈ 2,000 steps).
        let capacity = batteries.reduce(0) { $0 + $1.battery.capacityKWh }
        let shaving = BatteryDispatch.peakShaving(batteries, curve: rest, grid: grid, quantumKWh: max(0.1, capacity / 2000))
        var batteryPower: [String: [Double]] = [:]
        for id in shaving.keys.sorted() {
            let power = shaving[id] ?? []
            let full = [Double](repeating: 0, count: first) + power
            batteryPower[id] = full
            for (t, value) in full.enumerated() where t < curve.count { curve[t] += value }
        }
        return CommunityPlan(starts: starts, batteryPower: batteryPower, feeder: curve)
    }
}
