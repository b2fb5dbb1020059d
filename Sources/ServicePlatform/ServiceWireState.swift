// The pure parts of the runtime: an event port's outbox with its wires' cursors, duplicate detection, the choice
// of a provider and the handling of revisions. Values only; the runtime carries out what they decide.

public import Composition

// MARK: - Outbox

/// The values an event output port emitted that some wire has not acknowledged yet, in emission order, each with
/// its sequence number on the port (1, 2, …).
///
/// Each wire from the port keeps a cursor: the highest sequence number its consumer acknowledged, or that it
/// skipped because the wire's filters do not pass the value. A value leaves the outbox once every wire's cursor
/// passed it.
public struct ServiceOutbox: Sendable, Hashable {
    /// A value with its sequence number.
    public struct Entry: Sendable, Hashable {
        public var sequence: UInt64
        public var value: ServiceValue

        public init(sequence: UInt64, value: ServiceValue) {
            self.sequence = sequence
            self.value = value
        }
    }

    /// What a wire sends next.
    public struct Batch: Sendable, Hashable {
        /// The values that pass the wire's filters, in order (at most the limit).
        public var entries: [Entry]
        /// The cursor once the batch is acknowledged: the last value looked at, sent or skipped.
        public var through: UInt64
    }

    /// The values not yet acknowledged by every wire, in order.
    public private(set) var entries: [Entry] = []
    /// The sequence number of the last value emitted (0 before the first).
    public private(set) var lastSequence: UInt64
    /// The waiting values' sequence numbers by id.
    private var sequenceByID: [String: UInt64] = [:]

    /// An empty outbox whose next value gets `lastSequence + 1`.
    public init(lastSequence: UInt64 = 0) {
        self.lastSequence = lastSequence
    }

    /// An outbox restored from its saved entries (in any order).
    public init(restoring saved: [Entry], lastSequence: UInt64 = 0) {
        entries = saved.sorted { $0.sequence < $1.sequence }
        self.lastSequence = max(lastSequence, entries.last?.sequence ?? 0)
        for entry in entries where !entry.value.id.isEmpty { sequenceByID[entry.value.id] = entry.sequence }
    }

    /// Adds a value and returns its sequence number. A value whose id is already waiting is not added again: its
    /// sequence number is returned with `isNew` false (a relay handling the same input twice emits the same ids).
    @discardableResult
    public mutating func append(_ value: ServiceValue) -> (sequence: UInt64, isNew: Bool) {
        if !value.id.isEmpty, let existing = sequenceByID[value.id] {
            return (existing, false)
        }
        lastSequence += 1
        entries.append(Entry(sequence: lastSequence, value: value))
        if !value.id.isEmpty { sequenceByID[value.id] = lastSequence }
        return (lastSequence, true)
    }

    /// What a wire whose cursor is `cursor` sends next: up to `limit` values after it that pass `filters`.
    /// `through` is where the cursor goes once they are acknowledged; with no entries but `through > cursor`,
    /// every value after the cursor was filtered out and the cursor may move at once.
    public func batch(after cursor: UInt64, filters: [WireFilter], limit: Int) -> Batch {
        var picked: [Entry] = []
        var through = cursor
        for entry in entries where entry.sequence > cursor {
            if entry.value.passes(filters) {
                guard picked.count < max(1, limit) else { break }
                picked.append(entry)
            }
            through = entry.sequence
        }
        return Batch(entries: picked, through: through)
    }

    /// How many values after `cursor` pass `filters` (waiting for that wire).
    public func pendingCount(after cursor: UInt64, filters: [WireFilter]) -> Int {
        entries.count { $0.sequence > cursor && $0.value.passes(filters) }
    }

    /// Drops the values every wire acknowledged: those up to `cursor`, the lowest cursor of the port's wires.
    /// Returns whether anything was dropped.
    @discardableResult
    public mutating func prune(through cursor: UInt64) -> Bool {
        let count = entries.prefix { $0.sequence <= cursor }.count
        guard count > 0 else { return false }
        for entry in entries.prefix(count) { sequenceByID[entry.value.id] = nil }
        entries.removeFirst(count)
        return true
    }
}

// MARK: - Duplicates

/// The ids of the inputs an instance took most recently, to drop a value delivered again (after a lost 200, a
/// relay's replacement, a restart). Keeps the newest `capacity` ids.
public struct ServiceInputLog: Sendable, Hashable {
    /// How many ids are kept.
    public let capacity: Int
    private var order: [String] = []
    private var members: Set<String> = []
    private var start = 0

    /// An empty log, or one holding `ids` (oldest first).
    public init(capacity: Int = 4096, ids: [String] = []) {
        self.capacity = max(1, capacity)
        for id in ids { insert(id) }
    }

    /// Whether `id` was taken.
    public func contains(_ id: String) -> Bool { members.contains(id) }

    /// How many ids are kept.
    public var count: Int { members.count }

    /// Records `id`; forgets the oldest beyond the capacity. Returns false when it was known.
    @discardableResult
    public mutating func insert(_ id: String) -> Bool {
        guard members.insert(id).inserted else { return false }
        order.append(id)
        if members.count > capacity {
            members.remove(order[start])
            start += 1
            if start > capacity {
                order.removeFirst(start)
                start = 0
            }
        }
        return true
    }

    /// The ids kept, oldest first.
    public var ids: [String] { Array(order[start...]) }
}

/// The id of the `index`-th value (0, 1, …) an instance of `service` emits while handling input `inputID`:
/// the same for a replacement handling the same input, so the consumers after it drop what they already had.
public func derivedValueID(inputID: String, service: String, index: Int) -> String {
    "\(inputID)/\(service)/\(index)"
}

// MARK: - Choosing a provider

/// Picks the provider for a service placed `any` (docs/services.md): among the live candidates, the one with the
/// most capacity, then the fewest instances of this application, then the lowest address (so the choice is the
/// same on every run).
public enum ServicePlacementChooser {
    /// A provider found in the overlay.
    public struct Candidate: Sendable, Hashable {
        /// Its address of record.
        public var host: String
        /// The capacity it advertises.
        public var capacity: Int
        /// The area it declared, if any.
        public var area: String?

        public init(host: String, capacity: Int, area: String? = nil) {
            self.host = host
            self.capacity = capacity
            self.area = area
        }
    }

    /// The chosen host, or nil when no candidate is live and allowed.
    /// - Parameters:
    ///   - candidates: Providers of the type in the sub-community.
    ///   - live: Those that answered an OPTIONS probe.
    ///   - excluded: Hosts that must not be chosen (known to be down).
    ///   - placedCounts: Instances of this application per host already placed.
    public static func choose(
        from candidates: [Candidate], live: Set<String>, excluded: Set<String> = [], placedCounts: [String: Int] = [:]
    ) -> String? {
        candidates
            .filter { live.contains($0.host) && !excluded.contains($0.host) }
            .min { a, b in
                if a.capacity != b.capacity { return a.capacity > b.capacity }
                let placedA = placedCounts[a.host, default: 0]
                let placedB = placedCounts[b.host, default: 0]
                if placedA != placedB { return placedA < placedB }
                return a.host < b.host
            }?.host
    }
}

// MARK: - Revisions

/// What a host does with a deploy MESSAGE, given the revision it holds (docs/services.md "Instantiate").
public enum ServiceRevisionDecision: Sendable, Hashable {
    /// A newer revision (or the first): commit it, then apply it.
    case apply
    /// The revision it already has, with the same content: answer 200 and change nothing.
    case unchanged
    /// An older revision, or the same number with other content: refuse it (409), keep what it has.
    case stale

    /// Decides for `incoming` against `stored`.
    public static func decide(_ incoming: ServiceDeployment, stored: ServiceDeployment?) -> ServiceRevisionDecision {
        guard let stored else { return .apply }
        if incoming.revision > stored.revision { return .apply }
        if incoming.revision == stored.revision, incoming == stored { return .unchanged }
        return .stale
    }
}
