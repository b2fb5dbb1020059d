// When and where a service may run: the `<constraint>`s of a composition as the runtime applies them
// (docs/compositions.md "<constraint>", docs/services.md "Constraints"). Values only; the clock is passed in.

public import Composition
public import Foundation

// MARK: - When

/// When a service is available: the `<time-window>`s of the constraints that apply to it, read in the hosting node's
/// time zone.
///
/// A constraint applies to a service when it names it or names no service. The windows of one constraint are
/// alternatives (any of them); when several constraints with windows apply, each must hold (an application-wide
/// window and a service's own narrow each other). No window at all: always available. A window whose `to` is before
/// its `from` runs over midnight and belongs to the day it starts (``Composition/TimeWindow``).
///
/// Instants are durations since 1970-01-01T00:00:00Z, as ``ServiceClock/now`` gives them.
public struct ServiceAvailability: Sendable, Hashable {
    /// The windows of each applying constraint that has any.
    public var windowSets: [[TimeWindow]]
    /// The zone the windows' times of day are in (the hosting node's).
    public var timeZone: TimeZone

    /// Availability from explicit window sets.
    public init(windowSets: [[TimeWindow]], timeZone: TimeZone) {
        self.windowSets = windowSets.filter { !$0.isEmpty }
        self.timeZone = timeZone
    }

    /// The availability of `service` under a composition's constraints.
    public init(service: String, constraints: [ServiceConstraint], timeZone: TimeZone) {
        self.init(windowSets: constraints.filter { $0.service == nil || $0.service == service }.map(\.timeWindows), timeZone: timeZone)
    }

    /// Whether no window restricts the service.
    public var isAlwaysAvailable: Bool { windowSets.isEmpty }

    /// Whether the service is available at `instant`.
    public func isAvailable(at instant: Duration) -> Bool {
        isAvailable(atSecond: Self.second(of: instant))
    }

    /// The first instant after `instant` at which ``isAvailable(at:)`` changes; nil when it never does (no window, or
    /// windows that together cover every minute of the week).
    ///
    /// Exact across daylight-saving changes: between two of the zone's transitions local time runs evenly, so the
    /// only candidates are the windows' boundaries in each such stretch and the transitions themselves.
    public func nextChange(after instant: Duration) -> Duration? {
        guard !windowSets.isEmpty else { return nil }
        let start = Self.second(of: instant)
        let current = isAvailable(atSecond: start)
        let boundaries = Set(windowSets.joined().flatMap { [Int64($0.fromMinute), Int64($0.toMinute)] }).sorted()
        // The windows repeat every week: a change, if any, comes within eight days.
        let horizon = start + 8 * Self.secondsPerDay
        var segment = start
        while segment < horizon {
            let date = Date(timeIntervalSince1970: Double(segment))
            let offset = Int64(timeZone.secondsFromGMT(for: date))
            let transition = timeZone.nextDaylightSavingTimeTransition(after: date).map { Int64($0.timeIntervalSince1970.rounded(.up)) }
            let end = transition.map { $0 > segment ? min($0, horizon) : horizon } ?? horizon
            var candidates: [Int64] = []
            for day in Self.floorDivide(segment + offset, Self.secondsPerDay)...Self.floorDivide(end + offset, Self.secondsPerDay) {
                for minute in boundaries {
                    let candidate = day * Self.secondsPerDay + minute * 60 - offset
                    if candidate > start, candidate >= segment, candidate < end { candidates.append(candidate) }
                }
            }
            if end < horizon, end > start { candidates.append(end) }
            for candidate in candidates.sorted() where isAvailable(atSecond: candidate) != current {
                return .seconds(candidate)
            }
            segment = end
        }
        return nil
    }

    /// How long from `instant` until the service is available; zero when it is now, nil when it never is.
    public func waitUntilAvailable(from instant: Duration) -> Duration? {
        if isAvailable(at: instant) { return .zero }
        return nextChange(after: instant).map { $0 - instant }
    }

    /// `instant` as local time in `timeZone`: `2025-06-23 08:00 +02:00`.
    public static func localTime(_ instant: Duration, in timeZone: TimeZone) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.calendar = Calendar(identifier: .gregorian)
        formatter.timeZone = timeZone
        formatter.dateFormat = "yyyy-MM-dd HH:mm xxx"
        return formatter.string(from: Date(timeIntervalSince1970: Double(second(of: instant))))
    }

    // MARK: Local time

    static let secondsPerDay: Int64 = 86_400

    private func isAvailable(atSecond second: Int64) -> Bool {
        guard !windowSets.isEmpty else { return true }
        let local = second + Int64(timeZone.secondsFromGMT(for: Date(timeIntervalSince1970: Double(second))))
        let days = Self.floorDivide(local, Self.secondsPerDay)
        // 1970-01-01 was a Thursday (index 3 from Monday).
        let weekday = Weekday.allCases[Int(((days + 3) % 7 + 7) % 7)]
        let minute = Int((local - days * Self.secondsPerDay) / 60)
        return windowSets.allSatisfy { windows in windows.contains { $0.contains(day: weekday, minute: minute) } }
    }

    /// Whole seconds since 1970 (rounded down).
    static func second(of instant: Duration) -> Int64 {
        let (seconds, attoseconds) = instant.components
        return attoseconds < 0 ? seconds - 1 : seconds
    }

    static func floorDivide(_ a: Int64, _ b: Int64) -> Int64 {
        let quotient = a / b
        return (a % b != 0 && (a < 0) != (b < 0)) ? quotient - 1 : quotient
    }
}

// MARK: - Where

/// Where a service may run: the `<where>` places of the constraints that apply to it.
///
/// The places of one constraint are alternatives (any of them); every applying constraint with places must hold. A
/// node matches `<where peer="NAME"/>` when NAME is its name (the user part of its address of record) or a SIP URI of
/// it, and `<where area="AREA"/>` when it declared that area (`smf run --area`).
public struct ServicePlaces: Sendable, Hashable {
    /// The applying constraints that have places.
    public var constraints: [ServiceConstraint]

    /// The places of `service` under a composition's constraints.
    public init(service: String, constraints: [ServiceConstraint]) {
        self.constraints = constraints.filter { ($0.service == nil || $0.service == service) && !$0.places.isEmpty }
    }

    /// Whether no place restricts the service.
    public var isUnconstrained: Bool { constraints.isEmpty }

    /// The first applying constraint the node does not satisfy; nil when the service may run there.
    /// - Parameters:
    ///   - name: The node's name (the user part of its address of record).
    ///   - addressOfRecord: Its address of record, for places naming a SIP URI.
    ///   - area: The area it declared, if any.
    public func violation(name: String, addressOfRecord: String, area: String?) -> ServiceConstraint? {
        constraints.first { constraint in
            !constraint.places.contains { place in
                switch place {
                case .peer(let peer):
                    peer == name || ((peer.hasPrefix("sip:") || peer.hasPrefix("sips:")) && ServiceRuntime.sameNode(peer, addressOfRecord))
                case .area(let wanted):
                    wanted == area
                }
            }
        }
    }

    /// Whether any applying constraint names an area (so a node's area must be known to check it).
    public var namesAnArea: Bool {
        constraints.contains { $0.places.contains { if case .area = $0 { true } else { false } } }
    }

    /// `area north-street or peer dave`.
    public static func describe(_ places: [AvailabilityPlace]) -> String {
        places.map { place in
            switch place {
            case .peer(let name): "peer \(name)"
            case .area(let area): "area \(area)"
            }
        }.joined(separator: " or ")
    }

    /// `the constraint on line 18 (where area north-street)`.
    public static func describe(_ constraint: ServiceConstraint) -> String {
        "the constraint on line \(constraint.location.line) (where \(describe(constraint.places)))"
    }

    /// `node carol (area south-street)` or `node carol (no area)`.
    public static func describe(node name: String, area: String?) -> String {
        "node \(name) (\(area.map { "area \($0)" } ?? "no area"))"
    }
}
