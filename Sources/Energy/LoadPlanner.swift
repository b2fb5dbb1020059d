/// Places flexible loads (a start interval each) on a load curve.
///
/// Every placement respects the load's power, earliest start and deadline: the start is chosen among
/// `max(earliestStart, from) ... latestStart` only. A load whose window has already passed is started at once
/// (the best that can still be done); ``FlexibilityService`` never lets that happen to a load it runs.
public enum LoadPlanner {
    /// Loads in planning order: largest energy first (as in LPT scheduling, big blocks are placed while the
    /// valleys are still wide), then higher power, then id so that every planner orders them alike.
    public static func planningOrder(_ loads: [FlexibleLoad]) -> [FlexibleLoad] {
        loads.sorted { a, b in
            if a.energyKWh != b.energyKWh { return a.energyKWh > b.energyKWh }
            if a.powerKW != b.powerKW { return a.powerKW > b.powerKW }
            return a.id < b.id
        }
    }

    /// Greedy valley filling: each load, largest energy first, starts where the curve's highest value under it
    /// is lowest once it is added, and among those where it adds least to Σ load² (it fills the deepest valley
    /// its window allows); ties go to the earliest start.
    ///
    /// - Parameters:
    ///   - loads: the loads to place.
    ///   - curve: the load curve they add to (kW per interval); updated with every placed load.
    ///   - grid: the day's time grid.
    ///   - from: no load starts before this interval (re-planning during the day).
    /// - Returns: the start interval of each load, by id.
    public static func valleyFill(_ loads: [FlexibleLoad], onto curve: inout [Double], grid: EnergyTimeGrid, from: Int = 0) -> [String: Int] {
        let ordered = planningOrder(loads)
        var starts = place(ordered, onto: &curve, grid: grid, from: from, cost: valleyCost)
        repairPeak(ordered, starts: &starts, curve: &curve, grid: grid, from: from)
        return starts
    }

    /// The curve's highest value under the load once added, then what it adds to Σ load².
    private static func valleyCost(_ curve: [Double], _ start: Int, _ steps: [Double]) -> (Double, Double) {
        var peak = -Double.infinity
        var squares = 0.0
        for (k, power) in steps.enumerated() {
            peak = max(peak, curve[start + k] + power)
            squares += power * (2 * curve[start + k] + power)
        }
        return (peak, squares)
    }

    /// Local repair after the greedy pass: a load that runs in the peak interval is taken out and placed again
    /// (on the curve without it) if that lowers the peak, or keeps the peak and lowers Σ load²; repeated until no
    /// load in the peak interval can move. A load placed early cannot see the loads placed after it; this
    /// undoes the worst of that.
    private static func repairPeak(_ ordered: [FlexibleLoad], starts: inout [String: Int], curve: inout [Double], grid: EnergyTimeGrid, from: Int) {
        func score(_ curve: [Double]) -> (Double, Double) {
            (curve.max() ?? 0, curve.reduce(0) { $0 + $1 * $1 })
        }
        var current = score(curve)
        for _ in 0..<min(ordered.count * 4, 400) {
            guard let peak = curve.indices.max(by: { curve[$0] < curve[$1] }) else { return }
            var improved = false
            for load in ordered {
                guard let start = starts[load.id], start >= from, start <= peak, peak < start + load.duration(on: grid) else { continue }
                var trial = curve
                add(load, startingAt: start, to: &trial, grid: grid, sign: -1)
                let moved = place([load], onto: &trial, grid: grid, from: from, cost: valleyCost)
                let candidate = score(trial)
                if candidate.0 < current.0 - 1e-9 || (abs(candidate.0 - current.0) <= 1e-9 && candidate.1 < current.1 - 1e-6) {
                    curve = trial
                    current = candidate
                    starts[load.id] = moved[load.id]
                    improved = true
                    break
                }
            }
            if !improved { return }
        }
    }

    /// One household on its own: each load starts where it adds least imported energy to the household's net
    /// load (it runs in the household's own PV surplus if its window has one); ties go to the earliest start,
    /// so a load with no surplus in its window starts as soon as it may.
    public static func selfConsumption(_ loads: [FlexibleLoad], onto net: inout [Double], grid: EnergyTimeGrid) -> [String: Int] {
        place(planningOrder(loads), onto: &net, grid: grid, from: 0) { net, start, steps in
            var added = 0.0
            for (k, power) in steps.enumerated() {
                let before = net[start + k]
                added += max(0, before + power) - max(0, before)
            }
            return (added, 0)
        }
    }

    /// Adds `load` started at `start` to `curve`.
    public static func add(_ load: FlexibleLoad, startingAt start: Int, to curve: inout [Double], grid: EnergyTimeGrid) {
        add(load, startingAt: start, to: &curve, grid: grid, sign: 1)
    }

    private static func add(_ load: FlexibleLoad, startingAt start: Int, to curve: inout [Double], grid: EnergyTimeGrid, sign: Double) {
        for (k, power) in load.powerSteps(on: grid).enumerated() where start + k < curve.count && start + k >= 0 {
            curve[start + k] += sign * power
        }
    }

    private static func place(
        _ ordered: [FlexibleLoad], onto curve: inout [Double], grid: EnergyTimeGrid, from: Int,
        cost: (_ curve: [Double], _ start: Int, _ steps: [Double]) -> (Double, Double)
    ) -> [String: Int] {
        var starts: [String: Int] = [:]
        for load in ordered {
            let steps = load.powerSteps(on: grid)
            let first = max(load.earliestStart, from)
            let last = min(load.latestStart(on: grid), curve.count - steps.count)
            var best = first
            if first <= last {
                var bestCost = (Double.infinity, Double.infinity)
                for start in first...last {
                    let value = cost(curve, start, steps)
                    // Lexicographic, and strictly better by more than rounding noise, so that equal costs keep
                    // the earliest start.
                    if value.0 < bestCost.0 - 1e-9 || (abs(value.0 - bestCost.0) <= 1e-9 && value.1 < bestCost.1 - 1e-9) {
                        bestCost = value
                        best = start
                    }
                }
            }
            starts[load.id] = best
            add(load, startingAt: best, to: &curve, grid: grid)
        }
        return starts
    }

    /// A lower bound on the peak of any plan of `loads` on `curve`: for every window [a, b), the inflexible
    /// energy in it plus the energy of the loads that must run entirely inside it, spread evenly.
    ///
    /// The greedy plan's peak minus this bound is the most the greedy can have given away (docs/energy.md).
    public static func peakLowerBound(_ loads: [FlexibleLoad], on curve: [Double], grid: EnergyTimeGrid) -> Double {
        var bound = curve.max() ?? 0
        let count = curve.count
        guard count > 0 else { return bound }
        var prefix = [0.0]
        for value in curve { prefix.append(prefix[prefix.count - 1] + value) }
        for a in 0..<count {
            for b in (a + 1)...count {
                let inside = loads.filter { $0.earliestStart >= a && $0.deadline <= b }
                guard !inside.isEmpty else { continue }
                let energy = inside.reduce(0) { $0 + $1.energyKWh } / grid.hours
                bound = max(bound, (prefix[b] - prefix[a] + energy) / Double(b - a))
            }
        }
        return bound
    }
}
