// The probe service types (`probe-source`, `probe-relay`, `probe-sink`): check that a deployment carries values
// end to end and loses none. See docs/services.md "Probes".

import Composition
import Foundation
import Logging

/// A probe value's body (`application/smf-probe+json`): which source emitted it and its number.
public struct ProbeValue: Codable, Sendable, Hashable {
    /// The media type.
    public static let contentType = "application/smf-probe+json"
    /// `<app>.<service>` of the source.
    public var source: String
    /// 1, 2, … in emission order.
    public var number: Int

    public init(source: String, number: Int) {
        self.source = source
        self.number = number
    }
}

/// The numbers a probe sink received, as sorted disjoint ranges (small however many arrive in order).
public struct ProbeTally: Codable, Sendable, Hashable {
    /// Closed ranges `[first, last]`, sorted, not touching.
    public private(set) var ranges: [[Int]] = []
    /// Values that arrived again (same number) and were not counted twice.
    public private(set) var repeated: Int = 0

    public init() {}

    /// Records `number`; returns false when it was there already.
    @discardableResult
    public mutating func insert(_ number: Int) -> Bool {
        if contains(number) {
            repeated += 1
            return false
        }
        ranges.append([number, number])
        ranges.sort { $0[0] < $1[0] }
        var merged: [[Int]] = []
        for range in ranges {
            if let last = merged.last, last[1] + 1 >= range[0] {
                merged[merged.count - 1][1] = max(last[1], range[1])
            } else {
                merged.append(range)
            }
        }
        ranges = merged
        return true
    }

    public func contains(_ number: Int) -> Bool { ranges.contains { $0[0] <= number && number <= $0[1] } }

    /// How many distinct numbers arrived.
    public var count: Int { ranges.reduce(0) { $0 + $1[1] - $1[0] + 1 } }
    /// The highest number, 0 before any.
    public var highest: Int { ranges.last?[1] ?? 0 }
    /// Numbers below the highest that never arrived.
    public var missing: Int { highest - count }

    /// `received 120 values (1…120), 0 missing, 3 repeated`.
    public var summary: String { "received \(count) values (highest \(highest)), \(missing) missing, \(repeated) repeated" }
}

/// `probe-source`: durable; its counter and its emitted values survive a restart.
public struct ProbeSourceFactory: ServiceComponentFactory {
    public let typeName = "probe-source"
    public let durability = ServiceDurability.durable
    let store: any ServiceInstanceDataStore

    public init(store: any ServiceInstanceDataStore) {
        self.store = store
    }

    public func makeComponent(for instance: ServiceInstanceInfo) throws -> any ServiceComponent {
        let (interval, count) = try Self.settings(instance)
        return ProbeSource(instance: instance, interval: interval, count: count, store: store)
    }

    /// An `interval` that is not a positive duration, or a `count` below 0, is refused before the host commits.
    public func check(_ instance: ServiceInstanceInfo) throws {
        _ = try Self.settings(instance)
    }

    private static func settings(_ instance: ServiceInstanceInfo) throws(ServicePlatformError) -> (interval: Duration, count: Int?) {
        var interval = Duration.seconds(1)
        if let text = instance.parameter("interval") {
            guard let duration = CompositionDuration.parse(text), duration > .zero else {
                throw ServicePlatformError(.invalidConfiguration, "service \(instance.serviceID): interval '\(text)' is not a positive duration")
            }
            interval = duration
        }
        var count: Int?
        if let text = instance.parameter("count") {
            guard let number = Int(text), number >= 0 else {
                throw ServicePlatformError(.invalidConfiguration, "service \(instance.serviceID): count '\(text)' is not a whole number ≥ 0")
            }
            count = number
        }
        return (interval, count)
    }
}

actor ProbeSource: ServiceComponent {
    struct Saved: Codable { var emitted: Int }

    let instance: ServiceInstanceInfo
    let interval: Duration
    let count: Int?
    let store: any ServiceInstanceDataStore
    var emitted = 0
    var task: Task<Void, Never>?

    init(instance: ServiceInstanceInfo, interval: Duration, count: Int?, store: any ServiceInstanceDataStore) {
        self.instance = instance
        self.interval = interval
        self.count = count
        self.store = store
    }

    func start(context: any ServiceContext) async throws {
        if let data = try store.instanceData(application: instance.application, service: instance.serviceID) {
            emitted = (try? JSONDecoder().decode(Saved.self, from: Data(data)))?.emitted ?? 0
        }
        task = Task { await self.run(context: context) }
    }

    private func run(context: any ServiceContext) async {
        let source = "\(instance.application).\(instance.serviceID)"
        while !Task.isCancelled, count.map({ emitted < $0 }) ?? true {
            do {
                try await context.clock.sleep(interval)
            } catch {
                return
            }
            let number = emitted + 1
            let body = (try? JSONEncoder().encode(ProbeValue(source: source, number: number))).map(Array.init) ?? []
            let value = ServiceValue(id: "\(source).\(number)", contentType: ProbeValue.contentType, body: body, attributes: ["source": source])
            do {
                try await context.emit(value, on: "values")
                try store.saveInstanceData(
                    application: instance.application, service: instance.serviceID, data: Array(JSONEncoder().encode(Saved(emitted: number))))
                emitted = number
            } catch {
                context.logger.warning("probe value not emitted; trying again", metadata: ["sdp.error": "\(error)"])
            }
        }
    }

    func receive(_ input: ServiceInput, context: any ServiceContext) async throws {}

    func stop() async {
        task?.cancel()
        task = nil
    }

    func summary() async -> String? { "emitted \(emitted) values" }
}

/// `probe-relay`: passes values on; ids of what it emits derive from its inputs' ids.
public struct ProbeRelayFactory: ServiceComponentFactory {
    public let typeName = "probe-relay"
    public let durability = ServiceDurability.relay

    public init() {}

    public func makeComponent(for instance: ServiceInstanceInfo) throws -> any ServiceComponent { ProbeRelay() }
}

actor ProbeRelay: ServiceComponent {
    var relayed = 0

    func start(context: any ServiceContext) async throws {}

    func receive(_ input: ServiceInput, context: any ServiceContext) async throws {
        guard case .value(_, _, let value) = input else { return }
        try await context.emit(ServiceValue(contentType: value.contentType, body: value.body, attributes: value.attributes), on: "values")
        relayed += 1
    }

    func stop() async {}

    func summary() async -> String? { "relayed \(relayed) values" }
}

/// `probe-sink`: durable; commits each value's number before it is acknowledged.
public struct ProbeSinkFactory: ServiceComponentFactory {
    public let typeName = "probe-sink"
    public let durability = ServiceDurability.durable
    let store: any ServiceInstanceDataStore

    public init(store: any ServiceInstanceDataStore) {
        self.store = store
    }

    public func makeComponent(for instance: ServiceInstanceInfo) throws -> any ServiceComponent {
        ProbeSink(instance: instance, store: store)
    }
}

actor ProbeSink: ServiceComponent {
    let instance: ServiceInstanceInfo
    let store: any ServiceInstanceDataStore
    var tally = ProbeTally()

    init(instance: ServiceInstanceInfo, store: any ServiceInstanceDataStore) {
        self.instance = instance
        self.store = store
    }

    func start(context: any ServiceContext) async throws {
        if let data = try store.instanceData(application: instance.application, service: instance.serviceID) {
            tally = (try? JSONDecoder().decode(ProbeTally.self, from: Data(data))) ?? ProbeTally()
        }
    }

    func receive(_ input: ServiceInput, context: any ServiceContext) async throws {
        guard case .value(_, _, let value) = input else { return }
        let probe: ProbeValue
        do {
            probe = try JSONDecoder().decode(ProbeValue.self, from: Data(value.body))
        } catch {
            throw ServicePlatformError(.invalidValue, "service \(instance.serviceID): not a probe value: \(error)")
        }
        var updated = tally
        updated.insert(probe.number)
        try store.saveInstanceData(application: instance.application, service: instance.serviceID, data: Array(JSONEncoder().encode(updated)))
        tally = updated
    }

    func stop() async {}

    func summary() async -> String? { tally.summary }
}
