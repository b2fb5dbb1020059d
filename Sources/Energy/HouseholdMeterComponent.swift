import Logging
import ServicePlatform

/// `household-meter`: one ``MeterService`` per hosted household, fed by the simulated house.
///
/// At the start of each day (and when it starts) it emits each household's inflexible net-load forecast for the day,
/// and refreshes the rest of it every simulated hour (soft state: a balance service that starts late or restarts
/// has it within the hour). At the end of each interval it measures the house (PV, base load, the loads its
/// flexibility service switched on, the battery) and emits the household's totals, or per device with
/// `share=detailed`. Once the household has left, it emits one `withdrawal` and measures it no more.
///
/// Relay: it keeps nothing durable; a restarted meter measures from the current interval on.
actor HouseholdMeterComponent: ServiceComponent, EnergyTimedComponent {
    static let readings = "readings"

    private let hosted: HostedHouseholds
    private let privacy: MeterService.Privacy
    private var meters: [String: MeterService] = [:]
    private var withdrawn: Set<String> = []
    private var day = Int.min
    private var context: (any ServiceContext)?
    var schedule: EnergySchedule

    init(instance: ServiceInstanceInfo, houses: SimulatedHouses) throws(ServicePlatformError) {
        hosted = try HostedHouseholds(instance, houses: houses)
        schedule = EnergySchedule(clock: hosted.clock, phase: .meters)
        privacy = instance.parameter("share") == "detailed" ? .detailed : .aggregatesOnly
    }

    func start(context: any ServiceContext) async throws {
        self.context = context
        let (day, index) = clock.dayAndIndex(of: scheduleFirst(at: context.clock.now()))
        await begin(day: day, from: index)
        startTimer(clock: context.clock)
    }

    func receive(_ input: ServiceInput, context: any ServiceContext) async throws {
        context.logger.info("energy: a household meter takes no input", metadata: ["energy.input": "\(input)"])
    }

    func stop() async { stopTimer() }

    /// A new day: fresh meters, and each household's forecast from `index` on.
    private func begin(day: Int, from index: Int) async {
        self.day = day
        meters = Dictionary(hosted.households.map { ($0.id, MeterService(household: $0.id, privacy: privacy)) }, uniquingKeysWith: { a, _ in a })
        withdrawn = []
        await sendForecasts(from: index)
    }

    private func sendForecasts(from index: Int) async {
        guard index < clock.grid.intervalCount else { return }
        for household in hosted.households {
            guard !hosted.hasLeft(household.id), let meter = meters[household.id] else { continue }
            for case .publish(let message) in meter.forecastComputed(from: index, netKW: Array(household.inflexibleNet[index...])) {
                await emit(message, household: household.id)
            }
        }
    }

    /// Interval `n` is over: reads every house.
    func act(_ n: Int, now: Duration) async {
        let (day, index) = clock.dayAndIndex(of: n)
        if day != self.day { await begin(day: day, from: index) }
        for household in hosted.households {
            let house = hosted.house(household.id, day: day)
            // A household that left on an earlier day is out from the start of this one.
            let leftAt = house.leftAt ?? (hosted.hasLeft(household.id) ? 0 : nil)
            if let leftAt, index >= leftAt {
                if withdrawn.insert(household.id).inserted { await emit(.withdrawal(household: household.id), household: household.id) }
                continue
            }
            let devices = EnergyCommunityRun.devices(of: household, at: index, starts: house.starts, battery: house.batteryKW[index], grid: clock.grid)
            for case .publish(let message) in meters[household.id]?.intervalMeasured(index, devices: devices) ?? [] {
                await emit(message, household: household.id)
            }
        }
        if index == clock.grid.intervalCount - 1 {
            await begin(day: day + 1, from: 0)
        } else if (index + 1) % clock.intervalsPerHour == 0 {
            await sendForecasts(from: index + 1)
        }
    }

    private func emit(_ message: EnergyMessage, household: String) async {
        await context?.emitLogged(message, on: Self.readings, attributes: ["household": household])
    }
}
