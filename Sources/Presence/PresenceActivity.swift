/// An RPID activity (RFC 4480 §3.2): what the person is doing.
///
/// `<rpid:unknown/>` is ``unknown``; `<rpid:other>text</rpid:other>` and any activity element this
/// module does not know (an extension namespace, a future RPID token) are ``other(_:)`` with the text
/// or the element's local name.
public enum PresenceActivity: Sendable, Hashable, CustomStringConvertible {
    case appointment
    case away
    case breakfast
    case busy
    case dinner
    case holiday
    case inTransit
    case lookingForWork
    case meal
    case meeting
    case onThePhone
    case performance
    case permanentAbsence
    case playing
    case presentation
    case shopping
    case sleeping
    case spectator
    case steering
    case travel
    case tv
    case vacation
    case working
    case worship
    /// The activity is not known (`<rpid:unknown/>`); written only when it is the only activity.
    case unknown
    /// Any other activity: written as `<rpid:other>TEXT</rpid:other>`.
    case other(String)

    /// The activities RFC 4480 §3.2 names (all but ``other(_:)``).
    public static let registered: [PresenceActivity] = [
        .appointment, .away, .breakfast, .busy, .dinner, .holiday, .inTransit, .lookingForWork, .meal, .meeting,
        .onThePhone, .performance, .permanentAbsence, .playing, .presentation, .shopping, .sleeping, .spectator,
        .steering, .travel, .tv, .vacation, .working, .worship, .unknown,
    ]

    private static let byToken: [String: PresenceActivity] = Dictionary(
        uniqueKeysWithValues: registered.compactMap { activity in activity.token.map { ($0, activity) } })

    /// The RPID element name (e.g. `on-the-phone`); nil for ``other(_:)``.
    public var token: String? {
        switch self {
        case .appointment: "appointment"
        case .away: "away"
        case .breakfast: "breakfast"
        case .busy: "busy"
        case .dinner: "dinner"
        case .holiday: "holiday"
        case .inTransit: "in-transit"
        case .lookingForWork: "looking-for-work"
        case .meal: "meal"
        case .meeting: "meeting"
        case .onThePhone: "on-the-phone"
        case .performance: "performance"
        case .permanentAbsence: "permanent-absence"
        case .playing: "playing"
        case .presentation: "presentation"
        case .shopping: "shopping"
        case .sleeping: "sleeping"
        case .spectator: "spectator"
        case .steering: "steering"
        case .travel: "travel"
        case .tv: "tv"
        case .vacation: "vacation"
        case .working: "working"
        case .worship: "worship"
        case .unknown: "unknown"
        case .other: nil
        }
    }

    /// The activity named by an RPID element name; unknown names become ``other(_:)``.
    public init(token: String) {
        self = Self.byToken[token] ?? .other(token)
    }

    public var description: String {
        if case .other(let text) = self { return "other(\(text))" }
        return token ?? "other"
    }
}
