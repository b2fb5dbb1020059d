// The control commands of building surveillance on a node (docs/cli.md, docs/surveillance.md): their arguments and
// answers, shared with the `smf` CLI.

public import ServicePlatform

/// What a supporter's node answers by itself when an alarm arrives (`smf run --alarm-auto-answer`): nothing (a
/// person answers with `smf alarm answer`), or accept or decline at once (unattended supporters, demos, tests).
public enum AlarmAutoAnswer: String, Sendable, Hashable, Codable, CaseIterable {
    case none
    case accept
    case decline
}

/// `sensor.report`: readings PUBLISHed (`m2m-sensor`) to an application's recorder, or to a URI.
public struct SensorReportArguments: Codable, Sendable, Hashable {
    /// The application whose `sensor-recorder` gets the readings (found where it runs), unless `to` is given.
    public var application: String?
    /// The instance URI to PUBLISH to.
    public var to: String?
    public var sensor: String
    public var building: String
    public var kind: String
    public var value: Double
    public var latitude: Double?
    public var longitude: Double?
    /// Readings to send, each its own PUBLISH (a burst); with more than one, sensor ids get `-1` … `-N`.
    public var count: Int
    /// PUBLISHes in flight at once during a burst.
    public var window: Int

    public init(
        application: String?, to: String?, sensor: String, building: String, kind: String, value: Double, latitude: Double? = nil,
        longitude: Double? = nil, count: Int = 1, window: Int = 64
    ) {
        self.application = application
        self.to = to
        self.sensor = sensor
        self.building = building
        self.kind = kind
        self.value = value
        self.latitude = latitude
        self.longitude = longitude
        self.count = count
        self.window = window
    }
}

/// What became of `sensor.report`'s PUBLISHes.
public struct SensorReportResult: Codable, Sendable, Hashable {
    /// Where they went.
    public var target: String
    public var sent: Int
    /// Answered 2xx (stored by the recorder).
    public var accepted: Int
    /// The answer to the (first) PUBLISH: status and reason phrase, or nil with `problem` when none came.
    public var statusCode: Int?
    public var reason: String?
    /// Each kind of failure with how many PUBLISHes ended so (`"408 Request Timeout": 3`).
    public var failures: [String: Int]
    public var elapsedSeconds: Double

    public init(
        target: String, sent: Int, accepted: Int, statusCode: Int?, reason: String?, failures: [String: Int], elapsedSeconds: Double
    ) {
        self.target = target
        self.sent = sent
        self.accepted = accepted
        self.statusCode = statusCode
        self.reason = reason
        self.failures = failures
        self.elapsedSeconds = elapsedSeconds
    }
}

/// `alarms.list`, `alarms.follow` and `alarms.show` arguments.
public struct AlarmsArguments: Codable, Sendable, Hashable {
    /// The newest this many alarms.
    public var limit: Int
    /// One alarm, for `alarms.show`.
    public var id: String?

    public init(limit: Int = 100, id: String? = nil) {
        self.limit = limit
        self.id = id
    }
}

/// One alarm of the notifier's store on this node, as `smf alarms --json` prints it.
public struct AlarmSummary: Codable, Sendable, Hashable {
    public var id: String
    public var kind: String
    public var severity: String
    public var building: String
    /// `open`, `accepted`, `cancelled`.
    public var state: String
    public var acceptedBy: String?
    public var raisedAtNanoseconds: Int64
    /// Each supporter told, with the request that carried the alarm.
    public var told: [String]
    public var steps: Int

    public init(
        id: String, kind: String, severity: String, building: String, state: String, acceptedBy: String?, raisedAtNanoseconds: Int64,
        told: [String], steps: Int
    ) {
        self.id = id
        self.kind = kind
        self.severity = severity
        self.building = building
        self.state = state
        self.acceptedBy = acceptedBy
        self.raisedAtNanoseconds = raisedAtNanoseconds
        self.told = told
        self.steps = steps
    }
}

/// `alarms.list`: the table's lines and the alarms.
public struct AlarmsListResult: Codable, Sendable, Hashable {
    public var lines: [String]
    public var alarms: [AlarmSummary]

    public init(lines: [String], alarms: [AlarmSummary]) {
        self.lines = lines
        self.alarms = alarms
    }
}

/// `alarms.show`: one alarm's whole history in lines, and the same as data.
public struct AlarmDetail: Codable, Sendable, Hashable {
    public var summary: AlarmSummary
    /// The text `smf alarms --show` prints.
    public var lines: [String]
    /// The hops before the notifier stored it (times in ns since 1970 on each node's clock).
    public var path: [ServiceHop]
    /// Every recorded step, in words, with its time since the alarm's first hop.
    public var deliverySteps: [AlarmTimedLine]
    /// What the times count from, ns since 1970: the path's first hop (the reading's arrival at the recorder), else
    /// the alarm's raising.
    public var originNanoseconds: Int64

    public init(summary: AlarmSummary, lines: [String], path: [ServiceHop], deliverySteps: [AlarmTimedLine], originNanoseconds: Int64) {
        self.originNanoseconds = originNanoseconds
        self.summary = summary
        self.lines = lines
        self.path = path
        self.deliverySteps = deliverySteps
    }
}

/// A line with its time since the alarm's first hop.
public struct AlarmTimedLine: Codable, Sendable, Hashable {
    public var atMilliseconds: Double
    public var text: String

    public init(atMilliseconds: Double, text: String) {
        self.atMilliseconds = atMilliseconds
        self.text = text
    }
}

/// One line of `alarms.follow`.
public struct AlarmFollowLine: Codable, Sendable, Hashable {
    public var alarm: String
    public var text: String

    public init(alarm: String, text: String) {
        self.alarm = alarm
        self.text = text
    }
}

/// `supporter.register`: this node's supporter registers with an application's registry.
public struct SupporterRegisterArguments: Codable, Sendable, Hashable {
    /// The application whose `supporter-registry` gets the registration (and whose notifier the node watches).
    public var application: String?
    /// The registry instance URI, instead of the application.
    public var to: String?
    public var kinds: [String]
    public var buildings: [String]
    /// `smf-node` (this node takes the alarms) or `sip-phone` (a plain phone at `contact` gets a MESSAGE).
    public var phone: String
    public var contact: String?
    /// Seconds; nil: the registry's longest.
    public var expires: Int?

    public init(application: String?, to: String?, kinds: [String], buildings: [String], phone: String, contact: String?, expires: Int?) {
        self.application = application
        self.to = to
        self.kinds = kinds
        self.buildings = buildings
        self.phone = phone
        self.contact = contact
        self.expires = expires
    }
}

/// What `supporter.register` did.
public struct SupporterRegisterResult: Codable, Sendable, Hashable {
    public var registry: String
    public var statusCode: Int?
    public var reason: String?
    /// The alarm resource the node now watches (variant 1), if any.
    public var watching: String?

    public init(registry: String, statusCode: Int?, reason: String?, watching: String?) {
        self.registry = registry
        self.statusCode = statusCode
        self.reason = reason
        self.watching = watching
    }
}

/// `supporter.availability`: a PIDF (PIDF-LO with a location) PUBLISH to an application's availability service.
public struct SupporterAvailabilityArguments: Codable, Sendable, Hashable {
    public var application: String?
    public var to: String?
    /// `open` or `closed`.
    public var status: String
    /// RPID activities (`busy`, `away`, …).
    public var activities: [String]
    public var latitude: Double?
    public var longitude: Double?
    public var note: String?

    public init(
        application: String?, to: String?, status: String, activities: [String], latitude: Double?, longitude: Double?, note: String? = nil
    ) {
        self.application = application
        self.to = to
        self.status = status
        self.activities = activities
        self.latitude = latitude
        self.longitude = longitude
        self.note = note
    }
}

/// The answer to one request a command sent: where, and the status and reason (nil status: no answer).
public struct RequestOutcome: Codable, Sendable, Hashable {
    public var target: String
    public var statusCode: Int?
    public var reason: String?

    public init(target: String, statusCode: Int?, reason: String?) {
        self.target = target
        self.statusCode = statusCode
        self.reason = reason
    }

    public var isSuccess: Bool { (200..<300).contains(statusCode ?? 0) }
}

/// `alarm.inbox` / `alarm.inbox.follow` arguments: alarms after arrival number `after`, at most `limit`.
public struct AlarmInboxArguments: Codable, Sendable, Hashable {
    public var after: Int64
    public var limit: Int

    public init(after: Int64 = 0, limit: Int = 1000) {
        self.after = after
        self.limit = limit
    }
}

/// One alarm in a supporter's node's inbox.
public struct InboxAlarm: Codable, Sendable, Hashable {
    public var id: String
    public var sequence: Int64
    public var notifier: String
    /// `NOTIFY` (variant 1) or `SUBSCRIBE` (variant 2).
    public var channel: String
    public var receivedAtNanoseconds: Int64
    public var kind: String
    public var severity: String
    public var building: String
    public var latitude: Double?
    public var longitude: Double?
    public var summary: String
    /// When the alarm was raised (its evaluator's time), ns since 1970.
    public var raisedAtNanoseconds: Int64
    public var answer: String?
    public var answeredAtNanoseconds: Int64?
    public var answerResult: String?

    public init(
        id: String, sequence: Int64, notifier: String, channel: String, receivedAtNanoseconds: Int64, kind: String, severity: String,
        building: String, latitude: Double?, longitude: Double?, summary: String, raisedAtNanoseconds: Int64, answer: String?,
        answeredAtNanoseconds: Int64?, answerResult: String?
    ) {
        self.id = id
        self.sequence = sequence
        self.notifier = notifier
        self.channel = channel
        self.receivedAtNanoseconds = receivedAtNanoseconds
        self.kind = kind
        self.severity = severity
        self.building = building
        self.latitude = latitude
        self.longitude = longitude
        self.summary = summary
        self.raisedAtNanoseconds = raisedAtNanoseconds
        self.answer = answer
        self.answeredAtNanoseconds = answeredAtNanoseconds
        self.answerResult = answerResult
    }
}

/// `alarm.answer` arguments.
public struct AlarmAnswerArguments: Codable, Sendable, Hashable {
    public var id: String
    /// `accept` or `decline`.
    public var decision: String

    public init(id: String, decision: String) {
        self.id = id
        self.decision = decision
    }
}

/// What became of an answer.
public struct AlarmAnswerResult: Codable, Sendable, Hashable {
    public var id: String
    public var decision: String
    public var delivered: Bool
    /// `delivered 200 (NOTIFY in the notifier's subscription)`, `delivered 200 (MESSAGE to sip:…)`, `failed: …`.
    public var result: String

    public init(id: String, decision: String, delivered: Bool, result: String) {
        self.id = id
        self.decision = decision
        self.delivered = delivered
        self.result = result
    }
}
