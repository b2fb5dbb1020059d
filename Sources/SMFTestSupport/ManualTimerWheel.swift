/// Virtual time for transcript tests: holds scheduled timers by id, and advancing time pops the
/// due ones in deadline order (ties in scheduling order). Nothing reads a real clock.
///
/// State machines in smf return timers as actions (`scheduleTimer`, `cancelTimer`); a test
/// carries those out on a wheel and then pops what is due, so a whole RFC 3261 or RFC 6665
/// scenario runs in microseconds and repeats exactly.
public struct ManualTimerWheel<ID: Hashable> {
    private struct Entry {
        var id: ID
        var deadline: Duration
        var sequence: Int
    }

    public private(set) var now: Duration = .zero
    private var entries: [Entry] = []
    private var sequence = 0

    public init() {}

    /// Starts (or restarts) timer `id` to fire `delay` from now.
    public mutating func schedule(_ id: ID, after delay: Duration) {
        cancel(id)
        sequence += 1
        entries.append(Entry(id: id, deadline: now + delay, sequence: sequence))
    }

    public mutating func cancel(_ id: ID) {
        entries.removeAll { $0.id == id }
    }

    public mutating func cancelAll(where predicate: (ID) -> Bool) {
        entries.removeAll { predicate($0.id) }
    }

    public func deadline(of id: ID) -> Duration? {
        entries.first { $0.id == id }?.deadline
    }

    /// The ids of every scheduled timer, in scheduling order.
    public var scheduled: [ID] { entries.map(\.id) }

    /// Removes the earliest timer due at or before `limit`, moving `now` to its deadline.
    public mutating func popNextDue(notAfter limit: Duration) -> ID? {
        guard let index = entries.indices.min(by: { (entries[$0].deadline, entries[$0].sequence) < (entries[$1].deadline, entries[$1].sequence) }),
            entries[index].deadline <= limit
        else { return nil }
        let entry = entries.remove(at: index)
        now = max(now, entry.deadline)
        return entry.id
    }

    /// Moves time forward to `instant` after every due timer has been popped.
    public mutating func settle(at instant: Duration) {
        now = max(now, instant)
    }
}

/// A deterministic random generator (SplitMix64) so tags, branches, Call-IDs and jitter repeat
/// from run to run.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    public var state: UInt64

    public init(seed: UInt64 = 42) { state = seed }
    public init(state: UInt64) { self.state = state }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
