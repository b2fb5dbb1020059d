import Logging
import ServicePlatform

/// `flexibility`: one ``FlexibilityService`` per hosted household; it switches the simulated house's loads and
/// battery.
///
/// Each day it declares every household's loads and battery on `offers` (attributes `household` and `group`, the
/// service's id, which the coordinator copies onto its advice so that an advice wire can filter by either), and again
/// every simulated hour (soft state). Advice arriving on `advice` is followed within each load's window, so no
/// coordinator can make a load miss its deadline. A third of the way into each interval (``EnergyDayClock/Phase``) it
/// starts the loads whose time has come, sets the batteries, and reports the starts.
///
/// A household leaves when a `withdrawal` for it arrives as a MESSAGE or PUBLISH to the instance's URI: it withdraws
/// on `offers`, runs its remaining loads on its own, and stays out of the community for the instance's lifetime.
/// A `flexibility` body sent the same way adds loads (a device that was plugged in).
///
/// Relay: nothing durable. A flexibility service that starts (or restarts) in the middle of a day takes it that its
/// loads ran on their own timers until then (each at its earliest start) and follows advice from then on; until the
/// coordinator plans again, the loads run at their earliest start.
actor FlexibilityComponent: ServiceComponent, EnergyTimedComponent {
    static let offers = "offers"

    private let hosted: HostedHouseholds
    private var services: [String: FlexibilityService] = [:]
    private var left: Set<String> = []
    private var day = Int.min
    private var context: (any ServiceContext)?
    var schedule: EnergySchedule

    init(instance: ServiceInstanceInfo, houses: SimulatedHouses) throws(ServicePlatformError) {
        hosted = try HostedHouseholds(instance, houses: houses)
        schedule = EnergySchedule(clock: hosted.clock, phase: .households)
    }

    func start(context: any ServiceContext) async throws {
        self.context = context
        let (day, index) = clock.dayAndIndex(of: scheduleFirst(at: context.clock.now()))
        await begin(day: day, catchingUpTo: index)
        startTimer(clock: context.clock)
    }

    func receive(_ input: ServiceInput, context: any ServiceContext) async throws {
        guard let (_, message, _) = EnergyPort.accepted(input, by: hosted.instance.serviceType, context: context) else { return }
        for household in hosted.households.map(\.id) {
            for case .deferLoad(let load, let until) in services[household]?.received(message) ?? [] {
                context.logger.debug("energy: load deferred", metadata: ["energy.load": "\(load)", "energy.until": "\(until)"])
            }
        }
    }

    func handle(_ request: ServiceDirectRequest, context: any ServiceContext) async -> ServiceDirectAnswer {
        guard request.method == "MESSAGE" || request.method == "PUBLISH" else { return .notAllowed }
        let message: EnergyMessage
        do {
            message = try EnergyPort.message(contentType: request.contentType, body: request.body)
        } catch {
            return ServiceDirectAnswer(statusCode: 400, reason: "\(error)")
        }
        switch message {
        case .withdrawal(let household):
            guard services[household] != nil else { return Self.notHosted(household) }
            await leave(household)
            return .ok
        case .flexibility(let declaration):
            guard var service = services[declaration.household] else { return Self.notHosted(declaration.household) }
            guard !left.contains(declaration.household) else {
                return ServiceDirectAnswer(statusCode: 409, reason: "household '\(declaration.household)' has left the community")
            }
            var actions: [FlexibilityService.Action] = []
            for load in declaration.loads where load.household == declaration.household {
                actions += service.loadAdded(load)
            }
            services[declaration.household] = service
            guard !actions.isEmpty else {
                return ServiceDirectAnswer(statusCode: 400, reason: "no new load that fits the day (positive power and energy, a window long enough to run it)")
            }
            await perform(actions, household: declaration.household, index: clock.dayAndIndex(of: schedule.next).index)
            return .ok
        default:
            return ServiceDirectAnswer(statusCode: 400, reason: "a flexibility service takes withdrawal and flexibility messages, not \(message.typeName)")
        }
    }

    func stop() async { stopTimer() }

    private static func notHosted(_ household: String) -> ServiceDirectAnswer {
        ServiceDirectAnswer(statusCode: 404, reason: "household '\(household)' is not hosted by this flexibility service")
    }

    /// A new day: fresh services; the loads of the intervals before `index` ran on their own (the service was not
    /// running then); every household still in the community declares.
    private func begin(day: Int, catchingUpTo index: Int) async {
        self.day = day
        services = [:]
        for household in hosted.households {
            var service = FlexibilityService(household: household.id, grid: clock.grid, loads: household.flexibleLoads, battery: household.battery)
            if left.contains(household.id) {
                _ = service.leave()
                hosted.houses.leave(application: hosted.instance.application, household: household.id, day: day, from: 0)
            }
            for past in 0..<index {
                for case .startLoad(let load) in service.intervalStarted(past) {
                    hosted.update(household.id, day: day) { $0.starts[load] = past }
                }
            }
            services[household.id] = service
        }
        await declare()
    }

    private func declare() async {
        for household in hosted.households where !left.contains(household.id) {
            await perform(services[household.id]?.declare() ?? [], household: household.id, index: 0)
        }
    }

    /// The households' turn in interval `n`.
    func act(_ n: Int, now: Duration) async {
        let (day, index) = clock.dayAndIndex(of: n)
        if day != self.day { await begin(day: day, catchingUpTo: index) }
        for household in hosted.households {
            await perform(services[household.id]?.intervalStarted(index) ?? [], household: household.id, index: index)
        }
        if (index + 1) % clock.intervalsPerHour == 0, index + 1 < clock.grid.intervalCount { await declare() }
        if index == clock.grid.intervalCount - 1 { logDayOver() }
    }

    /// The day's account, one line: how many loads ran, and how many outside their window (always 0).
    private func logDayOver() {
        var loads = 0
        var started = 0
        var outside = 0
        for household in hosted.households {
            let starts = hosted.house(household.id, day: day).starts
            for load in household.flexibleLoads {
                loads += 1
                guard let start = starts[load.id] else { continue }
                started += 1
                if start < load.earliestStart || start + load.duration(on: clock.grid) > load.deadline { outside += 1 }
            }
        }
        context?.logger.info(
            "energy: day over",
            metadata: ["energy.day": "\(day)", "energy.loads": "\(loads)", "energy.started": "\(started)", "energy.outside-window": "\(outside)"])
    }

    private func leave(_ household: String) async {
        guard left.insert(household).inserted else { return }
        let index = clock.dayAndIndex(of: max(clock.interval(at: context?.clock.now() ?? .zero), 0)).index
        hosted.houses.leave(application: hosted.instance.application, household: household, day: day, from: index)
        await perform(services[household]?.leave() ?? [], household: household, index: index)
        context?.logger.info("energy: household left the community", metadata: ["energy.household": "\(household)"])
    }

    private func perform(_ actions: [FlexibilityService.Action], household: String, index: Int) async {
        for action in actions {
            switch action {
            case .publish(let message):
                await context?.emitLogged(message, on: Self.offers, attributes: ["household": household, "group": hosted.instance.serviceID])
            case .startLoad(let load):
                hosted.update(household, day: day) { $0.starts[load] = index }
                context?.logger.info(
                    "energy: load started",
                    metadata: ["energy.day": "\(day)", "energy.household": "\(household)", "energy.load": "\(load)", "energy.interval": "\(index)"])
            case .setBattery(let power):
                hosted.update(household, day: day) { $0.batteryKW[index] = power }
            case .deferLoad:
                break
            }
        }
    }
}
