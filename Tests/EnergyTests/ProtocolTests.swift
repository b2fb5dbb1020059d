import Foundation
import Testing
@testable import Energy

@Suite struct EnergyMessageTests {
    static let samples: [EnergyMessage] = [
        .reading(MeterReading(household: "h001", interval: 4, productionKWh: 0.5, consumptionKWh: 0.25)),
        .forecast(NetLoadForecast(household: "h001", from: 0, netKW: [1, -2.5])),
        .flexibility(FlexibilityDeclaration(
            household: "h001",
            loads: [FlexibleLoad(id: "h001.ev", household: "h001", kind: .electricVehicle, powerKW: 11, energyKWh: 20, earliestStart: 50, deadline: 96)],
            battery: Battery(capacityKWh: 10, powerKW: 5, initialKWh: 5))),
        .started(LoadStarted(household: "h001", load: "h001.ev", interval: 60)),
        .withdrawal(household: "h001"),
        .aggregateForecast(AggregateForecast(community: "feeder", from: 0, netKW: [3], households: ["a", "b", "c"])),
        .aggregateReading(AggregateReading(community: "feeder", interval: 3, netKWh: 7.5, households: 3)),
        .advice(LoadAdvice(coordinator: "c1", planVersion: 2, household: "h001", starts: ["h001.ev": 70], batteryKW: [0, -2])),
        .coordinator(id: "c1"),
        .coordinatorLeft(id: "c1"),
    ]

    @Test(arguments: samples)
    func everyMessageSurvivesItsBody(message: EnergyMessage) throws {
        let body = try message.body()
        #expect(try EnergyMessage(body: body) == message)
        let text = String(decoding: body, as: UTF8.self)
        #expect(text.contains("\"type\":\"\(message.typeName)\""))
        #expect(text.contains("\"v\":1"))
        // Equal messages give equal bytes (sorted keys).
        #expect(try message.body() == body)
    }

    @Test func rejectsBodiesThatAreNotEnergyMessages() {
        func rejects(_ text: String, _ expected: String) {
            #expect {
                try EnergyMessage(body: Array(text.utf8))
            } throws: { error in
                "\(error)".contains(expected)
            }
        }
        rejects(#"{"v":1,"type":"gossip","body":{}}"#, "type 'gossip' is unknown")
        rejects(#"{"v":2,"type":"coordinator","body":{"id":"c"}}"#, "version 2 is not supported")
        rejects(#"{"v":1,"type":"coordinator"}"#, "not valid application/smf-energy+json")
        rejects("not json", "not valid")
        rejects(#"{"v":1,"type":"coordinator","body":{"id":"c"}}"# + String(repeating: " ", count: EnergyMessage.maximumBodySize), "over the")
    }
}

@Suite struct MeterServiceTests {
    let devices = [
        MeterService.DeviceReading(device: "pv", productionKWh: 1),
        MeterService.DeviceReading(device: "fridge", consumptionKWh: 0.1),
        MeterService.DeviceReading(device: "tv", consumptionKWh: 0.2),
    ]

    @Test func byDefaultOnlyTotalsLeaveTheHousehold() throws {
        var meter = MeterService(household: "h1")
        let actions = meter.intervalMeasured(3, devices: devices)
        guard case .publish(let message)? = actions.first, case .reading(let reading) = message else {
            Issue.record("expected a published reading, got \(actions)")
            return
        }
        #expect(reading.productionKWh == 1 && abs(reading.consumptionKWh - 0.3) < 1e-12)
        #expect(reading.devices == nil)
        let body = String(decoding: try message.body(), as: UTF8.self)
        #expect(!body.contains("fridge") && !body.contains("tv"))
    }

    @Test func detailedPrivacySharesDevicesAndOldIntervalsAreIgnored() {
        var meter = MeterService(household: "h1", privacy: .detailed)
        guard case .publish(.reading(let reading))? = meter.intervalMeasured(3, devices: devices).first else {
            Issue.record("expected a reading")
            return
        }
        #expect(reading.devices?["fridge"] == 0.1)
        #expect(meter.intervalMeasured(3, devices: devices).isEmpty)
        #expect(meter.intervalMeasured(2, devices: devices).isEmpty)
    }
}

@Suite struct BalanceServiceTests {
    let grid = EnergyTimeGrid()

    func forecast(_ household: String, _ value: Double) -> EnergyMessage {
        .forecast(NetLoadForecast(household: household, from: 0, netKW: [Double](repeating: value, count: grid.intervalCount)))
    }

    @Test func publishesOnlySumsOfAtLeastThreeHouseholds() {
        var balance = BalanceService(community: "f", grid: grid)
        _ = balance.received(forecast("a", 1))
        _ = balance.received(forecast("b", 2))
        #expect(balance.aggregateForecast().isEmpty)
        _ = balance.received(forecast("c", 4))
        guard case .notifyCoordinators(.aggregateForecast(let sum))? = balance.aggregateForecast().first else {
            Issue.record("expected an aggregate")
            return
        }
        #expect(sum.netKW.allSatisfy { $0 == 7 })
        #expect(sum.households == ["a", "b", "c"])
        for household in ["a", "b"] {
            _ = balance.received(.reading(MeterReading(household: household, interval: 0, productionKWh: 0, consumptionKWh: 1)))
        }
        #expect(balance.intervalClosed(0).isEmpty)
    }

    @Test func withdrawalRemovesTheHouseholdFromTheSumAndIsPassedOn() {
        var balance = BalanceService(community: "f", grid: grid, minimumHouseholds: 2)
        for (household, value) in [("a", 1.0), ("b", 2), ("c", 4)] { _ = balance.received(forecast(household, value)) }
        let actions = balance.received(.withdrawal(household: "c"))
        #expect(actions.first == .notifyCoordinators(.withdrawal(household: "c")))
        guard case .notifyCoordinators(.aggregateForecast(let sum))? = actions.last else {
            Issue.record("expected a new aggregate")
            return
        }
        #expect(sum.netKW.allSatisfy { $0 == 3 })
        #expect(balance.members == ["a", "b"])
    }

    @Test func ignoresForecastsItCannotUse() {
        var balance = BalanceService(community: "f", grid: grid, minimumHouseholds: 1)
        _ = balance.received(.forecast(NetLoadForecast(household: "a", from: 500, netKW: [1])))
        _ = balance.received(.forecast(NetLoadForecast(household: "b", from: 0, netKW: [.nan])))
        #expect(balance.members.isEmpty)
    }
}

@Suite struct FlexibilityServiceTests {
    let grid = EnergyTimeGrid()
    // 2 kW, 1 kWh: two intervals; may start at 10, must be done by 30 (latest start 28).
    var load: FlexibleLoad {
        FlexibleLoad(id: "h.wm", household: "h", kind: .washingMachine, powerKW: 2, energyKWh: 1, earliestStart: 10, deadline: 30)
    }

    func advice(_ start: Int, from coordinator: String = "c1", version: Int = 1) -> EnergyMessage {
        .advice(LoadAdvice(coordinator: coordinator, planVersion: version, household: "h", starts: ["h.wm": start], batteryKW: nil))
    }

    func startInterval(_ service: inout FlexibilityService) -> Int? {
        for t in 0..<grid.intervalCount where service.intervalStarted(t).contains(.startLoad("h.wm")) { return t }
        return nil
    }

    @Test func withoutAdviceALoadStartsAtItsEarliestStart() {
        var service = FlexibilityService(household: "h", grid: grid, loads: [load], battery: nil)
        #expect(startInterval(&service) == 10)
    }

    @Test func defersUntilTheAdvisedStartAndReportsTheStart() {
        var service = FlexibilityService(household: "h", grid: grid, loads: [load], battery: nil)
        #expect(service.received(advice(20)) == [.deferLoad("h.wm", until: 20)])
        for t in 0..<20 { #expect(!service.intervalStarted(t).contains(.startLoad("h.wm"))) }
        let actions = service.intervalStarted(20)
        #expect(actions.contains(.startLoad("h.wm")))
        #expect(actions.contains(.publish(.started(LoadStarted(household: "h", load: "h.wm", interval: 20)))))
    }

    @Test func adviceBeyondTheLatestStartCannotMakeTheLoadMissItsDeadline() {
        var service = FlexibilityService(household: "h", grid: grid, loads: [load], battery: nil)
        _ = service.received(advice(90))
        #expect(startInterval(&service) == 28)
    }

    @Test func theLowestCoordinatorIdWinsAndANewerPlanReplacesAnOlder() {
        var service = FlexibilityService(household: "h", grid: grid, loads: [load], battery: nil)
        _ = service.received(advice(20, from: "c2"))
        _ = service.received(advice(15, from: "c1"))
        #expect(service.received(advice(25, from: "c2", version: 9)).isEmpty)
        _ = service.received(advice(12, from: "c1", version: 2))
        #expect(startInterval(&service) == 12)
    }

    @Test func afterItsCoordinatorLeftTheNextAdviceIsFollowed() {
        var service = FlexibilityService(household: "h", grid: grid, loads: [load], battery: nil)
        _ = service.received(advice(15, from: "c1"))
        _ = service.received(.coordinatorLeft(id: "c1"))
        _ = service.received(advice(22, from: "c2"))
        #expect(startInterval(&service) == 22)
    }

    @Test func aHouseholdThatLeftRunsItsLoadsOnItsOwn() {
        var service = FlexibilityService(household: "h", grid: grid, loads: [load], battery: nil)
        _ = service.received(advice(25))
        #expect(service.leave() == [.publish(.withdrawal(household: "h"))])
        #expect(service.received(advice(26)).isEmpty)
        #expect(startInterval(&service) == 10)
    }
}

@Suite struct CoordinatorTests {
    let day = EnergyDay.generate(seed: 3, configuration: EnergyDayConfiguration(households: 12))

    /// Feeds a coordinator what the balance service and the households would send.
    func feed(_ coordinator: inout Coordinator, day: EnergyDay) {
        var balance = BalanceService(community: "f", grid: day.grid)
        for household in day.households {
            _ = balance.received(.forecast(NetLoadForecast(household: household.id, from: 0, netKW: household.inflexibleNet)))
            _ = coordinator.received(.flexibility(FlexibilityDeclaration(household: household.id, loads: household.flexibleLoads, battery: household.battery)))
        }
        for case .notifyCoordinators(let message) in balance.aggregateForecast() { _ = coordinator.received(message) }
    }

    @Test func twoCoordinatorsAgreeOnOnePlanAndTheHigherIdDefers() throws {
        var first = Coordinator(id: "c1", grid: day.grid)
        var second = Coordinator(id: "c2", grid: day.grid)
        #expect(first.started() == [.broadcast(.coordinator(id: "c1")), .tookLead])
        _ = second.started()
        #expect(second.received(.coordinator(id: "c1")) == [.broadcast(.coordinator(id: "c2")), .deferTo("c1")])
        #expect(first.received(.coordinator(id: "c2")) == [.broadcast(.coordinator(id: "c1"))])
        // Announcements of a coordinator already known are not answered again (no echo loop).
        #expect(first.received(.coordinator(id: "c2")).isEmpty)
        feed(&first, day: day)
        feed(&second, day: day)
        let advice = first.intervalStarted(0)
        #expect(advice.count == day.households.count)
        #expect(second.intervalStarted(0).isEmpty)
        #expect(first.plan != nil)
        #expect(first.plan == second.plan)
    }

    @Test func whenTheLeaderLeavesTheOtherTakesOverWithTheSamePlan() throws {
        var first = Coordinator(id: "c1", grid: day.grid)
        var second = Coordinator(id: "c2", grid: day.grid)
        _ = second.started()
        _ = second.received(.coordinator(id: "c1"))
        feed(&first, day: day)
        feed(&second, day: day)
        _ = first.intervalStarted(0)
        _ = second.intervalStarted(0)
        #expect(second.received(.coordinatorLeft(id: "c1")) == [.tookLead])
        let advice = second.intervalStarted(1)
        #expect(advice.count == day.households.count)
        // Nothing else changed: the loads keep the starts the first leader gave them.
        let starts = try #require(first.plan?.starts)
        for case .notify(_, .advice(let items)) in advice {
            for (load, start) in items.starts where (starts[load] ?? 0) >= 1 { #expect(start == starts[load], "\(load)") }
        }
    }

    @Test func ignoresDeclaredLoadsThatCannotBePlanned() throws {
        var coordinator = Coordinator(id: "c1", grid: day.grid)
        feed(&coordinator, day: day)
        let broken = FlexibleLoad(id: "h000.bad", household: "h000", kind: .dishwasher, powerKW: 1e-300, energyKWh: 400, earliestStart: 0, deadline: 96)
        _ = coordinator.received(.flexibility(FlexibilityDeclaration(household: "h000", loads: [broken], battery: nil)))
        _ = coordinator.intervalStarted(0)
        #expect(try #require(coordinator.plan).starts["h000.bad"] == nil)
    }
}

@Suite struct EnergyCommunityRunTests {
    @Test(arguments: [UInt64(1), 4])
    func theProtocolLoopGivesTheSameDayAsTheDirectPlan(seed: UInt64) throws {
        let day = EnergyDay.generate(seed: seed)
        let run = EnergyCommunityRun(day: day, coordinatorIDs: ["c1", "c2"]).run()
        let direct = EnergySimulation.run(.community, on: day)
        #expect(run.rejected == 0)
        #expect(run.starts == direct.starts)
        #expect(abs(run.outcome.peakKW - direct.peakKW) < 1e-6)
        #expect(run.advisedBy["c2"] == nil)
        #expect(run.deferredTo["c2"] == "c1")
    }

    @Test(arguments: [UInt64(1), 2, 3])
    func aHouseholdLeavingMiddayMakesTheCoordinatorReplanAndNoDeadlineIsMissed(seed: UInt64) throws {
        let day = EnergyDay.generate(seed: seed)
        // The household with the most energy to shift leaves at 17:00 (interval 44), before the EVs arrive.
        let leaving = try #require(day.households.max { a, b in
            a.flexibleLoads.reduce(0) { $0 + $1.energyKWh } < b.flexibleLoads.reduce(0) { $0 + $1.energyKWh }
        })
        let stays = EnergyCommunityRun(day: day).run()
        let leaves = EnergyCommunityRun(day: day, events: [.householdLeaves(leaving.id, atInterval: 44)]).run()
        #expect(leaves.outcome.loadsOutsideTheirWindow(on: day).isEmpty)
        // The others' plan changed: some load of another household starts elsewhere than if it had stayed.
        let others = day.flexibleLoads.filter { $0.household != leaving.id && $0.earliestStart >= 44 }.map(\.id)
        #expect(others.contains { stays.starts[$0] != leaves.starts[$0] })
    }

    @Test func theLeaderLeavingMiddayHandsOverAndNoDeadlineIsMissed() {
        let day = EnergyDay.generate(seed: 2)
        let run = EnergyCommunityRun(day: day, coordinatorIDs: ["c1", "c2"], events: [.coordinatorLeaves("c1", atInterval: 40)]).run()
        #expect(run.outcome.loadsOutsideTheirWindow(on: day).isEmpty)
        #expect(run.advisedBy["c2"]?.isEmpty == false)
        #expect(run.deferredTo["c2"] == nil)
    }
}

@Suite struct EnergyReportTests {
    @Test func plotFitsHundredColumnsAndTableHasARowPerStrategy() {
        for interval in [15, 5] {
            let comparison = EnergySimulation.compare(EnergyDay.generate(seed: 1, configuration: EnergyDayConfiguration(households: 20, intervalMinutes: interval)))
            let plot = EnergyReport.plot(comparison)
            #expect(plot.split(separator: "\n").allSatisfy { $0.count <= 100 })
            #expect(plot.contains("#") && plot.contains("o"))
            let rows = EnergyReport.table(comparison).split(separator: "\n")
            #expect(rows.count == 4)
            #expect(rows[3].hasPrefix("community"))
        }
    }
}
