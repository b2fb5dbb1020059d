/// The sub-community's balance service: sums its members' forecasts and readings and passes on only the sums
/// (to the coordinators, on the `balance` port of `community-balance`, event package `m2m-balance`).
///
/// A sum is published only when at least ``minimumHouseholds`` households are in it, so that no single
/// household's curve can be read off an aggregate.
public struct BalanceService: Sendable {
    public enum Action: Hashable, Sendable {
        /// NOTIFY the coordinators with this message.
        case notifyCoordinators(EnergyMessage)
    }

    public let community: String
    public let grid: EnergyTimeGrid
    /// Fewest households an aggregate may contain.
    public let minimumHouseholds: Int
    private var forecasts: [String: [Double]] = [:]
    private var readings: [Int: [String: Double]] = [:]

    public init(community: String, grid: EnergyTimeGrid, minimumHouseholds: Int = 3) {
        self.community = community
        self.grid = grid
        self.minimumHouseholds = minimumHouseholds
    }

    /// Households whose forecast is in the sum.
    public var members: [String] { forecasts.keys.sorted() }

    /// A message from a household arrived (PUBLISH). Forecasts are kept (a newer one replaces the older part),
    /// readings are collected per interval, a withdrawal drops the household and passes the withdrawal on.
    /// Other messages are not the balance service's and are ignored.
    public mutating func received(_ message: EnergyMessage) -> [Action] {
        switch message {
        case .forecast(let forecast):
            guard forecast.from >= 0, forecast.from < grid.intervalCount, forecast.netKW.allSatisfy(\.isFinite) else { return [] }
            var curve = forecasts[forecast.household] ?? [Double](repeating: 0, count: grid.intervalCount)
            for (k, value) in forecast.netKW.enumerated() where forecast.from + k < grid.intervalCount {
                curve[forecast.from + k] = value
            }
            forecasts[forecast.household] = curve
            return []
        case .reading(let reading):
            guard reading.interval >= 0, reading.interval < grid.intervalCount,
                reading.productionKWh.isFinite, reading.consumptionKWh.isFinite
            else { return [] }
            readings[reading.interval, default: [:]][reading.household] = reading.consumptionKWh - reading.productionKWh
            return []
        case .withdrawal(let household):
            forecasts[household] = nil
            for interval in readings.keys { readings[interval]?[household] = nil }
            return [.notifyCoordinators(.withdrawal(household: household))] + aggregateForecast()
        default:
            return []
        }
    }

    /// Publishes the current forecast sum (after the members' forecasts arrived, or when one changed).
    public func aggregateForecast() -> [Action] {
        guard forecasts.count >= minimumHouseholds else { return [] }
        var sum = [Double](repeating: 0, count: grid.intervalCount)
        // In member order, so that every run adds the same numbers in the same order.
        for member in members {
            for (t, value) in (forecasts[member] ?? []).enumerated() { sum[t] += value }
        }
        return [.notifyCoordinators(.aggregateForecast(AggregateForecast(community: community, from: 0, netKW: sum, households: members)))]
    }

    /// `interval` is over: publishes its measured net energy summed over the households that reported it.
    public mutating func intervalClosed(_ interval: Int) -> [Action] {
        guard let values = readings.removeValue(forKey: interval), values.count >= minimumHouseholds else { return [] }
        return [.notifyCoordinators(.aggregateReading(AggregateReading(
            community: community, interval: interval, netKWh: values.keys.sorted().reduce(0) { $0 + (values[$1] ?? 0) }, households: values.count)))]
    }
}
