import Foundation
import ServicePlatform

/// The configuration of an energy service, read from its declaration in the composition; every problem is an
/// ``ServicePlatform/ServicePlatformError`` of code `invalidConfiguration` that names the service and the parameter.
struct EnergyServiceSettings: Sendable {
    /// The clock the service's day runs on (`interval`, `time-scale`, `day-start`).
    var clock: EnergyDayClock

    init(_ instance: ServiceInstanceInfo) throws(ServicePlatformError) {
        let minutes: Int
        switch instance.parameter("interval") ?? "15m" {
        case "15m": minutes = 15
        case "5m": minutes = 5
        case let other: throw Self.problem(instance, "interval", "'\(other)' is not 15m or 5m")
        }
        let scale = try Self.decimal(instance, "time-scale", default: 1, in: 0.001...1_000_000)
        var dayStart: Duration?
        if let text = instance.parameter("day-start") {
            let formatter = ISO8601DateFormatter()
            formatter.formatOptions = [.withInternetDateTime]
            guard let date = formatter.date(from: text) else {
                throw Self.problem(instance, "day-start", "'\(text)' is not an ISO 8601 UTC time such as 2025-06-21T06:00:00Z")
            }
            dayStart = .seconds(date.timeIntervalSince1970)
        }
        clock = EnergyDayClock(grid: EnergyTimeGrid(intervalMinutes: minutes), timeScale: scale, dayStart: dayStart)
    }

    /// The households a meter or flexibility service hosts, from the seeded day (`household`, `seed`,
    /// `simulated-households`). On a node configured with its households (``SimulatedHouses/hosted``) they must be
    /// among those, of the same day, and no `household` means all of them.
    func households(_ instance: ServiceInstanceInfo, houses: SimulatedHouses) throws(ServicePlatformError) -> [Household] {
        let node = houses.hosted
        let seed = try Self.integer(instance, "seed", default: node.map { Int($0.seed) } ?? 1, in: 0...Int.max)
        let count = try Self.integer(instance, "simulated-households", default: node?.simulatedHouseholds ?? 50, in: 1...1000)
        if let node {
            guard UInt64(seed) == node.seed else {
                throw Self.problem(instance, "seed", "\(seed) is not the seed of this node's households, \(node.seed) (smf run --energy-seed)")
            }
            guard count == node.simulatedHouseholds else {
                throw Self.problem(
                    instance, "simulated-households",
                    "\(count) is not the size of this node's simulated day, \(node.simulatedHouseholds) (smf run --energy-simulated-households)")
            }
        }
        let day = houses.day(seed: UInt64(seed), households: count, intervalMinutes: clock.grid.intervalMinutes)
        var ids = (instance.parameter("household") ?? "").split(whereSeparator: \.isWhitespace).map(String.init)
        if ids.isEmpty, let node { ids = node.ids }
        guard !ids.isEmpty else {
            throw Self.problem(instance, "household", "names no household, and this node hosts none of its own (smf run --energy-households)")
        }
        guard Set(ids).count == ids.count else { throw Self.problem(instance, "household", "names a household twice") }
        if let node, let stranger = ids.first(where: { !node.ids.contains($0) }) {
            throw Self.problem(instance, "household", "'\(stranger)' is not a household of this node; it has \(node)")
        }
        let byID = Dictionary(day.households.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        return try ids.map { id throws(ServicePlatformError) in
            guard let household = byID[id] else {
                throw Self.problem(
                    instance, "household",
                    "'\(id)' is not a household of the simulated day of \(count) households (\(day.households.first?.id ?? "")…\(day.households.last?.id ?? ""))")
            }
            return household
        }
    }

    static func integer(_ instance: ServiceInstanceInfo, _ name: String, default value: Int, in range: ClosedRange<Int>) throws(ServicePlatformError) -> Int {
        guard let text = instance.parameter(name) else { return value }
        guard let number = Int(text), range.contains(number) else {
            throw problem(instance, name, "'\(text)' is not a whole number in \(range.lowerBound)…\(range.upperBound)")
        }
        return number
    }

    static func decimal(_ instance: ServiceInstanceInfo, _ name: String, default value: Double, in range: ClosedRange<Double>) throws(ServicePlatformError) -> Double {
        guard let text = instance.parameter(name) else { return value }
        guard let number = Double(text), number.isFinite, range.contains(number) else {
            throw problem(instance, name, "'\(text)' is not a number in \(range.lowerBound)…\(range.upperBound)")
        }
        return number
    }

    static func problem(_ instance: ServiceInstanceInfo, _ parameter: String, _ detail: String) -> ServicePlatformError {
        ServicePlatformError(.invalidConfiguration, "service '\(instance.serviceID)' (\(instance.serviceType)): parameter '\(parameter)': \(detail)")
    }
}
