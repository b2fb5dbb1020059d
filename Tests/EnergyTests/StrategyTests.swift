import Testing
@testable import Energy

@Suite struct LoadPlannerTests {
    let grid = EnergyTimeGrid()

    func load(_ id: String, power: Double = 2, energy: Double = 1, earliest: Int, deadline: Int) -> FlexibleLoad {
        FlexibleLoad(id: id, household: "h", kind: .washingMachine, powerKW: power, energyKWh: energy, earliestStart: earliest, deadline: deadline)
    }

    @Test func valleyFillingPutsALoadIntoTheDeepestValleyOfItsWindow() {
        var curve = [5.0, 5, 1, 1, 5, 0, 0, 5]
        // 2 kW for 30 min: two intervals. The window 0..<5 holds the valley at 2–3, not the deeper one at 5–6.
        let starts = LoadPlanner.valleyFill([load("a", energy: 1, earliest: 0, deadline: 5)], onto: &curve, grid: grid)
        #expect(starts["a"] == 2)
        #expect(curve == [5, 5, 3, 3, 5, 0, 0, 5])
    }

    @Test func valleyFillingPlacesLargestEnergyFirstAndSpreadsLoads() {
        var curve = [Double](repeating: 0, count: 8)
        let loads = [load("small", energy: 0.5, earliest: 0, deadline: 8), load("big", energy: 2, earliest: 0, deadline: 8)]
        let starts = LoadPlanner.valleyFill(loads, onto: &curve, grid: grid)
        // big (4 intervals) goes first at the earliest of equal valleys; small goes beside it, not on top.
        #expect(starts["big"] == 0)
        #expect(starts["small"].map { $0 >= 4 } == true)
        #expect(curve.max() == 2)
    }

    @Test func valleyFillingNeverStartsBeforeFromOrAfterLatestStart() {
        var curve = [0.0, 0, 0, 0, 9, 9, 9, 9]
        let starts = LoadPlanner.valleyFill([load("a", energy: 1, earliest: 0, deadline: 8)], onto: &curve, grid: grid, from: 3)
        // From 3 on, the best is 3 (one interval in the valley); never before 3.
        #expect(starts["a"] == 3)
    }

    @Test func aloneALoadRunsInTheHouseholdsOwnSurplusElseAtItsEarliestStart() {
        var net = [1.0, 1, -3, -3, 1, 1]
        var starts = LoadPlanner.selfConsumption([load("a", earliest: 0, deadline: 6)], onto: &net, grid: grid)
        #expect(starts["a"] == 2)
        var noSurplus = [1.0, 2, 1, 1, 1, 1]
        starts = LoadPlanner.selfConsumption([load("a", earliest: 1, deadline: 6)], onto: &noSurplus, grid: grid)
        #expect(starts["a"] == 1)
    }

    @Test func lowerBoundCountsEnergyThatMustFitInAWindow() {
        let curve = [Double](repeating: 1, count: 8)
        // 4 kWh must run in 4 intervals (1 h): at least 4 kW on average, plus the 1 kW already there.
        let bound = LoadPlanner.peakLowerBound([load("a", power: 8, energy: 4, earliest: 2, deadline: 6)], on: curve, grid: grid)
        #expect(abs(bound - 5) < 1e-9)
    }
}

@Suite struct BatteryDispatchTests {
    let grid = EnergyTimeGrid()

    @Test func selfConsumptionChargesFromSurplusAndCoversDeficitWithinLimits() {
        let battery = Battery(capacityKWh: 2, powerKW: 4, initialKWh: 0, chargeEfficiency: 1, dischargeEfficiency: 1)
        let power = BatteryDispatch.selfConsumption(battery, net: [-6, -6, -6, 3, 3, 3], grid: grid)
        // 4 kW for 15 min = 1 kWh: full after two intervals; then it covers 3 kW until empty.
        #expect(power == [4, 4, 0, -3, -3, -2])
    }

    @Test func peakShavingLowersThePeakAndKeepsEveryBatteryWithinItsLimits() {
        let battery = Battery(capacityKWh: 4, powerKW: 4, initialKWh: 2)
        let curve = [2.0, 2, 10, 10, 2, 2, 2, 2]
        let schedule = BatteryDispatch.peakShaving([("b", battery)], curve: curve, grid: grid)["b"] ?? []
        let shaved = zip(curve, schedule).map { $0 + $1 }
        #expect((shaved.max() ?? 99) < 8)
        var stored = battery.initialKWh
        for power in schedule {
            #expect(abs(power) <= battery.powerKW + 1e-9)
            stored += battery.storedChange(gridKW: power, hours: grid.hours)
            #expect(stored >= -1e-9 && stored <= battery.capacityKWh + 1e-9)
        }
        // It ends the day with what it started with.
        #expect(abs(stored - battery.initialKWh) < 1e-6)
    }
}

@Suite struct StrategyTests {
    /// Seeds tested for the deadline guarantee and the comparison.
    static let seeds: [UInt64] = [1, 2, 3, 4, 5, 6, 7, 8]

    @Test(arguments: seeds)
    func noFlexibleLoadMissesItsDeadlineUnderAnyStrategy(seed: UInt64) {
        let day = EnergyDay.generate(seed: seed)
        for outcome in EnergySimulation.compare(day).outcomes {
            #expect(outcome.loadsOutsideTheirWindow(on: day).isEmpty, "\(outcome.strategy) seed \(seed)")
            #expect(outcome.starts.count == day.flexibleLoads.count)
        }
    }

    @Test(arguments: seeds)
    func communityLowersThePeakBelowEachHouseholdAloneAndUsesMorePV(seed: UInt64) throws {
        let comparison = EnergySimulation.compare(EnergyDay.generate(seed: seed))
        let alone = try #require(comparison.outcome(.alone))
        let community = try #require(comparison.outcome(.community))
        #expect(community.peakKW < alone.peakKW)
        #expect(comparison.peakReductionPct(.community) >= 25, "seed \(seed)")
        #expect(community.selfConsumptionPct >= alone.selfConsumptionPct - 1e-9)
    }

    @Test func benchmarkDayMeetsTheTarget() {
        // The day `make bench` reports: N = 50, seed 1.
        let comparison = EnergySimulation.compare(EnergyDay.generate(seed: 1))
        #expect(comparison.peakReductionPct(.community) >= 25)
        #expect(comparison.peakReductionPct(.alone) == 0)
    }

    @Test(arguments: seeds.prefix(3))
    func batteriesStayWithinTheirLimitsAndCommunityBatteriesEndAsTheyStarted(seed: UInt64) {
        let day = EnergyDay.generate(seed: seed)
        for strategy in [EnergyStrategy.alone, .community] {
            let outcome = EnergySimulation.run(strategy, on: day)
            for household in day.households {
                guard let battery = household.battery, let power = outcome.batteryPower[household.id] else { continue }
                var stored = battery.initialKWh
                for value in power {
                    #expect(abs(value) <= battery.powerKW + 1e-9)
                    stored += battery.storedChange(gridKW: value, hours: day.grid.hours)
                    #expect(stored >= -1e-6 && stored <= battery.capacityKWh + 1e-6)
                }
                if strategy == .community { #expect(abs(stored - battery.initialKWh) < 1e-6) }
            }
        }
    }

    @Test(arguments: seeds.prefix(4))
    func greedyPlanIsWithinFortyPercentOfTheLowerBound(seed: UInt64) {
        let day = EnergyDay.generate(seed: seed)
        var curve = day.inflexibleNet
        _ = LoadPlanner.valleyFill(day.flexibleLoads, onto: &curve, grid: day.grid)
        let bound = LoadPlanner.peakLowerBound(day.flexibleLoads, on: day.inflexibleNet, grid: day.grid)
        let peak = curve.max() ?? 0
        // No plan beats the bound; the greedy's measured gap on these seeds is 8–36% (docs/energy.md).
        #expect(peak >= bound - 1e-9)
        #expect(peak <= 1.4 * bound, "greedy peak \(peak) kW, lower bound \(bound) kW")
    }

    @Test func energyShiftedIsZeroWithoutCoordinationAndPositiveForTheCommunity() throws {
        let comparison = EnergySimulation.compare(EnergyDay.generate(seed: 2))
        #expect(try #require(comparison.outcome(.uncoordinated)).energyShiftedKWh == 0)
        #expect(try #require(comparison.outcome(.community)).energyShiftedKWh > 0)
    }
}
