import Logging
import ServicePlatform

/// `community-balance`: a ``BalanceService`` for the feeder. It takes the meters' forecasts, readings and withdrawals
/// on `readings` and emits only sums of at least `min-households` households on `balance` (attribute `feeder`): the
/// aggregate forecast whenever it changes (and again every simulated hour, soft state), the measured net energy of
/// each interval once the meters' readings are in (``EnergyDayClock/Phase/balance``), and withdrawals.
///
/// Relay: it keeps nothing durable; a restarted balance service has every member's forecast again within the hour.
/// It keeps its members from one day to the next (a new day's forecasts replace the old ones), so it needs no
/// day boundary of its own.
actor CommunityBalanceComponent: ServiceComponent, EnergyTimedComponent {
    static let balance = "balance"

    private let instance: ServiceInstanceInfo
    private let feeder: String
    private var service: BalanceService
    private var lastForecast: AggregateForecast?
    private var context: (any ServiceContext)?
    var schedule: EnergySchedule

    init(instance: ServiceInstanceInfo) throws(ServicePlatformError) {
        let settings = try EnergyServiceSettings(instance)
        guard let feeder = instance.parameter("feeder"), !feeder.isEmpty else {
            throw EnergyServiceSettings.problem(instance, "feeder", "is required")
        }
        let minimum = try EnergyServiceSettings.integer(instance, "min-households", default: 3, in: 1...1000)
        self.instance = instance
        self.schedule = EnergySchedule(clock: settings.clock, phase: .balance)
        self.feeder = feeder
        self.service = BalanceService(community: feeder, grid: settings.clock.grid, minimumHouseholds: minimum)
    }

    func start(context: any ServiceContext) async throws {
        self.context = context
        _ = scheduleFirst(at: context.clock.now())
        startTimer(clock: context.clock)
    }

    /// A meter's message: withdrawals are passed on at once, with the new sum; a forecast that changes the sum
    /// sends the new sum. What this emits is tied to the input (the runtime acknowledges the input once the
    /// coordinators have the result), so an emit that fails makes the input fail too, and it comes again.
    func receive(_ input: ServiceInput, context: any ServiceContext) async throws {
        guard let (_, message, _) = EnergyPort.accepted(input, by: instance.serviceType, context: context) else { return }
        for case .notifyCoordinators(let out) in service.received(message) {
            if case .aggregateForecast(let sum) = out {
                try await emitForecast(sum, context: context, always: true)
            } else {
                try await context.emit(EnergyPort.value(out, attributes: attributes), on: Self.balance)
            }
        }
        if case .forecast = message {
            for case .notifyCoordinators(.aggregateForecast(let sum)) in service.aggregateForecast() {
                try await emitForecast(sum, context: context, always: false)
            }
        }
    }

    func stop() async { stopTimer() }

    private var attributes: [String: String] { ["feeder": feeder] }

    private func emitForecast(_ sum: AggregateForecast, context: any ServiceContext, always: Bool) async throws {
        guard always || sum != lastForecast else { return }
        try await context.emit(EnergyPort.value(.aggregateForecast(sum), attributes: attributes), on: Self.balance)
        lastForecast = sum
    }

    /// Interval `n` is over and its readings are in.
    func act(_ n: Int, now: Duration) async {
        guard let context else { return }
        let index = clock.dayAndIndex(of: n).index
        for case .notifyCoordinators(let message) in service.intervalClosed(index) {
            await context.emitLogged(message, on: Self.balance, attributes: attributes)
        }
        if (index + 1) % clock.intervalsPerHour == 0 {
            for case .notifyCoordinators(let message) in service.aggregateForecast() {
                await context.emitLogged(message, on: Self.balance, attributes: attributes)
            }
        }
    }
}
