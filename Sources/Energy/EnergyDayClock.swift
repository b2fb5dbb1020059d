import Foundation

/// Where the simulated day sits on the real clock: interval `n` (counted from the first day, across days) begins at
/// `origin + n × intervalSeconds`, and the day repeats every ``EnergyTimeGrid/intervalCount`` intervals (the same
/// seed gives the same day again).
///
/// Every energy service of a composition computes the same clock from the same parameters (`interval`,
/// `time-scale`, `day-start`), so they agree on the interval without talking. Within an interval the services act in
/// a fixed order (``Phase``), so that the coordinator's advice for an interval reaches the households before they
/// act on it, and the meters' readings reach the balance before it closes the interval.
public struct EnergyDayClock: Sendable, Hashable {
    /// When, within an interval, a service acts (a fraction of the interval from its start).
    public enum Phase: Sendable, Hashable {
        /// The coordinators plan and advise: the interval's start.
        case coordinators
        /// The households start loads and set batteries: a third of the interval in, at most 10 real seconds.
        case households
        /// The meters read the interval: its end.
        case meters
        /// The balance service closes the interval: as long after its end as the households act after its start.
        case balance
    }

    /// The day's grid.
    public let grid: EnergyTimeGrid
    /// Real time (since 1970-01-01T00:00:00Z) at which interval 0 of the first day begins.
    public let origin: Duration
    /// Real seconds per interval (the interval's length divided by the time scale).
    public let intervalSeconds: Double

    /// A clock for `grid`, `timeScale` simulated seconds per real second, starting at `dayStart` (real time since
    /// 1970). Without `dayStart`, simulated time is real time × `timeScale` and days begin at the grid's start hour
    /// (06:00) UTC of simulated time, so that services started at different times still agree.
    public init(grid: EnergyTimeGrid, timeScale: Double = 1, dayStart: Duration? = nil) {
        self.grid = grid
        self.intervalSeconds = Double(grid.intervalMinutes * 60) / timeScale
        self.origin = dayStart ?? .seconds(Double(grid.startHour * 3600) / timeScale)
    }

    /// How far into an interval `phase` is, as a fraction of the interval.
    public func offset(of phase: Phase) -> Double {
        let households = min(1.0 / 3, 10 / intervalSeconds)
        switch phase {
        case .coordinators: return 0
        case .households: return households
        case .meters: return 1
        case .balance: return 1 + households
        }
    }

    /// The real time at which `phase` of interval `n` (counted across days) comes.
    public func time(of n: Int, _ phase: Phase) -> Duration {
        origin + .seconds((Double(n) + offset(of: phase)) * intervalSeconds)
    }

    /// The interval (counted across days) that contains real time `now`; negative before the first day.
    public func interval(at now: Duration) -> Int {
        let elapsed = (now - origin) / .seconds(1)
        // A hair of slack, so that the exact start of an interval (as `time(of:_:)` computes it) falls in it.
        return Int((elapsed / intervalSeconds + 1e-9).rounded(.down))
    }

    /// The day (0, 1, …) interval `n` falls in, and its index within that day.
    public func dayAndIndex(of n: Int) -> (day: Int, index: Int) {
        let count = grid.intervalCount
        let day = n >= 0 ? n / count : -((-n + count - 1) / count)
        return (day, n - day * count)
    }

    /// Intervals per simulated hour (the soft-state refresh period of declarations and forecasts).
    public var intervalsPerHour: Int { max(1, 60 / grid.intervalMinutes) }
}
