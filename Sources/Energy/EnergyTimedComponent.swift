import ServicePlatform
import Logging

/// An energy service that acts at fixed points of the simulated day (``EnergyDayClock/Phase``).
///
/// Its timer only sleeps until ``nextDue()`` and calls ``fire(until:)``; everything the service does at a point of
/// the day happens in `fire`, which ``EnergyCompositionRun`` also calls directly to run a day on a virtual clock.
protocol EnergyTimedComponent: Actor {
    /// The real time of the service's next action.
    func nextDue() -> Duration
    /// Performs, in order, every action due at or before `now`.
    func fire(until now: Duration) async
}

extension EnergyTimedComponent {
    /// The service's timer: sleeps on the context's clock until the next action is due, performs what is due,
    /// repeats until cancelled.
    nonisolated func startTimer(clock: ServiceClock) -> Task<Void, Never> {
        Task {
            while !Task.isCancelled {
                let wait = await nextDue() - clock.now()
                do {
                    try await clock.sleep(max(wait, .zero))
                } catch {
                    return
                }
                await fire(until: clock.now())
            }
        }
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
