/// Evaluates declared rules over a stream of sensor readings, per building; a pure state machine.
///
/// Feed readings with ``ingest(_:)`` and let time pass with ``advance(to:)`` (a "for at least 30 s"
/// condition can become true with no new reading). The evaluator never reads a clock: the current time
/// is the latest time it has been given (a reading's ``RuleReading/time`` or an `advance` instant), and
/// it never goes backwards.
///
/// A rule fires once when its condition becomes true for a building and fires again only after the
/// condition has been false for that building (edge-triggered), so a sensor that keeps reporting smoke
/// raises one alarm, not one per reading.
///
/// History: for each sensor the evaluator keeps the readings inside the longest window any rule looks
/// back over (plus the newest reading at or before that window's start, so "sustained" conditions know
/// what the value was when the window opened), and at most
/// ``Configuration-swift.struct/maxReadingsPerSensor`` of them. A sensor's latest reading stays its
/// current value until a newer one arrives.
public struct RuleEvaluator: Sendable {
    /// Limits of the evaluator.
    public struct Configuration: Sendable, Hashable {
        /// Readings kept per sensor at most, oldest dropped first (default 4096).
        public var maxReadingsPerSensor: Int = 4096

        /// Creates the default configuration.
        public init() {}
    }

    /// The rules, in the order they were declared (events come out in this order).
    public let rules: [Rule]
    /// The evaluator's limits.
    public let configuration: Configuration
    /// The latest time the evaluator has seen.
    public private(set) var now: Duration = .zero

    private let horizon: Duration
    /// building → sensor → readings in time order.
    private var history: [String: [String: [RuleReading]]] = [:]
    /// The rules whose condition is currently true, per building.
    private var active: [String: Set<String>] = [:]

    /// Creates an evaluator for `rules`.
    ///
    /// - Throws: the first ``RuleError`` of the first unsound rule (see ``Rule/problems()``), or a
    ///   duplicate rule id.
    public init(rules: [Rule], configuration: Configuration = Configuration()) throws(RuleError) {
        var seen: Set<String> = []
        for rule in rules {
            if let problem = rule.problems().first { throw problem }
            guard seen.insert(rule.id).inserted else {
                throw RuleError(ruleID: rule.id, message: "the rule id is used twice")
            }
        }
        self.rules = rules
        self.configuration = configuration
        self.horizon = rules.map(\.condition.horizon).max() ?? .zero
    }

    /// How many readings the evaluator holds (all buildings and sensors).
    var storedReadingCount: Int {
        history.values.reduce(0) { total, sensors in sensors.values.reduce(total) { $0 + $1.count } }
    }

    /// The buildings the evaluator has readings for.
    public var buildings: [String] { history.keys.sorted() }

    /// Records `reading`, moves time forward to it if it is newer, and returns the alarms that its
    /// building's rules raise now. A reading whose value is not a finite number is ignored.
    public mutating func ingest(_ reading: RuleReading) -> [RuleEvent] {
        guard reading.value.isFinite else { return [] }
        now = max(now, reading.time)
        // Mutated in place (no copy of the building's history per reading).
        history[reading.building, default: [:]][reading.sensorID, default: []].insertByTime(reading)
        prune(building: reading.building)
        return evaluate(building: reading.building)
    }

    /// Moves time forward to `time` (never backwards) and returns the alarms every building's rules raise.
    public mutating func advance(to time: Duration) -> [RuleEvent] {
        now = max(now, time)
        var events: [RuleEvent] = []
        for building in buildings {
            prune(building: building)
            events += evaluate(building: building)
        }
        return events
    }

    // MARK: - Evaluation

    private mutating func evaluate(building: String) -> [RuleEvent] {
        let sensors = history[building] ?? [:]
        var events: [RuleEvent] = []
        var current = active[building] ?? []
        for rule in rules {
            let outcome = Self.evaluate(rule.condition, sensors: sensors, now: now)
            if outcome.holds {
                if current.insert(rule.id).inserted {
                    let readings = Array(Set(outcome.readings)).sorted {
                        ($0.time, $0.sensorID) < ($1.time, $1.sensorID)
                    }
                    events.append(
                        RuleEvent(
                            ruleID: rule.id, alarmKind: rule.alarmKind, severity: rule.severity, building: building,
                            time: now, readings: readings))
                }
            } else {
                current.remove(rule.id)
            }
        }
        active[building] = current
        return events
    }

    private static func evaluate(
        _ condition: RuleCondition, sensors: [String: [RuleReading]], now: Duration
    ) -> (holds: Bool, readings: [RuleReading]) {
        switch condition {
        case .threshold(let selector, let comparison):
            let matching = sensors.values.compactMap { readings -> RuleReading? in
                guard let latest = readings.last, selector.selects(latest), comparison.matches(latest.value) else {
                    return nil
                }
                return latest
            }
            return (!matching.isEmpty, matching)

        case .count(let selector, let comparison, let needed, let within):
            let start = now - within
            let matching = sensors.values.compactMap { readings -> RuleReading? in
                // Newest first, stopping at the window's start.
                for reading in readings.reversed() {
                    guard reading.time > start else { return nil }
                    if reading.time <= now && selector.selects(reading) && comparison.matches(reading.value) {
                        return reading
                    }
                }
                return nil
            }
            return (matching.count >= needed, matching)

        case .sustained(let selector, let comparison, let duration):
            let start = now - duration
            var contributing: [RuleReading] = []
            for readings in sensors.values {
                guard let latest = readings.last, selector.selects(latest) else { continue }
                var run: [RuleReading] = []
                var reachedStart = false
                for reading in readings.reversed() where reading.time <= now {
                    guard comparison.matches(reading.value) else { break }
                    run.append(reading)
                    if reading.time <= start {
                        reachedStart = true
                        break
                    }
                }
                if reachedStart { contributing += run }
            }
            return (!contributing.isEmpty, contributing)

        case .all(let conditions):
            var readings: [RuleReading] = []
            for child in conditions {
                let outcome = evaluate(child, sensors: sensors, now: now)
                guard outcome.holds else { return (false, []) }
                readings += outcome.readings
            }
            return (true, readings)

        case .any(let conditions):
            var holds = false
            var readings: [RuleReading] = []
            for child in conditions {
                let outcome = evaluate(child, sensors: sensors, now: now)
                if outcome.holds {
                    holds = true
                    readings += outcome.readings
                }
            }
            return (holds, readings)

        case .not(let child):
            return (!evaluate(child, sensors: sensors, now: now).holds, [])
        }
    }

    // MARK: - History

    /// Drops readings no rule can look at any more: for each sensor, those before the newest reading at
    /// or before `now - horizon`, and the oldest beyond the per-sensor cap.
    private mutating func prune(building: String) {
        // No copy of a sensor's readings stays alive across the in-place removal (which would copy them).
        guard let sensorIDs = history[building].map({ Array($0.keys) }) else { return }
        let start = now - horizon
        let cap = max(configuration.maxReadingsPerSensor, 1)
        for sensor in sensorIDs {
            let drop = history[building]?[sensor].map { readings in
                // Readings are in time order: the ones before the newest at or before `start` go.
                let firstInside = readings.firstIndex { $0.time > start } ?? readings.endIndex
                return max(firstInside - 1, readings.count - cap, 0)
            } ?? 0
            if drop > 0 { history[building]?[sensor]?.removeFirst(drop) }
        }
    }
}

extension Array where Element == RuleReading {
    /// Inserts `reading` after every reading that is not newer (appends in the usual in-order case).
    fileprivate mutating func insertByTime(_ reading: RuleReading) {
        if let last, last.time > reading.time {
            insert(reading, at: firstIndex { $0.time > reading.time } ?? endIndex)
        } else {
            append(reading)
        }
    }
}
