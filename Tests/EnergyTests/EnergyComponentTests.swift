import Composition
import Foundation
import Logging
import ServicePlatform
import Synchronization
import Testing

@testable import Energy

/// A composition of `households` households of seed `seed` on three nodes with two coordinators, on a fixed day.
func feederComposition(seed: UInt64 = 1, households: Int = 50, detailed: Bool = false, failoverAfter: String? = nil) throws -> Composition {
    var builder = EnergyCompositionBuilder(households: households, nodes: ["node-a", "node-b", "node-c"], coordinatorNodes: ["node-b", "node-c"])
    builder.seed = seed
    builder.dayStart = "2025-06-21T06:00:00Z"
    builder.detailedReadings = detailed
    builder.failoverAfter = failoverAfter
    let result = CompositionLoader().load(bytes: Array(builder.xml().utf8), fileName: "feeder.xml")
    #expect(result.diagnostics.map(\.description) == [])
    return try #require(result.composition)
}

/// The interval (of the first day) in which a value was emitted.
func interval(of item: EnergyCompositionRun.Carried, _ clock: EnergyDayClock) -> Int { clock.interval(at: item.at) }

@Suite struct EnergyCompositionRunTests {
    let clock = EnergyDayClock(grid: EnergyTimeGrid(), dayStart: .seconds(1_750_485_600))  // 2025-06-21T06:00:00Z

    @Test(arguments: [UInt64(1), 4])
    func theServicesThroughTheirWiresPlanWhatTheInProcessProtocolRunPlans(seed: UInt64) async throws {
        let result = try await EnergyCompositionRun(composition: feederComposition(seed: seed)).run()
        let day = EnergyDay.generate(seed: seed)
        let direct = EnergyCommunityRun(day: day, coordinatorIDs: ["c1", "c2"]).run()
        #expect(result.refused == 0)
        #expect(result.starts.count == day.flexibleLoads.count)
        #expect(result.starts == direct.starts)
        #expect(abs(result.outcome.peakKW - direct.outcome.peakKW) < 1e-6)
        #expect(abs(result.outcome.selfConsumptionPct - direct.outcome.selfConsumptionPct) < 1e-6)
        #expect(result.outcome.loadsOutsideTheirWindow(on: day).isEmpty)
        // One plan: the leader advises every household, the other coordinator none.
        #expect(result.advisedBy["coordinator-1"] == Set(day.households.map(\.id)))
        #expect(result.advisedBy["coordinator-2"] == nil)
    }

    @Test(arguments: [UInt64(1), 2])
    func aHouseholdLeavingMiddayMakesTheCoordinatorReplanAndNoDeadlineIsMissed(seed: UInt64) async throws {
        let composition = try feederComposition(seed: seed)
        let day = EnergyDay.generate(seed: seed)
        let leaving = try #require(day.households.max { a, b in
            a.flexibleLoads.reduce(0) { $0 + $1.energyKWh } < b.flexibleLoads.reduce(0) { $0 + $1.energyKWh }
        })
        let stays = try await EnergyCompositionRun(composition: composition).run()
        let leaves = try await EnergyCompositionRun(composition: composition, events: [.householdLeaves(leaving.id, atInterval: 44)]).run()
        #expect(leaves.answers.map(\.statusCode) == [200])
        #expect(leaves.outcome.loadsOutsideTheirWindow(on: day).isEmpty)
        // Its loads not yet started run at their earliest start, on its own.
        for load in leaving.flexibleLoads where load.earliestStart >= 44 { #expect(leaves.starts[load.id] == load.earliestStart, "\(load.id)") }
        // The others' plan changed.
        let others = day.flexibleLoads.filter { $0.household != leaving.id && $0.earliestStart >= 44 }.map(\.id)
        #expect(others.contains { stays.starts[$0] != leaves.starts[$0] })
        // It withdrew on both of its ports, no advice reached it afterwards, and the sums left it out.
        var withdrawals: Set<String> = []
        for item in leaves.carried {
            let message = try EnergyPort.message(in: item.value)
            if case .withdrawal(leaving.id) = message { withdrawals.insert("\(item.service).\(item.port)") }
            if interval(of: item, clock) > 44, case .advice(let advice) = message { #expect(advice.household != leaving.id) }
            if interval(of: item, clock) > 45, case .aggregateForecast(let sum) = message { #expect(!sum.households.contains(leaving.id)) }
        }
        let node = try #require(composition.services.first { $0.type == "flexibility" && ($0.value(of: "household") ?? "").contains(leaving.id) })
        let meter = "meter-" + node.id.dropFirst("flex-".count)
        #expect(withdrawals == ["\(node.id).offers", "\(meter).readings", "balance.balance"])
    }

    @Test func whenTheLeaderFailsTheOtherTakesOverOnceItHasBeenSilentLongEnough() async throws {
        let day = EnergyDay.generate(seed: 2)
        let run = try await EnergyCompositionRun(composition: feederComposition(seed: 2), events: [.serviceFails("coordinator-1", atInterval: 40)]).run()
        #expect(run.outcome.loadsOutsideTheirWindow(on: day).isEmpty)
        let advice = run.carried.filter { $0.service == "coordinator-2" && $0.port == "advice" }
        let adviceKinds = advice.map { (try? EnergyPort.message(in: $0.value))?.typeName ?? "?" }
        // It waited 45 simulated minutes (3 intervals) of silence, told every household the leader left, then advised.
        let first = try #require(advice.first)
        #expect(interval(of: first, clock) == 43)
        #expect(adviceKinds.prefix(day.households.count).allSatisfy { $0 == "coordinator-left" })
        #expect(adviceKinds.contains("advice"))
        #expect(run.advisedBy["coordinator-2"] == Set(day.households.map(\.id)))
        // The community still beats each household alone by far.
        let alone = EnergySimulation.run(.alone, on: day)
        #expect(run.outcome.peakKW < 0.75 * alone.peakKW)
    }

    @Test func whenTheLeaderIsUndeployedTheOtherTakesOverAtOnce() async throws {
        let day = EnergyDay.generate(seed: 2)
        let run = try await EnergyCompositionRun(composition: feederComposition(seed: 2), events: [.serviceStops("coordinator-1", atInterval: 40)]).run()
        #expect(run.outcome.loadsOutsideTheirWindow(on: day).isEmpty)
        let goodbye = run.carried.filter { $0.service == "coordinator-1" && $0.port == "peers" }.last
        #expect(goodbye.map { try? EnergyPort.message(in: $0.value) } == .coordinatorLeft(id: "0001.coordinator-1"))
        let advice = run.carried.filter { $0.service == "coordinator-2" && $0.port == "advice" }
        #expect(advice.first.map { interval(of: $0, clock) } == 40)
        #expect(run.advisedBy["coordinator-2"] == Set(day.households.map(\.id)))
    }

    @Test(arguments: [(UInt64(1), 0), (3, 30), (4, 70), (5, 90)])
    func noDeadlineIsMissedWhenEveryCoordinatorFails(seed: UInt64, at failure: Int) async throws {
        let day = EnergyDay.generate(seed: seed)
        let run = try await EnergyCompositionRun(
            composition: feederComposition(seed: seed),
            events: [.serviceFails("coordinator-1", atInterval: failure), .serviceFails("coordinator-2", atInterval: failure)]
        ).run()
        #expect(run.starts.count == day.flexibleLoads.count)
        #expect(run.outcome.loadsOutsideTheirWindow(on: day).isEmpty)
    }

    @Test(arguments: [false, true])
    func deviceReadingsLeaveAHouseholdOnlyWhenTheCompositionSharesThem(detailed: Bool) async throws {
        let day = EnergyDay.generate(seed: 1, configuration: EnergyDayConfiguration(households: 12))
        let run = try await EnergyCompositionRun(composition: feederComposition(households: 12, detailed: detailed)).run()
        // Every body that went onto a wire (and so into a NOTIFY), whatever its port.
        let bodies = run.carried.map(\.value.text)
        let withDevices = bodies.filter { $0.contains("\"devices\"") }
        let readings = run.carried.filter { $0.port == "readings" }
        #expect(readings.count > day.households.count * 90)
        if detailed {
            #expect(withDevices.count == readings.filter { $0.value.text.contains("\"type\":\"reading\"") }.count)
        } else {
            #expect(withDevices.isEmpty)
            // No appliance's consumption is named in anything that leaves a node, but its declaration.
            for item in run.carried where item.port != "offers" && item.port != "advice" {
                #expect(!item.value.text.contains(".ev") && !item.value.text.contains("\"base\""), "\(item.service).\(item.port)")
            }
        }
        // What the balance service passes on are sums of at least three households, never one household's curve.
        for item in run.carried where item.service == "balance" {
            switch try EnergyPort.message(in: item.value) {
            case .aggregateForecast(let sum): #expect(sum.households.count >= 3)
            case .aggregateReading(let sum): #expect(sum.households >= 3)
            case .withdrawal: break
            case let other: Issue.record("the balance service sent \(other.typeName)")
            }
        }
    }

    @Test func theServicesRunADayOnTheRealClockWithTheirOwnTimers() async throws {
        var builder = EnergyCompositionBuilder(households: 12, nodes: ["node-a", "node-b", "node-c"], coordinatorNodes: ["node-b", "node-c"])
        // A day in 4 seconds, from the next whole second but one.
        builder.timeScale = "21600"
        let start = Date(timeIntervalSince1970: (Date().timeIntervalSince1970 + 1.5).rounded(.up))
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        builder.dayStart = formatter.string(from: start)
        let composition = try #require(CompositionLoader().load(bytes: Array(builder.xml().utf8), fileName: "fast.xml").composition)
        let run = try await EnergyCompositionRun(composition: composition).runInRealTime()
        let day = run.day
        #expect(run.starts.count == day.flexibleLoads.count)
        #expect(run.outcome.loadsOutsideTheirWindow(on: day).isEmpty)
        #expect(run.advisedBy["coordinator-1"] == Set(day.households.map(\.id)))
        #expect(run.refused == 0)
    }
}

@Suite struct EnergyCompositionBuilderTests {
    @Test func theShippedThreeNodeFeederIsWhatTheBuilderWrites() throws {
        let path = packageRoot.appendingPathComponent("Services/energy-community/feeder-3-nodes.xml")
        let shipped = try String(contentsOf: path, encoding: .utf8)
        #expect(shipped == EnergyCompositionBuilder.feeder3Nodes.xml())
        let composition = try CompositionLoader().composition(contentsOf: path.path)
        #expect(Set(composition.services.compactMap { if case .peer(let node) = $0.placement { node } else { nil } }) == ["node-a", "node-b", "node-c"])
        let hosted = composition.services.filter { $0.type == "flexibility" }.flatMap { ($0.value(of: "household") ?? "").split(separator: " ") }
        #expect(hosted.count == 50 && Set(hosted).count == 50)
    }

    @Test func everyEnergyPortOfTheCatalogueSaysWhichMessagesItCarries() {
        var ports: Set<String> = []
        for type in ServiceTypeCatalog.energyTypes {
            for port in type.inputs + type.outputs { ports.insert("\(type.name).\(port.name)") }
        }
        #expect(ports == Set(EnergyPort.carried.keys))
    }
}

let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
