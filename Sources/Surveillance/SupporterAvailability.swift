public import Presence

/// Whether a supporter can take an alarm now, as derived from their latest presence report.
public enum SupporterAvailability: String, Sendable, Hashable, Codable, CaseIterable {
    /// Basic status `open` and no activity that keeps them from helping.
    case available
    /// Basic status `open`, but busy (on the phone, in a meeting, asleep, …; RFC 4480 §3.2).
    case busy
    /// Basic status `closed` (RFC 3863 §4.1.4), or away/on holiday.
    case unavailable
    /// No report, a report older than the maximum age, or a report that says neither open nor closed
    /// (variant 2 supporters report nothing).
    case unknown

    /// Contact preference: available first, then unknown, busy, unavailable.
    var rank: Int {
        switch self {
        case .available: 0
        case .unknown: 1
        case .busy: 2
        case .unavailable: 3
        }
    }

    /// Activities that mean "reachable, but occupied" (RFC 4480 §3.2).
    private static let busyActivities: Set<PresenceActivity> = [
        .busy, .onThePhone, .meeting, .appointment, .presentation, .performance, .sleeping, .steering, .worship,
    ]
    /// Activities that mean "not around" (RFC 4480 §3.2).
    private static let absentActivities: Set<PresenceActivity> = [
        .away, .holiday, .vacation, .permanentAbsence, .travel,
    ]

    /// The availability a PIDF document reports (RFC 3863 §4.1.4, RFC 4480 §3.2).
    public init(reportedBy document: PresenceDocument) {
        switch document.basicStatus {
        case nil: self = .unknown
        case .closed: self = .unavailable
        case .open:
            let activities = Set(document.activities)
            if !activities.isDisjoint(with: Self.absentActivities) {
                self = .unavailable
            } else if !activities.isDisjoint(with: Self.busyActivities) {
                self = .busy
            } else {
                self = .available
            }
        }
    }
}

/// What service 2 knows about one supporter: availability and geodetic location, and when reported.
public struct SupporterStatus: Sendable, Hashable {
    /// The supporter's AoR (the PIDF `entity`, or the PUBLISH's Request-URI).
    public var supporter: String
    /// Availability derived from the report.
    public var availability: SupporterAvailability
    /// The PIDF-LO point (RFC 4119, RFC 5491), if the report had one.
    public var position: PresenceGeodeticPosition?
    /// When the report arrived; nil when the supporter never reported.
    public var reportedAt: Duration?

    /// Creates a status.
    public init(
        supporter: String, availability: SupporterAvailability, position: PresenceGeodeticPosition?, reportedAt: Duration?
    ) {
        self.supporter = supporter
        self.availability = availability
        self.position = position
        self.reportedAt = reportedAt
    }
}

/// Service 2, supporter availability and location: the latest PIDF / PIDF-LO report per supporter
/// (seed 000 §VI, variant 1), forgotten after ``maxAge``.
public struct SupporterAvailabilityBook: Sendable, Hashable {
    /// How old a report may be before the supporter counts as ``SupporterAvailability/unknown`` (the
    /// `max-age` parameter of `supporter-availability`); nil keeps reports forever.
    public var maxAge: Duration?
    private var reports: [String: SupporterStatus] = [:]

    /// Creates an empty book.
    public init(maxAge: Duration? = nil) {
        self.maxAge = maxAge
    }

    /// Records `document` as `supporter`'s latest report (a PUBLISH, RFC 3903, or a NOTIFY of the presence
    /// package); a report older than the one held is ignored. Returns the status now held.
    @discardableResult
    public mutating func report(_ document: PresenceDocument, from supporter: String, at now: Duration) -> SupporterStatus {
        let status = SupporterStatus(
            supporter: supporter, availability: SupporterAvailability(reportedBy: document),
            position: document.location?.position, reportedAt: now)
        if let held = reports[supporter], let heldAt = held.reportedAt, heldAt > now { return held }
        reports[supporter] = status
        return status
    }

    /// Forgets `supporter` (their publication was removed or expired, RFC 3903 §4.5).
    public mutating func remove(_ supporter: String) {
        reports[supporter] = nil
    }

    /// What is known about `supporter` at `now`: their latest report, with availability ``unknown`` when it
    /// is older than ``maxAge`` (the position is still returned), or an unknown status with no position
    /// when they never reported.
    public func status(of supporter: String, at now: Duration) -> SupporterStatus {
        guard var status = reports[supporter] else {
            return SupporterStatus(supporter: supporter, availability: .unknown, position: nil, reportedAt: nil)
        }
        if let maxAge, let reportedAt = status.reportedAt, now - reportedAt > maxAge { status.availability = .unknown }
        return status
    }

    /// Whether `supporter` ever reported (and was not removed).
    public func hasReport(from supporter: String) -> Bool { reports[supporter] != nil }
}
