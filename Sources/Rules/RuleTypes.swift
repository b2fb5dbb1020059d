// Declarative rule evaluation (thresholds, combinations, time windows). See docs/compositions.md.

/// One sensor value as the rule evaluator sees it: who measured what, where, and when.
///
/// ``time`` is measured from any origin the caller chooses (the evaluator never reads a clock); only
/// differences between times matter.
public struct RuleReading: Sendable, Hashable, CustomStringConvertible {
    /// The sensor's identifier, unique within the community (e.g. `smoke-1`).
    public var sensorID: String
    /// The building the sensor is in.
    public var building: String
    /// What the sensor measures (e.g. `smoke`, `temperature`, `motion`).
    public var kind: String
    /// The measured value.
    public var value: Double
    /// When the value was measured.
    public var time: Duration

    /// Creates a reading.
    public init(sensorID: String, building: String, kind: String, value: Double, time: Duration) {
        self.sensorID = sensorID
        self.building = building
        self.kind = kind
        self.value = value
        self.time = time
    }

    public var description: String { "\(sensorID)@\(building) \(kind)=\(value) at \(time)" }
}

/// How a reading's value is compared with a rule's threshold.
public enum RuleComparison: Sendable, Hashable, CustomStringConvertible {
    /// value > threshold
    case above(Double)
    /// value < threshold
    case below(Double)
    /// value == threshold
    case equal(Double)

    /// Whether `value` satisfies the comparison.
    public func matches(_ value: Double) -> Bool {
        switch self {
        case .above(let threshold): value > threshold
        case .below(let threshold): value < threshold
        case .equal(let threshold): value == threshold
        }
    }

    public var description: String {
        switch self {
        case .above(let threshold): "> \(threshold)"
        case .below(let threshold): "< \(threshold)"
        case .equal(let threshold): "== \(threshold)"
        }
    }
}

/// Which readings a condition looks at; a nil field matches every reading.
public struct RuleSelector: Sendable, Hashable {
    /// The sensor kind (e.g. `smoke`), or nil for any kind.
    public var kind: String?
    /// One sensor, or nil for any sensor.
    public var sensorID: String?

    /// Creates a selector.
    public init(kind: String? = nil, sensorID: String? = nil) {
        self.kind = kind
        self.sensorID = sensorID
    }

    /// Whether `reading` is one this selector looks at.
    public func selects(_ reading: RuleReading) -> Bool {
        (kind == nil || kind == reading.kind) && (sensorID == nil || sensorID == reading.sensorID)
    }
}

/// A condition over the readings of one building, as declared in a composition's `<rule>` element.
public indirect enum RuleCondition: Sendable, Hashable {
    /// The latest reading of at least one selected sensor satisfies the comparison.
    case threshold(RuleSelector, RuleComparison)
    /// At least `sensors` distinct selected sensors had a reading satisfying the comparison within the
    /// last `within` (e.g. "two smoke sensors of the same building above 0.3 within 60 s").
    case count(RuleSelector, RuleComparison, sensors: Int, within: Duration)
    /// At least one selected sensor's readings have all satisfied the comparison for at least `duration`
    /// (e.g. "temperature above 60 for at least 30 s").
    case sustained(RuleSelector, RuleComparison, for: Duration)
    /// Every condition holds (true when empty).
    case all([RuleCondition])
    /// At least one condition holds (false when empty).
    case any([RuleCondition])
    /// The condition does not hold.
    case not(RuleCondition)

    /// The longest time window the condition looks back over (how much history the evaluator keeps).
    public var horizon: Duration {
        switch self {
        case .threshold: .zero
        case .count(_, _, _, let within): within
        case .sustained(_, _, let duration): duration
        case .all(let conditions), .any(let conditions): conditions.map(\.horizon).max() ?? .zero
        case .not(let condition): condition.horizon
        }
    }
}

/// How urgent an alarm raised by a rule is.
public enum RuleSeverity: String, Sendable, Hashable, CaseIterable, Comparable {
    case info, minor, major, critical

    private var rank: Int { Self.allCases.firstIndex(of: self) ?? 0 }

    public static func < (lhs: RuleSeverity, rhs: RuleSeverity) -> Bool { lhs.rank < rhs.rank }
}

/// A named rule: when its condition becomes true for a building, it raises an alarm of its kind.
public struct Rule: Sendable, Hashable {
    /// The rule's identifier, unique within its service (e.g. `fire`).
    public var id: String
    /// The kind of alarm raised (e.g. `fire`, `intrusion`).
    public var alarmKind: String
    /// How urgent the alarm is.
    public var severity: RuleSeverity
    /// When the rule fires.
    public var condition: RuleCondition

    /// Creates a rule.
    public init(id: String, alarmKind: String, severity: RuleSeverity, condition: RuleCondition) {
        self.id = id
        self.alarmKind = alarmKind
        self.severity = severity
        self.condition = condition
    }
}

/// What the evaluator outputs when a rule's condition becomes true for a building.
public struct RuleEvent: Sendable, Hashable, CustomStringConvertible {
    /// The rule that fired.
    public var ruleID: String
    /// The kind of alarm (the rule's ``Rule/alarmKind``).
    public var alarmKind: String
    /// The rule's severity.
    public var severity: RuleSeverity
    /// The building the readings came from.
    public var building: String
    /// When the condition became true (the evaluation time).
    public var time: Duration
    /// The readings that made the condition true, ordered by time then sensor.
    public var readings: [RuleReading]

    /// Creates an event.
    public init(
        ruleID: String, alarmKind: String, severity: RuleSeverity, building: String, time: Duration,
        readings: [RuleReading]
    ) {
        self.ruleID = ruleID
        self.alarmKind = alarmKind
        self.severity = severity
        self.building = building
        self.time = time
        self.readings = readings
    }

    public var description: String {
        "\(severity) \(alarmKind) alarm in \(building) (rule \(ruleID)) at \(time) from \(readings.count) reading(s)"
    }
}

/// A rule that cannot be evaluated as declared.
public struct RuleError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The offending rule's identifier.
    public var ruleID: String
    /// What is wrong, e.g. "count needs at least 1 sensor, not 0".
    public var message: String

    /// Creates an error.
    public init(ruleID: String, message: String) {
        self.ruleID = ruleID
        self.message = message
    }

    public var description: String { "rule '\(ruleID)': \(message)" }
}

extension Rule {
    /// Every problem that makes this rule unusable (empty when the rule is sound).
    ///
    /// Checks: a non-empty id and alarm kind, counts of at least one sensor, positive time windows, and
    /// finite thresholds.
    public func problems() -> [RuleError] {
        var errors: [RuleError] = []
        if id.isEmpty { errors.append(RuleError(ruleID: id, message: "the rule has an empty id")) }
        if alarmKind.isEmpty { errors.append(RuleError(ruleID: id, message: "the rule names no alarm kind")) }
        collectProblems(in: condition, into: &errors)
        return errors
    }

    private func collectProblems(in condition: RuleCondition, into errors: inout [RuleError]) {
        func checkComparison(_ comparison: RuleComparison) {
            let threshold: Double
            switch comparison {
            case .above(let value), .below(let value), .equal(let value): threshold = value
            }
            if !threshold.isFinite {
                errors.append(RuleError(ruleID: id, message: "threshold \(threshold) is not a finite number"))
            }
        }
        switch condition {
        case .threshold(_, let comparison):
            checkComparison(comparison)
        case .count(_, let comparison, let sensors, let within):
            checkComparison(comparison)
            if sensors < 1 {
                errors.append(RuleError(ruleID: id, message: "count needs at least 1 sensor, not \(sensors)"))
            }
            if within <= .zero {
                errors.append(RuleError(ruleID: id, message: "count window must be longer than 0 s, not \(within)"))
            }
        case .sustained(_, let comparison, let duration):
            checkComparison(comparison)
            if duration <= .zero {
                errors.append(RuleError(ruleID: id, message: "sustained duration must be longer than 0 s, not \(duration)"))
            }
        case .all(let conditions), .any(let conditions):
            for child in conditions { collectProblems(in: child, into: &errors) }
        case .not(let child):
            collectProblems(in: child, into: &errors)
        }
    }
}
