import Foundation
public import Composition
import Logging
public import ServicePlatform
import Synchronization

/// Runs an energy composition's services in one process: each service is made by the energy factories of its node
/// (``EnergyComponents/factories(houses:)``; services placed on the same `peer:` share the node's simulated houses),
/// and every value a service emits reaches the services wired to its port whose filters it passes, as the SDP
/// runtime would carry it in a NOTIFY, but in one queue, in order.
///
/// ``run()`` runs the first simulated day on a virtual clock: time jumps from one service action to the next
/// (``EnergyDayClock/Phase``), so a day of 50 households takes well under a second and the same composition gives
/// the same day. ``runInRealTime(margin:)`` lets the services' own timers run on the real clock instead (the
/// composition's `day-start` must be near and its `time-scale` high).
///
/// It is the in-process test bed of the components and what `smf demo energy --components` runs; the same
/// composition deployed on `smf run` nodes runs over SIP instead.
public struct EnergyCompositionRun: Sendable {
    /// Something that happens during the day, at the start of an interval (before the coordinators plan it).
    public enum Event: Hashable, Sendable {
        /// The household leaves: a MESSAGE with its `withdrawal` reaches the flexibility service that hosts it.
        case householdLeaves(String, atInterval: Int)
        /// The service's node fails: nothing more reaches the service or leaves it, and it says nothing.
        case serviceFails(String, atInterval: Int)
        /// The service is undeployed: it is stopped (and may say goodbye), then cut off.
        case serviceStops(String, atInterval: Int)
    }

    /// A value a service emitted.
    public struct Carried: Sendable, Hashable {
        /// The service that emitted it.
        public var service: String
        /// The output port.
        public var port: String
        public var value: ServiceValue
        /// When (real or virtual time since 1970).
        public var at: Duration
    }

    /// What happened.
    public struct Result: Sendable {
        /// The simulated day the households come from.
        public var day: EnergyDay
        /// The day's figures from what the houses did (the strategy is `.community`).
        public var outcome: StrategyOutcome
        /// Start interval of every load that started, by id.
        public var starts: [String: Int]
        /// Every value emitted, in order (also those that no wire took).
        public var carried: [Carried]
        /// Values that reached a consumer, and their body bytes.
        public var deliveries: Int
        public var bytes: Int
        /// Inputs a consumer refused (its `receive` threw).
        public var refused: Int
        /// The answers to the events' direct requests, in order.
        public var answers: [ServiceDirectAnswer]
        /// Per coordinator service, the households it advised.
        public var advisedBy: [String: Set<String>]
    }

    /// Why a composition cannot be run here.
    public struct RunError: Error, Sendable, CustomStringConvertible {
        public var description: String
    }

    public var composition: Composition
    public var events: [Event]

    public init(composition: Composition, events: [Event] = []) {
        self.composition = composition
        self.events = events
    }

    /// Runs the first simulated day on a virtual clock.
    public func run() async throws -> Result {
        let setup = try Setup(composition)
        let time = VirtualTime(setup.clock.time(of: 0, .coordinators) - .seconds(1))
        let wiring = try Wiring(
            composition: composition, setup: setup,
            clock: ServiceClock(now: { time.now.withLock { $0 } }, sleep: { _ in try await Self.sleepUntilCancelled() }))
        await wiring.startAll()
        let end = setup.clock.time(of: setup.clock.grid.intervalCount - 1, .balance)
        var pending = events.sorted { Self.interval(of: $0) < Self.interval(of: $1) }
        var answers: [ServiceDirectAnswer] = []
        while true {
            var dues: [Duration] = []
            for id in wiring.order where wiring.isAlive(id) {
                if let timed = wiring.components[id] as? any EnergyTimedComponent { dues.append(await timed.nextDue()) }
            }
            if let event = pending.first { dues.append(setup.clock.time(of: Self.interval(of: event), .coordinators)) }
            guard let now = dues.min(), now <= end else { break }
            time.now.withLock { $0 = now }
            while let event = pending.first, setup.clock.time(of: Self.interval(of: event), .coordinators) <= now {
                pending.removeFirst()
                if let answer = try await wiring.apply(event) { answers.append(answer) }
            }
            for id in wiring.order where wiring.isAlive(id) {
                guard let timed = wiring.components[id] as? any EnergyTimedComponent, await timed.nextDue() <= now else { continue }
                await timed.fire(until: now)
                await wiring.drain()
            }
        }
        await wiring.stopAll()
        return wiring.result(answers: answers)
    }

    /// Runs the first simulated day on the real clock with the services' own timers, until `margin` after the day's
    /// last action. Events happen at their real times.
    public func runInRealTime(margin: Duration = .milliseconds(200)) async throws -> Result {
        let setup = try Setup(composition)
        let now: @Sendable () -> Duration = { .seconds(Date().timeIntervalSince1970) }
        let wiring = try Wiring(composition: composition, setup: setup, clock: ServiceClock(now: now, sleep: { try await Task.sleep(for: $0) }))
        await wiring.startAll()
        let pump = Task {
            while !Task.isCancelled {
                await wiring.drain()
                try? await Task.sleep(for: .milliseconds(1))
            }
        }
        var answers: [ServiceDirectAnswer] = []
        for event in events.sorted(by: { Self.interval(of: $0) < Self.interval(of: $1) }) {
            let wait = setup.clock.time(of: Self.interval(of: event), .coordinators) - now()
            if wait > .zero { try await Task.sleep(for: wait) }
            if let answer = try await wiring.apply(event) { answers.append(answer) }
        }
        let wait = setup.clock.time(of: setup.clock.grid.intervalCount - 1, .balance) + margin - now()
        if wait > .zero { try await Task.sleep(for: wait) }
        pump.cancel()
        await wiring.stopAll()
        await wiring.drain()
        return wiring.result(answers: answers)
    }

    private static func interval(of event: Event) -> Int {
        switch event {
        case .householdLeaves(_, let interval), .serviceFails(_, let interval), .serviceStops(_, let interval): interval
        }
    }

    private static func sleepUntilCancelled() async throws {
        while true { try await Task.sleep(for: .seconds(3600)) }
    }

    /// The day and clock every energy service of the composition shares.
    struct Setup: Sendable {
        var clock: EnergyDayClock
        var day: EnergyDay
        var nodes: [String: String]

        init(_ composition: Composition) throws {
            var clocks: Set<EnergyDayClock> = []
            var days: Set<String> = []
            var nodes: [String: String] = [:]
            for service in composition.services {
                let info = Wiring.info(service, in: composition)
                clocks.insert(try EnergyServiceSettings(info).clock)
                if service.type == "household-meter" || service.type == "flexibility" {
                    days.insert("\(service.value(of: "seed") ?? "1") \(service.value(of: "simulated-households") ?? "50")")
                }
                switch service.placement {
                case .peer(let name): nodes[service.id] = name
                case .local: nodes[service.id] = "local"
                case .any: nodes[service.id] = "any:" + service.id
                }
            }
            guard clocks.count == 1, let clock = clocks.first else {
                throw RunError(description: "the services of '\(composition.name)' do not share one interval, time-scale and day-start")
            }
            guard days.count <= 1 else {
                throw RunError(description: "the households of '\(composition.name)' come from different simulated days: \(days.sorted())")
            }
            let parts = (days.first ?? "1 50").split(separator: " ")
            let seed = UInt64(parts.first ?? "1") ?? 1
            let count = Int(parts.last ?? "50") ?? 50
            self.clock = clock
            self.day = EnergyDay.generate(seed: seed, configuration: EnergyDayConfiguration(households: count, intervalMinutes: clock.grid.intervalMinutes))
            self.nodes = nodes
        }
    }
}

/// The virtual clock's time.
private final class VirtualTime: Sendable {
    let now: Mutex<Duration>

    init(_ now: Duration) {
        self.now = Mutex(now)
    }
}

/// The services of one in-process run and the queue between them.
private final class Wiring: Sendable {
    struct State {
        var queue: [EnergyCompositionRun.Carried] = []
        var carried: [EnergyCompositionRun.Carried] = []
        var dead: Set<String> = []
        var nextID = 0
        var deliveries = 0
        var bytes = 0
        var refused = 0
    }

    let composition: Composition
    let setup: EnergyCompositionRun.Setup
    let order: [String]
    let components: [String: any ServiceComponent]
    let contexts: [String: LocalServiceContext]
    let houses: [String: SimulatedHouses]
    let state = Mutex(State())

    init(composition: Composition, setup: EnergyCompositionRun.Setup, clock: ServiceClock) throws {
        self.composition = composition
        self.setup = setup
        order = composition.services.map(\.id)
        var houses: [String: SimulatedHouses] = [:]
        for node in Set(setup.nodes.values) { houses[node] = SimulatedHouses() }
        var components: [String: any ServiceComponent] = [:]
        var contexts: [String: LocalServiceContext] = [:]
        let catalog = ServiceTypeCatalog.builtIn
        for service in composition.services {
            let node = setup.nodes[service.id] ?? "local"
            let registry = ServiceComponentRegistry(EnergyComponents.factories(houses: houses[node] ?? SimulatedHouses()))
            guard let factory = registry.factory(for: service.type) else {
                throw EnergyCompositionRun.RunError(description: "service '\(service.id)': type '\(service.type)' is not an energy service")
            }
            let info = Self.info(service, in: composition, node: node)
            components[service.id] = try factory.makeComponent(for: info)
            contexts[service.id] = LocalServiceContext(
                instance: info, clock: clock, outputs: Set(catalog[service.type]?.outputs.filter { $0.delivery == .events }.map(\.name) ?? []))
        }
        self.components = components
        self.contexts = contexts
        self.houses = houses
        for context in contexts.values { context.wiring.withLock { $0 = self } }
    }

    static func info(_ service: ServiceDeclaration, in composition: Composition, node: String = "local") -> ServiceInstanceInfo {
        ServiceInstanceInfo(
            application: composition.name, community: composition.community, subcommunity: composition.subcommunity,
            declaration: service, uri: "sip:\(composition.name).\(service.id)@\(node)", hostAddressOfRecord: "sip:\(node)@in-process",
            deployer: "sip:local@in-process")
    }

    func isAlive(_ id: String) -> Bool { !state.withLock { $0.dead.contains(id) } }

    func startAll() async {
        for id in order {
            guard let component = components[id], let context = contexts[id] else { continue }
            do {
                try await component.start(context: context)
            } catch {
                state.withLock { _ = $0.dead.insert(id) }
            }
        }
        await drain()
    }

    func stopAll() async {
        state.withLock { $0.dead.formUnion(order) }
        for id in order { await components[id]?.stop() }
        for context in contexts.values { context.wiring.withLock { $0 = nil } }
    }

    /// A service emitted a value on an event output port.
    func emitted(_ value: ServiceValue, on port: String, by service: String, at time: Duration) {
        state.withLock { state in
            guard !state.dead.contains(service) else { return }
            var value = value
            if value.id.isEmpty {
                state.nextID += 1
                value.id = "v\(state.nextID)"
            }
            let carried = EnergyCompositionRun.Carried(service: service, port: port, value: value, at: time)
            state.queue.append(carried)
            state.carried.append(carried)
        }
    }

    /// Delivers queued values, and what they cause, until the queue is empty.
    func drain() async {
        while let item = state.withLock({ $0.queue.isEmpty ? nil : $0.queue.removeFirst() }) {
            for wire in composition.wires where wire.from.service == item.service && wire.from.port == item.port && item.value.passes(wire.filters) {
                let consumer = wire.to.service
                guard isAlive(consumer), let component = components[consumer], let context = contexts[consumer] else { continue }
                state.withLock {
                    $0.deliveries += 1
                    $0.bytes += item.value.body.count
                }
                do {
                    try await component.receive(.value(port: wire.to.port, wire: wire.id ?? wire.description, item.value), context: context)
                } catch {
                    state.withLock { $0.refused += 1 }
                }
            }
        }
    }

    func apply(_ event: EnergyCompositionRun.Event) async throws -> ServiceDirectAnswer? {
        switch event {
        case .householdLeaves(let household, _):
            guard let service = composition.services.first(where: {
                $0.type == "flexibility" && ($0.value(of: "household") ?? "").split(separator: " ").contains(Substring(household))
            }), let component = components[service.id], let context = contexts[service.id] else {
                throw EnergyCompositionRun.RunError(description: "no flexibility service hosts household '\(household)'")
            }
            let request = ServiceDirectRequest(
                method: "MESSAGE", eventPackage: nil, from: "sip:\(household)@in-process", requestURI: context.instance.uri,
                contentType: EnergyMessage.contentType, body: try EnergyMessage.withdrawal(household: household).body())
            let answer = await component.handle(request, context: context)
            await drain()
            return answer
        case .serviceFails(let service, _):
            state.withLock { _ = $0.dead.insert(service) }
        case .serviceStops(let service, _):
            await components[service]?.stop()
            await drain()
            state.withLock { _ = $0.dead.insert(service) }
        }
        return nil
    }

    func result(answers: [ServiceDirectAnswer]) -> EnergyCompositionRun.Result {
        let day = setup.day
        var starts: [String: Int] = [:]
        var batteryPower: [String: [Double]] = [:]
        for household in day.households {
            for house in houses.values {
                let state = house.state(application: composition.name, household: household.id, day: 0)
                starts.merge(state.starts) { a, _ in a }
                guard !state.batteryKW.isEmpty else { continue }
                var power = batteryPower[household.id] ?? [Double](repeating: 0, count: day.grid.intervalCount)
                for (t, kW) in state.batteryKW where t >= 0 && t < power.count { power[t] = kW }
                batteryPower[household.id] = power
            }
        }
        let snapshot = state.withLock { $0 }
        var advisedBy: [String: Set<String>] = [:]
        for item in snapshot.carried where item.port == "advice" {
            if case .advice(let advice)? = try? EnergyPort.message(in: item.value) { advisedBy[item.service, default: []].insert(advice.household) }
        }
        return EnergyCompositionRun.Result(
            day: day, outcome: EnergySimulation.outcome(.community, on: day, starts: starts, batteryPower: batteryPower), starts: starts,
            carried: snapshot.carried, deliveries: snapshot.deliveries, bytes: snapshot.bytes, refused: snapshot.refused, answers: answers,
            advisedBy: advisedBy)
    }
}

/// The context of a service in an in-process run.
private final class LocalServiceContext: ServiceContext {
    let instance: ServiceInstanceInfo
    let clock: ServiceClock
    let logger: Logger
    let sip: any ServiceSIP = NoServiceSIP()
    let outputs: Set<String>
    let wiring = Mutex<Wiring?>(nil)

    init(instance: ServiceInstanceInfo, clock: ServiceClock, outputs: Set<String>) {
        self.instance = instance
        self.clock = clock
        self.outputs = outputs
        var logger = Logger(label: "smf.energy.in-process") { _ in SwiftLogNoOpLogHandler() }
        logger[metadataKey: "sdp.app"] = "\(instance.application)"
        logger[metadataKey: "sdp.service"] = "\(instance.serviceID)"
        self.logger = logger
    }

    func emit(_ value: ServiceValue, on port: String) async throws {
        guard outputs.contains(port) else {
            throw ServicePlatformError(.unknownPort, "service '\(instance.serviceID)' (\(instance.serviceType)) has no event output port '\(port)'")
        }
        wiring.withLock { $0 }?.emitted(value, on: port, by: instance.serviceID, at: clock.now())
    }

    func setState(_ values: [ServiceValue], on port: String) async throws {
        throw ServicePlatformError(.unknownPort, "service '\(instance.serviceID)' (\(instance.serviceType)) has no state output port '\(port)'")
    }

    func notice(_ text: String) async {}
}

/// SIP beyond the wires, which an in-process run does not have.
private struct NoServiceSIP: ServiceSIP {
    func sendMessage(to uri: String, contentType: String, body: [UInt8]) async -> ServiceDeliveryResult {
        .failed(statusCode: nil, reason: "an in-process run has no SIP")
    }

    func subscribe(to uri: String, package: String, contentType: String?, body: [UInt8], expires: Int) async
        -> (updates: AsyncStream<ServiceSubscriptionUpdate>, cancel: @Sendable () async -> Void)
    {
        let (stream, continuation) = AsyncStream<ServiceSubscriptionUpdate>.makeStream()
        continuation.yield(.terminated(reason: "an in-process run has no SIP"))
        continuation.finish()
        return (stream, {})
    }

    func setState(package: String, resource: String, contentType: String, body: [UInt8]) async throws {
        throw ServicePlatformError(.runtime, "an in-process run has no SIP")
    }
}
