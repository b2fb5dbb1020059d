import Energy

extension Benchmark {
    /// `energy.peak_reduction_pct` and `energy.self_consumption_pct`: the community strategy on the simulated day
    /// of 50 households from seed 1 (docs/energy.md). Deterministic figures, not timings.
    static let energy = Benchmark(
        figures: [
            Figure(name: "energy.peak_reduction_pct", unit: "%"),
            Figure(name: "energy.self_consumption_pct", unit: "%"),
        ]
    ) { _ in
        let comparison = EnergySimulation.compare(EnergyDay.generate(seed: 1, configuration: EnergyDayConfiguration(households: 50)))
        guard let alone = comparison.outcome(.alone), let community = comparison.outcome(.community) else {
            throw BenchmarkCheckFailed(description: "the comparison has no 'alone' or 'community' outcome")
        }
        let missed = comparison.outcomes.flatMap { $0.loadsOutsideTheirWindow(on: comparison.day) }
        guard missed.isEmpty else {
            throw BenchmarkCheckFailed(description: "flexible loads ran outside their window: \(missed.prefix(5))")
        }
        printError(
            "smf-bench: energy N=50 seed 1: peak alone \(alone.peakKW.rounded()) kW, community \(community.peakKW.rounded()) kW; "
                + "self-consumption alone \(alone.selfConsumptionPct.rounded()) %, community \(community.selfConsumptionPct.rounded()) %")
        return [
            "energy.peak_reduction_pct": comparison.peakReductionPct(.community),
            "energy.self_consumption_pct": community.selfConsumptionPct,
        ]
    }
}
