/// A household's flexibility service: declares its flexible loads (and battery) to the community, follows the
/// coordinator's start/defer advice, and guarantees every deadline on its own.
///
/// Advice is followed only where it keeps the load inside its window: an advised start before the earliest
/// start waits for it, one after the latest start is replaced by the latest start. A load with no advice
/// starts at its earliest start (as without coordination). When advice from several coordinators arrives,
/// the lowest coordinator id wins (the same rule the coordinators use among themselves), and from one
/// coordinator the highest plan version. When that coordinator leaves, its advice stays in force until the
/// next advice arrives.
public struct FlexibilityService: Sendable {
    public enum Action: Hashable, Sendable {
        /// PUBLISH this message (declaration, load started, withdrawal) to the community.
        case publish(EnergyMessage)
        /// Switch the load on now.
        case startLoad(String)
        /// The load waits until `until` (advice received).
        case deferLoad(String, until: Int)
        /// Set the battery to this grid-side power for the interval, kW (positive = charge).
        case setBattery(Double)
    }

    public let household: String
    public let grid: EnergyTimeGrid
    private var loads: [FlexibleLoad]
    private var battery: Battery?
    private var started: [String: Int] = [:]
    private var advice: LoadAdvice?
    private var now = -1
    private var left = false
    /// The coordinator whose advice is followed has left: the next advice replaces it, whoever sends it.
    private var pinnedToLeftCoordinator = false

    public init(household: String, grid: EnergyTimeGrid, loads: [FlexibleLoad], battery: Battery?) {
        self.household = household
        self.grid = grid
        self.loads = loads.filter { $0.isValid(on: grid) }
        self.battery = battery
    }

    /// Start interval of each load that has started.
    public var startedLoads: [String: Int] { started }

    /// The loads that have not started.
    public var pendingLoads: [FlexibleLoad] { loads.filter { started[$0.id] == nil } }

    /// The service is up (or refreshes its soft state): declares the loads of the day, the ones that started with
    /// their start, and the battery.
    public func declare() -> [Action] {
        [.publish(.flexibility(FlexibilityDeclaration(household: household, loads: loads, battery: battery, started: started.isEmpty ? nil : started)))]
    }

    /// Whether the household has left the community.
    public var hasLeft: Bool { left }

    /// A new load appeared (e.g. the EV was plugged in): declares the loads again.
    public mutating func loadAdded(_ load: FlexibleLoad) -> [Action] {
        guard load.isValid(on: grid), !loads.contains(where: { $0.id == load.id }) else { return [] }
        loads.append(load)
        return declare()
    }

    /// A message arrived (NOTIFY from a coordinator). Advice for this household replaces older advice as
    /// described on the type; everything else is ignored.
    public mutating func received(_ message: EnergyMessage) -> [Action] {
        if case .coordinatorLeft(let coordinator) = message, advice?.coordinator == coordinator {
            // Keep following the old advice until the coordinator that takes over sends its own.
            pinnedToLeftCoordinator = true
            return []
        }
        guard !left, case .advice(let new) = message, new.household == household else { return [] }
        if pinnedToLeftCoordinator {
            pinnedToLeftCoordinator = false
            advice = nil
        }
        if let current = advice {
            if new.coordinator > current.coordinator { return [] }
            if new.coordinator == current.coordinator, new.planVersion <= current.planVersion { return [] }
        }
        advice = new
        var actions: [Action] = []
        for load in pendingLoads {
            let start = startInterval(for: load)
            if start > max(now, load.earliestStart) { actions.append(.deferLoad(load.id, until: start)) }
        }
        return actions
    }

    /// Interval `interval` begins: starts every load whose (advised or own) start has come, and sets the battery.
    /// Also after the household left: it then runs its loads on its own.
    public mutating func intervalStarted(_ interval: Int) -> [Action] {
        now = interval
        var actions: [Action] = []
        for load in pendingLoads where startInterval(for: load) <= interval {
            started[load.id] = interval
            actions.append(.startLoad(load.id))
            if !left { actions.append(.publish(.started(LoadStarted(household: household, load: load.id, interval: interval)))) }
        }
        if let battery, let schedule = advice?.batteryKW, interval >= 0, interval < schedule.count, schedule[interval].isFinite {
            actions.append(.setBattery(min(max(schedule[interval], -battery.powerKW), battery.powerKW)))
        }
        return actions
    }

    /// The household leaves the community: it withdraws, and its pending loads start at their earliest start
    /// from now on (it runs them on its own).
    public mutating func leave() -> [Action] {
        guard !left else { return [] }
        left = true
        advice = nil
        return [.publish(.withdrawal(household: household))]
    }

    /// The interval `load` starts in: the advised start kept inside the load's window, or its earliest start.
    func startInterval(for load: FlexibleLoad) -> Int {
        let latest = load.latestStart(on: grid)
        guard let advised = advice?.starts[load.id] else { return load.earliestStart }
        return min(max(advised, load.earliestStart), latest)
    }
}
