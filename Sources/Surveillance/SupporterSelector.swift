import Foundation
public import Presence

/// Great-circle distances between WGS 84 points.
public enum GeoDistance {
    /// The mean Earth radius in kilometres (IUGG).
    public static let earthRadiusKilometres = 6371.0088

    /// The haversine great-circle distance between `a` and `b`, in kilometres (altitudes ignored).
    public static func kilometres(from a: PresenceGeodeticPosition, to b: PresenceGeodeticPosition) -> Double {
        func radians(_ degrees: Double) -> Double { degrees * .pi / 180 }
        let dLatitude = radians(b.latitude - a.latitude)
        let dLongitude = radians(b.longitude - a.longitude)
        let h =
            sinSquared(dLatitude / 2) + cos(radians(a.latitude)) * cos(radians(b.latitude)) * sinSquared(dLongitude / 2)
        return 2 * earthRadiusKilometres * asin(min(1, max(0, h)).squareRoot())
    }

    private static func sinSquared(_ x: Double) -> Double { let s = sin(x); return s * s }
}

/// How service 6 orders and filters supporters (the `supporter-selector` parameters).
public struct SupporterSelectionPolicy: Sendable, Hashable {
    /// The primary sort key.
    public enum Order: String, Sendable, Hashable, CaseIterable {
        /// Nearest first (by haversine distance to the building); unknown distance after known ones.
        case distance
        /// Available first, then unknown, busy, unavailable; nearest first within each.
        case availability
        /// The order supporters registered in.
        case registration
    }

    /// The primary sort key (`order`).
    public var order: Order
    /// Leave out supporters known to be further than this from the building (`max-distance-m` / 1000);
    /// supporters with no known position are kept.
    public var maxDistanceKilometres: Double?
    /// How many supporters to select at most (`max-supporters`).
    public var maxSupporters: Int?
    /// Whether supporters whose availability is unknown (variant 2 supporters report none) are kept; they
    /// come after every available one.
    public var includeUnknown: Bool
    /// Whether busy and unavailable supporters are kept, after everyone else (a last resort: better told
    /// than nobody), or left out.
    public var includeUnavailable: Bool

    /// Creates a policy. The defaults keep unknown and busy/unavailable supporters, last.
    public init(
        order: Order = .availability, maxDistanceKilometres: Double? = nil, maxSupporters: Int? = nil,
        includeUnknown: Bool = true, includeUnavailable: Bool = true
    ) {
        self.order = order
        self.maxDistanceKilometres = maxDistanceKilometres
        self.maxSupporters = maxSupporters
        self.includeUnknown = includeUnknown
        self.includeUnavailable = includeUnavailable
    }
}

/// One supporter the selector chose, with the facts behind the choice.
public struct SelectedSupporter: Sendable, Hashable {
    /// The registration (AoR, contact, phone kind).
    public var registration: SupporterRegistration
    /// Availability at selection time.
    public var availability: SupporterAvailability
    /// Distance to the building, when both positions are known.
    public var distanceKilometres: Double?

    /// Creates a selected supporter.
    public init(registration: SupporterRegistration, availability: SupporterAvailability, distanceKilometres: Double?) {
        self.registration = registration
        self.availability = availability
        self.distanceKilometres = distanceKilometres
    }

    /// Why they were chosen, e.g. `responsible for fire in house-12, available, 0.42 km away`.
    public func reason(kind: String, building: String) -> String {
        let distance = distanceKilometres.map { "\(Self.kilometres($0)) km away" } ?? "distance unknown"
        return "responsible for \(kind) in \(building), \(availability.rawValue), \(distance)"
    }

    /// A distance written with two decimals (`0.42`).
    static func kilometres(_ value: Double) -> String {
        let hundredths = Int((value * 100).rounded())
        let fraction = hundredths % 100
        return "\(hundredths / 100).\(fraction < 10 ? "0" : "")\(fraction)"
    }

    /// The recipient the notifier contacts.
    public var recipient: AlarmRecipient {
        AlarmRecipient(supporter: registration.supporter, contact: registration.contact, phoneKind: registration.phoneKind)
    }
}

/// A responsible supporter the selector left out, and why.
public struct ExcludedSupporter: Sendable, Hashable {
    /// Their AoR.
    public var supporter: String
    /// Why, e.g. `unavailable (policy excludes unavailable supporters)`.
    public var reason: String
}

/// Service 6's answer for one alarm: whom to contact, in order, and who was left out and why.
public struct SupporterSelection: Sendable, Hashable {
    /// The alarm it was made for.
    public var alarmID: String
    /// The supporters to contact, first to last.
    public var selected: [SelectedSupporter]
    /// Responsible supporters that were left out.
    public var excluded: [ExcludedSupporter]

    /// The notifier's recipient list.
    public var recipients: [AlarmRecipient] { selected.map(\.recipient) }
}

/// Service 6, the supporter selector (seed 000 §VI): responsible supporters from the registry (service 1)
/// ordered and filtered by availability and distance from service 2.
public struct SupporterSelector: Sendable, Hashable {
    /// The ordering and filtering policy.
    public var policy: SupporterSelectionPolicy

    /// Creates a selector.
    public init(policy: SupporterSelectionPolicy = SupporterSelectionPolicy()) {
        self.policy = policy
    }

    /// Whom to contact for `alarm` at `now`.
    ///
    /// Responsible supporters come from `registry`; their availability and position from `book` (variant 2
    /// supporters have none: they count as unknown). Busy, unavailable and unknown supporters always come
    /// after available ones, whatever ``SupporterSelectionPolicy/order`` says; within a group the order
    /// applies, ties broken by registration order.
    public func select(
        for alarm: Alarm, registry: SupporterRegistry, book: SupporterAvailabilityBook, at now: Duration
    ) -> SupporterSelection {
        var candidates: [(supporter: SelectedSupporter, registrationIndex: Int)] = []
        var excluded: [ExcludedSupporter] = []
        for (index, registration) in registry.responsible(for: alarm.kind, in: alarm.building, at: now).enumerated() {
            let status = book.status(of: registration.supporter, at: now)
            let distance = alarm.buildingLocation.flatMap { building in
                status.position.map { GeoDistance.kilometres(from: building, to: $0) }
            }
            let supporter = SelectedSupporter(
                registration: registration, availability: status.availability, distanceKilometres: distance)
            if let reason = exclusionReason(supporter) {
                excluded.append(ExcludedSupporter(supporter: registration.supporter, reason: reason))
            } else {
                candidates.append((supporter, index))
            }
        }
        candidates.sort { lhs, rhs in
            let (a, b) = (lhs.supporter, rhs.supporter)
            if Self.group(a.availability) != Self.group(b.availability) {
                return Self.group(a.availability) < Self.group(b.availability)
            }
            switch policy.order {
            case .registration:
                break
            case .availability:
                if a.availability.rank != b.availability.rank { return a.availability.rank < b.availability.rank }
                if let order = Self.compareDistance(a, b) { return order }
            case .distance:
                if let order = Self.compareDistance(a, b) { return order }
            }
            return lhs.registrationIndex < rhs.registrationIndex
        }
        var selected = candidates.map(\.supporter)
        if let maxSupporters = policy.maxSupporters, selected.count > maxSupporters {
            for dropped in selected[max(0, maxSupporters)...] {
                excluded.append(
                    ExcludedSupporter(
                        supporter: dropped.registration.supporter, reason: "beyond the first \(maxSupporters) supporters"))
            }
            selected = Array(selected.prefix(max(0, maxSupporters)))
        }
        return SupporterSelection(alarmID: alarm.id, selected: selected, excluded: excluded)
    }

    private func exclusionReason(_ supporter: SelectedSupporter) -> String? {
        switch supporter.availability {
        case .unknown where !policy.includeUnknown:
            return "availability unknown (policy excludes unknown supporters)"
        case .busy where !policy.includeUnavailable, .unavailable where !policy.includeUnavailable:
            return "\(supporter.availability.rawValue) (policy excludes unavailable supporters)"
        default:
            break
        }
        if let limit = policy.maxDistanceKilometres, let distance = supporter.distanceKilometres, distance > limit {
            return "\(SelectedSupporter.kilometres(distance)) km away, beyond \(SelectedSupporter.kilometres(limit)) km"
        }
        return nil
    }

    /// Available first, then unknown, then busy or unavailable.
    private static func group(_ availability: SupporterAvailability) -> Int {
        switch availability {
        case .available: 0
        case .unknown: 1
        case .busy, .unavailable: 2
        }
    }

    /// Nearest first, known distances before unknown ones; nil when equal.
    private static func compareDistance(_ a: SelectedSupporter, _ b: SelectedSupporter) -> Bool? {
        switch (a.distanceKilometres, b.distanceKilometres) {
        case (let x?, let y?) where x != y: x < y
        case (.some, nil): true
        case (nil, .some): false
        default: nil
        }
    }
}
