import Composition
import Foundation
import Logging
import ServicePlatform
import Synchronization
import Testing

@testable import Energy

/// A context that records what a service emits; its clock stands still where the test puts it, and its timer never
/// wakes (the tests call `fire(until:)`).
final class RecordingContext: ServiceContext {
    let instance: ServiceInstanceInfo
    let logger: Logger
    /// What the service logged.
    let log = CapturingLogHandler.Lines()
    let sip: any ServiceSIP = RefusingSIP()
    let time: Mutex<Duration>
    let emitted = Mutex<[(port: String, value: ServiceValue)]>([])
    let outputs: Set<String>

    init(_ type: String, id: String = "svc", parameters: [String: String], now: Duration) {
        let declaration = ServiceDeclaration(
            id: id, type: type, placement: .local,
            configuration: parameters.sorted { $0.key < $1.key }.map { ConfigurationEntry(name: $0.key, value: $0.value, location: SourceLocation(file: "t", line: 1)) },
            rules: [], location: SourceLocation(file: "t", line: 1))
        instance = ServiceInstanceInfo(
            application: "app", community: "c", subcommunity: "c/s", declaration: declaration, uri: "sip:app.\(id)@127.0.0.1",
            hostAddressOfRecord: "sip:node@127.0.0.1", deployer: "sip:node@127.0.0.1")
        time = Mutex(now)
        outputs = Set(ServiceTypeCatalog.builtIn[type]?.outputs.map(\.name) ?? [])
        logger = Logger(label: "energy-tests") { [log] _ in CapturingLogHandler(captured: log) }
    }

    var clock: ServiceClock {
        ServiceClock(now: { self.time.withLock { $0 } }, sleep: { _ in while true { try await Task.sleep(for: .seconds(3600)) } })
    }

    func emit(_ value: ServiceValue, on port: String) async throws {
        guard outputs.contains(port) else { throw ServicePlatformError(.unknownPort, "no port \(port)") }
        emitted.withLock { $0.append((port, value)) }
    }

    func setState(_ values: [ServiceValue], on port: String) async throws {
        throw ServicePlatformError(.unknownPort, "no state port \(port)")
    }

    func notice(_ text: String) async {}

    /// The messages emitted on `port`, in order.
    func messages(on port: String) -> [EnergyMessage] {
        emitted.withLock { $0 }.filter { $0.port == port }.compactMap { try? EnergyPort.message(in: $0.value) }
    }

    func input(_ message: EnergyMessage, on port: String, attributes: [String: String] = [:]) throws -> ServiceInput {
        .value(port: port, wire: "w", try EnergyPort.value(message, attributes: attributes))
    }
}

struct RefusingSIP: ServiceSIP {
    func sendMessage(to uri: String, contentType: String, body: [UInt8]) async -> ServiceDeliveryResult { .failed(statusCode: nil, reason: "test") }
    func subscribe(to uri: String, package: String, contentType: String?, body: [UInt8], expires: Int) async
        -> (updates: AsyncStream<ServiceSubscriptionUpdate>, cancel: @Sendable () async -> Void)
    { (AsyncStream { $0.finish() }, {}) }
    func setState(package: String, resource: String, contentType: String, body: [UInt8]) async throws {}
}

@Suite struct EnergyServiceTests {
    /// 2025-06-21T06:00:00Z.
    static let dayStart: Duration = .seconds(1_750_485_600)
    let clock = EnergyDayClock(grid: EnergyTimeGrid(), dayStart: dayStart)
    let houses = SimulatedHouses()

    func make(_ type: String, _ parameters: [String: String]) throws -> (any ServiceComponent, RecordingContext) {
        let context = RecordingContext(type, parameters: parameters.merging(["day-start": "2025-06-21T06:00:00Z"]) { a, _ in a }, now: Self.dayStart - .seconds(1))
        let registry = ServiceComponentRegistry(EnergyComponents.factories(houses: houses))
        let component = try #require(registry.factory(for: type)).makeComponent(for: context.instance)
        return (component, context)
    }

    @Test(arguments: [
        ("household-meter", "interval", "10m", "is not 15m or 5m"),
        ("flexibility", "time-scale", "0", "'0' is not a number in"),
        ("coordinator", "day-start", "tomorrow", "is not an ISO 8601 UTC time"),
        ("household-meter", "household", "h001 h777", "'h777' is not a household of the simulated day of 50 households (h000…h049)"),
        ("flexibility", "simulated-households", "5000", "is not a whole number in 1…1000"),
        ("coordinator", "priority", "-1", "is not a whole number in 0…9999"),
        ("coordinator", "failover-after", "soon", "is not a duration"),
        ("community-balance", "min-households", "0", "is not a whole number in 1…1000"),
    ])
    func aConfigurationTheServiceCannotUseIsRefusedNamingTheParameter(type: String, parameter: String, value: String, problem: String) throws {
        var parameters = ["household": "h001", "feeder": "f"]
        parameters[parameter] = value
        let context = RecordingContext(type, id: "x", parameters: parameters, now: .zero)
        let factory = try #require(ServiceComponentRegistry(EnergyComponents.factories()).factory(for: type))
        #expect {
            try factory.makeComponent(for: context.instance)
        } throws: { error in
            let text = "\(error)"
            return (error as? ServicePlatformError)?.code == .invalidConfiguration && text.contains("service 'x' (\(type)): parameter '\(parameter)'")
                && text.contains(problem)
        }
    }

    @Test func aFlexibilityServiceAnswersRequestsItCannotTakeWithAReasonAndChangesNothing() async throws {
        let (component, context) = try make("flexibility", ["household": "h001 h002"])
        try await component.start(context: context)
        defer { Task { await component.stop() } }
        let declared = context.messages(on: "offers").count
        func request(_ body: String, method: String = "MESSAGE", type: String = EnergyMessage.contentType) async -> ServiceDirectAnswer {
            await component.handle(
                ServiceDirectRequest(method: method, eventPackage: nil, from: "sip:x@h", requestURI: context.instance.uri, contentType: type, body: Array(body.utf8)),
                context: context)
        }
        let withdrawal = #"{"body":{"household":"h001"},"type":"withdrawal","v":1}"#
        #expect(await request(withdrawal, method: "OPTIONS").statusCode == 405)
        let plain = await request(withdrawal, type: "text/plain")
        #expect(plain.statusCode == 400)
        #expect(plain.reason?.contains("content type 'text/plain' is not application/smf-energy+json") == true)
        #expect(await request("not json").statusCode == 400)
        let stranger = await request(#"{"body":{"household":"h009"},"type":"withdrawal","v":1}"#)
        #expect(stranger.statusCode == 404)
        #expect(stranger.reason?.contains("'h009' is not hosted") == true)
        let advice = await request(#"{"body":{"id":"c"},"type":"coordinator","v":1}"#)
        #expect(advice.statusCode == 400)
        #expect(advice.reason?.contains("not coordinator") == true)
        #expect(context.messages(on: "offers").count == declared)
        // And a withdrawal it can take.
        #expect(await request(withdrawal, method: "PUBLISH", type: "application/smf-energy+json; charset=utf-8") == .ok)
        #expect(context.messages(on: "offers").last == .withdrawal(household: "h001"))
        // A household that left offers nothing more.
        let offers = context.messages(on: "offers").count
        let load = FlexibleLoad(id: "h001.x", household: "h001", kind: .dishwasher, powerKW: 2, energyKWh: 1, earliestStart: 80, deadline: 90)
        let late = await request(String(decoding: try EnergyMessage.flexibility(FlexibilityDeclaration(household: "h001", loads: [load], battery: nil)).body(), as: UTF8.self))
        #expect(late.statusCode == 409)
        #expect(context.messages(on: "offers").count == offers)
    }

    @Test func aDeviceThatDeclaresItselfBecomesALoadOfTheHousehold() async throws {
        let (component, context) = try make("flexibility", ["household": "h001"])
        try await component.start(context: context)
        defer { Task { await component.stop() } }
        let load = FlexibleLoad(id: "h001.sauna", household: "h001", kind: .heatPump, powerKW: 6, energyKWh: 6, earliestStart: 60, deadline: 80)
        let body = try EnergyMessage.flexibility(FlexibilityDeclaration(household: "h001", loads: [load], battery: nil)).body()
        let answer = await component.handle(
            ServiceDirectRequest(method: "PUBLISH", eventPackage: "m2m-flexibility", from: "sip:sauna@h", requestURI: context.instance.uri, contentType: EnergyMessage.contentType, body: body),
            context: context)
        #expect(answer == .ok)
        guard case .flexibility(let declaration)? = context.messages(on: "offers").last else {
            Issue.record("no new declaration")
            return
        }
        #expect(declaration.loads.contains(load))
        // Without advice it runs at its earliest start in the house.
        await (component as! FlexibilityComponent).fire(until: clock.time(of: 60, .households))
        #expect(houses.state(application: "app", household: "h001", day: 0).starts["h001.sauna"] == 60)
    }

    @Test func aCoordinatorTakesAnnouncementsOnlyFromItsPeersPort() async throws {
        let (component, context) = try make("coordinator", ["priority": "5"])
        try await component.start(context: context)
        defer { Task { await component.stop() } }
        #expect(context.messages(on: "peers") == [.coordinator(id: "0005.svc")])
        // A household cannot make it defer by posing as a coordinator on offers.
        try await component.receive(context.input(.coordinator(id: "0000.impostor"), on: "offers"), context: context)
        #expect(context.messages(on: "peers").count == 1)
        // A real peer with a lower id is answered and led by.
        try await component.receive(context.input(.coordinator(id: "0001.other"), on: "peers"), context: context)
        #expect(context.messages(on: "peers") == [.coordinator(id: "0005.svc"), .coordinator(id: "0005.svc")])
        #expect(await (component as! CoordinatorComponent).isLeader == false)
    }

    @Test func aCoordinatorLogsEveryNewPlanWithTheHouseholdsItCovers() async throws {
        let (component, context) = try make("coordinator", ["priority": "1"])
        try await component.start(context: context)
        defer { Task { await component.stop() } }
        let day = houses.day(seed: 1, households: 50, intervalMinutes: 15)
        try await component.receive(
            context.input(.aggregateForecast(AggregateForecast(community: "c", from: 0, netKW: day.inflexibleNet, households: [])), on: "balance"),
            context: context)
        for household in day.households.prefix(3) {
            let declaration = FlexibilityDeclaration(household: household.id, loads: household.flexibleLoads, battery: household.battery)
            try await component.receive(context.input(.flexibility(declaration), on: "offers", attributes: ["group": "g"]), context: context)
        }
        let coordinator = component as! CoordinatorComponent
        await coordinator.fire(until: clock.time(of: 3, .coordinators))
        try await component.receive(context.input(.withdrawal(household: "h001"), on: "offers"), context: context)
        await coordinator.fire(until: clock.time(of: 8, .coordinators))
        // One plan when it learnt the three households, one when h001 left; none when nothing changed.
        let plans = context.log.lines.withLock { $0 }.filter { $0.message == "energy: plan" }.map(\.metadata)
        #expect(plans.map { $0["energy.interval"] } == ["0", "4"])
        #expect(plans.map { $0["energy.version"] } == ["1", "2"])
        #expect(plans.map { $0["energy.households"] } == ["3", "2"])
        #expect(plans.allSatisfy { $0["energy.leads"] == "true" && $0["energy.coordinator"] == "0001.svc" && $0["energy.day"] == "0" })
        #expect(plans.allSatisfy { Double($0["energy.peak-kw"] ?? "") ?? 0 > 0 })
    }

    @Test func aPeerHeardLongBeforeTheDayIsNotSilentWhenTheDayBegins() async throws {
        // Deployed three hours before the day: the peers announce themselves once, then only at their turns.
        let (component, context) = try make("coordinator", ["priority": "5"])
        context.time.withLock { $0 = Self.dayStart - .seconds(3 * 3600) }
        try await component.start(context: context)
        defer { Task { await component.stop() } }
        try await component.receive(context.input(.coordinator(id: "0001.other"), on: "peers"), context: context)
        let coordinator = component as! CoordinatorComponent
        #expect(await coordinator.isLeader == false)
        // The day's first turns: it does not count the peer gone before failover-after (45 min) of its own turns.
        for n in 0...3 {
            context.time.withLock { $0 = clock.time(of: n, .coordinators) }
            await coordinator.fire(until: clock.time(of: n, .coordinators))
        }
        #expect(await coordinator.isLeader == false)
        #expect(!context.messages(on: "peers").contains(.coordinatorLeft(id: "0001.other")))
        // Silent from then on, it is gone after 45 minutes and one interval.
        context.time.withLock { $0 = clock.time(of: 4, .coordinators) }
        await coordinator.fire(until: clock.time(of: 4, .coordinators))
        #expect(await coordinator.isLeader)
        #expect(context.messages(on: "peers").last == .coordinatorLeft(id: "0001.other"))
    }

    @Test func theSimulatedDayRepeatsAndEachDayIsDeclaredAndMeasuredAgain() async throws {
        let (flex, flexContext) = try make("flexibility", ["household": "h001"])
        let (meter, meterContext) = try make("household-meter", ["household": "h001"])
        try await flex.start(context: flexContext)
        try await meter.start(context: meterContext)
        defer { Task { await flex.stop(); await meter.stop() } }
        let count = clock.grid.intervalCount
        // Two whole days: the meter reads the second day's last interval at its end, before the flexibility
        // service's turn in the third day.
        let end = clock.time(of: 2 * count - 1, .meters)
        await (flex as! FlexibilityComponent).fire(until: end)
        await (meter as! HouseholdMeterComponent).fire(until: end)
        let declarations = flexContext.messages(on: "offers").filter { $0.typeName == "flexibility" }
        // Each day: at its start and at every hour after (23).
        #expect(declarations.count == 48)
        let readings = meterContext.messages(on: "readings").compactMap { if case .reading(let r) = $0 { r } else { nil } }
        #expect(readings.count == 2 * count)
        #expect(readings.map(\.interval) == Array(0..<count) + Array(0..<count))
        // The readings saw what the flexibility service switched on, and without advice the second day is the first.
        let day = houses.day(seed: 1, households: 50, intervalMinutes: 15)
        let household = try #require(day.households.first { $0.id == "h001" })
        let flexibleKWh = household.flexibleLoads.reduce(0) { $0 + $1.energyKWh }
        let measured = readings.prefix(count).reduce(0) { $0 + $1.consumptionKWh }
        let base = household.baseLoad.reduce(0) { $0 + $1 * clock.grid.hours }
        #expect(abs(measured - base - flexibleKWh) < 1e-6)
        #expect(Array(readings.prefix(count)) == Array(readings.suffix(count)))
        #expect(houses.state(application: "app", household: "h001", day: 1).starts == houses.state(application: "app", household: "h001", day: 0).starts)
        #expect(houses.state(application: "app", household: "h001", day: 1).starts.count == household.flexibleLoads.count)
    }

    @Test func aFlexibilityServiceLogsEveryLoadItStartsAndTheDaysAccount() async throws {
        let (component, context) = try make("flexibility", ["household": "h001 h002"])
        try await component.start(context: context)
        defer { Task { await component.stop() } }
        await (component as! FlexibilityComponent).fire(until: clock.time(of: clock.grid.intervalCount - 1, .households))
        let lines = context.log.lines.withLock { $0 }
        let starts = lines.filter { $0.message == "energy: load started" }.map(\.metadata)
        let day = houses.day(seed: 1, households: 50, intervalMinutes: 15)
        let loads = day.households.filter { ["h001", "h002"].contains($0.id) }.flatMap(\.flexibleLoads)
        #expect(Set(starts.compactMap { $0["energy.load"] }) == Set(loads.map(\.id)))
        for load in loads {
            let line = starts.first { $0["energy.load"] == load.id }
            #expect(line?["energy.interval"] == "\(load.earliestStart)")
            #expect(line?["energy.household"] == load.household && line?["energy.day"] == "0")
        }
        let account = lines.filter { $0.message == "energy: day over" }.map(\.metadata)
        #expect(account.count == 1)
        #expect(account.first?["energy.loads"] == "\(loads.count)" && account.first?["energy.started"] == "\(loads.count)")
        #expect(account.first?["energy.outside-window"] == "0")
    }

    @Test func theDayClockPutsEveryServiceInTheSameIntervalWhateverTheTimeScale() {
        let fast = EnergyDayClock(grid: EnergyTimeGrid(), timeScale: 960)
        // Without a day start, days begin at 06:00 UTC of simulated time (real time × scale).
        #expect(fast.interval(at: .seconds(21_600.0 / 960)) == 0)
        #expect(fast.interval(at: .seconds(21_600.0 / 960) - .milliseconds(1)) == -1)
        let n = fast.interval(at: .seconds(1_750_000_000))
        #expect(fast.time(of: n, .coordinators) <= .seconds(1_750_000_000) && .seconds(1_750_000_000) < fast.time(of: n + 1, .coordinators))
        #expect(fast.interval(at: fast.time(of: n + 7, .coordinators)) == n + 7)
        #expect(fast.dayAndIndex(of: 96 * 3 + 5).day == 3 && fast.dayAndIndex(of: 96 * 3 + 5).index == 5)
        #expect(fast.dayAndIndex(of: -1).day == -1 && fast.dayAndIndex(of: -1).index == 95)
        // Households act after the coordinators and before the meters; real time caps their delay at 10 s.
        #expect(fast.offset(of: .households) == 1.0 / 3)
        #expect(abs(EnergyDayClock(grid: EnergyTimeGrid()).offset(of: .households) - 10.0 / 900) < 1e-12)
    }
}

/// Keeps what a logger logs, for one test.
struct CapturingLogHandler: LogHandler {
    final class Lines: Sendable {
        let lines = Mutex<[(message: String, metadata: [String: String])]>([])
    }

    let captured: Lines
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let all = metadata.merging(event.metadata ?? [:]) { _, new in new }
        captured.lines.withLock { $0.append(("\(event.message)", all.mapValues { "\($0)" })) }
    }
}
