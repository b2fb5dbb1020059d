/// Runs a simulated day through the protocol components in one process: a ``MeterService`` and a
/// ``FlexibilityService`` per household, one ``BalanceService``, and one or more ``Coordinator``s. Every
/// message is encoded to its `application/smf-energy+json` body and parsed again on the way, as it would be
/// in a PUBLISH or NOTIFY.
///
/// Time advances interval by interval: coordinators plan and advise, then households start loads and set
/// batteries, then meters report. Events such as a household or a coordinator leaving happen at the start of
/// their interval.
public struct EnergyCommunityRun: Sendable {
    /// Something that happens during the day.
    public enum Event: Hashable, Sendable {
        /// The household leaves the community at the start of the interval and runs its loads on its own.
        case householdLeaves(String, atInterval: Int)
        /// The coordinator stops at the start of the interval.
        case coordinatorLeaves(String, atInterval: Int)
    }

    /// What happened.
    public struct Result: Sendable {
        /// The day's figures (the strategy is `.community`).
        public var outcome: StrategyOutcome
        /// Start interval of every load that started, by id.
        public var starts: [String: Int]
        /// Messages carried, and their body bytes.
        public var messages: Int
        public var bytes: Int
        /// Bodies that failed to encode or parse (should be 0).
        public var rejected: Int
        /// Per coordinator, the households it advised (the leader's list is the non-empty one).
        public var advisedBy: [String: Set<String>]
        /// Per coordinator, the `deferTo` it announced last, if any.
        public var deferredTo: [String: String]
    }

    public var day: EnergyDay
    public var coordinatorIDs: [String]
    public var events: [Event]
    public var community: String

    public init(day: EnergyDay, coordinatorIDs: [String] = ["coordinator-1"], events: [Event] = [], community: String = "feeder") {
        self.day = day
        self.coordinatorIDs = coordinatorIDs
        self.events = events
        self.community = community
    }

    /// Runs the whole day.
    public func run() -> Result {
        var bus = Bus()
        let grid = day.grid
        var coordinators = coordinatorIDs.map { Coordinator(id: $0, grid: grid) }
        var balance = BalanceService(community: community, grid: grid)
        var meters = day.households.map { MeterService(household: $0.id) }
        var flexibility = day.households.map { FlexibilityService(household: $0.id, grid: grid, loads: $0.flexibleLoads, battery: $0.battery) }
        var activeCoordinators = Set(coordinatorIDs)
        var batteryPower: [String: [Double]] = [:]
        var advisedBy: [String: Set<String>] = [:]
        var deferredTo: [String: String] = [:]
        let householdIndex = Dictionary(day.households.enumerated().map { ($1.id, $0) }, uniquingKeysWith: { a, _ in a })

        func toCoordinators(_ message: EnergyMessage, except sender: String? = nil) {
            for index in coordinators.indices where activeCoordinators.contains(coordinators[index].id) && coordinators[index].id != sender {
                guard let delivered = bus.carry(message) else { continue }
                handle(coordinators[index].received(delivered), from: index)
            }
        }
        func handle(_ actions: [Coordinator.Action], from index: Int) {
            let id = coordinators[index].id
            for action in actions {
                switch action {
                case .broadcast(let message):
                    toCoordinators(message, except: id)
                    for h in flexibility.indices {
                        if let delivered = bus.carry(message) { _ = flexibility[h].received(delivered) }
                    }
                case .notify(let household, let message):
                    advisedBy[id, default: []].insert(household)
                    if let h = householdIndex[household], let delivered = bus.carry(message) { _ = flexibility[h].received(delivered) }
                case .deferTo(let leader):
                    deferredTo[id] = leader
                case .tookLead:
                    deferredTo[id] = nil
                }
            }
        }
        func toBalance(_ message: EnergyMessage) {
            guard let delivered = bus.carry(message) else { return }
            for case .notifyCoordinators(let out) in balance.received(delivered) { toCoordinators(out) }
        }

        for index in coordinators.indices { handle(coordinators[index].started(), from: index) }
        for (h, household) in day.households.enumerated() {
            for case .publish(let message) in meters[h].forecastComputed(from: 0, netKW: household.inflexibleNet) { toBalance(message) }
            for case .publish(let message) in flexibility[h].declare() { toCoordinators(message) }
        }
        for case .notifyCoordinators(let message) in balance.aggregateForecast() { toCoordinators(message) }

        var left = Set<String>()
        for t in 0..<grid.intervalCount {
            for event in events {
                switch event {
                case .householdLeaves(let household, let interval) where interval == t:
                    guard let h = householdIndex[household] else { continue }
                    left.insert(household)
                    for case .publish(let message) in flexibility[h].leave() { toBalance(message) }
                case .coordinatorLeaves(let coordinator, let interval) where interval == t:
                    guard activeCoordinators.remove(coordinator) != nil else { continue }
                    toCoordinators(.coordinatorLeft(id: coordinator))
                    for h in flexibility.indices {
                        if let delivered = bus.carry(.coordinatorLeft(id: coordinator)) { _ = flexibility[h].received(delivered) }
                    }
                default:
                    break
                }
            }
            for index in coordinators.indices where activeCoordinators.contains(coordinators[index].id) {
                handle(coordinators[index].intervalStarted(t), from: index)
            }
            for (h, household) in day.households.enumerated() {
                for action in flexibility[h].intervalStarted(t) {
                    switch action {
                    case .publish(let message): toCoordinators(message)
                    case .setBattery(let power):
                        batteryPower[household.id, default: [Double](repeating: 0, count: grid.intervalCount)][t] = power
                    case .startLoad, .deferLoad: break
                    }
                }
            }
            for (h, household) in day.households.enumerated() where !left.contains(household.id) {
                let devices = Self.devices(of: household, at: t, starts: flexibility[h].startedLoads, battery: batteryPower[household.id]?[t], grid: grid)
                for case .publish(let message) in meters[h].intervalMeasured(t, devices: devices) { toBalance(message) }
            }
            for case .notifyCoordinators(let message) in balance.intervalClosed(t) { toCoordinators(message) }
        }

        var starts: [String: Int] = [:]
        for service in flexibility { starts.merge(service.startedLoads) { a, _ in a } }
        let outcome = EnergySimulation.outcome(.community, on: day, starts: starts, batteryPower: batteryPower)
        return Result(
            outcome: outcome, starts: starts, messages: bus.messages, bytes: bus.bytes, rejected: bus.rejected,
            advisedBy: advisedBy, deferredTo: deferredTo)
    }

    /// What the household's meter sees in interval `t`: PV, base load, each running load, the battery.
    static func devices(of household: Household, at t: Int, starts: [String: Int], battery: Double?, grid: EnergyTimeGrid) -> [MeterService.DeviceReading] {
        var devices = [
            MeterService.DeviceReading(device: "pv", productionKWh: household.production[t] * grid.hours),
            MeterService.DeviceReading(device: "base", consumptionKWh: household.baseLoad[t] * grid.hours),
        ]
        for load in household.flexibleLoads {
            guard let start = starts[load.id], t >= start else { continue }
            let steps = load.powerSteps(on: grid)
            if t - start < steps.count {
                devices.append(MeterService.DeviceReading(device: load.id, consumptionKWh: steps[t - start] * grid.hours))
            }
        }
        if let battery {
            devices.append(MeterService.DeviceReading(
                device: "battery", productionKWh: max(0, -battery) * grid.hours, consumptionKWh: max(0, battery) * grid.hours))
        }
        return devices
    }

    /// Carries messages as bodies: encodes, counts, parses.
    private struct Bus {
        var messages = 0
        var bytes = 0
        var rejected = 0

        mutating func carry(_ message: EnergyMessage) -> EnergyMessage? {
            do {
                let body = try message.body()
                messages += 1
                bytes += body.count
                return try EnergyMessage(body: body)
            } catch {
                rejected += 1
                return nil
            }
        }
    }
}
