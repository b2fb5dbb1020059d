/// A household's meter as a service: turns what the household measures into the readings and forecasts it
/// publishes (on the `readings` port of `household-meter`, event package `m2m-meter`).
///
/// Privacy: only the household's totals leave it (production and consumption per interval, and its
/// inflexible net-load forecast), unless it is configured `.detailed`, which adds per-device consumption.
public struct MeterService: Sendable {
    /// What the meter may publish.
    public enum Privacy: String, Hashable, Codable, Sendable {
        /// Totals per interval only (the default).
        case aggregatesOnly = "aggregates"
        /// Totals and per-device consumption.
        case detailed
    }

    /// One device's energy in one interval.
    public struct DeviceReading: Hashable, Sendable {
        public var device: String
        /// Energy produced (PV), kWh.
        public var productionKWh: Double
        /// Energy consumed, kWh.
        public var consumptionKWh: Double

        public init(device: String, productionKWh: Double = 0, consumptionKWh: Double = 0) {
            self.device = device
            self.productionKWh = productionKWh
            self.consumptionKWh = consumptionKWh
        }
    }

    /// What the household's node must do.
    public enum Action: Hashable, Sendable {
        /// PUBLISH this message to the sub-community's balance service.
        case publish(EnergyMessage)
    }

    public let household: String
    public let privacy: Privacy
    private var lastInterval: Int?

    public init(household: String, privacy: Privacy = .aggregatesOnly) {
        self.household = household
        self.privacy = privacy
    }

    /// The household measured `interval`: publishes its totals (and devices if `.detailed`). A repeated or
    /// older interval is ignored.
    public mutating func intervalMeasured(_ interval: Int, devices: [DeviceReading]) -> [Action] {
        if let lastInterval, interval <= lastInterval { return [] }
        lastInterval = interval
        let production = devices.reduce(0) { $0 + $1.productionKWh }
        let consumption = devices.reduce(0) { $0 + $1.consumptionKWh }
        var breakdown: [String: Double]?
        if privacy == .detailed {
            breakdown = Dictionary(devices.map { ($0.device, $0.consumptionKWh) }, uniquingKeysWith: +)
        }
        return [.publish(.reading(MeterReading(
            household: household, interval: interval, productionKWh: production, consumptionKWh: consumption, devices: breakdown)))]
    }

    /// The household forecast its inflexible net load (base load − PV, kW) from `from` on: publishes it.
    public func forecastComputed(from: Int, netKW: [Double]) -> [Action] {
        [.publish(.forecast(NetLoadForecast(household: household, from: from, netKW: netKW)))]
    }
}
