import Composition
import Foundation
import ServicePlatform
import Testing

@testable import Energy

/// A node's own households (`smf run --energy-households`): what the flags mean, and what the meter and flexibility
/// services of a node so configured host and refuse.
@Suite struct NodeHouseholdsTests {
    @Test func rangesAndListsNameTheHouseholdsOfTheDayInItsOrder() throws {
        let block = try SimulatedHouseholds(parsing: "h000-h016", seed: 1, simulatedHouseholds: 50)
        #expect(block.ids == (0...16).map(Household.id(index:)))
        #expect(block.ids.first == "h000" && block.ids.last == "h016")
        let mixed = try SimulatedHouseholds(parsing: "h020, h003 h010-h011,h004", seed: 7, simulatedHouseholds: 25)
        #expect(mixed.ids == ["h003", "h004", "h010", "h011", "h020"])
        #expect(mixed.description == "h003-h004, h010-h011, h020 (5 of the 25 households of seed 7)")
        #expect(block.description == "h000-h016 (17 of the 50 households of seed 1)")
    }

    @Test(arguments: [
        ("h000-h050", "'h000-h050' is not a household of the simulated day of 50 households (h000…h049)"),
        ("h016-h000", "the range 'h016-h000' runs backwards"),
        ("h001 h000-h002", "names household h001 twice"),
        ("", "names no household"),
        (" , ", "names no household"),
        ("h1", "'h1' is not a household"),
        ("x001", "'x001' is not a household"),
        ("h001-h002-h003", "'h001-h002-h003' is not a household"),
    ])
    func aListThatIsNotOfTheDayIsRefusedNamingTheItem(text: String, problem: String) {
        #expect {
            try SimulatedHouseholds(parsing: text, seed: 1, simulatedHouseholds: 50)
        } throws: { error in
            "\(error)".contains(problem)
        }
    }

    @Test func aDayOfMoreThanAThousandHouseholdsIsRefused() {
        #expect(throws: EnergyConfigurationError.self) { try SimulatedHouseholds(parsing: "h000", simulatedHouseholds: 1001) }
    }

    /// A meter or flexibility context on a node whose houses are `h003 h004 h005` of seed 2.
    func nodeFactory(_ type: String, _ parameters: [String: String]) throws -> (any ServiceComponentFactory, RecordingContext, SimulatedHouses) {
        let houses = SimulatedHouses(hosting: try SimulatedHouseholds(parsing: "h003-h005", seed: 2, simulatedHouseholds: 30))
        let context = RecordingContext(
            type, id: "x", parameters: parameters.merging(["day-start": "2025-06-21T06:00:00Z"]) { a, _ in a }, now: EnergyServiceTests.dayStart - .seconds(1))
        let factory = try #require(ServiceComponentRegistry(EnergyComponents.factories(houses: houses)).factory(for: type))
        return (factory, context, houses)
    }

    @Test func aServiceThatNamesNoHouseholdHostsEveryHouseholdOfItsNode() async throws {
        let (factory, context, houses) = try nodeFactory("household-meter", [:])
        try factory.check(context.instance)
        let meter = try factory.makeComponent(for: context.instance)
        try await meter.start(context: context)
        defer { Task { await meter.stop() } }
        // Its first act is each household's forecast: the node's three, from the node's day (seed 2, 30 households).
        let forecasts = context.messages(on: "readings").compactMap { if case .forecast(let f) = $0 { f } else { nil } }
        #expect(forecasts.map(\.household) == ["h003", "h004", "h005"])
        let day = houses.day(seed: 2, households: 30, intervalMinutes: 15)
        #expect(forecasts.first?.netKW == day.households.first { $0.id == "h003" }?.inflexibleNet)
    }

    @Test(arguments: [
        ("flexibility", ["household": "h004 h006"], "household", "'h006' is not a household of this node; it has h003-h005 (3 of the 30 households of seed 2)"),
        ("household-meter", ["seed": "1"], "seed", "1 is not the seed of this node's households, 2 (smf run --energy-seed)"),
        ("flexibility", ["simulated-households": "50"], "simulated-households", "50 is not the size of this node's simulated day, 30"),
    ])
    func aServiceForHouseholdsTheNodeDoesNotHaveIsRefusedBeforeItIsMade(type: String, parameters: [String: String], parameter: String, problem: String) throws {
        let (factory, context, _) = try nodeFactory(type, parameters)
        for attempt in [{ try factory.check(context.instance) }, { _ = try factory.makeComponent(for: context.instance) }] {
            #expect {
                try attempt()
            } throws: { error in
                (error as? ServicePlatformError)?.code == .invalidConfiguration && "\(error)".contains("service 'x' (\(type)): parameter '\(parameter)'")
                    && "\(error)".contains(problem)
            }
        }
    }

    @Test func aNodeWithoutHouseholdsOfItsOwnNeedsTheServiceToNameThem() throws {
        let context = RecordingContext("flexibility", id: "x", parameters: [:], now: .zero)
        let factory = try #require(ServiceComponentRegistry(EnergyComponents.factories()).factory(for: "flexibility"))
        #expect {
            try factory.check(context.instance)
        } throws: { error in
            "\(error)".contains("parameter 'household': names no household, and this node hosts none of its own (smf run --energy-households)")
        }
    }

    @Test func theHousesReportWhatTheirFlexibilityServiceSwitched() async throws {
        // A household of the node with a battery and flexible loads.
        let day = EnergyDay.generate(seed: 2, configuration: EnergyDayConfiguration(households: 30))
        let household = try #require(day.households.first { $0.battery != nil && $0.flexibleLoads.count >= 2 })
        let houses = SimulatedHouses(hosting: try SimulatedHouseholds(parsing: household.id, seed: 2, simulatedHouseholds: 30))
        let context = RecordingContext("flexibility", id: "x", parameters: ["day-start": "2025-06-21T06:00:00Z"], now: EnergyServiceTests.dayStart - .seconds(1))
        let flexibility = try #require(ServiceComponentRegistry(EnergyComponents.factories(houses: houses)).factory(for: "flexibility")).makeComponent(for: context.instance)
        try await flexibility.start(context: context)
        defer { Task { await flexibility.stop() } }
        // Advice to run every load at its latest start and to charge the battery at 1 kW in interval 2.
        let clock = EnergyDayClock(grid: EnergyTimeGrid(), dayStart: EnergyServiceTests.dayStart)
        let latest = Dictionary(uniqueKeysWithValues: household.flexibleLoads.map { ($0.id, $0.latestStart(on: clock.grid)) })
        var battery = [Double](repeating: 0, count: clock.grid.intervalCount)
        battery[2] = 1
        let advice = LoadAdvice(coordinator: "0001.c", planVersion: 1, household: household.id, starts: latest, batteryKW: battery)
        try await flexibility.receive(context.input(.advice(advice), on: "advice"), context: context)
        await (flexibility as! FlexibilityComponent).fire(until: clock.time(of: clock.grid.intervalCount - 1, .households))
        let reports = houses.reports()
        #expect(reports.map(\.household) == [household.id])
        let report = try #require(reports.first)
        #expect(report.application == "app" && report.day == 0 && report.leftAt == nil)
        #expect(report.starts == latest)
        let power = report.batteryPower(intervalCount: clock.grid.intervalCount)
        #expect(power[2] == 1)
        #expect(power.enumerated().allSatisfy { $0.offset == 2 || $0.element == 0 })
        // It is what the JSON of `smf energy houses --json` carries.
        let decoded = try JSONDecoder().decode([SimulatedHouseReport].self, from: JSONEncoder().encode(reports))
        #expect(decoded == reports)
    }
}
