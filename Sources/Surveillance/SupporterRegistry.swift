/// How a supporter is reached: decides which SIP request carries an alarm (seed 000 §VI, variant 1).
public enum SupporterPhoneKind: String, Sendable, Hashable, Codable, CaseIterable {
    /// An smf node (or any user agent that takes the alarm event package): gets a NOTIFY, or a SUBSCRIBE
    /// in variant 2, and answers with a NOTIFY.
    case smfNode = "smf-node"
    /// An ordinary SIP phone (e.g. baresip): gets a pager-mode MESSAGE (RFC 3428) and accepts by replying
    /// with a MESSAGE such as `ok A-42`.
    case sipPhone = "sip-phone"
}

/// A supporter's registration with service 1: which events in which buildings they answer for, and how
/// to reach them.
public struct SupporterRegistration: Sendable, Hashable, Codable {
    /// The wildcard that matches every event kind or every building (e.g. a fire brigade).
    public static let wildcard = "*"

    /// The supporter's address of record (`sip:` or `sips:` URI); identifies the registration.
    public var supporter: String
    /// The event kinds they answer for (`fire`, `intrusion`, or ``wildcard``).
    public var eventKinds: Set<String>
    /// The buildings they answer for (building ids, or ``wildcard``).
    public var buildings: Set<String>
    /// Where requests go (a `sip:`/`sips:` URI; often the AoR itself).
    public var contact: String
    /// Which request carries the alarm.
    public var phoneKind: SupporterPhoneKind
    /// When the registration lapses (same time origin as every other time the caller passes in).
    public var expiresAt: Duration

    /// Creates a registration.
    public init(
        supporter: String, eventKinds: Set<String>, buildings: Set<String>, contact: String? = nil,
        phoneKind: SupporterPhoneKind = .smfNode, expiresAt: Duration
    ) {
        self.supporter = supporter
        self.eventKinds = eventKinds
        self.buildings = buildings
        self.contact = contact ?? supporter
        self.phoneKind = phoneKind
        self.expiresAt = expiresAt
    }

    /// Whether this registration covers events of `kind` in `building`.
    public func covers(kind: String, building: String) -> Bool {
        (eventKinds.contains(kind) || eventKinds.contains(Self.wildcard))
            && (buildings.contains(building) || buildings.contains(Self.wildcard))
    }

    /// Every problem with this registration at time `now` (empty when it is usable).
    public func problems(at now: Duration) -> [String] {
        var problems: [String] = []
        if !SIPAddress.isSIPURI(supporter) { problems.append("supporter \"\(supporter)\" is not a sip: or sips: URI") }
        if !SIPAddress.isSIPURI(contact) { problems.append("contact \"\(contact)\" is not a sip: or sips: URI") }
        if eventKinds.isEmpty || eventKinds.contains("") { problems.append("it names no event kind (or an empty one)") }
        if buildings.isEmpty || buildings.contains("") { problems.append("it names no building (or an empty one)") }
        if expiresAt <= now { problems.append("it expired at \(expiresAt), before now (\(now))") }
        return problems
    }
}

/// Small checks on SIP addresses; parsing proper belongs to SIPSyntax, which this module does not link.
enum SIPAddress {
    /// Whether `text` looks like a `sip:`/`sips:` URI with something after the scheme and no spaces.
    static func isSIPURI(_ text: String) -> Bool {
        let lower = text.lowercased()
        let rest: Substring
        if lower.hasPrefix("sips:") {
            rest = lower.dropFirst(5)
        } else if lower.hasPrefix("sip:") {
            rest = lower.dropFirst(4)
        } else {
            return false
        }
        return !rest.isEmpty && !rest.contains(where: \.isWhitespace)
    }
}

/// Service 1, the supporter registry: registrations by AoR, and the query "who is responsible for event E
/// in building B" (seed 000 §VI, variant 1).
///
/// A value type with no clock: every call takes `now`. Registering again with the same AoR replaces the
/// earlier registration but keeps its place in registration order (the order the selector's
/// `registration` policy uses).
public struct SupporterRegistry: Sendable, Hashable {
    private var registrations: [String: SupporterRegistration] = [:]
    private var order: [String: Int] = [:]
    private var nextOrder = 0

    /// Creates an empty registry.
    public init() {}

    /// Adds or replaces the registration of `registration.supporter`.
    ///
    /// - Throws: ``SurveillanceError/Code/invalidRegistration`` listing every problem.
    public mutating func register(_ registration: SupporterRegistration, at now: Duration) throws(SurveillanceError) {
        let problems = registration.problems(at: now)
        guard problems.isEmpty else {
            throw SurveillanceError(
                .invalidRegistration, "\(registration.supporter): \(problems.joined(separator: "; "))")
        }
        if order[registration.supporter] == nil {
            order[registration.supporter] = nextOrder
            nextOrder += 1
        }
        registrations[registration.supporter] = registration
    }

    /// Removes `supporter`'s registration; returns whether there was one.
    @discardableResult
    public mutating func unregister(_ supporter: String) -> Bool {
        order[supporter] = nil
        return registrations.removeValue(forKey: supporter) != nil
    }

    /// Drops every registration that expired at or before `now`; returns the AoRs dropped, sorted.
    @discardableResult
    public mutating func expire(at now: Duration) -> [String] {
        let expired = registrations.values.filter { $0.expiresAt <= now }.map(\.supporter).sorted()
        for supporter in expired { unregister(supporter) }
        return expired
    }

    /// The live registration of `supporter`, if any.
    public func registration(of supporter: String, at now: Duration) -> SupporterRegistration? {
        registrations[supporter].flatMap { $0.expiresAt > now ? $0 : nil }
    }

    /// The live registrations responsible for events of `kind` in `building`, in registration order.
    public func responsible(for kind: String, in building: String, at now: Duration) -> [SupporterRegistration] {
        registrations.values
            .filter { $0.expiresAt > now && $0.covers(kind: kind, building: building) }
            .sorted { (order[$0.supporter] ?? .max) < (order[$1.supporter] ?? .max) }
    }

    /// How many registrations are held (expired ones included until ``expire(at:)``).
    public var count: Int { registrations.count }

    /// Every registration held, in registration order (expired ones included until ``expire(at:)``).
    public var all: [SupporterRegistration] {
        registrations.values.sorted { (order[$0.supporter] ?? .max) < (order[$1.supporter] ?? .max) }
    }

    /// When the next registration lapses, if any is held.
    public var nextExpiry: Duration? { registrations.values.map(\.expiresAt).min() }
}
