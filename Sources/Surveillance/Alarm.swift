public import Presence
public import Rules

/// An alarm raised by the event evaluator (service 5) for a building: what the selector and the notifier
/// work on, and what the alarm store keeps.
public struct Alarm: Sendable, Hashable {
    /// The alarm's identifier and reference, unique in the community: 1 to 64 letters, digits, `-`, `_`
    /// or `.` (it appears in MESSAGE texts, so a phone user can type it back).
    public var id: String
    /// The kind of event (`fire`, `intrusion`, …).
    public var kind: String
    /// How urgent it is.
    public var severity: RuleSeverity
    /// The building it happened in.
    public var building: String
    /// Where the building is, when known (used for distances and told to supporters).
    public var buildingLocation: PresenceGeodeticPosition?
    /// When it was raised (the caller's time origin; `smf` uses seconds since 1970).
    public var raisedAt: Duration
    /// A short human-readable description (e.g. the rule and readings that fired).
    public var summary: String

    /// Creates an alarm.
    public init(
        id: String, kind: String, severity: RuleSeverity = .major, building: String,
        buildingLocation: PresenceGeodeticPosition? = nil, raisedAt: Duration, summary: String = ""
    ) {
        self.id = id
        self.kind = kind
        self.severity = severity
        self.building = building
        self.buildingLocation = buildingLocation
        self.raisedAt = raisedAt
        self.summary = summary
    }

    /// The alarm for a rule evaluator's event, with the caller's id and the building's location.
    public init(id: String, event: RuleEvent, buildingLocation: PresenceGeodeticPosition? = nil) {
        self.init(
            id: id, kind: event.alarmKind, severity: event.severity, building: event.building,
            buildingLocation: buildingLocation, raisedAt: event.time,
            summary: "rule \(event.ruleID): " + event.readings.map { "\($0.sensorID) \($0.kind)=\($0.value)" }.joined(separator: ", "))
    }

    /// Throws when the alarm cannot be delivered as given.
    ///
    /// - Throws: ``SurveillanceError/Code/invalidAlarm`` naming the bad field.
    public func validate() throws(SurveillanceError) {
        guard Self.isValidID(id) else {
            throw SurveillanceError(.invalidAlarm, "id \"\(id)\" must be 1 to 64 letters, digits, '-', '_' or '.'")
        }
        guard !kind.isEmpty else { throw SurveillanceError(.invalidAlarm, "alarm \(id) has no kind") }
        guard !building.isEmpty else { throw SurveillanceError(.invalidAlarm, "alarm \(id) names no building") }
    }

    /// Whether `text` is usable as an alarm id (see ``id``).
    public static func isValidID(_ text: String) -> Bool {
        (1...64).contains(text.utf8.count)
            && text.unicodeScalars.allSatisfy { $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || "-_.".unicodeScalars.contains($0)) }
    }
}

extension Alarm: Codable {
    private enum CodingKeys: String, CodingKey {
        case id, kind, severity, building, latitude, longitude, raisedAtNanoseconds = "raisedAtNs", summary
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let severityText = try container.decode(String.self, forKey: .severity)
        guard let severity = RuleSeverity(rawValue: severityText) else {
            throw DecodingError.dataCorruptedError(
                forKey: .severity, in: container, debugDescription: "unknown severity \"\(severityText)\"")
        }
        let latitude = try container.decodeIfPresent(Double.self, forKey: .latitude)
        let longitude = try container.decodeIfPresent(Double.self, forKey: .longitude)
        self.init(
            id: try container.decode(String.self, forKey: .id), kind: try container.decode(String.self, forKey: .kind),
            severity: severity, building: try container.decode(String.self, forKey: .building),
            buildingLocation: latitude.flatMap { lat in longitude.map { PresenceGeodeticPosition(latitude: lat, longitude: $0) } },
            raisedAt: .nanoseconds(try container.decode(Int64.self, forKey: .raisedAtNanoseconds)),
            summary: try container.decode(String.self, forKey: .summary))
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(kind, forKey: .kind)
        try container.encode(severity.rawValue, forKey: .severity)
        try container.encode(building, forKey: .building)
        try container.encodeIfPresent(buildingLocation?.latitude, forKey: .latitude)
        try container.encodeIfPresent(buildingLocation?.longitude, forKey: .longitude)
        try container.encode(raisedAt.wholeNanoseconds, forKey: .raisedAtNanoseconds)
        try container.encode(summary, forKey: .summary)
    }
}

extension Duration {
    /// The duration in whole nanoseconds (saturating), the unit alarm times are stored in.
    public var wholeNanoseconds: Int64 {
        let (seconds, attoseconds) = components
        let (scaled, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        if overflow { return seconds < 0 ? .min : .max }
        let (total, overflow2) = scaled.addingReportingOverflow(attoseconds / 1_000_000_000)
        if overflow2 { return seconds < 0 ? .min : .max }
        return total
    }
}
