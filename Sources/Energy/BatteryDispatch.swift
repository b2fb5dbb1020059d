/// Battery schedules: grid-side power per interval, kW (positive while charging, negative while discharging).
public enum BatteryDispatch {
    /// The usual home controller: charge from the household's own surplus, discharge to cover its own deficit.
    ///
    /// - Parameters:
    ///   - battery: the household's battery.
    ///   - net: the household's net load without the battery (kW per interval; negative = surplus).
    ///   - grid: the day's time grid.
    public static func selfConsumption(_ battery: Battery, net: [Double], grid: EnergyTimeGrid) -> [Double] {
        var stored = battery.initialKWh
        return net.map { load in
            if load < 0 {
                let room = (battery.capacityKWh - stored) / (battery.chargeEfficiency * grid.hours)
                let power = max(0, min(-load, battery.powerKW, room))
                stored += power * battery.chargeEfficiency * grid.hours
                return power
            } else {
                let available = stored * battery.dischargeEfficiency / grid.hours
                let power = max(0, min(load, battery.powerKW, available))
                stored -= power / battery.dischargeEfficiency * grid.hours
                return -power
            }
        }
    }

    /// Community peak shaving: the batteries move energy from the curve's highest intervals to its lowest.
    ///
    /// Repeatedly takes the highest interval of the curve (batteries included) and looks, over all batteries,
    /// for the lowest interval at which one of them can charge a quantum of energy that it then discharges in
    /// the high one (charging may come before or after, as the battery's stored energy allows; each battery ends
    /// the day with what it started with). Stops when no move lowers the high interval below the low one after
    /// losses. A move never raises the curve above the interval it lowers, so the peak never goes up.
    ///
    /// - Parameters:
    ///   - batteries: the batteries (their ids are the caller's), each with its stored energy at `curve[0]`.
    ///   - curve: the community's net load without batteries, kW per interval.
    ///   - grid: the day's time grid.
    ///   - quantumKWh: stored energy moved per step (smaller is flatter and slower).
    /// - Returns: each battery's grid-side power per interval, by id.
    public static func peakShaving(
        _ batteries: [(id: String, battery: Battery)], curve: [Double], grid: EnergyTimeGrid, quantumKWh: Double = 0.1
    ) -> [String: [Double]] {
        let count = curve.count
        var load = curve
        var flows = batteries.map { _ in [Double](repeating: 0, count: count) }  // stored kWh per interval
        var stored = batteries.map { [Double](repeating: $0.battery.initialKWh, count: count + 1) }
        var blocked = [Bool](repeating: false, count: count)
        let q = quantumKWh

        func gridPower(_ flow: Double, _ battery: Battery) -> Double {
            flow >= 0 ? flow / (battery.chargeEfficiency * grid.hours) : flow * battery.dischargeEfficiency / grid.hours
        }

        var steps = 0
        while steps < 1_000_000 {
            steps += 1
            guard let high = (0..<count).filter({ !blocked[$0] }).max(by: { load[$0] < load[$1] || (load[$0] == load[$1] && $0 > $1) })
            else { break }
            var best: (battery: Int, low: Int, level: Double)?
            for (b, entry) in batteries.enumerated() {
                let battery = entry.battery
                // Discharge q more at `high`, within the power limit.
                guard flows[b][high] <= 0, gridPower(flows[b][high] - q, battery) >= -battery.powerKW - 1e-9 else { continue }
                func consider(_ low: Int) {
                    guard flows[b][low] >= 0, gridPower(flows[b][low] + q, battery) <= battery.powerKW + 1e-9 else { return }
                    let level = load[low] + gridPower(flows[b][low] + q, battery) - gridPower(flows[b][low], battery)
                    if level < (best?.level ?? .infinity) - 1e-12 { best = (b, low, level) }
                }
                // Charging earlier: stored energy rises by q over (low, high].
                var peakStored = stored[b][high]
                var low = high - 1
                while low >= 0 {
                    peakStored = max(peakStored, stored[b][low + 1])
                    if peakStored + q > battery.capacityKWh + 1e-9 { break }
                    consider(low)
                    low -= 1
                }
                // Charging later: stored energy falls by q over (high, low].
                var leastStored = stored[b][high + 1]
                low = high + 1
                while low < count {
                    leastStored = min(leastStored, stored[b][low])
                    if leastStored - q < -1e-9 { break }
                    consider(low)
                    low += 1
                }
            }
            guard let move = best else {
                blocked[high] = true
                continue
            }
            let battery = batteries[move.battery].battery
            let highDrop = gridPower(flows[move.battery][high] - q, battery) - gridPower(flows[move.battery][high], battery)
            guard move.level < load[high] + highDrop - 1e-9 else {
                blocked[high] = true
                continue
            }
            load[high] += highDrop
            load[move.low] = move.level
            flows[move.battery][high] -= q
            flows[move.battery][move.low] += q
            let (from, to, delta) = move.low < high ? (move.low + 1, high, q) : (high + 1, move.low, -q)
            for t in from...to { stored[move.battery][t] += delta }
        }
        var result: [String: [Double]] = [:]
        for (b, entry) in batteries.enumerated() {
            result[entry.id] = flows[b].map { gridPower($0, entry.battery) }
        }
        return result
    }
}
