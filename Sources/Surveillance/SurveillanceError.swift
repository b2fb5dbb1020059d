// Building surveillance (seed 000 §VI): supporters, selection, alarm delivery. See docs/surveillance.md.

/// Why a surveillance operation refused its input: which rule was broken and a message that says what
/// is wrong, e.g. `invalid sensor body: "value" must be a finite number, not "hot"`.
public struct SurveillanceError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What kind of input was refused.
    public enum Code: String, Sendable, Hashable {
        /// A supporter registration is malformed (empty AoR, no event kind, expiry in the past, …).
        case invalidRegistration = "invalid registration"
        /// An alarm is malformed (bad id, empty kind or building).
        case invalidAlarm = "invalid alarm"
        /// A policy value is out of range (a non-positive timeout, fewer than one attempt, …).
        case invalidPolicy = "invalid policy"
        /// An answer came from a supporter who was never told about the alarm.
        case unknownSupporter = "unknown supporter"
        /// A stored record cannot be replayed (steps out of order, an unknown attempt).
        case invalidRecord = "invalid alarm record"
        /// A sensor value body (`application/smf-sensor+json`) is malformed.
        case invalidSensorBody = "invalid sensor body"
        /// An alarm answer body (`application/smf-alarm-answer+json`) is malformed.
        case invalidAnswerBody = "invalid alarm answer"
        /// A selection body (`application/smf-selection+json`) is malformed.
        case invalidSelection = "invalid selection"
        /// A forward request (`application/smf-forward-request+json`) or sensor value request
        /// (`application/smf-sensor-request+json`) is malformed.
        case invalidForwardRequest = "invalid forward request"
        /// A presence document (`application/pidf+xml`) cannot be read.
        case invalidPresence = "invalid presence document"
        /// A delivery outcome body (`application/smf-alarm-delivery+json`) is malformed.
        case invalidDeliveryOutcome = "invalid delivery outcome"
    }

    /// What kind of input was refused.
    public var code: Code
    /// What exactly is wrong.
    public var message: String

    /// Creates an error.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code.rawValue): \(message)" }
}
