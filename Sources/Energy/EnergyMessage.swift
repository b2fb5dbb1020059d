import Foundation

/// A measured interval of one household: totals only, unless the household chose to share its devices.
public struct MeterReading: Hashable, Codable, Sendable {
    public var household: String
    public var interval: Int
    /// PV energy produced in the interval, kWh.
    public var productionKWh: Double
    /// Energy consumed in the interval (every device together), kWh.
    public var consumptionKWh: Double
    /// Per-device consumption, kWh; only present when the household's ``MeterService/Privacy`` is `.detailed`.
    public var devices: [String: Double]?

    public init(household: String, interval: Int, productionKWh: Double, consumptionKWh: Double, devices: [String: Double]? = nil) {
        self.household = household
        self.interval = interval
        self.productionKWh = productionKWh
        self.consumptionKWh = consumptionKWh
        self.devices = devices
    }
}

/// A household's forecast of the net load it cannot move (base load − PV), kW per interval from `from` on.
public struct NetLoadForecast: Hashable, Codable, Sendable {
    public var household: String
    public var from: Int
    public var netKW: [Double]

    public init(household: String, from: Int, netKW: [Double]) {
        self.household = household
        self.from = from
        self.netKW = netKW
    }
}

/// What a household offers the community: its flexible loads and, optionally, its battery.
///
/// A declaration is soft state: a flexibility service sends it when it starts, when a load is added, and again
/// every simulated hour, so that a coordinator that starts late or restarts learns everything. It therefore lists
/// every load of the day, and the ones that have started in ``started``.
public struct FlexibilityDeclaration: Hashable, Codable, Sendable {
    public var household: String
    /// The household's flexible loads of the day, started or not.
    public var loads: [FlexibleLoad]
    public var battery: Battery?
    /// Start interval of each load that has started, by load id; absent when none has.
    public var started: [String: Int]?

    public init(household: String, loads: [FlexibleLoad], battery: Battery?, started: [String: Int]? = nil) {
        self.household = household
        self.loads = loads
        self.battery = battery
        self.started = started
    }
}

/// A flexible load has started (on advice or by its own deadline guard).
public struct LoadStarted: Hashable, Codable, Sendable {
    public var household: String
    public var load: String
    public var interval: Int

    public init(household: String, load: String, interval: Int) {
        self.household = household
        self.load = load
        self.interval = interval
    }
}

/// The sub-community's forecast: the sum of its members' forecasts (no member's own curve leaves the balance service).
public struct AggregateForecast: Hashable, Codable, Sendable {
    public var community: String
    public var from: Int
    public var netKW: [Double]
    /// Households whose forecasts are in the sum.
    public var households: [String]

    public init(community: String, from: Int, netKW: [Double], households: [String]) {
        self.community = community
        self.from = from
        self.netKW = netKW
        self.households = households
    }
}

/// The sub-community's measured net energy in one interval.
public struct AggregateReading: Hashable, Codable, Sendable {
    public var community: String
    public var interval: Int
    /// Σ consumption − Σ production, kWh.
    public var netKWh: Double
    public var households: Int

    public init(community: String, interval: Int, netKWh: Double, households: Int) {
        self.community = community
        self.interval = interval
        self.netKWh = netKWh
        self.households = households
    }
}

/// A coordinator's advice to one household: when to start each load, and its battery's schedule.
public struct LoadAdvice: Hashable, Codable, Sendable {
    public var coordinator: String
    /// Increases with every plan the coordinator makes; a household keeps the newest.
    public var planVersion: Int
    public var household: String
    /// Advised start interval per load id: the load defers until then.
    public var starts: [String: Int]
    /// Grid-side battery power per interval, kW (positive = charge); absent without a battery.
    public var batteryKW: [Double]?

    public init(coordinator: String, planVersion: Int, household: String, starts: [String: Int], batteryKW: [Double]?) {
        self.coordinator = coordinator
        self.planVersion = planVersion
        self.household = household
        self.starts = starts
        self.batteryKW = batteryKW
    }
}

/// Every message of the energy community: the one body format of every energy port.
///
/// Body (``EnergyMessage/contentType``): one JSON object `{"v":1,"type":T,"body":{…}}` where T is
/// `reading`, `forecast`, `flexibility`, `started`, `withdrawal`, `aggregate-forecast`, `aggregate-reading`,
/// `advice`, `coordinator` or `coordinator-left`. Unknown versions and types are rejected.
///
/// The messages travel as the bodies of ``ServicePlatform/ServiceValue``s on the ports of the energy service types,
/// each port under its own event package (``Composition/M2MEventPackage``: `m2m-meter`, `m2m-flexibility`,
/// `m2m-balance`, `m2m-advice`, `m2m-coordination`); ``EnergyPort`` says which types each port carries.
public enum EnergyMessage: Hashable, Sendable {
    case reading(MeterReading)
    case forecast(NetLoadForecast)
    case flexibility(FlexibilityDeclaration)
    case started(LoadStarted)
    /// The household leaves the community; its data must be dropped.
    case withdrawal(household: String)
    case aggregateForecast(AggregateForecast)
    case aggregateReading(AggregateReading)
    case advice(LoadAdvice)
    /// A coordinator announces itself (at start, and in reply to a coordinator it did not know).
    case coordinator(id: String)
    /// A coordinator stops coordinating.
    case coordinatorLeft(id: String)

    /// The MIME type of the bodies.
    public static let contentType = "application/smf-energy+json"
    /// The largest body accepted, bytes.
    public static let maximumBodySize = 256 * 1024
    static let version = 1
}

/// Why an energy message body was rejected.
public struct EnergyMessageError: Error, Hashable, CustomStringConvertible, Sendable {
    private enum Code: Hashable, Sendable {
        case tooLarge(Int)
        case malformed(String)
        case unsupportedVersion(Int)
        case unknownType(String)
        case wrongContentType(String)
    }

    private let code: Code

    static func tooLarge(_ size: Int) -> Self { Self(code: .tooLarge(size)) }
    static func malformed(_ detail: String) -> Self { Self(code: .malformed(detail)) }
    static func unsupportedVersion(_ version: Int) -> Self { Self(code: .unsupportedVersion(version)) }
    static func unknownType(_ type: String) -> Self { Self(code: .unknownType(type)) }
    static func wrongContentType(_ type: String) -> Self { Self(code: .wrongContentType(type)) }

    public var description: String {
        switch code {
        case .tooLarge(let size):
            "energy message body of \(size) bytes is over the \(EnergyMessage.maximumBodySize)-byte limit"
        case .malformed(let detail):
            "energy message body is not valid \(EnergyMessage.contentType): \(detail)"
        case .unsupportedVersion(let version):
            "energy message version \(version) is not supported (only \(EnergyMessage.version))"
        case .unknownType(let type):
            "energy message type '\(type)' is unknown"
        case .wrongContentType(let type):
            "content type '\(type)' is not \(EnergyMessage.contentType)"
        }
    }
}

extension EnergyMessage: Codable {
    private enum Key: String, CodingKey {
        case v, type, body
    }

    private struct Identity: Codable {
        var id: String
    }

    private struct Withdrawal: Codable {
        var household: String
    }

    /// The `type` field of the body.
    public var typeName: String {
        switch self {
        case .reading: "reading"
        case .forecast: "forecast"
        case .flexibility: "flexibility"
        case .started: "started"
        case .withdrawal: "withdrawal"
        case .aggregateForecast: "aggregate-forecast"
        case .aggregateReading: "aggregate-reading"
        case .advice: "advice"
        case .coordinator: "coordinator"
        case .coordinatorLeft: "coordinator-left"
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: Key.self)
        try container.encode(Self.version, forKey: .v)
        try container.encode(typeName, forKey: .type)
        switch self {
        case .reading(let value): try container.encode(value, forKey: .body)
        case .forecast(let value): try container.encode(value, forKey: .body)
        case .flexibility(let value): try container.encode(value, forKey: .body)
        case .started(let value): try container.encode(value, forKey: .body)
        case .withdrawal(let household): try container.encode(Withdrawal(household: household), forKey: .body)
        case .aggregateForecast(let value): try container.encode(value, forKey: .body)
        case .aggregateReading(let value): try container.encode(value, forKey: .body)
        case .advice(let value): try container.encode(value, forKey: .body)
        case .coordinator(let id): try container.encode(Identity(id: id), forKey: .body)
        case .coordinatorLeft(let id): try container.encode(Identity(id: id), forKey: .body)
        }
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: Key.self)
        let version = try container.decode(Int.self, forKey: .v)
        guard version == Self.version else { throw EnergyMessageError.unsupportedVersion(version) }
        let type = try container.decode(String.self, forKey: .type)
        switch type {
        case "reading": self = .reading(try container.decode(MeterReading.self, forKey: .body))
        case "forecast": self = .forecast(try container.decode(NetLoadForecast.self, forKey: .body))
        case "flexibility": self = .flexibility(try container.decode(FlexibilityDeclaration.self, forKey: .body))
        case "started": self = .started(try container.decode(LoadStarted.self, forKey: .body))
        case "withdrawal": self = .withdrawal(household: try container.decode(Withdrawal.self, forKey: .body).household)
        case "aggregate-forecast": self = .aggregateForecast(try container.decode(AggregateForecast.self, forKey: .body))
        case "aggregate-reading": self = .aggregateReading(try container.decode(AggregateReading.self, forKey: .body))
        case "advice": self = .advice(try container.decode(LoadAdvice.self, forKey: .body))
        case "coordinator": self = .coordinator(id: try container.decode(Identity.self, forKey: .body).id)
        case "coordinator-left": self = .coordinatorLeft(id: try container.decode(Identity.self, forKey: .body).id)
        default: throw EnergyMessageError.unknownType(type)
        }
    }

    /// The message as an `application/smf-energy+json` body (keys sorted, so equal messages give equal bytes).
    public func body() throws(EnergyMessageError) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        do {
            return Array(try encoder.encode(self))
        } catch {
            throw .malformed("cannot encode: \(error)")
        }
    }

    /// Parses an `application/smf-energy+json` body.
    public init(body: some Collection<UInt8>) throws(EnergyMessageError) {
        guard body.count <= Self.maximumBodySize else { throw .tooLarge(body.count) }
        do {
            self = try JSONDecoder().decode(EnergyMessage.self, from: Data(body))
        } catch let error as EnergyMessageError {
            throw error
        } catch {
            throw .malformed("\(error)")
        }
    }
}
