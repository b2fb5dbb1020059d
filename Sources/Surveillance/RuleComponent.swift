import Composition
import Foundation
import Logging
import Presence
import Rules
public import ServicePlatform

/// Makes `event-evaluator` instances (service 5): they evaluate readings with the rules declared in the
/// composition (``Rules/RuleEvaluator``) and raise alarms on `alarms`.
///
/// - `mode=push`: readings are sent to it (through the forwarder, or by MESSAGE/PUBLISH to the instance).
/// - `mode=pull`: it asks the recorder itself: its wire subscription to the recorder's `readings`, filtered by
///   building, is its request; it also re-evaluates every `poll-interval` (default 5 s).
///
/// In both modes time-based conditions (`sustained`, the windows of `count`) are re-evaluated at the exact
/// instant they can change, with no new reading needed. Durability: ``ServiceDurability/relay``.
public struct EventEvaluatorFactory: ServiceComponentFactory {
    public let typeName = "event-evaluator"
    public let durability = ServiceDurability.relay

    /// Creates the factory.
    public init() {}

    public func makeComponent(for instance: ServiceInstanceInfo) throws -> any ServiceComponent {
        let parameters = ComponentParameters(instance: instance)
        _ = try parameters.requiredString("mode")
        let mode = try parameters.choice("mode", ["pull", "push"], default: nil)
        return try RuleComponent(
            instance: instance, outputPort: "alarms",
            pollInterval: mode == "pull" ? try parameters.duration("poll-interval", default: .seconds(5)) : nil)
    }
}

/// Makes `rule` instances: a generic rule component that raises an event on `events` whenever one of its
/// declared rules becomes true (the same evaluation as ``EventEvaluatorFactory``, push mode).
/// Durability: ``ServiceDurability/relay``.
public struct RuleComponentFactory: ServiceComponentFactory {
    public let typeName = "rule"
    public let durability = ServiceDurability.relay

    /// Creates the factory.
    public init() {}

    public func makeComponent(for instance: ServiceInstanceInfo) throws -> any ServiceComponent {
        try RuleComponent(instance: instance, outputPort: "events", pollInterval: nil)
    }
}

/// A running evaluator or rule component. See ``EventEvaluatorFactory``.
actor RuleComponent: ServiceComponent {
    /// The longest an alarm summary gets (the alarm body must stay small).
    static let maxSummary = 1000

    let instance: ServiceInstanceInfo
    let outputPort: String
    /// Only readings of this building are evaluated (all when nil).
    let building: String?
    /// Pull mode's re-evaluation period; nil in push mode.
    let pollInterval: Duration?
    /// Every window the rules look back over: a condition can change only when a reading arrives or when a
    /// reading's time plus one of these passes.
    let horizons: [Duration]

    private var evaluator: RuleEvaluator
    private var context: (any ServiceContext)?
    private let timer = ComponentTimer()
    /// Reading time minus arrival time of the latest reading: maps the sensors' clock to the node's.
    private var skew: Duration = .zero
    /// Node times at which a time-based condition may change, sorted, rounded up to ``deadlineGrain`` so a
    /// burst of readings adds few of them.
    private var deadlines: [Duration] = []
    /// How finely re-evaluation instants are kept: a time-based condition is seen at most this late.
    static let deadlineGrain = Duration.milliseconds(10)
    private var nextPoll: Duration?
    /// Alarms raised but not yet held by the runtime (an emit failed): sent before anything else.
    private var unsent: [ServiceValue] = []
    private var retryUnsentAt: Duration?
    /// The latest known position of each building (from its sensors' readings).
    private var locations: [String: PresenceGeodeticPosition] = [:]
    private var flow: ReadingFlowWatch

    init(instance: ServiceInstanceInfo, outputPort: String, pollInterval: Duration?) throws(ServicePlatformError) {
        self.instance = instance
        self.outputPort = outputPort
        self.building = ComponentParameters(instance: instance).string("building")
        self.pollInterval = pollInterval
        do {
            evaluator = try RuleEvaluator(rules: instance.rules)
        } catch {
            throw ServicePlatformError(.invalidConfiguration, "service \(instance.serviceID) (\(instance.serviceType)): \(error)")
        }
        guard !instance.rules.isEmpty else {
            throw ServicePlatformError(
                .invalidConfiguration, "service \(instance.serviceID) (\(instance.serviceType)) declares no rules")
        }
        horizons = Array(Set(instance.rules.flatMap { Self.windows(of: $0.condition) })).filter { $0 > .zero }.sorted()
        do {
            flow = try ReadingFlowWatch()
        } catch {
            throw ServicePlatformError(.invalidConfiguration, "service \(instance.serviceID): \(error)")
        }
    }

    private static func windows(of condition: RuleCondition) -> [Duration] {
        switch condition {
        case .threshold: []
        case .count(_, _, _, let within): [within]
        case .sustained(_, _, let duration): [duration]
        case .all(let conditions), .any(let conditions): conditions.flatMap(windows)
        case .not(let child): windows(of: child)
        }
    }

    func start(context: any ServiceContext) async throws {
        self.context = context
        if let pollInterval { nextPoll = context.clock.now() + pollInterval }
        arm(context)
    }

    func stop() async {
        timer.stop()
        context = nil
    }

    // MARK: - Inputs

    func receive(_ input: ServiceInput, context: any ServiceContext) async throws {
        guard case .value(let port, let wire, let value) = input, port == "readings" else { return }
        try await sendUnsent(context)
        guard let bodies = value.decoded(as: SurveillanceMediaType.sensorReading, on: port, logger: context.logger, SensorReadingBody.parseBatch)
        else { return }
        try await evaluate(bodies, wire: wire, context: context)
    }

    /// Readings sent to the instance directly: a forwarder's MESSAGE (its destination named this
    /// instance) or a sensor's PUBLISH.
    func handle(_ request: ServiceDirectRequest, context: any ServiceContext) async -> ServiceDirectAnswer {
        let method = request.method.uppercased()
        guard method == "MESSAGE" || method == "PUBLISH" else {
            return DirectAnswer.notAllowed(request.method, takes: "MESSAGE or PUBLISH (m2m-sensor) of readings")
        }
        if method == "PUBLISH", !request.hasEventPackage(M2MEventPackage.sensor) {
            return DirectAnswer.badEvent(request.eventPackage, expected: M2MEventPackage.sensor)
        }
        guard SurveillanceMediaType.matches(request.contentType, SurveillanceMediaType.sensorReading) else {
            return DirectAnswer.unsupportedMediaType(request.contentType, expected: [SurveillanceMediaType.sensorReading])
        }
        let bodies: [SensorReadingBody]
        do {
            bodies = try SensorReadingBody.parseBatch(request.body)
        } catch {
            return DirectAnswer.badRequest(error.description)
        }
        do {
            try await sendUnsent(context)
            try await evaluate(bodies, wire: nil, context: context)
        } catch {
            return DirectAnswer.serverError("the alarm could not be passed on: \(error)")
        }
        return .ok
    }

    private func evaluate(_ bodies: [SensorReadingBody], wire: String?, context: any ServiceContext) async throws {
        let now = context.clock.now()
        var events: [RuleEvent] = []
        for body in bodies where building == nil || body.building == building {
            let reading = body.reading(receivedAt: now)
            skew = reading.time - now
            if let location = body.location { locations[body.building] = location }
            events += evaluator.ingest(reading)
            for horizon in horizons {
                let deadline = reading.time + horizon - skew
                if deadline > now { addDeadline(deadline) }
            }
            if let wire, let notice = flow.observed(wire: wire, sensor: body.building + "/" + body.sensorID, at: now) {
                await context.notice(text(of: notice, interval: nil))
            }
        }
        unsent += events.map(alarmValue)
        arm(context)
        try await sendUnsent(context)
    }

    // MARK: - Time

    func timersDue() async {
        guard let context else { return }
        let now = context.clock.now()
        let dueCount = deadlines.firstIndex { $0 > now } ?? deadlines.count
        let due = deadlines.prefix(dueCount)
        deadlines.removeFirst(dueCount)
        var reevaluate = !due.isEmpty
        if let nextPoll, let pollInterval, nextPoll <= now {
            reevaluate = true
            var next = nextPoll
            while next <= now { next += pollInterval }
            self.nextPoll = next
        }
        if reevaluate { unsent += evaluator.advance(to: now + skew).map(alarmValue) }
        for notice in flow.check(at: now) { await context.notice(text(of: notice, interval: flow.interval(of: notice.service))) }
        if retryUnsentAt.map({ $0 <= now }) ?? false { retryUnsentAt = nil }
        do {
            try await sendUnsent(context)
        } catch {
            retryUnsentAt = now + .seconds(1)
        }
        arm(context)
    }

    /// Inserts `deadline`, rounded up to the grain, keeping the list sorted and without repeats.
    private func addDeadline(_ deadline: Duration) {
        let grain = Self.deadlineGrain.wholeNanoseconds
        let nanoseconds = deadline.wholeNanoseconds
        let rounded = Duration.nanoseconds(nanoseconds + (grain - ((nanoseconds % grain) + grain) % grain) % grain)
        var low = 0
        var high = deadlines.count
        while low < high {
            let middle = (low + high) / 2
            if deadlines[middle] < rounded { low = middle + 1 } else { high = middle }
        }
        if low == deadlines.count || deadlines[low] != rounded { deadlines.insert(rounded, at: low) }
    }

    private func arm(_ context: any ServiceContext) {
        let next = [deadlines.first, nextPoll, flow.nextCheck, retryUnsentAt].compactMap { $0 }.min()
        guard let next else { return }
        timer.arm(at: next, clock: context.clock) { [weak self] in await self?.timersDue() }
    }

    // MARK: - Alarms

    /// Emits the alarms not yet held by the runtime, oldest first; throws (keeping the rest) when one fails.
    private func sendUnsent(_ context: any ServiceContext) async throws {
        while let value = unsent.first {
            try await context.emit(value, on: outputPort)
            unsent.removeFirst()
        }
    }

    private func alarmValue(_ event: RuleEvent) -> ServiceValue {
        var alarm = Alarm(id: alarmID(for: event), event: event, buildingLocation: locations[event.building])
        if alarm.summary.count > Self.maxSummary { alarm.summary = String(alarm.summary.prefix(Self.maxSummary - 3)) + "..." }
        return ServiceValue(
            id: "alarm:" + alarm.id, contentType: SurveillanceMediaType.alarm, body: AlarmMessages.body(for: alarm),
            attributes: ["building": alarm.building, "kind": alarm.kind, "severity": alarm.severity.rawValue])
    }

    /// `<building>-<rule>-<milliseconds since 1970>-<instance tag>`: the same for the same event, so a
    /// replacement instance that evaluates the same readings raises the same alarm; at most 64 characters
    /// a phone user can type.
    func alarmID(for event: RuleEvent) -> String {
        func clean(_ text: String, _ length: Int) -> String {
            let kept = String(text.unicodeScalars.prefix(length).map { scalar in
                scalar.isASCII && (scalar.properties.isAlphabetic || ("0"..."9").contains(scalar) || "-_.".unicodeScalars.contains(scalar))
                    ? Character(scalar) : "-"
            })
            return kept.isEmpty ? "x" : kept
        }
        let milliseconds = max(0, event.time.wholeNanoseconds / 1_000_000)
        return "\(clean(event.building, 24))-\(clean(event.ruleID, 16))-\(milliseconds)-\(instance.tag)"
    }

    private func text(of notice: ServiceNotice, interval: Duration?) -> String {
        switch notice.kind {
        case .down:
            let cadence = interval.map { " (\(notice.missedRefreshes) reporting intervals of \($0))" } ?? ""
            return "\(instance.application): no readings on wire \(notice.service) into \(instance.serviceID) since "
                + (notice.lastSeen.map { "\($0)" } ?? "it started") + cadence
                + ": a service before \(instance.serviceID), or its sensors, may be down"
        case .recovered:
            return "\(instance.application): readings on wire \(notice.service) into \(instance.serviceID) flow again"
        }
    }
}

/// Notices when readings stop arriving on a wire (issue 7, "service down"): each wire's reporting interval
/// is learned from its sensors (the longest gap seen between two readings of one sensor), and a wire that
/// has missed three intervals is reported down once (``ServiceWatchdog``), then back when a reading comes.
struct ReadingFlowWatch: Sendable {
    private var watchdog: ServiceWatchdog
    private var lastArrival: [String: [String: Duration]] = [:]
    private var intervals: [String: Duration] = [:]

    init(missedRefreshesAllowed: Int = 3) throws(SurveillanceError) {
        watchdog = try ServiceWatchdog(missedRefreshesAllowed: missedRefreshesAllowed)
    }

    /// A reading of `sensor` arrived on `wire` at `now`; returns a "flows again" notice if the wire was down.
    mutating func observed(wire: String, sensor: String, at now: Duration) -> ServiceNotice? {
        let notice = watchdog.refreshed(wire, at: now)
        if let last = lastArrival[wire]?[sensor], now > last {
            let gap = now - last
            if gap > (intervals[wire] ?? .zero) {
                intervals[wire] = gap
                try? watchdog.watch(wire, provider: "the services before it", every: gap, at: now)
            }
        }
        lastArrival[wire, default: [:]][sensor] = now
        return notice
    }

    /// Wires that went quiet at `now` (each reported once until readings come again).
    mutating func check(at now: Duration) -> [ServiceNotice] { watchdog.check(at: now) }

    /// When to call ``check(at:)`` next.
    var nextCheck: Duration? { watchdog.nextCheck }

    /// The learned reporting interval of `wire`.
    func interval(of wire: String) -> Duration? { intervals[wire] }
}
