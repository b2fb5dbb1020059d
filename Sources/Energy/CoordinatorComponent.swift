import Composition
import Logging
import ServicePlatform

/// `coordinator`: a ``Coordinator`` driven through wires.
///
/// - Inputs: the aggregate forecast on `balance`, the households' declarations and load starts on `offers`, and the
///   other coordinators' announcements on `peers`. Soft-state refreshes that change nothing (the same aggregate, the
///   same loads and battery) are not passed to the planner, so it plans only when something changed, as in
///   ``EnergyCommunityRun``.
/// - At the start of each interval it announces itself on `peers` (its heartbeat), declares gone every peer it has not
///   heard from for `failover-after` of simulated time, and plans; when it leads, it emits each household's advice on
///   `advice` with the attributes `household` and `group` (the id of the flexibility service that declared it). Each
///   new plan is logged (`energy: plan`: version, interval, households planned for, whether it leads, the planned
///   feeder peak from then on).
/// - Several coordinators: the core's rule, lowest id leads, with the id `PPPP.service` (`priority` zero-padded,
///   then the service id), so that a lower `priority` leads. A coordinator that takes over from a leader that went
///   silent (or said it stopped) first tells every household `coordinator-left`, so that they take its advice from
///   then on; the others plan in the shadow.
/// - A new day starts a new plan: the coordinator starts afresh, keeping the last aggregate forecast (the same
///   simulated day repeats), and plans once the households have declared again.
///
/// Relay: nothing durable. A restarted coordinator learns the forecast and the declarations (with the loads that
/// started) from the hourly refreshes; the battery schedules it had sent are lost, so it plans the batteries from
/// their declared charge.
actor CoordinatorComponent: ServiceComponent, EnergyTimedComponent {
    static let advice = "advice"
    static let peers = "peers"

    /// The id the core compares: lower priority first, then the service id.
    let id: String
    private let instance: ServiceInstanceInfo
    private let advises: Bool
    private let failoverAfter: Duration
    private var core: Coordinator
    private var day = Int.min
    private var forecast: [Double]?
    private var declared: [String: FlexibilityDeclaration] = [:]
    /// Every household that declared, and the group (flexibility service) it declared through, if given.
    private var households: Set<String> = []
    private var groups: [String: String] = [:]
    private var lastHeard: [String: Duration] = [:]
    /// When it took its first turn: peers announce only at their turns, so none is silent before the day begins.
    private var firstTurn: Duration?
    private var context: (any ServiceContext)?
    var schedule: EnergySchedule

    init(instance: ServiceInstanceInfo) throws(ServicePlatformError) {
        let settings = try EnergyServiceSettings(instance)
        let priority = try EnergyServiceSettings.integer(instance, "priority", default: 100, in: 0...9999)
        let digits = String(priority)
        self.id = String(repeating: "0", count: 4 - digits.count) + digits + "." + instance.serviceID
        switch instance.parameter("algorithm") ?? "valley-filling" {
        case "valley-filling": advises = true
        case "none": advises = false
        case let other: throw EnergyServiceSettings.problem(instance, "algorithm", "'\(other)' is not valley-filling or none")
        }
        let failover = instance.parameter("failover-after").map(CompositionDuration.parse) ?? .seconds(45 * 60)
        guard let failover, failover > .zero else {
            throw EnergyServiceSettings.problem(instance, "failover-after", "'\(instance.parameter("failover-after") ?? "")' is not a duration such as 45m")
        }
        self.instance = instance
        self.schedule = EnergySchedule(clock: settings.clock, phase: .coordinators)
        // Simulated time to real time.
        self.failoverAfter = .seconds((failover / .seconds(1)) * settings.clock.intervalSeconds / Double(settings.clock.grid.intervalMinutes * 60))
        self.core = Coordinator(id: id, grid: settings.clock.grid)
    }

    func start(context: any ServiceContext) async throws {
        self.context = context
        day = clock.dayAndIndex(of: scheduleFirst(at: context.clock.now())).day
        await perform(core.started())
        startTimer(clock: context.clock)
    }

    func receive(_ input: ServiceInput, context: any ServiceContext) async throws {
        guard let (port, message, attributes) = EnergyPort.accepted(input, by: instance.serviceType, context: context) else { return }
        switch message {
        case .coordinator(let other), .coordinatorLeft(let other):
            guard port == Self.peers, other != id else { return }
            let leader = core.leader
            if case .coordinator = message {
                lastHeard[other] = context.clock.now()
            } else {
                lastHeard[other] = nil
            }
            await perform(core.received(message), replacing: leader)
        case .aggregateForecast(let sum):
            guard sum.from == 0, sum.netKW != forecast else { return }
            forecast = sum.netKW
            await perform(core.received(message))
        case .flexibility(let declaration):
            households.insert(declaration.household)
            if let group = attributes["group"] { groups[declaration.household] = group }
            var unchanged = declaration
            unchanged.started = declared[declaration.household]?.started
            if let known = declared[declaration.household], known == unchanged {
                // A refresh: only starts the planner has not heard of.
                for (load, interval) in (declaration.started ?? [:]).sorted(by: { $0.key < $1.key }) where known.started?[load] == nil {
                    await perform(core.received(.started(LoadStarted(household: declaration.household, load: load, interval: interval))))
                }
                declared[declaration.household]?.started = declaration.started
            } else {
                declared[declaration.household] = declaration
                await perform(core.received(message))
            }
        case .started(let report):
            let started = (declared[report.household]?.started ?? [:]).merging([report.load: report.interval]) { a, _ in a }
            declared[report.household]?.started = started
            await perform(core.received(message))
        case .withdrawal(let household):
            declared[household] = nil
            await perform(core.received(message))
        default:
            await perform(core.received(message))
        }
    }

    /// Says it stops (the other coordinators take over at once instead of after `failover-after`), then stops.
    func stop() async {
        stopTimer()
        guard let context else { return }
        await context.emitLogged(.coordinatorLeft(id: id), on: Self.peers, attributes: ["coordinator": id])
        if core.isLeader { await tellHouseholds(.coordinatorLeft(id: id)) }
        self.context = nil
    }

    /// Whether it leads now.
    var isLeader: Bool { core.isLeader }

    /// The start of interval `n`: heartbeat, failure detection, plan.
    func act(_ n: Int, now: Duration) async {
        let (day, index) = clock.dayAndIndex(of: n)
        if day != self.day {
            self.day = day
            core = Coordinator(id: id, grid: clock.grid)
            declared = [:]
            await perform(core.started())
            if let forecast {
                _ = core.received(.aggregateForecast(AggregateForecast(community: "", from: 0, netKW: forecast, households: [])))
            }
        } else {
            await context?.emitLogged(.coordinator(id: id), on: Self.peers, attributes: ["coordinator": id])
        }
        // A thousandth of an interval of slack, so that rounding cannot make a peer gone one interval early.
        let silence = failoverAfter + .seconds(clock.intervalSeconds / 1000)
        let firstTurn = self.firstTurn ?? now
        self.firstTurn = firstTurn
        for (peer, heard) in lastHeard.sorted(by: { $0.key < $1.key }) where now - max(heard, firstTurn) > silence {
            lastHeard[peer] = nil
            context?.logger.info("energy: coordinator silent, counted as gone", metadata: ["energy.coordinator": "\(peer)"])
            let leader = core.leader
            await context?.emitLogged(.coordinatorLeft(id: peer), on: Self.peers, attributes: ["coordinator": id])
            await perform(core.received(.coordinatorLeft(id: peer)), replacing: leader)
        }
        let version = core.planVersion
        await perform(core.intervalStarted(index))
        if core.planVersion != version, let plan = core.plan {
            context?.logger.info(
                "energy: plan",
                metadata: [
                    "energy.coordinator": "\(id)", "energy.day": "\(day)", "energy.interval": "\(index)", "energy.version": "\(core.planVersion)",
                    "energy.households": "\(core.households.count)", "energy.leads": "\(core.isLeader)",
                    "energy.peak-kw": "\(((plan.feeder.dropFirst(index).max() ?? 0) * 10).rounded() / 10)",
                ])
        }
    }

    /// Carries out the core's actions. `replacing` is the leader before the event that caused them: when this
    /// coordinator takes over from it, the households hear that it left before they get the new advice.
    private func perform(_ actions: [Coordinator.Action], replacing leader: String? = nil) async {
        guard let context else { return }
        for action in actions {
            switch action {
            case .broadcast(let message):
                await context.emitLogged(message, on: Self.peers, attributes: ["coordinator": id])
            case .notify(let household, let message):
                guard advises else { continue }
                await context.emitLogged(message, on: Self.advice, attributes: adviceAttributes(household))
            case .deferTo(let other):
                context.logger.info("energy: coordinator defers", metadata: ["energy.coordinator": "\(id)", "energy.leader": "\(other)"])
            case .tookLead:
                context.logger.info("energy: coordinator leads", metadata: ["energy.coordinator": "\(id)"])
                if let leader, leader != id { await tellHouseholds(.coordinatorLeft(id: leader)) }
            }
        }
    }

    private func tellHouseholds(_ message: EnergyMessage) async {
        for household in households.sorted() {
            await context?.emitLogged(message, on: Self.advice, attributes: adviceAttributes(household))
        }
    }

    private func adviceAttributes(_ household: String) -> [String: String] {
        var attributes = ["household": household]
        if let group = groups[household] { attributes["group"] = group }
        return attributes
    }
}
