import Logging
import ServicePlatform

/// When a timed energy service acts next: its day clock, the point of the interval it acts at, the next interval
/// (counted across days) and the timer task.
struct EnergySchedule: Sendable {
    let clock: EnergyDayClock
    let phase: EnergyDayClock.Phase
    var next = 0
    var timer: Task<Void, Never>?

    init(clock: EnergyDayClock, phase: EnergyDayClock.Phase) {
        self.clock = clock
        self.phase = phase
    }
}

/// An energy service that acts at fixed points of the simulated day (``EnergyDayClock/Phase``).
///
/// Its timer only sleeps until ``nextDue()`` and calls ``fire(until:)``; everything the service does at a point of
/// the day happens in ``act(_:now:)``, which ``fire(until:)`` calls for every interval due. ``EnergyCompositionRun``
/// calls `fire` directly to run a day on a virtual clock.
protocol EnergyTimedComponent: Actor {
    var schedule: EnergySchedule { get set }
    /// The service's turn in interval `n` (counted across days), at real time `now`.
    func act(_ n: Int, now: Duration) async
}

extension EnergyTimedComponent {
    /// The service's day clock.
    var clock: EnergyDayClock { schedule.clock }

    /// The real time of the service's next action.
    func nextDue() -> Duration { schedule.clock.time(of: schedule.next, schedule.phase) }

    /// Performs, in order, every action due at or before `now`.
    func fire(until now: Duration) async {
        while nextDue() <= now {
            let n = schedule.next
            schedule.next = n + 1
            await act(n, now: now)
        }
    }

    /// The service starts at `now`: its first turn is in the interval `now` is in (or the first, before the day).
    func scheduleFirst(at now: Duration) -> Int {
        schedule.next = max(schedule.clock.interval(at: now), 0)
        return schedule.next
    }

    /// Starts the timer: sleeps on the context's clock until the next action is due, performs what is due, repeats
    /// until ``stopTimer()``.
    func startTimer(clock: ServiceClock) {
        schedule.timer = Task {
            while !Task.isCancelled {
                let wait = nextDue() - clock.now()
                do {
                    try await clock.sleep(max(wait, .zero))
                } catch {
                    return
                }
                await fire(until: clock.now())
            }
        }
    }

    func stopTimer() {
        schedule.timer?.cancel()
        schedule.timer = nil
    }
}

/// What a meter or flexibility service hosts: its instance, its day's clock, its households of the simulated day and
/// their houses on this node.
struct HostedHouseholds: Sendable {
    let instance: ServiceInstanceInfo
    let clock: EnergyDayClock
    let households: [Household]
    let houses: SimulatedHouses

    init(_ instance: ServiceInstanceInfo, houses: SimulatedHouses) throws(ServicePlatformError) {
        let settings = try EnergyServiceSettings(instance)
        self.instance = instance
        self.clock = settings.clock
        self.houses = houses
        self.households = try settings.households(instance, houses: houses)
    }

    /// The house of `household` on `day`.
    func house(_ household: String, day: Int) -> SimulatedHouseState {
        houses.state(application: instance.application, household: household, day: day)
    }

    /// Whether `household` left the community (on any day so far).
    func hasLeft(_ household: String) -> Bool {
        houses.hasLeft(application: instance.application, household: household)
    }

    /// Changes the house of `household` on `day`.
    func update(_ household: String, day: Int, _ change: (inout SimulatedHouseState) -> Void) {
        houses.update(application: instance.application, household: household, day: day, change)
    }
}

extension ServiceContext {
    /// Emits `message` on `port`; a failure is logged (for values emitted on a timer, where nobody could be told).
    func emitLogged(_ message: EnergyMessage, on port: String, attributes: [String: String]) async {
        do {
            try await emit(EnergyPort.value(message, attributes: attributes), on: port)
        } catch {
            logger.info("energy: value not emitted", metadata: ["energy.port": "\(port)", "energy.type": "\(message.typeName)", "energy.error": "\(error)"])
        }
    }
}
