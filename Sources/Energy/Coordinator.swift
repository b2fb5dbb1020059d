/// A coordinator of a sub-community: collects the aggregate forecast and the households' declared
/// flexibility, plans with ``CommunityPlanner`` at interval boundaries, and sends each household its advice
/// (on the `advice` port of `coordinator`, event package `m2m-advice`; coordinators hear each other on `peers`,
/// `m2m-coordination`).
///
/// Several coordinators may run (each aggregation point can host one). They announce themselves (at start, and
/// in reply to a coordinator they did not know); the one with
/// the lowest id leads and the others defer to it, so the community follows one plan. As every coordinator
/// sees the same messages and the planner is deterministic, a coordinator that takes over plans what the leader
/// would have planned: the ones that defer plan too, in the shadow, and only the leader sends advice. A plan is made at the start of an interval when something changed since the last one
/// (a declaration, a forecast, a household leaving, a coordinator leaving). Loads that have started, and the
/// battery schedules of past intervals, stay as they were; the rest is planned again.
public struct Coordinator: Sendable {
    public enum Action: Hashable, Sendable {
        /// NOTIFY all subscribers (households and other coordinators) with this message.
        case broadcast(EnergyMessage)
        /// NOTIFY one household with its advice.
        case notify(household: String, EnergyMessage)
        /// Another coordinator leads; this one defers to it until it leaves.
        case deferTo(String)
        /// This coordinator leads now.
        case tookLead
    }

    public let id: String
    public let grid: EnergyTimeGrid
    private var coordinators: Set<String> = []
    private var forecast: [Double]?
    private var declarations: [String: FlexibilityDeclaration] = [:]
    private var startedLoads: [String: (load: FlexibleLoad, interval: Int)] = [:]
    private var advised: [String: Int] = [:]
    private var batterySchedules: [String: [Double]] = [:]
    private var leading: Bool?
    private var dirty = false
    private var now = 0
    /// The latest plan (also made by a coordinator that defers, without sending it).
    public private(set) var plan: CommunityPlan?
    public private(set) var planVersion = 0

    public init(id: String, grid: EnergyTimeGrid) {
        self.id = id
        self.grid = grid
    }

    /// The households whose declarations it plans for (those that declared and did not withdraw), sorted.
    public var households: [String] { declarations.keys.sorted() }

    /// The coordinator this one follows (itself when it leads).
    public var leader: String { coordinators.union([id]).min() ?? id }

    /// Whether this coordinator leads.
    public var isLeader: Bool { leader == id }

    /// The coordinator is up: announces itself and says whether it leads.
    public mutating func started() -> [Action] {
        [.broadcast(.coordinator(id: id))] + roleChanges()
    }

    /// A message arrived (NOTIFY from the balance service, PUBLISH from households, another coordinator).
    public mutating func received(_ message: EnergyMessage) -> [Action] {
        switch message {
        case .coordinator(let other) where other != id:
            // A coordinator it did not know (e.g. one that started later) hears of this one in return.
            guard coordinators.insert(other).inserted else { return [] }
            return [.broadcast(.coordinator(id: id))] + roleChanges()
        case .coordinatorLeft(let other):
            guard coordinators.remove(other) != nil else { return [] }
            dirty = true
            return roleChanges()
        case .aggregateForecast(let aggregate):
            guard aggregate.from == 0, aggregate.netKW.count == grid.intervalCount, aggregate.netKW.allSatisfy(\.isFinite) else { return [] }
            forecast = aggregate.netKW
            dirty = true
        case .flexibility(let declaration):
            var declaration = declaration
            declaration.loads = declaration.loads.filter { $0.isValid(on: grid) && $0.household == declaration.household }
            if let battery = declaration.battery, !battery.isValid { declaration.battery = nil }
            declarations[declaration.household] = declaration
            for (id, interval) in declaration.started ?? [:] where startedLoads[id] == nil && interval >= 0 && interval < grid.intervalCount {
                if let load = declaration.loads.first(where: { $0.id == id }) { startedLoads[id] = (load, interval) }
            }
            dirty = true
        case .started(let report):
            if let load = declarations[report.household]?.loads.first(where: { $0.id == report.load }) {
                startedLoads[load.id] = (load, report.interval)
            }
        case .withdrawal(let household):
            guard declarations.removeValue(forKey: household) != nil else { return [] }
            batterySchedules[household] = nil
            dirty = true
        default:
            break
        }
        return []
    }

    /// Interval `interval` begins: if something changed, plans the rest of the day, and if this coordinator
    /// leads, advises every household.
    public mutating func intervalStarted(_ interval: Int) -> [Action] {
        now = max(0, min(interval, grid.intervalCount))
        // Loads advised to start before now have started, whether or not the report has arrived yet.
        for declaration in declarations.values {
            for load in declaration.loads where startedLoads[load.id] == nil {
                if let start = advised[load.id], start < now { startedLoads[load.id] = (load, start) }
            }
        }
        guard dirty, let forecast else { return [] }
        dirty = false
        let advice = replan(forecast: forecast)
        // A coordinator that defers plans too (in the shadow), so that it can take over with the same state.
        return isLeader ? advice : []
    }

    private mutating func replan(forecast: [Double]) -> [Action] {
        var inflexible = forecast
        var pending: [FlexibleLoad] = []
        var batteries: [(id: String, battery: Battery)] = []
        for household in declarations.keys.sorted() {
            guard let declaration = declarations[household] else { continue }
            for load in declaration.loads {
                if let run = startedLoads[load.id] {
                    LoadPlanner.add(run.load, startingAt: run.interval, to: &inflexible, grid: grid)
                } else {
                    pending.append(load)
                }
            }
            if var battery = declaration.battery {
                // The past of an earlier schedule stays; the battery holds what that past left in it.
                let past = Array((batterySchedules[household] ?? []).prefix(now))
                for (t, power) in past.enumerated() {
                    inflexible[t] += power
                    battery.initialKWh += battery.storedChange(gridKW: power, hours: grid.hours)
                }
                battery.initialKWh = min(max(battery.initialKWh, 0), battery.capacityKWh)
                batteries.append((household, battery))
            }
        }
        var newPlan = CommunityPlanner.plan(inflexible: inflexible, loads: pending, batteries: batteries, grid: grid, from: now)
        for (household, power) in newPlan.batteryPower {
            let past = Array((batterySchedules[household] ?? []).prefix(now))
            newPlan.batteryPower[household] = past + power.dropFirst(past.count)
        }
        batterySchedules = newPlan.batteryPower
        for (load, start) in newPlan.starts { advised[load] = start }
        plan = newPlan
        planVersion += 1
        var actions: [Action] = []
        for household in declarations.keys.sorted() {
            guard let declaration = declarations[household] else { continue }
            let starts = Dictionary(
                declaration.loads.compactMap { load in newPlan.starts[load.id].map { (load.id, $0) } }, uniquingKeysWith: { a, _ in a })
            let advice = LoadAdvice(
                coordinator: id, planVersion: planVersion, household: household, starts: starts,
                batteryKW: newPlan.batteryPower[household])
            actions.append(.notify(household: household, .advice(advice)))
        }
        return actions
    }

    private mutating func roleChanges() -> [Action] {
        let leads = isLeader
        guard leads != leading else { return [] }
        leading = leads
        if leads {
            dirty = true
            return [.tookLead]
        }
        return [.deferTo(leader)]
    }
}
