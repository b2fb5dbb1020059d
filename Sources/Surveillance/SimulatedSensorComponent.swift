import Logging
public import ServicePlatform

/// Makes `simulated-sensor` instances: a sensor declared in a composition that reports `value` every
/// `interval` (default 60 s) and, from `event-at` after it started, `event-value` (a fire, a door opening).
///
/// Durability: ``ServiceDurability/relay``; it has no inputs, so there is nothing to acknowledge. Its
/// readings are held by the runtime once ``ServiceContext/emit(_:on:)`` returns.
public struct SimulatedSensorFactory: ServiceComponentFactory {
    public let typeName = "simulated-sensor"
    public let durability = ServiceDurability.relay

    /// Creates the factory.
    public init() {}

    public func makeComponent(for instance: ServiceInstanceInfo) throws -> any ServiceComponent {
        let parameters = ComponentParameters(instance: instance)
        return SimulatedSensorComponent(
            configuration: SimulatedSensorComponent.Configuration(
                sensorID: try parameters.requiredString("sensor-id"), building: try parameters.requiredString("building"),
                kind: try parameters.requiredString("kind"), value: try parameters.decimal("value", default: 0) ?? 0,
                interval: try parameters.duration("interval", default: .seconds(60)) ?? .seconds(60),
                eventAt: try parameters.duration("event-at", default: nil),
                eventValue: try parameters.decimal("event-value", default: nil)))
    }
}

/// A running simulated sensor: one reading at start, then one every interval; when the event begins, one at
/// once (on change) with the event value.
actor SimulatedSensorComponent: ServiceComponent {
    struct Configuration: Sendable {
        var sensorID: String
        var building: String
        var kind: String
        var value: Double
        var interval: Duration
        var eventAt: Duration?
        var eventValue: Double?
    }

    let configuration: Configuration
    private var context: (any ServiceContext)?
    private var startedAt: Duration = .zero
    private var nextReport: Duration = .zero
    private var eventReported = false
    private let timer = ComponentTimer()

    init(configuration: Configuration) {
        self.configuration = configuration
    }

    func start(context: any ServiceContext) async throws {
        self.context = context
        startedAt = context.clock.now()
        nextReport = startedAt
        await timersDue()
    }

    func receive(_ input: ServiceInput, context: any ServiceContext) async throws {}

    func stop() async {
        timer.stop()
        context = nil
    }

    /// The value reported at `now`.
    func value(at now: Duration) -> Double {
        if let eventAt = configuration.eventAt, let eventValue = configuration.eventValue, now >= startedAt + eventAt {
            return eventValue
        }
        return configuration.value
    }

    private var eventStart: Duration? {
        guard let eventAt = configuration.eventAt, configuration.eventValue != nil else { return nil }
        return startedAt + eventAt
    }

    func timersDue() async {
        guard let context else { return }
        let now = context.clock.now()
        let eventBegan = eventStart.map { now >= $0 } ?? false
        if now >= nextReport || (eventBegan && !eventReported) {
            if eventBegan { eventReported = true }
            let body = SensorReadingBody(
                sensorID: configuration.sensorID, building: configuration.building, kind: configuration.kind, value: value(at: now),
                time: now)
            do {
                try await context.emit(.reading(body, id: "\(configuration.sensorID)@\(now.wholeNanoseconds)"), on: "readings")
            } catch {
                context.logger.info("A simulated reading could not be emitted", metadata: ["sdp.problem": "\(error)"])
            }
            while nextReport <= now { nextReport += configuration.interval }
        }
        var next = nextReport
        if let eventStart, !eventReported { next = min(next, eventStart) }
        timer.arm(at: next, clock: context.clock) { [weak self] in await self?.timersDue() }
    }
}
