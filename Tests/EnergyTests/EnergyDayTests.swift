import Testing
@testable import Energy

@Suite struct EnergyRandomTests {
    @Test func sameSeedGivesSameSequenceAndOtherSeedsDiffer() {
        var a = EnergyRandom(seed: 7)
        var b = EnergyRandom(seed: 7)
        var c = EnergyRandom(seed: 8)
        let first = (0..<100).map { _ in a.next() }
        #expect(first == (0..<100).map { _ in b.next() })
        #expect(first != (0..<100).map { _ in c.next() })
    }

    @Test func uniformAndNormalStayInTheirRanges() {
        var random = EnergyRandom(seed: 3)
        for _ in 0..<10_000 {
            let u = random.uniform(2, 5)
            #expect(u >= 2 && u < 5)
            let n = random.normal(mean: 0, deviation: 10, clampedTo: -1...1)
            #expect(n >= -1 && n <= 1)
        }
    }
}

@Suite struct EnergyDayGenerationTests {
    @Test func sameSeedGivesTheSameDayBitForBit() {
        #expect(EnergyDay.generate(seed: 11) == EnergyDay.generate(seed: 11))
        #expect(EnergyDay.generate(seed: 11) != EnergyDay.generate(seed: 12))
    }

    @Test(arguments: [15, 5])
    func generatesTheConfiguredHouseholdsOnAWholeDayGrid(intervalMinutes: Int) {
        let day = EnergyDay.generate(seed: 5, configuration: EnergyDayConfiguration(households: 20, intervalMinutes: intervalMinutes))
        #expect(day.households.count == 20)
        #expect(day.grid.intervalCount * intervalMinutes == 1440)
        for household in day.households {
            #expect(household.production.count == day.grid.intervalCount)
            #expect(household.baseLoad.count == day.grid.intervalCount)
        }
    }

    @Test func profilesArePlausible() throws {
        let day = EnergyDay.generate(seed: 21, configuration: EnergyDayConfiguration(households: 200))
        let grid = day.grid
        for household in day.households {
            #expect(household.pvPeakKW == 0 || (1...8).contains(household.pvPeakKW))
            // PV is zero at night and never above the installed peak.
            for (t, power) in household.production.enumerated() {
                #expect(power >= 0 && power <= household.pvPeakKW)
                let hour = grid.hourOfDay(atMiddleOf: t)
                if hour < 6 || hour > 21 { #expect(power == 0) }
            }
            let daily = household.baseLoad.reduce(0, +) * grid.hours
            #expect(daily > 5.9 && daily < 14.1)
            // Evening (18–21 h) draws more than the small hours (2–4 h).
            let evening = household.baseLoad.indices.filter { (18...21).contains(grid.hourOfDay(atMiddleOf: $0)) }.map { household.baseLoad[$0] }
            let night = household.baseLoad.indices.filter { (2...4).contains(grid.hourOfDay(atMiddleOf: $0)) }.map { household.baseLoad[$0] }
            let eveningMean: Double = evening.reduce(0, +) / Double(evening.count)
            let nightMean: Double = night.reduce(0, +) / Double(night.count)
            #expect(eveningMean > nightMean)
            if let battery = household.battery {
                #expect(household.pvPeakKW > 0)
                #expect(battery.isValid && (5...13).contains(battery.capacityKWh))
            }
            for load in household.flexibleLoads {
                #expect(load.isValid(on: grid), "\(load.id) cannot run in its window")
                if load.kind == .electricVehicle {
                    #expect((7...11).contains(load.powerKW) && (10...30).contains(load.energyKWh))
                    // Arrives in the evening, leaves the next morning.
                    #expect((16...22).contains(grid.hourOfDay(atMiddleOf: load.earliestStart)))
                    #expect(load.deadline >= grid.interval(hoursAfterStart: 22.9))
                }
            }
        }
        let kinds = Set(day.flexibleLoads.map(\.kind))
        #expect(kinds == Set(FlexibleLoadKind.allCases))
    }

    @Test func loadRunsInWholeIntervalsWithItsRemainderLast() {
        let grid = EnergyTimeGrid()
        let load = FlexibleLoad(id: "x", household: "h", kind: .electricVehicle, powerKW: 8, energyKWh: 5, earliestStart: 0, deadline: 10)
        #expect(load.duration(on: grid) == 3)
        #expect(load.powerSteps(on: grid) == [8, 8, 4])
        #expect(load.latestStart(on: grid) == 7)
    }

    @Test func rejectsLoadsThatCannotBePlanned() {
        let grid = EnergyTimeGrid()
        func load(power: Double, energy: Double, earliest: Int, deadline: Int) -> FlexibleLoad {
            FlexibleLoad(id: "x", household: "h", kind: .dishwasher, powerKW: power, energyKWh: energy, earliestStart: earliest, deadline: deadline)
        }
        #expect(load(power: 2, energy: 2, earliest: 0, deadline: 4).isValid(on: grid))
        #expect(!load(power: 2, energy: 2, earliest: 0, deadline: 3).isValid(on: grid))
        #expect(!load(power: 0, energy: 2, earliest: 0, deadline: 40).isValid(on: grid))
        #expect(!load(power: 1e-300, energy: 400, earliest: 0, deadline: 96).isValid(on: grid))
        #expect(!load(power: .infinity, energy: 2, earliest: 0, deadline: 40).isValid(on: grid))
        #expect(!load(power: 2, energy: 2, earliest: 90, deadline: 200).isValid(on: grid))
        #expect(!load(power: 2, energy: 2, earliest: -1, deadline: 40).isValid(on: grid))
    }
}
