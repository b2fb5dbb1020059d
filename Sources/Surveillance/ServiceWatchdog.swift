/// A notice for the owners about one service of the chain.
public struct ServiceNotice: Sendable, Hashable, CustomStringConvertible {
    /// Down or back.
    public enum Kind: String, Sendable, Hashable {
        /// The service missed the allowed number of refreshes.
        case down
        /// A service reported down refreshed again.
        case recovered
    }

    /// Down or back.
    public var kind: Kind
    /// The service's name (e.g. the composition's service id `notifier`).
    public var service: String
    /// Where it runs, as registered (e.g. the peer's AoR), for the message.
    public var provider: String
    /// When its last refresh arrived (nil: never).
    public var lastSeen: Duration?
    /// Refresh intervals missed when the notice was raised (0 for ``Kind/recovered``).
    public var missedRefreshes: Int
    /// When the notice was raised.
    public var time: Duration

    /// E.g. `service notifier on sip:node-7@127.0.0.1 is down: 3 refreshes missed, last seen at 120.0 seconds`.
    public var description: String {
        switch kind {
        case .down:
            "service \(service) on \(provider) is down: \(missedRefreshes) refreshes missed, last seen "
                + (lastSeen.map { "at \($0)" } ?? "never")
        case .recovered:
            "service \(service) on \(provider) is back"
        }
    }
}

/// The "service down" detector (issue 7): knows when each service of the chain should refresh (a
/// subscription refresh, RFC 6665 §4.1.2.1, or a heartbeat) and raises a notice when one has missed
/// ``missedRefreshesAllowed`` refreshes in a row, and another when it comes back.
///
/// Pure and clock-free: the driver reports refreshes with ``refreshed(_:at:)``, calls ``check(at:)`` at
/// ``nextCheck`` (or whenever it likes) and sends the notices to the owners.
public struct ServiceWatchdog: Sendable, Hashable {
    private struct Watched: Sendable, Hashable {
        var provider: String
        var interval: Duration
        var since: Duration
        var lastSeen: Duration?
        var down: Bool
    }

    /// How many refreshes in a row may be missed before the service counts as down (default 3).
    public let missedRefreshesAllowed: Int
    private var watched: [String: Watched] = [:]

    /// Creates a watchdog.
    ///
    /// - Throws: ``SurveillanceError/Code/invalidPolicy`` when `missedRefreshesAllowed` is below 1.
    public init(missedRefreshesAllowed: Int = 3) throws(SurveillanceError) {
        guard missedRefreshesAllowed >= 1 else {
            throw SurveillanceError(.invalidPolicy, "missed refreshes allowed must be at least 1, not \(missedRefreshesAllowed)")
        }
        self.missedRefreshesAllowed = missedRefreshesAllowed
    }

    /// Starts watching `service` on `provider`, which should refresh every `interval`, counting from `now`.
    /// Watching it again replaces the provider and interval (e.g. after re-resolution to another peer) and
    /// restarts the count.
    ///
    /// - Throws: ``SurveillanceError/Code/invalidPolicy`` for an interval that is not positive.
    public mutating func watch(
        _ service: String, provider: String, every interval: Duration, at now: Duration
    ) throws(SurveillanceError) {
        guard interval > .zero else {
            throw SurveillanceError(.invalidPolicy, "service \(service): refresh interval must be longer than 0 s, not \(interval)")
        }
        watched[service] = Watched(provider: provider, interval: interval, since: now, lastSeen: nil, down: false)
    }

    /// Stops watching `service`.
    public mutating func unwatch(_ service: String) {
        watched[service] = nil
    }

    /// `service` refreshed at `now`; returns a ``ServiceNotice/Kind/recovered`` notice if it was down.
    /// Refreshes of services not watched are ignored.
    public mutating func refreshed(_ service: String, at now: Duration) -> ServiceNotice? {
        guard var entry = watched[service] else { return nil }
        let wasDown = entry.down
        entry.lastSeen = max(entry.lastSeen ?? now, now)
        entry.down = false
        watched[service] = entry
        guard wasDown else { return nil }
        return ServiceNotice(
            kind: .recovered, service: service, provider: entry.provider, lastSeen: now, missedRefreshes: 0, time: now)
    }

    /// The services that are down at `now` and were not reported yet, sorted by name; each is reported once
    /// until it recovers.
    public mutating func check(at now: Duration) -> [ServiceNotice] {
        var notices: [ServiceNotice] = []
        for service in watched.keys.sorted() {
            guard var entry = watched[service], !entry.down else { continue }
            let missed = Self.missed(entry, at: now)
            guard missed >= missedRefreshesAllowed else { continue }
            entry.down = true
            watched[service] = entry
            notices.append(
                ServiceNotice(
                    kind: .down, service: service, provider: entry.provider, lastSeen: entry.lastSeen,
                    missedRefreshes: missed, time: now))
        }
        return notices
    }

    /// The earliest time a watched service that is up would be declared down (when to call
    /// ``check(at:)`` next); nil when none is watched or all are down.
    public var nextCheck: Duration? {
        watched.values.filter { !$0.down }
            .map { ($0.lastSeen ?? $0.since) + $0.interval * missedRefreshesAllowed }
            .min()
    }

    /// The services currently considered down, sorted.
    public var downServices: [String] { watched.filter { $0.value.down }.map(\.key).sorted() }

    private static func missed(_ entry: Watched, at now: Duration) -> Int {
        let elapsed = now - (entry.lastSeen ?? entry.since)
        guard elapsed > .zero else { return 0 }
        return Int(min(elapsed / entry.interval, 1e15))
    }
}
