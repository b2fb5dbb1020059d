import Composition
import Energy
import Foundation
import SMFNode
import Testing

/// The energy community on real `smf run` processes over real sockets (issue 8; docs/energy.md, "On real nodes"):
/// three nodes each hosting their households (`--energy-households`), a fourth running the leading coordinator.
@Suite(.serialized) struct EnergyProcessTests {
    static let scope = "riverside-energy/energy/feeder-7"
    static let application = "feeder-7-energy"

    static func start(_ user: String, households: String?, bootstrap: [String]) async throws -> OverlayProcess {
        try await OverlayProcess(
            bootstrap: bootstrap, stabilizeMs: 300, timeoutMs: 400,
            extraArguments: ["--user", user, "--scope", scope, "--log-level", "info"]
                + (households.map { ["--energy-households", $0, "--energy-seed", "1", "--energy-simulated-households", "50"] } ?? []))
    }

    /// What `smf energy houses --json` says on `node` about the application's first day.
    static func houses(_ node: OverlayProcess) async throws -> NodeEnergyHouses {
        let output = try await node.succeed(["energy", "houses", "--app", application, "--day", "0", "--json"])
        return try JSONDecoder().decode(NodeEnergyHouses.self, from: Data(output.utf8))
    }

    /// Whether every node's `node:COMMUNITY:NAME` record can be read through `node`'s overlay.
    static func recordsReadable(_ names: [String], through node: OverlayProcess) async throws -> Bool {
        for name in names where try await node.smf(["overlay", "get", "node:riverside-energy:\(name)"]).status != 0 { return false }
        return true
    }

    static func sleep(until date: Date) async throws {
        let wait = date.timeIntervalSinceNow
        if wait > 0 { try await Task.sleep(for: .seconds(wait)) }
    }

    @Test func theCommunityPlansAcrossFourNodesAHouseholdLeavesTheLeaderIsKilledAndNoDeadlineIsMissed() async throws {
        let nodeA = try await Self.start("node-a", households: "h000-h016", bootstrap: [])
        var nodes = [nodeA]
        defer { for node in nodes { node.cleanUp() } }
        for (user, households) in [("node-b", "h017-h033"), ("node-c", "h034-h049"), ("coord-1", nil)] {
            nodes.append(try await Self.start(user, households: households, bootstrap: [nodeA.address]))
        }
        let (nodeB, nodeC, coordinatorNode) = (nodes[1], nodes[2], nodes[3])
        #expect(try await pollUntil(within: .seconds(60)) { try await Self.recordsReadable(["node-a", "node-b", "node-c", "coord-1"], through: nodeA) })

        // The day starts 25 s from now and takes 90 s (time-scale 960: an interval is 0.94 s).
        let dayStart = Date(timeIntervalSinceNow: 25).timeIntervalSince1970.rounded(.up)
        let clock = EnergyDayClock(grid: EnergyTimeGrid(), timeScale: 960, dayStart: .seconds(dayStart))
        let text = EnergyProcessSupport.composition(
            dayStart: Date(timeIntervalSince1970: dayStart), nodes: ["node-a", "node-b", "node-c"], coordinatorNodes: ["coord-1", "node-c"])
        let file = try ServiceDeployProcessTests.write(text, named: "feeder.xml")
        let composition = try #require(CompositionLoader().load(bytes: Array(text.utf8), fileName: "feeder.xml").composition)
        let day = EnergyDay.generate(seed: 1)

        // The household that leaves at interval 44: the one with the most flexible energy still to start then.
        let planned = try await EnergyCompositionRun(composition: composition).run()
        var pending: [String: Double] = [:]
        for load in day.flexibleLoads where (planned.starts[load.id] ?? 0) > 45 { pending[load.household, default: 0] += load.energyKWh }
        let leaving = try #require(pending.max { ($0.value, $1.key) < ($1.value, $0.key) }?.key)
        let leavingIndex = try #require(Int(leaving.dropFirst())) / 17
        let leavingNode = [nodeA, nodeB, nodeC][leavingIndex]
        let sameEvents = try await EnergyCompositionRun(
            composition: composition, events: [.householdLeaves(leaving, atInterval: 44), .serviceFails("coordinator-1", atInterval: 60)]
        ).run()

        let deployed = try await ServiceDeployProcessTests.deploy(file, on: nodeA)
        #expect(deployed.status == 0, "smf deploy failed: \(deployed.output)")
        #expect(deployed.output.contains("all \(composition.wires.count) wires active after"))
        #expect(Date().timeIntervalSince1970 < dayStart, "the deploy took until after the day's start")
        let wiresActive = deployed.output.split(separator: "\n").last { $0.hasPrefix("all ") }.map(String.init) ?? "wires not active"

        // Interval 44 (17:00): the household leaves, by a MESSAGE to its flexibility service.
        try await Self.sleep(until: Date(timeIntervalSince1970: clock.time(of: 44, .coordinators) / .seconds(1)))
        let flexibility = "flex-\(["node-a", "node-b", "node-c"][leavingIndex])"
        let uri = "sip:\(Self.application).\(flexibility)@\(leavingNode.address)"
        let withdrawal = #"{"body":{"household":"\#(leaving)"},"type":"withdrawal","v":1}"#
        let sent = try await nodeA.smf(["message", "send", uri, withdrawal, "--content-type", EnergyMessage.contentType])
        #expect(sent.status == 0, "the withdrawal was not taken: \(sent.output)")
        // The interval in which the 200 came back: the household left in 44 or, if the MESSAGE was slow, up to that.
        let answeredIn = max(44, clock.interval(at: .seconds(Date().timeIntervalSince1970)))

        // Interval 60 (21:00): the leading coordinator's node dies.
        try await Self.sleep(until: Date(timeIntervalSince1970: clock.time(of: 60, .coordinators) / .seconds(1)))
        let logBeforeKill = nodeC.standardError.count
        try await coordinatorNode.stop(with: SIGKILL)

        // The day's last interval, then every flexibility service's account of the day.
        try await Self.sleep(until: Date(timeIntervalSince1970: clock.time(of: 95, .balance) / .seconds(1)))
        let households = [nodeA, nodeB, nodeC]
        #expect(try await pollUntil(within: .seconds(15)) { households.allSatisfy { !EnergyProcessSupport.logged("energy: day over", in: $0.standardError).isEmpty } })
        for node in households {
            let accounts = EnergyProcessSupport.logged("energy: day over", in: node.standardError)
            #expect(accounts.count == 1 && accounts.allSatisfy { $0["energy.outside-window"] == "0" && $0["energy.loads"] == $0["energy.started"] }, "\(accounts)")
        }

        // What the houses did, from each node.
        var starts: [String: Int] = [:]
        var battery: [String: [Double]] = [:]
        var leftAt: [String: Int] = [:]
        for node in households {
            let answer = try await Self.houses(node)
            #expect(answer.households?.seed == 1)
            for house in answer.houses {
                starts.merge(house.starts) { a, _ in a }
                battery[house.household] = house.batteryPower(intervalCount: day.grid.intervalCount)
                if let left = house.leftAt { leftAt[house.household] = left }
            }
        }
        // Every load ran, inside its window; the logs say the same starts.
        let run = EnergySimulation.outcome(.community, on: day, starts: starts, batteryPower: battery)
        #expect(starts.count == day.flexibleLoads.count)
        #expect(run.loadsOutsideTheirWindow(on: day) == [])
        let logged = households.reduce(into: [String: Int]()) { $0.merge(EnergyProcessSupport.loadStarts(in: $1.standardError)) { a, _ in a } }
        #expect(logged == starts)

        // The household left at 44 (or by the time the MESSAGE was answered) and ran the rest on its own: each load
        // from its earliest start, or from its first turn after leaving (in the interval it left, or the next if the
        // MESSAGE came after the households' turn).
        #expect(Array(leftAt.keys) == [leaving])
        let left = try #require(leftAt[leaving])
        #expect((44...answeredIn).contains(left))
        for load in day.flexibleLoads where load.household == leaving && (starts[load.id] ?? 0) >= left {
            let start = try #require(starts[load.id])
            #expect(load.earliestStart > left ? start == load.earliestStart : (left...left + 1).contains(start), "\(load.id) started at \(start)")
        }

        // The plan adapted: other households' loads moved from where the plan without the events put them, as the
        // in-process run with the same events moves them.
        let moved = day.flexibleLoads.filter { $0.household != leaving && sameEvents.starts[$0.id] != planned.starts[$0.id] }.map(\.id)
        #expect(!moved.isEmpty)
        let movedHere = day.flexibleLoads.filter { $0.household != leaving && starts[$0.id] != planned.starts[$0.id] }.map(\.id)
        #expect(!movedHere.isEmpty)
        let asInProcess = day.flexibleLoads.filter { starts[$0.id] == sameEvents.starts[$0.id] }.count

        // The leader planned for the 50 households, then again for the 49 that stayed once the withdrawal came.
        let leaderPlans = EnergyProcessSupport.logged("energy: plan", in: coordinatorNode.standardError).filter { $0["energy.day"] == "0" }
        #expect(leaderPlans.contains { $0["energy.households"] == "50" && $0["energy.leads"] == "true" && Int($0["energy.interval"] ?? "") ?? 99 < 44 })
        let replan = leaderPlans.first { $0["energy.households"] == "49" }
        #expect(replan?["energy.leads"] == "true" && (44...answeredIn + 1).contains(Int(replan?["energy.interval"] ?? "") ?? -1), "\(leaderPlans)")

        // coordinator-2 took the lead once the leader was gone, and planned for the 49.
        let afterKill = String(nodeC.standardError.dropFirst(logBeforeKill))
        #expect(EnergyProcessSupport.logged("energy: coordinator leads", in: afterKill).contains { $0["energy.coordinator"] == "0002.coordinator-2" })
        let takeover = EnergyProcessSupport.logged("energy: plan", in: afterKill).filter { $0["energy.leads"] == "true" }
        #expect(takeover.contains { $0["energy.coordinator"] == "0002.coordinator-2" && $0["energy.households"] == "49" }, "\(takeover)")

        // The feeder's peak against each household alone, same seed.
        let comparison = EnergySimulation.compare(day)
        let alone = try #require(comparison.outcome(.alone))
        let uncoordinated = try #require(comparison.outcome(.uncoordinated))
        #expect(run.peakKW < alone.peakKW)
        print(
            """
            energy process run (4 nodes, 50 households, seed 1): feeder peak \(Self.kW(run.peakKW)) kW; each household alone \(Self.kW(alone.peakKW)) kW \
            (\(Self.kW(100 * (alone.peakKW - run.peakKW) / alone.peakKW)) % lower); no coordination \(Self.kW(uncoordinated.peakKW)) kW; \
            in-process with the same events \(Self.kW(sameEvents.outcome.peakKW)) kW; self-consumption \(Self.kW(run.selfConsumptionPct)) %; \
            deadlines met \(day.flexibleLoads.count - run.loadsOutsideTheirWindow(on: day).count)/\(day.flexibleLoads.count); \
            \(leaving) left at \(left); loads moved by the events: \(moved.count) in-process, \(movedHere.count) here; \
            starts as in-process with the same events: \(asInProcess)/\(day.flexibleLoads.count); \(wiresActive)
            """)
    }

    static func kW(_ value: Double) -> String { String(format: "%.1f", value) }
}

extension EnergyProcessTests {
    @Test func aNodeHostsItsOwnHouseholdsAndRefusesAServiceForAnyOther() async throws {
        let node = try await Self.start("node-a", households: "h000-h002", bootstrap: [])
        defer { node.cleanUp() }
        let idle = try await node.succeed(["energy", "houses"])
        #expect(idle.contains("households: h000-h002 (3 of the 50 households of seed 1)"), "\(idle)")
        #expect(idle.contains("no house was switched yet"))

        // A composition whose services name a household the node does not have: refused, nothing deployed.
        var builder = EnergyCompositionBuilder(households: 50, nodes: ["node-a"], coordinatorNodes: ["node-a"])
        builder.nodes = [.init(name: "node-a", households: ["h002", "h020"])]
        let stranger = try ServiceDeployProcessTests.write(builder.xml(), named: "stranger.xml")
        let refused = try await node.smf(["deploy", stranger.path])
        #expect(refused.status == 1)
        #expect(
            refused.output.contains(
                "failed: 488 Invalid Configuration: service 'flex-node-a' (flexibility): parameter 'household': 'h020' is not a household of this node; it has h000-h002"),
            "\(refused.output)")
        #expect(try await node.smf(["apps"]).output.contains("no applications"))

        // One that names none: the services host the node's three. The day began 30 s ago (time-scale 960: 32
        // intervals), so the flexibility service takes it that the loads due before now ran at their earliest start.
        builder.nodes = [.init(name: "node-a", households: [])]
        builder.timeScale = "960"
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        builder.dayStart = formatter.string(from: Date(timeIntervalSinceNow: -30))
        let own = try ServiceDeployProcessTests.write(builder.xml(), named: "own.xml")
        #expect(!builder.xml().contains("name=\"household\""))
        let deployed = try await node.smf(["deploy", own.path, "--timeout", "20"], timeout: .seconds(40))
        #expect(deployed.status == 0, "\(deployed.output)")
        let day = EnergyDay.generate(seed: 1)
        let early = day.flexibleLoads.filter { ["h000", "h001", "h002"].contains($0.household) && $0.earliestStart < 30 }
        #expect(!early.isEmpty)
        var answer: NodeEnergyHouses?
        #expect(try await pollUntil(within: .seconds(20)) {
            answer = try await Self.houses(node)
            return Set(answer?.houses.flatMap(\.starts.keys) ?? []).isSuperset(of: early.map(\.id))
        })
        let houses = try #require(answer).houses
        #expect(Set(houses.map(\.household)).isSubset(of: ["h000", "h001", "h002"]))
        for load in early { #expect(houses.first { $0.household == load.household }?.starts[load.id] == load.earliestStart, "\(load.id)") }
        let table = try await node.succeed(["energy", "houses", "--app", Self.application])
        #expect(table.contains("APPLICATION      DAY  HOUSEHOLD  LOADS STARTED"), "\(table)")
    }
}
