/// When a node stores its own records again (its user registration, its community records).
///
/// A stored record is refreshed every `refresh` (half its lifetime), well before it expires. A store that failed
/// (a lookup that ran out of peers while the ring was still forming or repairing, an owner that did not answer) is
/// tried again soon instead of a whole refresh period later: after `firstRetry`, then twice as long each time up
/// to `maximumRetry`, and never later than `refresh`. A success starts the back-off over.
///
/// A value type with no clock: the caller sleeps for the delays it returns.
public struct RepublishSchedule: Sendable, Equatable {
    /// The delay after a successful store.
    public let refresh: Duration
    /// The delay after the first failed store in a row.
    public let firstRetry: Duration
    /// The longest delay after a failed store.
    public let maximumRetry: Duration
    /// Failed stores since the last success.
    public private(set) var failures = 0

    /// - Parameters:
    ///   - refresh: the delay after a success (half the records' lifetime).
    ///   - firstRetry: the delay after a first failure.
    ///   - maximumRetry: the longest delay after failures; `refresh` when that is shorter.
    public init(refresh: Duration, firstRetry: Duration, maximumRetry: Duration) {
        self.refresh = refresh
        self.firstRetry = min(firstRetry, refresh)
        self.maximumRetry = max(self.firstRetry, min(maximumRetry, refresh))
    }

    /// The schedule of a ring with stabilisation period `stabilizeInterval`: the first retry after one period (a
    /// forming ring has usually settled by then), at most ten periods between retries.
    public init(refresh: Duration, stabilizeInterval: Duration) {
        self.init(refresh: refresh, firstRetry: stabilizeInterval, maximumRetry: stabilizeInterval * 10)
    }

    /// Records the outcome of a store and returns how long to wait before the next one.
    public mutating func delay(afterStoring stored: Bool) -> Duration {
        guard !stored else {
            failures = 0
            return refresh
        }
        failures += 1
        var delay = firstRetry
        for _ in 1..<failures {
            delay = delay * 2
            if delay >= maximumRetry { return maximumRetry }
        }
        return min(delay, maximumRetry)
    }
}
